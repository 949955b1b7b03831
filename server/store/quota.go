package store

import "context"

// Quota holds the limits of an account's quota root (RFC 9208). Every
// mailbox of the account counts towards it. A zero field means no limit.
type Quota struct {
	// Storage bounds the sum of the sizes of the account's messages, in
	// bytes (IMAP reports it in units of 1024 octets, the STORAGE resource
	// of RFC 9208 5.1).
	Storage int64
	// Messages bounds the number of the account's messages (the MESSAGE
	// resource of RFC 9208 5.2).
	Messages int64
}

// Unlimited reports whether q sets no limit at all.
func (q Quota) Unlimited() bool { return q.Storage <= 0 && q.Messages <= 0 }

// QuotaUsage is what an account uses of its quota root: the sum over all its
// mailboxes of the message sizes in bytes and of the message counts.
type QuotaUsage struct {
	// Storage is the sum of the sizes of the account's messages in bytes.
	Storage int64
	// Messages is the number of the account's messages.
	Messages int64
}

// Allows reports whether adding messages messages of bytes bytes to use
// stays within q.
func (q Quota) Allows(use QuotaUsage, messages, bytes int64) bool {
	if q.Messages > 0 && use.Messages+messages > q.Messages {
		return false
	}
	if q.Storage > 0 && use.Storage+bytes > q.Storage {
		return false
	}
	return true
}

// QuotaUser is implemented by a [User] whose store keeps per-account quotas.
// It is optional: the IMAP server advertises QUOTA only for users that
// implement it.
//
// A store that implements it enforces the limits atomically on
// [MessageWriter.Append], [BatchAppender.AppendBatch] and
// [MessageWriter.Copy]: a write that would take the usage beyond a limit
// fails with [ErrOverQuota] and stores nothing. [MessageWriter.Move] within
// the account does not change the usage and is never refused for quota.
// Lowering a limit below the current usage is allowed; only further
// additions are refused.
type QuotaUser interface {
	// Quota returns the account's limits and its current usage.
	Quota(ctx context.Context) (Quota, QuotaUsage, error)
}

// QuotaAdmin is implemented by a [Store] that keeps per-account quotas.
type QuotaAdmin interface {
	// SetQuota replaces the limits of the named account. It fails with
	// [ErrNoSuchUser].
	SetQuota(ctx context.Context, user string, q Quota) error
}

// DeletedSizer is implemented by a [User] whose store can sum the sizes of
// a mailbox's messages flagged \Deleted without reading the whole mailbox:
// the storage an EXPUNGE would free, STATUS DELETED-STORAGE (RFC 9208
// 4.1.4), which a server offering the STORAGE resource must support.
type DeletedSizer interface {
	// DeletedSize returns the sum of the sizes in bytes of the messages
	// of the named mailbox that are flagged \Deleted. It fails like
	// [MailboxAdmin.Status].
	DeletedSize(ctx context.Context, mailbox string) (int64, error)
}
