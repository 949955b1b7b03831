package mailmsg

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppendIMAPString(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"plain", "hello", `"hello"`},
		{"empty", "", `""`},
		{"quote and backslash", `a "b" \c`, `"a \"b\" \\c"`},
		{"CRLF needs literal", "a\r\nb", "{4}\r\na\r\nb"},
		{"NUL needs literal", "a\x00b", "{3}\r\na\x00b"},
		{"8-bit needs literal", "Grüße", "{7}\r\nGrüße"},
		{"long needs literal", strings.Repeat("x", maxQuotedLen+1), "{1025}\r\n" + strings.Repeat("x", maxQuotedLen+1)},
		{"longest quoted", strings.Repeat("y", maxQuotedLen), `"` + strings.Repeat("y", maxQuotedLen) + `"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, string(appendIMAPString(nil, tt.in)))
		})
	}
	assert.Equal(t, "NIL", string(appendNString(nil, "")))
	assert.Equal(t, `"x"`, string(appendNString(nil, "x")))
}

// The golden strings below were checked by hand against the ENVELOPE and
// BODYSTRUCTURE grammar and examples of RFC 9051 7.5.2; the sizes and line
// counts were counted on the fixtures.
func TestWriteGolden(t *testing.T) {
	tests := []struct {
		name     string
		msg      string
		envelope string
		body     string
		bodyExt  string
	}{
		{
			name: "RFC 9051 example message",
			msg:  fixturePlain,
			envelope: `("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev2 WG mtg summary and minutes" ` +
				`(("Terry Gray" NIL "gray" "cac.washington.edu")) ` +
				`(("Terry Gray" NIL "gray" "cac.washington.edu")) ` +
				`(("Terry Gray" NIL "gray" "cac.washington.edu")) ` +
				`((NIL NIL "imap" "cac.washington.edu")) ` +
				`((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU")) ` +
				`NIL NIL "<B27397-0100000@cac.washington.edu>")`,
			body:    `("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 40 2)`,
			bodyExt: `("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 40 2 NIL NIL NIL NIL)`,
		},
		{
			name: "multipart/alternative with folded fields",
			msg:  fixtureAlternative,
			envelope: `("Tue, 1 Apr 2025 10:00:00 +0200" "A folded subject line" ` +
				`(("Alice" NIL "alice" "example.org")) (("Alice" NIL "alice" "example.org")) (("Alice" NIL "alice" "example.org")) ` +
				`(("Bob" NIL "bob" "example.com")("Carol" NIL "carol" "example.com")) NIL NIL NIL "<alt@example.org>")`,
			body: `(("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" 10 1)` +
				`("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "7BIT" 16 1) "ALTERNATIVE")`,
			bodyExt: `(("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" 10 1 NIL NIL NIL NIL)` +
				`("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "7BIT" 16 1 NIL NIL NIL NIL) "ALTERNATIVE" ("BOUNDARY" "b1") NIL NIL NIL)`,
		},
		{
			name: "multipart/mixed with attachment and nested message",
			msg:  fixtureMixed,
			envelope: `("Mon, 7 Feb 1994 21:52:25 -0800 (PST)" "=?ISO-8859-1?Q?Gr=FC=DFe?= aus Berlin" ` +
				`(("=?UTF-8?B?SsO2cmc=?=" NIL "joerg" "example.org")) ` +
				`(("=?UTF-8?B?SsO2cmc=?=" NIL "joerg" "example.org")) ` +
				`(("=?UTF-8?B?SsO2cmc=?=" NIL "joerg" "example.org")) ` +
				`(("Smith, John" NIL "john" "example.com")(NIL NIL "Undisclosed" NIL)(NIL NIL NIL NIL)) ` +
				`NIL NIL NIL "<m1@example.org>")`,
			body: `(("TEXT" "PLAIN" ("CHARSET" "iso-8859-1") NIL NIL "QUOTED-PRINTABLE" 34 1)` +
				`("APPLICATION" "OCTET-STREAM" ("NAME" "data.bin") "<att1@example.org>" "some data" "BASE64" 16)` +
				`("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 220 ` +
				`(NIL "inner subject" ((NIL NIL "inner" "example.net")) ((NIL NIL "inner" "example.net")) ((NIL NIL "inner" "example.net")) NIL NIL NIL NIL NIL) ` +
				`(("TEXT" "PLAIN" NIL NIL NIL "7BIT" 11 1)("TEXT" "HTML" NIL NIL NIL "7BIT" 17 1) "ALTERNATIVE") 13) "MIXED")`,
			bodyExt: `(("TEXT" "PLAIN" ("CHARSET" "iso-8859-1") NIL NIL "QUOTED-PRINTABLE" 34 1 NIL NIL NIL NIL)` +
				`("APPLICATION" "OCTET-STREAM" ("NAME" "data.bin") "<att1@example.org>" "some data" "BASE64" 16 NIL ("ATTACHMENT" ("FILENAME" "data.bin")) ("de" "en") NIL)` +
				`("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 220 ` +
				`(NIL "inner subject" ((NIL NIL "inner" "example.net")) ((NIL NIL "inner" "example.net")) ((NIL NIL "inner" "example.net")) NIL NIL NIL NIL NIL) ` +
				`(("TEXT" "PLAIN" NIL NIL NIL "7BIT" 11 1 NIL NIL NIL NIL)("TEXT" "HTML" NIL NIL NIL "7BIT" 17 1 NIL NIL NIL NIL) "ALTERNATIVE" ("BOUNDARY" "inner") NIL NIL NIL) 13 NIL NIL NIL NIL)` +
				` "MIXED" ("BOUNDARY" "outer") NIL NIL NIL)`,
		},
		{
			name:     "malformed header falls back to text/plain",
			msg:      fixtureMalformed,
			envelope: `(NIL "still parsed" ((NIL NIL "x" "example.com")) ((NIL NIL "x" "example.com")) ((NIL NIL "x" "example.com")) NIL NIL NIL NIL NIL)`,
			body:     `("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 11 1)`,
			bodyExt:  `("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 11 1 NIL NIL NIL NIL)`,
		},
		{
			name:     "multipart without any delimiter",
			msg:      fixtureNoBoundary,
			envelope: `(NIL "broken" NIL NIL NIL NIL NIL NIL NIL NIL)`,
			body:     `("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 11 1)`,
			bodyExt:  `("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 11 1 NIL NIL NIL NIL)`,
		},
		{
			name:     "multipart without boundary parameter",
			msg:      fixtureNoBoundaryParam,
			envelope: `(NIL "broken" NIL NIL NIL NIL NIL NIL NIL NIL)`,
			body:     `("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 11 1)`,
			bodyExt:  `("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 11 1 NIL NIL NIL NIL)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := analyzeString(t, tt.msg)
			var b bytes.Buffer
			require.NoError(t, WriteEnvelope(&b, &st.Envelope))
			assert.Equal(t, tt.envelope, b.String())
			b.Reset()
			require.NoError(t, WriteBodyStructure(&b, st, false))
			assert.Equal(t, tt.body, b.String())
			b.Reset()
			require.NoError(t, WriteBodyStructure(&b, st, true))
			assert.Equal(t, tt.bodyExt, b.String())
		})
	}
}

func TestWriteEnvelopeDefaultsAndLiterals(t *testing.T) {
	env := &Envelope{
		Subject: "Grüße\r\nx",
		From:    []Address{{Name: `Dr. "Who"`, ADL: "@relay", Mailbox: "who", Host: "tardis.example"}},
		Sender:  []Address{{Mailbox: "s", Host: "example.com"}},
		To:      []Address{{Mailbox: "nodomain"}},
	}
	var b bytes.Buffer
	require.NoError(t, WriteEnvelope(&b, env))
	want := "(NIL {10}\r\nGrüße\r\nx " +
		`(("Dr. \"Who\"" "@relay" "who" "tardis.example")) ` +
		`((NIL NIL "s" "example.com")) ` +
		`(("Dr. \"Who\"" "@relay" "who" "tardis.example")) ` +
		`((NIL NIL "nodomain" "")) NIL NIL NIL NIL)`
	assert.Equal(t, want, b.String())

	b.Reset()
	require.NoError(t, WriteEnvelope(&b, nil))
	assert.Equal(t, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)", b.String())
}

func TestWriteBodyStructureExtensionFields(t *testing.T) {
	st := &Structure{Root: &Part{
		Type: "multipart", Subtype: "related",
		Params:      []Param{{Name: "boundary", Value: "x"}, {Name: "type", Value: "text/html"}},
		Disposition: "inline",
		Language:    []string{"en"},
		Location:    "http://example.com/",
		Children: []*Part{{
			Type: "image", Subtype: "png", Encoding: "base64", Size: 4,
			MD5:         "Q2hlY2sgSW50ZWdyaXR5IQ==",
			Disposition: "inline", DispositionParams: []Param{{Name: "filename", Value: "a.png"}},
		}},
	}}
	var b bytes.Buffer
	require.NoError(t, WriteBodyStructure(&b, st, true))
	assert.Equal(t, `(("IMAGE" "PNG" NIL NIL NIL "BASE64" 4 "Q2hlY2sgSW50ZWdyaXR5IQ==" ("INLINE" ("FILENAME" "a.png")) NIL NIL)`+
		` "RELATED" ("BOUNDARY" "x" "TYPE" "text/html") ("INLINE" NIL) "en" "http://example.com/")`, b.String())
}
