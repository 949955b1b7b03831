package server

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncSetup stores n messages and returns two sessions that selected INBOX.
func syncSetup(t *testing.T, n int) (*testServer, *client, *client) {
	ts := newTestServer(t)
	for range n {
		appendMsg(t, ts, "INBOX", fixturePlain)
	}
	a, b := ts.dial(), ts.dial()
	a.login()
	b.login()
	a.ok("A0", "SELECT INBOX")
	b.ok("B0", "SELECT INBOX")
	return ts, a, b
}

// TestSyncFlagsAndExpunge: one session STOREs and EXPUNGEs; the other
// learns of it with NOOP, but gets no EXPUNGE during FETCH, STORE or SEARCH
// (RFC 9051 7.5.1).
func TestSyncFlagsAndExpunge(t *testing.T) {
	_, a, b := syncSetup(t, 4)
	a.ok("A1", `STORE 2 +FLAGS (\Flagged)`)
	assert.Equal(t, []string{`* 2 FETCH (UID 2 FLAGS (\Flagged))`}, b.ok("B1", "NOOP"))
	assert.Empty(t, b.ok("B2", "NOOP"), "announced once")

	a.ok("A2", `STORE 3 +FLAGS.SILENT (\Deleted)`)
	assert.Equal(t, []string{"* 3 EXPUNGE"}, a.ok("A3", "EXPUNGE"))

	// FETCH, STORE and SEARCH keep the old numbering: no EXPUNGE.
	u := b.ok("B3", "FETCH 1:4 UID")
	assert.Equal(t, []string{"* 1 FETCH (UID 1)", "* 2 FETCH (UID 2)", "* 4 FETCH (UID 4)"}, u, "message 3 is gone but numbers are kept")
	for _, l := range u {
		assert.NotContains(t, l, "EXPUNGE")
	}
	u = b.ok("B4", `STORE 3:4 +FLAGS (\Seen)`)
	assert.Equal(t, []string{`* 4 FETCH (FLAGS (\Seen))`}, u, "a STORE on a message expunged by another session is skipped, still OK")
	assert.Equal(t, []string{"* SEARCH 4"}, b.ok("B5", "SEARCH SEEN"))
	// NOOP delivers the EXPUNGE; the numbering then follows.
	assert.Equal(t, []string{"* 3 EXPUNGE"}, b.ok("B6", "NOOP"))
	assert.Equal(t, []string{"* 3 FETCH (UID 4)"}, b.ok("B7", "FETCH 3 UID"))
	// The first session sees the second one's STORE.
	assert.Equal(t, []string{`* 3 FETCH (UID 4 FLAGS (\Seen))`}, a.ok("A4", "NOOP"))
}

// TestSyncUIDCommandsMayExpunge: UID FETCH may carry EXPUNGE responses
// (RFC 9051 7.5.1 note), and EXISTS follows appends by others.
func TestSyncUIDCommandsMayExpunge(t *testing.T) {
	ts, a, b := syncSetup(t, 3)
	a.ok("A1", `STORE 1 +FLAGS.SILENT (\Deleted)`)
	a.ok("A2", "EXPUNGE")
	appendMsg(t, ts, "INBOX", fixturePlain)
	u := b.ok("B1", "UID FETCH 2 UID")
	// Another session claimed the new message as \Recent (RFC 3501 2.3.2).
	assert.Equal(t, []string{"* 2 FETCH (UID 2)", "* 1 EXPUNGE", "* 3 EXISTS", "* 0 RECENT"}, u)
	assert.Equal(t, []string{"* 1 FETCH (UID 2)", "* 2 FETCH (UID 3)", "* 3 FETCH (UID 4)"}, b.ok("B2", "FETCH 1:* UID"))
}

// TestSyncExistsAfterExpungeAndAppend: when one message goes and one
// arrives, EXPUNGE and then EXISTS are both sent, even though the count is
// back where it was.
func TestSyncExistsAfterExpungeAndAppend(t *testing.T) {
	ts, a, b := syncSetup(t, 2)
	a.ok("A1", `STORE 1 +FLAGS.SILENT (\Deleted)`)
	a.ok("A2", "EXPUNGE")
	appendMsg(t, ts, "INBOX", fixturePlain)
	assert.Equal(t, []string{"* 1 EXPUNGE", "* 2 EXISTS", "* 0 RECENT"}, b.ok("B1", "NOOP"))
	assert.Empty(t, b.ok("B2", "NOOP"), "no unchanged EXISTS (zero-exists quirk)")
}

// TestSyncIdlePush: an idling session gets EXISTS at once after another
// session's APPEND, and EXPUNGE after another's EXPUNGE.
func TestSyncIdlePush(t *testing.T) {
	ts, a, b := syncSetup(t, 1)
	b.send("I1 IDLE\r\n")
	require.Equal(t, "+ idling", b.line())
	appendMsg(t, ts, "INBOX", fixturePlain)
	assert.Equal(t, "* 2 EXISTS", b.line())
	// appendMsg claims the message right after appending it; the push may
	// come first.
	assert.Regexp(t, `^\* [01] RECENT$`, b.line())
	a.ok("A1", "NOOP")
	a.ok("A2", `STORE 1 +FLAGS (\Deleted)`)
	assert.Equal(t, `* 1 FETCH (UID 1 FLAGS (\Deleted))`, b.line())
	a.ok("A3", "EXPUNGE")
	assert.Equal(t, "* 1 EXPUNGE", b.line())
	b.send("DONE\r\n")
	_, done := b.until("I1")
	assert.True(t, strings.HasPrefix(done, "I1 OK"), done)
	assert.Equal(t, []string{"* 1 FETCH (UID 2)"}, b.ok("B1", "FETCH 1:* UID"))
}

// TestSyncMoveSeenByOther: a MOVE is an expunge for the other session.
func TestSyncMoveSeenByOther(t *testing.T) {
	_, a, b := syncSetup(t, 3)
	a.ok("A1", "MOVE 2 Archive")
	assert.Equal(t, []string{"* SEARCH 3"}, b.ok("B1", "SEARCH 2:3"), "no EXPUNGE during SEARCH; numbering kept")
	assert.Equal(t, []string{"* 2 EXPUNGE"}, b.ok("B2", "CHECK"))
}
