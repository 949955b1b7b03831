package imapwire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// writeBufferSize is the size of the encoder's bufio.Writer.
const writeBufferSize = 16 << 10

// writerPool holds the write buffers of encoders that have nothing
// unflushed.
var writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, writeBufferSize) }}

// MaxQuotedLen is the longest string Encoder.String writes as a quoted
// string; longer strings are sent as literals.
const MaxQuotedLen = 1024

// Status is the condition of a status response (RFC 9051 section 7.1).
type Status uint8

// Status responses.
const (
	// StatusOK is "OK": success, or an informational untagged response.
	StatusOK Status = iota + 1
	// StatusNO is "NO": operational error.
	StatusNO
	// StatusBAD is "BAD": protocol-level error in the client's command.
	StatusBAD
	// StatusPREAUTH is the "PREAUTH" greeting (RFC 9051 section 7.1.4).
	StatusPREAUTH
	// StatusBYE is "BYE": the server is about to close the connection.
	StatusBYE
)

// String returns the keyword as sent on the wire.
func (s Status) String() string {
	switch s {
	case StatusOK:
		return "OK"
	case StatusNO:
		return "NO"
	case StatusBAD:
		return "BAD"
	case StatusPREAUTH:
		return "PREAUTH"
	case StatusBYE:
		return "BYE"
	default:
		return "Status(" + strconv.Itoa(int(s)) + ")"
	}
}

// defaultText is the response text used when none is given (resp-text
// should not be empty for IMAP4rev1 clients, RFC 3501 section 9).
func (s Status) defaultText() string {
	switch s {
	case StatusOK:
		return "Completed"
	case StatusNO:
		return "Failed"
	case StatusBAD:
		return "Invalid command"
	case StatusPREAUTH:
		return "Logged in"
	case StatusBYE:
		return "Logging out"
	default:
		return "Unknown"
	}
}

// ErrEncode is wrapped by every error the encoder reports for a value that
// cannot be represented on the wire (for example a string with NUL, or a
// response code containing "]"). After such an error the response being
// written is incomplete and the connection must be closed.
var ErrEncode = errors.New("imapwire: value cannot be encoded")

// Encoder writes server responses (RFC 9051 section 7) to a buffered
// writer. Methods return the encoder so calls can be chained; the first
// error is sticky and reported by Err and Flush, and every later call is a
// no-op. It is not safe for concurrent use.
//
// The encoder holds its buffer only while it has output to flush: the
// buffer comes from a shared pool with the first write and goes back after
// a Flush that emptied it, so an encoder of a quiet session costs a few
// words.
type Encoder struct {
	buf  *bufio.Writer // nil when nothing is buffered
	dst  io.Writer
	utf8 bool
	err  error
}

// NewEncoder returns an encoder writing to w through a bufio.Writer.
func NewEncoder(w io.Writer) *Encoder {
	return &Encoder{dst: w}
}

// w returns the write buffer, taking one from the pool if needed.
func (e *Encoder) w() *bufio.Writer {
	if e.buf == nil {
		e.buf = writerPool.Get().(*bufio.Writer)
		e.buf.Reset(e.dst)
	}
	return e.buf
}

// release returns an empty write buffer to the pool.
func (e *Encoder) release() {
	if e.buf != nil && e.buf.Buffered() == 0 {
		e.buf.Reset(nil)
		writerPool.Put(e.buf)
		e.buf = nil
	}
}

// Reset discards unflushed output and the sticky error and makes the encoder
// write to w, e.g. the TLS connection after STARTTLS or the compressing
// writer after COMPRESS (RFC 4978). Flush first to keep pending output.
func (e *Encoder) Reset(w io.Writer) {
	e.dst = w
	if e.buf != nil {
		e.buf.Reset(w)
		e.release()
	}
	e.err = nil
}

// SetUTF8 allows UTF-8 in quoted strings and mailbox names, as after
// "ENABLE UTF8=ACCEPT" (RFC 6855) or in IMAP4rev2 (RFC 9051 section 4.3).
// Otherwise non-ASCII strings are sent as literals and mailbox names in
// modified UTF-7.
func (e *Encoder) SetUTF8(on bool) { e.utf8 = on }

