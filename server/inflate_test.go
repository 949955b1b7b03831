package server

import (
	"bytes"
	"compress/flate"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// inflateAll decodes stream with the inflater, reading with buffers of
// size n.
func inflateAll(stream []byte, n int) ([]byte, error) {
	f := newInflater(&inflateSource{nc: bytes.NewReader(stream)})
	var out []byte
	buf := make([]byte, n)
	for {
		k, err := f.Read(buf)
		out = append(out, buf[:k]...)
		if err != nil {
			return out, err
		}
	}
}

// TestInflaterMatchesFlate: the inflater decodes what compress/flate
// writes at every level (stored, fixed and dynamic blocks, long matches),
// with sync flushes between writes, read with small and large buffers.
func TestInflaterMatchesFlate(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	inputs := [][]byte{nil, []byte("a"), []byte("A1 NOOP\r\n")}
	var text bytes.Buffer
	for i := 0; text.Len() < 300<<10; i++ {
		fmt.Fprintf(&text, "line %d: %s\r\n", i, []string{"hello", "world", "the quick brown fox", "* 1 FETCH (FLAGS (\\Seen))"}[rng.Intn(4)])
	}
	inputs = append(inputs, text.Bytes())
	random := make([]byte, 100<<10)
	rng.Read(random)
	inputs = append(inputs, random, bytes.Repeat([]byte{'z'}, 70000))
	for _, level := range []int{flate.HuffmanOnly, flate.NoCompression, flate.BestSpeed, 4, flate.DefaultCompression, flate.BestCompression} {
		for i, in := range inputs {
			var stream bytes.Buffer
			fw, err := flate.NewWriter(&stream, level)
			require.NoError(t, err)
			for rest := in; len(rest) > 0; {
				k := min(len(rest), 1+rng.Intn(40000))
				fw.Write(rest[:k])
				if rng.Intn(2) == 0 {
					fw.Flush()
				}
				rest = rest[k:]
			}
			require.NoError(t, fw.Close())
			for _, n := range []int{1, 7, 4096, 1 << 20} {
				out, err := inflateAll(stream.Bytes(), n)
				assert.ErrorIs(t, err, io.EOF, "level %d input %d buffer %d", level, i, n)
				assert.True(t, bytes.Equal(in, out), "level %d input %d buffer %d: %d bytes in, %d out", level, i, n, len(in), len(out))
			}
		}
	}
}

// TestInflaterPartialFlush: a command that a zlib client flushed with
// Z_PARTIAL_FLUSH (these are the bytes isync sent for "3 NAMESPACE") is
// handed out at once, although the empty block that ends it is not
// complete until the client's next bytes; compress/flate would wait for
// them.
func TestInflaterPartialFlush(t *testing.T) {
	stream, err := hex.DecodeString("3256f073f4750d0e707476e5e50208")
	require.NoError(t, err)
	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write(stream)
	f := newInflater(&inflateSource{nc: pr})
	got := make(chan string, 1)
	go func() {
		buf := make([]byte, 64)
		n, _ := f.Read(buf)
		got <- string(buf[:n])
	}()
	select {
	case s := <-got:
		assert.Equal(t, "3 NAMESPACE\r\n", s)
	case <-time.After(5 * time.Second):
		t.Fatal("the command waits in the decompressor")
	}
}

// TestInflaterCorrupt: input that breaks RFC 1951 is a corruptInput error,
// after the bytes decoded before it.
func TestInflaterCorrupt(t *testing.T) {
	for name, stream := range map[string][]byte{
		"reserved block type": {0xff},
		"stored length check": {0x00, 0x05, 0x00, 0x00, 0x00},
		"distance too far":    fixedBlock(0x61, 257, 2), // a literal, then a match 3 back
		"distance code 30":    fixedBlock(0x61, 257, 30),
	} {
		_, err := inflateAll(stream, 64)
		var c corruptInput
		assert.ErrorAs(t, err, &c, name)
	}
}

// fixedBlock writes a final fixed-code block (RFC 1951 3.2.6) of one
// literal, one length code with a distance code (no extra bits), and the
// end of the block.
func fixedBlock(lit, length, dist int) []byte {
	var out []byte
	var acc uint32
	var n uint
	bits := func(v uint32, k uint) { // least significant first
		acc |= v << n
		n += k
		for n >= 8 {
			out = append(out, byte(acc))
			acc >>= 8
			n -= 8
		}
	}
	code := func(c uint32, k uint) { // Huffman codes go most significant first
		for i := int(k) - 1; i >= 0; i-- {
			bits((c>>uint(i))&1, 1)
		}
	}
	bits(1, 1) // BFINAL
	bits(1, 2) // fixed codes
	code(uint32(0x30+lit), 8)
	code(uint32(length-256), 7)
	code(uint32(dist), 5)
	code(0, 7) // end of block
	bits(0, 7)
	return out
}

// FuzzInflater: whatever compress/flate writes, the inflater decodes to
// the same bytes.
func FuzzInflater(f *testing.F) {
	f.Add([]byte("A1 LOGIN user secret\r\nA2 SELECT INBOX\r\n"), 6)
	f.Add(bytes.Repeat([]byte("abc"), 1000), 1)
	f.Fuzz(func(t *testing.T, in []byte, level int) {
		level = level%11 - 2
		var stream bytes.Buffer
		fw, err := flate.NewWriter(&stream, level)
		if err != nil {
			t.Skip()
		}
		fw.Write(in)
		fw.Flush()
		fw.Write(in)
		fw.Close()
		out, err := inflateAll(stream.Bytes(), 100)
		require.ErrorIs(t, err, io.EOF)
		require.True(t, bytes.Equal(append(append([]byte{}, in...), in...), out), "%d bytes in twice, %d out", len(in), len(out))
	})
}
