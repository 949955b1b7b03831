package imapwire

import (
	"bytes"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// ArgReader reads the arguments of one command: the rest of the first line
// segment, then literal payloads and the segments that follow them. Obtain
// it with Decoder.Args. Every method first makes sure the next segment has
// been read if a literal payload was just consumed.
//
// The reader is sticky on errors: after the first error every method
// returns that error, so a handler can chain reads and check once. After an
// error the engine answers BAD (or NO [TOOBIG]) and calls Decoder.Discard.
type ArgReader struct {
	d     *Decoder
	seg   []byte
	pos   int
	depth int
	err   error
}

// fail records err as the reader's sticky error and returns it.
func (a *ArgReader) fail(err error) error {
	if a.err == nil {
		a.err = err
	}
	return a.err
}

// ensure reads the segment that follows a consumed literal, draining any
// unread part of a streamed literal first.
func (a *ArgReader) ensure() error {
	if a.err != nil {
		return a.err
	}
	d := a.d
	if d.fatal != nil {
		return a.fail(d.fatal)
	}
	if d.remain > 0 {
		if err := d.skip(d.remain); err != nil {
			return a.fail(err)
		}
		d.remain = 0
	}
	if d.needSeg {
		d.needSeg = false
		line, err := d.readSegment(false)
		a.seg, a.pos = line.Text, 0
		if err != nil {
			return a.fail(err)
		}
	}
	return nil
}

// peekByte returns the next byte of the current segment.
func (a *ArgReader) peekByte() (byte, bool) {
	if a.pos < len(a.seg) {
		return a.seg[a.pos], true
	}
	return 0, false
}

// Peek returns the next byte without consuming it; ok is false at the end of
// the command or after an error. Use it to choose between alternatives,
// e.g. an optional parenthesised list.
func (a *ArgReader) Peek() (c byte, ok bool) {
	if a.ensure() != nil {
		return 0, false
	}
	return a.peekByte()
}

// PeekSP reports whether the next two bytes are SP and c, without
// consuming them: an optional list after an element of a list, such as
// FETCH's "PREVIEW (LAZY)" (RFC 8970), is told apart from the next element.
func (a *ArgReader) PeekSP(c byte) bool {
	if a.ensure() != nil {
		return false
	}
	return a.pos+1 < len(a.seg) && a.seg[a.pos] == ' ' && a.seg[a.pos+1] == c
}

// Err returns the sticky error, if any.
func (a *ArgReader) Err() error { return a.err }

// BareLF reports whether any segment of the command read so far ended with
// a bare LF instead of CRLF.
func (a *ArgReader) BareLF() bool { return a.d.bareLF }

// Expect consumes the byte c or fails with a syntax error.
func (a *ArgReader) Expect(c byte) error {
	if err := a.ensure(); err != nil {
		return err
	}
	if b, ok := a.peekByte(); ok && b == c {
		a.pos++
		return nil
	}
	switch c {
	case ' ':
		return a.fail(syntaxErr("Expected SP"))
	default:
		return a.fail(syntaxErr("Expected '" + string(rune(c)) + "'"))
	}
}

// Accept consumes the byte c if it comes next and reports whether it did.
func (a *ArgReader) Accept(c byte) bool {
	if a.ensure() != nil {
		return false
	}
	if b, ok := a.peekByte(); ok && b == c {
		a.pos++
		return true
	}
	return false
}

// SP consumes one space (the SP separating arguments).
func (a *ArgReader) SP() error { return a.Expect(' ') }

// AtEnd reports whether the command has no more arguments.
func (a *ArgReader) AtEnd() bool {
	if a.ensure() != nil {
		return false
	}
	return a.pos == len(a.seg) && !a.d.hasPend
}

// End checks that the command ends here (the CRLF has been reached).
func (a *ArgReader) End() error {
	if err := a.ensure(); err != nil {
		return err
	}
	if a.pos != len(a.seg) {
		if a.seg[a.pos] == '\r' {
			return a.fail(syntaxErr("Bare CR in command"))
		}
		return a.fail(syntaxErr("Unexpected extra arguments"))
	}
	return nil
}

// take consumes the longest run of bytes satisfying ok, within the segment.
func (a *ArgReader) take(ok func(byte) bool) []byte {
	start := a.pos
	for a.pos < len(a.seg) && ok(a.seg[a.pos]) {
		a.pos++
	}
	return a.seg[start:a.pos]
}

// badChar describes the unexpected byte at the current position.
func (a *ArgReader) badChar(what string) error {
	c, ok := a.peekByte()
	switch {
	case !ok:
		return a.fail(syntaxErr("Missing " + what))
	case c == '\r':
		return a.fail(syntaxErr("Bare CR in command"))
	case c == ' ':
		return a.fail(syntaxErr("Unexpected SP, expected " + what))
	default:
		return a.fail(syntaxErr("Invalid character in " + what))
	}
}

// Atom reads an atom: 1*ATOM-CHAR (RFC 9051 section 9).
func (a *ArgReader) Atom() (string, error) {
	if err := a.ensure(); err != nil {
		return "", err
	}
	b := a.take(isAtomChar)
	if len(b) == 0 {
		return "", a.badChar("atom")
	}
	return string(b), nil
}

// AtomStop reads an atom that also stops at any byte in stops. FETCH
// handlers use it for "BODY[" style names: AtomStop("[<") on "BODY[1]"
// returns "BODY" and leaves "[1]" unread.
func (a *ArgReader) AtomStop(stops string) (string, error) {
	if err := a.ensure(); err != nil {
		return "", err
	}
	b := a.take(func(c byte) bool { return isAtomChar(c) && strings.IndexByte(stops, c) < 0 })
	if len(b) == 0 {
		return "", a.badChar("atom")
	}
	return string(b), nil
}

// Keyword reads an atom and returns it upper-cased, for case-insensitive
// protocol keywords (ABNF string literals are case-insensitive, RFC 5234
// section 2.3).
func (a *ArgReader) Keyword() (string, error) {
	if err := a.ensure(); err != nil {
		return "", err
	}
	b := a.take(isAtomChar)
	if len(b) == 0 {
		return "", a.badChar("keyword")
	}
	return upperASCII(b), nil
}

// number reads 1*DIGIT not exceeding max.
func (a *ArgReader) number(max uint64) (uint64, error) {
	if err := a.ensure(); err != nil {
		return 0, err
	}
	b := a.take(func(c byte) bool { return '0' <= c && c <= '9' })
	if len(b) == 0 {
		return 0, a.badChar("number")
	}
	var v uint64
	for _, c := range b {
		d := uint64(c - '0')
		if v > (max-d)/10 {
			return 0, a.fail(syntaxErr("Number out of range"))
		}
		v = v*10 + d
	}
	return v, nil
}

// Number reads a number: 1*DIGIT, at most 4294967295 (RFC 9051 section 9).
func (a *ArgReader) Number() (uint32, error) {
	v, err := a.number(maxUint32)
	return uint32(v), err
}

// Number64 reads a number64 (RFC 9051 section 9), an unsigned 63-bit
// integer as used for sizes and mod-sequences (RFC 7162).
func (a *ArgReader) Number64() (uint64, error) {
	return a.number(maxNumber64)
}

// NZNumber reads an nz-number: a number other than 0.
func (a *ArgReader) NZNumber() (uint32, error) {
	v, err := a.Number()
	if err == nil && v == 0 {
		return 0, a.fail(syntaxErr("Number must be non-zero"))
	}
	return v, err
}

// Quoted reads a quoted string (RFC 9051 section 4.3): DQUOTE
// *QUOTED-CHAR DQUOTE, where only '"' and '\' may be escaped with '\'. CR
// and LF are refused. Bytes above 0x7F must form valid UTF-8 (the UTF8-2/3/4
// alternatives of IMAP4rev2's QUOTED-CHAR).
func (a *ArgReader) Quoted() (string, error) {
	if err := a.ensure(); err != nil {
		return "", err
	}
	if c, ok := a.peekByte(); !ok || c != '"' {
		return "", a.fail(syntaxErr("Expected quoted string"))
	}
	a.pos++
	start := a.pos
	escaped := false
	for i := start; i < len(a.seg); i++ {
		switch c := a.seg[i]; c {
		case '"':
			raw := a.seg[start:i]
			a.pos = i + 1
			var s string
			if escaped {
				s = unescapeQuoted(raw)
			} else {
				s = string(raw)
			}
			if !utf8.ValidString(s) {
				return "", a.fail(syntaxErr("Quoted string contains invalid UTF-8"))
			}
			return s, nil
		case '\\':
			if i+1 == len(a.seg) {
				break
			}
			if n := a.seg[i+1]; n != '"' && n != '\\' {
				return "", a.fail(syntaxErr("Invalid escape in quoted string"))
			}
			escaped = true
			i++
		case '\r', '\n':
			return "", a.fail(syntaxErr("Quoted string contains CR/LF"))
		}
	}
	return "", a.fail(syntaxErr("Unterminated quoted string"))
}

// unescapeQuoted removes the backslashes of a validated quoted string body.
func unescapeQuoted(raw []byte) string {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		if raw[i] == '\\' {
			i++
		}
		out = append(out, raw[i])
	}
	return string(out)
}

