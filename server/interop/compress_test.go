package interop_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPythonCompress runs COMPRESS=DEFLATE (RFC 4978) against a client
// whose DEFLATE is zlib (Python's imaplib with zlib streams, wbits -15 and
// a sync flush per command): a large APPEND goes up compressed and comes
// back intact through the server's compressor. Neither imaplib nor go-imap
// v2's client has a COMPRESS command; the script adds it.
func TestPythonCompress(t *testing.T) {
	python := requireTool(t, "python3", "python3")
	srv := startServer(t, "")
	host, port, ok := strings.Cut(srv.addr, ":")
	require.True(t, ok, srv.addr)
	script, err := filepath.Abs(filepath.Join("testdata", "imaplib_compress.py"))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	py := exec.CommandContext(ctx, python, script, host, port, testUser, testPassword)
	py.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	out, err := py.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		t.Fatalf("python COMPRESS session (exit %d):\n%s", ee.ExitCode(), out)
	}
	require.NoError(t, err, "%s", out)
	assert.Equal(t, "OK", strings.TrimSpace(string(out)))
}
