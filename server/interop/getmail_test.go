package interop_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/fsm"
)

// getmailTrouble matches the lines in which getmail reports a failure.
var getmailTrouble = regexp.MustCompile(`(?mi)^.*\b(error|failed|failure|unexpected|traceback|exception|warning|timed out|aborted|refused)\b.*$`)

// getmailRuns: getmail has no STARTTLS, so it is run in each quirk mode
// over plaintext and over implicit TLS.
var getmailRuns = []clientRun{
	{fsm.Lenient, plainText},
	{fsm.Strict, tlsDirect},
}

// TestGetmail retrieves mail from two folders with getmail6 in each quirk
// mode and over plaintext and implicit TLS: bodies arrive byte for byte
// and nothing is deleted, a second run retrieves nothing, a run with
// --delete empties the folders, and getmail --idle retrieves a message
// moments after it is delivered.
func TestGetmail(t *testing.T) {
	if testing.Short() {
		t.Skip("runs getmail")
	}
	bin := requireTool(t, "getmail", "getmail6")
	for _, run := range getmailRuns {
		t.Run(run.name(), func(t *testing.T) { testGetmail(t, bin, run) })
	}
}

func testGetmail(t *testing.T, bin string, run clientRun) {
	srv := startClientServer(t, run.mode)
	// Few messages: getmail takes a third of a second for each.
	msgs := srv.seed(t, "INBOX", 2, 3, nil)
	for i, b := range srv.seed(t, "Work", 103, 2, nil) {
		msgs[i] = b
	}

	dir := t.TempDir()
	// getmail refuses to write a maildir as root (and CI runs as root),
	// so it delivers to a command that writes each message to a file.
	out := filepath.Join(dir, "out")
	require.NoError(t, os.Mkdir(out, 0o700))
	mda := filepath.Join(dir, "mda.sh")
	require.NoError(t, os.WriteFile(mda, []byte("#!/bin/sh\nset -e\ncat > "+out+"/.msg.$$\nmv "+out+"/.msg.$$ "+out+"/msg.$$\n"), 0o700))
	retriever := "SimpleIMAPRetriever"
	tlsOpts := ""
	if run.tr == tlsDirect {
		retriever = "SimpleIMAPSSLRetriever"
		tlsOpts = "ca_certs = " + srv.caFile + "\n"
	}
	rc := filepath.Join(dir, "getmailrc")
	require.NoError(t, os.WriteFile(rc, []byte(fmt.Sprintf(`[retriever]
type = %s
server = localhost
port = %s
username = %s
password = %s
mailboxes = ("INBOX", "Work")
record_mailbox = false
%s
[destination]
type = MDA_external
path = %s
allow_root_commands = true
unixfrom = false

[options]
verbose = 2
read_all = false
delete = false
delivered_to = false
received = false
`, retriever, srv.port(run.tr), testUser, testPassword, tlsOpts, mda)), 0o600))

	command := func(ctx context.Context, args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, bin, append([]string{"--getmaildir", dir, "--rcfile", rc}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+dir, "PYTHONUNBUFFERED=1")
		return cmd
	}
	getmail := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := command(ctx, args...).CombinedOutput()
		require.NoError(t, err, "getmail %v:\n%s", args, out)
		assertQuiet(t, "getmail", string(out), getmailTrouble)
		return string(out)
	}
	retrieved := func() map[int]string {
		got := map[int]string{}
		entries, err := os.ReadDir(out)
		require.NoError(t, err)
		for _, e := range entries {
			if e.Name()[0] == '.' {
				continue // still being written
			}
			b, err := os.ReadFile(filepath.Join(out, e.Name()))
			require.NoError(t, err)
			i := messageNumber(t, string(b))
			_, dup := got[i]
			require.False(t, dup, "message %d retrieved twice", i)
			// getmail adds a Return-Path field (the envelope sender,
			// unknown over IMAP) at the top; nothing else may differ.
			got[i] = strings.TrimPrefix(crlf(string(b)), "Return-Path: <unknown>\r\n")
		}
		return got
	}

	// 1. Everything is retrieved intact and stays on the server.
	log := getmail()
	assert.Contains(t, log, "5 messages (", "getmail's summary:\n%s", log)
	got := retrieved()
	require.Len(t, got, len(msgs))
	for i, body := range msgs {
		assert.Equal(t, body, got[i], "message %d as retrieved", i)
	}
	assert.Len(t, readIMAPFolder(t, srv.plainAddr, "INBOX"), 3)
	assert.Len(t, readIMAPFolder(t, srv.plainAddr, "Work"), 2)

	// 2. Nothing new: nothing retrieved.
	log = getmail()
	assert.Contains(t, log, "0 messages (", "getmail's summary:\n%s", log)
	assert.Len(t, retrieved(), len(msgs))

	// 3. --all --delete: everything again, then the folders are empty.
	clearDir(t, out)
	getmail("--all", "--delete")
	got = retrieved()
	require.Len(t, got, len(msgs))
	for i, body := range msgs {
		assert.Equal(t, body, got[i], "message %d as retrieved with --delete", i)
	}
	assert.Empty(t, readIMAPFolder(t, srv.plainAddr, "INBOX"))
	assert.Empty(t, readIMAPFolder(t, srv.plainAddr, "Work"))

	// 4. --idle INBOX: message 30, there from the start, is retrieved by
	// the first pass; message 31, delivered once that pass is over, can
	// only arrive through IDLE (getmail does not poll while idling).
	clearDir(t, out)
	first := srv.seed(t, "INBOX", 30, 1, nil)[30]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := command(ctx, "--idle", "INBOX")
	var logs lockedBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	require.Eventually(t, func() bool { _, ok := retrieved()[30]; return ok }, 15*time.Second, 50*time.Millisecond,
		"getmail --idle did not retrieve the waiting message:\n%s", logs.String())
	assert.Equal(t, first, retrieved()[30])
	time.Sleep(500 * time.Millisecond) // let it enter IDLE
	second := srv.seed(t, "INBOX", 31, 1, nil)[31]
	require.Eventually(t, func() bool { _, ok := retrieved()[31]; return ok }, 15*time.Second, 50*time.Millisecond,
		"message not retrieved while idling:\n%s", logs.String())
	assert.Equal(t, second, retrieved()[31])
	assert.Contains(t, logs.String(), "IDLE message received")
	// Stop it once it idles again (the summary of the second pass is
	// out): a signal in the middle of a pass can hang getmail 6.18.
	require.Eventually(t, func() bool { return strings.Count(logs.String(), " retrieved, ") >= 2 }, 15*time.Second, 50*time.Millisecond,
		"getmail did not finish its second pass:\n%s", logs.String())
	time.Sleep(300 * time.Millisecond)
	// What getmail says while it runs must be clean; how it stops is its
	// own affair (6.18 may raise an exception on a signal).
	assertQuiet(t, "getmail --idle", logs.String(), getmailTrouble)
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-waited:
	case <-time.After(15 * time.Second):
		t.Fatalf("getmail did not stop after SIGTERM:\n%s", logs.String())
	}
}
