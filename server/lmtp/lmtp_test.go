package lmtp

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/boltstore"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newStore opens a store in a temporary directory with the given accounts.
func newStore(t *testing.T, opts boltstore.Options, users ...string) *boltstore.Store {
	t.Helper()
	opts.BcryptCost = 4
	st, err := boltstore.Open(t.TempDir(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	for _, u := range users {
		require.NoError(t, st.CreateUser(context.Background(), u, "pw"))
	}
	return st
}

// newServer starts a server on cfg and stops it when the test ends.
func newServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	if cfg.Hostname == "" {
		cfg.Hostname = "mx.test"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SpoolDir == "" {
		cfg.SpoolDir = t.TempDir()
	}
	srv, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, srv.Shutdown(ctx))
	})
	return srv
}

// client is a raw protocol client for tests.
type client struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

// pipe connects a client to srv over net.Pipe and reads the greeting.
func pipe(t *testing.T, srv *Server) *client {
	t.Helper()
	a, b := net.Pipe()
	srv.ServeConn(b)
	return newClient(t, a)
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	return newClient(t, c)
}

func newClient(t *testing.T, c net.Conn) *client {
	t.Helper()
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(20*time.Second)))
	cl := &client{t: t, c: c, br: bufio.NewReader(c)}
	cl.expect("220 ")
	return cl
}

func (c *client) send(lines ...string) {
	c.t.Helper()
	_, err := io.WriteString(c.c, strings.Join(lines, "\r\n")+"\r\n")
	require.NoError(c.t, err)
}

// reply reads one reply, joining multi-line replies with "\n".
func (c *client) reply() string {
	c.t.Helper()
	var lines []string
	for {
		l, err := c.br.ReadString('\n')
		require.NoError(c.t, err, "after %q", lines)
		require.True(c.t, strings.HasSuffix(l, "\r\n"), "reply line %q must end with CRLF", l)
		l = strings.TrimSuffix(l, "\r\n")
		lines = append(lines, l)
		if len(l) < 4 || l[3] != '-' {
			return strings.Join(lines, "\n")
		}
	}
}

func (c *client) expect(prefix string, why ...string) string {
	c.t.Helper()
	r := c.reply()
	require.True(c.t, strings.HasPrefix(r, prefix), "want %q, got %q %v", prefix, r, why)
	return r
}

func (c *client) hello() {
	c.t.Helper()
	c.send("LHLO client.test")
	r := c.expect("250-mx.test")
	for _, ext := range []string{"PIPELINING", "ENHANCEDSTATUSCODES", "8BITMIME", "SIZE"} {
		assert.Contains(c.t, r, ext)
	}
}

// messages returns the bodies stored in a mailbox of user.
func messages(t *testing.T, st store.Store, user, mailbox string) []string {
	t.Helper()
	ctx := context.Background()
	u, err := st.OpenUser(ctx, user)
	require.NoError(t, err)
	info, err := u.Mailbox(ctx, mailbox)
	require.NoError(t, err)
	view, err := u.View(ctx, info.ID)
	require.NoError(t, err)
	var out []string
	for _, uid := range view.UIDs {
		b, err := u.OpenBody(ctx, info.ID, uid)
		require.NoError(t, err)
		data, err := io.ReadAll(b)
		require.NoError(t, err)
		require.NoError(t, b.Close())
		out = append(out, string(data))
	}
	return out
}

