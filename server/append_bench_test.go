package server

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkAppend50 uploads 50 small messages with LITERAL+, as 50
// pipelined APPEND commands (single) or as one MULTIAPPEND (multi); the
// time is per 50 messages.
func BenchmarkAppend50(b *testing.B) {
	const n = 50
	msg := "From: a@example.org\r\nSubject: bench\r\n\r\n" + strings.Repeat("body text ", 200) + "\r\n"
	lit := fmt.Sprintf("{%d+}\r\n%s", len(msg), msg)
	for _, multi := range []bool{false, true} {
		name := "single"
		if multi {
			name = "multi"
		}
		b.Run(name, func(b *testing.B) {
			ts := newTestServer(b)
			c := ts.dial()
			c.login()
			b.SetBytes(int64(n * len(msg)))
			b.ResetTimer()
			for range b.N {
				if multi {
					c.send("M APPEND INBOX " + strings.TrimSuffix(strings.Repeat(lit+" ", n), " ") + "\r\n")
					_, done := c.until("M")
					if !strings.HasPrefix(done, "M OK") {
						b.Fatal(done)
					}
					continue
				}
				// Pipelined: written while the replies are read.
				var cmds strings.Builder
				for range n {
					cmds.WriteString("A APPEND INBOX " + lit + "\r\n")
				}
				sent := sendAsync(c, cmds.String())
				for range n {
					if _, d := c.until("A"); !strings.HasPrefix(d, "A OK") {
						b.Error(d)
					}
				}
				if err := <-sent; err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
