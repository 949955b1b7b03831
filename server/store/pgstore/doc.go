// Package pgstore is the scale-out mail store: a store.Store on PostgreSQL
// (through pgx) that any number of imapd nodes share. It implements the same
// interfaces as the embedded boltstore and passes the same conformance suite
// (server/store/storetest).
//
// # Schema and migrations
//
// The schema is created and migrated by the program: versioned SQL files
// (migrations/NNNN_description.sql) are embedded in the binary and applied
// by [Open] in one transaction under an advisory lock, so that nodes
// starting together migrate once. Applied versions are recorded in the
// schema_version table. A node refuses to start ([ErrSchemaTooNew]) against
// a database migrated by a newer program, because it would write rows in a
// layout it does not know; roll nodes forward, never back. Tables: users,
// mailboxes (STATUS counters, UIDNEXT, HIGHESTMODSEQ, keyword list, change
// log bounds, the first UID not yet claimed as \Recent), subscriptions, contents (message bodies), messages (per
// mailbox and UID: flags, MODSEQ, size, date, structure blob, content
// reference), uid_runs (each mailbox's UID list as runs of consecutive
// UIDs, see below), changes (the change log) and uidvalidity (its
// allocator).
// [Options.Schema] puts them in a schema of their own.
//
// # UIDs and MODSEQs across nodes
//
// UIDNEXT and HIGHESTMODSEQ live in the mailbox row and are allocated
// inside the transaction that stores the change: Append allocates with
// "UPDATE mailboxes SET uid_next = uid_next + 1, highest_modseq =
// highest_modseq + 1 ... RETURNING", the other writers lock the row with
// SELECT ... FOR UPDATE first. The row lock is held until commit, so two
// nodes appending at once are ordered by PostgreSQL, never produce the same
// UID, and a rolled-back append gives its UID back with the rest of its
// transaction (UIDs stay dense, and are never reused once committed). Because
// the lock also orders the commits, MODSEQs of one mailbox become visible in
// increasing order: a reader that saw MODSEQ n+1 can never later discover n.
// Writers of different mailboxes do not wait for each other. Hierarchy
// changes (create, delete, rename) also lock the account row, so they are
// serialised per account. Deadlocks (possible between transfers and
// expunges touching shared contents) are retried.
//
// # The UID list
//
// SELECT needs every UID of the mailbox (store.View). Besides the messages
// table, each mailbox keeps its UIDs as maximal runs of consecutive UIDs
// in uid_runs, one row per run, so that View reads O(runs) rows rather
// than O(messages): a mailbox filled by appends is one row, however large.
// Every transaction that inserts or deletes messages (append, batch
// append, COPY, MOVE, REPLACE, EXPUNGE; deleting a mailbox cascades)
// updates the runs in the same transaction, under the mailbox row lock it
// holds anyway, so any snapshot on any node sees runs and messages agree.
// Since UIDs are allocated from uid_next, an append extends the last run
// or starts a new one; an expunge shortens or splits the runs it touches.
// View checks that the runs add up to the message count and rebuilds them
// from the messages (logging an error) if they do not.
//
// # Bodies in the database
//
// Message bodies are stored in the contents table as bytea, in the same
// transaction as their metadata: an acknowledged message is durable with one
// WAL flush, a killed writer leaves nothing behind (no orphan files to
// collect), backups and replicas are one PostgreSQL backup, and nodes need
// no shared file system. COPY shares the content row; the last expunge of a
// content deletes it. Bodies are buffered whole in memory on the way in and
// out (bounded by [store.Options.MaxMessageSize], default 64 MiB), and PostgreSQL
// compresses them (TOAST). This suits mailboxes up to a few hundred GiB of
// mail per database. Object storage (S3-compatible, content-addressed, with
// only the key in contents) becomes the next step when the total exceeds
// about 1 TiB, when single messages above ~50 MiB are common, or when
// base backups and replica rebuilds take too long: the table layout keeps
// that change local to the contents table.
//
// # Push across nodes
//
// Every committed change sends NOTIFY on [Options.Channel] inside its
// transaction (PostgreSQL delivers it only at commit) with the payload
// {node, user, mailbox, HIGHESTMODSEQ, origin} (origin: the change's
// store.Origin, so other nodes know it too). Each Store runs a listener on a
// dedicated connection (outside the pool) in LISTEN, republishing other
// nodes' notifications on the local store.Notifier; its own changes are
// published locally right after commit. The listener reconnects with
// jittered exponential backoff ([Options.ReconnectMin], ReconnectMax) and,
// after a reconnect, publishes the current HIGHESTMODSEQ of every mailbox
// with a local subscriber, because NOTIFYs sent while it was away are lost.
// Sessions read what changed from the change log by MODSEQ, so a lost or
// coalesced notification delays, but never loses, a change.
//
// # Durability
//
// A method returns after PostgreSQL committed: with the default
// synchronous_commit=on that means the WAL is flushed. Do not run the
// database with fsync=off or synchronous_commit=off in production; with
// synchronous replication, an acknowledged message also survives the loss
// of the primary.
//
// # Searching
//
// SearchFlags (store.FlagSearcher) answers SEARCH on flags with one
// query. \Answered, \Flagged, \Draft and \Deleted set and \Seen unset
// have partial indexes on (mailbox_id, uid), keywords a GIN index of
// "mailbox keyword" keys (lower case), so FLAGGED, UNSEEN or KEYWORD
// read only the matching messages; the opposite sides (SEEN, UNFLAGGED,
// UNKEYWORD, ...) usually match most of a mailbox and filter its rows in
// the database. FirstFlagMatch (store.FirstFlagMatcher) reads one entry
// of those indexes: SELECT's first unseen message costs O(log n). Fetch
// with FetchOptions.Header cuts each message's header
// block out of its content in the same query, so SEARCH HEADER costs a
// query per 512 messages rather than one per message; the match itself
// stays O(n), in the server.
//
// # Change log
//
// As in boltstore, each mailbox keeps its newest [store.Options.MaxChangeLog]
// change-log entries; older ones are trimmed in the same transaction and
// ChangesSince before the oldest kept entry returns
// store.ErrChangesTruncated.
//
// # Measured performance
//
// BenchmarkAppend10: 4 KiB durable appends by 10 concurrent clients, 2-vCPU
// virtual machine with a shared virtual disk and other builds running,
// PostgreSQL 15 with default settings on the same machine:
//
//	                     one mailbox      ten accounts
//	pgstore              150-330 msgs/s   210 msgs/s
//	boltstore            380-580 msgs/s   540 msgs/s
//
// Writers of one mailbox serialise on its row until commit, so one
// mailbox's append rate is bounded by the WAL flush latency plus about five
// round trips; different mailboxes proceed in parallel and share WAL
// flushes.
package pgstore
