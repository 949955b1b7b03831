package server

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/fsm"
	"github.com/imapfsm/imapfsm/server/internal/mailmsg"
	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/boltstore"
)

// mailboxStep is one command of a mailbox-command table and the tagged
// completion it must get (a prefix of it).
type mailboxStep struct {
	cmd  string
	want string
}

// runMailboxSteps runs steps in order on c.
func runMailboxSteps(t *testing.T, c *client, steps []mailboxStep) {
	t.Helper()
	for _, s := range steps {
		_, done := c.cmd("M1", s.cmd)
		assert.True(t, strings.HasPrefix(done, "M1 "+s.want), "%s -> %q, want %q", s.cmd, done, s.want)
	}
}

func TestCreate(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	runMailboxSteps(t, c, []mailboxStep{
		{"CREATE Projects", "OK [MAILBOXID (M"}, // RFC 8474 4.1
		{"CREATE Projects", "NO [ALREADYEXISTS]"},
		{"CREATE projects", "OK"}, // names other than INBOX are case-sensitive
		{"CREATE INBOX", "NO [ALREADYEXISTS]"},
		{"CREATE inbox", "NO [ALREADYEXISTS]"},
		{"CREATE Deep/er/still", "OK"},
		{`CREATE "Later/"`, "OK"}, // RFC 9051 6.3.4: trailing separator
		{`CREATE "Mine" (USE (\Drafts))`, "OK"},
		{`CREATE "Both" (USE (\Drafts \Sent))`, "NO [USEATTR]"},
		{`CREATE "Odd" (USE (\Bogus))`, "NO [USEATTR]"},
		{`CREATE "Odd" (COLOR (red))`, "BAD"},
		{`CREATE "a*b"`, "NO [CANNOT]"},
		{`CREATE "a%b"`, "NO [CANNOT]"},
		{`CREATE "a//b"`, "NO [CANNOT]"},
		{`CREATE ""`, "NO [CANNOT]"},
		{`CREATE`, "BAD"},
		{`CREATE a b`, "BAD"},
	})
	u := c.ok("L1", `LIST "" "*"`)
	assert.Subset(t, u, []string{
		`* LIST (\HasNoChildren) "/" Projects`,
		`* LIST (\HasNoChildren) "/" projects`,
		`* LIST (\HasChildren) "/" Deep`,
		`* LIST (\HasChildren) "/" Deep/er`,
		`* LIST (\HasNoChildren) "/" Deep/er/still`,
		`* LIST (\HasNoChildren) "/" Later`,
		`* LIST (\HasNoChildren \Drafts) "/" Mine`,
	})
	for _, name := range []string{"Both", "Odd", "a*b"} {
		assert.NotContains(t, listedNames(u), name, "a refused CREATE creates nothing")
	}
}

func TestDelete(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	c.ok("C1", "CREATE Work/2024")
	appendMessage(t, c, "Work", "")
	runMailboxSteps(t, c, []mailboxStep{
		{"DELETE INBOX", "NO [CANNOT] INBOX cannot be deleted"},
		{"DELETE inbox", "NO [CANNOT]"},
		{"DELETE Nope", "NO [NONEXISTENT]"},
		{"DELETE Work", "OK DELETE completed"}, // has inferiors: becomes \Noselect
		{"DELETE Work", "NO [INUSE]"},          // \Noselect with inferiors
		{"STATUS Work (MESSAGES)", "NO"},
		{"DELETE Work/2024", "OK"},
		{"DELETE Trash", "OK"},
		{"DELETE", "BAD"},
	})
	u := c.ok("L1", `LIST "" "*"`)
	assert.Contains(t, u, `* LIST (\Noselect \HasNoChildren) "/" Work`)
	assert.NotContains(t, listedNames(u), "Work/2024")
	assert.NotContains(t, listedNames(u), "Trash")
	assert.Contains(t, listedNames(u), "INBOX")
}