// atLiteral reports whether a literal announcement starts at the current
// position: "{" or "~{" ("~" alone is an ASTRING-CHAR).
func (a *ArgReader) atLiteral() bool {
	c, ok := a.peekByte()
	return ok && (c == '{' || (c == '~' && a.pos+1 < len(a.seg) && a.seg[a.pos+1] == '{'))
}

// PeekLiteral reports whether the next argument is a literal and returns its
// announcement, without reading it. Engines use it to check quotas before
// APPEND triggers a continuation request.
func (a *ArgReader) PeekLiteral() (LiteralInfo, bool) {
	if a.ensure() != nil {
		return LiteralInfo{}, false
	}
	d := a.d
	if d.hasPend && a.pos == d.pend.Offset {
		return d.pend, true
	}
	return LiteralInfo{}, false
}

// literalHeader validates the literal announced at the current position
// against limit, sends the continuation request for a synchronising one,
// and leaves the decoder ready to read its payload.
func (a *ArgReader) literalHeader(limit int64, allowBinary bool) (LiteralInfo, error) {
	if err := a.ensure(); err != nil {
		return LiteralInfo{}, err
	}
	d := a.d
	if !d.hasPend || a.pos != d.pend.Offset {
		if a.atLiteral() {
			return LiteralInfo{}, a.fail(syntaxErr("Literal announcement must end the line"))
		}
		return LiteralInfo{}, a.badChar("literal")
	}
	info := d.pend
	if info.Binary && !allowBinary {
		return LiteralInfo{}, a.fail(syntaxErr("literal8 not allowed here"))
	}
	if !info.Sync && d.literalMinus && info.Size > LiteralMinusMax {
		limit = min(limit, LiteralMinusMax)
	}
	d.hasPend = false
	a.pos = len(a.seg)
	if info.Size < 0 || info.Size > limit {
		tooBig := &LiteralTooLargeError{Size: info.Size, Limit: limit, Sync: info.Sync, Binary: info.Binary}
		if info.Sync {
			// The client waits for "+" and will send nothing more of
			// this command.
			return info, a.fail(tooBig)
		}
		if info.Size < 0 || info.Size > d.lim.MaxSkip {
			// Too large to skip: nothing is read, the connection
			// must close (RFC 7888 section 4).
			tooBig.Closing = true
			return info, a.fail(d.setFatal(tooBig))
		}
		if err := d.skip(info.Size); err != nil {
			return info, a.fail(err)
		}
		d.needSeg = true
		return info, a.fail(tooBig)
	}
	if info.Sync {
		if d.cont == nil {
			return info, a.fail(d.setFatal(errNoContinuation))
		}
		if err := d.cont(info); err != nil {
			return info, a.fail(d.setFatal(err))
		}
	}
	return info, nil
}

