// Package store defines the storage API of the IMAP server: the interfaces the
// session engine and the command handlers call, the value types they
// exchange, and helpers every backend shares (mailbox-name rules, flag
// normalisation, UID sets and an in-process change notifier).
//
// # Shape of the API
//
// A [Store] holds accounts. [Accounts] manages them (create, delete, set
// password, list, authenticate). A successful [Accounts.Authenticate] (or
// [Store.OpenUser] for trusted callers such as local delivery) yields a
// [User]: every method on it is scoped to that one account, so no mailbox
// name or mailbox ID can reach another account's data.
//
// Mailbox management ([MailboxAdmin]) is addressed by name, because that is
// how IMAP commands name mailboxes. Operations on the selected mailbox
// ([MessageReader], and most of [MessageWriter]) are addressed by
// [MailboxID], which never changes for the lifetime of a mailbox: a rename
// keeps it, a delete and re-create produces a new one (and a new
// UIDVALIDITY). A stale ID yields [ErrNoSuchMailbox].
//
// # Durability contract
//
// Every method that changes state returns only once the change is durable
// (data and metadata synced to stable storage). The caller sends a tagged OK
// only after the method returned, so an acknowledged change survives a crash.
//
// # Change tracking
//
// Each mailbox has a modification sequence (RFC 7162). Each committed
// operation that changes a mailbox gets the next MODSEQ of that mailbox; all
// messages changed by that operation carry it. Every change is recorded in a
// per-mailbox change log ([MessageReader.ChangesSince]) and announced on the
// [Notifier] with only the new HIGHESTMODSEQ; sessions catch up from the log,
// so a coalesced or lost notification loses nothing. A notification also
// carries the [Origin] of the call that made the change, taken from its
// context ([WithOrigin]), so that a session can leave out its own changes
// and only those.
//
// Names in this API are UTF-8; translation from and to modified UTF-7 is the
// wire layer's business. The hierarchy separator is [Separator].
package store
