package server

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/fsm"
)

// TestIdlePushesAndDone: IDLE answers "+", pushes another session's new
// message as EXISTS, and DONE completes it (RFC 2177).
func TestIdlePushesAndDone(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	c.ok("S1", "SELECT INBOX")
	c.send("I1 IDLE\r\n")
	require.True(t, strings.HasPrefix(c.line(), "+ "))
	other := ts.dial()
	other.login()
	other.ok("A1", "APPEND INBOX {5+}\r\nx: y\r\n")
	assert.Equal(t, "* 1 EXISTS", c.line())
	c.send("DONE\r\n")
	_, done := c.until("I1")
	assert.Equal(t, "I1 OK IDLE terminated", done)
	c.ok("N1", "NOOP")
}

// TestIdleBeforeSelect: IDLE in the authenticated state is legal (the
// idle-before-select quirk, Outlook) and ends with DONE.
func TestIdleBeforeSelect(t *testing.T) {
	c := newTestServer(t).dial()
	c.login()
	c.send("I1 IDLE\r\n")
	require.True(t, strings.HasPrefix(c.line(), "+ "))
	c.send("done\r\n") // any letter case (RFC 9051 9)
	assert.Equal(t, "I1 OK IDLE terminated", c.line())
}

// TestIdleTaggedCommand: a tagged command instead of DONE (iOS Mail) ends
// IDLE; lenient runs the command, strict refuses it; both tags are
// answered, the IDLE tag first.
func TestIdleTaggedCommand(t *testing.T) {
	for _, mode := range []fsm.Mode{fsm.Lenient, fsm.Strict} {
		t.Run(mode.String(), func(t *testing.T) {
			c := newTestServer(t, func(cfg *Config) { cfg.Modes = fsm.NewModes(mode) }).dial()
			c.login()
			c.ok("S1", "SELECT INBOX")
			c.send("8.568 IDLE\r\n")
			require.True(t, strings.HasPrefix(c.line(), "+ "))
			c.send("8.569 NOOP\r\n")
			idleDone := c.line()
			_, done := c.until("8.569")
			if mode == fsm.Lenient {
				assert.Equal(t, "8.568 OK [CLIENTBUG] IDLE terminated by a new command; send DONE first", idleDone)
				assert.True(t, strings.HasPrefix(done, "8.569 OK"), done)
			} else {
				assert.Equal(t, "8.568 BAD [CLIENTBUG] IDLE interrupted by a command; send DONE first", idleDone)
				assert.True(t, strings.HasPrefix(done, "8.569 BAD [CLIENTBUG]"), done)
			}
			c.ok("N1", "NOOP")
		})
	}
}
