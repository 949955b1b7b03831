package imapwire

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrorKind classifies the protocol errors reported by this package.
type ErrorKind uint8

const (
	// KindSyntax is input that violates the IMAP grammar. The engine answers
	// "tag BAD <reason>" and calls Decoder.Discard; the connection stays usable.
	KindSyntax ErrorKind = iota + 1
	// KindLineTooLong is a line segment longer than Limits.MaxLine. The rest
	// of the line has already been consumed, so the stream is still in sync.
	KindLineTooLong
	// KindNUL is a line segment containing a NUL byte, which IMAP forbids
	// outside literal8 (RFC 9051 section 4.3, RFC 3516). The line has been
	// consumed.
	KindNUL
	// KindTooDeep is a parenthesised list nested deeper than Limits.MaxDepth.
	KindTooDeep
	// KindLiteralTooLarge is a literal whose announced size exceeds the
	// applicable limit. Errors of this kind are *LiteralTooLargeError values.
	KindLiteralTooLarge
	// KindDesync means the input can no longer be resynchronised (for example
	// a non-synchronising literal too large to skip). The engine must send
	// "* BYE" and close the connection (RFC 7888 section 4 permits this).
	KindDesync
)

// String returns a short name for the kind.
func (k ErrorKind) String() string {
	switch k {
	case KindSyntax:
		return "syntax"
	case KindLineTooLong:
		return "line-too-long"
	case KindNUL:
		return "nul-byte"
	case KindTooDeep:
		return "too-deep"
	case KindLiteralTooLarge:
		return "literal-too-large"
	case KindDesync:
		return "desync"
	default:
		return "kind(" + strconv.Itoa(int(k)) + ")"
	}
}

// Error is a protocol error detected while decoding client input. Reason is
// a short human-readable sentence suitable for a "BAD <reason>" response; it
// never contains CR or LF.
type Error struct {
	// Kind classifies the error.
	Kind ErrorKind
	// Reason is the text for the BAD response, e.g. "Expected SP".
	Reason string
}

// Error implements the error interface.
func (e *Error) Error() string { return "imapwire: " + e.Kind.String() + ": " + e.Reason }

// Is reports whether target is an *Error (or *LiteralTooLargeError) of the
// same kind, so that errors.Is(err, ErrSyntax) matches every syntax error
// regardless of its reason.
func (e *Error) Is(target error) bool {
	switch t := target.(type) {
	case *Error:
		return t.Kind == e.Kind
	default:
		return false
	}
}

// Sentinel values for errors.Is. Only the Kind is compared.
var (
	// ErrSyntax matches every syntax error.
	ErrSyntax = &Error{Kind: KindSyntax, Reason: "Syntax error"}
	// ErrLineTooLong matches a line segment longer than Limits.MaxLine.
	ErrLineTooLong = &Error{Kind: KindLineTooLong, Reason: "Line too long"}
	// ErrNULByte matches a line segment that contained a NUL byte.
	ErrNULByte = &Error{Kind: KindNUL, Reason: "Line contains NUL byte"}
	// ErrTooDeep matches a list nested deeper than Limits.MaxDepth.
	ErrTooDeep = &Error{Kind: KindTooDeep, Reason: "Parentheses nested too deeply"}
	// ErrLiteralTooLarge matches every *LiteralTooLargeError.
	ErrLiteralTooLarge = &Error{Kind: KindLiteralTooLarge, Reason: "Literal too large"}
	// ErrDesync matches errors after which the connection must be closed.
	ErrDesync = &Error{Kind: KindDesync, Reason: "Input cannot be resynchronised"}
)

// syntaxErr builds a syntax error with the given reason.
func syntaxErr(reason string) error { return &Error{Kind: KindSyntax, Reason: reason} }

// syntaxErrf builds a syntax error with a formatted reason.
func syntaxErrf(format string, args ...any) error {
	return &Error{Kind: KindSyntax, Reason: fmt.Sprintf(format, args...)}
}

// LiteralTooLargeError reports a literal whose announced size exceeds a
// limit. If Sync is true the client is waiting for a continuation request
// and has not sent the payload, so nothing was read; the engine answers
// "tag NO [TOOBIG]" or "tag BAD [TOOBIG]" (RFC 9051 section 7.1, RFC 7889).
// If Sync is false the payload was already on its way and the decoder
// skipped exactly Size bytes so the stream stays in sync, unless Size is
// beyond Limits.MaxSkip: then Closing is set, nothing was read, and the
// error is fatal (the engine answers and closes, RFC 7888 section 4).
type LiteralTooLargeError struct {
	// Size is the announced size; -1 if it did not fit in an int64.
	Size int64
	// Limit is the limit that was exceeded.
	Limit int64
	// Sync reports whether the literal was synchronising ({n}).
	Sync bool
	// Binary reports whether the literal was a literal8 (~{n}, RFC 3516).
	Binary bool
	// Closing reports that the payload was too large to skip: the
	// connection cannot be resynchronised and must be closed.
	Closing bool
}

// Error implements the error interface.
func (e *LiteralTooLargeError) Error() string {
	return "imapwire: literal-too-large: " + e.Reason()
}

// Reason returns a short text suitable for a "[TOOBIG]" response.
func (e *LiteralTooLargeError) Reason() string {
	if e.Size < 0 {
		return "Literal size out of range"
	}
	return "Literal of " + strconv.FormatInt(e.Size, 10) + " bytes exceeds limit of " +
		strconv.FormatInt(e.Limit, 10) + " bytes"
}

// Is makes errors.Is(err, ErrLiteralTooLarge) true, and errors.Is(err,
// ErrDesync) too when the literal was too large to skip.
func (e *LiteralTooLargeError) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && (t.Kind == KindLiteralTooLarge || (e.Closing && t.Kind == KindDesync))
}

// Reason extracts the human-readable reason of a protocol error for a BAD or
// NO response. For any other error (I/O errors) it returns a generic text.
func Reason(err error) string {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Reason
	}
	var le *LiteralTooLargeError
	if errors.As(err, &le) {
		return le.Reason()
	}
	return "Internal error"
}

// IsFatal reports whether err leaves the connection unusable: I/O errors
// (including io.EOF and io.ErrUnexpectedEOF) and ErrDesync. Protocol errors
// that have been recovered from (syntax, line too long, NUL, nesting depth,
// literal too large) are not fatal: answer BAD/NO, call Decoder.Discard and
// continue.
func IsFatal(err error) bool {
	if err == nil {
		return false
	}
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Kind == KindDesync
	}
	var le *LiteralTooLargeError
	if errors.As(err, &le) {
		return le.Closing
	}
	return true
}
