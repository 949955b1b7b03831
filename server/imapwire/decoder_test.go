package imapwire

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// contRecorder counts continuation requests.
type contRecorder struct {
	calls []LiteralInfo
}

func (c *contRecorder) fn(info LiteralInfo) error {
	c.calls = append(c.calls, info)
	return nil
}

// newTestDecoder returns a decoder over input with a recording continuation
// function.
func newTestDecoder(input string, lim Limits) (*Decoder, *contRecorder) {
	d := NewDecoder(strings.NewReader(input), lim)
	rec := &contRecorder{}
	d.SetContinuationFunc(rec.fn)
	return d, rec
}

func smallLimits() Limits {
	return Limits{MaxLine: 32, MaxLiteral: 16, MaxAppendLiteral: 64, MaxDepth: 4}
}

func TestDefaultLimits(t *testing.T) {
	l := DefaultLimits()
	assert.Equal(t, 64*1024, l.MaxLine)
	assert.Equal(t, int64(64*1024), l.MaxLiteral)
	assert.Equal(t, int64(64*1024*1024), l.MaxAppendLiteral)
	assert.Equal(t, 100, l.MaxDepth)
	assert.Equal(t, l, NewDecoder(strings.NewReader(""), Limits{}).Limits(), "zero limits select defaults")
}

func TestReadLine(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		text    string
		bareLF  bool
		literal *LiteralInfo
	}{
		{name: "crlf", input: "A1 NOOP\r\n", text: "A1 NOOP"},
		{name: "bare lf", input: "DONE\n", text: "DONE", bareLF: true},
		{name: "empty line", input: "\r\n", text: ""},
		{name: "empty bare lf", input: "\n", text: "", bareLF: true},
		{name: "trailing space kept", input: "DONE \r\n", text: "DONE "},
		{name: "cr inside kept", input: "A1 NO\rOP\r\n", text: "A1 NO\rOP"},
		{name: "sync literal", input: "A1 LOGIN {5}\r\n", text: "A1 LOGIN {5}",
			literal: &LiteralInfo{Size: 5, Sync: true, Offset: 9}},
		{name: "plus literal", input: "A1 LOGIN {29+}\r\n", text: "A1 LOGIN {29+}",
			literal: &LiteralInfo{Size: 29, Offset: 9}},
		{name: "minus literal", input: "A1 LOGIN {7-}\r\n", text: "A1 LOGIN {7-}",
			literal: &LiteralInfo{Size: 7, Minus: true, Offset: 9}},
		{name: "literal8", input: "A1 APPEND INBOX ~{12}\r\n", text: "A1 APPEND INBOX ~{12}",
			literal: &LiteralInfo{Size: 12, Sync: true, Binary: true, Offset: 16}},
		{name: "literal8 non-sync", input: "A APPEND X ~{0+}\r\n", text: "A APPEND X ~{0+}",
			literal: &LiteralInfo{Size: 0, Binary: true, Offset: 11}},
		{name: "literal bare lf", input: "A1 X {3}\n", text: "A1 X {3}", bareLF: true,
			literal: &LiteralInfo{Size: 3, Sync: true, Offset: 5}},
		{name: "literal size overflow", input: "A {99999999999999999999}\r\n", text: "A {99999999999999999999}",
			literal: &LiteralInfo{Size: -1, Sync: true, Offset: 2}},
		{name: "max int64 size", input: "A {9223372036854775807+}\r\n", text: "A {9223372036854775807+}",
			literal: &LiteralInfo{Size: 9223372036854775807, Offset: 2}},
		{name: "not literal: empty braces", input: "A {}\r\n", text: "A {}"},
		{name: "not literal: letters", input: "A {a}\r\n", text: "A {a}"},
		{name: "not literal: no open brace", input: "A 5}\r\n", text: "A 5}"},
		{name: "not literal: unclosed", input: "A {5\r\n", text: "A {5"},
		{name: "not literal: plus only", input: "A {+}\r\n", text: "A {+}"},
		{name: "not literal: trailing space", input: "A {5} \r\n", text: "A {5} "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := newTestDecoder(tt.input, DefaultLimits())
			line, err := d.ReadLine()
			require.NoError(t, err)
			assert.Equal(t, tt.text, string(line.Text))
			assert.Equal(t, tt.bareLF, line.BareLF)
			if tt.literal == nil {
				assert.False(t, line.HasLiteral)
			} else {
				require.True(t, line.HasLiteral)
				assert.Equal(t, *tt.literal, line.Literal)
			}
		})
	}
}

