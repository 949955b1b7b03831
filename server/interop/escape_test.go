package interop_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// snapshot lists every path below root, relative to it.
func snapshot(t *testing.T, root string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = true
		return nil
	}))
	return out
}

// TestMailboxNameCannotEscapeDataDir creates mailboxes whose names look like
// relative paths and checks that nothing appears outside the data directory
// and that inside it only the store's own files exist.
func TestMailboxNameCannotEscapeDataDir(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "data")
	srv := startServer(t, data)
	before := snapshot(t, root)

	c := dialRaw(t, srv.addr)
	c.line()
	c.write("a1 LOGIN demo demo\r\n")
	lines := c.until("a1")
	require.True(t, strings.HasPrefix(lines[len(lines)-1], "a1 OK"), "%q", lines)

	names := []string{"../x", "../../x", "/tmp/x", "..", "x/../../y", `..\x`, "./x"}
	created := 0
	for i, name := range names {
		tag := "c" + string(rune('a'+i))
		c.write(tag + " CREATE \"" + strings.ReplaceAll(name, `\`, `\\`) + "\"\r\n")
		lines := c.until(tag)
		last := lines[len(lines)-1]
		if strings.Contains(last, notYet) {
			t.Skipf("CREATE is not implemented by the server yet: %q", last)
		}
		require.Regexp(t, `^`+tag+` (OK|NO|BAD)`, last, "CREATE %q", name)
		if strings.HasPrefix(last, tag+" OK") {
			created++
			// A created mailbox must be usable under its own name.
			c.write(tag + "s SELECT \"" + strings.ReplaceAll(name, `\`, `\\`) + "\"\r\n")
			lines := c.until(tag + "s")
			assert.Regexp(t, `^`+tag+`s OK`, lines[len(lines)-1], "SELECT %q", name)
		}
	}
	t.Logf("%d of %d path-like names were accepted as ordinary mailbox names", created, len(names))

	// Append a message so that the store writes message content too.
	srv.appendDirect(t, "INBOX", "Subject: escape\r\n\r\nbody\r\n")
	c.write("z LOGOUT\r\n")
	c.until("z")

	after := snapshot(t, root)
	for p := range after {
		if p == "." || p == "data" || strings.HasPrefix(p, "data/") {
			continue
		}
		t.Errorf("file outside the data directory: %s", p)
	}
	for p := range after {
		if before[p] || !strings.HasPrefix(p, "data/") {
			continue
		}
		top := strings.SplitN(strings.TrimPrefix(p, "data/"), "/", 2)[0]
		assert.Contains(t, []string{"mail.db", "blobs", "tmp"}, top, "unexpected file in the data directory: %s", p)
		assert.NotContains(t, []string{"x", "y", ".."}, filepath.Base(p), "a file named after a mailbox: %s", p)
	}
	// Nothing appeared next to the temporary directory either.
	parent := filepath.Dir(root)
	_, err := os.Stat(filepath.Join(parent, "x"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}