// errNoContinuation is returned when a synchronising literal arrives and no
// ContinuationFunc has been set.
var errNoContinuation = &Error{Kind: KindDesync, Reason: "Synchronizing literal without continuation handler"}

// Literal reads a literal (RFC 9051 section 4.3) of at most
// Limits.MaxLiteral bytes into memory. A larger literal yields a
// *LiteralTooLargeError (see its documentation for what was consumed). If
// the input ends before the announced size, the error is
// io.ErrUnexpectedEOF. A payload containing NUL is a syntax error (CHAR8
// excludes NUL); the payload has then been consumed.
func (a *ArgReader) Literal() ([]byte, error) {
	info, err := a.literalHeader(a.d.lim.MaxLiteral, false)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, info.Size)
	if _, err := io.ReadFull(a.d.br, buf); err != nil {
		return nil, a.fail(a.d.setFatal(err))
	}
	a.d.needSeg = true
	if bytes.IndexByte(buf, 0) >= 0 {
		// literal = ... *CHAR8, CHAR8 = %x01-ff (RFC 9051 section 9).
		return nil, a.fail(syntaxErr("Literal contains NUL"))
	}
	return buf, nil
}

// String reads a string: quoted or literal (RFC 9051 section 9).
func (a *ArgReader) String() (string, error) {
	if err := a.ensure(); err != nil {
		return "", err
	}
	if c, _ := a.peekByte(); c == '"' {
		return a.Quoted()
	}
	if a.atLiteral() {
		b, err := a.Literal()
		return string(b), err
	}
	return "", a.badChar("string")
}

