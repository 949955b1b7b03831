package password

import (
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// BenchmarkVerify compares a login's password check at imapd's default
// bcrypt cost with and without the cache of verified credentials.
func BenchmarkVerify(b *testing.B) {
	for _, tc := range []struct {
		name  string
		cache CacheOptions
	}{{"uncached", CacheOptions{Size: -1}}, {"cached", CacheOptions{}}} {
		b.Run(tc.name, func(b *testing.B) {
			h, err := NewWithCache(bcrypt.DefaultCost, tc.cache)
			if err != nil {
				b.Fatal(err)
			}
			hash, err := h.Hash("bench-password")
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if err := h.Verify(hash, "bench-password"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