func TestReadLineEOF(t *testing.T) {
	d, _ := newTestDecoder("", DefaultLimits())
	_, err := d.ReadLine()
	assert.ErrorIs(t, err, io.EOF)
	_, err = d.ReadLine()
	assert.ErrorIs(t, err, io.EOF, "EOF is sticky")

	d, _ = newTestDecoder("A1 LOGOUT", DefaultLimits())
	_, err = d.ReadLine()
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "unterminated line")
	assert.True(t, IsFatal(err))
}

func TestReadLineTooLong(t *testing.T) {
	lim := smallLimits() // MaxLine 32
	exact := strings.Repeat("x", 32)
	tests := []struct {
		name  string
		input string
		err   error
		next  string // the line read after the failing one
	}{
		{name: "exactly max", input: exact + "\r\nA2 NOOP\r\n", next: "A2 NOOP"},
		{name: "exactly max bare lf", input: exact + "\nA2 NOOP\r\n", next: "A2 NOOP"},
		{name: "max plus one", input: exact + "y\r\nA2 NOOP\r\n", err: ErrLineTooLong, next: "A2 NOOP"},
		{name: "max plus one bare lf", input: exact + "y\nA2 NOOP\r\n", err: ErrLineTooLong, next: "A2 NOOP"},
		{name: "far over, crosses read buffer", input: strings.Repeat("z", 3*readBufferSize+7) + "\r\nA2 NOOP\r\n",
			err: ErrLineTooLong, next: "A2 NOOP"},
		{name: "too long with non-sync literal is skipped", input: strings.Repeat("z", 100) + " {3+}\r\nabc rest\r\nA2 NOOP\r\n",
			err: ErrLineTooLong, next: "A2 NOOP"},
		{name: "too long with sync literal", input: strings.Repeat("z", 100) + " {3}\r\nA2 NOOP\r\n",
			err: ErrLineTooLong, next: "A2 NOOP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, rec := newTestDecoder(tt.input, lim)
			line, err := d.ReadLine()
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				assert.False(t, IsFatal(err))
				assert.Nil(t, line.Text)
				assert.Equal(t, "Line too long", Reason(err))
				line, err = d.ReadLine()
			} else {
				require.NoError(t, err)
				line, err = d.ReadLine()
			}
			require.NoError(t, err)
			assert.Equal(t, tt.next, string(line.Text))
			assert.LessOrEqual(t, cap(d.buf), lim.MaxLine+2, "line buffer bounded by the limit")
			assert.Empty(t, rec.calls)
		})
	}
}

func TestReadLineTooLongSkipsLiteral(t *testing.T) {
	d, _ := newTestDecoder("A1 "+strings.Repeat("q", 200)+" {12+}\r\n0123456789ab\r\nA2 NOOP\r\n", smallLimits())
	line, err := d.ReadLine()
	require.ErrorIs(t, err, ErrLineTooLong)
	assert.Equal(t, "A1", line.Tag(), "the head keeps the tag")
	line, err = d.ReadLine()
	require.NoError(t, err)
	assert.Equal(t, "A2 NOOP", string(line.Text), "the literal at the end of the long line was skipped")
}

