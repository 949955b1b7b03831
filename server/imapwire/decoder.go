package imapwire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math"
	"sync"
)

// readBufferSize is the size of the bufio.Reader wrapped around the
// connection. It is independent of Limits.MaxLine: long lines are
// accumulated fragment by fragment up to the limit.
const readBufferSize = 8 << 10

// firstReadSize is the size of the small array a decoder without a read
// buffer waits in for the first bytes of the next command (see
// Decoder.ReadLine). Most command lines fit, so the wait costs no extra
// read once bytes arrive.
const firstReadSize = 64

// keptLineBuffer is the largest line buffer a decoder returns to the pool
// between commands; a larger one (after a long line) is left to the
// garbage collector.
const keptLineBuffer = 4 << 10

// readerPool holds the read buffers of decoders that are waiting for a
// command; lineBufPool holds their line buffers.
var (
	readerPool  = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferSize) }}
	lineBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}
)

// headSize is how many leading bytes of an over-long line are kept, so that
// the engine can still read its tag (Line.Tag) and answer it.
const headSize = 128

// tailSize is how many trailing bytes of an over-long line are remembered so
// that a literal announcement at its end can still be honoured. The longest
// announcement, "~{9223372036854775807+}" plus CR, is 24 bytes.
const tailSize = 32

// LiteralInfo describes a literal announcement found at the end of a line
// segment: "{n}" (synchronising), "{n+}" (non-synchronising, RFC 7888) or,
// with a leading "~", a literal8 (RFC 3516).
type LiteralInfo struct {
	// Size is the announced number of payload bytes, or -1 if the number
	// does not fit in an int64 (such a literal is always too large).
	Size int64
	// Sync is true for "{n}": the client waits for a continuation request
	// before sending the payload (RFC 9051 section 7.5).
	Sync bool
	// Minus is true when the announcement was "{n-}". RFC 7888 defines only
	// "{n+}"; the decoder treats "{n-}" as non-synchronising too, because
	// a client that writes it will not wait for "+". Engines may count it
	// as a quirk.
	Minus bool
	// Binary is true for a literal8 "~{n}" (RFC 3516 section 4.3).
	Binary bool
	// Offset is the index in Line.Text of the announcement's first byte
	// ("{" or "~"), or -1 when the line was too long to be returned.
	Offset int
}

// Line is one line segment as read by Decoder.ReadLine.
type Line struct {
	// Text is the segment without its CRLF or LF terminator. It aliases the
	// decoder's buffer and is valid only until the next call on the
	// decoder. It is nil when ReadLine returned ErrLineTooLong or
	// ErrNULByte.
	Text []byte
	// Head is the start of the segment, also when ReadLine failed: the
	// whole segment (as Text) for a good line and for one with a NUL
	// byte, the first bytes (at most 128) of one over Limits.MaxLine. It
	// aliases the decoder's buffer like Text. Tag reads the tag from it.
	Head []byte
	// BareLF is true if the segment ended with LF alone instead of CRLF.
	// RFC 9051 section 2.2 requires CRLF; whether to tolerate bare LF is the
	// engine's decision.
	BareLF bool
	// HasLiteral is true if the segment ends with a literal announcement,
	// described by Literal. It may not be reported for a segment over
	// Limits.MaxLine, whose end may not have arrived when ReadLine
	// returns; Discard skips a non-synchronising literal announced there.
	HasLiteral bool
	// Literal describes the announcement when HasLiteral is true.
	Literal LiteralInfo
}

// Tag returns the tag at the start of the line, read from Head: one or more
// tag characters (RFC 9051 section 9: ASTRING-CHAR except "+") followed by a
// space; "" when the line does not start so. An engine uses it to answer
// the tag of a line it could not read (a NUL byte, or longer than
// Limits.MaxLine) with a tagged BAD.
func (l Line) Tag() string {
	i := 0
	for i < len(l.Head) && isTagChar(l.Head[i]) {
		i++
	}
	if i == 0 || i >= len(l.Head) || l.Head[i] != ' ' {
		return ""
	}
	return string(l.Head[:i])
}

