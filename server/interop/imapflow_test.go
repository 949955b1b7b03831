package interop_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// imapflowVersion is the imapflow release testdata/install-imapflow.sh
// installs.
const imapflowVersion = "1.7.8"

// imapflowModule returns the directory of the installed imapflow package:
// IMAPFSM_IMAPFLOW/node_modules/imapflow, or the one in the user's cache
// directory that testdata/install-imapflow.sh installs. When it is missing
// the test is skipped, unless CI=true (.ci/run installs it).
func imapflowModule(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("IMAPFSM_IMAPFLOW")
	if dir == "" {
		cache, err := os.UserCacheDir()
		require.NoError(t, err)
		dir = filepath.Join(cache, "imapfsm", "imapflow-"+imapflowVersion)
	}
	mod := filepath.Join(dir, "node_modules", "imapflow")
	if _, err := os.Stat(filepath.Join(mod, "package.json")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("imapflow is not installed in %s; CI must run server/interop/testdata/install-imapflow.sh", dir)
		}
		t.Skipf("imapflow is not installed in %s; run server/interop/testdata/install-imapflow.sh", dir)
	}
	return mod
}

// TestImapflow runs a session of imapflow, the Node.js client library,
// in each quirk mode and over each transport (testdata/imapflow_session.cjs):
// it enables CONDSTORE, QRESYNC, UTF8=ACCEPT and IMAP4rev2 and uses
// COMPRESS=DEFLATE; it lists special-use mailboxes with STATUS, fetches
// every message byte for byte with ENVELOPE and BODYSTRUCTURE, downloads
// decoded parts, appends a UTF-8 message, searches, stores flags and
// fetches CHANGEDSINCE, moves and expunges, idles until another session's
// APPEND arrives, and manages mailboxes with UTF-8 names.
func TestImapflow(t *testing.T) {
	if testing.Short() {
		t.Skip("runs node")
	}
	node := requireTool(t, "node", "nodejs")
	mod := imapflowModule(t)
	script, err := filepath.Abs(filepath.Join("testdata", "imapflow_session.cjs"))
	require.NoError(t, err)
	for _, run := range clientRuns {
		t.Run(run.name(), func(t *testing.T) {
			srv := startClientServer(t, run.mode)
			msgs := srv.seed(t, "INBOX", 0, 5, nil)
			seed := map[string]string{}
			for i, b := range msgs {
				seed[strconv.Itoa(i)] = b
			}
			seedFile := filepath.Join(t.TempDir(), "seed.json")
			b, err := json.Marshal(seed)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(seedFile, b, 0o600))

			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, script, "localhost", srv.port(run.tr), string(run.tr), srv.caFile, testUser, testPassword, seedFile)
			cmd.Env = append(os.Environ(), "IMAPFLOW_MODULE="+mod)
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "imapflow session:\n%s", out)
			assert.Equal(t, "OK", strings.TrimSpace(string(out)))
		})
	}
}
