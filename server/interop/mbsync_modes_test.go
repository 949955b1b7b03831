package interop_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMbsyncStrictTLS complements TestMbsync (a large mailbox, lenient,
// plaintext) with a small two-way synchronisation against a strict server
// over STARTTLS and over implicit TLS, with certificate verification.
func TestMbsyncStrictTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("runs mbsync")
	}
	bin := requireTool(t, "mbsync", "isync")
	for _, run := range clientRuns {
		if run.tr == plainText {
			continue // TestMbsync
		}
		t.Run(run.name(), func(t *testing.T) {
			srv := startClientServer(t, run.mode)
			msgs := srv.seed(t, "INBOX", 0, 10, nil)
			work := t.TempDir()
			maildir := filepath.Join(work, "mail")
			inboxDir := filepath.Join(maildir, "INBOX")
			require.NoError(t, os.MkdirAll(maildir, 0o700))
			sslType := "STARTTLS"
			if run.tr == tlsDirect {
				sslType = "IMAPS"
			}
			config := filepath.Join(work, "mbsyncrc")
			require.NoError(t, os.WriteFile(config, []byte(fmt.Sprintf(`IMAPAccount test
Host localhost
Port %s
User %s
Pass %s
SSLType %s
CertificateFile %s
AuthMechs LOGIN

IMAPStore remote
Account test

MaildirStore local
Path %s/
Inbox %s

Channel inbox
Far :remote:
Near :local:
Patterns INBOX
Sync All
Create Both
Expunge Both
SyncState *
`, srv.port(run.tr), testUser, testPassword, sslType, srv.caFile, maildir, inboxDir)), 0o600))
			env := mbsyncEnv{bin: bin, home: work, config: config}

			expected := map[int]string{}
			for i := range msgs {
				expected[i] = ""
			}
			check := func(phase string) map[int]maildirMsg {
				t.Helper()
				local := readMaildir(t, inboxDir)
				remote := readIMAPFolder(t, srv.plainAddr, "INBOX")
				require.Len(t, local, len(expected), "%s: maildir messages", phase)
				require.Len(t, remote, len(expected), "%s: IMAP messages", phase)
				for i, want := range expected {
					require.Contains(t, local, i, phase)
					require.Contains(t, remote, i, phase)
					assert.Equal(t, msgs[i], fromMaildir(local[i].body), "%s: message %d in the maildir", phase, i)
					assert.Equal(t, msgs[i], remote[i].body, "%s: message %d over IMAP", phase, i)
					assert.Equal(t, want, sortedLetters(local[i].flags), "%s: maildir flags of %d", phase, i)
					assert.Equal(t, want, remote[i].flags, "%s: IMAP flags of %d", phase, i)
				}
				return local
			}

			env.run(t)
			local := check("initial")

			setMaildirFlags(t, inboxDir, local[0], "S")
			expected[0] = "S"
			require.NoError(t, os.Remove(local[3].path))
			delete(expected, 3)
			remote := readIMAPFolder(t, srv.plainAddr, "INBOX")
			c := dialClient(t, srv.plainAddr, nil)
			_, err := c.Select("INBOX", nil).Wait()
			require.NoError(t, err)
			storeFlags(t, c, remote, []int{1}, imap.StoreFlagsAdd, imap.FlagFlagged, imap.FlagAnswered)
			expected[1] = "FR"
			storeFlags(t, c, remote, []int{2}, imap.StoreFlagsAdd, imap.FlagDeleted)
			require.NoError(t, c.Expunge().Close())
			delete(expected, 2)
			require.NoError(t, c.Logout().Wait())

			env.run(t)
			check("after changes")
		})
	}
}
