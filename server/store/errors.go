package store

import "errors"

// Errors returned by stores. Backends return these values (possibly
// wrapped), so callers test with errors.Is and map them to IMAP response
// codes.
var (
	// ErrClosed is returned after Store.Close.
	ErrClosed = errors.New("store: closed")
	// ErrAuthFailed is returned by Authenticate for an unknown user or a
	// wrong password alike (IMAP [AUTHENTICATIONFAILED]).
	ErrAuthFailed = errors.New("store: authentication failed")
	// ErrNoSuchUser is returned for an unknown or deleted account.
	ErrNoSuchUser = errors.New("store: no such user")
	// ErrUserExists is returned when creating an existing account.
	ErrUserExists = errors.New("store: user already exists")
	// ErrInvalidUserName rejects an unusable account name.
	ErrInvalidUserName = errors.New("store: invalid user name")
	// ErrInvalidPassword rejects an unusable password or password hash.
	ErrInvalidPassword = errors.New("store: invalid password")
	// ErrNoSuchMailbox is returned for a mailbox that does not exist (IMAP
	// [NONEXISTENT]) or a stale MailboxID.
	ErrNoSuchMailbox = errors.New("store: no such mailbox")
	// ErrMailboxExists is returned when creating or renaming onto an
	// existing mailbox (IMAP [ALREADYEXISTS]).
	ErrMailboxExists = errors.New("store: mailbox already exists")
	// ErrInvalidMailboxName rejects a malformed mailbox name (IMAP
	// [CANNOT]).
	ErrInvalidMailboxName = errors.New("store: invalid mailbox name")
	// ErrNoselect is returned when operating on messages of a \Noselect
	// mailbox.
	ErrNoselect = errors.New("store: mailbox is not selectable")
	// ErrHasChildren is returned when deleting a \Noselect mailbox that
	// still has inferiors (IMAP [INUSE]/NO).
	ErrHasChildren = errors.New("store: mailbox has inferior names")
	// ErrInboxDelete is returned when deleting INBOX.
	ErrInboxDelete = errors.New("store: INBOX cannot be deleted")
	// ErrInvalidSpecialUse rejects an unknown special-use attribute (IMAP
	// [USEATTR]).
	ErrInvalidSpecialUse = errors.New("store: invalid special-use attribute")
	// ErrInvalidFlag rejects a malformed flag or \Recent.
	ErrInvalidFlag = errors.New("store: invalid flag")
	// ErrNoSuchMessage is returned for a UID that does not exist.
	ErrNoSuchMessage = errors.New("store: no such message")
	// ErrTooBig rejects a message over the configured size limit (IMAP
	// [TOOBIG]).
	ErrTooBig = errors.New("store: message too big")
	// ErrLimit is returned when a configured limit (such as keywords per
	// mailbox) would be exceeded (IMAP [LIMIT]).
	ErrLimit = errors.New("store: limit exceeded")
	// ErrOverQuota is returned when a write would take an account beyond
	// a limit of its quota (IMAP [OVERQUOTA], RFC 9208 4.3.1); nothing was
	// stored.
	ErrOverQuota = errors.New("store: over quota")
	// ErrChangesTruncated is returned by ChangesSince when the change log
	// was trimmed past the requested MODSEQ.
	ErrChangesTruncated = errors.New("store: change log truncated")
)
