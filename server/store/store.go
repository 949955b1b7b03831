package store

import (
	"context"
	"io"
	"slices"
)

// Store is a complete mail store: accounts, their mailboxes and messages, and
// the notifier announcing committed changes. Implementations must be safe for
// concurrent use by many sessions.
type Store interface {
	Accounts

	// OpenUser returns the handle of an existing account without checking a
	// password. It is meant for trusted local callers (delivery, import,
	// administration); network logins use [Accounts.Authenticate].
	// It fails with [ErrNoSuchUser].
	OpenUser(ctx context.Context, name string) (User, error)

	// Notifier returns the notifier on which the store publishes every
	// committed change.
	Notifier() Notifier

	// Close releases the store. Methods called after Close fail with
	// [ErrClosed]. Close waits for in-flight writes to finish.
	Close() error
}

// Accounts manages user accounts and their credentials.
type Accounts interface {
	// CreateUser creates an account with the given password, stored as a
	// bcrypt hash, and the default mailboxes (see [DefaultMailboxes]).
	// It fails with [ErrUserExists], [ErrInvalidUserName] or
	// [ErrInvalidPassword].
	CreateUser(ctx context.Context, name, password string) error

	// CreateUserWithHash creates an account from an already hashed password
	// (a bcrypt "$2a$/$2b$/$2y$" hash or a PHC "$argon2id$" hash), so that
	// operators can import accounts from another system.
	CreateUserWithHash(ctx context.Context, name, hash string) error

	// SetPassword replaces the password of an existing account.
	SetPassword(ctx context.Context, name, password string) error

	// DeleteUser removes an account with all its mailboxes and messages.
	DeleteUser(ctx context.Context, name string) error

	// ListUsers returns all account names in byte order.
	ListUsers(ctx context.Context) ([]string, error)

	// Authenticate checks a password and returns the account's handle.
	// An unknown user and a wrong password both yield [ErrAuthFailed] and
	// take the same time class (a dummy hash is compared for unknown users).
	Authenticate(ctx context.Context, name, password string) (User, error)
}

// User is the handle of one account. Every operation is confined to that
// account. A handle stays valid until the account is deleted; afterwards its
// methods fail with [ErrNoSuchUser].
type User interface {
	// Name returns the account name.
	Name() string

	MailboxAdmin
	MessageReader
	MessageWriter
}

// MailboxAdmin manages the mailbox hierarchy of one account. Mailboxes are
// addressed by UTF-8 name with [Separator] as hierarchy separator; "INBOX" is
// case-insensitive.
type MailboxAdmin interface {
	// ListMailboxes returns every existing mailbox (including \Noselect
	// ones) sorted by name, with computed \HasChildren / \HasNoChildren.
	ListMailboxes(ctx context.Context) ([]MailboxInfo, error)

	// Mailbox resolves a name to the mailbox's current description.
	Mailbox(ctx context.Context, name string) (MailboxInfo, error)

	// CreateMailbox creates a mailbox, and any missing superior levels
	// (RFC 9051 section 6.3.4). specialUse is zero or one of the RFC 6154
	// attributes. Creating a name that exists as \Noselect makes it
	// selectable again with a new UIDVALIDITY.
	CreateMailbox(ctx context.Context, name string, specialUse MailboxAttr) (MailboxInfo, error)

	// DeleteMailbox deletes a mailbox (RFC 9051 section 6.3.5). INBOX
	// cannot be deleted. A mailbox with inferiors loses its messages and
	// becomes \Noselect; deleting a \Noselect mailbox that still has
	// inferiors fails with [ErrHasChildren].
	DeleteMailbox(ctx context.Context, name string) error

	// RenameMailbox renames a mailbox and all its inferiors, creating
	// missing superiors of the new name. Renaming INBOX moves its messages
	// to a new mailbox of the new name and leaves INBOX empty.
	RenameMailbox(ctx context.Context, from, to string) error

	// SetSubscribed subscribes (true) or unsubscribes (false) a name.
	// Subscribing requires the mailbox to exist; unsubscribing does not.
	// Subscriptions survive deletion of the mailbox (RFC 9051 section 6.3.7).
	SetSubscribed(ctx context.Context, name string, subscribed bool) error

	// Subscriptions returns all subscribed names, existing or not, sorted.
	Subscriptions(ctx context.Context) ([]string, error)

	// Status returns the counters of a mailbox (RFC 9051 section 6.3.11).
	Status(ctx context.Context, name string) (MailboxStatus, error)
}