// TestReadLineTooLongAnswersEarly: an over-long line is reported as soon
// as it passes the limit, before its end arrives, and the rest is skipped
// up to Limits.MaxSkip; a line that goes on beyond that is fatal.
func TestReadLineTooLongAnswersEarly(t *testing.T) {
	lim := smallLimits()
	lim.MaxSkip = 10000
	pr, pw := io.Pipe()
	d := NewDecoder(pr, lim)
	go pw.Write([]byte("a NOOP " + strings.Repeat("x", 4000)))
	line, err := d.ReadLine()
	require.ErrorIs(t, err, ErrLineTooLong, "reported while the line's end has not arrived")
	assert.Equal(t, "a", line.Tag())
	go func() {
		pw.Write([]byte(strings.Repeat("x", 4000) + "\r\nA2 NOOP\r\n" + "b NOOP " + strings.Repeat("y", 30000) + "\r\n"))
		pw.Close()
	}()
	line, err = d.ReadLine()
	require.NoError(t, err)
	assert.Equal(t, "A2 NOOP", string(line.Text), "resynchronised at the next line")
	line, err = d.ReadLine()
	require.ErrorIs(t, err, ErrLineTooLong)
	assert.Equal(t, "b", line.Tag())
	err = d.Discard()
	require.ErrorIs(t, err, ErrTooLargeToSkip)
	assert.True(t, IsFatal(err))
	pr.Close() // the writer's unread rest
}

func TestLineTag(t *testing.T) {
	for head, want := range map[string]string{
		"a \x00\x01": "a", "8.570 NOOP": "8.570", "a\x00 NOOP": "", "\x00 NOOP": "", "a": "", "": "", "+a NOOP": "", " a": "",
	} {
		assert.Equal(t, want, Line{Head: []byte(head)}.Tag(), "%q", head)
	}
}

// TestNonSyncLiteralTooLargeToSkip: a rejected non-synchronising literal
// larger than Limits.MaxSkip is not read at all and the error is fatal.
func TestNonSyncLiteralTooLargeToSkip(t *testing.T) {
	d, _ := newTestDecoder("A1 LOGIN {1000000000+}\r\n"+strings.Repeat("x", 100), smallLimits())
	_, err := d.ReadLine()
	require.NoError(t, err)
	_, err = d.Args(9).AString()
	var tooBig *LiteralTooLargeError
	require.ErrorAs(t, err, &tooBig)
	assert.True(t, tooBig.Closing)
	assert.True(t, IsFatal(err))
	assert.ErrorIs(t, err, ErrDesync)
	assert.ErrorIs(t, d.Discard(), ErrDesync, "the decoder stays failed")
}

func TestReadLineNUL(t *testing.T) {
	tests := []struct {
		name  string
		input string
	}{
		{name: "nul in middle", input: "A1 NO\x00OP\r\nA2 NOOP\r\n"},
		{name: "nul at start", input: "\x00\r\nA2 NOOP\r\n"},
		{name: "nul and literal", input: "A1 X\x00 {4+}\r\nabcd\r\nA2 NOOP\r\n"},
		{name: "nul in long line", input: "\x00" + strings.Repeat("a", 100) + "\r\nA2 NOOP\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := newTestDecoder(tt.input, smallLimits())
			line, err := d.ReadLine()
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrNULByte) || errors.Is(err, ErrLineTooLong))
			assert.Nil(t, line.Text)
			assert.False(t, IsFatal(err))
			line, err = d.ReadLine()
			require.NoError(t, err)
			assert.Equal(t, "A2 NOOP", string(line.Text))
		})
	}
}

