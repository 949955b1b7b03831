package cli

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/lmtp"
)

// startServe runs "imapd serve" with args in the background and returns
// its addresses and a function that stops it and returns its exit status.
func startServe(t *testing.T, args ...string) (Addrs, func() int) {
	t.Helper()
	signals := make(chan os.Signal, 1)
	ready := make(chan Addrs, 1)
	stderr := newSyncBuffer()
	done := make(chan int, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	go func() {
		done <- Run(ctx, append([]string{"serve"}, args...),
			Env{Stderr: stderr, Signals: signals, Ready: func(a Addrs) { ready <- a }})
	}()
	var addrs Addrs
	select {
	case addrs = <-ready:
	case code := <-done:
		cancel()
		t.Fatalf("serve exited with %d: %s", code, stderr.String())
	case <-ctx.Done():
		t.Fatal("serve did not start")
	}
	stopped := false
	var code int
	stop := func() int {
		if stopped {
			return code
		}
		stopped = true
		defer cancel()
		signals <- syscall.SIGTERM
		select {
		case code = <-done:
		case <-ctx.Done():
			t.Fatal("serve did not stop")
		}
		if code != 0 {
			t.Logf("serve stderr: %s", stderr.String())
		}
		return code
	}
	t.Cleanup(func() { stop() })
	return addrs, stop
}

// imapSession is a minimal line-based IMAP client.
type imapSession struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func imapLogin(t *testing.T, addr, user, password string) *imapSession {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(30*time.Second)))
	s := &imapSession{t: t, c: c, br: bufio.NewReader(c)}
	s.line() // greeting
	s.command("a1", "LOGIN "+user+" "+password)
	return s
}

func (s *imapSession) line() string {
	s.t.Helper()
	l, err := s.br.ReadString('\n')
	require.NoError(s.t, err)
	return strings.TrimRight(l, "\r\n")
}

// command sends a tagged command and returns the untagged lines before its
// OK completion.
func (s *imapSession) command(tag, cmd string) []string {
	s.t.Helper()
	_, err := io.WriteString(s.c, tag+" "+cmd+"\r\n")
	require.NoError(s.t, err)
	var untagged []string
	for {
		l := s.line()
		if strings.HasPrefix(l, tag+" ") {
			require.True(s.t, strings.HasPrefix(l, tag+" OK"), l)
			return untagged
		}
		untagged = append(untagged, l)
	}
}

