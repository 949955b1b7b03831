package server

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestExpunge checks the numbering of EXPUNGE responses (RFC 9051 7.4.1)
// and UID EXPUNGE (RFC 4315 2.1).
func TestExpunge(t *testing.T) {
	ts := newTestServer(t)
	for range 6 {
		appendMsg(t, ts, "INBOX", fixturePlain)
	}
	c := ts.dial()
	c.login()
	c.ok("S1", "SELECT INBOX")
	c.ok("S2", `STORE 2,4:5 +FLAGS.SILENT (\Deleted)`)
	// Descending: each number is valid when the client applies it.
	assert.Equal(t, []string{"* 5 EXPUNGE", "* 4 EXPUNGE", "* 2 EXPUNGE"}, c.ok("X1", "EXPUNGE"))
	assert.Equal(t, []string{"* 1 FETCH (UID 1)", "* 2 FETCH (UID 3)", "* 3 FETCH (UID 6)"}, c.ok("X2", "FETCH 1:* UID"))
	assert.Empty(t, c.ok("X3", "EXPUNGE"))

	// UID EXPUNGE removes only the named \Deleted messages.
	c.ok("U1", `STORE 1:3 +FLAGS.SILENT (\Deleted)`)
	assert.Equal(t, []string{"* 2 EXPUNGE"}, c.ok("U2", "UID EXPUNGE 3:5"))
	assert.Empty(t, c.ok("U3", "UID EXPUNGE 100:200"), "no message of the set: nothing is expunged")
	assert.Equal(t, []string{"* 1 FETCH (UID 1)", "* 2 FETCH (UID 6)"}, c.ok("U4", "FETCH 1:* UID"))
	_, done := c.cmd("U5", "UID EXPUNGE")
	assert.Contains(t, done, "U5 BAD")
	assert.Equal(t, []string{"* 2 EXPUNGE", "* 1 EXPUNGE"}, c.ok("U6", "EXPUNGE"))
}
