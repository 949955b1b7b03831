package server

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/fsm"
)

// defaultList is the LIST "" "*" answer for a new account: the six default
// mailboxes with their special-use attributes (RFC 6154 2).
var defaultList = []string{
	`* LIST (\HasNoChildren \Archive) "/" Archive`,
	`* LIST (\HasNoChildren \Drafts) "/" Drafts`,
	`* LIST (\HasNoChildren) "/" INBOX`,
	`* LIST (\HasNoChildren \Junk) "/" Junk`,
	`* LIST (\HasNoChildren \Sent) "/" Sent`,
	`* LIST (\HasNoChildren \Trash) "/" Trash`,
}

// listFixture logs in and creates a small hierarchy next to the defaults.
func listFixture(t *testing.T) (*testServer, *client) {
	t.Helper()
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	for _, name := range []string{"a/b/c", "a/x", "ab"} {
		c.ok("C", "CREATE "+name)
	}
	return ts, c
}

// listedNames extracts the mailbox names from LIST or LSUB lines.
func listedNames(lines []string) []string {
	var names []string
	for _, l := range lines {
		if !strings.HasPrefix(l, "* LIST ") && !strings.HasPrefix(l, "* LSUB ") {
			continue
		}
		i := strings.Index(l, `"/" `)
		if i < 0 {
			continue
		}
		name := l[i+4:]
		if j := strings.Index(name, ` ("CHILDINFO"`); j >= 0 {
			name = name[:j]
		}
		names = append(names, name)
	}
	return names
}

func TestListDefaultMailboxes(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	assert.Equal(t, defaultList, c.ok("A1", `LIST "" "*"`))
	assert.Equal(t, defaultList, c.ok("A2", `LIST "" %`), "no hierarchy: % lists the same")
	assert.Equal(t, []string{`* LIST (\Noselect) "/" ""`}, c.ok("A3", `LIST "" ""`))
	assert.Equal(t, []string{`* LIST (\HasNoChildren) "/" INBOX`}, c.ok("A4", `LIST "" inbox`),
		"INBOX matches case-insensitively")
}

func TestListWildcards(t *testing.T) {
	_, c := listFixture(t)
	tests := []struct {
		args string
		want []string
	}{
		{`"" "a*"`, []string{"a", "a/b", "a/b/c", "a/x", "ab"}},
		{`"" "a%"`, []string{"a", "ab"}},
		{`"" "a/%"`, []string{"a/b", "a/x"}},
		{`"" "%/%"`, []string{"a/b", "a/x"}},
		{`"" "*/c"`, []string{"a/b/c"}},
		{`"" "a/*/c"`, []string{"a/b/c"}},
		{`"" "%/c"`, nil},
		{`"" "*x"`, []string{"a/x"}},
		{`"" "A*"`, []string{"Archive"}},
		{`"" "nothing*"`, nil},
		{`a "%"`, []string{"a/b", "a/x"}},
		{`a/ "*"`, []string{"a/b", "a/b/c", "a/x"}},
		{`a "/b"`, []string{"a/b"}},
		{`"" ("a" "ab" "Trash")`, []string{"Trash", "a", "ab"}},
		{`"" ("a/%" "a*")`, []string{"a", "a/b", "a/b/c", "a/x", "ab"}},
	}
	for i, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			u := c.ok("W"+string(rune('a'+i)), "LIST "+tt.args)
			assert.Equal(t, tt.want, listedNames(u))
		})
	}
	u := c.ok("P1", `LIST "" "a*"`)
	assert.Contains(t, u, `* LIST (\HasChildren) "/" a`)
	assert.Contains(t, u, `* LIST (\HasNoChildren) "/" a/b/c`)
}

