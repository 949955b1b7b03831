package server

import (
	"sync"
	"time"

	"github.com/imapfsm/imapfsm/fsm"
	"github.com/imapfsm/imapfsm/server/imapwire"
	"github.com/imapfsm/imapfsm/server/store"
)

// cmdIdle implements IDLE (RFC 2177, RFC 9051 6.3.13). The tag stays held
// until DONE; while the session idles a pusher sends mailbox changes at once
// and "* OK Still here" every keepalive interval.
func cmdIdle(c *conn, cmd *command) result {
	if err := cmd.args.End(); err != nil {
		return argError(err)
	}
	c.sendUpdates(true)
	c.write(func(e *imapwire.Encoder) { e.Continuation("idling") })
	return continued()
}

// pusher writes untagged responses while the engine is blocked reading the
// next line of an idling client.
type pusher struct {
	stop chan struct{}
	wg   sync.WaitGroup
}

// startPusher starts pushing changes and keepalives. The engine starts it
// when the machine says the keepalive timer runs in the current state.
func (c *conn) startPusher() *pusher {
	p := &pusher{stop: make(chan struct{})}
	var notes <-chan store.Notification
	if c.mailbox != nil {
		notes = c.mailbox.notes
	}
	interval := c.srv.cfg.IdleKeepalive
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				d := fsm.Step(c.state, fsm.InputKeepalive, c.modes)
				if d.Action == fsm.ActionNotify {
					c.reply("", d.Reply)
				}
			case <-notes:
				c.sendUpdates(true) // IDLE may announce EXPUNGE at once
			}
		}
	}()
	return p
}

func (p *pusher) stopAndWait() {
	close(p.stop)
	p.wg.Wait()
}
