package mailmsg

import (
	"bytes"
	"encoding/base64"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseSection(t *testing.T) {
	tests := []struct {
		in   string
		want Section
		rest string
	}{
		{in: "]", want: Section{}},
		{in: "]<0.100>", want: Section{Partial: &Partial{Origin: 0, Length: 100}}},
		{in: "TEXT]", want: Section{Specifier: SpecifierText}},
		{in: "header] rest", want: Section{Specifier: SpecifierHeader}, rest: " rest"},
		{in: "3.MIME]", want: Section{Part: []int{3}, Specifier: SpecifierMIME}},
		{in: "1.2.3]", want: Section{Part: []int{1, 2, 3}}},
		{in: "4.2.TEXT]<5.10> X", want: Section{Part: []int{4, 2}, Specifier: SpecifierText, Partial: &Partial{Origin: 5, Length: 10}}, rest: " X"},
		{
			in:   "1.2.HEADER.FIELDS (Subject From)]<0.100>",
			want: Section{Part: []int{1, 2}, Specifier: SpecifierHeaderFields, Fields: []string{"Subject", "From"}, Partial: &Partial{Origin: 0, Length: 100}},
		},
		{
			in:   "HEADER.FIELDS.NOT (\"X-Foo\" {5}\r\nX-Bar Date)]",
			want: Section{Specifier: SpecifierHeaderFieldsNot, Fields: []string{"X-Foo", "X-Bar", "Date"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, rest, err := ParseSection(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.rest, rest)
		})
	}
}

func TestParseSectionErrors(t *testing.T) {
	for _, in := range []string{
		"", "MIME]", "0]", "1.]", "1..2]", "1.2X]", "1HEADER]", "FOO]", "HEADER.FIELDS]",
		"HEADER.FIELDS ()]", "HEADER.FIELDS(a)]", "HEADER.FIELDS (a b", "1", "1]<5>", "1]<5.0>",
		"1]<5.10", "1]<a.10>", "99999999999]", "HEADER.FIELDS (\"a)]", "HEADER.FIELDS ({9}\r\nab)]",
	} {
		t.Run(in, func(t *testing.T) {
			_, _, err := ParseSection(in)
			assert.ErrorIs(t, err, ErrBadSection)
		})
	}
}

func TestSectionString(t *testing.T) {
	tests := []struct {
		sec  Section
		want string
	}{
		{Section{}, ""},
		{Section{Specifier: SpecifierHeader}, "HEADER"},
		{Section{Part: []int{1, 2}}, "1.2"},
		{Section{Part: []int{3}, Specifier: SpecifierMIME, Partial: &Partial{1, 2}}, "3.MIME"},
		{Section{Part: []int{4}, Specifier: SpecifierHeaderFields, Fields: []string{"Subject", "X Y"}}, `4.HEADER.FIELDS (Subject "X Y")`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.sec.String())
			if tt.want != "" {
				back, _, err := ParseSection(tt.want + "]")
				require.NoError(t, err)
				back.Partial = tt.sec.Partial
				assert.Equal(t, tt.sec, back)
			}
		})
	}
}

// between returns the text of msg from the first occurrence of from up to
// and including the first following occurrence of to.
func between(t *testing.T, msg, from, to string) string {
	t.Helper()
	i := strings.Index(msg, from)
	require.GreaterOrEqual(t, i, 0, "fixture lacks %q", from)
	j := strings.Index(msg[i:], to)
	require.GreaterOrEqual(t, j, 0, "fixture lacks %q", to)
	return msg[i : i+j+len(to)]
}

func extract(t *testing.T, msg string, st *Structure, sec Section) string {
	t.Helper()
	r, n, err := ExtractSection(strings.NewReader(msg), int64(len(msg)), st, sec)
	require.NoError(t, err)
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	require.Equal(t, n, int64(len(b)), "announced size differs from octets delivered")
	return string(b)
}

func mustSection(t *testing.T, s string) Section {
	t.Helper()
	sec, rest, err := ParseSection(s)
	require.NoError(t, err)
	require.Empty(t, rest)
	return sec
}

