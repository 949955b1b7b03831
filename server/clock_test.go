package server

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testClock is a Clock that moves only when Advance is called.
type testClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*testTimer
}

type testTimer struct {
	c   *testClock
	due time.Time
	f   func()
	on  bool
}

func newTestClock() *testClock { return &testClock{now: time.Unix(1_000_000, 0)} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) AfterFunc(d time.Duration, f func()) ClockTimer {
	c.mu.Lock()
	t := &testTimer{c: c, due: c.now.Add(d), f: f, on: true}
	c.timers = append(c.timers, t)
	c.mu.Unlock()
	c.Advance(0)
	return t
}

// Advance moves the clock by d and fires the timers that are due.
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []func()
	for _, t := range c.timers {
		if t.on && !t.due.After(c.now) {
			t.on = false
			due = append(due, t.f)
		}
	}
	c.mu.Unlock()
	for _, f := range due {
		go f()
	}
}

func (t *testTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.on
	t.on = false
	return was
}

func (t *testTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	was := t.on
	t.on, t.due = true, t.c.now.Add(d)
	t.c.mu.Unlock()
	t.c.Advance(0)
	return was
}

// TestClockDrivesTimers: with Config.Clock set, the login timeout, the
// autologout, the command timeout and the IDLE keepalive fire when the
// clock is advanced, not before, and without real waiting.
func TestClockDrivesTimers(t *testing.T) {
	clk := newTestClock()
	ts := newTestServer(t, func(c *Config) {
		c.Clock = clk
		c.LoginTimeout = time.Minute
		c.AutologoutTimeout = time.Hour
		c.CommandTimeout = 10 * time.Minute
		c.IdleKeepalive = 2 * time.Minute
	})
	// advanceUntil moves the clock in steps until the client reads a line.
	advanceUntil := func(c *client, step time.Duration) string {
		t.Helper()
		got := make(chan string, 1)
		go func() { got <- c.line() }()
		for range 200 {
			select {
			case l := <-got:
				return l
			case <-time.After(5 * time.Millisecond):
				clk.Advance(step)
			}
		}
		t.Fatal("no response while the clock advanced")
		return ""
	}

	start := time.Now()
	c := ts.dial()
	c.ok("a1", "NOOP")
	assert.Equal(t, "* BYE Autologout; idle for too long", advanceUntil(c, 10*time.Second), "login timeout")
	requireClosed(t, c)

	c = ts.dial()
	c.login()
	c.send("a2 NOO")
	assert.Equal(t, "* BYE Command not received in time", advanceUntil(c, time.Minute), "command timeout")

	c = ts.dial()
	c.login()
	c.send("i1 IDLE\r\n")
	require.Equal(t, "+ idling", c.line())
	assert.Equal(t, "* OK Still here", advanceUntil(c, 30*time.Second), "keepalive")
	for range 4 { // two hours: keepalives, no autologout while idling
		assert.Equal(t, "* OK Still here", advanceUntil(c, 30*time.Minute))
	}
	c.send("DONE\r\n")
	assert.Equal(t, "i1 OK IDLE terminated", c.line())
	assert.Equal(t, "* BYE Autologout; idle for too long", advanceUntil(c, 10*time.Minute), "autologout")
	assert.Less(t, time.Since(start), 10*time.Second, "no real waiting")
}
