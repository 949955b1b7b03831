package mailmsg

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCodecRoundTrip(t *testing.T) {
	for _, msg := range []string{fixturePlain, fixtureAlternative, fixtureMixed, fixtureMalformed, fixtureNoBoundary} {
		want, err := analyzeStructure(strings.NewReader(msg))
		require.NoError(t, err)
		got, err := Decode(encodeStructure(want))
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
}

func TestDecodeRejects(t *testing.T) {
	blob, err := Analyze(strings.NewReader(fixtureMixed))
	require.NoError(t, err)

	stale := append([]byte(nil), blob...)
	stale[2] = FormatVersion + 1
	_, err = Decode(stale)
	assert.ErrorIs(t, err, ErrStaleBlob)

	tests := map[string][]byte{
		"empty":     nil,
		"bad magic": append([]byte("XX"), blob[2:]...),
		"truncated": blob[:len(blob)/2],
		"trailing":  append(append([]byte(nil), blob...), 0),
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Decode(b)
			assert.ErrorIs(t, err, ErrCorruptBlob)
		})
	}

	// Offsets that point outside the message are refused.
	st, err := analyzeStructure(strings.NewReader(fixturePlain))
	require.NoError(t, err)
	st.Root.BodyEnd = st.Size + 10
	_, err = Decode(encodeStructure(st))
	assert.ErrorIs(t, err, ErrCorruptBlob)
}

func FuzzDecode(f *testing.F) {
	for _, msg := range []string{fixturePlain, fixtureMixed} {
		blob, err := Analyze(strings.NewReader(msg))
		require.NoError(f, err)
		f.Add(blob)
	}
	f.Fuzz(func(t *testing.T, blob []byte) {
		st, err := Decode(blob)
		if err != nil {
			return
		}
		// A structure that decodes must be usable.
		var b strings.Builder
		require.NoError(t, WriteBodyStructure(&b, st, true))
	})
}

func FuzzAnalyze(f *testing.F) {
	for _, msg := range []string{fixturePlain, fixtureMixed, fixtureMalformed, fixtureAlternative,
		"Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: multipart/mixed; boundary=i\n\n--i\nContent-Type: message/rfc822\n\n--o--\n",
	} {
		f.Add(msg)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		st := analyzeString(t, msg)
		var b strings.Builder
		require.NoError(t, WriteBodyStructure(&b, st, true))
		require.NoError(t, WriteEnvelope(&b, &st.Envelope))
		_, _, err := ExtractSection(strings.NewReader(msg), int64(len(msg)), st, Section{Part: []int{1}, Specifier: SpecifierMIME})
		require.NoError(t, err)
	})
}

// TestDecodeVersion1: blobs written before previews were kept (format
// version 1, no preview after the MIME tree) still decode, without one.
func TestDecodeVersion1(t *testing.T) {
	st := analyzeString(t, "Subject: x\r\n\r\nhello\r\n")
	require.True(t, st.HasPreview)
	st.Preview, st.HasPreview = "", false
	blob := encodeStructure(st)
	require.Equal(t, []byte{0, 0}, blob[len(blob)-2:], "no preview: a 0 flag and an empty string")
	v1 := append([]byte(nil), blob[:len(blob)-2]...)
	v1[2] = 1
	got, err := Decode(v1)
	require.NoError(t, err)
	assert.False(t, got.HasPreview)
	assert.Equal(t, st, got)
	v1[2] = 9
	_, err = Decode(v1)
	assert.ErrorIs(t, err, ErrStaleBlob)
}