// AString reads an astring: 1*ASTRING-CHAR or a string.
func (a *ArgReader) AString() (string, error) {
	if err := a.ensure(); err != nil {
		return "", err
	}
	if c, _ := a.peekByte(); c == '"' || a.atLiteral() {
		return a.String()
	}
	b := a.take(isAStringChar)
	if len(b) == 0 {
		return "", a.badChar("astring")
	}
	return string(b), nil
}

// NString reads an nstring: a string or NIL (case-insensitive). isNil
// reports which.
func (a *ArgReader) NString() (s string, isNil bool, err error) {
	if err := a.ensure(); err != nil {
		return "", false, err
	}
	if c, _ := a.peekByte(); c == '"' || a.atLiteral() {
		s, err := a.String()
		return s, false, err
	}
	b := a.take(isAtomChar)
	if len(b) == 3 && upperASCII(b) == "NIL" {
		return "", true, nil
	}
	if len(b) == 0 {
		return "", false, a.badChar("string or NIL")
	}
	return "", false, a.fail(syntaxErr("Expected string or NIL"))
}

// NBinary reads an nstring or a literal8 ("~{n}", RFC 3516 section 4.2),
// the value of an annotation (RFC 5464 section 5: value = nstring /
// literal8). isNil reports NIL. Unlike a literal, a literal8 may carry
// NUL; both are bounded by Limits.MaxLiteral.
func (a *ArgReader) NBinary() (b []byte, isNil bool, err error) {
	if err := a.ensure(); err != nil {
		return nil, false, err
	}
	if c, _ := a.peekByte(); c == '~' && a.atLiteral() {
		info, err := a.literalHeader(a.d.lim.MaxLiteral, true)
		if err != nil {
			return nil, false, err
		}
		buf := make([]byte, info.Size)
		if _, err := io.ReadFull(a.d.br, buf); err != nil {
			return nil, false, a.fail(a.d.setFatal(err))
		}
		a.d.needSeg = true
		return buf, false, nil
	}
	s, isNil, err := a.NString()
	if err != nil || isNil {
		return nil, isNil, err
	}
	return []byte(s), false, nil
}