func TestDeliveryToSeveralRecipients(t *testing.T) {
	st := newStore(t, boltstore.Options{}, "alice", "bob")
	srv := newServer(t, Config{Store: st})
	c := pipe(t, srv)

	c.send("LHLO client.test")
	ext := c.expect("250-mx.test")
	assert.Equal(t, "250-mx.test\n250-PIPELINING\n250-ENHANCEDSTATUSCODES\n250-8BITMIME\n250 SIZE 67108864", ext)
	c.send("MAIL FROM:<sender@example.org> BODY=8BITMIME SIZE=100")
	c.expect("250 2.1.0 ")
	c.send("RCPT TO:<alice@example.com>")
	c.expect("250 2.1.5 <alice@example.com>")
	c.send("RCPT TO:<nobody@example.com>")
	c.expect("550 5.1.1 <nobody@example.com>")
	c.send("RCPT TO:<bob@example.com>")
	c.expect("250 2.1.5 ")
	c.send("DATA")
	c.expect("354 ")
	c.send("Subject: hi", "", "line", ".")
	c.expect("250 2.0.0 <alice@example.com> ")
	c.expect("250 2.0.0 <bob@example.com> ")
	c.send("QUIT")
	c.expect("221 2.0.0 ")

	want := "Subject: hi\r\n\r\nline\r\n"
	assert.Equal(t, []string{want}, messages(t, st, "alice", "INBOX"))
	assert.Equal(t, []string{want}, messages(t, st, "bob", "INBOX"))
}

// faultyStore makes Append fail for some accounts and can hold appends
// until released.
type faultyStore struct {
	store.Store
	fail    map[string]error
	hold    chan struct{} // when non-nil, Append waits for it to be closed
	entered chan string
}

func (f *faultyStore) OpenUser(ctx context.Context, name string) (store.User, error) {
	if err, ok := f.fail[name]; ok && err == store.ErrNoSuchUser {
		return nil, err
	}
	u, err := f.Store.OpenUser(ctx, name)
	if err != nil {
		return nil, err
	}
	return &faultyUser{User: u, f: f}, nil
}

type faultyUser struct {
	store.User
	f *faultyStore
}

func (u *faultyUser) Append(ctx context.Context, mailbox string, msg store.NewMessage) (store.AppendResult, error) {
	if u.f.entered != nil {
		u.f.entered <- u.Name()
	}
	if u.f.hold != nil {
		select {
		case <-u.f.hold:
		case <-ctx.Done():
			return store.AppendResult{}, ctx.Err()
		}
	}
	if err, ok := u.f.fail[u.Name()]; ok {
		_, _ = io.Copy(io.Discard, msg.Body)
		return store.AppendResult{}, err
	}
	return u.User.Append(ctx, mailbox, msg)
}

func TestPerRecipientRepliesWithMixedResults(t *testing.T) {
	st := newStore(t, boltstore.Options{}, "ok1", "broken", "full", "huge", "ok2")
	fs := &faultyStore{Store: st, fail: map[string]error{
		"broken": fmt.Errorf("disk on fire"),
		"full":   &net.OpError{Op: "write", Err: syscall.ENOSPC},
		"huge":   fmt.Errorf("append: %w", store.ErrTooBig),
	}}
	srv := newServer(t, Config{Store: fs})
	c := pipe(t, srv)
	c.hello()
	c.send("MAIL FROM:<>")
	c.expect("250 2.1.0 ")
	for _, r := range []string{"ok1", "broken", "full", "huge", "ok2", "ok1"} {
		c.send("RCPT TO:<" + r + "@x>")
		c.expect("250 2.1.5 ")
	}
	c.send("DATA")
	c.expect("354 ")
	c.send("Subject: mixed", "", "body", ".")
	c.expect("250 2.0.0 <ok1@x>")
	c.expect("451 4.3.0 ")
	c.expect("452 4.3.1 ")
	c.expect("552 5.3.4 ")
	c.expect("250 2.0.0 <ok2@x>")
	c.expect("250 2.0.0 <ok1@x>")
	c.send("NOOP")
	c.expect("250 2.0.0 ")

	assert.Len(t, messages(t, st, "ok1", "INBOX"), 1, "a repeated recipient gets one copy")
	assert.Len(t, messages(t, st, "ok2", "INBOX"), 1)
	assert.Empty(t, messages(t, st, "broken", "INBOX"))
}