func TestExtractSectionMixed(t *testing.T) {
	msg := fixtureMixed
	st := analyzeString(t, msg)
	inner := between(t, msg, "From: inner@", "--inner--\r\n")
	tests := []struct {
		section string
		want    string
	}{
		{"]", msg},
		{"HEADER]", msg[:strings.Index(msg, "\r\n\r\n")+4]},
		{"TEXT]", msg[strings.Index(msg, "\r\n\r\n")+4:]},
		{"1]", "Sch=F6ne Gr=FC=DFe vom M=FCggelsee"},
		{"1.MIME]", "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"},
		{"2]", "AAECAwQFBgcICQ=="},
		{"3]", inner},
		{"3.HEADER]", "From: inner@example.net\r\nSubject: inner subject\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n"},
		{"3.TEXT]", between(t, inner, "--inner\r\n", "--inner--\r\n")},
		{"3.1]", "inner plain"},
		{"3.2]", "<p>inner html</p>"},
		{"3.2.MIME]", "Content-Type: text/html\r\n\r\n"},
		{"3.HEADER.FIELDS (SUBJECT)]", "Subject: inner subject\r\n\r\n"},
		{"3.MIME]", "Content-Type: message/rfc822\r\n\r\n"},
		{"HEADER.FIELDS (to SUBJECT)]", "To: \"Smith, John\" <john@example.com>, Undisclosed: ;\r\nSubject: =?ISO-8859-1?Q?Gr=FC=DFe?= aus Berlin\r\n\r\n"},
		{"HEADER.FIELDS.NOT (From To Subject Date Message-ID MIME-Version)]", "Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"},
		{"HEADER.FIELDS (X-Absent)]", "\r\n"},
		// Nonexistent parts and specifiers that need a message part.
		{"4]", ""},
		{"1.1]", ""},
		{"3.3]", ""},
		{"2.HEADER]", ""},
		{"2.TEXT]", ""},
		{"3.1.1]", ""},
		// Partials.
		{"]<0.4>", "From"},
		{"1]<3.4>", "=F6n"},
		{"1]<30.100>", "lsee"},
		{"1]<34.1>", ""},
		{"1]<1000.10>", ""},
		{"3.HEADER.FIELDS (SUBJECT)]<9.5>", "inner"},
	}
	for _, tt := range tests {
		t.Run(tt.section, func(t *testing.T) {
			assert.Equal(t, tt.want, extract(t, msg, st, mustSection(t, tt.section)))
		})
	}
}

func TestExtractSectionSinglePart(t *testing.T) {
	msg := fixturePlain
	st := analyzeString(t, msg)
	hdrEnd := strings.Index(msg, "\r\n\r\n") + 4
	body := msg[hdrEnd:]
	tests := []struct {
		name string
		sec  Section
		want string
	}{
		{"RFC822", RFC822Section(), msg},
		{"RFC822.HEADER", RFC822HeaderSection(), msg[:hdrEnd]},
		{"RFC822.TEXT", RFC822TextSection(), body},
		{"part 1 is the body", mustSection(t, "1]"), body},
		{"part 1 MIME header is the message header", mustSection(t, "1.MIME]"), msg[:hdrEnd]},
		{"part 2 does not exist", mustSection(t, "2]"), ""},
		{"part 1.1 does not exist", mustSection(t, "1.1]"), ""},
		{"folded field kept as is", mustSection(t, "HEADER.FIELDS (Cc)]"), "Cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, extract(t, msg, st, tt.sec))
		})
	}

	alt := fixtureAlternative
	st = analyzeString(t, alt)
	assert.Equal(t, "To: Bob <bob@example.com>,\r\n Carol <carol@example.com>\r\nSubject: A folded\r\n\tsubject line\r\n\r\n",
		extract(t, alt, st, mustSection(t, "HEADER.FIELDS (Subject To)]")))
	assert.Equal(t, "Plain body", extract(t, alt, st, mustSection(t, "1]")))
	assert.Equal(t, "<p>HTML body</p>", extract(t, alt, st, mustSection(t, "2]")))
}

func TestExtractSectionTopLevelMessage(t *testing.T) {
	inner := crlf("Subject: inside\n\nhello\n")
	msg := crlf("Subject: outside\nContent-Type: message/rfc822\n\n") + inner
	st := analyzeString(t, msg)
	assert.Equal(t, inner, extract(t, msg, st, mustSection(t, "1]")))
	assert.Equal(t, "Subject: inside\r\n\r\n", extract(t, msg, st, mustSection(t, "1.HEADER]")))
	assert.Equal(t, "hello\r\n", extract(t, msg, st, mustSection(t, "1.TEXT]")))
	assert.Equal(t, "hello\r\n", extract(t, msg, st, mustSection(t, "1.1]")))
}