// MessageReader reads messages and change history of a mailbox.
type MessageReader interface {
	// View returns a consistent snapshot of a mailbox for SELECT/EXAMINE:
	// its status and the ordered UID list.
	View(ctx context.Context, mailbox MailboxID) (View, error)

	// Fetch streams the metadata of the messages whose UIDs are in uids,
	// in ascending UID order, to fn. It never loads a whole mailbox: it
	// reads in bounded chunks, so messages expunged concurrently may be
	// skipped. If fn returns an error, iteration stops and Fetch returns
	// that error. The Message passed to fn must not be retained after fn
	// returns unless copied ([Message.Clone]).
	Fetch(ctx context.Context, mailbox MailboxID, uids UIDSet, opts FetchOptions, fn func(*Message) error) error

	// OpenBody opens the raw RFC 5322 content of a message. The caller must
	// close it. It stays readable even if the message is expunged meanwhile.
	OpenBody(ctx context.Context, mailbox MailboxID, uid uint32) (Body, error)

	// ChangesSince streams, in MODSEQ order, the change-log entries of a
	// mailbox with MODSEQ greater than modseq. If the log no longer reaches
	// back that far, it returns [ErrChangesTruncated] before calling fn;
	// the caller must then resynchronise from a fresh [View].
	ChangesSince(ctx context.Context, mailbox MailboxID, modseq uint64, fn func(Change) error) error
}

// MessageWriter changes messages. Every method returns only after the change
// is durable, and publishes a [Notification] for each mailbox it changed,
// with the [Origin] of its context (as do the changes of [MailboxAdmin] and
// the optional interfaces).
type MessageWriter interface {
	// Append stores a new message at the end of the named mailbox. The body
	// is streamed to storage; Append returns after body and metadata are
	// durable.
	Append(ctx context.Context, mailbox string, msg NewMessage) (AppendResult, error)

	// StoreFlags changes the flags of the messages in uids (RFC 9051 6.4.6,
	// RFC 7162 UNCHANGEDSINCE).
	StoreFlags(ctx context.Context, mailbox MailboxID, uids UIDSet, req FlagChange) (StoreResult, error)

	// Copy copies messages to the named mailbox and returns the UID mapping
	// for COPYUID (RFC 4315). Copying into the source mailbox is allowed.
	Copy(ctx context.Context, mailbox MailboxID, uids UIDSet, dest string) (CopyResult, error)

	// Move moves messages to the named mailbox atomically (RFC 6851): the
	// destination gains them and the source expunges them in one commit.
	Move(ctx context.Context, mailbox MailboxID, uids UIDSet, dest string) (CopyResult, error)

	// ClaimRecent decides which session sees messages as \Recent
	// (RFC 3501 2.3.2: a message is recent in exactly one session, the
	// first to be notified of it). Each mailbox keeps its first recent
	// UID: messages at or above it have not been claimed by any session.
	// ClaimRecent advances it to upTo when it is lower and returns its
	// previous value, atomically for every session of every node sharing
	// the store: the messages with a UID at or above the returned value
	// and below upTo are recent for the caller, and for no other caller.
	// When the returned value is upTo or more, nothing was claimed. It
	// does not change the MODSEQ and publishes no notification. Unlike
	// the other writes it need not be durable when it returns: a crash
	// may lose recent claims (their messages are then recent again for
	// the next session), never hand a message to a second caller.
	ClaimRecent(ctx context.Context, mailbox MailboxID, upTo uint32) (uint32, error)

	// Expunge permanently removes messages flagged \Deleted. If uids is
	// nil, all such messages are removed; otherwise only those in uids
	// (UID EXPUNGE, RFC 9051 6.4.9). It returns the expunged UIDs in
	// ascending order.
	Expunge(ctx context.Context, mailbox MailboxID, uids UIDSet) ([]uint32, error)
}

// Body is the raw content of one message.
type Body interface {
	io.ReaderAt
	io.ReadSeekCloser
	// Size returns the length of the content in bytes.
	Size() int64
}

// Analyzer computes the cached parsed-structure blob of a message at append
// time (for example a serialised MIME tree for BODYSTRUCTURE). The store does
// not interpret the blob; it stores it and returns it in [Message.Structure].
// An Analyzer must read r only; it may stop early.
type Analyzer func(r io.Reader) ([]byte, error)