// List reads a parenthesised list, calling elem once per element; elements
// are separated by single SPs and elem must consume exactly one element.
// "()" calls elem zero times. Nesting (List called from elem) is limited to
// Limits.MaxDepth; deeper input fails with ErrTooDeep before any recursion
// beyond the limit.
func (a *ArgReader) List(elem func() error) error {
	if err := a.Expect('('); err != nil {
		return a.fail(syntaxErr("Expected '('"))
	}
	if a.depth >= a.d.lim.MaxDepth {
		return a.fail(&Error{Kind: KindTooDeep, Reason: "Parentheses nested too deeply"})
	}
	a.depth++
	defer func() { a.depth-- }()
	if a.Accept(')') {
		return nil
	}
	for {
		if err := elem(); err != nil {
			return a.fail(err)
		}
		if err := a.ensure(); err != nil {
			return err
		}
		c, ok := a.peekByte()
		switch {
		case ok && c == ')':
			a.pos++
			return nil
		case ok && c == ' ':
			a.pos++
		case !ok:
			return a.fail(syntaxErr("Unterminated list"))
		default:
			return a.fail(syntaxErr("Expected SP or ')' in list"))
		}
	}
}

// canonicalFlags maps upper-cased system flags to their canonical spelling
// (RFC 9051 section 2.3.2).
var canonicalFlags = map[string]string{
	`\SEEN`:     `\Seen`,
	`\ANSWERED`: `\Answered`,
	`\FLAGGED`:  `\Flagged`,
	`\DELETED`:  `\Deleted`,
	`\DRAFT`:    `\Draft`,
	`\RECENT`:   `\Recent`,
}