func TestListExtended(t *testing.T) {
	_, c := listFixture(t)
	c.ok("S1", "SUBSCRIBE a/b/c")
	c.ok("S2", "CREATE gone")
	c.ok("S3", "SUBSCRIBE gone")
	c.ok("S4", "DELETE gone")
	c.ok("S5", "UNSUBSCRIBE Junk")
	tests := []struct {
		name string
		args string
		want []string
	}{
		{"special-use selection", `(SPECIAL-USE) "" "*"`, []string{
			`* LIST (\HasNoChildren \Archive) "/" Archive`,
			`* LIST (\HasNoChildren \Drafts) "/" Drafts`,
			`* LIST (\HasNoChildren \Junk) "/" Junk`,
			`* LIST (\HasNoChildren \Sent) "/" Sent`,
			`* LIST (\HasNoChildren \Trash) "/" Trash`,
		}},
		{"subscribed selection keeps deleted names", `(SUBSCRIBED) "" "*"`, []string{
			`* LIST (\HasNoChildren \Archive \Subscribed) "/" Archive`,
			`* LIST (\HasNoChildren \Drafts \Subscribed) "/" Drafts`,
			`* LIST (\HasNoChildren \Subscribed) "/" INBOX`,
			`* LIST (\HasNoChildren \Sent \Subscribed) "/" Sent`,
			`* LIST (\HasNoChildren \Trash \Subscribed) "/" Trash`,
			`* LIST (\HasNoChildren \Subscribed) "/" a/b/c`,
			`* LIST (\NonExistent \Subscribed) "/" gone`,
		}},
		{"recursivematch gives childinfo", `(SUBSCRIBED RECURSIVEMATCH) "" "a%"`, []string{
			`* LIST (\HasChildren) "/" a ("CHILDINFO" ("SUBSCRIBED"))`,
		}},
		{"without recursivematch no parent", `(SUBSCRIBED) "" "a%"`, nil},
		{"return subscribed", `"" "%" RETURN (SUBSCRIBED CHILDREN SPECIAL-USE)`, []string{
			`* LIST (\HasNoChildren \Archive \Subscribed) "/" Archive`,
			`* LIST (\HasNoChildren \Drafts \Subscribed) "/" Drafts`,
			`* LIST (\HasNoChildren \Subscribed) "/" INBOX`,
			`* LIST (\HasNoChildren \Junk) "/" Junk`,
			`* LIST (\HasNoChildren \Sent \Subscribed) "/" Sent`,
			`* LIST (\HasNoChildren \Trash \Subscribed) "/" Trash`,
			`* LIST (\HasChildren) "/" a`,
			`* LIST (\HasNoChildren) "/" ab`,
		}},
		{"empty selection is basic LIST", `() "" "a/%" RETURN ()`, []string{
			`* LIST (\HasChildren) "/" a/b`,
			`* LIST (\HasNoChildren) "/" a/x`,
		}},
		{"remote is accepted", `(REMOTE) "" "ab"`, []string{`* LIST (\HasNoChildren) "/" ab`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, c.ok("X1", "LIST "+tt.args))
		})
	}
}

func TestListStatus(t *testing.T) {
	_, c := listFixture(t)
	c.ok("D1", "DELETE a") // a becomes \Noselect: no STATUS for it
	appendMessage(t, c, "INBOX", `(\Seen)`)
	appendMessage(t, c, "INBOX", "")
	u := c.ok("L1", `LIST "" ("INBOX" "a") RETURN (STATUS (MESSAGES UNSEEN UIDNEXT SIZE))`)
	require.Len(t, u, 3)
	assert.Equal(t, `* LIST (\HasNoChildren) "/" INBOX`, u[0])
	assert.Regexp(t, `^\* STATUS INBOX \(MESSAGES 2 UNSEEN 1 UIDNEXT 3 SIZE \d+\)$`, u[1])
	assert.Equal(t, `* LIST (\Noselect \HasChildren) "/" a`, u[2])
}

func TestListBadArguments(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	for _, args := range []string{
		`(RECURSIVEMATCH) "" "*"`,
		`(BOGUS) "" "*"`,
		`"" "*" RETURN (BOGUS)`,
		`"" "*" RETURN (STATUS ())`,
		`"" "*" FOO (CHILDREN)`,
		`"" ()`,
		`""`,
	} {
		t.Run(args, func(t *testing.T) {
			_, done := c.cmd("B1", "LIST "+args)
			assert.True(t, strings.HasPrefix(done, "B1 BAD "), done)
		})
	}
	c.ok("B2", "NOOP")
}

