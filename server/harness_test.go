package server

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/fsm"
	"github.com/imapfsm/imapfsm/server/internal/mailmsg"
	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/boltstore"
)

// testServer is an in-process server on a temporary store with the account
// demo/demo, for per-command tests.
type testServer struct {
	t   testing.TB
	srv *Server
	cfg Config
}

func newTestServer(t testing.TB, mutate ...func(*Config)) *testServer {
	t.Helper()
	return newTestServerNotifying(t, nil, mutate...)
}

// newTestServerNotifying is newTestServer with the store publishing on
// notifier (nil: its own).
func newTestServerNotifying(t testing.TB, notifier store.Notifier, mutate ...func(*Config)) *testServer {
	t.Helper()
	st, err := boltstore.Open(t.TempDir(), boltstore.Options{Options: store.Options{BcryptCost: 4, Analyzer: mailmsg.Analyze, Notifier: notifier}})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	require.NoError(t, st.CreateUser(context.Background(), "demo", "demo"))
	cfg := Config{
		Store:             st,
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
		AllowInsecureAuth: true,
		AuthFailureDelay:  -1,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	srv, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return &testServer{t: t, srv: srv, cfg: cfg}
}

// client is a raw protocol client over an in-memory pipe.
type client struct {
	t  testing.TB
	nc net.Conn
	r  *bufio.Reader
}

// dial connects a client and reads the greeting.
func (ts *testServer) dial() *client {
	ts.t.Helper()
	a, b := net.Pipe()
	ts.srv.ServeConn(&pipeConn{Conn: b})
	c := &client{t: ts.t, nc: a, r: bufio.NewReader(a)}
	ts.t.Cleanup(func() { a.Close() })
	greeting := c.line()
	require.True(ts.t, strings.HasPrefix(greeting, "* OK "), greeting)
	return c
}

// pipeConn gives net.Pipe a usable remote address.
type pipeConn struct{ net.Conn }

func (pipeConn) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }

// send writes raw bytes.
func (c *client) send(s string) {
	c.t.Helper()
	c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := io.WriteString(c.nc, s)
	require.NoError(c.t, err)
}

// line reads one response line without CRLF.
func (c *client) line() string {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	l, err := c.r.ReadString('\n')
	require.NoError(c.t, err, "reading a response line")
	return strings.TrimRight(l, "\r\n")
}

// cmd sends "tag command" and returns the untagged lines and the tagged
// completion.
func (c *client) cmd(tag, command string) (untagged []string, done string) {
	c.t.Helper()
	c.send(tag + " " + command + "\r\n")
	return c.until(tag)
}

// until reads lines until the completion of tag.
func (c *client) until(tag string) (untagged []string, done string) {
	c.t.Helper()
	for {
		l := c.line()
		if strings.HasPrefix(l, tag+" ") {
			return untagged, l
		}
		untagged = append(untagged, l)
	}
}

// ok runs a command and requires a tagged OK.
func (c *client) ok(tag, command string) []string {
	c.t.Helper()
	u, done := c.cmd(tag, command)
	require.True(c.t, strings.HasPrefix(done, tag+" OK"), "%s %s -> %s", tag, command, done)
	return u
}

func (c *client) login() {
	c.t.Helper()
	c.ok("L1", "LOGIN demo demo")
}

var _ = fsm.InitialState
