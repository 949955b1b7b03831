package interop_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fetchmailTrouble matches the lines in which fetchmail reports a failure,
// and a NO or BAD from the server in its protocol log.
var fetchmailTrouble = regexp.MustCompile(`(?mi)^(fetchmail: IMAP< (A\d+|\*) (NO|BAD)\b.*|.*\b(error|failed|failure|unexpected|not supported|timed out|timeout|lost|aborted|refused)\b.*)$`)

// fetchmailSTARTTLS matches fetchmail sending STARTTLS.
var fetchmailSTARTTLS = regexp.MustCompile(`IMAP> A\d+ STARTTLS`)

// fetchmailEnv is one fetchmail configuration: its run control file, a
// home directory (for its lock file) and the directory its delivery agent
// writes each message to as a file of its own.
type fetchmailEnv struct {
	bin, home, rc, out string
}

func newFetchmailEnv(t *testing.T, bin string, srv *clientServer, run clientRun) fetchmailEnv {
	t.Helper()
	home := t.TempDir()
	out := filepath.Join(home, "out")
	require.NoError(t, os.Mkdir(out, 0o700))
	mda := filepath.Join(home, "mda.sh")
	// Each message is written under a dot name and renamed when complete.
	require.NoError(t, os.WriteFile(mda, []byte("#!/bin/sh\nset -e\nf=$(mktemp "+out+"/.msg.XXXXXXXX)\ncat > \"$f\"\nmv \"$f\" "+out+"/\"$(basename \"$f\" | cut -c2-)\"\n"), 0o700))
	var tlsOpts string
	switch run.tr {
	case plainText:
		tlsOpts = `sslproto ''` // no opportunistic STARTTLS
	case startTLS:
		tlsOpts = fmt.Sprintf(`sslproto 'TLS1.2+' sslcertck sslcertfile %q`, srv.caFile)
	case tlsDirect:
		tlsOpts = fmt.Sprintf(`ssl sslcertck sslcertfile %q`, srv.caFile)
	}
	rc := filepath.Join(home, "fetchmailrc")
	require.NoError(t, os.WriteFile(rc, []byte(fmt.Sprintf(
		"poll localhost service %s protocol IMAP timeout 20\n  user %q password %q is %q here %s mda %q\n",
		srv.port(run.tr), testUser, testPassword, "nobody", tlsOpts, mda)), 0o600))
	return fetchmailEnv{bin: bin, home: home, rc: rc, out: out}
}

func (e fetchmailEnv) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, e.bin, append([]string{"-f", e.rc, "-v", "--nosyslog", "-N"}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+e.home)
	return cmd
}

// run polls once and returns fetchmail's output; exit status 0 (mail
// delivered) and 1 (no mail) are both success.
func (e fetchmailEnv) run(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := e.command(ctx, args...).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 {
		err = nil
	}
	require.NoError(t, err, "fetchmail %v:\n%s", args, out)
	assertQuiet(t, "fetchmail", string(out), fetchmailTrouble)
	return string(out)
}

// delivered returns what the delivery agent received, keyed by generated
// message number, with fetchmail's own Received header removed and CRLF
// line endings.
func (e fetchmailEnv) delivered(t *testing.T) map[int]string {
	t.Helper()
	entries, err := os.ReadDir(e.out)
	require.NoError(t, err)
	got := map[int]string{}
	for _, ent := range entries {
		if strings.HasPrefix(ent.Name(), ".") {
			continue // still being written
		}
		b, err := os.ReadFile(filepath.Join(e.out, ent.Name()))
		require.NoError(t, err)
		msg := crlf(string(b))
		// fetchmail prepends one Received field (with continuation lines).
		require.True(t, strings.HasPrefix(msg, "Received: "), "delivered message without fetchmail's Received field: %q", msg)
		rest := msg[strings.Index(msg, "\r\n")+2:]
		for strings.HasPrefix(rest, "\t") || strings.HasPrefix(rest, " ") {
			rest = rest[strings.Index(rest, "\r\n")+2:]
		}
		i := messageNumber(t, rest)
		_, dup := got[i]
		require.False(t, dup, "message %d delivered twice", i)
		got[i] = rest
	}
	return got
}

