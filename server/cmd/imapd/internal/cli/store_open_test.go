package cli

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/pgstore/pgtest"
)

func TestNeedStore(t *testing.T) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	assert.ErrorContains(t, needStore(fs, "", ""), "--data is required (or --store URL")
	assert.ErrorContains(t, needStore(fs, "d", "postgres://h/db"), "not both")
	assert.ErrorContains(t, needStore(fs, "", "mysql://h/db"), "postgres://")
	assert.NoError(t, needStore(fs, "d", ""))
	assert.NoError(t, needStore(fs, "", "postgresql://h/db"))
	assert.Equal(t, "postgres://u:xxxxx@h/db", redactURL("postgres://u:secret@h/db"))
	assert.Equal(t, "postgres://u@h/db", redactURL("postgres://u@h/db"))
}

// TestUserAndImportWithPostgres runs "user add", "user list" and "import"
// against a PostgreSQL store and reads the result back through the store.
func TestUserAndImportWithPostgres(t *testing.T) {
	bcryptCost = 4
	url, schema := pgtest.SchemaOn(t, pgtest.StartForTest(t))
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	storeURL := url + sep + "search_path=" + schema
	ctx := context.Background()
	run := func(stdin string, args ...string) (int, string, string) {
		var out, errOut strings.Builder
		code := Run(ctx, args, Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut})
		return code, out.String(), errOut.String()
	}
	code, _, stderr := run("s3cret\n", "user", "add", "--store", storeURL, "alice")
	require.Equal(t, ExitOK, code, stderr)
	code, stdout, stderr := run("", "user", "list", "--store", storeURL)
	require.Equal(t, ExitOK, code, stderr)
	assert.Equal(t, "alice\n", stdout)
	code, _, stderr = run("", "user", "list", "--store", storeURL, "--data", t.TempDir())
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, stderr, "not both")

	mbox := filepath.Join(t.TempDir(), "in.mbox")
	require.NoError(t, os.WriteFile(mbox, []byte("From a@example.org Mon Jan  1 00:00:00 2024\nSubject: one\n\nfirst\n\n"+
		"From b@example.org Mon Jan  1 00:00:00 2024\nSubject: two\n\nsecond\n"), 0o600))
	code, _, stderr = run("", "import", "--store", storeURL, "--mbox", mbox, "alice")
	require.Equal(t, ExitOK, code, stderr)

	st, err := openStoreAt(ctx, "", storeURL, nil)
	require.NoError(t, err)
	defer st.Close()
	u, err := st.Authenticate(ctx, "alice", "s3cret")
	require.NoError(t, err)
	status, err := u.Status(ctx, store.Inbox)
	require.NoError(t, err)
	assert.Equal(t, uint32(2), status.Messages)
}
