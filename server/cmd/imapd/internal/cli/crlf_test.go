package cli

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestToCRLF checks the in-memory conversion against the streaming
// crlfReader, on fixed and random inputs of CR, LF and text.
func TestToCRLF(t *testing.T) {
	inputs := []string{"", "a", "\n", "\r", "\r\n", "a\nb", "a\r\nb\n", "\n\n\r\r\n", "x\r", "\r\r\n\n"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = "ab\r\n"[r.IntN(4)]
		}
		inputs = append(inputs, string(b))
	}
	for _, in := range inputs {
		want, err := io.ReadAll(newCRLFReader(bytes.NewReader([]byte(in))))
		require.NoError(t, err)
		assert.Equal(t, string(want), string(toCRLF([]byte(in))), "%q", in)
	}
	// Mutant: a conversion that also doubles CRLF's CR is caught.
	mutant := bytes.ReplaceAll([]byte("a\r\nb"), []byte("\n"), []byte("\r\n"))
	want, _ := io.ReadAll(newCRLFReader(bytes.NewReader([]byte("a\r\nb"))))
	assert.NotEqual(t, string(want), string(mutant))
}
