package imapwire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// encode runs fn on a fresh encoder and returns the flushed output.
func encode(t *testing.T, utf8 bool, fn func(e *Encoder)) (string, error) {
	t.Helper()
	var buf bytes.Buffer
	e := NewEncoder(&buf)
	e.SetUTF8(utf8)
	fn(e)
	err := e.Flush()
	return buf.String(), err
}

func TestEncoderStatusResponses(t *testing.T) {
	tests := []struct {
		name string
		fn   func(e *Encoder)
		want string
		err  bool
	}{
		{name: "untagged with code", fn: func(e *Encoder) { e.StatusResponse("", StatusOK, "UIDNEXT 5", "Predicted next UID") },
			want: "* OK [UIDNEXT 5] Predicted next UID\r\n"},
		{name: "tagged", fn: func(e *Encoder) { e.StatusResponse("A1", StatusNO, "", "Mailbox does not exist") },
			want: "A1 NO Mailbox does not exist\r\n"},
		{name: "bad with clientbug", fn: func(e *Encoder) { e.StatusResponse("8.569", StatusBAD, "CLIENTBUG", "Expected DONE") },
			want: "8.569 BAD [CLIENTBUG] Expected DONE\r\n"},
		{name: "default text", fn: func(e *Encoder) { e.StatusResponse("A2", StatusOK, "", "") },
			want: "A2 OK Completed\r\n"},
		{name: "bye", fn: func(e *Encoder) { e.StatusResponse("", StatusBYE, "", "Too many bad commands") },
			want: "* BYE Too many bad commands\r\n"},
		{name: "preauth", fn: func(e *Encoder) { e.StatusResponse("", StatusPREAUTH, "CAPABILITY IMAP4rev2", "") },
			want: "* PREAUTH [CAPABILITY IMAP4rev2] Logged in\r\n"},
		{name: "text injection neutralised", fn: func(e *Encoder) {
			e.StatusResponse("A1", StatusBAD, "", "bad mailbox x\r\nA2 OK injected\x00")
		}, want: "A1 BAD bad mailbox x  A2 OK injected \r\n"},
		{name: "code with bracket refused", fn: func(e *Encoder) { e.StatusResponse("A1", StatusOK, "X]", "t") }, err: true},
		{name: "code with CRLF refused", fn: func(e *Encoder) { e.StatusResponse("A1", StatusOK, "X\r\n", "t") }, err: true},
		{name: "bad tag refused", fn: func(e *Encoder) { e.StatusResponse("A 1", StatusOK, "", "t") }, err: true},
		{name: "continuation", fn: func(e *Encoder) { e.Continuation("Ready for literal data") },
			want: "+ Ready for literal data\r\n"},
		{name: "continuation empty", fn: func(e *Encoder) { e.Continuation("") }, want: "+ \r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := encode(t, false, tt.fn)
			if tt.err {
				assert.ErrorIs(t, err, ErrEncode)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestEncoderStrings(t *testing.T) {
	long := strings.Repeat("a", MaxQuotedLen+1)
	tests := []struct {
		name string
		utf8 bool
		fn   func(e *Encoder)
		want string
		err  bool
	}{
		{name: "quoted plain", fn: func(e *Encoder) { e.String("hello world") }, want: `"hello world"`},
		{name: "quoted empty", fn: func(e *Encoder) { e.String("") }, want: `""`},
		{name: "quoted escapes", fn: func(e *Encoder) { e.String(`a"b\c`) }, want: `"a\"b\\c"`},
		{name: "literal for CRLF", fn: func(e *Encoder) { e.String("a\r\nb") }, want: "{4}\r\na\r\nb"},
		{name: "literal for bare LF", fn: func(e *Encoder) { e.String("a\nb") }, want: "{3}\r\na\nb"},
		{name: "literal for non-ASCII", fn: func(e *Encoder) { e.String("café") }, want: "{5}\r\ncafé"},
		{name: "quoted UTF-8 in UTF-8 mode", utf8: true, fn: func(e *Encoder) { e.String("café") }, want: `"café"`},
		{name: "literal for invalid UTF-8 in UTF-8 mode", utf8: true, fn: func(e *Encoder) { e.String("\xff") }, want: "{1}\r\n\xff"},
		{name: "literal when long", fn: func(e *Encoder) { e.String(long) }, want: "{1025}\r\n" + long},
		{name: "NUL refused", fn: func(e *Encoder) { e.String("a\x00b") }, err: true},
		{name: "Quoted refuses CR", fn: func(e *Encoder) { e.Quoted("a\rb") }, err: true},
		{name: "nstring nil", fn: func(e *Encoder) { e.NString("") }, want: "NIL"},
		{name: "nstring value", fn: func(e *Encoder) { e.NString("x") }, want: `"x"`},
		{name: "astring atom", fn: func(e *Encoder) { e.AString("Sent]") }, want: "Sent]"},
		{name: "astring needs quotes", fn: func(e *Encoder) { e.AString("My Folder") }, want: `"My Folder"`},
		{name: "astring empty", fn: func(e *Encoder) { e.AString("") }, want: `""`},
		{name: "astring wildcard", fn: func(e *Encoder) { e.AString("a*") }, want: `"a*"`},
		{name: "mailbox mutf7", fn: func(e *Encoder) { e.Mailbox("~peter/mail/台北/日本語") }, want: "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
		{name: "mailbox ampersand", fn: func(e *Encoder) { e.Mailbox("R&D") }, want: "R&-D"},
		{name: "mailbox utf8", utf8: true, fn: func(e *Encoder) { e.Mailbox("台北") }, want: `"台北"`},
		{name: "mailbox utf8 ampersand", utf8: true, fn: func(e *Encoder) { e.Mailbox("R&D") }, want: "R&D"},
		{name: "mailbox with space", fn: func(e *Encoder) { e.Mailbox("Sent Items") }, want: `"Sent Items"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := encode(t, tt.utf8, tt.fn)
			if tt.err {
				assert.ErrorIs(t, err, ErrEncode)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestEncoderTokens(t *testing.T) {
	tm := time.Date(1996, 7, 17, 2, 44, 25, 0, time.FixedZone("", -7*3600))
	tests := []struct {
		name string
		fn   func(e *Encoder)
		want string
		err  bool
	}{
		{name: "exists", fn: func(e *Encoder) { e.Untagged().Number(23).SP().Atom("EXISTS").CRLF() }, want: "* 23 EXISTS\r\n"},
		{name: "number64", fn: func(e *Encoder) { e.Number64(9223372036854775807) }, want: "9223372036854775807"},
		{name: "nil", fn: func(e *Encoder) { e.NIL() }, want: "NIL"},
		{name: "flag list", fn: func(e *Encoder) { e.FlagList([]string{`\Seen`, "$Forwarded"}) }, want: `(\Seen $Forwarded)`},
		{name: "empty flag list", fn: func(e *Encoder) { e.FlagList(nil) }, want: "()"},
		{name: "flag with space refused", fn: func(e *Encoder) { e.FlagList([]string{"a b"}) }, err: true},
		{name: "nested list", fn: func(e *Encoder) {
			e.List(2, func(i int) {
				if i == 0 {
					e.Atom("A")
					return
				}
				e.OpenList().Number(1).SP().Number(2).CloseList()
			})
		}, want: "(A (1 2))"},
		{name: "raw section", fn: func(e *Encoder) { e.Raw("BODY[HEADER.FIELDS (FROM)]") }, want: "BODY[HEADER.FIELDS (FROM)]"},
		{name: "raw refuses CRLF", fn: func(e *Encoder) { e.Raw("a\r\nb") }, err: true},
		{name: "atom refuses space", fn: func(e *Encoder) { e.Atom("a b") }, err: true},
		{name: "atom refuses empty", fn: func(e *Encoder) { e.Atom("") }, err: true},
		{name: "atom refuses 8-bit", fn: func(e *Encoder) { e.Atom("é") }, err: true},
		{name: "date-time", fn: func(e *Encoder) { e.DateTime(tm) }, want: `"17-Jul-1996 02:44:25 -0700"`},
		{name: "literal stream", fn: func(e *Encoder) { e.Literal(strings.NewReader("hello"), 5) }, want: "{5}\r\nhello"},
		{name: "literal bytes", fn: func(e *Encoder) { e.LiteralBytes([]byte("hi")) }, want: "{2}\r\nhi"},
		{name: "literal8", fn: func(e *Encoder) { e.Literal8(strings.NewReader("a\x00b"), 3) }, want: "~{3}\r\na\x00b"},
		{name: "literal reads only n", fn: func(e *Encoder) { e.Literal(strings.NewReader("hello world"), 5) }, want: "{5}\r\nhello"},
		{name: "literal short source", fn: func(e *Encoder) { e.Literal(strings.NewReader("abc"), 10) }, err: true},
		{name: "literal negative", fn: func(e *Encoder) { e.Literal(strings.NewReader(""), -1) }, err: true},
		{name: "sticky error stops output", fn: func(e *Encoder) { e.Atom("").Atom("NEVER") }, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := encode(t, false, tt.fn)
			if tt.err {
				assert.ErrorIs(t, err, ErrEncode)
				assert.NotContains(t, got, "NEVER")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestEncoderFetchResponse(t *testing.T) {
	body := "Subject: hi\r\n\r\nbody\r\n"
	got, err := encode(t, false, func(e *Encoder) {
		e.Untagged().Number(1).SP().Atom("FETCH").SP().OpenList().
			Atom("UID").SP().Number(42).SP().
			Atom("FLAGS").SP().FlagList([]string{`\Seen`}).SP().
			Atom("BODY[]").SP().Literal(strings.NewReader(body), int64(len(body))).
			CloseList().CRLF()
	})
	require.NoError(t, err)
	assert.Equal(t, "* 1 FETCH (UID 42 FLAGS (\\Seen) BODY[] {21}\r\n"+body+")\r\n", got)
}

// failWriter fails every write.
type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

func TestEncoderWriteErrorAndReset(t *testing.T) {
	boom := errors.New("broken pipe")
	e := NewEncoder(failWriter{err: boom})
	e.StatusResponse("A1", StatusOK, "", "done")
	assert.ErrorIs(t, e.Flush(), boom)
	assert.ErrorIs(t, e.Err(), boom)

	// After STARTTLS the engine flushes and switches writers.
	var tlsConn bytes.Buffer
	e.Reset(&tlsConn)
	assert.NoError(t, e.Err())
	assert.Equal(t, 0, e.Buffered())
	e.StatusResponse("", StatusOK, "", "over TLS")
	assert.Positive(t, e.Buffered())
	require.NoError(t, e.Flush())
	assert.Equal(t, "* OK over TLS\r\n", tlsConn.String())
}

func TestEncoderStringsDecodeBack(t *testing.T) {
	// Whatever String writes, the decoder reads back unchanged.
	values := []string{"", "plain", `q"uo\te`, "multi\r\nline", "caf\xc3\xa9", strings.Repeat("z", 3000), "tab\there"}
	for _, v := range values {
		out, err := encode(t, false, func(e *Encoder) {
			e.write("A1 X ")
			e.String(v)
			e.CRLF()
		})
		require.NoError(t, err)
		d := NewDecoder(strings.NewReader(out), DefaultLimits())
		d.SetContinuationFunc(func(LiteralInfo) error { return nil })
		line, err := d.ReadLine()
		require.NoError(t, err)
		a := d.Args(4)
		require.NoError(t, a.SP())
		got, err := a.String()
		require.NoError(t, err)
		require.NoError(t, a.End())
		assert.Equal(t, v, got)
		_ = line
	}
}

func TestStatusString(t *testing.T) {
	assert.Equal(t, "OK", StatusOK.String())
	assert.Equal(t, "PREAUTH", StatusPREAUTH.String())
	assert.Equal(t, "Status(9)", Status(9).String())
}

var _ io.Writer = failWriter{}

// TestLiteralNeverCarriesNUL: a literal may not contain NUL (RFC 9051
// 4.3), so Literal and LiteralBytes send it as 0x80 and keep the size;
// Literal8 sends the bytes as they are.
func TestLiteralNeverCarriesNUL(t *testing.T) {
	data := "a\x00b\x00\x00c" + strings.Repeat("x\x00", 40<<10)
	var buf bytes.Buffer
	e := NewEncoder(&buf)
	e.Literal(strings.NewReader(data), int64(len(data))).SP().LiteralBytes([]byte("\x00z")).SP()
	e.Literal8(strings.NewReader("\x00"), 1)
	require.NoError(t, e.Flush())
	want := fmt.Sprintf("{%d}\r\n%s {2}\r\n\x80z ~{1}\r\n\x00", len(data), strings.ReplaceAll(data, "\x00", "\x80"))
	assert.Equal(t, want, buf.String())
}
