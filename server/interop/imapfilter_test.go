package interop_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// imapfilterTrouble matches the lines in which imapfilter reports a
// failure (its messages start with "imapfilter:") and Lua errors.
var imapfilterTrouble = regexp.MustCompile(`(?m)^.*(imapfilter: |lua: |stack traceback|attempt to ).*$`)

// TestImapfilter runs testdata/imapfilter_session.lua with imapfilter in
// each quirk mode and over each transport: STATUS (also of the selected
// mailbox, which imapfilter does), SEARCH by flag, subject and header
// field, STORE, COPY, MOVE, delete with EXPUNGE, BODYSTRUCTURE, a whole
// message fetched intact, and IDLE woken by a delivery.
func TestImapfilter(t *testing.T) {
	if testing.Short() {
		t.Skip("runs imapfilter")
	}
	bin := requireTool(t, "imapfilter", "imapfilter")
	script, err := filepath.Abs(filepath.Join("testdata", "imapfilter_session.lua"))
	require.NoError(t, err)
	for _, run := range clientRuns {
		t.Run(run.name(), func(t *testing.T) {
			srv := startClientServer(t, run.mode)
			msgs := srv.seed(t, "INBOX", 0, 6, func(i int) []string {
				if i == 0 {
					return []string{string(imap.FlagSeen)}
				}
				return nil
			})
			srv.seed(t, "Work", 0, 0, nil)

			home := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			// -t: trust the test certificate; stdin is empty, so an
			// untrusted certificate fails instead of prompting.
			cmd := exec.CommandContext(ctx, bin, "-t", srv.caFile, "-c", script)
			cmd.Env = append(os.Environ(), "HOME="+home,
				"IF_PORT="+srv.port(run.tr), "IF_TRANSPORT="+string(run.tr), "IF_USER="+testUser, "IF_PASSWORD="+testPassword)
			var logs lockedBuffer
			cmd.Stdout, cmd.Stderr = &logs, &logs
			require.NoError(t, cmd.Start())
			waited := make(chan error, 1)
			go func() { waited <- cmd.Wait() }()
			require.Eventually(t, func() bool { return strings.Contains(logs.String(), "IDLE-START\n") }, 30*time.Second, 50*time.Millisecond,
				"imapfilter did not reach IDLE:\n%s", logs.String())
			time.Sleep(300 * time.Millisecond) // let it send IDLE
			srv.seed(t, "INBOX", 6, 1, nil)
			select {
			case err := <-waited:
				require.NoError(t, err, "imapfilter:\n%s", logs.String())
			case <-time.After(20 * time.Second):
				t.Fatalf("imapfilter did not leave IDLE after a delivery:\n%s", logs.String())
			}
			out := logs.String()
			assertQuiet(t, "imapfilter", out, imapfilterTrouble)

			head, rest, ok := strings.Cut(out, "MESSAGE-BEGIN\n")
			require.True(t, ok, out)
			message, tail, ok := strings.Cut(rest, "MESSAGE-END\n")
			require.True(t, ok, out)
			assert.Equal(t, msgs[4], crlf(message), "the message imapfilter fetched")
			assert.Equal(t, "STATUS 6 5 7\nUNSEEN 5\nSUBJECT 1\nMIME 1\nPARTS 4\n", head)
			assert.Equal(t, "STATUS 4 0 7\nIDLE-START\nIDLE-END true\nSTATUS 5 1 8\n", tail)

			inbox := readIMAPFolder(t, srv.plainAddr, "INBOX")
			assert.Len(t, inbox, 5)
			for _, i := range []int{0, 1, 4, 5, 6} {
				require.Contains(t, inbox, i)
			}
			assert.Equal(t, "FS", inbox[1].flags)
			assert.Equal(t, "S", inbox[5].flags)
			assert.Empty(t, inbox[6].flags)
			work := readIMAPFolder(t, srv.plainAddr, "Work")
			require.Len(t, work, 1)
			assert.Equal(t, msgs[1], work[1].body)
			archive := readIMAPFolder(t, srv.plainAddr, "Archive")
			require.Len(t, archive, 1)
			assert.Equal(t, msgs[3], archive[3].body)
		})
	}
}
