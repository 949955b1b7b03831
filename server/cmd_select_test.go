package server

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// withPrefix returns the lines of u that start with prefix.
func withPrefix(u []string, prefix string) []string {
	var out []string
	for _, l := range u {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// TestSelectRevisionResponses: SELECT and EXAMINE answer each session in
// the revision it speaks (issue 15, defect 6). IMAP4rev1 (no ENABLE
// IMAP4rev2) gets OK [UNSEEN n] with the first unseen message when there
// is one (RFC 3501 6.3.1) and no LIST response; IMAP4rev2 gets the
// mailbox's LIST response with the attributes LIST reports (RFC 9051
// 6.3.2) and no UNSEEN.
func TestSelectRevisionResponses(t *testing.T) {
	ts := newTestServer(t)
	appendMsg(t, ts, "INBOX", fixturePlain, `\Seen`)
	appendMsg(t, ts, "INBOX", fixturePlain, `\Seen`)
	appendMsg(t, ts, "INBOX", fixturePlain)
	appendMsg(t, ts, "INBOX", fixturePlain)
	appendMsg(t, ts, "Sent", fixturePlain, `\Seen`)

	rev1 := ts.dial()
	rev1.login()
	rev1.ok("C1", "CREATE INBOX/sub")
	for _, cmd := range []string{"SELECT", "EXAMINE"} {
		u := rev1.ok("S1", cmd+" INBOX")
		assert.Equal(t, []string{"* OK [UNSEEN 3] First unseen"}, withPrefix(u, "* OK [UNSEEN "), "%s: %q", cmd, u)
		assert.Empty(t, withPrefix(u, "* LIST "), "%s: %q", cmd, u)
		// No unseen message: no UNSEEN response code.
		u = rev1.ok("S2", cmd+" Sent")
		assert.Empty(t, withPrefix(u, "* OK [UNSEEN "), "%s: %q", cmd, u)
		assert.Empty(t, withPrefix(u, "* LIST "), "%s: %q", cmd, u)
	}
	// The first unseen message as the session numbers it, after an
	// expunge moved it.
	rev1.ok("S3", "SELECT INBOX")
	rev1.ok("S4", `STORE 1 +FLAGS.SILENT (\Deleted)`)
	rev1.ok("S5", "EXPUNGE")
	u := rev1.ok("S6", "SELECT INBOX")
	assert.Equal(t, []string{"* OK [UNSEEN 2] First unseen"}, withPrefix(u, "* OK [UNSEEN "), "%q", u)

	rev2 := ts.dial()
	rev2.login()
	rev2.ok("E1", "ENABLE IMAP4rev2")
	for _, tt := range []struct{ name, list string }{
		{"INBOX", `* LIST (\HasChildren) "/" INBOX`},
		{"INBOX/sub", `* LIST (\HasNoChildren) "/" INBOX/sub`},
		{"Sent", `* LIST (\HasNoChildren \Sent) "/" Sent`},
		{"Trash", `* LIST (\HasNoChildren \Trash) "/" Trash`},
	} {
		for _, cmd := range []string{"SELECT", "EXAMINE"} {
			u := rev2.ok("S1", cmd+" "+tt.name)
			require.Equal(t, []string{tt.list}, withPrefix(u, "* LIST "), "%s %s: %q", cmd, tt.name, u)
			assert.Empty(t, withPrefix(u, "* OK [UNSEEN "), "%s %s: %q", cmd, tt.name, u)
		}
	}
}

// recentUIDs returns the UIDs a session's FETCH responses flag \Recent.
func recentUIDs(t *testing.T, c *client) []string {
	t.Helper()
	var out []string
	for _, l := range c.ok("RU", "FETCH 1:* (UID FLAGS)") {
		m := regexp.MustCompile(`UID (\d+) FLAGS \(([^)]*)\)`).FindStringSubmatch(l)
		require.NotNil(t, m, l)
		if slices.Contains(strings.Fields(m[2]), `\Recent`) {
			out = append(out, m[1])
		}
	}
	return out
}

// TestRecentRev1: \Recent for IMAP4rev1 sessions (RFC 3501 2.3.2; issue 15,
// defect 2). The first session to SELECT the mailbox after a message
// arrived, or the first with it selected read-write when it arrives, has it
// as \Recent: RECENT responses on SELECT and with EXISTS, the flag in
// FETCH, the search keys RECENT, NEW and OLD. EXAMINE shows the count but
// claims nothing (RFC 3501 6.3.2); STATUS (RECENT) counts the messages no
// session claimed; IMAP4rev2 sessions never see \Recent.
func TestRecentRev1(t *testing.T) {
	ts := newTestServer(t)
	appendMsg(t, ts, "INBOX", fixturePlain) // seen by an earlier session: old
	appendNew(t, ts, "INBOX", fixturePlain, `\Seen`)
	appendNew(t, ts, "INBOX", fixturePlain)

	a := ts.dial()
	a.login()
	assert.Equal(t, []string{"* STATUS INBOX (RECENT 2)"}, a.ok("A1", "STATUS INBOX (RECENT)"))

	// EXAMINE shows the count, flags nothing and takes nothing.
	b := ts.dial()
	b.login()
	u := b.ok("B1", "EXAMINE INBOX")
	assert.Equal(t, []string{"* 2 RECENT"}, withPrefix(u, "* 2 RECENT"), "%q", u)
	assert.Empty(t, recentUIDs(t, b))
	assert.Equal(t, []string{"* SEARCH"}, b.ok("B2", "SEARCH RECENT"))
	assert.Equal(t, []string{"* STATUS INBOX (RECENT 2)"}, a.ok("A2", "STATUS INBOX (RECENT)"))

	// IMAP4rev2 knows no \Recent and takes nothing either.
	r2 := ts.dial()
	r2.login()
	r2.ok("E1", "ENABLE IMAP4rev2")
	u = r2.ok("R1", "SELECT INBOX")
	for _, l := range u {
		assert.NotContains(t, l, "RECENT", "%q", u)
	}
	assert.Empty(t, recentUIDs(t, r2))
	assert.Equal(t, []string{"* STATUS INBOX (RECENT 2)"}, a.ok("A3", "STATUS INBOX (RECENT)"))

	// The first IMAP4rev1 SELECT claims them.
	u = a.ok("A4", "SELECT INBOX")
	assert.Contains(t, u, "* 2 RECENT")
	assert.Equal(t, []string{"2", "3"}, recentUIDs(t, a))
	assert.Equal(t, []string{"* SEARCH 2 3"}, a.ok("A5", "SEARCH RECENT"))
	assert.Equal(t, []string{"* SEARCH 3"}, a.ok("A6", "SEARCH NEW"))
	assert.Equal(t, []string{"* SEARCH 1"}, a.ok("A7", "SEARCH OLD"))
	assert.Equal(t, []string{"* SEARCH 1 3"}, a.ok("A8", "UID SEARCH OR OLD NEW"))
	u = a.ok("A9", `STORE 3 +FLAGS (\Flagged)`)
	assert.Equal(t, []string{`* 3 FETCH (FLAGS (\Flagged \Recent))`}, u)
	// Nobody else gets them.
	u = b.ok("B3", "SELECT INBOX")
	assert.Contains(t, u, "* 0 RECENT")
	assert.Empty(t, recentUIDs(t, b))
	assert.Equal(t, []string{"* SEARCH 1 2 3"}, b.ok("B4", "SEARCH OLD"))
	c := ts.dial()
	c.login()
	assert.Equal(t, []string{"* STATUS INBOX (RECENT 0)"}, c.ok("C1", "STATUS INBOX (RECENT)"))
	assert.Equal(t, []string{"* STATUS INBOX (RECENT 0)"}, r2.ok("R2", "STATUS INBOX (RECENT)"))

	// A message arriving while both have INBOX selected read-write is
	// recent for the first of them to learn of it.
	appendNew(t, ts, "INBOX", fixturePlain)
	assert.Equal(t, []string{"* 4 EXISTS", "* 1 RECENT"}, b.ok("B5", "NOOP"))
	assert.Equal(t, []string{"* 4 EXISTS", "* 2 RECENT"}, a.ok("A10", "NOOP"))
	assert.Equal(t, []string{"4"}, recentUIDs(t, b))
	assert.Equal(t, []string{"2", "3"}, recentUIDs(t, a))
	u = r2.ok("R3", "NOOP")
	assert.Contains(t, u, "* 4 EXISTS")
	for _, l := range u {
		assert.NotContains(t, l, "RECENT")
	}
	// An expunged recent message is no longer counted.
	a.ok("A11", `STORE 2 +FLAGS.SILENT (\Deleted)`)
	assert.Equal(t, []string{"* 2 EXPUNGE"}, a.ok("A12", "EXPUNGE"))
	appendNew(t, ts, "INBOX", fixturePlain)
	assert.Equal(t, []string{"* 4 EXISTS", "* 2 RECENT"}, a.ok("A13", "NOOP"))
	assert.Equal(t, []string{"3", "5"}, recentUIDs(t, a))
}

// TestRecentOneSessionUnderLoad: messages arriving while several IMAP4rev1
// sessions idle on the mailbox are each \Recent in exactly one of them.
func TestRecentOneSessionUnderLoad(t *testing.T) {
	ts := newTestServer(t)
	const sessions, msgs = 4, 12
	var idlers []*client
	for i := range sessions {
		idlers = append(idlers, idleOn(t, ts, "I"+strconv.Itoa(i)))
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for range msgs / 3 {
				appendNew(t, ts, "INBOX", fixturePlain)
			}
		})
	}
	wg.Wait()
	owners := map[string]int{}
	for i, c := range idlers {
		waitForExists(t, c, msgs)
		c.send("DONE\r\n")
		_, done := c.until("I" + strconv.Itoa(i))
		require.True(t, strings.HasPrefix(done, "I"+strconv.Itoa(i)+" OK"), done)
		c.ok("N", "NOOP")
		for _, uid := range recentUIDs(t, c) {
			owners[uid]++
		}
	}
	require.Len(t, owners, msgs, "every message is recent somewhere: %v", owners)
	for uid, n := range owners {
		assert.Equal(t, 1, n, "UID %s is recent in %d sessions", uid, n)
	}
}

// waitForExists reads pushed lines until "* n EXISTS".
func waitForExists(t *testing.T, c *client, n int) {
	t.Helper()
	want := "* " + strconv.Itoa(n) + " EXISTS"
	for range 1000 {
		if c.line() == want {
			return
		}
	}
	t.Fatalf("never saw %q", want)
}
