package password

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"time"
)

// Defaults of the cache of verified credentials (see [CacheOptions]).
const (
	DefaultCacheSize = 4096
	DefaultCacheTTL  = time.Hour
)

// CacheOptions bounds the cache of verified credentials of a [Hasher].
//
// A login that verified recently skips the slow hash: the cache remembers
// that a (stored hash, password) pair matched. Its key is an HMAC-SHA256,
// under a secret drawn at random for each process, of the stored hash and
// the password, so the cache holds no password and nothing usable outside
// the process. Because the stored hash is part of the key, a password
// change (a new hash with a new salt) makes every entry of the old password
// unreachable at once. Mismatches are never cached: a wrong password always
// costs a full verification.
type CacheOptions struct {
	// Size bounds the entries (default DefaultCacheSize; negative
	// disables the cache). When full, an arbitrary entry is evicted.
	Size int
	// TTL is how long a verification is remembered (default
	// DefaultCacheTTL).
	TTL time.Duration
}

// verifiedCache is a bounded set of recently verified credentials.
type verifiedCache struct {
	secret [32]byte
	size   int
	ttl    time.Duration
	now    func() time.Time

	mu      sync.Mutex
	entries map[[32]byte]int64 // key -> expiry (UnixNano)
}

func newVerifiedCache(o CacheOptions) *verifiedCache {
	if o.Size < 0 {
		return nil
	}
	if o.Size == 0 {
		o.Size = DefaultCacheSize
	}
	if o.TTL <= 0 {
		o.TTL = DefaultCacheTTL
	}
	c := &verifiedCache{size: o.Size, ttl: o.TTL, now: time.Now, entries: make(map[[32]byte]int64)}
	rand.Read(c.secret[:]) // never fails (crypto/rand panics rather than return an error)
	return c
}

// key returns HMAC-SHA256(secret, len(hash) || hash || pw).
func (c *verifiedCache) key(hash, pw string) [32]byte {
	m := hmac.New(sha256.New, c.secret[:])
	var n [4]byte
	n[0], n[1], n[2], n[3] = byte(len(hash)>>24), byte(len(hash)>>16), byte(len(hash)>>8), byte(len(hash))
	m.Write(n[:])
	m.Write([]byte(hash))
	m.Write([]byte(pw))
	var k [32]byte
	m.Sum(k[:0])
	return k
}

// hit reports whether (hash, pw) verified within the TTL.
func (c *verifiedCache) hit(k [32]byte) bool {
	now := c.now().UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	exp, ok := c.entries[k]
	if ok && exp <= now {
		delete(c.entries, k)
		return false
	}
	return ok
}

// add remembers a successful verification.
func (c *verifiedCache) add(k [32]byte) {
	exp := c.now().Add(c.ttl).UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; !ok && len(c.entries) >= c.size {
		for old := range c.entries {
			delete(c.entries, old)
			break
		}
	}
	c.entries[k] = exp
}

// len returns the number of entries.
func (c *verifiedCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// purge drops every entry.
func (c *verifiedCache) purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
}
