package server

import (
	"io"
	"net"
	"testing"
	"time"
)

// FuzzSession feeds arbitrary bytes to a whole session (engine, classifier,
// handlers, store) over an in-memory connection. The server must not panic,
// must not hang, and must end the session when the client goes away.
func FuzzSession(f *testing.F) {
	for _, seed := range []string{
		"a1 LOGIN demo demo\r\na2 SELECT INBOX\r\n8.569 IDLE\r\n8.570 IDLE\r\nDONE\r\n",
		"a1 LOGIN demo demo\r\na2 SELECT INBOX\r\n8.569 IDLE\r\n8.571 STATUS \"INBOX\" (MESSAGES)\r\n",
		"a1 LOGIN {4+}\r\ndemo {4+}\r\ndemo\r\na2 NOOP\r\n",
		"DONE\r\n\r\ndone \r\na1 COMPRESS DEFLATE\r\n",
		"a1 AUTHENTICATE PLAIN\r\n*\r\na2 AUTHENTICATE PLAIN\r\n!!!!\r\n",
		"a1 LOGIN demo demo\r\na2 APPEND INBOX {5}\r\nhello\r\na3 SELECT INBOX\r\na4 FETCH 1:* (FLAGS BODY[])\r\n",
		"a1 LOGIN demo demo\r\na2 LIST \"\" *\r\na3 CREATE ../x\r\na4 STATUS INBOX (MESSAGES UIDNEXT)\r\n",
		"a1 LOGIN demo demo\r\na2 SELECT INBOX\r\na3 SEARCH ((((((((((ALL))))))))))\r\na4 STORE 1 +FLAGS (\\Seen)\r\n",
		"\x00\x01\x02\r\n+ \r\n* OK\r\n",
	} {
		f.Add([]byte(seed))
	}
	// Failed logins are the fuzzer's bread and butter; the per-address
	// limiter would otherwise refuse every LOGIN after the first few.
	ts := newTestServer(f, func(c *Config) { c.MaxAuthFailuresPerIP = -1 })
	f.Fuzz(func(t *testing.T, data []byte) {
		client, srvSide := net.Pipe()
		ts.srv.ServeConn(&pipeConn{Conn: srvSide})
		drained := make(chan struct{})
		go func() {
			io.Copy(io.Discard, client)
			close(drained)
		}()
		client.SetWriteDeadline(time.Now().Add(2 * time.Second))
		client.Write(data)
		client.Close()
		select {
		case <-drained:
		case <-time.After(5 * time.Second):
			t.Fatalf("session did not end after the client closed; input %q", data)
		}
	})
}
