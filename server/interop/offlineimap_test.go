package interop_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// assertQuiet fails when a line of a client's output matches trouble (the
// form in which that client reports errors), apart from the lines allowed
// matches.
func assertQuiet(t *testing.T, client, out string, trouble *regexp.Regexp, allowed ...*regexp.Regexp) {
	t.Helper()
lines:
	for _, l := range trouble.FindAllString(out, -1) {
		for _, a := range allowed {
			if a.MatchString(l) {
				continue lines
			}
		}
		t.Errorf("%s reported a problem: %q\nfull output:\n%s", client, l, out)
	}
}

// offlineimapTrouble matches offlineimap's error and warning lines and a
// Python traceback.
var offlineimapTrouble = regexp.MustCompile(`(?m)^.*(ERROR|WARNING|Traceback|[Ee]xception:).*$`)

// readIMAPFolder fetches every message of mailbox over the plaintext
// listener, keyed by generated number.
func readIMAPFolder(t *testing.T, addr, mailbox string) map[int]imapMsg {
	t.Helper()
	c := dialClient(t, addr, nil)
	defer c.Logout()
	sel, err := c.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
	require.NoError(t, err)
	out := map[int]imapMsg{}
	if sel.NumMessages == 0 {
		return out
	}
	msgs, err := c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{
		UID: true, Flags: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	}).Collect()
	require.NoError(t, err)
	for _, m := range msgs {
		require.Len(t, m.BodySection, 1)
		body := string(m.BodySection[0].Bytes)
		i := messageNumber(t, body)
		_, dup := out[i]
		require.False(t, dup, "message %d twice in %s", i, mailbox)
		out[i] = imapMsg{uid: m.UID, flags: flagLetters(m.Flags), body: body}
	}
	return out
}

// TestOfflineIMAP runs a two-way synchronisation with offlineimap3 in
// each quirk mode, over plaintext and implicit TLS: the first run downloads two
// folders exactly (bodies byte for byte, flags), then flag changes,
// deletions and a new message on each side must reach the other, and a
// last run must find nothing left to do.
func TestOfflineIMAP(t *testing.T) {
	if testing.Short() {
		t.Skip("runs offlineimap")
	}
	bin := requireTool(t, "offlineimap", "offlineimap3")
	for _, run := range clientRuns {
		if run.tr == startTLS {
			// About one run in eight, offlineimap 8.0.0 (imaplib2 3.05)
			// stalled after "Establishing connection" over STARTTLS and
			// never finished; not yet explained, so STARTTLS is left to the
			// other clients until it is.
			continue
		}
		t.Run(run.name(), func(t *testing.T) { testOfflineIMAP(t, bin, run) })
	}
}

