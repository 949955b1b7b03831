// Package listen holds what the IMAP and LMTP servers share about
// listeners and connections: the accept loop with its backoff on temporary
// errors, the set of open connections, and the shutdown that stops the
// listeners, asks every connection to finish and waits for them.
package listen

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// Backoff bounds of the accept loop: after a temporary Accept error it
// waits MinBackoff, doubling on each further error up to MaxBackoff, and
// starts again from MinBackoff after a success.
const (
	MinBackoff = 5 * time.Millisecond
	MaxBackoff = time.Second
)

// Admission is the answer of [Set.Admit].
type Admission int

// Admissions.
const (
	// Admitted: the connection is in the set until [Set.Done].
	Admitted Admission = iota
	// Closing: the set is shutting down; the connection is not added.
	Closing
	// Refused: the admit function refused the connection (a limit).
	Refused
)

// Set tracks a server's listeners and connections of type C under one
// lock, so that a shutdown sees every connection admitted before it began
// and admits none after. The zero value is ready to use.
type Set[C comparable] struct {
	mu        sync.Mutex
	closing   bool
	listeners map[net.Listener]struct{}
	conns     map[C]struct{}
	wg        sync.WaitGroup // admitted connections and refusals in progress
}

// Serve runs the accept loop on l until it fails or the set shuts down,
// handing each accepted connection to serve (which must not block long:
// sessions run in their own goroutines). A temporary error (a timeout, such
// as running out of file descriptors reports) is retried after a backoff;
// once the set is shutting down Serve returns closed; any other Accept
// error is returned as is. On a set already shutting down it returns
// closed at once.
func (s *Set[C]) Serve(l net.Listener, closed error, serve func(net.Conn)) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return closed
	}
	if s.listeners == nil {
		s.listeners = map[net.Listener]struct{}{}
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()
	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.Closing() {
				return closed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, MinBackoff), MaxBackoff)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		serve(nc)
	}
}

// Closing reports whether the set is shutting down.
func (s *Set[C]) Closing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// Admit adds a connection to the set unless it is shutting down or admit
// refuses it. admit (nil: admit all) runs under the set's lock with the
// number of connections in the set; state it reads or changes (per-address
// counts) must only be touched under that lock, that is in admit and in
// release (see Done). create makes the connection once admitted, under the
// lock too, so nothing is made for a refused one. When the connection is
// refused and refuse is not nil, refuse runs in a new goroutine that
// Shutdown waits for.
func (s *Set[C]) Admit(admit func(open int) bool, create func() C, refuse func()) (C, Admission) {
	var c C
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return c, Closing
	}
	if admit != nil && !admit(len(s.conns)) {
		if refuse != nil {
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				refuse()
			}()
		}
		return c, Refused
	}
	c = create()
	if s.conns == nil {
		s.conns = map[C]struct{}{}
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return c, Admitted
}

// Done removes an admitted connection from the set once its session has
// ended; release (nil: nothing) runs under the set's lock, to undo what
// admit counted.
func (s *Set[C]) Done(c C, release func()) {
	s.mu.Lock()
	delete(s.conns, c)
	if release != nil {
		release()
	}
	s.mu.Unlock()
	s.wg.Done()
}

// Shutdown marks the set closing, closes its listeners, and calls
// interrupt for every connection (outside the lock), which should make the
// session finish what it is doing and end. It then waits until every
// connection is Done. When ctx is done first, it calls abort once with the
// connections still open (to close them and cancel their work), waits
// again, and returns ctx's error.
func (s *Set[C]) Shutdown(ctx context.Context, interrupt func(C), abort func([]C)) error {
	s.mu.Lock()
	s.closing = true
	for l := range s.listeners {
		_ = l.Close()
	}
	conns := s.snapshotLocked()
	s.mu.Unlock()
	for _, c := range conns {
		interrupt(c)
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		conns = s.snapshotLocked()
		s.mu.Unlock()
		abort(conns)
		<-done
		return ctx.Err()
	}
}

// snapshotLocked lists the connections in the set.
func (s *Set[C]) snapshotLocked() []C {
	conns := make([]C, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	return conns
}