// ContinuationFunc is called by the decoder when it is about to read the
// payload of a synchronising literal it has accepted. The engine writes a
// continuation request ("+ Ready for literal data", RFC 9051 section 7.5)
// and flushes it. A non-nil error aborts the read and is returned to the
// caller as a fatal error.
type ContinuationFunc func(LiteralInfo) error

// Decoder reads client input with explicit limits. It is not safe for
// concurrent use. The zero value is not usable; call NewDecoder.
//
// The decoder tracks the state of the command being read: a literal
// announced at the end of the current segment, a streamed literal not yet
// fully read, and whether a further segment follows a literal. Discard (and
// ReadLine, which calls it first) uses that state to skip the rest of a
// command without losing sync with the client.
type Decoder struct {
	// br buffers the input of the command being read; it is nil between
	// commands, when the decoder holds no buffer (see ReadLine).
	br   *bufio.Reader
	src  io.Reader // the underlying reader
	pre  firstRead // what br reads: the first bytes of a command, then src
	lim  Limits
	buf  []byte // the current line segment; nil between commands
	args ArgReader

	cont         ContinuationFunc
	utf8         bool
	literalMinus bool

	pend    LiteralInfo // literal announced at the end of the current segment
	hasPend bool        // pend is valid and its payload has not been read
	needSeg bool        // a literal payload was consumed; a segment follows
	remain  int64       // unread bytes of a streamed literal
	// skipLine is set when ReadLine reported an over-long segment before
	// its end arrived: Discard skips the rest of it (skipped bytes of it
	// so far, and its last bytes in skipTail, which may announce a
	// literal).
	skipLine  bool
	skipEnded bool // the line's LF has been read already
	skipped   int64
	skipTail  [tailSize]byte
	skipTailN int
	litGen    uint64 // generation of the current streamed literal
	bareLF    bool   // some segment of the current command ended with bare LF
	waitErr   error  // error of a Wait that read nothing, for the next ReadLine
	fatal     error  // sticky error after which the connection is unusable
	lineErr   error  // error of the last ReadLine, reported by Args
}

// NewDecoder returns a decoder reading from r with the given limits. Zero or
// negative fields of lim are replaced by the defaults of DefaultLimits.
func NewDecoder(r io.Reader, lim Limits) *Decoder {
	d := &Decoder{
		src: r,
		lim: lim.normalized(),
	}
	d.pre.src = r
	d.args.d = d
	return d
}

// firstRead is the reader under a decoder's read buffer: it returns the
// bytes read into its small array while the decoder had no buffer, then
// the error that came with them, if any, then reads src.
type firstRead struct {
	src      io.Reader
	buf      [firstReadSize]byte
	off, end int
	err      error
}

func (f *firstRead) Read(p []byte) (int, error) {
	if f.off < f.end {
		n := copy(p, f.buf[f.off:f.end])
		f.off += n
		return n, nil
	}
	if f.err != nil {
		err := f.err
		f.err = nil
		return 0, err
	}
	return f.src.Read(p)
}

// reader returns the read buffer, taking one from the pool if the decoder
// has none.
func (d *Decoder) reader() *bufio.Reader {
	if d.br == nil {
		d.br = readerPool.Get().(*bufio.Reader)
		d.br.Reset(&d.pre)
	}
	return d.br
}

// releaseBuffers returns the read and line buffers to their pools when
// nothing is buffered, so that a session waiting for its next command (an
// idle client, or one in IDLE) holds only the decoder itself.
func (d *Decoder) releaseBuffers() {
	if d.br != nil && d.br.Buffered() == 0 && d.pre.off >= d.pre.end && d.pre.err == nil {
		d.br.Reset(nil)
		readerPool.Put(d.br)
		d.br = nil
	}
	if d.buf != nil {
		if cap(d.buf) <= keptLineBuffer {
			b := d.buf[:0]
			lineBufPool.Put(&b)
		}
		d.buf = nil
	}
}

