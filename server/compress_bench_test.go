package server

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// deflatePayloads are the server's writes of three typical exchanges, as
// the encoder hands them over: a FETCH of envelopes (16 KiB buffers), a
// large text body (32 KiB copies) and status lines, one per write.
func deflatePayloads() map[string][][]byte {
	var env bytes.Buffer
	for i := 1; env.Len() < 256<<10; i++ {
		fmt.Fprintf(&env, "* %d FETCH (UID %d FLAGS (\\Seen) ENVELOPE (\"Mon, 7 Dec 2026 10:%02d:00 +0000\" \"Re: weekly report %d\" "+
			"((\"Alice Example\" NIL \"alice\" \"example.org\")) NIL NIL ((\"Bob\" NIL \"bob\" \"example.com\")) NIL NIL NIL \"<m%d@example.org>\"))\r\n",
			i, 1000+i, i%60, i%17, i*7919)
	}
	var body bytes.Buffer
	for i := 0; body.Len() < 1<<20; i++ {
		fmt.Fprintf(&body, "line %d of a long message: the quick brown fox jumps over the lazy dog %x\r\n", i, i*2654435761)
	}
	chunks := func(b []byte, n int) [][]byte {
		var out [][]byte
		for len(b) > 0 {
			k := min(n, len(b))
			out = append(out, b[:k])
			b = b[k:]
		}
		return out
	}
	var status [][]byte
	for i := range 256 {
		status = append(status, fmt.Appendf(nil, "A%d OK NOOP completed\r\n", i))
	}
	return map[string][][]byte{
		"envelopes": chunks(env.Bytes(), 16<<10),
		"body":      chunks(body.Bytes(), 32<<10),
		"status":    status,
	}
}

// BenchmarkDeflateWriter compares the server's compression (deflateWriter:
// a pooled compressor per write at BestSpeed, a stored block under
// storedBelow bytes) with a pooled compressor at BestSpeed and at the
// default level for every write, and with one compressor kept for the
// whole stream (what a connection holding its own compressor gets), on
// throughput and on the compressed size (out/in).
func BenchmarkDeflateWriter(b *testing.B) {
	payloads := deflatePayloads()
	for _, name := range []string{"envelopes", "body", "status"} {
		writes := payloads[name]
		total := 0
		for _, w := range writes {
			total += len(w)
		}
		pooled := func(level int) func(out *bytes.Buffer) {
			dp := newDeflatePool(level)
			return func(out *bytes.Buffer) {
				for _, w := range writes {
					dp.deflate(out, w)
				}
			}
		}
		stream := func(out *bytes.Buffer) {
			fw, _ := flate.NewWriter(out, flate.DefaultCompression)
			for _, w := range writes {
				fw.Write(w)
				fw.Flush()
			}
		}
		for _, v := range []struct {
			name string
			run  func(out *bytes.Buffer)
		}{
			{"server", func(out *bytes.Buffer) {
				w := deflateWriter{next: out}
				for _, p := range writes {
					w.Write(p)
				}
			}},
			{"pooled-bestspeed", pooled(flate.BestSpeed)},
			{"pooled-default", pooled(flate.DefaultCompression)},
			{"stream-default", stream},
		} {
			b.Run(name+"/"+v.name, func(b *testing.B) {
				var out bytes.Buffer
				b.SetBytes(int64(total))
				b.ReportAllocs()
				for b.Loop() {
					out.Reset()
					v.run(&out)
				}
				b.ReportMetric(float64(out.Len())/float64(total), "out/in")
			})
		}
	}
}

// BenchmarkInflateReader measures the server's decompression of a client
// stream (zlib's default level, a sync flush per command).
func BenchmarkInflateReader(b *testing.B) {
	var in, out bytes.Buffer
	fw, _ := flate.NewWriter(&out, flate.DefaultCompression)
	for i := 0; in.Len() < 1<<20; i++ {
		line := fmt.Sprintf("A%d UID FETCH %d:%d (UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])\r\n", i, i, i+50)
		in.WriteString(line)
		fw.Write([]byte(line))
		fw.Flush()
	}
	buf := make([]byte, 8<<10)
	b.SetBytes(int64(in.Len()))
	b.ReportAllocs()
	for b.Loop() {
		r := newInflateReader(bytes.NewReader(out.Bytes()), nil, nil)
		for {
			_, err := r.Read(buf)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkCompressedIdleSession measures what COMPRESS DEFLATE adds to
// the memory of an idling session: n sessions idle uncompressed, then n
// compressed, and the difference of the heap and stacks in use, per
// session, is reported as extra-B/idler. The clients hold no compressor
// (their bytes are compressed once, up front), so the difference is the
// server's alone.
func BenchmarkCompressedIdleSession(b *testing.B) {
	const n = 300
	measure := func(compress bool) uint64 {
		ts := newTestServer(b, func(cfg *Config) {
			cfg.MaxConnectionsPerIP = 2 * n
			cfg.MaxConnectionsPerUser = 2 * n
		})
		var clients []*client
		for range n {
			c := ts.dial()
			c.login()
			if compress {
				_, done := c.cmd("C1", "COMPRESS DEFLATE")
				require.Equal(b, "C1 OK DEFLATE active", done)
				c.send(string(deflated(b, "S1 SELECT INBOX\r\n")))
				readSome(b, c) // the compressed SELECT responses
				c.send(string(deflated(b, "I1 IDLE\r\n")))
				readSome(b, c) // "+ idling", compressed
			} else {
				c.ok("S1", "SELECT INBOX")
				c.send("I1 IDLE\r\n")
				require.Equal(b, "+ idling", c.line())
			}
			clients = append(clients, c)
		}
		require.Eventually(b, func() bool { return parkedSessions() == n }, 10*time.Second, 10*time.Millisecond)
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		used := m.HeapInuse + m.StackInuse
		for _, c := range clients {
			c.nc.Close()
		}
		require.Eventually(b, func() bool { return parkedSessions() == 0 }, 10*time.Second, 10*time.Millisecond)
		return used
	}
	for b.Loop() {
		plain := measure(false)
		compressed := measure(true)
		b.ReportMetric((float64(compressed)-float64(plain))/n, "extra-B/idler")
	}
}

// readSome reads what the server sent until it pauses (compressed bytes,
// which the client does not decompress).
func readSome(t testing.TB, c *client) {
	t.Helper()
	buf := make([]byte, 4096)
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.nc.Read(buf)
	require.NoError(t, err)
	for {
		c.nc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		if _, err := c.nc.Read(buf); err != nil {
			require.True(t, strings.Contains(err.Error(), "timeout"), err.Error())
			return
		}
	}
}
