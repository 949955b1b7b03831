package server

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCapabilityBeforeAndAfterLogin: before login CAPABILITY shows how to
// log in; after it, the extensions and no AUTH= (RFC 9051 6.1.1, 7.2.2).
func TestCapabilityBeforeAndAfterLogin(t *testing.T) {
	c := newTestServer(t).dial()
	before := strings.Join(c.ok("C1", "CAPABILITY"), "\n")
	assert.Contains(t, before, "IMAP4rev2")
	assert.Contains(t, before, "AUTH=PLAIN")
	assert.NotContains(t, before, "NAMESPACE")
	c.login()
	after := strings.Join(c.ok("C2", "CAPABILITY"), "\n")
	assert.Contains(t, after, "NAMESPACE")
	assert.Contains(t, after, " NOTIFY")
	assert.NotContains(t, before, "NOTIFY")
	assert.NotContains(t, after, "AUTH=PLAIN")
	_, done := c.cmd("C3", "CAPABILITY extra")
	assert.True(t, strings.HasPrefix(done, "C3 BAD"), done)
}

// TestNoopAndID: NOOP works in every state; ID (RFC 2971) answers with the
// server's identity and accepts NIL or a field list.
func TestNoopAndID(t *testing.T) {
	c := newTestServer(t).dial()
	c.ok("N1", "NOOP")
	id := c.ok("I1", `ID ("name" "Mail" "version" "16.0")`)
	require.Len(t, id, 1)
	assert.True(t, strings.HasPrefix(id[0], `* ID ("name" `), id[0])
	c.ok("I2", "ID NIL")
	_, done := c.cmd("I3", "ID")
	assert.True(t, strings.HasPrefix(done, "I3 BAD"), done)
	c.login()
	c.ok("N2", "NOOP")
}

// TestLogout: LOGOUT sends BYE before its OK and ends the session
// (RFC 9051 6.1.3).
func TestLogout(t *testing.T) {
	c := newTestServer(t).dial()
	c.login()
	untagged, done := c.cmd("O1", "LOGOUT")
	require.Len(t, untagged, 1)
	assert.True(t, strings.HasPrefix(untagged[0], "* BYE"), untagged[0])
	assert.True(t, strings.HasPrefix(done, "O1 OK"), done)
	_, err := c.r.ReadString('\n')
	assert.Error(t, err, "the connection is closed after LOGOUT")
}