// Flush writes buffered output to the underlying writer.
func (e *Encoder) Flush() error {
	if e.err != nil {
		return e.err
	}
	if e.buf == nil {
		return nil
	}
	if err := e.buf.Flush(); err != nil {
		e.err = err
		return err
	}
	e.release()
	return nil
}

// Err returns the sticky error, if any.
func (e *Encoder) Err() error { return e.err }

// Buffered returns the number of bytes written but not yet flushed.
func (e *Encoder) Buffered() int {
	if e.buf == nil {
		return 0
	}
	return e.buf.Buffered()
}

// fail records an encoding error.
func (e *Encoder) fail(format string, args ...any) *Encoder {
	if e.err == nil {
		e.err = fmt.Errorf("%w: "+format, append([]any{ErrEncode}, args...)...)
	}
	return e
}

// write writes raw bytes.
func (e *Encoder) write(s string) *Encoder {
	if e.err == nil {
		if _, err := e.w().WriteString(s); err != nil {
			e.err = err
		}
	}
	return e
}

// writeByte writes one raw byte.
func (e *Encoder) writeByte(c byte) *Encoder {
	if e.err == nil {
		if err := e.w().WriteByte(c); err != nil {
			e.err = err
		}
	}
	return e
}

// Untagged starts an untagged response: "* ".
func (e *Encoder) Untagged() *Encoder { return e.write("* ") }

// Tagged starts a tagged response: the tag and SP. The tag must be a valid
// tag (as returned by ParseCommand).
func (e *Encoder) Tagged(tag string) *Encoder {
	if tag == "" {
		return e.fail("empty tag")
	}
	for i := 0; i < len(tag); i++ {
		if !isTagChar(tag[i]) {
			return e.fail("invalid tag %q", tag)
		}
	}
	return e.write(tag).writeByte(' ')
}

// SP writes a space.
func (e *Encoder) SP() *Encoder { return e.writeByte(' ') }

// CRLF ends a response line.
func (e *Encoder) CRLF() *Encoder { return e.write("\r\n") }

// Atom writes a protocol token verbatim, such as FETCH, UIDNEXT, \Seen or
// BODY[1.2]. It must be non-empty and consist of printable ASCII without
// SP; use Raw for tokens containing spaces.
func (e *Encoder) Atom(s string) *Encoder {
	if s == "" {
		return e.fail("empty atom")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7F {
			return e.fail("invalid atom %q", s)
		}
	}
	return e.write(s)
}

// Raw writes s verbatim. It refuses CR, LF and NUL so that no value can
// inject a response line; the caller is responsible for the syntax.
func (e *Encoder) Raw(s string) *Encoder {
	if strings.ContainsAny(s, "\r\n\x00") {
		return e.fail("raw text contains CR, LF or NUL")
	}
	return e.write(s)
}

// Number writes a number.
func (e *Encoder) Number(n uint32) *Encoder { return e.Number64(uint64(n)) }

// Number64 writes a number64 (RFC 9051 section 9).
func (e *Encoder) Number64(n uint64) *Encoder {
	if e.err == nil {
		if _, err := e.w().Write(strconv.AppendUint(e.w().AvailableBuffer(), n, 10)); err != nil {
			e.err = err
		}
	}
	return e
}

// NIL writes NIL.
func (e *Encoder) NIL() *Encoder { return e.write("NIL") }

// quotable reports whether s can be sent as a quoted string: no CR, LF or
// NUL, and non-ASCII only as valid UTF-8 in UTF-8 mode (RFC 9051 section 9,
// QUOTED-CHAR).
func (e *Encoder) quotable(s string) bool {
	ascii := true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\r' || c == '\n' || c == 0:
			return false
		case c >= 0x80:
			ascii = false
		}
	}
	return ascii || (e.utf8 && utf8.ValidString(s))
}

