package server

import (
	"sync"
	"time"
)

// maxTrackedAuthAddrs bounds the memory of the authentication failure
// limiter: at most this many remote addresses (IPv4 addresses or IPv6 /64
// prefixes) are tracked at once, about 100 bytes each.
const maxTrackedAuthAddrs = 16384

// authLimiter is a token bucket per remote address for failed
// authentications. Each address starts with burst tokens; a failure takes
// one and one comes back every refill. An address without a token is
// refused before its credentials are checked, so a password-guessing client
// gets at most burst guesses at once and then one per refill interval.
//
// Memory is bounded: when maxTrackedAuthAddrs addresses are tracked, the
// buckets that have refilled completely (and so carry no information) are
// dropped; if none has, an arbitrary bucket is dropped. An attacker with
// very many addresses can thereby reset some buckets early, but never make
// the table grow.
type authLimiter struct {
	burst  float64
	refill time.Duration
	max    int
	now    func() time.Time

	mu      sync.Mutex
	buckets map[string]*authBucket
}

type authBucket struct {
	tokens float64
	at     time.Time // when tokens was last brought up to date
}

// newAuthLimiter returns a limiter, or nil (no limit) when burst is
// negative.
func newAuthLimiter(burst int, refill time.Duration) *authLimiter {
	if burst < 0 {
		return nil
	}
	return &authLimiter{
		burst:   float64(burst),
		refill:  refill,
		max:     maxTrackedAuthAddrs,
		now:     time.Now,
		buckets: map[string]*authBucket{},
	}
}

// level brings b up to date and returns its tokens; l.mu must be held.
func (l *authLimiter) level(b *authBucket, now time.Time) float64 {
	if elapsed := now.Sub(b.at); elapsed > 0 && l.refill > 0 {
		b.tokens = min(l.burst, b.tokens+float64(elapsed)/float64(l.refill))
	}
	b.at = now
	return b.tokens
}

// allow reports whether key may try to authenticate now.
func (l *authLimiter) allow(key string) bool {
	if l == nil {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		return true
	}
	return l.level(b, l.now()) >= 1
}

// fail records a failed authentication by key.
func (l *authLimiter) fail(key string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.max {
			l.evictLocked(now)
		}
		b = &authBucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	l.level(b, now)
	b.tokens = max(0, b.tokens-1)
}

// evictLocked makes room for one bucket; l.mu must be held.
func (l *authLimiter) evictLocked(now time.Time) {
	for k, b := range l.buckets {
		if l.level(b, now) >= l.burst {
			delete(l.buckets, k)
		}
	}
	for k := range l.buckets {
		if len(l.buckets) < l.max {
			return
		}
		delete(l.buckets, k)
	}
}

// tracked is the number of addresses tracked now (tests, metrics).
func (l *authLimiter) tracked() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
