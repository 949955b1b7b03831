package mailmsg

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

// foldReference is the plain definition foldSpace must match.
func foldReference(text string, max int) string {
	text = strings.Join(strings.Fields(text), " ")
	if utf8.RuneCountInString(text) > max {
		text = string([]rune(text)[:max])
	}
	return text
}

// TestFoldSpace checks foldSpace against its definition on random texts of
// letters, multi-byte characters and white space, at several limits.
func TestFoldSpace(t *testing.T) {
	alphabet := []string{"a", "b", " ", "\t", "\r\n", "é", "\u00a0", "\u2003", "日"}
	r := rand.New(rand.NewPCG(3, 4))
	for range 3000 {
		var b strings.Builder
		for range r.IntN(30) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		for _, max := range []int{1, 2, 5, 200} {
			assert.Equal(t, foldReference(b.String(), max), foldSpace(b.String(), max), "%q at %d", b.String(), max)
		}
	}
	// Mutant: not trimming the leading white space is caught.
	assert.NotEqual(t, foldReference(" a", 5), " a")
}
