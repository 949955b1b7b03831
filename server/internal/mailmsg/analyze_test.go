package mailmsg

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAnalyzeOffsets(t *testing.T) {
	msg := fixtureMixed
	st := analyzeString(t, msg)
	root := st.Root
	require.Len(t, root.Children, 3)
	assert.Equal(t, int64(0), root.HeaderStart)
	assert.Equal(t, int64(strings.Index(msg, "\r\n\r\n")+4), st.BodyOffset())
	assert.Equal(t, int64(len(msg)), root.BodyEnd)

	p1 := root.Children[0]
	assert.Equal(t, int64(strings.Index(msg, "Content-Type: text/plain; charset=iso")), p1.HeaderStart)
	assert.Equal(t, int64(strings.Index(msg, "Sch=F6ne")), p1.BodyStart)
	assert.Equal(t, int64(len("Sch=F6ne Gr=FC=DFe vom M=FCggelsee")), p1.Size)

	p3 := root.Children[2]
	require.True(t, p3.IsMessage())
	assert.Equal(t, p3.BodyStart, p3.Message.HeaderStart)
	assert.Equal(t, p3.BodyEnd, p3.Message.BodyEnd)
	assert.Equal(t, "message", p3.Type)
	assert.Equal(t, "inner subject", p3.Envelope.Subject)
	require.Len(t, p3.Message.Children, 2)
	assert.Equal(t, "html", p3.Message.Children[1].Subtype)

	// Every part nests in its parent and sizes agree with offsets.
	root.walk(func(p *Part) bool {
		assert.LessOrEqual(t, p.HeaderStart, p.BodyStart)
		assert.LessOrEqual(t, p.BodyStart, p.BodyEnd)
		assert.Equal(t, p.BodyEnd-p.BodyStart, p.Size)
		for _, c := range p.Children {
			assert.GreaterOrEqual(t, c.HeaderStart, p.BodyStart)
			assert.LessOrEqual(t, c.BodyEnd, p.BodyEnd)
		}
		return true
	})
}

func TestAnalyzeFields(t *testing.T) {
	st := analyzeString(t, fixtureMixed)
	att := st.Root.Children[1]
	assert.Equal(t, &Part{
		Type: "application", Subtype: "octet-stream",
		Params:            []Param{{Name: "name", Value: "data.bin"}},
		ID:                "<att1@example.org>",
		Description:       "some data",
		Encoding:          "base64",
		Size:              16,
		Lines:             1,
		Disposition:       "attachment",
		DispositionParams: []Param{{Name: "filename", Value: "data.bin"}},
		Language:          []string{"de", "en"},
		HeaderStart:       att.HeaderStart,
		BodyStart:         att.BodyStart,
		BodyEnd:           att.BodyEnd,
	}, att)
	assert.Equal(t, []Address{
		{Kind: AddressMailbox, Name: "Smith, John", Mailbox: "john", Host: "example.com"},
		{Kind: AddressGroupStart, Name: "Undisclosed"},
		{Kind: AddressGroupEnd},
	}, st.Envelope.To)
}

