package listen

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errClosed = errors.New("closed")

// timeoutError is a temporary Accept error.
type timeoutError struct{}

func (timeoutError) Error() string   { return "accept: too many open files" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// scriptedListener answers Accept from a script of results, then blocks
// until closed.
type scriptedListener struct {
	mu     sync.Mutex
	script []error // nil: a connection
	calls  []time.Time
	closed chan struct{}
	once   sync.Once
}

func newScripted(script ...error) *scriptedListener {
	return &scriptedListener{script: script, closed: make(chan struct{})}
}

func (l *scriptedListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	l.calls = append(l.calls, time.Now())
	if len(l.script) > 0 {
		err := l.script[0]
		l.script = l.script[1:]
		l.mu.Unlock()
		if err != nil {
			return nil, err
		}
		a, b := net.Pipe()
		_ = b.Close()
		return a, nil
	}
	l.mu.Unlock()
	<-l.closed
	return nil, net.ErrClosed
}

func (l *scriptedListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *scriptedListener) Addr() net.Addr { return &net.TCPAddr{} }

// TestServeBacksOffOnTemporaryErrors checks that timeouts are retried
// with a growing delay, reset by a success, and that a permanent error
// ends the loop with that error.
func TestServeBacksOffOnTemporaryErrors(t *testing.T) {
	permanent := errors.New("permanent")
	l := newScripted(timeoutError{}, timeoutError{}, timeoutError{}, nil, timeoutError{}, permanent)
	var s Set[int]
	served := 0
	err := s.Serve(l, errClosed, func(nc net.Conn) {
		served++
		_ = nc.Close()
	})
	require.ErrorIs(t, err, permanent)
	assert.Equal(t, 1, served)
	require.Len(t, l.calls, 6)
	gap := func(i int) time.Duration { return l.calls[i].Sub(l.calls[i-1]) }
	assert.GreaterOrEqual(t, gap(1), MinBackoff)
	assert.GreaterOrEqual(t, gap(2), 2*MinBackoff)
	assert.GreaterOrEqual(t, gap(3), 4*MinBackoff)
	assert.Less(t, gap(4), 4*MinBackoff, "a success resets the backoff (no wait after it)")
	assert.GreaterOrEqual(t, gap(5), MinBackoff)
	assert.Empty(t, s.listeners, "Serve forgets its listener when it returns")
}

// TestShutdownStopsServe checks that Shutdown closes the listeners, that
// Serve then returns the closed error, and that a later Serve or Admit is
// refused.
func TestShutdownStopsServe(t *testing.T) {
	var s Set[int]
	l := newScripted()
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(l, errClosed, func(net.Conn) {}) }()
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.listeners) == 1
	}, 5*time.Second, time.Millisecond)
	require.NoError(t, s.Shutdown(context.Background(), func(int) {}, func([]int) {}))
	assert.ErrorIs(t, <-errc, errClosed)
	assert.True(t, s.Closing())
	assert.ErrorIs(t, s.Serve(newScripted(), errClosed, func(net.Conn) {}), errClosed)
	_, adm := s.Admit(nil, func() int { return 1 }, nil)
	assert.Equal(t, Closing, adm)
}

// TestAdmitAndShutdown checks admission under a limit, that a refusal in
// progress and every admitted connection are waited for, that interrupt
// reaches every connection, and that abort gets the ones left when ctx
// ends first.
func TestAdmitAndShutdown(t *testing.T) {
	var s Set[int]
	limit := func(open int) bool { return open < 2 }
	created := 0
	next := func() int { created++; return created }
	one, adm := s.Admit(limit, next, nil)
	require.Equal(t, Admitted, adm)
	two, adm := s.Admit(limit, next, nil)
	require.Equal(t, Admitted, adm)
	refusing := make(chan struct{})
	_, adm = s.Admit(limit, next, func() { <-refusing })
	require.Equal(t, Refused, adm)
	assert.Equal(t, 2, created, "nothing is created for a refused connection")

	var mu sync.Mutex
	var interrupted, aborted []int
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	go func() {
		// Connection one ends when interrupted; two only when aborted.
		for {
			mu.Lock()
			n := len(interrupted)
			mu.Unlock()
			if n == 2 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		s.Done(one, nil)
		close(refusing)
	}()
	err := s.Shutdown(ctx, func(c int) {
		mu.Lock()
		interrupted = append(interrupted, c)
		mu.Unlock()
	}, func(left []int) {
		aborted = append(aborted, left...)
		for _, c := range left {
			s.Done(c, nil)
		}
	})
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ElementsMatch(t, []int{one, two}, interrupted)
	assert.Equal(t, []int{two}, aborted)
	assert.Empty(t, s.conns)
}

// TestDoneReleasesUnderLock checks that release runs and that a
// connection's slot is free again after Done.
func TestDoneReleasesUnderLock(t *testing.T) {
	var s Set[string]
	perIP := map[string]int{}
	admit := func(ip string) func(int) bool {
		return func(int) bool {
			if perIP[ip] >= 1 {
				return false
			}
			perIP[ip]++
			return true
		}
	}
	c, adm := s.Admit(admit("a"), func() string { return "c1" }, nil)
	require.Equal(t, Admitted, adm)
	_, adm = s.Admit(admit("a"), func() string { return "c2" }, nil)
	require.Equal(t, Refused, adm)
	s.Done(c, func() { perIP["a"]-- })
	_, adm = s.Admit(admit("a"), func() string { return "c3" }, nil)
	assert.Equal(t, Admitted, adm)
}
