package server

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// parkedSessions counts the goroutines waiting in conn.waitParked.
func parkedSessions() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "server.(*conn).waitParked(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// TestIdleSessionParks shows that an idling session waits in a fresh
// goroutine (conn.waitParked, whose stack starts at the minimum) and that
// such a session still gets pushes, answers DONE and a tagged command sent
// instead of DONE, idles again, and says BYE at once on shutdown.
func TestIdleSessionParks(t *testing.T) {
	ts := newTestServer(t)
	const n = 5
	idlers := make([]*client, n)
	for i := range idlers {
		c := ts.dial()
		c.login()
		c.ok("S", "SELECT INBOX")
		c.send("I1 IDLE\r\n")
		require.Equal(t, "+ idling", c.line())
		idlers[i] = c
	}
	require.Eventually(t, func() bool { return parkedSessions() == n }, 5*time.Second, 10*time.Millisecond,
		"every idling session is parked")

	other := ts.dial()
	other.login()
	other.ok("A", "APPEND INBOX {13+}\r\nSubject: x\r\n")
	for _, c := range idlers {
		assert.Equal(t, "* 1 EXISTS", c.line(), "a parked session gets the push")
		assert.Regexp(t, `^\* [01] RECENT$`, c.line())
	}

	for i, c := range idlers {
		if i%2 == 0 {
			c.send("DONE\r\n")
			assert.Equal(t, "I1 OK IDLE terminated", c.line())
		} else {
			// The iOS Mail quirk: a new IDLE instead of DONE (lenient by
			// default: the held tag completes, the new IDLE runs).
			c.send("I2 IDLE\r\n")
			assert.True(t, strings.HasPrefix(c.line(), "I1 OK"))
			assert.Equal(t, "+ idling", c.line())
			c.send("DONE\r\n")
			assert.Equal(t, "I2 OK IDLE terminated", c.line())
		}
		c.ok("N", "NOOP")
		c.send("I3 IDLE\r\n")
		require.Equal(t, "+ idling", c.line())
	}
	require.Eventually(t, func() bool { return parkedSessions() == n }, 5*time.Second, 10*time.Millisecond,
		"sessions park again")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- ts.srv.Shutdown(ctx) }() // the pipes need a reader
	for _, c := range idlers {
		assert.Equal(t, "* BYE [UNAVAILABLE] Server shutting down", c.line(), "a parked session stops waiting at once")
	}
	other.nc.Close()
	require.NoError(t, <-shut)
	assert.Zero(t, parkedSessions(), "no parked goroutine outlives the session")
}

// TestSessionStructSize keeps the session struct, which every idle
// session holds, within the allocator's 384-byte size class: state that
// few sessions use (NOTIFY's) is held behind a pointer set on first use.
// A field that pushes it over costs every idler the next class (416 B or
// more); move rarely used state behind a pointer instead.
func TestSessionStructSize(t *testing.T) {
	assert.LessOrEqual(t, unsafe.Sizeof(conn{}), uintptr(384), "session struct size")
	assert.LessOrEqual(t, unsafe.Sizeof(idlePush{}), uintptr(48), "idle push state size")
}