func TestReplyOnlyAfterAppendReturned(t *testing.T) {
	st := newStore(t, boltstore.Options{}, "alice")
	fs := &faultyStore{Store: st, hold: make(chan struct{}), entered: make(chan string, 1)}
	srv := newServer(t, Config{Store: fs})
	c := pipe(t, srv)
	c.hello()
	c.send("MAIL FROM:<a@b>", "RCPT TO:<alice>")
	c.expect("250 ")
	c.expect("250 ")
	c.send("DATA")
	c.expect("354 ")
	c.send("Subject: x", "", "y", ".")
	select {
	case <-fs.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("Append was not called")
	}
	got := make(chan string, 1)
	go func() {
		l, _ := c.br.ReadString('\n')
		got <- l
	}()
	select {
	case l := <-got:
		t.Fatalf("reply %q before Append returned", l)
	case <-time.After(200 * time.Millisecond):
	}
	assert.Empty(t, messages(t, st, "alice", "INBOX"))
	close(fs.hold)
	select {
	case l := <-got:
		assert.True(t, strings.HasPrefix(l, "250 2.0.0 "), l)
	case <-time.After(10 * time.Second):
		t.Fatal("no reply after Append returned")
	}
	assert.Len(t, messages(t, st, "alice", "INBOX"), 1)
}

func TestDotStuffingAndLineEndings(t *testing.T) {
	st := newStore(t, boltstore.Options{}, "alice")
	srv := newServer(t, Config{Store: st})
	for _, tc := range []struct {
		name, wire, stored string
	}{
		{"stuffed dot", "A: b\r\n\r\n..leading\r\n...\r\n.x\r\n.\r\n", "A: b\r\n\r\n.leading\r\n..\r\nx\r\n"},
		{"dot inside line", "A: b\r\n\r\na.b\r\n . \r\n.\r\n", "A: b\r\n\r\na.b\r\n . \r\n"},
		{"bare LF", "A: b\n\nline\n..dot\n.\n", "A: b\r\n\r\nline\r\n.dot\r\n"},
		{"8bit", "A: b\r\n\r\nh\xc3\xa9llo\r\n.\r\n", "A: b\r\n\r\nh\xc3\xa9llo\r\n"},
		{"empty line last", "A: b\r\n\r\n\r\n.\r\n", "A: b\r\n\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := pipe(t, srv)
			c.hello()
			c.send("MAIL FROM:<>", "RCPT TO:<alice>", "DATA")
			c.expect("250 ")
			c.expect("250 ")
			c.expect("354 ")
			_, err := io.WriteString(c.c, tc.wire)
			require.NoError(t, err)
			c.expect("250 2.0.0 ")
			msgs := messages(t, st, "alice", "INBOX")
			require.NotEmpty(t, msgs)
			assert.Equal(t, tc.stored, msgs[len(msgs)-1])
		})
	}
}

func TestSizeLimit(t *testing.T) {
	st := newStore(t, boltstore.Options{Options: store.Options{MaxMessageSize: 2000}}, "alice", "bob")
	srv := newServer(t, Config{Store: st, MaxMessageSize: 1000, TraceHeaders: true})
	c := pipe(t, srv)
	c.hello()
	c.send("MAIL FROM:<a@b> SIZE=1001")
	c.expect("552 5.3.4 ")
	c.send("MAIL FROM:<a@b> SIZE=500")
	c.expect("250 ")
	c.send("RCPT TO:<alice>", "RCPT TO:<bob>", "DATA")
	c.expect("250 ")
	c.expect("250 ")
	c.expect("354 ")
	big := strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyz\r\n", 50)
	c.send("Subject: big", "", big+".")
	c.expect("552 5.3.4 ")
	c.expect("552 5.3.4 ")
	// The session stays usable and the transaction was reset.
	c.send("RCPT TO:<alice>")
	c.expect("503 5.5.1 ")
	assert.Empty(t, messages(t, st, "alice", "INBOX"))

	// Just under the limit, trace fields included, passes.
	c.send("MAIL FROM:<a@b>", "RCPT TO:<alice>", "DATA")
	c.expect("250 ")
	c.expect("250 ")
	c.expect("354 ")
	c.send("Subject: small", "", strings.Repeat("x", 400), ".")
	c.expect("250 2.0.0 ")
	msgs := messages(t, st, "alice", "INBOX")
	require.Len(t, msgs, 1)
	assert.LessOrEqual(t, len(msgs[0]), 1000)
	assert.True(t, strings.HasPrefix(msgs[0], "Return-Path: <a@b>\r\nReceived: from client.test (pipe)\r\n\tby mx.test (imapfsm) with LMTP id "), msgs[0])
	assert.Contains(t, msgs[0], "\r\n\tfor <alice>;\r\n\t")
	assert.True(t, strings.HasSuffix(msgs[0], "\r\nSubject: small\r\n\r\n"+strings.Repeat("x", 400)+"\r\n"), msgs[0])
}

