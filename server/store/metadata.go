package store

import (
	"context"
	"errors"
)

// MetadataEntry is one annotation of a mailbox or of the account's server
// entries (RFC 5464): a hierarchical entry name such as
// "/private/comment" and its value.
type MetadataEntry struct {
	// Name is the entry name, already checked and lower-cased by the
	// caller (entry names are case-insensitive, RFC 5464 3.2).
	Name string
	// Value is the entry's value, any octets. In a change passed to
	// [MetadataUser.SetMetadata], nil removes the entry (NIL on the wire)
	// while an empty non-nil slice sets an empty value.
	Value []byte
}

// MetadataLimits bounds the annotations of one account. A zero field
// means no limit. The limits are checked on the state a
// [MetadataUser.SetMetadata] would leave: a change that takes a count or
// a total over its limit, and further than it already was, fails with
// [ErrMetadataTooMany]; so removing entries always succeeds, even when a
// lowered limit is already exceeded.
type MetadataLimits struct {
	// Entries bounds the number of entries of one mailbox, and of the
	// server entries (mailbox "").
	Entries int
	// Bytes bounds the sum of the value sizes of one mailbox's entries,
	// and of the server entries.
	Bytes int64
	// AccountEntries bounds the number of entries of the whole account,
	// its mailboxes' and its server entries together.
	AccountEntries int
	// AccountBytes bounds the sum of the value sizes of all the account's
	// entries.
	AccountBytes int64
}

// ErrMetadataTooMany is returned by [MetadataUser.SetMetadata] when the
// change would exceed a [MetadataLimits] bound (IMAP [METADATA TOOMANY],
// RFC 5464 4.3); nothing was changed.
var ErrMetadataTooMany = errors.New("store: too many metadata entries")

// MetadataUser is implemented by a [User] whose store keeps annotations
// (RFC 5464 METADATA). It is optional: the IMAP server advertises
// METADATA only for users that implement it.
//
// Mailbox entries belong to the mailbox, not to its name: they follow a
// RENAME (with its inferiors) and are removed by DELETE, also when the
// name stays as a \Noselect placeholder, so that a mailbox created later
// under the same name starts without them. Renaming INBOX copies INBOX's
// entries to the new mailbox and keeps them on INBOX (RFC 5464 4.1).
// \Noselect mailboxes may have entries. The mailbox name "" stands for the
// account's server entries.
type MetadataUser interface {
	// Metadata returns every entry of the named mailbox, or the server
	// entries when mailbox is "", sorted by name. It fails with
	// [ErrNoSuchMailbox] for a mailbox that does not exist.
	Metadata(ctx context.Context, mailbox string) ([]MetadataEntry, error)

	// SetMetadata sets or removes (nil Value) the given entries of the
	// named mailbox, or the server entries when mailbox is "", all or
	// nothing. When a name appears twice the last change wins. It fails
	// with [ErrNoSuchMailbox], or with [ErrMetadataTooMany] when the
	// result would exceed lim, changing nothing.
	SetMetadata(ctx context.Context, mailbox string, changes []MetadataEntry, lim MetadataLimits) error
}

// MetadataUsage is the count and total value size of a set of entries.
type MetadataUsage struct {
	Entries int
	Bytes   int64
}

// Add returns u with an entry of n bytes added (sign +1) or removed (-1).
func (u MetadataUsage) Add(sign int, n int) MetadataUsage {
	u.Entries += sign
	u.Bytes += int64(sign * n)
	return u
}

// exceeds reports whether after is over one of the limits and further
// over it than before.
func exceeds(before, after MetadataUsage, entries int, bytes int64) bool {
	if entries > 0 && after.Entries > entries && after.Entries > before.Entries {
		return true
	}
	return bytes > 0 && after.Bytes > bytes && after.Bytes > before.Bytes
}

// Check returns [ErrMetadataTooMany] when a change that takes the usage of
// one mailbox (or of the server entries) from mbBefore to mbAfter, and of
// the whole account from acctBefore to acctAfter, breaks a limit of lim.
func (lim MetadataLimits) Check(mbBefore, mbAfter, acctBefore, acctAfter MetadataUsage) error {
	if exceeds(mbBefore, mbAfter, lim.Entries, lim.Bytes) ||
		exceeds(acctBefore, acctAfter, lim.AccountEntries, lim.AccountBytes) {
		return ErrMetadataTooMany
	}
	return nil
}