func TestRename(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	c.ok("C1", "CREATE a/b/c")
	c.ok("C2", "SUBSCRIBE a/b")
	appendMessage(t, c, "a/b", "")
	appendMessage(t, c, "INBOX", "")
	appendMessage(t, c, "INBOX", "")
	runMailboxSteps(t, c, []mailboxStep{
		{"RENAME a z", "OK RENAME completed"},
		{"RENAME Nope x", "NO [NONEXISTENT]"},
		{"RENAME z Sent", "NO [ALREADYEXISTS]"},
		{"RENAME z z/inner", "NO [CANNOT]"},
		{"RENAME z/b/c new/deep/c", "OK"},
		{"RENAME INBOX Old", "OK"},
		{"RENAME z", "BAD"},
	})
	u := c.ok("L1", `LIST "" "*"`)
	names := listedNames(u)
	assert.Subset(t, names, []string{"z", "z/b", "new", "new/deep", "new/deep/c", "Old", "INBOX"})
	for _, gone := range []string{"a", "a/b", "a/b/c", "z/b/c"} {
		assert.NotContains(t, names, gone)
	}
	assert.Equal(t, uint64(1), statusValue(t, c, "z/b", "MESSAGES"), "messages move with the mailbox")
	assert.Equal(t, uint64(2), statusValue(t, c, "Old", "MESSAGES"), "RENAME INBOX moves its messages")
	assert.Equal(t, uint64(0), statusValue(t, c, "INBOX", "MESSAGES"), "and leaves INBOX empty")
	assert.Equal(t, []string{`* LSUB () "/" z/b`}, c.ok("L2", `LSUB "" "z*"`), "the subscription follows")
}

func TestSubscribe(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	c.ok("C1", "CREATE News")
	runMailboxSteps(t, c, []mailboxStep{
		{"SUBSCRIBE News", "OK SUBSCRIBE completed"},
		{"SUBSCRIBE Nope", "NO [NONEXISTENT]"},
		{"UNSUBSCRIBE Sent", "OK UNSUBSCRIBE completed"},
		{"UNSUBSCRIBE Never", "OK"}, // unsubscribing needs no mailbox
		{"SUBSCRIBE", "BAD"},
		{"UNSUBSCRIBE a b", "BAD"},
	})
	names := listedNames(c.ok("L1", `LSUB "" "*"`))
	assert.Contains(t, names, "News")
	assert.NotContains(t, names, "Sent")

	// A subscription outlives its mailbox (RFC 9051 6.3.7) until removed.
	c.ok("D1", "DELETE News")
	assert.Contains(t, c.ok("L2", `LIST (SUBSCRIBED) "" News`), `* LIST (\NonExistent \Subscribed) "/" News`)
	c.ok("U1", "UNSUBSCRIBE News")
	assert.Empty(t, c.ok("L3", `LIST (SUBSCRIBED) "" News`))
}

// TestTrailingSeparator: Thunderbird's extra trailing "/" is stripped in
// lenient mode and counted; strict mode refuses the name.
func TestTrailingSeparator(t *testing.T) {
	for _, mode := range []fsm.Mode{fsm.Lenient, fsm.Strict} {
		t.Run(mode.String(), func(t *testing.T) {
			ts := newTestServer(t, func(c *Config) { c.Modes = fsm.NewModes(mode) })
			c := ts.dial()
			c.login()
			_, done := c.cmd("A1", `SUBSCRIBE "Junk/"`)
			if mode == fsm.Lenient {
				assert.Equal(t, "A1 OK SUBSCRIBE completed", done)
				assert.Equal(t, int64(1), ts.srv.Metrics().QuirkHits(fsm.QuirkTrailingSeparator))
			} else {
				assert.True(t, strings.HasPrefix(done, "A1 NO [NONEXISTENT]"), done)
			}
		})
	}
}

// TestMailboxNamesStayInsideAccount: names that look like paths are just
// names inside the account; nothing is created outside the data directory
// or named after them inside it.
func TestMailboxNamesStayInsideAccount(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "data")
	ts := newTestServer(t, func(cfg *Config) {
		st, err := boltstore.Open(data, boltstore.Options{Options: store.Options{BcryptCost: 4, Analyzer: mailmsg.Analyze}})
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		require.NoError(t, st.CreateUser(context.Background(), "demo", "demo"))
		cfg.Store = st
	})
	c := ts.dial()
	c.login()
	runMailboxSteps(t, c, []mailboxStep{
		{`CREATE "../x"`, "OK"},
		{`CREATE "../../escape"`, "OK"},
		{`CREATE "/etc/passwd"`, "NO [CANNOT]"}, // empty first level
		{`CREATE "etc/passwd"`, "OK"},
		{`RENAME "../x" "../../y"`, "OK"},
	})
	appendMessage(t, c, `"../../y"`, "")
	appendMessage(t, c, `"etc/passwd"`, "")
	assert.Subset(t, listedNames(c.ok("L1", `LIST "" "*"`)),
		[]string{"..", "../..", "../../escape", "../../y", "etc", "etc/passwd"})

	top, err := os.ReadDir(root)
	require.NoError(t, err)
	require.Len(t, top, 1, "nothing appears beside the data directory")
	assert.Equal(t, "data", top[0].Name())
	var files []string
	require.NoError(t, filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(data, path)
		files = append(files, rel)
		return nil
	}))
	for _, f := range files {
		base := filepath.Base(f)
		assert.NotContains(t, []string{"x", "y", "escape", "passwd", "etc", ".."}, base, "file %s named after a mailbox (all: %v)", f, files)
	}
}