func TestStoreLimitBelowConfiguredLimit(t *testing.T) {
	st := newStore(t, boltstore.Options{Options: store.Options{MaxMessageSize: 100}}, "alice")
	srv := newServer(t, Config{Store: st})
	c := pipe(t, srv)
	c.hello()
	c.send("MAIL FROM:<>", "RCPT TO:<alice>", "DATA")
	c.expect("250 ")
	c.expect("250 ")
	c.expect("354 ")
	c.send("Subject: x", "", strings.Repeat("y", 200), ".")
	c.expect("552 5.3.4 ")
}

func TestLongLines(t *testing.T) {
	st := newStore(t, boltstore.Options{}, "alice")
	srv := newServer(t, Config{Store: st, MaxLineLength: 1000})
	c := pipe(t, srv)
	c.hello()
	c.send("NOOP " + strings.Repeat("x", DefaultMaxCommandLength))
	c.expect("500 5.5.2 ")
	c.send("MAIL FROM:<>", "RCPT TO:<alice>", "DATA")
	c.expect("250 ")
	c.expect("250 ")
	c.expect("354 ")
	c.send("Subject: x", "", strings.Repeat("y", 998), strings.Repeat("z", 999), ".")
	c.expect("554 5.6.0 ")
	c.send("MAIL FROM:<>", "RCPT TO:<alice>", "DATA")
	c.expect("250 ")
	c.expect("250 ")
	c.expect("354 ")
	c.send("Subject: x", "", strings.Repeat("y", 998), ".")
	c.expect("250 2.0.0 ")
	assert.Len(t, messages(t, st, "alice", "INBOX"), 1)
}

func TestLargeMessageIsSpooledToFile(t *testing.T) {
	st := newStore(t, boltstore.Options{}, "alice", "bob")
	spool := t.TempDir()
	srv := newServer(t, Config{Store: st, SpoolDir: spool})
	a, b := net.Pipe()
	srv.ServeConn(b)
	defer a.Close()
	cl, err := NewClient(a, "client.test", 20*time.Second)
	require.NoError(t, err)
	var body strings.Builder
	body.WriteString("Subject: large\n\n")
	for i := 0; body.Len() < 3<<20; i++ {
		fmt.Fprintf(&body, ".line %d %s\n", i, strings.Repeat("=", 70))
	}
	require.NoError(t, cl.Mail("a@b", int64(body.Len())))
	require.NoError(t, cl.Rcpt("alice"))
	require.NoError(t, cl.Rcpt("bob"))
	res, err := cl.Data(strings.NewReader(body.String()))
	require.NoError(t, err)
	assert.Equal(t, []error{nil, nil}, res)
	require.NoError(t, cl.Quit())
	want := strings.ReplaceAll(body.String(), "\n", "\r\n")
	for _, u := range []string{"alice", "bob"} {
		got := messages(t, st, u, "INBOX")
		require.Len(t, got, 1)
		assert.True(t, got[0] == want, "%s: stored message differs (len %d, want %d)", u, len(got[0]), len(want))
	}
	left, err := os.ReadDir(spool)
	require.NoError(t, err)
	assert.Empty(t, left, "spool files are unlinked")
}

