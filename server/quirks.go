package server

import "github.com/imapfsm/imapfsm/fsm"

// noteQuirk records that a client showed quirk q: it counts the hit in the
// server's metrics, logs it with the quirk's id and the session's mode for
// it (and attrs), and reports whether the mode tolerates the quirk. Every
// place that meets a quirk goes through it, so that each hit is observable
// and no quirk is handled without asking the spec's mode.
func (c *conn) noteQuirk(q fsm.Quirk, attrs ...any) (tolerated bool) {
	c.srv.metrics.quirks[q].Add(1)
	args := append([]any{"quirk", q.String(), "mode", c.modes.Of(q).String()}, attrs...)
	c.log.Info("client quirk", args...)
	return c.modes.Tolerates(q)
}