// BatchAppender is implemented by a [User] whose store can append many
// messages in one durable operation, paying its synchronisation cost once
// per batch instead of once per message. It is optional: callers
// type-assert a User and fall back to [MessageWriter.Append] one message
// at a time when the assertion fails.
//
// AppendBatch appends msgs to the named mailbox as one operation, with the
// same validation and defaults as Append for each message:
//
//   - All or nothing: on success every message is stored; on error none of
//     them is, nothing of the batch ever becomes visible, and no message
//     content is left behind (not even after a crash). The caller may
//     therefore retry the batch, or append its messages one by one, to find
//     out which message was at fault.
//   - Order: the results are in slice order and the UIDs ascend in slice
//     order, so msgs[i] gets a lower UID than msgs[i+1]. No other message
//     is interleaved: the UIDs of one batch are consecutive.
//   - One change: the batch gets a single new MODSEQ, carried by all its
//     messages, one change-log entry and one [Notification].
//   - Durability: it returns only after contents and metadata are durable.
//
// Each body is read to EOF before AppendBatch returns; bodies are read one
// after another, in slice order. An empty msgs stores nothing and returns
// no results. A batch is held in one transaction, so callers should bound
// it (a few hundred messages or a few MiB).
type BatchAppender interface {
	AppendBatch(ctx context.Context, mailbox string, msgs []NewMessage) ([]AppendResult, error)
}

// Replacer is implemented by a [User] whose store can replace a message in
// one commit, for REPLACE (RFC 8508). It is optional: without it a caller
// appends the new message and then flags and expunges the old one, three
// commits a crash may separate.
//
// Replace appends msg to the mailbox named dest, with the validation and
// defaults of Append, and expunges the message uid of mailbox (whatever
// its flags), atomically: both happen or neither does. It fails with
// [ErrNoSuchMessage] when mailbox has no message uid, storing nothing. The
// account's quota counts the new message instead of the old one. The
// append and the expunge each get a MODSEQ of their mailbox and a
// change-log entry (in that order when dest is mailbox), and a
// [Notification] is published for each mailbox changed. It returns the
// append's result.
type Replacer interface {
	Replace(ctx context.Context, mailbox MailboxID, uid uint32, dest string, msg NewMessage) (AppendResult, error)
}

// FlagQuery is a conjunction of flag conditions for [FlagSearcher]: a
// message matches when it has every flag of Set and none of Unset.
// Keywords compare case-insensitively, as in [FlagSet.HasKeyword]; they
// must be valid keywords (ASCII atoms, as [ParseFlags] accepts), so that
// a store may fold their case in ASCII.
type FlagQuery struct {
	Set   FlagSet
	Unset FlagSet
}

// Validate fails with [ErrInvalidFlag] when a keyword of q is not a valid
// keyword, or q names a system flag that does not exist.
func (q FlagQuery) Validate() error {
	const all = FlagSeen | FlagAnswered | FlagFlagged | FlagDeleted | FlagDraft
	if q.Set.System&^all != 0 || q.Unset.System&^all != 0 {
		return ErrInvalidFlag
	}
	for _, k := range slices.Concat(q.Set.Keywords, q.Unset.Keywords) {
		if !validKeyword(k) {
			return ErrInvalidFlag
		}
	}
	return nil
}

// Matches reports whether a message whose flags are f matches q. It is
// the definition every [FlagSearcher] answers by.
func (q FlagQuery) Matches(f FlagSet) bool {
	if f.System&q.Set.System != q.Set.System || f.System&q.Unset.System != 0 {
		return false
	}
	for _, k := range q.Set.Keywords {
		if !f.HasKeyword(k) {
			return false
		}
	}
	for _, k := range q.Unset.Keywords {
		if f.HasKeyword(k) {
			return false
		}
	}
	return true
}

// FlagSearcher is implemented by a [User] whose store can find the
// messages of a mailbox by their flags without reading each message's
// metadata through [MessageReader.Fetch]: from an index, or from a scan
// much cheaper than Fetch. It is optional: callers type-assert a User and
// otherwise test the flags of every message they fetch; the answers must
// be the same.
//
// SearchFlags returns, in ascending UID order and from one consistent
// snapshot, the UID and the MODSEQ of every message of the mailbox that
// matches q ([FlagQuery.Matches]). It fails like Fetch for a mailbox
// that is gone or \Noselect, and with [ErrInvalidFlag] when q is not
// valid ([FlagQuery.Validate]).
type FlagSearcher interface {
	SearchFlags(ctx context.Context, mailbox MailboxID, q FlagQuery) (uids []uint32, modseqs []uint64, err error)
}

// FirstFlagMatcher is implemented by a [User] whose store can find the
// first message of a UID range that matches a flag query without reading
// the messages before it (from an index, or from a scan much cheaper than
// Fetch), such as the first message without \Seen for the UNSEEN
// response code of SELECT. It is optional, like [FlagSearcher].
//
// FirstFlagMatch returns the lowest UID in from..to of a message of the
// mailbox that matches q ([FlagQuery.Matches]), or 0 when none does. It
// fails like [FlagSearcher.SearchFlags].
type FirstFlagMatcher interface {
	FirstFlagMatch(ctx context.Context, mailbox MailboxID, q FlagQuery, from, to uint32) (uint32, error)
}
