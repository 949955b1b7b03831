package imapwire

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readAppend parses "tag APPEND mailbox [flags] [date-time] literal" and
// returns the reader for the message.
func readAppend(t *testing.T, d *Decoder) (*ArgReader, *LiteralReader, error) {
	t.Helper()
	line, err := d.ReadLine()
	require.NoError(t, err)
	cmd, err := ParseCommand(line.Text)
	require.NoError(t, err)
	require.Equal(t, "APPEND", cmd.Name)
	a := d.Args(cmd.ArgsStart)
	require.NoError(t, a.SP())
	_, err = a.Mailbox()
	require.NoError(t, err)
	require.NoError(t, a.SP())
	if c, _ := a.Peek(); c == '(' {
		_, err = a.FlagList()
		require.NoError(t, err)
		require.NoError(t, a.SP())
	}
	if c, _ := a.Peek(); c == '"' {
		_, err = a.DateTime()
		require.NoError(t, err)
		require.NoError(t, a.SP())
	}
	r, err := a.AppendLiteral()
	return a, r, err
}

func TestAppendLiteralStreaming(t *testing.T) {
	msg := bytes.Repeat([]byte("0123456789abcdef\r\n"), 60000) // ~1 MiB
	tests := []struct {
		name   string
		ann    string
		sync   bool
		binary bool
		body   []byte
	}{
		{name: "sync", ann: "{%d}", sync: true, body: msg},
		{name: "non-sync", ann: "{%d+}", body: msg},
		{name: "literal8", ann: "~{%d}", sync: true, binary: true, body: []byte("bin\x00ary\x00")},
		{name: "empty", ann: "{%d+}", body: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ann := strings.Replace(tt.ann, "%d", itoa(len(tt.body)), 1)
			input := "A1 APPEND INBOX (\\Seen) \"17-Jul-1996 02:44:25 -0700\" " + ann + "\r\n" +
				string(tt.body) + "\r\nA2 NOOP\r\n"
			lim := DefaultLimits()
			d, rec := newTestDecoder(input, lim)
			a, r, err := readAppend(t, d)
			require.NoError(t, err)
			assert.Equal(t, int64(len(tt.body)), r.Size())
			assert.Equal(t, tt.binary, r.Binary())
			if tt.sync {
				assert.Len(t, rec.calls, 1)
			} else {
				assert.Empty(t, rec.calls)
			}
			var got bytes.Buffer
			n, err := io.Copy(&got, r)
			require.NoError(t, err)
			assert.Equal(t, int64(len(tt.body)), n)
			assert.True(t, bytes.Equal(tt.body, got.Bytes()))
			require.NoError(t, a.End())
			line, err := d.ReadLine()
			require.NoError(t, err)
			assert.Equal(t, "A2 NOOP", string(line.Text))
		})
	}
}

func TestAppendLiteralPartialReadIsDrained(t *testing.T) {
	body := strings.Repeat("x", 10000)
	d, _ := newTestDecoder("A1 APPEND INBOX {10000+}\r\n"+body+"\r\nA2 NOOP\r\n", DefaultLimits())
	a, r, err := readAppend(t, d)
	require.NoError(t, err)
	buf := make([]byte, 100)
	_, err = io.ReadFull(r, buf)
	require.NoError(t, err)
	require.NoError(t, a.End(), "End drains the unread payload")
	n, err := r.Read(buf)
	assert.Equal(t, 0, n)
	assert.ErrorIs(t, err, io.EOF)
	line, err := d.ReadLine()
	require.NoError(t, err)
	assert.Equal(t, "A2 NOOP", string(line.Text))
	_, err = r.Read(buf)
	assert.ErrorIs(t, err, ErrSyntax, "stale reader refuses to read the next command")
}

func TestAppendLiteralDiscardMidway(t *testing.T) {
	// The engine gives up (e.g. quota) after reading part of the message.
	d, _ := newTestDecoder("A1 APPEND INBOX {20+}\r\n01234567890123456789 {3+}\r\nabc\r\nA2 NOOP\r\n", DefaultLimits())
	_, r, err := readAppend(t, d)
	require.NoError(t, err)
	buf := make([]byte, 5)
	_, err = io.ReadFull(r, buf)
	require.NoError(t, err)
	require.NoError(t, d.Discard())
	line, err := d.ReadLine()
	require.NoError(t, err)
	assert.Equal(t, "A2 NOOP", string(line.Text))
}

func TestAppendLiteralTooLarge(t *testing.T) {
	lim := smallLimits() // MaxAppendLiteral 64
	for _, sync := range []bool{true, false} {
		ann, payload := "{65}", ""
		if !sync {
			ann, payload = "{65+}", strings.Repeat("m", 65)+"\r\n"
		}
		d, rec := newTestDecoder("A1 APPEND INBOX "+ann+"\r\n"+payload+"A2 NOOP\r\n", lim)
		_, _, err := readAppend(t, d)
		var tooBig *LiteralTooLargeError
		require.ErrorAs(t, err, &tooBig)
		assert.Equal(t, sync, tooBig.Sync)
		assert.Equal(t, int64(64), tooBig.Limit)
		assert.Empty(t, rec.calls, "no continuation for a refused literal")
		require.NoError(t, d.Discard())
		line, err := d.ReadLine()
		require.NoError(t, err)
		assert.Equal(t, "A2 NOOP", string(line.Text))
	}
}

func TestAppendLiteralTruncated(t *testing.T) {
	d, _ := newTestDecoder("A1 APPEND INBOX {10+}\r\nabc", DefaultLimits())
	_, r, err := readAppend(t, d)
	require.NoError(t, err)
	_, err = io.ReadAll(r)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	_, err = d.ReadLine()
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

func TestPeekLiteral(t *testing.T) {
	d, rec := newTestDecoder("A1 APPEND INBOX {300}\r\n", DefaultLimits())
	line, err := d.ReadLine()
	require.NoError(t, err)
	cmd, err := ParseCommand(line.Text)
	require.NoError(t, err)
	a := d.Args(cmd.ArgsStart)
	_, ok := a.PeekLiteral()
	assert.False(t, ok)
	require.NoError(t, a.SP())
	_, err = a.Mailbox()
	require.NoError(t, err)
	require.NoError(t, a.SP())
	info, ok := a.PeekLiteral()
	require.True(t, ok)
	assert.Equal(t, int64(300), info.Size)
	assert.True(t, info.Sync)
	assert.Empty(t, rec.calls, "peeking does not request continuation")
}

// itoa formats n without strconv in test tables.
func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