func TestReadLineOneByteReader(t *testing.T) {
	input := "A1 LOGIN {5+}\r\nalice \"pw\"\r\nA2 NOOP\r\n"
	d := NewDecoder(iotest.OneByteReader(strings.NewReader(input)), DefaultLimits())
	line, err := d.ReadLine()
	require.NoError(t, err)
	cmd, err := ParseCommand(line.Text)
	require.NoError(t, err)
	a := d.Args(cmd.ArgsStart)
	require.NoError(t, a.SP())
	user, err := a.AString()
	require.NoError(t, err)
	require.NoError(t, a.SP())
	pass, err := a.AString()
	require.NoError(t, err)
	require.NoError(t, a.End())
	assert.Equal(t, "alice", user)
	assert.Equal(t, "pw", pass)
	line, err = d.ReadLine()
	require.NoError(t, err)
	assert.Equal(t, "A2 NOOP", string(line.Text))
}

// TestResetDiscardsBuffered covers the STARTTLS command-injection defence:
// bytes pipelined after STARTTLS in plaintext are dropped by Reset.
func TestResetDiscardsBuffered(t *testing.T) {
	plain := strings.NewReader("A1 STARTTLS\r\nA2 LOGIN evil secret\r\n")
	d := NewDecoder(plain, DefaultLimits())
	line, err := d.ReadLine()
	require.NoError(t, err)
	assert.Equal(t, "A1 STARTTLS", string(line.Text))
	assert.Equal(t, len("A2 LOGIN evil secret\r\n"), d.Buffered(), "injected bytes are buffered")

	d.Reset(strings.NewReader("B1 CAPABILITY\r\n"))
	assert.Equal(t, 0, d.Buffered())
	line, err = d.ReadLine()
	require.NoError(t, err)
	assert.Equal(t, "B1 CAPABILITY", string(line.Text), "only bytes from the new reader are seen")
	_, err = d.ReadLine()
	assert.ErrorIs(t, err, io.EOF)
}

func TestResetClearsCommandStateAndFatal(t *testing.T) {
	d, _ := newTestDecoder("A1 X {5+}\r\nab", DefaultLimits())
	_, err := d.ReadLine()
	require.NoError(t, err)
	_, err = d.ReadLine() // discards the literal, which is truncated
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	d.Reset(strings.NewReader("A2 NOOP\r\n"))
	line, err := d.ReadLine()
	require.NoError(t, err)
	assert.Equal(t, "A2 NOOP", string(line.Text))
}

func TestDiscard(t *testing.T) {
	tests := []struct {
		name string
		// input is the whole stream; the first line is rejected by the
		// engine right after ReadLine and Discard is called.
		input string
		next  string
		err   error
	}{
		{name: "no literal", input: "A1 FOO bar\r\nA2 NOOP\r\n", next: "A2 NOOP"},
		{name: "non-sync literal", input: "A1 FOO {3+}\r\nabc\r\nA2 NOOP\r\n", next: "A2 NOOP"},
		{name: "chained non-sync literals", input: "A1 FOO {3+}\r\nabc {2+}\r\nxy tail\r\nA2 NOOP\r\n", next: "A2 NOOP"},
		{name: "literal payload looks like a command", input: "A1 FOO {11+}\r\nA9 LOGOUT\r\n\r\nA2 NOOP\r\n", next: "A2 NOOP"},
		{name: "sync literal stops", input: "A1 FOO {3}\r\nA2 NOOP\r\n", next: "A2 NOOP"},
		{name: "non-sync then sync", input: "A1 FOO {1+}\r\nx {5}\r\nA2 NOOP\r\n", next: "A2 NOOP"},
		{name: "minus literal skipped", input: "A1 FOO {2-}\r\nab\r\nA2 NOOP\r\n", next: "A2 NOOP"},
		{name: "literal8 skipped", input: "A1 FOO ~{3+}\r\n\x00\x01\x02\r\nA2 NOOP\r\n", next: "A2 NOOP"},
		{name: "truncated literal", input: "A1 FOO {10+}\r\nabc", err: io.ErrUnexpectedEOF},
		{name: "eof after literal payload", input: "A1 FOO {3+}\r\nabc", err: io.ErrUnexpectedEOF},
		{name: "large literal skipped", input: "A1 FOO {100000+}\r\n" + strings.Repeat("L", 100000) + "\r\nA2 NOOP\r\n", next: "A2 NOOP"},
		{name: "overflowing literal", input: "A1 FOO {99999999999999999999+}\r\n", err: ErrDesync},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, rec := newTestDecoder(tt.input, smallLimits())
			_, err := d.ReadLine()
			require.NoError(t, err)
			err = d.Discard()
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				assert.True(t, IsFatal(err))
				_, err = d.ReadLine()
				assert.ErrorIs(t, err, tt.err, "fatal errors are sticky")
				return
			}
			require.NoError(t, err)
			line, err := d.ReadLine()
			require.NoError(t, err)
			assert.Equal(t, tt.next, string(line.Text))
			assert.Empty(t, rec.calls, "Discard never requests continuation")
		})
	}
}