func TestLsub(t *testing.T) {
	for _, mode := range []fsm.Mode{fsm.Lenient, fsm.Strict} {
		t.Run(mode.String(), func(t *testing.T) {
			ts := newTestServer(t, func(c *Config) { c.Modes = fsm.NewModes(mode) })
			c := ts.dial()
			c.login()
			assert.Equal(t, []string{
				`* LSUB (\Archive) "/" Archive`,
				`* LSUB (\Drafts) "/" Drafts`,
				`* LSUB () "/" INBOX`,
				`* LSUB (\Junk) "/" Junk`,
				`* LSUB (\Sent) "/" Sent`,
				`* LSUB (\Trash) "/" Trash`,
			}, c.ok("A1", `LSUB "" "*"`), "special-use attributes in both modes (lsub-special-use)")
			c.ok("A2", "CREATE p/q")
			c.ok("A3", "SUBSCRIBE p/q")
			assert.Equal(t, []string{`* LSUB (\Noselect) "/" p`}, c.ok("A4", `LSUB "" "p"`),
				"an unsubscribed superior is listed \\Noselect for %")
			assert.Equal(t, []string{`* LSUB (\Noselect) "/" p`}, c.ok("A5", `LSUB "" "%"`)[6:])
			assert.Equal(t, []string{`* LSUB () "/" p/q`}, c.ok("A6", `LSUB p %`))
			assert.Equal(t, []string{`* LSUB (\Noselect) "/" ""`}, c.ok("A7", `LSUB "" ""`))
		})
	}
}

func TestStatus(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	appendMessage(t, c, "Drafts", `(\Seen \Deleted)`)
	appendMessage(t, c, "Drafts", "")
	uidValidity := statusValue(t, c, "Drafts", "UIDVALIDITY")
	require.NotZero(t, uidValidity)
	tests := []struct {
		items string
		want  string
	}{
		{"(MESSAGES)", "(MESSAGES 2)"},
		{"(UIDNEXT UNSEEN DELETED)", "(UIDNEXT 3 UNSEEN 1 DELETED 1)"},
		{"(recent messages)", "(RECENT 2 MESSAGES 2)"}, // no session selected Drafts yet
		{"(MESSAGES MESSAGES)", "(MESSAGES 2)"},
	}
	for _, tt := range tests {
		t.Run(tt.items, func(t *testing.T) {
			u := c.ok("S1", "STATUS Drafts "+tt.items)
			assert.Equal(t, []string{"* STATUS Drafts " + tt.want}, u)
		})
	}
	assert.NotZero(t, statusValue(t, c, "Drafts", "SIZE"))

	for _, args := range []string{"Drafts ()", "Drafts (FOO)", "Drafts", "Drafts MESSAGES"} {
		_, done := c.cmd("S2", "STATUS "+args)
		assert.True(t, strings.HasPrefix(done, "S2 BAD "), "%s -> %s", args, done)
	}
	_, done := c.cmd("S3", "STATUS nope (MESSAGES)")
	assert.Equal(t, "S3 NO [NONEXISTENT] No such mailbox", done)
}

