package store

import "github.com/imapfsm/imapfsm/server/store/password"

// Defaults of [Options].
const (
	DefaultMaxMessageSize = 64 << 20
	DefaultMaxChangeLog   = 10000
	DefaultMaxKeywords    = 256
)

// Options are the settings both bundled stores (boltstore and pgstore)
// take; each store's own Options embeds them and adds its specific fields.
// The zero value selects the defaults.
type Options struct {
	// BcryptCost is the bcrypt cost of new password hashes (default
	// bcrypt.DefaultCost).
	BcryptCost int
	// Analyzer computes the structure blob of each appended message; nil
	// stores none.
	Analyzer Analyzer
	// Notifier receives every committed change (with pgstore, of every
	// node); nil uses a new LocalNotifier.
	Notifier Notifier
	// MaxMessageSize bounds a message body in bytes (default 64 MiB).
	MaxMessageSize int64
	// MaxMailboxNameLen bounds a mailbox name in bytes (default
	// DefaultMaxMailboxNameLen).
	MaxMailboxNameLen int
	// MaxChangeLog bounds the change-log entries kept per mailbox
	// (default 10000). Older entries are dropped; ChangesSince for a MODSEQ
	// before the oldest kept entry fails with ErrChangesTruncated.
	MaxChangeLog int
	// MaxKeywords bounds the distinct keywords per mailbox (default 256).
	MaxKeywords int
	// AuthCache bounds the cache of verified credentials that lets a
	// repeated login skip the slow password hash (see
	// password.CacheOptions). The zero value keeps the cache on with its
	// defaults; AuthCache.Size < 0 turns it off, so that every login
	// costs a full verification. A password change replaces the stored
	// hash the cache is keyed by, so the old password is refused
	// afterwards (with pgstore, on every node).
	AuthCache password.CacheOptions
}

// SetDefaults replaces zero or negative limits and a nil Notifier with
// their defaults.
func (o *Options) SetDefaults() {
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = DefaultMaxMessageSize
	}
	if o.MaxMailboxNameLen <= 0 {
		o.MaxMailboxNameLen = DefaultMaxMailboxNameLen
	}
	if o.MaxChangeLog <= 0 {
		o.MaxChangeLog = DefaultMaxChangeLog
	}
	if o.MaxKeywords <= 0 {
		o.MaxKeywords = DefaultMaxKeywords
	}
	if o.Notifier == nil {
		o.Notifier = NewLocalNotifier()
	}
}
