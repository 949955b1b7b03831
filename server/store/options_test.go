package store

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestOptionsSetDefaults checks that the zero value gets every default
// and that values already set, including a Notifier, are kept.
func TestOptionsSetDefaults(t *testing.T) {
	var o Options
	o.SetDefaults()
	assert.Equal(t, int64(DefaultMaxMessageSize), o.MaxMessageSize)
	assert.Equal(t, DefaultMaxMailboxNameLen, o.MaxMailboxNameLen)
	assert.Equal(t, DefaultMaxChangeLog, o.MaxChangeLog)
	assert.Equal(t, DefaultMaxKeywords, o.MaxKeywords)
	assert.NotNil(t, o.Notifier)
	assert.Zero(t, o.BcryptCost, "the hasher picks bcrypt's default cost")

	n := NewLocalNotifier()
	set := Options{MaxMessageSize: 10, MaxMailboxNameLen: 20, MaxChangeLog: 30, MaxKeywords: 40, Notifier: n}
	set.SetDefaults()
	assert.Equal(t, Options{MaxMessageSize: 10, MaxMailboxNameLen: 20, MaxChangeLog: 30, MaxKeywords: 40, Notifier: n}, set)

	neg := Options{MaxMessageSize: -1, MaxChangeLog: -1}
	neg.SetDefaults()
	assert.Equal(t, int64(DefaultMaxMessageSize), neg.MaxMessageSize)
	assert.Equal(t, DefaultMaxChangeLog, neg.MaxChangeLog)
}