func TestReadLineDiscardsUnreadCommand(t *testing.T) {
	// The engine reads the line but never the arguments; ReadLine must
	// skip the announced non-synchronising literal by itself.
	d, _ := newTestDecoder("A1 LOGIN {5+}\r\nalice {6+}\r\nsecret\r\nA2 NOOP\r\n", DefaultLimits())
	_, err := d.ReadLine()
	require.NoError(t, err)
	line, err := d.ReadLine()
	require.NoError(t, err)
	assert.Equal(t, "A2 NOOP", string(line.Text))
}

// errReader fails after returning its data.
type errReader struct {
	data []byte
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestReadLineIOErrorIsFatal(t *testing.T) {
	boom := errors.New("connection reset")
	d := NewDecoder(&errReader{data: []byte("A1 NO"), err: boom}, DefaultLimits())
	_, err := d.ReadLine()
	require.ErrorIs(t, err, boom)
	assert.True(t, IsFatal(err))
	_, err = d.ReadLine()
	assert.ErrorIs(t, err, boom)
}

func TestPushTail(t *testing.T) {
	var tail [tailSize]byte
	n := pushTail(&tail, 0, []byte("abc"))
	n = pushTail(&tail, n, []byte("def"))
	assert.Equal(t, "abcdef", string(tail[tailSize-n:]))
	long := bytes.Repeat([]byte("0123456789"), 5)
	n = pushTail(&tail, n, long)
	assert.Equal(t, tailSize, n)
	assert.Equal(t, string(long[len(long)-tailSize:]), string(tail[:]))
	n = pushTail(&tail, n, []byte("XY"))
	assert.Equal(t, string(long[len(long)-tailSize+2:])+"XY", string(tail[tailSize-n:]))
}

// TestTakeBuffered covers the switch to COMPRESS DEFLATE: the bytes a
// client pipelined after the command are handed over, in order, and the
// decoder then reads only the new reader.
func TestTakeBuffered(t *testing.T) {
	d := NewDecoder(strings.NewReader("A1 COMPRESS DEFLATE\r\nA2 NOOP\r\nA3 NOOP\r\n"), DefaultLimits())
	line, err := d.ReadLine()
	require.NoError(t, err)
	assert.Equal(t, "A1 COMPRESS DEFLATE", string(line.Text))
	assert.Equal(t, "A2 NOOP\r\nA3 NOOP\r\n", string(d.TakeBuffered()))
	assert.Equal(t, 0, d.Buffered())
	assert.Nil(t, d.TakeBuffered(), "nothing is left")

	d.Reset(strings.NewReader("B1 NOOP\r\n"))
	line, err = d.ReadLine()
	require.NoError(t, err)
	assert.Equal(t, "B1 NOOP", string(line.Text))

	// Bytes still in the small first-read array come after those in the
	// read buffer.
	d = NewDecoder(strings.NewReader("A1 NOOP\r\nrest"), DefaultLimits())
	d.Wait()
	assert.Equal(t, "A1 NOOP\r\nrest", string(d.TakeBuffered()))
}
