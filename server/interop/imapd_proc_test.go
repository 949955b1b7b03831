package interop_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// requireTool returns the path of an external program the test needs. When
// it is missing the test is skipped, unless CI=true: on CI the tool is
// installed by .ci/run, so its absence is a failure.
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed (Debian package %q); CI must provide it", name, pkg)
	}
	t.Skipf("%s is not installed (Debian package %q); install it to run this test", name, pkg)
	return ""
}

// runImapdCmd runs one administrative imapd command to completion and
// returns its standard output.
func runImapdCmd(t *testing.T, bin string, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "imapd %s\nstdout: %s\nstderr: %s", strings.Join(args, " "), stdout.String(), stderr.String())
	return stdout.String()
}

// newImapdData creates a data directory holding the test account and
// returns its path.
func newImapdData(t *testing.T, bin string) string {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	runImapdCmd(t, bin, testPassword+"\n", "user", "add", "--data", data, testUser)
	return data
}

// imapdProc is one "imapd serve" child process that the test may kill.
type imapdProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	addr   string
	mu     sync.Mutex
	logs   bytes.Buffer
	exited chan struct{}
	err    error
}

// spawnImapd starts "imapd serve" on a free loopback port and waits until
// it listens. The process is killed at the end of the test if still alive.
func spawnImapd(t *testing.T, bin, data string) *imapdProc {
	t.Helper()
	return spawnImapdArgs(t, bin, "serve", "--data", data, "--listen", "127.0.0.1:0", "--insecure-auth")
}

func (p *imapdProc) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *imapdProc) kill() {
	p.t.Helper()
	require.NoError(p.t, p.cmd.Process.Signal(syscall.SIGKILL))
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		p.t.Fatal("imapd did not die after SIGKILL")
	}
}

// stop sends SIGTERM and requires a clean exit.
func (p *imapdProc) stop() {
	p.t.Helper()
	require.NoError(p.t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.exited:
		require.NoError(p.t, p.err, "imapd did not exit cleanly after SIGTERM; logs:\n%s", p.logText())
	case <-time.After(20 * time.Second):
		p.t.Fatalf("imapd did not stop within 20s of SIGTERM")
	}
}

// testMessage returns message number i of a generated mailbox, with CRLF
// line endings, a unique Message-ID and a body whose size varies with i. A
// few messages have body lines that an mbox must quote.
func testMessage(i int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: Sender %d <sender%d@example.org>\r\n", i%7, i%7)
	b.WriteString("To: demo@example.org\r\n")
	fmt.Fprintf(&b, "Subject: generated message %04d\r\n", i)
	fmt.Fprintf(&b, "Date: Tue, 05 Mar 2024 %02d:%02d:00 +0000\r\n", (i/60)%24, i%60)
	fmt.Fprintf(&b, "Message-ID: <gen-%d@example.org>\r\n", i)
	b.WriteString("\r\n")
	fmt.Fprintf(&b, "Message %d.\r\n", i)
	for j := range i % 40 {
		fmt.Fprintf(&b, "line %d of message %d: the quick brown fox jumps over the lazy dog\r\n", j, i)
	}
	if i%50 == 3 {
		b.WriteString("From the archive: a line an mbox writer quotes.\r\n")
		b.WriteString(">From an already quoted line.\r\n")
	}
	b.WriteString("-- \r\nend\r\n")
	return b.String()
}

// writeMbox writes msgs (CRLF line endings) as an mboxrd file with LF line
// endings, quoting body lines that start with "From " or ">...From ".
func writeMbox(t *testing.T, path string, msgs []string) {
	t.Helper()
	var b bytes.Buffer
	for _, m := range msgs {
		b.WriteString("From sender@example.org Tue Mar  5 10:00:00 2024\n")
		for _, line := range strings.SplitAfter(strings.ReplaceAll(m, "\r\n", "\n"), "\n") {
			if strings.HasPrefix(strings.TrimLeft(line, ">"), "From ") {
				b.WriteString(">")
			}
			b.WriteString(line)
		}
		b.WriteString("\n")
	}
	require.NoError(t, os.WriteFile(path, b.Bytes(), 0o600))
}
