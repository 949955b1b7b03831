package server

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/imapfsm/imapfsm/fsm"
)

// TestDataQuirksAreCountedAndAskTheMode: each data quirk the handlers meet
// is counted once per hit, and its answer follows the session's mode.
func TestDataQuirksAreCountedAndAskTheMode(t *testing.T) {
	for _, mode := range []fsm.Mode{fsm.Lenient, fsm.Strict} {
		t.Run(mode.String(), func(t *testing.T) {
			ts := newTestServer(t, func(c *Config) { c.Modes = fsm.NewModes(mode) })
			appendMsg(t, ts, "INBOX", fixturePlain)
			c := ts.dial()
			c.login()
			c.ok("S", "SELECT INBOX")
			_, done := c.cmd("A", "STATUS INBOX (MESSAGES)")
			assert.Equal(t, "A OK [CLIENTBUG] STATUS on the selected mailbox completed", done)
			_, done = c.cmd("B", "STATUS INBOX/ (MESSAGES)")
			_, done2 := c.cmd("C", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE 0)")
			if mode == fsm.Lenient {
				assert.Contains(t, done, "B OK")
				assert.Contains(t, done2, "C OK")
			} else {
				assert.Contains(t, done, "B NO [NONEXISTENT]")
				assert.Contains(t, done2, "C BAD")
			}
			m := ts.srv.Metrics()
			for _, q := range []fsm.Quirk{fsm.QuirkTrailingSeparator, fsm.QuirkChangedsinceZero} {
				assert.Equal(t, int64(1), m.QuirkHits(q), "quirk %s", q)
			}
			// Lenient strips the separator of "INBOX/": the selected
			// mailbox again.
			want := int64(1)
			if mode == fsm.Lenient {
				want = 2
			}
			assert.Equal(t, want, m.QuirkHits(fsm.QuirkStatusSelected))
		})
	}
}