// TestInternationalMailboxNames: modified UTF-7 names (RFC 3501 5.1.3)
// before ENABLE UTF8=ACCEPT, UTF-8 names after it (RFC 6855 3), the same
// mailbox either way.
func TestInternationalMailboxNames(t *testing.T) {
	ts := newTestServer(t)
	rev1 := ts.dial()
	rev1.login()
	rev1.ok("C1", "CREATE &ZeVnLIqe-") // 日本語
	rev1.ok("C2", `CREATE "R&-D"`)     // "&" itself

	utf := ts.dial()
	utf.login()
	utf.ok("E1", "ENABLE UTF8=ACCEPT")
	utf.ok("C3", `CREATE "Grüße/Ünter"`)
	utf.ok("C4", `CREATE "Q&A"`) // a raw "&" is no escape in UTF-8 mode

	assert.Subset(t, listedNames(utf.ok("L1", `LIST "" "*"`)),
		[]string{`"日本語"`, "R&D", `"Grüße"`, `"Grüße/Ünter"`, "Q&A"})
	assert.Subset(t, listedNames(rev1.ok("L2", `LIST "" "*"`)),
		[]string{"&ZeVnLIqe-", "R&-D", "Gr&APwA3w-e", "Gr&APwA3w-e/&ANw-nter", "Q&-A"})
	assert.Equal(t, []string{`* LIST (\HasNoChildren) "/" "Grüße/Ünter"`}, utf.ok("L3", `LIST "" "Grüße/%"`))
	assert.Equal(t, []string{`* LIST (\HasNoChildren) "/" Gr&APwA3w-e/&ANw-nter`}, rev1.ok("L4", `LIST "" Gr&APwA3w-e/%`))

	appendMessage(t, utf, `"日本語"`, "")
	assert.Equal(t, uint64(1), statusValue(t, rev1, "&ZeVnLIqe-", "MESSAGES"))
	_, done := rev1.cmd("B1", `CREATE "&Jjo"`)
	assert.True(t, strings.HasPrefix(done, "B1 NO [CANNOT] "), "invalid modified UTF-7: %s", done)
	utf.ok("D1", `DELETE "Grüße/Ünter"`)
	utf.ok("R1", `RENAME "日本語" "中文"`)
	assert.Contains(t, listedNames(rev1.ok("L5", `LIST "" "*"`)), "&Ti1lhw-")
}

// TestInvalidModifiedUTF7Names: a name that is not valid modified UTF-7
// (RFC 3501 5.1.3) names no mailbox. Commands that look a mailbox up answer
// NO [NONEXISTENT], those that would give a mailbox that name NO [CANNOT];
// none answers BAD, and the session goes on (issue 15, defect 4).
func TestInvalidModifiedUTF7Names(t *testing.T) {
	const name = "!#$&'+,-.0123456789:;<=>?@^_`|[}"
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	for _, tt := range []struct{ cmd, want string }{
		{"SELECT " + name, "N1 NO [NONEXISTENT] "},
		{"EXAMINE " + name, "N1 NO [NONEXISTENT] "},
		{"STATUS " + name + " (MESSAGES)", "N1 NO [NONEXISTENT] "},
		{"DELETE " + name, "N1 NO [NONEXISTENT] "},
		{"SUBSCRIBE " + name, "N1 NO [NONEXISTENT] "},
		{"CREATE " + name, "N1 NO [CANNOT] "},
		{`CREATE "&Jjo"`, "N1 NO [CANNOT] "},
		{"RENAME Archive " + name, "N1 NO [CANNOT] "},
		{"RENAME " + name + " Other", "N1 NO [NONEXISTENT] "},
	} {
		u, done := c.cmd("N1", tt.cmd)
		assert.Empty(t, u, tt.cmd)
		assert.True(t, strings.HasPrefix(done, tt.want), "%s -> %s", tt.cmd, done)
	}
	// More of them than the bad-command limit allows BADs in a row: the
	// session stays open.
	for range 25 {
		_, done := c.cmd("N2", "SELECT "+name)
		require.True(t, strings.HasPrefix(done, "N2 NO [NONEXISTENT] "), done)
	}
	assert.Contains(t, listedNames(c.ok("N3", `LIST "" *`)), "Archive")
}