func TestAnalyzeVariants(t *testing.T) {
	tests := []struct {
		name  string
		msg   string
		check func(t *testing.T, msg string, st *Structure)
	}{
		{
			name: "no header at all",
			msg:  "\r\nonly a body\r\n",
			check: func(t *testing.T, msg string, st *Structure) {
				assert.Equal(t, int64(2), st.BodyOffset())
				assert.Equal(t, "text", st.Root.Type)
				assert.Equal(t, int64(1), st.Root.Lines)
			},
		},
		{
			name: "header without body",
			msg:  "Subject: x\r\n",
			check: func(t *testing.T, msg string, st *Structure) {
				assert.Equal(t, int64(len(msg)), st.BodyOffset())
				assert.Equal(t, int64(0), st.Root.Size)
				assert.Equal(t, "x", st.Envelope.Subject)
			},
		},
		{
			name: "empty message",
			msg:  "",
			check: func(t *testing.T, msg string, st *Structure) {
				assert.Equal(t, int64(0), st.Root.BodyEnd)
			},
		},
		{
			name: "bare LF line ends",
			msg:  "Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\ntwo\n--b\nContent-Type: text/x-foo\n\nthree\n--b--\n",
			check: func(t *testing.T, msg string, st *Structure) {
				require.Len(t, st.Root.Children, 2)
				c := st.Root.Children[0]
				assert.Equal(t, "one\ntwo", msg[c.BodyStart:c.BodyEnd])
				assert.Equal(t, int64(2), c.Lines)
				assert.Equal(t, "x-foo", st.Root.Children[1].Subtype)
			},
		},
		{
			name: "part without header and empty part",
			msg:  crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\n\nbody\n--b\n--b--\n"),
			check: func(t *testing.T, msg string, st *Structure) {
				require.Len(t, st.Root.Children, 2)
				assert.Equal(t, "body", msg[st.Root.Children[0].BodyStart:st.Root.Children[0].BodyEnd])
				assert.Equal(t, int64(0), st.Root.Children[1].Size)
			},
		},
		{
			name: "digest parts default to message/rfc822",
			msg:  crlf("Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nfirst\n--d\nContent-Type: text/plain\n\nsecond\n--d--\n"),
			check: func(t *testing.T, msg string, st *Structure) {
				require.Len(t, st.Root.Children, 2)
				assert.True(t, st.Root.Children[0].IsMessage())
				assert.Equal(t, "one", st.Root.Children[0].Envelope.Subject)
				assert.Equal(t, "text", st.Root.Children[1].Type)
			},
		},
		{
			name: "unterminated multipart ends at end of input",
			msg:  crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\ncut short"),
			check: func(t *testing.T, msg string, st *Structure) {
				require.Len(t, st.Root.Children, 1)
				c := st.Root.Children[0]
				assert.Equal(t, "cut short", msg[c.BodyStart:c.BodyEnd])
				assert.Equal(t, int64(1), c.Lines)
			},
		},
		{
			name: "inner part ends at outer boundary",
			msg:  crlf("Content-Type: multipart/mixed; boundary=out\n\n--out\nContent-Type: multipart/alternative; boundary=in\n\n--in\n\nfirst\n--out\n\nsecond\n--out--\n"),
			check: func(t *testing.T, msg string, st *Structure) {
				require.Len(t, st.Root.Children, 2)
				alt := st.Root.Children[0]
				require.Len(t, alt.Children, 1)
				assert.Equal(t, "first", msg[alt.Children[0].BodyStart:alt.Children[0].BodyEnd])
				assert.Equal(t, "second", msg[st.Root.Children[1].BodyStart:st.Root.Children[1].BodyEnd])
			},
		},
		{
			name: "header cut short by an outer delimiter",
			msg:  crlf("Content-Type: multipart/mixed; boundary=out\n\n--out\nContent-Type: multipart/mixed; boundary=in\n\n--in\nContent-Type: text/plain\n--out--\n"),
			check: func(t *testing.T, msg string, st *Structure) {
				require.Len(t, st.Root.Children, 1)
				in := st.Root.Children[0]
				require.Len(t, in.Children, 1)
				assert.Equal(t, int64(0), in.Children[0].Size)
				assert.LessOrEqual(t, in.Children[0].BodyEnd, in.BodyEnd)
			},
		},
		{
			name: "empty body right before an outer delimiter",
			msg:  crlf("Content-Type: multipart/mixed; boundary=out\n\n--out\nContent-Type: multipart/mixed; boundary=in\n\n--in\nContent-Type: text/plain\n\n--out--\n"),
			check: func(t *testing.T, msg string, st *Structure) {
				in := st.Root.Children[0]
				require.Len(t, in.Children, 1)
				assert.Equal(t, int64(0), in.Children[0].Size)
				assert.Equal(t, int64(0), in.Children[0].Lines)
				assert.LessOrEqual(t, in.Children[0].BodyEnd, in.BodyEnd)
			},
		},
		{
			name: "encapsulated message cut short by a delimiter",
			msg:  crlf("Content-Type: multipart/mixed; boundary=out\n\n--out\nContent-Type: message/rfc822\n\nSubject: x\n--out--\n"),
			check: func(t *testing.T, msg string, st *Structure) {
				m := st.Root.Children[0]
				require.True(t, m.IsMessage())
				assert.Equal(t, "x", m.Envelope.Subject)
				assert.LessOrEqual(t, m.Message.BodyEnd, m.BodyEnd)
			},
		},
		{
			name: "base64 message/rfc822 stays opaque",
			msg:  crlf("Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nU3ViamVjdDogeAoK\n"),
			check: func(t *testing.T, msg string, st *Structure) {
				assert.False(t, st.Root.IsMessage())
				assert.Nil(t, st.Root.Message)
			},
		},
		{
			name: "boundary with transport padding and RFC 2231 parameter",
			msg:  crlf("Content-Type: multipart/mixed; boundary=\"a b\"\n\n--a b  \nContent-Type: text/plain; name*0=\"long\"; name*1=\"name.txt\"\n\nx\n--a b--\t\n"),
			check: func(t *testing.T, msg string, st *Structure) {
				require.Len(t, st.Root.Children, 1)
				v, ok := st.Root.Children[0].Param("NAME")
				assert.True(t, ok)
				assert.Equal(t, "longname.txt", v)
			},
		},
		{
			name: "boundary prefix lines are not delimiters",
			msg:  crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\n\n--bx\n---b\n--b\n\ny\n--b--\n"),
			check: func(t *testing.T, msg string, st *Structure) {
				require.Len(t, st.Root.Children, 2)
				c := st.Root.Children[0]
				assert.Equal(t, "--bx\r\n---b", msg[c.BodyStart:c.BodyEnd])
			},
		},
		{
			name: "long lines",
			msg:  crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\n\n" + strings.Repeat("x", 3*scanBufferSize) + "\n--b--\n"),
			check: func(t *testing.T, msg string, st *Structure) {
				require.Len(t, st.Root.Children, 1)
				assert.Equal(t, int64(3*scanBufferSize), st.Root.Children[0].Size)
				assert.Equal(t, int64(1), st.Root.Children[0].Lines)
			},
		},
		{
			name: "invalid content type and encoding comment",
			msg:  crlf("Content-Type: text\nContent-Transfer-Encoding: Base64 (yes)\nContent-Disposition: inline;;\n\nx\n"),
			check: func(t *testing.T, msg string, st *Structure) {
				assert.Equal(t, "plain", st.Root.Subtype)
				assert.Equal(t, "base64", st.Root.Encoding)
				assert.Equal(t, "inline", st.Root.Disposition)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := analyzeString(t, tt.msg)
			tt.check(t, tt.msg, st)
		})
	}
}