func TestExtractSectionErrors(t *testing.T) {
	st := analyzeString(t, fixturePlain)
	_, _, err := ExtractSection(strings.NewReader(fixturePlain), int64(len(fixturePlain)), st, Section{Specifier: SpecifierMIME})
	assert.ErrorIs(t, err, ErrBadSection)
	_, _, err = ExtractSection(strings.NewReader(fixturePlain), int64(len(fixturePlain)), nil, Section{})
	assert.Error(t, err)
	// A raw message shorter than the structure says fails on HEADER.FIELDS.
	_, _, err = ExtractSection(strings.NewReader("Date"), int64(len(fixturePlain)), st, mustSection(t, "HEADER.FIELDS (Date)]"))
	assert.Error(t, err)
}

func extractBinary(t *testing.T, msg string, st *Structure, sec Section) []byte {
	t.Helper()
	r, n, err := ExtractBinary(strings.NewReader(msg), int64(len(msg)), st, sec)
	require.NoError(t, err)
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	require.Equal(t, n, int64(len(b)))
	size, err := BinarySize(strings.NewReader(msg), int64(len(msg)), st, sec.Part)
	require.NoError(t, err)
	if sec.Partial == nil {
		require.Equal(t, size, n, "BINARY.SIZE differs from BINARY")
	}
	return b
}

func TestExtractBinary(t *testing.T) {
	msg := fixtureMixed
	st := analyzeString(t, msg)
	tests := []struct {
		section string
		want    string
	}{
		{"1]", "Sch\xf6ne Gr\xfc\xdfe vom M\xfcggelsee"},
		{"2]", "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09"},
		{"2]<2.3>", "\x02\x03\x04"},
		{"2]<20.3>", ""},
		{"3]", between(t, msg, "From: inner@", "--inner--\r\n")},
		{"3.1]", "inner plain"},
		{"]", msg},
		{"7]", ""},
	}
	for _, tt := range tests {
		t.Run(tt.section, func(t *testing.T) {
			assert.Equal(t, tt.want, string(extractBinary(t, msg, st, mustSection(t, tt.section))))
		})
	}

	_, _, err := ExtractBinary(strings.NewReader(msg), int64(len(msg)), st, mustSection(t, "3.HEADER]"))
	assert.ErrorIs(t, err, ErrBadSection)
}

func TestExtractBinaryUnknownCTE(t *testing.T) {
	msg := crlf("Content-Type: application/octet-stream\nContent-Transfer-Encoding: x-uuencode\n\nbegin 644 x\n")
	st := analyzeString(t, msg)
	_, _, err := ExtractBinary(strings.NewReader(msg), int64(len(msg)), st, mustSection(t, "1]"))
	assert.ErrorIs(t, err, ErrUnknownCTE)
	_, err = BinarySize(strings.NewReader(msg), int64(len(msg)), st, []int{1})
	assert.ErrorIs(t, err, ErrUnknownCTE)
	// BODY[] still works: only BINARY needs to decode.
	assert.Equal(t, "begin 644 x\r\n", extract(t, msg, st, mustSection(t, "1]")))
}

func TestExtractBinaryLargeStreaming(t *testing.T) {
	data := make([]byte, binaryBufferLimit+12345)
	for i := range data {
		data[i] = byte(i * 7)
	}
	enc := base64.StdEncoding.EncodeToString(data)
	var body strings.Builder
	for len(enc) > 76 {
		body.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	body.WriteString(enc + "\r\n")
	msg := crlf("Content-Type: multipart/mixed; boundary=zz\n\n--zz\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: BASE64\n\n") +
		body.String() + crlf("--zz--\n")
	st := analyzeString(t, msg)
	got := extractBinary(t, msg, st, mustSection(t, "1]"))
	assert.True(t, bytes.Equal(data, got), "decoded attachment differs")
	got = extractBinary(t, msg, st, mustSection(t, "1]<1048000.1000>"))
	assert.True(t, bytes.Equal(data[1048000:1049000], got), "decoded partial differs")
}