func TestCommandSequenceAndErrors(t *testing.T) {
	st := newStore(t, boltstore.Options{}, "alice")
	srv := newServer(t, Config{Store: st, MaxRecipients: 2})
	c := pipe(t, srv)
	c.send("MAIL FROM:<a@b>")
	c.expect("503 5.5.1 ")
	c.send("EHLO client.test")
	c.expect("500 5.5.1 ")
	c.send("HELO client.test")
	c.expect("500 5.5.1 ")
	c.send("NOOP")
	c.expect("250 2.0.0 ")
	c.send("VRFY alice")
	c.expect("252 2.5.0 ")
	c.hello()
	c.send("RCPT TO:<alice>")
	c.expect("503 5.5.1 ")
	c.send("DATA")
	c.expect("503 5.5.1 ")
	c.send("MAIL FROM:a@b")
	c.expect("501 5.1.7 ")
	c.send("MAIL TO:<a@b>")
	c.expect("501 5.5.4 ")
	c.send("MAIL FROM:<a@b> FOO=bar")
	c.expect("555 5.5.4 ")
	c.send("MAIL FROM:<a@b> BODY=BINARYMIME")
	c.expect("501 5.5.4 ")
	c.send("mail from: <a@b>")
	c.expect("250 2.1.0 ")
	c.send("MAIL FROM:<a@b>")
	c.expect("503 5.5.1 ")
	c.send("RCPT TO:<nobody>")
	c.expect("550 5.1.1 ")
	c.send("DATA")
	c.expect("503 5.5.1 ", "no valid recipient: RFC 2033 section 4.2")
	c.send("RCPT TO:<alice> MAILBOX=Archive")
	c.expect("555 5.5.4 ", "MAILBOX is only for trusted listeners")
	c.send("RCPT TO:<>")
	c.expect("501 5.1.3 ")
	c.send("RCPT TO:<alice@>")
	c.expect("501 5.1.3 ")
	c.send("RCPT TO:<alice>", "RCPT TO:<alice>", "RCPT TO:<alice>")
	c.expect("250 2.1.5 ")
	c.expect("250 2.1.5 ")
	c.expect("452 4.5.3 ")
	c.send("RSET")
	c.expect("250 2.0.0 ")
	c.send("RCPT TO:<alice>")
	c.expect("503 5.5.1 ", "RSET ends the transaction")
	c.send("EXPN list")
	c.expect("502 5.5.1 ")
	c.send("FROB")
	c.expect("500 5.5.1 ")
	c.send("QUIT")
	c.expect("221 2.0.0 ")
}

func TestTooManyErrorsCloseTheSession(t *testing.T) {
	st := newStore(t, boltstore.Options{})
	srv := newServer(t, Config{Store: st})
	c := pipe(t, srv)
	for i := 0; i < maxErrors-1; i++ {
		c.send("BOGUS")
		c.expect("500 ")
	}
	c.send("BOGUS")
	c.expect("500 ")
	c.expect("421 4.7.0 ")
	_, err := c.br.ReadString('\n')
	assert.ErrorIs(t, err, io.EOF)
}

func TestPipelining(t *testing.T) {
	st := newStore(t, boltstore.Options{}, "alice", "bob")
	srv := newServer(t, Config{Store: st})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(l) }()

	c := dial(t, l.Addr().String())
	// RFC 2920: the whole envelope in one write, DATA last in the group.
	c.send("LHLO client.test", "MAIL FROM:<a@b>", "RCPT TO:<alice>", "RCPT TO:<nobody>", "RCPT TO:<bob>", "DATA")
	c.expect("250-mx.test")
	c.expect("250 2.1.0 ")
	c.expect("250 2.1.5 <alice>")
	c.expect("550 5.1.1 <nobody>")
	c.expect("250 2.1.5 <bob>")
	c.expect("354 ")
	// Message, second transaction and QUIT in one write.
	c.send("Subject: one", "", "1", ".", "MAIL FROM:<>", "RCPT TO:<bob>", "DATA")
	c.expect("250 2.0.0 <alice>")
	c.expect("250 2.0.0 <bob>")
	c.expect("250 2.1.0 ")
	c.expect("250 2.1.5 ")
	c.expect("354 ")
	c.send("Subject: two", "", "2", ".", "QUIT")
	c.expect("250 2.0.0 <bob>")
	c.expect("221 ")

	assert.Len(t, messages(t, st, "alice", "INBOX"), 1)
	assert.Len(t, messages(t, st, "bob", "INBOX"), 2)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx))
	assert.ErrorIs(t, <-serveErr, ErrServerClosed)
}