// Flag reads a flag (RFC 9051 section 9): a system flag or flag-extension
// ("\" atom) or a keyword (atom). System flags are returned in canonical
// case ("\seen" becomes "\Seen"); flags are case-insensitive but keywords
// are returned as sent.
func (a *ArgReader) Flag() (string, error) {
	if err := a.ensure(); err != nil {
		return "", err
	}
	if a.Accept('\\') {
		b := a.take(isAtomChar)
		if len(b) == 0 {
			return "", a.badChar("flag")
		}
		if c, ok := canonicalFlags[`\`+upperASCII(b)]; ok {
			return c, nil
		}
		return `\` + string(b), nil
	}
	b := a.take(isAtomChar)
	if len(b) == 0 {
		return "", a.badChar("flag")
	}
	return string(b), nil
}

// FlagList reads a flag-list: "(" [flag *(SP flag)] ")".
func (a *ArgReader) FlagList() ([]string, error) {
	var flags []string
	err := a.List(func() error {
		f, err := a.Flag()
		if err == nil {
			flags = append(flags, f)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return flags, nil
}

// SeqSet reads a sequence-set (RFC 9051 section 9) or "$" (RFC 5182).
func (a *ArgReader) SeqSet() (SeqSet, error) {
	if err := a.ensure(); err != nil {
		return SeqSet{}, err
	}
	b := a.take(isSeqChar)
	if len(b) == 0 {
		return SeqSet{}, a.badChar("sequence set")
	}
	s, err := ParseSeqSet(string(b))
	if err != nil {
		return SeqSet{}, a.fail(err)
	}
	return s, nil
}

// Date reads a date (RFC 9051 section 9): date-text or a quoted date-text,
// such as 1-Feb-1994. The result is midnight UTC of that day; SEARCH date
// criteria disregard time and time zone (RFC 9051 section 6.4.4).
func (a *ArgReader) Date() (time.Time, error) {
	if err := a.ensure(); err != nil {
		return time.Time{}, err
	}
	var s string
	if c, _ := a.peekByte(); c == '"' {
		q, err := a.Quoted()
		if err != nil {
			return time.Time{}, err
		}
		s = q
	} else {
		b := a.take(isAtomChar)
		if len(b) == 0 {
			return time.Time{}, a.badChar("date")
		}
		s = string(b)
	}
	t, err := ParseDate(s)
	if err != nil {
		return time.Time{}, a.fail(err)
	}
	return t, nil
}

// DateTime reads a quoted date-time such as "17-Jul-1996 02:44:25 -0700"
// (RFC 9051 section 9), as used by APPEND.
func (a *ArgReader) DateTime() (time.Time, error) {
	if err := a.ensure(); err != nil {
		return time.Time{}, err
	}
	if c, _ := a.peekByte(); c != '"' {
		return time.Time{}, a.badChar("date-time")
	}
	s, err := a.Quoted()
	if err != nil {
		return time.Time{}, err
	}
	t, err := ParseDateTime(s)
	if err != nil {
		return time.Time{}, a.fail(err)
	}
	return t, nil
}

// Mailbox reads a mailbox name (RFC 9051 section 5.1, RFC 3501 section
// 5.1.3): an astring, decoded from modified UTF-7 unless the decoder is in
// UTF-8 mode (SetUTF8), in which case it must be valid UTF-8 and "&" has no
// special meaning. Any case variant of INBOX is returned as "INBOX". A
// name that is a valid astring but does not decode fails with a
// *MailboxNameError and leaves the reader usable after the name.
func (a *ArgReader) Mailbox() (string, error) {
	raw, err := a.AString()
	if err != nil {
		return "", err
	}
	var name string
	if a.d.utf8 {
		if !utf8.ValidString(raw) {
			return "", &MailboxNameError{Raw: raw, Reason: "Mailbox name is not valid UTF-8"}
		}
		name = raw
	} else {
		name, err = DecodeMailbox(raw)
		if err != nil {
			return "", &MailboxNameError{Raw: raw, Reason: Reason(err)}
		}
	}
	if strings.EqualFold(name, "INBOX") {
		name = "INBOX"
	}
	return name, nil
}

// LiteralReader streams the payload of a literal read by
// ArgReader.AppendLiteral. It returns exactly Size bytes and then io.EOF;
// if the connection ends early it returns io.ErrUnexpectedEOF.
type LiteralReader struct {
	d    *Decoder
	gen  uint64
	info LiteralInfo
}

// Size returns the announced size of the literal.
func (r *LiteralReader) Size() int64 { return r.info.Size }

// Binary reports whether the literal was a literal8 ("~{n}", RFC 3516), whose
// payload may contain NUL bytes.
func (r *LiteralReader) Binary() bool { return r.info.Binary }

// Info returns the literal's announcement.
func (r *LiteralReader) Info() LiteralInfo { return r.info }

// Read implements io.Reader.
func (r *LiteralReader) Read(p []byte) (int, error) {
	d := r.d
	if r.gen != d.litGen {
		return 0, errStaleLiteral
	}
	if d.remain <= 0 {
		return 0, io.EOF
	}
	if d.fatal != nil {
		return 0, d.fatal
	}
	if int64(len(p)) > d.remain {
		p = p[:d.remain]
	}
	n, err := d.br.Read(p)
	d.remain -= int64(n)
	if err != nil {
		return n, d.setFatal(err)
	}
	return n, nil
}

// errStaleLiteral is returned by a LiteralReader used after its command.
var errStaleLiteral = &Error{Kind: KindSyntax, Reason: "Literal reader used after its command"}

// AppendLiteral starts streaming the message literal of APPEND (RFC 9051
// section 6.3.12): a literal or a literal8 (RFC 3516 section 4.4) of at
// most Limits.MaxAppendLiteral bytes. The payload is not buffered by the
// decoder; read it from the returned reader. Any part left unread is
// skipped by the next ArgReader call or by Discard. The payload is not
// scanned for NUL bytes, which only a literal8 may carry; a store that
// must refuse them checks while copying.
func (a *ArgReader) AppendLiteral() (*LiteralReader, error) {
	info, err := a.literalHeader(a.d.lim.MaxAppendLiteral, true)
	if err != nil {
		return nil, err
	}
	d := a.d
	d.litGen++
	d.remain = info.Size
	d.needSeg = true
	return &LiteralReader{d: d, gen: d.litGen, info: info}, nil
}
