package interop_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
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
)

// buildImapd compiles the imapd command into a temporary directory.
func buildImapd(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go tool is not on PATH; cannot build imapd")
	}
	bin := filepath.Join(t.TempDir(), "imapd")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goTool, "build", "-o", bin, "github.com/imapfsm/imapfsm/server/cmd/imapd").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

var listeningRE = regexp.MustCompile(`msg="imapd listening" imap=(\S+)`)

// startImapd runs "imapd serve" on a free loopback port and returns its
// IMAP address; the process is stopped with SIGTERM at the end of the test,
// which must make it exit 0.
func startImapd(t *testing.T, bin, data string) string {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--data", data, "--listen", "127.0.0.1:0", "--insecure-auth")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())

	var logs bytes.Buffer
	addrc := make(chan string, 1)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs.WriteString(sc.Text() + "\n")
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				addrc <- m[1]
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	exited := make(chan error, 1)
	stop := func() {
		if cmd.ProcessState == nil {
			cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	t.Cleanup(func() {
		stop()
		select {
		case err := <-exited:
			<-copied
			assert.NoError(t, err, "imapd did not exit cleanly after SIGTERM; logs:\n%s", logs.String())
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Errorf("imapd did not stop within 20s of SIGTERM")
		}
	})
	go func() {
		<-copied
		exited <- cmd.Wait()
	}()
	select {
	case addr := <-addrc:
		return addr
	case <-time.After(30 * time.Second):
		t.Fatalf("imapd did not start listening; logs:\n%s", logs.String())
	}
	return ""
}

func TestPythonImaplib(t *testing.T) {
	python := requireTool(t, "python3", "python3")
	bin := buildImapd(t)
	data := filepath.Join(t.TempDir(), "data")

	add := exec.Command(bin, "user", "add", "--data", data, testUser)
	add.Stdin = strings.NewReader(testPassword + "\n")
	out, err := add.CombinedOutput()
	require.NoError(t, err, "user add: %s", out)
	// The script reads these limits back with GETQUOTA and GETQUOTAROOT.
	out, err = exec.Command(bin, "user", "quota", "--data", data, "--storage", "10M", "--messages", "100", testUser).CombinedOutput()
	require.NoError(t, err, "user quota: %s", out)

	addr := startImapd(t, bin, data)
	host, port, ok := strings.Cut(addr, ":")
	require.True(t, ok, addr)

	script, err := filepath.Abs(filepath.Join("testdata", "imaplib_session.py"))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	py := exec.CommandContext(ctx, python, script, host, port, testUser, testPassword)
	py.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	out, err = py.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 3 && os.Getenv("CI") != "true" {
		t.Skipf("the server does not implement a command the script needs yet: %s", strings.TrimSpace(string(out)))
	}
	require.NoError(t, err, "python imaplib session:\n%s", out)
	assert.Equal(t, "OK", strings.TrimSpace(string(out)))
}
