package server

import (
	"sync"

	"github.com/imapfsm/imapfsm/fsm"
	"github.com/imapfsm/imapfsm/server/imapwire"
)

// cmdIdle implements IDLE (RFC 2177, RFC 9051 6.3.13). The tag stays held
// until DONE; while the session idles, mailbox changes are pushed at once
// and "* OK Still here" every keepalive interval.
func cmdIdle(c *conn, cmd *command) result {
	if err := cmd.args.End(); err != nil {
		return argError(err)
	}
	c.sendUpdates(true)
	c.write(func(e *imapwire.Encoder) { e.Continuation("idling") })
	return continued()
}

// What a push has to send.
const (
	pushUpdates   uint8 = 1 << iota // changes, from the hub's fresh cache
	pushCatchUp                     // changes, from the store
	pushKeepalive                   // the keepalive response
	pushNotify                      // NOTIFY events of other mailboxes
)

// idlePush lets changes and keepalives reach a session while its engine
// is blocked reading the next line, without a goroutine of the session's
// own: the mailbox's hub (changes), a timer (keepalives) and the notifier
// (NOTIFY events) run the push in their goroutines. The engine arms it
// when the machine says the keepalive timer runs in the current state, or
// when the session has a NOTIFY set, and disarms it when the read
// returns; disarm waits for a push in progress, so the engine and a push
// never use the session's mailbox view at the same time.
//
// Every session holds one, so its fields are ordered to leave no padding.
type idlePush struct {
	mu sync.Mutex
	// wake is made by disarmIdle when it must wait for a running push,
	// and closed when running becomes false.
	wake    chan struct{}
	timer   ClockTimer
	hub     *mailboxHub
	armed   bool
	running bool
	pending uint8
	ticking bool // the keepalive timer runs
	// expunge says whether pushed changes may announce expunges: while
	// idling, and between commands with NOTIFY's SELECTED (not
	// SELECTED-DELAYED, RFC 5465).
	expunge bool
	// flags says whether pushed changes report flag changes: while
	// idling, and between commands with NOTIFY's FlagChange.
	flags bool
}

// armIdle starts pushing: with keepalive (idling) the keepalive timer
// runs and the hub of the selected mailbox, if any, pushes its changes;
// without it (between commands, with a NOTIFY set) the hub pushes only
// when the set asks for the selected mailbox's events. Changes notified
// since the view last caught up are pushed at once.
func (c *conn) armIdle(keepalive bool) {
	p := &c.idle
	interval := c.srv.cfg.IdleKeepalive
	hubPush, expunge, flags := true, true, true
	if !keepalive {
		hubPush, expunge, flags = c.notifySelectedPush()
	}
	// Read the view's generation before arming: once armed, a push of a
	// hub round that began before this IDLE may catch the view up (and
	// write m.gen) at any moment.
	m := c.mailbox
	var gen uint64
	if m != nil {
		gen = m.gen
	}
	p.mu.Lock()
	p.armed = true
	p.pending = 0
	p.expunge = expunge
	p.flags = flags
	p.ticking = keepalive
	switch {
	case !keepalive:
	case p.timer == nil:
		p.timer = c.clock().AfterFunc(interval, c.keepaliveDue)
	default:
		p.timer.Reset(interval)
	}
	p.mu.Unlock()
	if m != nil && hubPush {
		p.hub = m.hub
		if m.hub.addIdler(c, gen) && c.requestPush(pushCatchUp) {
			go c.runPush(false)
		}
	}
}

// disarmIdle stops pushing and waits for a push in progress to end.
func (c *conn) disarmIdle() {
	p := &c.idle
	if h := p.hub; h != nil {
		h.removeIdler(c)
		p.hub = nil
	}
	p.mu.Lock()
	p.armed = false
	p.pending = 0
	if p.ticking {
		p.timer.Stop()
		p.ticking = false
	}
	for p.running {
		if p.wake == nil {
			p.wake = make(chan struct{})
		}
		wake := p.wake
		p.mu.Unlock()
		<-wake
		p.mu.Lock()
	}
	p.mu.Unlock()
}

// keepaliveDue runs in the timer's goroutine.
func (c *conn) keepaliveDue() {
	if c.requestPush(pushKeepalive) {
		c.runPush(false)
	}
}

// pushFromHub is called by the hub of the selected mailbox after a change,
// in one of the few goroutines that push to every idler of the mailbox.
// The push runs there unless its writes could hold that goroutine up: over
// TLS, whose writes cannot be retried after a timeout, and while an
// earlier push to this client is still being written, it runs in a
// goroutine of its own.
func (c *conn) pushFromHub() {
	if !c.requestPush(pushUpdates) {
		return
	}
	if c.tls || c.stalled.Load() {
		go c.runPush(false)
		return
	}
	c.runPush(true)
}

// requestPush adds what to the pending push and reports whether the caller
// must run it (no push is running and the session is idling).
func (c *conn) requestPush(what uint8) bool {
	p := &c.idle
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.armed {
		return false
	}
	p.pending |= what
	if p.running {
		return false
	}
	p.running = true
	return true
}

// runPush sends what is pending until nothing is. With inline, writes that
// would block are finished by a goroutine of their own (sessionWriter), so
// that the caller, which pushes to other sessions too, never waits for
// this client.
func (c *conn) runPush(inline bool) {
	p := &c.idle
	if inline {
		c.wmu.Lock()
		c.wtry = true
		c.wmu.Unlock()
		defer func() {
			c.wmu.Lock()
			c.wtry = false
			c.wmu.Unlock()
		}()
	}
	for {
		p.mu.Lock()
		what := p.pending
		expunge, flags := p.expunge, p.flags
		p.pending = 0
		if what == 0 || !p.armed {
			p.running = false
			if p.wake != nil {
				close(p.wake)
				p.wake = nil
			}
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		// IDLE may announce EXPUNGE at once; so may NOTIFY's SELECTED
		// between commands.
		var added []uint32
		if what&pushCatchUp != 0 {
			added = c.catchUp(expunge, false, flags)
		} else if what&pushUpdates != 0 {
			added = c.catchUp(expunge, true, flags)
		}
		c.fetchNew(added)
		if what&pushNotify != 0 {
			c.deliverNotifications()
		}
		if what&pushKeepalive != 0 {
			d := fsm.Step(c.state, c.facts, fsm.InputKeepalive, c.modes)
			if d.Action == fsm.ActionNotify {
				c.reply("", d.Reply)
			}
			p.mu.Lock()
			if p.armed && p.ticking {
				p.timer.Reset(c.srv.cfg.IdleKeepalive)
			}
			p.mu.Unlock()
		}
	}
}
