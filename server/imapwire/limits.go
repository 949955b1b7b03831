package imapwire

// Default limit values; see Limits for their meaning.
const (
	// DefaultMaxLine is the default Limits.MaxLine (64 KiB, as Dovecot).
	DefaultMaxLine = 64 << 10
	// DefaultMaxLiteral is the default Limits.MaxLiteral (64 KiB).
	DefaultMaxLiteral = 64 << 10
	// DefaultMaxAppendLiteral is the default Limits.MaxAppendLiteral
	// (64 MiB), the value to advertise as APPENDLIMIT (RFC 7889).
	DefaultMaxAppendLiteral = 64 << 20
	// DefaultMaxDepth is the default Limits.MaxDepth.
	DefaultMaxDepth = 100
	// DefaultMaxSkip is the default Limits.MaxSkip (1 MiB).
	DefaultMaxSkip = 1 << 20

	// LiteralMinusMax is the largest non-synchronising literal a client may
	// send when the server advertises LITERAL- rather than LITERAL+
	// (RFC 7888 section 5). IMAP4rev2 includes LITERAL- (RFC 9051 section 4.3).
	LiteralMinusMax = 4096
)

// Limits bounds every resource the decoder may spend on client input. No
// byte beyond these limits is ever buffered; oversized input is reported
// with a typed error and skipped (or, when that is impossible, the
// connection must be closed).
type Limits struct {
	// MaxLine is the maximum number of bytes in one line segment, that is a
	// command line or the part of a command between two literals, not
	// counting the CRLF terminator and not counting literal payloads.
	// Longer segments yield ErrLineTooLong after the rest of the segment
	// has been read and thrown away. Zero or negative selects the default.
	MaxLine int
	// MaxLiteral is the maximum size of a literal read into memory as an
	// argument (Literal, String, AString, NString, Mailbox, ...).
	// Larger literals yield a *LiteralTooLargeError. Zero or negative
	// selects the default.
	MaxLiteral int64
	// MaxAppendLiteral is the maximum size of a literal streamed with
	// ArgReader.AppendLiteral (the APPEND message). It is the value a
	// server advertises as APPENDLIMIT=<n> (RFC 7889). Larger literals
	// yield a *LiteralTooLargeError. Zero or negative selects the default.
	MaxAppendLiteral int64
	// MaxDepth is the maximum nesting depth of parenthesised lists. It keeps
	// hostile input such as 10,000 opening parentheses from exhausting the
	// stack. Zero or negative selects the default.
	MaxDepth int
	// MaxSkip is the most input the decoder reads and throws away to stay
	// in sync after refusing it: the payload of a rejected
	// non-synchronising literal, and the rest of a line past MaxLine+2
	// bytes. A literal announced larger is not read at all (a fatal
	// *LiteralTooLargeError with Closing set), a line that goes on longer
	// fails with ErrTooLargeToSkip; the engine then closes the connection,
	// as RFC 7888 section 4 allows. Zero or negative selects the default.
	MaxSkip int64
}

// DefaultLimits returns the documented defaults: 64 KiB lines, 64 KiB
// in-memory literals, 64 MiB APPEND literals, list depth 100 and 1 MiB
// skipped after a refusal.
func DefaultLimits() Limits {
	return Limits{
		MaxLine:          DefaultMaxLine,
		MaxLiteral:       DefaultMaxLiteral,
		MaxAppendLiteral: DefaultMaxAppendLiteral,
		MaxDepth:         DefaultMaxDepth,
		MaxSkip:          DefaultMaxSkip,
	}
}

// normalized replaces non-positive fields by their defaults, so that a zero
// Limits value is safe to use.
func (l Limits) normalized() Limits {
	d := DefaultLimits()
	if l.MaxLine <= 0 {
		l.MaxLine = d.MaxLine
	}
	if l.MaxLiteral <= 0 {
		l.MaxLiteral = d.MaxLiteral
	}
	if l.MaxAppendLiteral <= 0 {
		l.MaxAppendLiteral = d.MaxAppendLiteral
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxSkip <= 0 {
		l.MaxSkip = d.MaxSkip
	}
	return l
}