// TestFetchmail fetches mail with fetchmail in each quirk mode and over
// each transport: with keep (bodies arrive intact, the messages stay and
// become \Seen), without keep (the messages are deleted from the server),
// and as an IDLE daemon that must fetch a message moments after it is
// delivered.
func TestFetchmail(t *testing.T) {
	if testing.Short() {
		t.Skip("runs fetchmail")
	}
	bin := requireTool(t, "fetchmail", "fetchmail")
	for _, run := range clientRuns {
		t.Run(run.name(), func(t *testing.T) { testFetchmail(t, bin, run) })
	}
}

func testFetchmail(t *testing.T, bin string, run clientRun) {
	srv := startClientServer(t, run.mode)
	env := newFetchmailEnv(t, bin, srv, run)
	seen := func(i int) []string {
		if i%3 == 0 {
			return []string{string(imap.FlagSeen)}
		}
		return nil
	}
	msgs := srv.seed(t, "INBOX", 0, 10, seen)

	// 1. Keep: only the unseen messages are fetched, intact, and are
	// \Seen afterwards; nothing is deleted.
	out := env.run(t, "--keep")
	switch run.tr {
	case startTLS:
		assert.Regexp(t, fetchmailSTARTTLS, out, "fetchmail did not use STARTTLS")
	case plainText:
		assert.NotRegexp(t, fetchmailSTARTTLS, out)
	}
	got := env.delivered(t)
	for i, body := range msgs {
		if seen(i) != nil {
			assert.NotContains(t, got, i, "seen message %d fetched", i)
			continue
		}
		assert.Equal(t, body, got[i], "message %d as delivered", i)
	}
	remote := readIMAPFolder(t, srv.plainAddr, "INBOX")
	require.Len(t, remote, len(msgs))
	for i := range msgs {
		assert.Equal(t, "S", remote[i].flags, "flags of message %d after a keep fetch", i)
	}

	// 2. No keep, all: everything is fetched again and deleted.
	clearDir(t, env.out)
	env.run(t, "--nokeep", "--all")
	got = env.delivered(t)
	require.Len(t, got, len(msgs))
	for i, body := range msgs {
		assert.Equal(t, body, got[i], "message %d as delivered", i)
	}
	assert.Empty(t, readIMAPFolder(t, srv.plainAddr, "INBOX"), "messages left after a nokeep fetch")

	// 3. IDLE daemon: a message delivered while fetchmail idles is fetched
	// within seconds, twice in a row.
	clearDir(t, env.out)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := env.command(ctx, "--idle", "--daemon", "300", "--nokeep")
	var logs lockedBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	idles := regexp.MustCompile(`IMAP> A\d+ IDLE`)
	for n, i := range []int{20, 21} {
		require.Eventually(t, func() bool { return len(idles.FindAllString(logs.String(), -1)) > n }, 15*time.Second, 50*time.Millisecond,
			"fetchmail did not idle:\n%s", logs.String())
		body := srv.seed(t, "INBOX", i, 1, nil)[i]
		require.Eventually(t, func() bool { _, ok := env.delivered(t)[i]; return ok }, 10*time.Second, 50*time.Millisecond,
			"message %d not fetched while idling:\n%s", i, logs.String())
		assert.Equal(t, body, env.delivered(t)[i])
	}
	// Stop it once it idles again: by then it has expunged what it fetched.
	require.Eventually(t, func() bool { return len(idles.FindAllString(logs.String(), -1)) > 2 }, 15*time.Second, 50*time.Millisecond,
		"fetchmail did not idle again:\n%s", logs.String())
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-waited:
	case <-time.After(15 * time.Second):
		t.Fatalf("fetchmail did not stop after SIGTERM:\n%s", logs.String())
	}
	assertQuiet(t, "fetchmail --idle", logs.String(), fetchmailTrouble, regexp.MustCompile(`terminated with signal 15`))
	assert.Empty(t, readIMAPFolder(t, srv.plainAddr, "INBOX"), "messages left after the IDLE daemon fetched them")
}

func clearDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		require.NoError(t, os.Remove(filepath.Join(dir, e.Name())))
	}
}

// lockedBuffer is a bytes.Buffer safe for a writing child process and a
// reading test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
