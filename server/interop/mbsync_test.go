package interop_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mbsyncMessages is how many messages the mbsync test synchronises.
const mbsyncMessages = 1000

// maildirFlags maps maildir info letters to IMAP system flags.
var maildirFlags = map[byte]imap.Flag{
	'D': imap.FlagDraft, 'F': imap.FlagFlagged, 'R': imap.FlagAnswered,
	'S': imap.FlagSeen, 'T': imap.FlagDeleted,
}

var messageIDRE = regexp.MustCompile(`(?mi)^Message-ID: <gen-(\d+)@example\.org>\r?$`)

// messageNumber returns the i of testMessage(i) from a message's bytes.
func messageNumber(t *testing.T, content string) int {
	t.Helper()
	m := messageIDRE.FindStringSubmatch(content)
	require.NotNil(t, m, "no generated Message-ID in %q", content)
	i, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	return i
}

// fromMaildir turns a message file written by mbsync back into the bytes
// the IMAP server holds: mbsync stores LF line endings and may insert one
// X-TUID header it uses to track uploads; nothing else may differ.
func fromMaildir(content string) string {
	content = strings.ReplaceAll(content, "\r\n", "\n")
	head, body, _ := strings.Cut(content, "\n\n")
	var kept []string
	for _, l := range strings.Split(head, "\n") {
		if !strings.HasPrefix(l, "X-TUID: ") {
			kept = append(kept, l)
		}
	}
	return strings.ReplaceAll(strings.Join(kept, "\n")+"\n\n"+body, "\n", "\r\n")
}

// maildirMsg is one message file of a maildir.
type maildirMsg struct {
	path  string // absolute file name
	flags string // info letters after ":2,"
	body  string
}

// readMaildir returns the messages of the maildir dir keyed by their
// generated number.
func readMaildir(t *testing.T, dir string) map[int]maildirMsg {
	t.Helper()
	out := map[int]maildirMsg{}
	for _, sub := range []string{"new", "cur"} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		require.NoError(t, err)
		for _, e := range entries {
			p := filepath.Join(dir, sub, e.Name())
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			_, flags, _ := strings.Cut(e.Name(), ":2,")
			i := messageNumber(t, string(b))
			_, dup := out[i]
			require.False(t, dup, "message %d twice in the maildir", i)
			out[i] = maildirMsg{path: p, flags: flags, body: string(b)}
		}
	}
	return out
}

// setMaildirFlags renames a message file into cur/ with the given flags, as
// a mail user agent marks a message.
func setMaildirFlags(t *testing.T, dir string, m maildirMsg, flags string) {
	t.Helper()
	base, _, _ := strings.Cut(filepath.Base(m.path), ":2,")
	letters := []byte(flags)
	slices.Sort(letters)
	require.NoError(t, os.Rename(m.path, filepath.Join(dir, "cur", base+":2,"+string(letters))))
}

// flagLetters converts IMAP flags to sorted maildir letters, ignoring flags
// without a letter.
func flagLetters(flags []imap.Flag) string {
	var letters []byte
	for l, f := range maildirFlags {
		if slices.Contains(flags, f) {
			letters = append(letters, l)
		}
	}
	slices.Sort(letters)
	return string(letters)
}

func sortedLetters(s string) string {
	b := []byte(s)
	slices.Sort(b)
	return string(b)
}

// imapMsg is one message of the server's INBOX.
type imapMsg struct {
	uid   imap.UID
	flags string // as maildir letters
	body  string
}

// readIMAPInbox fetches every message of INBOX, keyed by generated number.
func readIMAPInbox(t *testing.T, addr string) map[int]imapMsg {
	t.Helper()
	c := dialClient(t, addr, nil)
	defer c.Logout()
	_, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
	require.NoError(t, err)
	msgs, err := c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{
		UID: true, Flags: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	}).Collect()
	require.NoError(t, err)
	out := map[int]imapMsg{}
	for _, m := range msgs {
		require.Len(t, m.BodySection, 1)
		body := string(m.BodySection[0].Bytes)
		i := messageNumber(t, body)
		_, dup := out[i]
		require.False(t, dup, "message %d twice in INBOX", i)
		out[i] = imapMsg{uid: m.UID, flags: flagLetters(m.Flags), body: body}
	}
	return out
}

// storeFlags adds or removes flags over IMAP on the messages numbered nums.
func storeFlags(t *testing.T, c *imapclient.Client, inbox map[int]imapMsg, nums []int, op imap.StoreFlagsOp, flags ...imap.Flag) {
	t.Helper()
	if len(nums) == 0 {
		return
	}
	var uids imap.UIDSet
	for _, i := range nums {
		uids.AddNum(inbox[i].uid)
	}
	require.NoError(t, c.Store(uids, &imap.StoreFlags{Op: op, Silent: true, Flags: flags}, nil).Close())
}

type mbsyncEnv struct {
	bin, home, config string
}

func (e mbsyncEnv) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.bin, "-c", e.config, "--all")
	cmd.Env = append(os.Environ(), "HOME="+e.home)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "mbsync:\n%s", out)
}

