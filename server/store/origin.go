package store

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
)

// Origin is an opaque token naming what caused a change: typically one
// IMAP session (connection). A store stamps every [Notification] it
// publishes with the Origin of the context.Context of the call that made
// the change ([WithOrigin]), so that a session can tell its own changes
// from everyone else's (RFC 5465 5: a server SHOULD NOT notify a client of
// the events it caused itself) without a time window guessing at it. The
// zero Origin means unknown: a change made without one (delivery,
// administration, a resynchronisation hint) or a coalesced notification
// whose changes had different origins. It is never anyone's own.
type Origin uint64

// originBase and originSeq make [NewOrigin]'s tokens: a random 64-bit start
// per process, then consecutive values, so that tokens are unique within a
// process and tokens of different processes (nodes sharing a PostgreSQL
// store carry them across) collide with negligible probability.
var (
	originBase = rand.Uint64()
	originSeq  atomic.Uint64
)

// NewOrigin returns a fresh, non-zero Origin.
func NewOrigin() Origin {
	for {
		if o := Origin(originBase + originSeq.Add(1)); o != 0 {
			return o
		}
	}
}

// originCtx carries an Origin. Its Value answers with a pointer to the
// token, so that neither WithOrigin nor OriginOf boxes a value: one small
// allocation per session, none per store call.
type originCtx struct {
	context.Context
	origin Origin
}

type originKey struct{}

// Value implements context.Context.
func (c *originCtx) Value(key any) any {
	if key == (originKey{}) {
		return &c.origin
	}
	return c.Context.Value(key)
}

// WithOrigin returns a copy of ctx that carries o: the changes a store
// makes for calls with this context (or one derived from it) are
// published with o as their [Notification.Origin].
func WithOrigin(ctx context.Context, o Origin) context.Context {
	return &originCtx{Context: ctx, origin: o}
}

// OriginOf returns the Origin ctx carries, or zero.
func OriginOf(ctx context.Context) Origin {
	if p, ok := ctx.Value(originKey{}).(*Origin); ok {
		return *p
	}
	return 0
}
