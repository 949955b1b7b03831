package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/store"
)

// appendDirect stores a message through the store, as another node or the
// LMTP listener would, and returns its UID.
func appendDirect(t *testing.T, ts *testServer, subject string) uint32 {
	t.Helper()
	u, err := ts.cfg.Store.OpenUser(context.Background(), "demo")
	require.NoError(t, err)
	res, err := u.Append(context.Background(), "INBOX", store.NewMessage{
		Body: strings.NewReader("From: a@example.org\r\nSubject: " + subject + "\r\n\r\nbody\r\n"),
	})
	require.NoError(t, err)
	return res.UID
}

// idleOn logs a client in, selects INBOX and starts IDLE.
func idleOn(t *testing.T, ts *testServer, tag string) *client {
	c := ts.dial()
	c.login()
	c.ok("S"+tag, "SELECT INBOX")
	c.send(tag + " IDLE\r\n")
	require.Equal(t, "+ idling", c.line())
	return c
}

// waitFor reads lines until one equals want.
func waitFor(t *testing.T, c *client, want string) {
	t.Helper()
	for i := 0; i < 10000; i++ {
		if c.line() == want {
			return
		}
	}
	t.Fatalf("never saw %q", want)
}

// TestHubPushesToEveryIdler: all sessions idling on one mailbox share one
// hub and each gets the EXISTS of a message stored elsewhere.
func TestHubPushesToEveryIdler(t *testing.T) {
	ts := newTestServer(t)
	var idlers []*client
	for i := range 5 {
		idlers = append(idlers, idleOn(t, ts, fmt.Sprintf("I%d", i)))
	}
	ts.srv.hubMu.Lock()
	hubs := len(ts.srv.hubs)
	ts.srv.hubMu.Unlock()
	assert.Equal(t, 1, hubs, "one hub per mailbox")
	appendDirect(t, ts, "one")
	recent := 0
	for _, c := range idlers {
		assert.Equal(t, "* 1 EXISTS", c.line())
		// Exactly one of the sessions has the message as \Recent.
		l := c.line()
		assert.Regexp(t, `^\* [01] RECENT$`, l)
		if l == "* 1 RECENT" {
			recent++
		}
	}
	assert.Equal(t, 1, recent, "one session owns the new message as \\Recent")
	appendDirect(t, ts, "two")
	for i, c := range idlers {
		assert.Equal(t, "* 2 EXISTS", c.line())
		assert.Regexp(t, `^\* [0-2] RECENT$`, c.line())
		c.send("DONE\r\n")
		_, done := c.until(fmt.Sprintf("I%d", i))
		assert.Equal(t, fmt.Sprintf("I%d OK IDLE terminated", i), done)
	}
}

// TestHubStalledIdlerDoesNotBlockOthers: an idler that never reads must not
// delay pushes to the others.
func TestHubStalledIdlerDoesNotBlockOthers(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.WriteTimeout = 5 * time.Second })
	stalled := idleOn(t, ts, "S1")
	_ = stalled // never read from again
	live := idleOn(t, ts, "L1")
	start := time.Now()
	for i := 1; i <= 3; i++ {
		appendDirect(t, ts, fmt.Sprint(i))
		waitFor(t, live, fmt.Sprintf("* %d EXISTS", i))
	}
	assert.Less(t, time.Since(start), 3*time.Second, "the live idler is served while the stalled one blocks")
}

// TestHubCatchesUpBeyondItsCache: more changes than the hub caches arrive
// while a session idles; the session still reports the right count (it
// falls back to the store when the cache does not reach back far enough).
func TestHubCatchesUpBeyondItsCache(t *testing.T) {
	if testing.Short() {
		t.Skip("appends several hundred messages")
	}
	ts := newTestServer(t)
	c := idleOn(t, ts, "A1")
	u, err := ts.cfg.Store.OpenUser(context.Background(), "demo")
	require.NoError(t, err)
	n := maxCachedChanges + 40
	msgs := make([]store.NewMessage, n)
	for i := range msgs {
		msgs[i] = store.NewMessage{Body: strings.NewReader(fmt.Sprintf("Subject: %d\r\n\r\nx\r\n", i))}
	}
	if ba, ok := u.(store.BatchAppender); ok {
		// One batch: a single change-log entry for all of them.
		_, err = ba.AppendBatch(context.Background(), "INBOX", msgs[:n/2])
		require.NoError(t, err)
		msgs = msgs[n/2:]
	}
	for _, m := range msgs {
		_, err := u.Append(context.Background(), "INBOX", m)
		require.NoError(t, err)
	}
	waitFor(t, c, fmt.Sprintf("* %d EXISTS", n))
	c.send("DONE\r\n")
	_, done := c.until("A1")
	assert.Equal(t, "A1 OK IDLE terminated", done)
	u2, _ := c.cmd("N1", "NOOP")
	assert.NotContains(t, strings.Join(u2, "\n"), "EXISTS", "nothing left to announce")
}

// TestHubCacheIsImmutable: the idlers read the hub's cache without a
// lock, so a published cache must never change: refreshing it (past the
// point where it drops its oldest half) publishes a new one and leaves
// every earlier one as it was.
func TestHubCacheIsImmutable(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	// Selected, not idling: no push runs, so this test is the hub's
	// only refresher, as the pushing goroutine is.
	c.ok("S1", "SELECT INBOX")
	u, err := ts.cfg.Store.OpenUser(context.Background(), "demo")
	require.NoError(t, err)
	ts.srv.hubMu.Lock()
	var h *mailboxHub
	for _, hub := range ts.srv.hubs {
		h = hub
	}
	ts.srv.hubMu.Unlock()
	require.NotNil(t, h)
	type seen struct {
		hc      *hubCache
		modseqs []uint64
	}
	var seens []seen
	for i := range maxCachedChanges + 40 {
		_, err := u.Append(context.Background(), "INBOX", store.NewMessage{Body: strings.NewReader(fmt.Sprintf("Subject: %d\r\n\r\nx\r\n", i))})
		require.NoError(t, err)
		h.refresh(u, 0)
		hc := h.cache.Load()
		require.NotNil(t, hc)
		s := seen{hc: hc}
		for _, ch := range hc.changes {
			s.modseqs = append(s.modseqs, ch.ModSeq)
		}
		seens = append(seens, s)
	}
	last := seens[len(seens)-1].hc
	assert.LessOrEqual(t, len(last.changes), maxCachedChanges)
	for _, s := range seens {
		var now []uint64
		for _, ch := range s.hc.changes {
			now = append(now, ch.ModSeq)
		}
		require.Equal(t, s.modseqs, now, "a published cache changed")
		require.Equal(t, s.hc.high, s.modseqs[len(s.modseqs)-1])
	}
}