func TestDetailAddresses(t *testing.T) {
	st := newStore(t, boltstore.Options{}, "alice", "bob+x")
	ctx := context.Background()
	u, err := st.OpenUser(ctx, "alice")
	require.NoError(t, err)
	_, err = u.CreateMailbox(ctx, "Lists", 0)
	require.NoError(t, err)
	_, err = u.CreateMailbox(ctx, "Lists/Go", 0)
	require.NoError(t, err)

	send := func(srv *Server, rcpt string) {
		t.Helper()
		c := pipe(t, srv)
		c.hello()
		c.send("MAIL FROM:<>", "RCPT TO:<"+rcpt+"@example.com>", "DATA")
		c.expect("250 ")
		c.expect("250 2.1.5 ")
		c.expect("354 ")
		c.send("Subject: "+rcpt, "", "x", ".")
		c.expect("250 2.0.0 ")
	}
	srv := newServer(t, Config{Store: st, DetailMailbox: true})
	send(srv, "alice+Lists")
	send(srv, "alice+lists/go")
	send(srv, "alice+NoSuchBox")
	send(srv, "bob+x")
	send(srv, "alice")
	assert.Len(t, messages(t, st, "alice", "Lists"), 1)
	assert.Len(t, messages(t, st, "alice", "Lists/Go"), 1, "case-insensitive match")
	assert.Len(t, messages(t, st, "alice", "INBOX"), 2, "missing mailbox and no detail: INBOX")
	assert.Len(t, messages(t, st, "bob+x", "INBOX"), 1, "an account named with the delimiter wins")

	// Without DetailMailbox the detail only selects the account.
	plain := newServer(t, Config{Store: st})
	send(plain, "alice+Lists")
	assert.Len(t, messages(t, st, "alice", "INBOX"), 3)
	assert.Len(t, messages(t, st, "alice", "Lists"), 1)

	// NoDetail: "alice+Lists" is an unknown account.
	none := newServer(t, Config{Store: st, NoDetail: true})
	c := pipe(t, none)
	c.hello()
	c.send("MAIL FROM:<>", "RCPT TO:<alice+Lists>")
	c.expect("250 ")
	c.expect("550 5.1.1 ")
}

func TestMailboxParameterAndLookup(t *testing.T) {
	st := newStore(t, boltstore.Options{}, "alice", "ops@example.org")
	ctx := context.Background()
	u, err := st.OpenUser(ctx, "alice")
	require.NoError(t, err)
	_, err = u.CreateMailbox(ctx, "Café Lists", 0)
	require.NoError(t, err)
	srv := newServer(t, Config{Store: st, MailboxParam: true, Lookup: func(_ context.Context, local string) (string, error) {
		if local == "boom" {
			return "", fmt.Errorf("directory unavailable")
		}
		return strings.ToLower(local), nil
	}})
	c := pipe(t, srv)
	c.hello()
	c.send("MAIL FROM:<>")
	c.expect("250 ")
	c.send("RCPT TO:<ALICE@x> MAILBOX=" + EncodeXtext("Café Lists"))
	c.expect("250 2.1.5 ")
	c.send("RCPT TO:<boom@x>")
	c.expect("451 4.3.0 ")
	c.send(`RCPT TO:<"ops@example.org"@mx.test>`)
	c.expect(`250 2.1.5 <"ops@example.org"@mx.test>`)
	c.send("RCPT TO:<alice> MAILBOX=+ZZ")
	c.expect("501 5.5.4 ")
	c.send("DATA")
	c.expect("354 ")
	c.send("Subject: x", "", "y", ".")
	c.expect("250 2.0.0 ")
	c.expect("250 2.0.0 ")
	assert.Len(t, messages(t, st, "alice", "Café Lists"), 1)
	assert.Len(t, messages(t, st, "ops@example.org", "INBOX"), 1)
}