func TestAnalyzeDepthLimit(t *testing.T) {
	var b strings.Builder
	for i := 0; i < maxDepth+10; i++ {
		b.WriteString("Content-Type: message/rfc822\r\n\r\n")
	}
	b.WriteString("Subject: deep\r\n\r\nbody\r\n")
	st := analyzeString(t, b.String())
	depth := 0
	for p := st.Root; p.Message != nil; p = p.Message {
		depth++
	}
	assert.Equal(t, maxDepth, depth)
}

func TestAnalyzePartLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString("Content-Type: multipart/mixed; boundary=b\r\n\r\n")
	for i := 0; i < maxParts+50; i++ {
		b.WriteString("--b\r\n\r\nx\r\n")
	}
	b.WriteString("--b--\r\n")
	st := analyzeString(t, b.String())
	assert.Len(t, st.Root.Children, maxParts-1)
}

func TestAnalyzeReadError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader(fixturePlain), iotest.ErrReader(boom))
	_, err := Analyze(r)
	assert.ErrorIs(t, err, boom)
}

func TestAnalyzeOneByteReads(t *testing.T) {
	want := analyzeString(t, fixtureMixed)
	blob, err := Analyze(iotest.OneByteReader(strings.NewReader(fixtureMixed)))
	require.NoError(t, err)
	got, err := Decode(blob)
	require.NoError(t, err)
	// A reader that is not an io.ReaderAt cannot be read again for the
	// preview: the blob says it has none, and the rest is the same.
	assert.False(t, got.HasPreview)
	assert.True(t, want.HasPreview)
	got.Preview, got.HasPreview = want.Preview, want.HasPreview
	assert.Equal(t, want, got)
}

