package mailmsg

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// scanBufferSize is the read buffer of the line scanner. Lines longer than
// this are handled in fragments; such a line can never be a boundary
// delimiter line (RFC 2046 5.1.1 limits boundaries to 70 characters).
const scanBufferSize = 64 << 10

// lineScanner reads a message line by line and keeps the bookkeeping that
// is needed to turn line positions into part offsets and line counts.
type lineScanner struct {
	br  *bufio.Reader
	off int64 // offset of the next unread byte
	lf  int64 // number of LF bytes before off
	// tail holds the last (up to) three bytes before off, most recent last;
	// tailN tells how many of them are valid.
	tail  [3]byte
	tailN int
	// midLine is set when the last fragment did not end a line.
	midLine bool
	err     error

	// State saved just before the current line was read, used when that
	// line turns out to be a boundary delimiter.
	lineStart int64
	lineLF    int64
	lineTail  [3]byte
	lineTailN int
}

func newLineScanner(r io.Reader) *lineScanner {
	size := scanBufferSize
	if l, ok := r.(interface{ Len() int }); ok && l.Len() < size {
		// An in-memory message smaller than the buffer (most of them)
		// needs no more than its own length: saves allocating and
		// clearing 64 KiB per message.
		size = l.Len() + 1
	}
	return &lineScanner{br: bufio.NewReaderSize(r, size)}
}

// next returns the next line fragment, including its line terminator.
// startOfLine reports whether the fragment begins a line and full whether
// it ends one (with LF or at end of input). The slice is only valid until
// the following call. At end of input next returns an empty fragment and
// ok false; a read error other than EOF is kept in s.err.
func (s *lineScanner) next() (frag []byte, startOfLine, full, ok bool) {
	if s.err != nil {
		return nil, false, false, false
	}
	s.lineStart, s.lineLF, s.lineTail, s.lineTailN = s.off, s.lf, s.tail, s.tailN
	frag, err := s.br.ReadSlice('\n')
	switch {
	case err == nil:
		full = true
	case errors.Is(err, bufio.ErrBufferFull):
		full = false
	case errors.Is(err, io.EOF):
		s.err = io.EOF
		full = true
	default:
		s.err = err
		return nil, false, false, false
	}
	if len(frag) == 0 {
		return nil, false, false, false
	}
	startOfLine = !s.midLine
	s.midLine = frag[len(frag)-1] != '\n'
	s.off += int64(len(frag))
	if frag[len(frag)-1] == '\n' {
		s.lf++
	}
	s.pushTail(frag)
	return frag, startOfLine, full, true
}

func (s *lineScanner) pushTail(b []byte) {
	if len(b) >= 3 {
		copy(s.tail[:], b[len(b)-3:])
		s.tailN = 3
		return
	}
	for _, c := range b {
		s.tail[0], s.tail[1], s.tail[2] = s.tail[1], s.tail[2], c
		if s.tailN < 3 {
			s.tailN++
		}
	}
}

// readErr returns the read error that stopped the scanner, if it was not
// the end of input.
func (s *lineScanner) readErr() error {
	if s.err == nil || errors.Is(s.err, io.EOF) {
		return nil
	}
	return s.err
}

// mark is a position in the message together with what is needed to count
// lines up to it.
type mark struct {
	off int64
	lf  int64 // LF bytes before off
	// afterLF reports whether the byte just before off is an LF.
	afterLF bool
}

// here returns the mark of the current scanner position.
func (s *lineScanner) here() mark {
	return mark{off: s.off, lf: s.lf, afterLF: s.tailN > 0 && s.tail[2] == '\n'}
}

// beforeDelimiter returns the mark of the end of the content that precedes
// the line just read, a boundary delimiter line: the line break before the
// delimiter is part of the delimiter (RFC 2046 5.1.1).
func (s *lineScanner) beforeDelimiter() mark {
	m := mark{off: s.lineStart, lf: s.lineLF}
	t, n := s.lineTail, s.lineTailN
	eol := 0
	switch {
	case n >= 2 && t[1] == '\r' && t[2] == '\n':
		eol = 2
	case n >= 1 && t[2] == '\n':
		eol = 1
	}
	if eol > 0 {
		m.off -= int64(eol)
		m.lf--
	}
	// The byte before the new end is tail[2-eol], if we know it.
	if idx := 2 - eol; n > eol {
		m.afterLF = t[idx] == '\n'
	}
	return m
}

// termination describes what ended an entity: either the end of input or
// a boundary delimiter line of an enclosing multipart entity.
type termination struct {
	eof bool
	// depth is the index into the boundary stack of the delimiter found.
	depth int
	// close is set for a close delimiter ("--boundary--").
	close bool
	// end marks the end of the content before the delimiter (or of input).
	end mark
}

// matchDelimiter reports whether line is a delimiter line for one of the
// boundaries in stack, innermost first, and whether it is a close
// delimiter (RFC 2046 5.1.1). Transport padding (trailing white space) is
// allowed after the delimiter.
func matchDelimiter(line []byte, stack []string) (depth int, isClose, ok bool) {
	if len(stack) == 0 || len(line) < 3 || line[0] != '-' || line[1] != '-' {
		return 0, false, false
	}
	body := bytes.TrimRight(line[2:], " \t\r\n")
	for i := len(stack) - 1; i >= 0; i-- {
		b := stack[i]
		if !bytes.HasPrefix(body, []byte(b)) {
			continue
		}
		rest := body[len(b):]
		switch {
		case len(rest) == 0:
			return i, false, true
		case len(rest) == 2 && rest[0] == '-' && rest[1] == '-':
			return i, true, true
		}
	}
	return 0, false, false
}

// skipToDelimiter consumes lines until a delimiter line of one of the
// boundaries in stack or the end of input, and reports which one ended the
// content.
func (s *lineScanner) skipToDelimiter(stack []string) termination {
	for {
		frag, sol, full, ok := s.next()
		if !ok {
			return termination{eof: true, end: s.here()}
		}
		if sol && full && len(stack) > 0 {
			if d, c, ok := matchDelimiter(frag, stack); ok {
				return termination{depth: d, close: c, end: s.beforeDelimiter()}
			}
		}
	}
}

// isBlankLine reports whether a full line fragment is an empty line.
func isBlankLine(frag []byte) bool {
	return len(frag) == 1 && frag[0] == '\n' || len(frag) == 2 && frag[0] == '\r' && frag[1] == '\n'
}

// lineCount returns the number of lines in the content between start and
// end: the LF bytes it contains, plus one for a last line without a line
// break.
func lineCount(start, end mark) int64 {
	if end.off <= start.off {
		return 0
	}
	n := end.lf - start.lf
	if !end.afterLF {
		n++
	}
	return n
}
