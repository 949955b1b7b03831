package backend

import (
	"context"
	"sync"

	"github.com/imapfsm/imapfsm/server/store"
)

// Gate admits the operations of a store until the store is closed. Every
// operation holds the gate shared from Enter to Leave; Close takes it
// exclusively, so it waits for the running operations, and every Enter
// after it fails with [store.ErrClosed]. The zero value is an open gate.
type Gate struct {
	mu     sync.RWMutex
	closed bool
}

// Enter admits an operation. It fails with ctx's error if ctx is done and
// with [store.ErrClosed] after Close; on success the caller must call Leave
// when the operation is done.
func (g *Gate) Enter(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return store.ErrClosed
	}
	return nil
}

// Leave ends an operation admitted by Enter.
func (g *Gate) Leave() { g.mu.RUnlock() }

// Close waits for the running operations, closes the gate and then runs
// release, which frees the store's resources, while no operation can
// start. It returns release's error, or [store.ErrClosed] without running
// release if the gate was already closed.
func (g *Gate) Close(release func() error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return store.ErrClosed
	}
	g.closed = true
	return release()
}
