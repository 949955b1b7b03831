package password

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

func TestCacheRemembersMatchesOnly(t *testing.T) {
	h, err := NewWithCache(bcrypt.MinCost, CacheOptions{Size: 8})
	require.NoError(t, err)
	hash, err := h.Hash("right")
	require.NoError(t, err)
	require.ErrorIs(t, h.Verify(hash, "wrong"), ErrMismatch)
	assert.Zero(t, h.cache.len(), "a mismatch is never cached")
	require.NoError(t, h.Verify(hash, "right"))
	assert.Equal(t, 1, h.cache.len())
	require.NoError(t, h.Verify(hash, "right"), "hit")
	assert.ErrorIs(t, h.Verify(hash, "wrong"), ErrMismatch, "a cached match does not admit another password")
	assert.ErrorIs(t, h.Verify(hash, "righ"), ErrMismatch)
}

func TestCacheHitSkipsTheHash(t *testing.T) {
	h, err := NewWithCache(bcrypt.MinCost, CacheOptions{Size: 8})
	require.NoError(t, err)
	hash, err := h.Hash("pw")
	require.NoError(t, err)
	require.NoError(t, h.Verify(hash, "pw"))
	assert.True(t, h.cache.hit(h.cache.key(hash, "pw")))
	// With the bcrypt step bypassed, a hit is what makes Verify succeed:
	// drop the entry and a corrupted hash fails, keep it and it passes.
	h2, err := NewWithCache(bcrypt.MinCost, CacheOptions{Size: 8})
	require.NoError(t, err)
	h2.cache.add(h2.cache.key("$2a$04$corrupt", "pw"))
	assert.NoError(t, h2.Verify("$2a$04$corrupt", "pw"), "answered from the cache")
	h2.PurgeCache()
	assert.Error(t, h2.Verify("$2a$04$corrupt", "pw"), "the hash itself is unusable")
}

func TestPasswordChangeInvalidates(t *testing.T) {
	h, err := NewWithCache(bcrypt.MinCost, CacheOptions{Size: 8})
	require.NoError(t, err)
	old, err := h.Hash("old")
	require.NoError(t, err)
	require.NoError(t, h.Verify(old, "old"))
	// The account's stored hash is replaced: the old password must fail
	// although its verification is cached under the old hash.
	newHash, err := h.Hash("new")
	require.NoError(t, err)
	assert.ErrorIs(t, h.Verify(newHash, "old"), ErrMismatch)
	require.NoError(t, h.Verify(newHash, "new"))
	// Even the same password hashed again (new salt) is a new key.
	again, err := h.Hash("new")
	require.NoError(t, err)
	assert.NotEqual(t, h.cache.key(newHash, "new"), h.cache.key(again, "new"))
}

func TestCacheBoundAndTTL(t *testing.T) {
	h, err := NewWithCache(bcrypt.MinCost, CacheOptions{Size: 3, TTL: time.Minute})
	require.NoError(t, err)
	now := time.Unix(1000, 0)
	h.cache.now = func() time.Time { return now }
	for _, pw := range []string{"a", "b", "c", "d", "e"} {
		hash, err := h.Hash(pw)
		require.NoError(t, err)
		require.NoError(t, h.Verify(hash, pw))
		assert.LessOrEqual(t, h.cache.len(), 3)
	}
	assert.Equal(t, 3, h.cache.len())
	k := h.cache.key("$2a$04$x", "p")
	h.cache.add(k)
	assert.True(t, h.cache.hit(k))
	now = now.Add(time.Minute)
	assert.False(t, h.cache.hit(k), "expired")
	h.PurgeCache()
	assert.Zero(t, h.cache.len())
}

func TestCacheDisabledAndSecretPerHasher(t *testing.T) {
	off, err := NewWithCache(bcrypt.MinCost, CacheOptions{Size: -1})
	require.NoError(t, err)
	assert.Nil(t, off.cache)
	hash, err := off.Hash("pw")
	require.NoError(t, err)
	require.NoError(t, off.Verify(hash, "pw"))
	off.PurgeCache()
	a, err := New(bcrypt.MinCost)
	require.NoError(t, err)
	b, err := New(bcrypt.MinCost)
	require.NoError(t, err)
	require.NotNil(t, a.cache, "on by default")
	assert.NotEqual(t, a.cache.key(hash, "pw"), b.cache.key(hash, "pw"), "keys depend on a per-hasher secret")
}