// waitFirst waits for the first bytes of a command without a read buffer:
// it reads into the decoder's small array, which the read buffer taken
// afterwards consumes first. It returns the error of a read that yielded
// nothing.
func (d *Decoder) waitFirst() error {
	for range 100 {
		n, err := d.src.Read(d.pre.buf[:])
		if n > 0 {
			d.pre.off, d.pre.end, d.pre.err = 0, n, err
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// Limits returns the limits in effect.
func (d *Decoder) Limits() Limits { return d.lim }

// Reset makes the decoder read from r and throws away every byte buffered
// from the previous reader, together with any partially read command. The
// engine calls it right after the TLS handshake of STARTTLS (RFC 9051
// section 6.2.1, RFC 3501 section 6.2.1): bytes a client pipelined after the
// STARTTLS command arrived in plaintext and must never be executed as if
// they came over TLS (the CVE-2011-0411 class of command injection). Use
// Buffered before Reset to detect and log such an attempt.
//
// Reset keeps the limits, the continuation function and the UTF-8 and
// LITERAL- settings.
func (d *Decoder) Reset(r io.Reader) {
	d.src = r
	d.pre = firstRead{src: r}
	if d.br != nil {
		d.br.Reset(&d.pre)
	}
	d.buf = d.buf[:0]
	d.resetCommand()
	d.waitErr = nil
	d.fatal = nil
}

// TakeBuffered returns a copy of the bytes read from the underlying reader
// but not yet consumed, and forgets them. The engine calls it right after
// the command that switches the connection to COMPRESS DEFLATE (RFC 4978
// section 3), then Reset with a decompressing reader that reads the
// returned bytes first: a client that pipelined commands after COMPRESS
// sent them compressed, and they may already sit in the read buffer. It
// returns nil when nothing is buffered.
func (d *Decoder) TakeBuffered() []byte {
	n := d.Buffered()
	if n == 0 {
		return nil
	}
	out := make([]byte, 0, n)
	if d.br != nil {
		// The read buffer holds the older bytes: it reads pre.
		b, _ := d.br.Peek(d.br.Buffered())
		out = append(out, b...)
		d.br.Discard(len(b))
	}
	out = append(out, d.pre.buf[d.pre.off:d.pre.end]...)
	d.pre.off = d.pre.end
	return out
}

// Buffered returns the number of bytes read from the underlying reader but
// not yet consumed. After a STARTTLS command line it should be 0; anything
// else is a pipelining (injection) attempt that Reset will discard.
func (d *Decoder) Buffered() int {
	n := d.pre.end - d.pre.off
	if d.br != nil {
		n += d.br.Buffered()
	}
	return n
}

// SetContinuationFunc sets the function called before the payload of a
// synchronising literal is read. Without one, synchronising literals fail
// with a fatal error, since the client would wait forever.
func (d *Decoder) SetContinuationFunc(fn ContinuationFunc) { d.cont = fn }

// SetUTF8 selects how mailbox names are decoded by ArgReader.Mailbox: as
// UTF-8 (after "ENABLE UTF8=ACCEPT" or "ENABLE IMAP4rev2", RFC 9051 section
// 6.3.1 and RFC 6855) or as modified UTF-7 (RFC 3501 section 5.1.3).
func (d *Decoder) SetUTF8(on bool) { d.utf8 = on }

// SetLiteralMinus selects LITERAL- semantics (RFC 7888 section 5):
// non-synchronising literals larger than LiteralMinusMax are rejected with
// a *LiteralTooLargeError (and skipped). Use it when the server advertises
// LITERAL- (or only IMAP4rev2) rather than LITERAL+.
func (d *Decoder) SetLiteralMinus(on bool) { d.literalMinus = on }

// ReadLine reads the next line segment. Any unread part of the previous
// command is discarded first, exactly as Discard does.
//
// A segment longer than Limits.MaxLine yields ErrLineTooLong as soon as the
// limit is passed, without waiting for the segment's end: Line.Head holds
// its first bytes (for Line.Tag), and Discard (or the next ReadLine) skips
// the rest of it, at most Limits.MaxSkip bytes more (beyond that it fails
// with ErrTooLargeToSkip), together with the payload of a
// non-synchronising literal announced at its end. A segment containing NUL
// yields ErrNULByte once it has been consumed, with Line.HasLiteral
// reporting a literal announcement at its end. In both cases Line.Text is
// nil. End of input before any byte yields io.EOF, in the middle of a line
// io.ErrUnexpectedEOF.
//
// When nothing of the next command is buffered, ReadLine returns the
// decoder's read and line buffers to shared pools and waits for the
// command's first bytes with a small read of its own, so that a session
// waiting for a command holds no buffer.
func (d *Decoder) ReadLine() (Line, error) {
	if err := d.Discard(); err != nil {
		return Line{}, err
	}
	d.resetCommand()
	d.releaseBuffers()
	line, err := d.readSegment(true)
	d.args.seg = line.Text
	d.bareLF = line.BareLF
	d.lineErr = err
	return line, err
}

// Wait blocks until the first bytes of the next command arrive, holding no
// read or line buffer, so that an engine can wait in a goroutine of its own
// with a small stack (a session that idles for hours) and read the command
// elsewhere. The next ReadLine returns the command without waiting again;
// if the read failed, that ReadLine returns its error. Wait returns at once
// when bytes of the next command are already buffered, when the previous
// command still has input to skip (ReadLine skips it), or after a fatal
// error.
func (d *Decoder) Wait() {
	if d.fatal != nil || d.waitErr != nil || d.Buffered() > 0 || d.hasPend || d.remain > 0 || d.needSeg || d.skipLine {
		return
	}
	d.releaseBuffers()
	if d.br != nil {
		return
	}
	d.waitErr = d.waitFirst()
}

// Args returns the argument reader for the command in the segment most
// recently returned by ReadLine, positioned at byte offset start of
// Line.Text (normally Command.ArgsStart). The returned reader is owned by
// the decoder and valid until the next ReadLine, Discard or Reset. If the
// last ReadLine failed, every read returns that error.
func (d *Decoder) Args(start int) *ArgReader {
	a := &d.args
	a.pos = min(max(start, 0), len(a.seg))
	a.depth = 0
	a.err = d.lineErr
	return a
}

// Discard skips the rest of the current command: the payloads of
// non-synchronising literals and the segments that follow them, and any
// unread part of a streamed literal. It stops at a synchronising literal,
// whose payload the client will not send without a continuation request.
// Engines call it after rejecting a command.
//
// Skipping reads and throws away the payload without buffering it, however
// large it is; an engine that prefers not to spend the bandwidth may close
// the connection instead (RFC 7888 section 4 allows it). A literal whose
// size does not fit in an int64 cannot be skipped: Discard returns
// ErrDesync and the connection must be closed.
func (d *Decoder) Discard() error {
	if d.fatal != nil {
		return d.fatal
	}
	for {
		if d.skipLine {
			if err := d.skipRestOfLine(); err != nil {
				return err
			}
		}
		if d.remain > 0 {
			if err := d.skip(d.remain); err != nil {
				return err
			}
			d.remain = 0
			d.needSeg = true
		}
		if d.hasPend {
			p := d.pend
			d.hasPend = false
			if p.Sync {
				break
			}
			if err := d.skipLiteral(p); err != nil {
				return err
			}
			d.needSeg = true
		}
		if !d.needSeg {
			break
		}
		d.needSeg = false
		if _, err := d.readSegment(false); err != nil && IsFatal(err) {
			return err
		}
	}
	d.args.seg = nil
	d.args.pos = 0
	return nil
}

// resetCommand clears the per-command state.
func (d *Decoder) resetCommand() {
	d.hasPend = false
	d.needSeg = false
	d.skipLine = false
	d.remain = 0
	d.litGen++
	d.bareLF = false
	d.lineErr = nil
	d.args.seg = nil
	d.args.pos = 0
	d.args.depth = 0
	d.args.err = nil
}

// setFatal records a fatal error and returns it.
func (d *Decoder) setFatal(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	d.fatal = err
	return err
}

// skipLiteral skips the payload of the non-synchronising literal p. One
// larger than Limits.MaxSkip (or whose size is not representable) is not
// read at all: the error is a fatal *LiteralTooLargeError with Closing set.
func (d *Decoder) skipLiteral(p LiteralInfo) error {
	if p.Size < 0 || p.Size > d.lim.MaxSkip {
		return d.setFatal(&LiteralTooLargeError{Size: p.Size, Limit: d.lim.MaxSkip, Binary: p.Binary, Closing: true})
	}
	return d.skip(p.Size)
}

// skip discards exactly n bytes of input.
func (d *Decoder) skip(n int64) error {
	for n > 0 {
		k := int(min(n, math.MaxInt32))
		m, err := d.reader().Discard(k)
		n -= int64(m)
		if err != nil {
			return d.setFatal(err)
		}
	}
	return nil
}

// ErrTooLargeToSkip matches the error after which the rest of an over-long
// line is not skipped: it went on for more than Limits.MaxSkip bytes past
// the line limit. It is fatal; the engine says BYE and closes (RFC 7888
// section 4 allows closing rather than reading unbounded input).
var ErrTooLargeToSkip = &Error{Kind: KindDesync, Reason: "Command too large to skip"}

// skipRestOfLine skips the rest of a line that ReadLine reported as too
// long before its end, at most Limits.MaxSkip bytes past the limit, and
// records a literal announced at its end as pending, as readSegment does.
func (d *Decoder) skipRestOfLine() error {
	bound := int64(d.lim.MaxLine) + 2 + d.lim.MaxSkip
	for !d.skipEnded && d.skipped <= bound {
		frag, err := readFragment(d.reader())
		d.skipped += int64(len(frag))
		d.skipTailN = pushTail(&d.skipTail, d.skipTailN, frag)
		switch {
		case err == nil:
			d.skipEnded = true
		case err != bufio.ErrBufferFull:
			return d.setFatal(err)
		}
	}
	if d.skipped > bound {
		return d.setFatal(ErrTooLargeToSkip)
	}
	d.skipLine = false
	content := d.skipTail[tailSize-d.skipTailN : tailSize-1] // without LF
	if n := len(content); n > 0 && content[n-1] == '\r' {
		content = content[:n-1]
	}
	if info, ok := parseLiteralSuffix(content); ok {
		info.Offset = -1
		d.pend = info
		d.hasPend = true
	}
	return nil
}

// readSegment reads one line segment into d.buf, enforcing MaxLine, and
// records a literal announcement at its end as pending. first is true for
// the first segment of a command, where end of input is a clean io.EOF;
// elsewhere it is io.ErrUnexpectedEOF.
func (d *Decoder) readSegment(first bool) (Line, error) {
	d.hasPend = false
	if d.fatal != nil {
		return Line{}, d.fatal
	}
	if d.br == nil {
		err := d.waitErr
		d.waitErr = nil
		if err == nil && d.pre.off >= d.pre.end {
			err = d.waitFirst()
		}
		if err != nil {
			if errors.Is(err, io.EOF) && first {
				d.fatal = io.EOF
				return Line{}, io.EOF
			}
			return Line{}, d.setFatal(err)
		}
	}
	if d.buf == nil {
		if b := lineBufPool.Get().(*[]byte); cap(*b) <= d.lim.MaxLine+2 {
			d.buf = (*b)[:0]
		} else {
			lineBufPool.Put(b) // never beyond this decoder's limit
		}
	}
	br := d.reader()
	d.buf = d.buf[:0]
	var (
		total int
		nul   bool
		limit = d.lim.MaxLine + 2 // room for CRLF
	)
	for {
		frag, err := readFragment(br)
		total += len(frag)
		if len(frag) > 0 {
			if !nul && bytes.IndexByte(frag, 0) >= 0 {
				nul = true
			}
			if len(d.buf)+len(frag) > limit && (err == nil || err == bufio.ErrBufferFull) {
				// Over the limit: report the line at once, before its
				// end arrives, keeping its head (the tag) in the line
				// buffer; Discard skips the rest of it.
				d.skipTailN = pushTail(&d.skipTail, 0, d.buf)
				d.skipTailN = pushTail(&d.skipTail, d.skipTailN, frag)
				keep := min(headSize, d.lim.MaxLine)
				if len(d.buf) < keep {
					d.buf = appendBounded(d.buf, frag[:min(len(frag), keep-len(d.buf))], limit)
				}
				d.buf = d.buf[:min(len(d.buf), keep)]
				d.skipLine = true
				d.skipEnded = err == nil
				d.skipped = int64(total)
				return Line{Head: d.buf}, ErrLineTooLong
			}
			d.buf = appendBounded(d.buf, frag, max(limit, len(d.buf)+len(frag)))
		}
		if err == nil {
			break
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if errors.Is(err, io.EOF) {
			if total == 0 && first {
				d.fatal = io.EOF
				return Line{}, io.EOF
			}
			return Line{}, d.setFatal(io.ErrUnexpectedEOF)
		}
		return Line{}, d.setFatal(err)
	}

	content := d.buf[:len(d.buf)-1] // LF
	var line Line
	if n := len(content); n > 0 && content[n-1] == '\r' {
		content = content[:n-1]
	} else {
		line.BareLF = true
		d.bareLF = true
	}
	line.Head = content
	tooLong := len(content) > d.lim.MaxLine // MaxLine+1 bytes ended by a bare LF
	if tooLong {
		line.Head = content[:min(len(content), headSize)]
	}
	if info, ok := parseLiteralSuffix(content); ok {
		if tooLong {
			info.Offset = -1
		}
		line.HasLiteral = true
		line.Literal = info
		d.pend = info
		d.hasPend = true
	}
	switch {
	case tooLong:
		return line, ErrLineTooLong
	case nul:
		return line, ErrNULByte
	}
	line.Text = content
	return line, nil
}

// readFragment returns the buffered bytes of br up to and including the
// next LF, reading once when nothing is buffered. Without an LF among them
// it returns them all with bufio.ErrBufferFull, so that the caller sees
// each read as it arrives (bufio.Reader.ReadSlice would wait for a full
// buffer): an over-long line is noticed as soon as it passes the limit.
// The fragment aliases br's buffer and is valid until the next read.
func readFragment(br *bufio.Reader) ([]byte, error) {
	if br.Buffered() == 0 {
		if _, err := br.Peek(1); err != nil {
			return nil, err
		}
	}
	buf, _ := br.Peek(br.Buffered())
	if i := bytes.IndexByte(buf, '\n'); i >= 0 {
		buf = buf[:i+1]
		br.Discard(len(buf))
		return buf, nil
	}
	br.Discard(len(buf))
	return buf, bufio.ErrBufferFull
}

// appendBounded appends frag to buf, growing its capacity to at most limit
// so that the line buffer never exceeds the configured maximum. The caller
// guarantees len(buf)+len(frag) <= limit.
func appendBounded(buf, frag []byte, limit int) []byte {
	need := len(buf) + len(frag)
	if need > cap(buf) {
		nb := make([]byte, len(buf), min(max(2*cap(buf), need, 512), limit))
		copy(nb, buf)
		buf = nb
	}
	return append(buf, frag...)
}

// pushTail appends b to the fixed-size tail buffer, keeping only the last
// tailSize bytes, right-aligned. It returns the new fill count.
func pushTail(tail *[tailSize]byte, n int, b []byte) int {
	if len(b) >= tailSize {
		copy(tail[:], b[len(b)-tailSize:])
		return tailSize
	}
	keep := min(n, tailSize-len(b))
	copy(tail[tailSize-keep-len(b):], tail[tailSize-keep:])
	copy(tail[tailSize-len(b):], b)
	return keep + len(b)
}

// parseLiteralSuffix recognises a literal announcement at the end of s:
// ["~"] "{" 1*DIGIT ["+" / "-"] "}" (RFC 9051 section 9 literal, RFC 7888,
// RFC 3516 literal8).
func parseLiteralSuffix(s []byte) (LiteralInfo, bool) {
	n := len(s)
	if n < 3 || s[n-1] != '}' {
		return LiteralInfo{}, false
	}
	info := LiteralInfo{Sync: true}
	end := n - 1
	switch s[end-1] {
	case '+':
		info.Sync = false
		end--
	case '-':
		info.Sync = false
		info.Minus = true
		end--
	}
	start := end
	for start > 0 && s[start-1] >= '0' && s[start-1] <= '9' {
		start--
	}
	if start == end || start == 0 || s[start-1] != '{' {
		return LiteralInfo{}, false
	}
	var size int64
	for _, c := range s[start:end] {
		v := int64(c - '0')
		if size > (math.MaxInt64-v)/10 {
			size = -1
			break
		}
		size = size*10 + v
	}
	info.Size = size
	info.Offset = start - 1
	if info.Offset > 0 && s[info.Offset-1] == '~' {
		info.Binary = true
		info.Offset--
	}
	return info, true
}