// writeQuoted writes s quoted, escaping '"' and '\'.
func (e *Encoder) writeQuoted(s string) *Encoder {
	if e.err != nil {
		return e
	}
	e.writeByte('"')
	for len(s) > 0 {
		i := strings.IndexAny(s, `"\`)
		if i < 0 {
			e.write(s)
			break
		}
		e.write(s[:i]).writeByte('\\').writeByte(s[i])
		s = s[i+1:]
	}
	return e.writeByte('"')
}

// Quoted writes s as a quoted string. It fails if s cannot be quoted; use
// String to fall back to a literal automatically.
func (e *Encoder) Quoted(s string) *Encoder {
	if !e.quotable(s) {
		return e.fail("string cannot be quoted")
	}
	return e.writeQuoted(s)
}

// String writes s as a quoted string when possible and short (at most
// MaxQuotedLen bytes), otherwise as a literal: for CR, LF, non-ASCII text
// outside UTF-8 mode, or long text. '"' and '\' are quoted with escapes. A
// string containing NUL cannot be sent (only literal8 may carry NUL) and
// makes the encoder fail.
func (e *Encoder) String(s string) *Encoder {
	if len(s) <= MaxQuotedLen && e.quotable(s) {
		return e.writeQuoted(s)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return e.fail("string contains NUL")
	}
	e.literalHeader(false, int64(len(s)))
	return e.write(s)
}

// NString writes s as a string, or NIL when s is empty (ENVELOPE and
// BODYSTRUCTURE fields, RFC 9051 section 9).
func (e *Encoder) NString(s string) *Encoder {
	if s == "" {
		return e.NIL()
	}
	return e.String(s)
}

// AString writes s as an atom when every byte is an ASTRING-CHAR, otherwise
// as a string.
func (e *Encoder) AString(s string) *Encoder {
	if s == "" {
		return e.String(s)
	}
	for i := 0; i < len(s); i++ {
		if !isAStringChar(s[i]) {
			return e.String(s)
		}
	}
	return e.write(s)
}

// literalHeader writes "{n}" CRLF or "~{n}" CRLF.
func (e *Encoder) literalHeader(binary bool, n int64) *Encoder {
	if e.err != nil {
		return e
	}
	b := e.w().AvailableBuffer()
	if binary {
		b = append(b, '~')
	}
	b = append(b, '{')
	b = strconv.AppendInt(b, n, 10)
	b = append(b, '}', '\r', '\n')
	if _, err := e.w().Write(b); err != nil {
		e.err = err
	}
	return e
}

// literal writes a literal header and copies exactly n bytes of r.
func (e *Encoder) literal(binary bool, r io.Reader, n int64) *Encoder {
	if n < 0 {
		return e.fail("negative literal size")
	}
	e.literalHeader(binary, n)
	if e.err != nil {
		return e
	}
	var copied int64
	var err error
	if binary {
		copied, err = io.CopyN(e.w(), r, n)
	} else {
		copied, err = copyWithoutNUL(e.w(), r, n)
	}
	if err != nil {
		if copied < n && errors.Is(err, io.EOF) {
			return e.fail("literal source ended after %d of %d bytes", copied, n)
		}
		e.err = err
	}
	return e
}

// Literal streams exactly n bytes of r as a literal (RFC 9051 section 4.3).
// A literal may not contain NUL, so any NUL byte of r is sent as 0x80, as
// Dovecot does: the size stays n, and BINARY (Literal8) is how a client
// gets the exact bytes. If r yields fewer than n bytes the encoder fails,
// since the announced size cannot be taken back.
func (e *Encoder) Literal(r io.Reader, n int64) *Encoder { return e.literal(false, r, n) }

// LiteralBytes writes b as a literal; like Literal, it sends a NUL byte of
// b as 0x80.
func (e *Encoder) LiteralBytes(b []byte) *Encoder {
	e.literalHeader(false, int64(len(b)))
	if e.err == nil {
		if bytes.IndexByte(b, 0) >= 0 {
			b = replaceNUL(bytes.Clone(b))
		}
		if _, err := e.w().Write(b); err != nil {
			e.err = err
		}
	}
	return e
}

// nulBuffers holds the copy buffers of copyWithoutNUL.
var nulBuffers = sync.Pool{New: func() any { return new([32 << 10]byte) }}

// copyWithoutNUL copies n bytes of r to w, each NUL byte as 0x80.
func copyWithoutNUL(w io.Writer, r io.Reader, n int64) (int64, error) {
	buf := nulBuffers.Get().(*[32 << 10]byte)
	defer nulBuffers.Put(buf)
	var copied int64
	for copied < n {
		m, err := r.Read(buf[:min(int64(len(buf)), n-copied)])
		if m > 0 {
			if _, werr := w.Write(replaceNUL(buf[:m])); werr != nil {
				return copied, werr
			}
			copied += int64(m)
		}
		if err != nil {
			if err == io.EOF && copied == n {
				break
			}
			return copied, err
		}
	}
	return copied, nil
}

// replaceNUL replaces every NUL byte of b by 0x80, in place.
func replaceNUL(b []byte) []byte {
	for i := bytes.IndexByte(b, 0); i >= 0; {
		b[i] = 0x80
		j := bytes.IndexByte(b[i+1:], 0)
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return b
}

// Literal8 streams exactly n bytes of r as a literal8 ("~{n}", RFC 3516
// section 4.2), which may contain NUL; only for BINARY fetch responses.
func (e *Encoder) Literal8(r io.Reader, n int64) *Encoder { return e.literal(true, r, n) }

// OpenList writes "(".
func (e *Encoder) OpenList() *Encoder { return e.writeByte('(') }

// CloseList writes ")".
func (e *Encoder) CloseList() *Encoder { return e.writeByte(')') }

// List writes a parenthesised list of n elements, calling elem for each
// element and writing the separating spaces.
func (e *Encoder) List(n int, elem func(i int)) *Encoder {
	e.OpenList()
	for i := 0; i < n && e.err == nil; i++ {
		if i > 0 {
			e.SP()
		}
		elem(i)
	}
	return e.CloseList()
}

// FlagList writes a flag list such as (\Seen $Forwarded).
func (e *Encoder) FlagList(flags []string) *Encoder {
	return e.List(len(flags), func(i int) { e.Atom(flags[i]) })
}

// Mailbox writes a mailbox name: as UTF-8 in UTF-8 mode, otherwise encoded
// in modified UTF-7 (RFC 3501 section 5.1.3), as an atom when possible.
func (e *Encoder) Mailbox(name string) *Encoder {
	if !e.utf8 {
		name = EncodeMailbox(name)
	}
	return e.AString(name)
}

// DateTime writes a quoted date-time (RFC 9051 section 9), such as
// "17-Jul-1996 02:44:25 -0700", for INTERNALDATE.
func (e *Encoder) DateTime(t time.Time) *Encoder {
	if e.err != nil {
		return e
	}
	b := append(e.w().AvailableBuffer(), '"')
	b = AppendDateTime(b, t)
	b = append(b, '"')
	if _, err := e.w().Write(b); err != nil {
		e.err = err
	}
	return e
}

// Text writes free text (resp-text's text, RFC 9051 section 9). CR, LF and
// NUL are replaced by spaces so that no text, even one that echoes client
// input, can inject a response line.
func (e *Encoder) Text(s string) *Encoder {
	if e.err != nil {
		return e
	}
	for len(s) > 0 {
		i := strings.IndexAny(s, "\r\n\x00")
		if i < 0 {
			return e.write(s)
		}
		e.write(s[:i]).writeByte(' ')
		s = s[i+1:]
	}
	return e
}

// StatusResponse writes a complete status response line: tag (or "*" when
// tag is empty), the status, an optional response code in brackets and the
// text, e.g. "* OK [UIDNEXT 5] Predicted next UID" (RFC 9051 section 7.1).
// code is the response code text without brackets, such as "UIDNEXT 5" or
// "TOOBIG"; it must not contain "]", CR or LF. An empty text is replaced by
// a short default.
func (e *Encoder) StatusResponse(tag string, st Status, code, text string) *Encoder {
	if tag == "" {
		e.Untagged()
	} else {
		e.Tagged(tag)
	}
	e.write(st.String()).SP()
	if code != "" {
		if strings.ContainsAny(code, "]\r\n\x00") || code[0] == ' ' {
			return e.fail("invalid response code %q", code)
		}
		e.writeByte('[').write(code).write("] ")
	}
	if text == "" {
		text = st.defaultText()
	}
	return e.Text(text).CRLF()
}

// Continuation writes a continuation request, "+ text" CRLF (RFC 9051
// section 7.5), e.g. before the payload of a synchronising literal. The
// text may also be a base64 SASL challenge (RFC 9051 section 6.2.2).
func (e *Encoder) Continuation(text string) *Encoder {
	return e.write("+ ").Text(text).CRLF()
}
