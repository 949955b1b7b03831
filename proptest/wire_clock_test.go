package proptest

import (
	"sync"
	"time"

	"github.com/imapfsm/imapfsm/server"
)

// wireClock is a server.Clock that moves only when the runner advances it
// (WireClock), so that the extended server's timers fire without waiting.
type wireClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*wireTimer
}

type wireTimer struct {
	c   *wireClock
	due time.Time
	f   func()
	on  bool
}

func newWireClock() *wireClock { return &wireClock{now: time.Unix(1_000_000, 0)} }

// Now implements server.Clock.
func (c *wireClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc implements server.Clock.
func (c *wireClock) AfterFunc(d time.Duration, f func()) server.ClockTimer {
	t := &wireTimer{c: c, f: f}
	t.Reset(d)
	return t
}

// Advance moves the clock by d and fires, each in a goroutine of its own,
// the timers that are due.
func (c *wireClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []func()
	live := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case !t.on:
		case !t.due.After(c.now):
			t.on = false
			due = append(due, t.f)
		default:
			live = append(live, t)
		}
	}
	c.timers = live
	c.mu.Unlock()
	for _, f := range due {
		go f()
	}
}

func (t *wireTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.on
	t.on = false
	return was
}

func (t *wireTimer) Reset(d time.Duration) bool {
	c := t.c
	c.mu.Lock()
	was := t.on
	if !was {
		c.timers = append(c.timers, t)
	}
	t.on, t.due = true, c.now.Add(d)
	c.mu.Unlock()
	c.Advance(0) // a timer already due fires at once
	return was
}

// clockedServer is a live server whose timers run on a wireClock.
type clockedServer struct {
	*liveServer
	clock *wireClock
}

// Advance implements WireClock.
func (s clockedServer) Advance(d time.Duration) { s.clock.Advance(d) }
