// Package storetest is the conformance suite every store.Store backend must
// pass. A backend's test calls [Run] with a function that opens a fresh,
// empty store, and [RunReopen] with a function that reopens the same storage
// to check persistence:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return openFresh(t) })
//	}
//
// The opened store must use [Analyzer] as its structure analyser, so the
// suite can check that the cached structure blob is stored and returned.
// Stores should use a cheap password-hash cost: the suite creates accounts.
//
// The suite covers accounts and authentication, the mailbox hierarchy
// (create, delete, rename, subscriptions, special use), append and fetch,
// flags and CONDSTORE, copy and move with COPYUID, expunge, the change log
// and its expunge entries (what QRESYNC reports as VANISHED),
// notifications, account isolation, and concurrent writers (meant to run
// under the race detector). Backends whose users implement the optional
// store.BatchAppender are also checked for batch appends (order, consecutive
// UIDs, one MODSEQ and notification per batch, all-or-nothing failure); the
// batch cases are skipped for other backends. Backends implementing
// store.QuotaAdmin and store.QuotaUser are checked for quotas (usage summed
// over the account's mailboxes, ErrOverQuota at the exact limit with nothing
// stored, MOVE never refused, concurrent appends never beyond the limit), and those implementing
// store.DeletedSizer for the size of the \Deleted messages; those whose users
// implement store.MetadataUser for annotations (server and mailbox entries,
// kept by RENAME, removed by DELETE, copied by a rename of INBOX, count and
// size limits per mailbox and per account with nothing stored on a refusal). [RunChangeLogBound] checks,
// with a function that opens a store keeping few change-log entries, that a
// read from before the kept entries fails with store.ErrChangesTruncated.
// Every backend is checked for FetchOptions.Header (nil or a prefix of the
// content holding the header block, and only when asked for); those whose
// users implement store.FlagSearcher for the same answers as the flags
// Fetch reports, on random queries after appends, flag changes, a copy
// and an expunge; and those implementing store.FirstFlagMatcher for the
// same first match in random UID ranges.
package storetest