// TestPreview: the preview is the first text/plain part's start, decoded
// from its transfer encoding and charset, white space folded and cut at
// PreviewMax characters; HTML is stripped of markup; an attachment or a
// message without text has none.
func TestPreview(t *testing.T) {
	long := strings.Repeat("word ", 100)
	for _, tc := range []struct{ name, msg, want string }{
		{"plain", "Subject: x\r\n\r\nHello\r\n  there,\tfriend.\r\n", "Hello there, friend."},
		{"undeclared 8-bit utf-8", "Subject: x\r\n\r\nbody \xc3\xbc \xff\r\n", "body ü"},
		{"qp latin1", "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe\r\n", "Grüße"},
		{"html", "Content-Type: text/html\r\n\r\n<html><head><title>t</title></head><body><p>Hi &amp; bye</p><script>x()</script></body></html>\r\n", "Hi & bye"},
		{"multipart", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\nno\r\n--b\r\nContent-Type: text/plain\r\n\r\nyes\r\n--b--\r\n", "yes"},
		{"none", "Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0K\r\n", ""},
		{"long", "Subject: x\r\n\r\n" + long + "\r\n", strings.TrimSpace(long)[:PreviewMax]},
	} {
		st := analyzeString(t, tc.msg)
		assert.True(t, st.HasPreview, tc.name)
		assert.Equal(t, tc.want, st.Preview, tc.name)
	}
}

func TestParseAddressList(t *testing.T) {
	tests := []struct {
		in   string
		want []Address
	}{
		{"", nil},
		{"a@b.c", []Address{{Mailbox: "a", Host: "b.c"}}},
		{"John Q. Public <jqp@example.com>", []Address{{Name: "John Q. Public", Mailbox: "jqp", Host: "example.com"}}},
		{`"Doe, \"J\"" <j@d.org>, x@y`, []Address{{Name: `Doe, "J"`, Mailbox: "j", Host: "d.org"}, {Mailbox: "x", Host: "y"}}},
		{"=?UTF-8?Q?J=C3=B6rg?= <j@x>", []Address{{Name: "=?UTF-8?Q?J=C3=B6rg?=", Mailbox: "j", Host: "x"}}},
		{"j@x (Joe Bloggs)", []Address{{Name: "Joe Bloggs", Mailbox: "j", Host: "x"}}},
		{"<@r1,@r2:u@h>", []Address{{ADL: "@r1,@r2", Mailbox: "u", Host: "h"}}},
		{"first.last @ example . com", []Address{{Mailbox: "first.last", Host: "example.com"}}},
		{`"quoted local"@h`, []Address{{Mailbox: "quoted local", Host: "h"}}},
		{"u@[192.0.2.1]", []Address{{Mailbox: "u", Host: "[192.0.2.1]"}}},
		{"root", []Address{{Mailbox: "root"}}},
		{"Team: a@x, B <b@y>; c@z", []Address{
			{Kind: AddressGroupStart, Name: "Team"}, {Mailbox: "a", Host: "x"}, {Name: "B", Mailbox: "b", Host: "y"},
			{Kind: AddressGroupEnd}, {Mailbox: "c", Host: "z"},
		}},
		{"undisclosed-recipients:;", []Address{{Kind: AddressGroupStart, Name: "undisclosed-recipients"}, {Kind: AddressGroupEnd}}},
		{"Broken <unterminated@x", []Address{{Name: "Broken", Mailbox: "unterminated", Host: "x"}}},
		{",,, <>", []Address{{}}},
		{"(only a comment)", nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			assert.Equal(t, tt.want, parseAddressList(tt.in))
		})
	}
}