// TestStatusSelected: STATUS on the selected mailbox (neomutt, imapfilter)
// is answered with fresh counts and flagged [CLIENTBUG] in both modes.
func TestStatusSelected(t *testing.T) {
	for _, mode := range []fsm.Mode{fsm.Lenient, fsm.Strict} {
		t.Run(mode.String(), func(t *testing.T) {
			ts := newTestServer(t, func(c *Config) { c.Modes = fsm.NewModes(mode) })
			c := ts.dial()
			c.login()
			c.ok("A1", "SELECT INBOX")
			other := ts.dial()
			other.login()
			appendMessage(t, other, "INBOX", "")
			u, done := c.cmd("A2", "STATUS INBOX (MESSAGES)")
			assert.Equal(t, "A2 OK [CLIENTBUG] STATUS on the selected mailbox completed", done)
			assert.Contains(t, u, "* STATUS INBOX (MESSAGES 1)", "fresh counts")
			assert.Equal(t, int64(1), ts.srv.Metrics().QuirkHits(fsm.QuirkStatusSelected))
			_, done = c.cmd("A3", "STATUS Sent (MESSAGES)")
			assert.Equal(t, "A3 OK STATUS completed", done, "another mailbox is not the quirk")
			assert.Equal(t, int64(1), ts.srv.Metrics().QuirkHits(fsm.QuirkStatusSelected))
		})
	}
}

func TestMatchPattern(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"*", "a/b/c", true},
		{"%", "a/b", false},
		{"%", "a", true},
		{"a/%", "a/b", true},
		{"a/%", "a/b/c", false},
		{"a/%/c", "a/b/c", true},
		{"a*c", "a/b/c", true},
		{"a%c", "a/b/c", false},
		{"a%c", "abc", true},
		{"", "", true},
		{"", "a", false},
		{"%%*%", "x/y", true},
		{"%%", "x/y", false},
		{"Gr%e", "Grüße", true},
		{"Grü%", "Grüße", true},
		{"*ß*", "Grüße", true},
		{"b", "B", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, matchPattern(tt.pattern, tt.name), "%q ~ %q", tt.pattern, tt.name)
	}
	// A hostile pattern stays polynomial.
	start := time.Now()
	assert.False(t, matchPattern(strings.Repeat("%a", 500)+"b", strings.Repeat("a", 1000)))
	assert.Less(t, time.Since(start), 2*time.Second)
}

func TestJoinReference(t *testing.T) {
	tests := []struct{ ref, pattern, want string }{
		{"", "*", "*"},
		{"a", "%", "a/%"},
		{"a/", "%", "a/%"},
		{"a", "/b", "a/b"},
		{"", "inbox/%", "INBOX/%"},
		{"Inbox", "x", "INBOX/x"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, joinReference(tt.ref, tt.pattern), "%q + %q", tt.ref, tt.pattern)
	}
}

// statusValue returns one STATUS item of a mailbox.
func statusValue(t *testing.T, c *client, mailbox, item string) uint64 {
	t.Helper()
	u := c.ok("SV", "STATUS "+mailbox+" ("+item+")")
	require.Len(t, u, 1)
	var v uint64
	_, err := fmt.Sscanf(u[0][strings.LastIndex(u[0], item+" "):], item+" %d)", &v)
	require.NoError(t, err, u[0])
	return v
}

// TestListInvalidModifiedUTF7Pattern: a LIST or LSUB pattern or reference
// that is not valid modified UTF-7 is matched as sent; it never fails the
// command nor ends the session (issue 15, defect 4).
func TestListInvalidModifiedUTF7Pattern(t *testing.T) {
	const name = "!#$&'+,-.0123456789:;<=>?@^_`|[}"
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	_, done := c.cmd("P0", "SELECT "+name)
	require.True(t, strings.HasPrefix(done, "P0 NO "), done)
	for _, cmd := range []string{
		`LIST "" ` + name + `%*`,
		`LIST "" "` + name + `%*"`,
		`LIST "" (` + name + `%* "&Jjo")`,
		`LIST (SUBSCRIBED) "" ` + name + `*`,
		`LIST ` + name + ` %`,
		`LSUB "" ` + name + `%*`,
		`LSUB "&Jjo" *`,
	} {
		assert.Empty(t, c.ok("P1", cmd), cmd)
	}
	// Matched as sent: a name with those very characters is listed.
	c.ok("P2", `CREATE "a&-b"`) // the name a&b
	assert.Equal(t, []string{`* LIST (\HasNoChildren) "/" a&-b`}, c.ok("P3", `LIST "" a&b*`))
	c.ok("P4", "NOOP")
}