// TestMbsync synchronises a mailbox of 1,000 messages with mbsync (isync):
// the download must be exact, flag changes on either side must reach the
// other, deletions propagate and a message written to the maildir is
// uploaded.
func TestMbsync(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns imapd and mbsync")
	}
	mbsync := requireTool(t, "mbsync", "isync")
	bin := buildImapd(t)
	data := newImapdData(t, bin)
	work := t.TempDir()

	msgs := make([]string, mbsyncMessages)
	for i := range msgs {
		msgs[i] = testMessage(i)
	}
	mbox := filepath.Join(work, "seed.mbox")
	writeMbox(t, mbox, msgs)
	out := runImapdCmd(t, bin, "", "import", "--data", data, "--mbox", mbox, "--progress", "0", testUser)
	assert.Contains(t, out, fmt.Sprintf("imported %d messages", mbsyncMessages))

	p := spawnImapd(t, bin, data)
	_, port, _ := strings.Cut(p.addr, ":")
	maildir := filepath.Join(work, "mail")
	inboxDir := filepath.Join(maildir, "INBOX")
	require.NoError(t, os.MkdirAll(maildir, 0o700))
	config := filepath.Join(work, "mbsyncrc")
	require.NoError(t, os.WriteFile(config, []byte(fmt.Sprintf(`IMAPAccount test
Host 127.0.0.1
Port %s
User %s
Pass %s
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account test

MaildirStore local
Path %s/
Inbox %s
SubFolders Verbatim

Channel inbox
Far :remote:
Near :local:
Patterns INBOX
Sync All
Create Both
Expunge Both
SyncState *
`, port, testUser, testPassword, maildir, inboxDir)), 0o600))
	env := mbsyncEnv{bin: mbsync, home: work, config: config}

	// expected holds every message's flags as maildir letters; both sides
	// must agree with it after each run.
	expected := map[int]string{}
	for i := range mbsyncMessages {
		expected[i] = ""
	}
	check := func(t *testing.T, phase string) (map[int]maildirMsg, map[int]imapMsg) {
		t.Helper()
		local := readMaildir(t, inboxDir)
		remote := readIMAPInbox(t, p.addr)
		require.Len(t, local, len(expected), "%s: maildir messages", phase)
		require.Len(t, remote, len(expected), "%s: IMAP messages", phase)
		for i, want := range expected {
			l, ok := local[i]
			require.True(t, ok, "%s: message %d missing from the maildir", phase, i)
			r, ok := remote[i]
			require.True(t, ok, "%s: message %d missing from INBOX", phase, i)
			if i < mbsyncMessages {
				require.Equal(t, msgs[i], fromMaildir(l.body), "%s: message %d in the maildir", phase, i)
				require.Equal(t, msgs[i], r.body, "%s: message %d over IMAP", phase, i)
			}
			assert.Equal(t, want, sortedLetters(l.flags), "%s: maildir flags of message %d", phase, i)
			assert.Equal(t, want, r.flags, "%s: IMAP flags of message %d", phase, i)
		}
		return local, remote
	}

	// 1. Download everything.
	env.run(t)
	local, remote := check(t, "initial sync")

	// 2. Flags set on both sides, a deletion on each side, a new local
	// message.
	c := dialClient(t, p.addr, nil)
	_, err := c.Select("INBOX", nil).Wait()
	require.NoError(t, err)
	var imapSeen, imapFlagged, imapAnswered []int
	for i := range mbsyncMessages {
		switch i % 10 {
		case 0:
			expected[i] = "S"
		case 1:
			expected[i] = "F"
		case 2:
			expected[i] = "FS"
		case 5:
			imapSeen, expected[i] = append(imapSeen, i), "S"
		case 6:
			imapFlagged, expected[i] = append(imapFlagged, i), "F"
		case 7:
			imapAnswered, expected[i] = append(imapAnswered, i), "RS"
			imapSeen = append(imapSeen, i)
		}
		if i%10 <= 2 {
			setMaildirFlags(t, inboxDir, local[i], expected[i])
		}
	}
	storeFlags(t, c, remote, imapSeen, imap.StoreFlagsAdd, imap.FlagSeen)
	storeFlags(t, c, remote, imapFlagged, imap.StoreFlagsAdd, imap.FlagFlagged)
	storeFlags(t, c, remote, imapAnswered, imap.StoreFlagsAdd, imap.FlagAnswered)

	// Deleted on the server: 999. Deleted in the maildir: 998.
	storeFlags(t, c, remote, []int{999}, imap.StoreFlagsAdd, imap.FlagDeleted)
	require.NoError(t, c.UIDExpunge(imap.UIDSetNum(remote[999].uid)).Close())
	delete(expected, 999)
	require.NoError(t, os.Remove(local[998].path))
	delete(expected, 998)
	require.NoError(t, c.Logout().Wait())

	uploaded := strings.ReplaceAll(testMessage(mbsyncMessages), "Subject: ", "X-Origin: maildir\r\nSubject: ")
	require.NoError(t, os.WriteFile(filepath.Join(inboxDir, "new", "1700000000.local1.testhost"),
		[]byte(strings.ReplaceAll(uploaded, "\r\n", "\n")), 0o600))
	expected[mbsyncMessages] = ""

	env.run(t)
	local, remote = check(t, "after changes")
	assert.Equal(t, uploaded, fromMaildir(remote[mbsyncMessages].body), "uploaded message over IMAP")
	assert.Equal(t, uploaded, fromMaildir(local[mbsyncMessages].body), "uploaded message in the maildir")

	// 3. Flags removed on both sides: \Flagged over IMAP from the messages
	// flagged in the maildir, S in the maildir from messages seen over IMAP.
	c = dialClient(t, p.addr, nil)
	_, err = c.Select("INBOX", nil).Wait()
	require.NoError(t, err)
	var unflag []int
	for i := range mbsyncMessages {
		switch i % 10 {
		case 1:
			unflag, expected[i] = append(unflag, i), ""
		case 2:
			unflag, expected[i] = append(unflag, i), "S"
		case 5:
			expected[i] = ""
			setMaildirFlags(t, inboxDir, local[i], "")
		}
	}
	storeFlags(t, c, remote, unflag, imap.StoreFlagsDel, imap.FlagFlagged)
	require.NoError(t, c.Logout().Wait())

	env.run(t)
	check(t, "after removals")
	p.stop()
}