func TestIdleTimeout(t *testing.T) {
	st := newStore(t, boltstore.Options{})
	srv := newServer(t, Config{Store: st, ReadTimeout: 100 * time.Millisecond})
	c := pipe(t, srv)
	c.expect("421 4.4.2 ")
	_, err := c.br.ReadString('\n')
	assert.ErrorIs(t, err, io.EOF)
}

func TestShutdownFinishesTransactions(t *testing.T) {
	st := newStore(t, boltstore.Options{}, "alice")
	srv, err := New(Config{Store: st, Hostname: "mx.test", Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	idle := pipe(t, srv)
	busy := pipe(t, srv)
	busy.hello()
	busy.send("MAIL FROM:<>", "RCPT TO:<alice>", "DATA")
	busy.expect("250 ")
	busy.expect("250 ")
	busy.expect("354 ")
	busy.send("Subject: in flight")

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- srv.Shutdown(ctx)
	}()
	idle.expect("421 4.3.2 ")
	busy.send("", "body", ".")
	busy.expect("250 2.0.0 ")
	busy.expect("421 4.3.2 ")
	require.NoError(t, <-done)
	assert.Len(t, messages(t, st, "alice", "INBOX"), 1)

	// After Shutdown new connections are refused.
	a, b := net.Pipe()
	defer a.Close()
	srv.ServeConn(b)
	_, err = bufio.NewReader(a).ReadString('\n')
	assert.ErrorIs(t, err, io.EOF)
}

func TestShutdownDeadlineClosesStuckSessions(t *testing.T) {
	st := newStore(t, boltstore.Options{}, "alice")
	fs := &faultyStore{Store: st, hold: make(chan struct{})}
	srv, err := New(Config{Store: fs, Hostname: "mx.test", Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	c := pipe(t, srv)
	c.hello()
	c.send("MAIL FROM:<>", "RCPT TO:<alice>", "DATA")
	c.expect("250 ")
	c.expect("250 ")
	c.expect("354 ")
	c.send("Subject: stuck", "", ".")
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	// Append waits until Shutdown gives up and cancels the store context.
	assert.ErrorIs(t, srv.Shutdown(ctx), context.DeadlineExceeded)
	assert.Empty(t, messages(t, st, "alice", "INBOX"))
}

func TestMaxConnections(t *testing.T) {
	st := newStore(t, boltstore.Options{})
	srv := newServer(t, Config{Store: st, MaxConnections: 1})
	pipe(t, srv)
	a, b := net.Pipe()
	defer a.Close()
	srv.ServeConn(b)
	l, err := bufio.NewReader(a).ReadString('\n')
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(l, "421 4.3.2 "), l)
}

func TestClientReportsRefusals(t *testing.T) {
	st := newStore(t, boltstore.Options{Options: store.Options{MaxMessageSize: 200}}, "alice")
	srv := newServer(t, Config{Store: st, MaxMessageSize: 200})
	a, b := net.Pipe()
	srv.ServeConn(b)
	defer a.Close()
	cl, err := NewClient(a, "client.test", 10*time.Second)
	require.NoError(t, err)
	assert.Equal(t, "200", cl.Extensions["SIZE"])
	err = cl.Mail("a@b", 500)
	var rep *Reply
	require.ErrorAs(t, err, &rep)
	assert.Equal(t, 552, rep.Code)
	assert.Equal(t, "5.3.4", rep.Enhanced)
	assert.False(t, rep.Temporary())

	require.NoError(t, cl.Mail("", 0))
	err = cl.Rcpt("nobody")
	require.ErrorAs(t, err, &rep)
	assert.Equal(t, 550, rep.Code)
	require.NoError(t, cl.Rcpt("alice"))
	res, err := cl.Data(strings.NewReader("Subject: x\n\n" + strings.Repeat("z", 300)))
	require.NoError(t, err)
	require.Len(t, res, 1)
	require.ErrorAs(t, res[0], &rep)
	assert.Equal(t, 552, rep.Code)

	require.NoError(t, cl.Mail("", 0))
	require.NoError(t, cl.Rcpt("alice"))
	res, err = cl.Data(strings.NewReader(".hidden\n.\nno final newline"))
	require.NoError(t, err)
	assert.Equal(t, []error{nil}, res)
	require.NoError(t, cl.Quit())
	assert.Equal(t, []string{".hidden\r\n.\r\nno final newline\r\n"}, messages(t, st, "alice", "INBOX"))
}

func TestAddressParsing(t *testing.T) {
	for _, tc := range []struct {
		in, local, domain string
		bad               bool
	}{
		{in: "alice@example.com", local: "alice", domain: "example.com"},
		{in: "Postmaster", local: "Postmaster"},
		{in: "@relay.example,@b.example:bob@example.com", local: "bob", domain: "example.com"},
		{in: `"john \"q\" doe"@example.com`, local: `john "q" doe`, domain: "example.com"},
		{in: `"a>b"@x`, local: "a>b", domain: "x"},
		{in: "me@host@example.com", local: "me@host", domain: "example.com"},
		{in: "alice@", bad: true},
		{in: "@x", bad: true},
		{in: "a b@x", bad: true},
		{in: `"unterminated@x`, bad: true},
		{in: `"q"x@y`, bad: true},
		{in: "a\x01@x", bad: true},
	} {
		local, domain, err := parseMailbox(tc.in)
		if tc.bad {
			assert.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.local, local, tc.in)
		assert.Equal(t, tc.domain, domain, tc.in)
	}
	inner, params, err := splitPath(`<"a>b"@x> SIZE=10`)
	require.NoError(t, err)
	assert.Equal(t, `"a>b"@x`, inner)
	assert.Equal(t, "SIZE=10", params)
	_, _, err = splitPath("<a@b>SIZE=1")
	assert.Error(t, err)

	for _, s := range []string{"", "plain", "a+b=c", "Café/Ünïcode", "sp ace"} {
		enc := EncodeXtext(s)
		assert.NotContains(t, enc, " ")
		dec, err := DecodeXtext(enc)
		require.NoError(t, err)
		assert.Equal(t, s, dec)
	}
	_, err = DecodeXtext("a+4")
	assert.Error(t, err)
	_, err = DecodeXtext("a=b")
	assert.Error(t, err)
}

// TestDeliverySetsSaveDate: a delivered message gets a save date (RFC 8514
// 3: the time it was delivered to the mailbox), not left unknown.
func TestDeliverySetsSaveDate(t *testing.T) {
	st := newStore(t, boltstore.Options{}, "alice")
	srv := newServer(t, Config{Store: st})
	c := pipe(t, srv)
	c.hello()
	from := time.Now()
	c.send("MAIL FROM:<sender@example.org>", "RCPT TO:<alice@example.com>", "DATA")
	c.expect("250 ")
	c.expect("250 ")
	c.expect("354 ")
	c.send("Subject: hi", "", "line", ".")
	c.expect("250 2.0.0 <alice@example.com> ")
	to := time.Now()

	ctx := context.Background()
	u, err := st.OpenUser(ctx, "alice")
	require.NoError(t, err)
	info, err := u.Mailbox(ctx, "INBOX")
	require.NoError(t, err)
	var saved []time.Time
	require.NoError(t, u.Fetch(ctx, info.ID, store.AllUIDs(), store.FetchOptions{}, func(m *store.Message) error {
		saved = append(saved, m.SaveDate)
		return nil
	}))
	require.Len(t, saved, 1)
	assert.False(t, saved[0].Before(from) || saved[0].After(to), "saved at %v, not during the delivery", saved[0])
}
