package mailmsg

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMatchHeader(t *testing.T) {
	tests := []struct {
		msg, field, sub string
		want            bool
	}{
		{fixtureMixed, "subject", "grüße", true}, // ISO-8859-1 encoded-word, case folded
		{fixtureMixed, "SUBJECT", "GRÜSSE", false},
		{fixtureMixed, "Subject", "aus berlin", true},
		{fixtureMixed, "From", "jörg", true}, // UTF-8 encoded-word in a display name
		{fixtureMixed, "From", "example.org", true},
		{fixtureMixed, "Subject", "=?ISO", false}, // matched after decoding
		{fixtureMixed, "X-Missing", "", false},
		{fixtureMixed, "Message-ID", "", true}, // empty string: field present
		{fixtureAlternative, "subject", "folded subject", true},
		{fixtureAlternative, "to", "carol", true},
		{fixturePlain, "Subject", "nothing like this", false},
		{fixtureMalformed, "subject", "STILL", true},
	}
	for _, tt := range tests {
		t.Run(tt.field+"/"+tt.sub, func(t *testing.T) {
			st := analyzeString(t, tt.msg)
			got, err := MatchHeader(strings.NewReader(tt.msg), st, tt.field, tt.sub)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestMatchAddress(t *testing.T) {
	st := analyzeString(t, fixtureMixed)
	tests := []struct {
		field, sub string
		want       bool
	}{
		{"from", "jörg", true},
		{"FROM", "JOERG@EXAMPLE", true},
		{"from", "jörg <joerg@", true},
		{"to", "smith, john", true},
		{"to", "undisclosed", true},
		{"to", "nobody", false},
		{"cc", "", false},
		{"to", "", true},
		{"reply-to", "joerg", false}, // the header itself is absent
		{"bogus", "x", false},
	}
	for _, tt := range tests {
		t.Run(tt.field+"/"+tt.sub, func(t *testing.T) {
			assert.Equal(t, tt.want, MatchAddress(st, tt.field, tt.sub))
		})
	}
	assert.False(t, MatchAddress(nil, "from", ""))
}

func TestMatchBody(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		sub  string
		want bool
	}{
		{"quoted-printable ISO-8859-1", fixtureMixed, "schöne grüße vom müggelsee", true},
		{"case folded", fixtureMixed, "SCHÖNE", true},
		{"encoded form does not match", fixtureMixed, "Sch=F6ne", false},
		{"base64 attachment is not text", fixtureMixed, "AAECAw", false},
		{"nested text part", fixtureMixed, "INNER HTML", true},
		{"nested message header", fixtureMixed, "inner subject", true},
		{"top header is not body", fixtureMixed, "aus berlin", false},
		{"preamble is not a part", fixtureMixed, "preamble", false},
		{"plain", fixturePlain, "second LINE", true},
		{"no match", fixturePlain, "absent", false},
		{"empty string", fixturePlain, "", true},
		{"match must not span parts", fixtureAlternative, "body<p>", false},
		{"kelvin sign folds to k", crlf("Content-Type: text/plain; charset=utf-8\n\n\u212Aelvin\n"), "kelvin", true},
		{"base64 utf-8 text", crlf("Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\nw6lsw6h2ZQ==\n"), "ÉLÈVE", true},
		{"unknown charset matched raw", crlf("Content-Type: text/plain; charset=x-unknown\n\nraw words\n"), "RAW", true},
		{"unknown encoding matched raw", crlf("Content-Type: text/plain\nContent-Transfer-Encoding: x-foo\n\nraw words\n"), "words", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := analyzeString(t, tt.msg)
			got, err := MatchBody(strings.NewReader(tt.msg), st, tt.sub)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestMatchText(t *testing.T) {
	st := analyzeString(t, fixtureMixed)
	for sub, want := range map[string]bool{
		"aus berlin":   true, // header
		"message-id:":  true, // field name
		"müggelsee":    true, // body
		"not anywhere": false,
	} {
		got, err := MatchText(strings.NewReader(fixtureMixed), st, sub)
		require.NoError(t, err)
		assert.Equal(t, want, got, sub)
	}
}

// failingReaderAt fails every read.
type failingReaderAt struct{}

func (failingReaderAt) ReadAt([]byte, int64) (int, error) { return 0, errors.New("disk on fire") }

func TestMatchStorageErrors(t *testing.T) {
	st := analyzeString(t, fixtureMixed)
	_, err := MatchBody(failingReaderAt{}, st, "x")
	assert.Error(t, err)
	_, err = MatchHeader(failingReaderAt{}, st, "Subject", "x")
	assert.Error(t, err)
	_, err = MatchText(failingReaderAt{}, st, "x")
	assert.Error(t, err)
	_, err = MatchBody(strings.NewReader(fixtureMixed), nil, "x")
	assert.Error(t, err)
}

func TestFoldMatcherStreaming(t *testing.T) {
	// A long text read one byte at a time: the match straddles every
	// buffer boundary and multi-byte runes are split across reads.
	text := strings.Repeat("ääbä", 20000) + "ÄÄBÄÄC" + strings.Repeat("x", 100)
	m := newFoldMatcher("ääbääc")
	found, err := m.matchReader(iotest.OneByteReader(strings.NewReader(text)))
	require.NoError(t, err)
	assert.True(t, found)

	found, err = newFoldMatcher("ääbääd").matchReader(strings.NewReader(text))
	require.NoError(t, err)
	assert.False(t, found)

	// KMP must fall back correctly on partial overlaps.
	assert.True(t, newFoldMatcher("aab").matchString("aaab"))
	assert.True(t, newFoldMatcher("abab").matchString("abaabab"))
	assert.False(t, newFoldMatcher("abab").matchString("abaaba"))
}

func TestMatchBodyLarge(t *testing.T) {
	body := strings.Repeat("lorem ipsum dolor sit amet\r\n", 200000) // ~5.6 MB
	msg := crlf("Content-Type: text/plain\n\n") + body + "NEEDLE\r\n"
	st := analyzeString(t, msg)
	got, err := MatchBody(strings.NewReader(msg), st, "needle")
	require.NoError(t, err)
	assert.True(t, got)
}

func TestSentDate(t *testing.T) {
	pdt := time.FixedZone("", -7*3600)
	tests := []struct {
		date string
		want time.Time
		ok   bool
	}{
		{"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)", time.Date(1996, 7, 17, 2, 23, 25, 0, pdt), true},
		{"17 Jul 1996 02:23:25 -0700", time.Date(1996, 7, 17, 2, 23, 25, 0, pdt), true},
		{"Wed, 17 Jul 1996 02:23 -0700", time.Date(1996, 7, 17, 2, 23, 0, 0, pdt), true},
		{"Wed,  17  Jul 1996 02:23:25 -0700 (a comment)", time.Date(1996, 7, 17, 2, 23, 25, 0, pdt), true},
		{"", time.Time{}, false},
		{"yesterday", time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.date, func(t *testing.T) {
			got, ok := SentDate(&Structure{Envelope: Envelope{Date: tt.date}})
			require.Equal(t, tt.ok, ok)
			if ok {
				assert.True(t, tt.want.Equal(got), "got %v", got)
				_, off := got.Zone()
				assert.Equal(t, -7*3600, off, "zone of the header must be kept")
				assert.Equal(t, 17, got.Day())
			}
		})
	}
	_, ok := SentDate(nil)
	assert.False(t, ok)
}

var _ io.ReaderAt = failingReaderAt{}