func testOfflineIMAP(t *testing.T, bin string, run clientRun) {
	srv := startClientServer(t, run.mode)
	flagsOf := func(i int) []string {
		switch i % 4 {
		case 1:
			return []string{string(imap.FlagSeen)}
		case 2:
			return []string{string(imap.FlagFlagged), string(imap.FlagAnswered)}
		}
		return nil
	}
	inbox := srv.seed(t, "INBOX", 0, 12, flagsOf)
	work := srv.seed(t, "Work", 100, 6, flagsOf)

	dir := t.TempDir()
	mail := filepath.Join(dir, "mail")
	ssl, starttls := "no", "no"
	switch run.tr {
	case startTLS:
		starttls = "yes"
	case tlsDirect:
		ssl = "yes"
	}
	rc := filepath.Join(dir, "offlineimaprc")
	require.NoError(t, os.WriteFile(rc, []byte(fmt.Sprintf(`[general]
accounts = test
metadata = %s/meta
maxsyncaccounts = 1

[Account test]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = %s

[Repository remote]
type = IMAP
remotehost = localhost
remoteport = %s
remoteuser = %s
remotepass = %s
ssl = %s
starttls = %s
sslcacertfile = %s
maxconnections = 2
folderfilter = lambda f: f in ['INBOX', 'Work']
`, dir, mail, srv.port(run.tr), testUser, testPassword, ssl, starttls, srv.caFile)), 0o600))

	sync := func(phase string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "-c", rc, "-o", "-u", "basic")
		cmd.Env = append(os.Environ(), "HOME="+dir)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "offlineimap (%s):\n%s", phase, out)
		assertQuiet(t, "offlineimap ("+phase+")", string(out), offlineimapTrouble)
	}
	// expected holds, per folder, the flags (as maildir letters) of every
	// message that must exist on both sides, and bodies its content.
	bodies := map[int]string{}
	expected := map[string]map[int]string{"INBOX": {}, "Work": {}}
	for folder, msgs := range map[string]map[int]string{"INBOX": inbox, "Work": work} {
		for i, b := range msgs {
			bodies[i] = b
			var letters []imap.Flag
			for _, f := range flagsOf(i) {
				letters = append(letters, imap.Flag(f))
			}
			expected[folder][i] = flagLetters(letters)
		}
	}
	check := func(phase string) map[string]map[int]maildirMsg {
		t.Helper()
		locals := map[string]map[int]maildirMsg{}
		for folder, want := range expected {
			local := readMaildir(t, filepath.Join(mail, folder))
			remote := readIMAPFolder(t, srv.plainAddr, folder)
			require.Len(t, local, len(want), "%s: %s maildir messages", phase, folder)
			require.Len(t, remote, len(want), "%s: %s IMAP messages", phase, folder)
			for i, flags := range want {
				l, ok := local[i]
				require.True(t, ok, "%s: message %d missing from the %s maildir", phase, i, folder)
				r, ok := remote[i]
				require.True(t, ok, "%s: message %d missing from %s over IMAP", phase, i, folder)
				assert.Equal(t, bodies[i], crlf(l.body), "%s: message %d in the maildir", phase, i)
				assert.Equal(t, bodies[i], r.body, "%s: message %d over IMAP", phase, i)
				assert.Equal(t, flags, sortedLetters(l.flags), "%s: maildir flags of message %d", phase, i)
				assert.Equal(t, flags, r.flags, "%s: IMAP flags of message %d", phase, i)
			}
			locals[folder] = local
		}
		return locals
	}

	sync("initial")
	local := check("initial")

	// Server side: flag 0, unflag 2, expunge 3 (INBOX); expunge 101 (Work).
	c := dialClient(t, srv.plainAddr, nil)
	remote := readIMAPFolder(t, srv.plainAddr, "INBOX")
	_, err := c.Select("INBOX", nil).Wait()
	require.NoError(t, err)
	storeFlags(t, c, remote, []int{0}, imap.StoreFlagsAdd, imap.FlagFlagged)
	expected["INBOX"][0] = "F"
	storeFlags(t, c, remote, []int{2}, imap.StoreFlagsDel, imap.FlagFlagged)
	expected["INBOX"][2] = "R"
	storeFlags(t, c, remote, []int{3}, imap.StoreFlagsAdd, imap.FlagDeleted)
	require.NoError(t, c.UIDExpunge(imap.UIDSetNum(remote[3].uid)).Close())
	delete(expected["INBOX"], 3)
	remoteWork := readIMAPFolder(t, srv.plainAddr, "Work")
	_, err = c.Select("Work", nil).Wait()
	require.NoError(t, err)
	storeFlags(t, c, remoteWork, []int{101}, imap.StoreFlagsAdd, imap.FlagDeleted)
	require.NoError(t, c.Expunge().Close())
	delete(expected["Work"], 101)
	require.NoError(t, c.Logout().Wait())

	// Local side: seen on 4 and 5, 6 deleted, a new message in each folder.
	inboxDir := filepath.Join(mail, "INBOX")
	setMaildirFlags(t, inboxDir, local["INBOX"][4], "S")
	expected["INBOX"][4] = "S"
	setMaildirFlags(t, inboxDir, local["INBOX"][5], "FS")
	expected["INBOX"][5] = "FS"
	require.NoError(t, os.Remove(local["INBOX"][6].path))
	delete(expected["INBOX"], 6)
	for folder, i := range map[string]int{"INBOX": 500, "Work": 501} {
		bodies[i] = mimeMessage(i)
		require.NoError(t, os.WriteFile(filepath.Join(mail, folder, "new", fmt.Sprintf("1700000000.local%d.testhost", i)),
			[]byte(crlfToLF(bodies[i])), 0o600))
		expected[folder][i] = ""
	}

	sync("changes")
	check("after changes")
	sync("idempotent")
	check("after a run with nothing to do")
}

func crlfToLF(s string) string { return regexp.MustCompile("\r\n").ReplaceAllString(s, "\n") }