func TestDeliverWhileServing(t *testing.T) {
	dir := t.TempDir()
	addUser(t, dir, "alice", "pw")
	addrs, stop := startServe(t, "--data", dir, "--listen", "127.0.0.1:0", "--insecure-auth",
		"--lmtp-listen", "127.0.0.1:0", "--log-level", "debug")

	sock := filepath.Join(dir, "lmtp.sock")
	assert.Equal(t, sock, addrs.LMTPSocket)
	fi, err := os.Lstat(sock)
	require.NoError(t, err)
	assert.NotZero(t, fi.Mode()&os.ModeSocket)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "only the owner may deliver through the socket")

	// An IMAP session idles on INBOX while deliver runs.
	imap := imapLogin(t, addrs.IMAP, "alice", "pw")
	imap.command("a2", "SELECT INBOX")
	_, err = io.WriteString(imap.c, "a3 IDLE\r\n")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(imap.line(), "+ "))

	msg := "From bob@example.org Mon Jan  1 00:00:00 2024\nFrom: bob@example.org\nSubject: while serving\n\n.dot line\nbody\n"
	r := run(t, msg, "deliver", "--data", dir, "alice")
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Empty(t, r.stderr)
	assert.Equal(t, "* 1 EXISTS", imap.line(), "the idling session is told at once")
	// An IMAP4rev1 session, the first to learn of the message: it is
	// \Recent there (RFC 3501 2.3.2).
	assert.Equal(t, "* 1 RECENT", imap.line())
	_, err = io.WriteString(imap.c, "DONE\r\n")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(imap.line(), "a3 OK"))

	// --mailbox through the socket; a missing mailbox falls back to INBOX.
	r = run(t, "Subject: archived\n\nx\n", "deliver", "--data", dir, "--mailbox", "Archive", "alice")
	require.Equal(t, ExitOK, r.code, r.stderr)
	r = run(t, "Subject: fallback\n\nx\n", "deliver", "--data", dir, "--mailbox", "No/Such", "alice")
	require.Equal(t, ExitOK, r.code, r.stderr)
	requireOneLineError(t, run(t, msg, "deliver", "--data", dir, "nobody"), ExitNoUser, `no account "nobody"`)
	requireOneLineError(t, run(t, "garbage\n", "deliver", "--data", dir, "alice"), ExitDataErr, "header")

	// The TCP listener delivers too.
	c, err := net.DialTimeout("tcp", addrs.LMTP, 5*time.Second)
	require.NoError(t, err)
	cl, err := lmtp.NewClient(c, "mta.test", 10*time.Second)
	require.NoError(t, err)
	require.NoError(t, cl.Mail("carol@example.org", 0))
	require.NoError(t, cl.Rcpt("alice+Archive@example.com"))
	res, err := cl.Data(strings.NewReader("Subject: over tcp\r\n\r\nhi\r\n"))
	require.NoError(t, err)
	assert.Equal(t, []error{nil}, res)
	require.NoError(t, cl.Quit())

	require.Equal(t, 0, stop())
	_, err = os.Lstat(sock)
	assert.ErrorIs(t, err, os.ErrNotExist, "the socket is removed on shutdown")

	inbox := mailboxMessages(t, dir, "alice", "INBOX")
	require.Len(t, inbox, 2)
	assert.True(t, strings.HasPrefix(inbox[0].body, "Return-Path: <bob@example.org>\r\nReceived: from localhost (local)\r\n"), inbox[0].body)
	assert.True(t, strings.HasSuffix(inbox[0].body, "\r\nFrom: bob@example.org\r\nSubject: while serving\r\n\r\n.dot line\r\nbody\r\n"), inbox[0].body)
	assert.Contains(t, inbox[1].body, "Subject: fallback")
	archive := mailboxMessages(t, dir, "alice", "Archive")
	require.Len(t, archive, 2)
	assert.Contains(t, archive[0].body, "Subject: archived")
	assert.Contains(t, archive[1].body, "Subject: over tcp")

	// With the server gone deliver opens the store itself again.
	r = run(t, "Subject: direct\n\nx\n", "deliver", "--data", dir, "alice")
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Len(t, mailboxMessages(t, dir, "alice", "INBOX"), 3)
}

func TestServeReplacesStaleSocket(t *testing.T) {
	dir := t.TempDir()
	addUser(t, dir, "alice", "pw")
	sock := filepath.Join(dir, "lmtp.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	require.NoError(t, err)
	l.SetUnlinkOnClose(false)
	require.NoError(t, l.Close()) // as if the server had crashed

	_, stop := startServe(t, "--data", dir, "--listen", "127.0.0.1:0")
	r := run(t, "Subject: x\n\ny\n", "deliver", "--data", dir, "alice")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, 0, stop())
	assert.Len(t, mailboxMessages(t, dir, "alice", "INBOX"), 1)
}

func TestDeliverLockedWithoutServerIsTemporary(t *testing.T) {
	dir := t.TempDir()
	addUser(t, dir, "alice", "pw")
	st, err := openStoreTimeout(dir, 0)
	require.NoError(t, err)
	defer st.Close()
	r := run(t, "Subject: x\n\ny\n", "deliver", "--data", dir, "alice")
	requireOneLineError(t, r, ExitTempFail, "LMTP socket is unavailable")
}

func TestLMTPFlagErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args     []string
		contains string
	}{
		{[]string{"--lmtp-listen", "0.0.0.0:24"}, "--lmtp-allow-remote"},
		{[]string{"--lmtp-listen", ":24"}, "not a loopback address"},
		{[]string{"--lmtp-listen", "nonsense"}, "want host:port"},
		{[]string{"--lmtp-allow-remote"}, "needs --lmtp-listen"},
	} {
		args := append([]string{"serve", "--data", dir, "--listen", "127.0.0.1:0"}, tc.args...)
		requireOneLineError(t, run(t, "", args...), ExitUsage, tc.contains)
	}
	r := run(t, "", "serve", "--help")
	for _, f := range []string{"-lmtp-listen", "-lmtp-allow-remote", "-lmtp-detail-mailbox"} {
		assert.Contains(t, r.stdout, f)
	}
}

func TestDeliverStoreFlagUsage(t *testing.T) {
	dir := t.TempDir()
	requireOneLineError(t, run(t, "Subject: x\n\ny\n", "deliver", "--data", dir, "--store", "postgres://u@h/db", "alice"), ExitUsage, "not both")
	requireOneLineError(t, run(t, "Subject: x\n\ny\n", "deliver", "alice"), ExitUsage, "--data is required")
}
