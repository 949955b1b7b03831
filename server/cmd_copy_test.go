package server

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// copySetup starts a server with four messages in INBOX (UIDs 1..4) and a
// client that selected it; "Archive" is one of the default mailboxes.
func copySetup(t *testing.T) (*testServer, *client) {
	ts := newTestServer(t)
	for range 4 {
		appendMsg(t, ts, "INBOX", fixturePlain)
	}
	c := ts.dial()
	c.login()
	c.ok("S1", "SELECT INBOX")
	return ts, c
}

// uidValidity returns the UIDVALIDITY of a mailbox through STATUS-free
// means: an EXAMINE on a second connection.
func uidValidity(t *testing.T, ts *testServer, mailbox string) string {
	c := ts.dial()
	c.login()
	for _, l := range c.ok("V1", "EXAMINE "+mailbox) {
		if rest, found := strings.CutPrefix(l, "* OK [UIDVALIDITY "); found {
			return rest[:strings.IndexByte(rest, ']')]
		}
	}
	t.Fatal("no UIDVALIDITY")
	return ""
}

// TestCopy checks COPY and UID COPY with COPYUID (RFC 4315) and TRYCREATE.
func TestCopy(t *testing.T) {
	ts, c := copySetup(t)
	v := uidValidity(t, ts, "Archive")
	cases := []struct{ cmd, want string }{
		{"COPY 2:3 Archive", "A1 OK [COPYUID " + v + " 2:3 1:2] COPY completed"},
		{"UID COPY 4,1 Archive", "A1 OK [COPYUID " + v + " 1,4 3:4] COPY completed"},
		{"UID COPY 99 Archive", "A1 OK COPY completed; no messages"},
		{"COPY 1 Nowhere", "A1 NO [TRYCREATE] Destination mailbox does not exist"},
		{"UID COPY 99 Nowhere", "A1 NO [TRYCREATE] Destination mailbox does not exist"},
		{"COPY 5 Archive", "A1 BAD Invalid message sequence number"},
	}
	for _, tc := range cases {
		t.Run(tc.cmd, func(t *testing.T) {
			u, done := c.cmd("A1", tc.cmd)
			assert.Equal(t, tc.want, done)
			assert.Empty(t, u)
		})
	}
	a := ts.dial()
	a.login()
	u := a.ok("B1", "EXAMINE Archive")
	assert.Contains(t, u, "* 4 EXISTS")
	// The source is unchanged.
	assert.Len(t, c.ok("C1", "FETCH 1:* UID"), 4)
}

// TestCopyIntoSelected: copying into the selected mailbox announces the new
// messages with EXISTS.
func TestCopyIntoSelected(t *testing.T) {
	_, c := copySetup(t)
	u, done := c.cmd("A1", "COPY 1 INBOX")
	assert.Contains(t, done, "A1 OK [COPYUID ")
	assert.Equal(t, []string{"* 5 EXISTS", "* 1 RECENT"}, u)
}

// TestMove checks MOVE and UID MOVE (RFC 6851): COPYUID first, then the
// EXPUNGE responses, then OK.
func TestMove(t *testing.T) {
	ts, c := copySetup(t)
	v := uidValidity(t, ts, "Archive")
	u, done := c.cmd("M1", "MOVE 2:3 Archive")
	assert.Equal(t, "M1 OK MOVE completed", done)
	assert.Equal(t, []string{"* OK [COPYUID " + v + " 2:3 1:2] Moved", "* 3 EXPUNGE", "* 2 EXPUNGE"}, u)
	// Now INBOX holds UIDs 1 and 4 as messages 1 and 2.
	assert.Equal(t, []string{"* 1 FETCH (UID 1)", "* 2 FETCH (UID 4)"}, c.ok("M2", "FETCH 1:* UID"))
	u, done = c.cmd("M3", "UID MOVE 4 Archive")
	assert.Equal(t, "M3 OK MOVE completed", done)
	assert.Equal(t, []string{"* OK [COPYUID " + v + " 4 3] Moved", "* 2 EXPUNGE"}, u)
	_, done = c.cmd("M4", "MOVE 1 Nowhere")
	assert.Equal(t, "M4 NO [TRYCREATE] Destination mailbox does not exist", done)
	assert.Equal(t, []string{"* 1 FETCH (UID 1)"}, c.ok("M5", "FETCH 1:* UID"))

	a := ts.dial()
	a.login()
	assert.Contains(t, a.ok("B1", "SELECT Archive"), "* 3 EXISTS")
	// EXAMINE: the machine refuses MOVE, COPY is allowed.
	c.ok("E1", "EXAMINE INBOX")
	_, done = c.cmd("E2", "MOVE 1 Archive")
	require.False(t, strings.HasPrefix(done, "E2 OK"), done)
	_, done = c.cmd("E3", "COPY 1 Archive")
	assert.True(t, strings.HasPrefix(done, "E3 OK [COPYUID "), done)
}

// TestCopySourceDeleted: when the selected mailbox was deleted underneath
// the session, COPY and MOVE fail with NO [NONEXISTENT], not with
// [TRYCREATE] for a destination that exists (a client would create it and
// retry forever). Found while extending the wire properties.
func TestCopySourceDeleted(t *testing.T) {
	_, c := copySetup(t)
	c.ok("C1", "COPY 1 Archive")
	c.ok("S2", "SELECT Archive")
	c.ok("D1", "DELETE Archive")
	for _, cmd := range []string{"COPY 1 INBOX", "UID COPY 1 INBOX", "MOVE 1 INBOX", "UID MOVE 1 INBOX"} {
		_, done := c.cmd("A1", cmd)
		assert.Equal(t, "A1 NO [NONEXISTENT] The selected mailbox no longer exists", done, cmd)
	}
	_, done := c.cmd("A2", "COPY 1 Nowhere")
	assert.Equal(t, "A2 NO [TRYCREATE] Destination mailbox does not exist", done)
}
