package server

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// FuzzSession feeds arbitrary bytes to a whole session (engine, classifier,
// handlers, store) over an in-memory connection. The server must not panic
// (a handler's panic is recovered and answered BAD [SERVERBUG]; that, and
// any other "Internal error" answer, fails the target too), must not hang, and must end the session when the client
// goes away.
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
		"a1 LOGIN demo demo\r\na2 NOTIFY SET STATUS (selected (MessageNew (UID BODY.PEEK[HEADER]<0.10>) MessageExpunge FlagChange)) (personal (MailboxName SubscriptionChange))\r\na3 NOTIFY NONE\r\n",
		"a1 LOGIN demo demo\r\na2 NOTIFY SET (selected (MessageNew (BOGUS) MessageExpunge))\r\n",
		"a1 LOGIN demo demo\r\na2 SETMETADATA INBOX (/private/comment {3+}\r\nabc /shared/x NIL)\r\na3 GETMETADATA (MAXSIZE 2 DEPTH infinity) \"\" (/private /shared)\r\n",
		"a1 LOGIN demo demo\r\na2 APPEND INBOX (\\Seen) {2+}\r\nhi {3+}\r\nabc\r\na3 SELECT INBOX\r\na4 REPLACE 1 INBOX {2+}\r\nyo\r\na5 UID REPLACE 9 INBOX {0+}\r\n\r\n",
		"a1 LOGIN demo demo\r\na2 SELECT INBOX\r\na3 SEARCH RETURN (UPDATE PARTIAL 1:9) SAVEDSINCE 1-Jan-2020\r\na4 SORT RETURN (UPDATE) (REVERSE ARRIVAL) UTF-8 ALL\r\na5 CANCELUPDATE \"a3\" \"a4\"\r\na6 THREAD REFERENCES UTF-8 ALL\r\n",
		"a1 LOGIN demo demo\r\na2 GETQUOTAROOT INBOX\r\na3 SETQUOTA \"\" (STORAGE 10)\r\na4 FETCH 1:* (SAVEDATE PREVIEW EMAILID)\r\na5 COMPRESS DEFLATE\r\n\x01\x02\x03",
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
		var out bytes.Buffer
		go func() {
			io.Copy(&out, client)
			close(drained)
		}()
		// A LOGOUT after the input lets the session answer every command
		// before it ends; an input that leaves it inside a literal, IDLE
		// or a SASL exchange is ended by closing the connection instead.
		client.SetWriteDeadline(time.Now().Add(2 * time.Second))
		client.Write(append(data, "\r\nzz9 LOGOUT\r\n"...))
		select {
		case <-drained:
		case <-time.After(300 * time.Millisecond):
			client.Close()
			select {
			case <-drained:
			case <-time.After(5 * time.Second):
				t.Fatalf("session did not end after the client closed; input %q", data)
			}
		}
		client.Close()
		if bytes.Contains(out.Bytes(), []byte("[SERVERBUG]")) || bytes.Contains(out.Bytes(), []byte("Internal error")) {
			t.Fatalf("the server answered with an internal error (a handler panicked, misreported, or passed on an error it should have explained): input %q, output %q", data, out.Bytes())
		}
	})
}
