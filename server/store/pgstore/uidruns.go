package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/imapfsm/imapfsm/server/store"
)

// The UID list of a mailbox is kept in uid_runs as maximal runs of
// consecutive UIDs (lo..hi), so that View reads one row per run instead of
// one per message: a mailbox filled by appends and never expunged is one
// row, whatever its size. Every transaction that inserts into or deletes
// from messages updates the runs too, while it holds the mailbox row lock
// (which orders all writers of a mailbox on every node), so a reader's
// snapshot always sees runs and messages agree.

// runsAddSQL records that the UIDs $2..$3 were added to mailbox $1. New
// UIDs come from uid_next, so they are above every UID of the mailbox:
// the range extends the last run when it follows it directly, and starts
// a new run otherwise.
const runsAddSQL = `WITH last AS (
		SELECT lo FROM uid_runs WHERE mailbox_id = $1 ORDER BY lo DESC LIMIT 1),
	grown AS (
		UPDATE uid_runs u SET hi = $3 FROM last
		WHERE u.mailbox_id = $1 AND u.lo = last.lo AND u.hi = $2 - 1 RETURNING 1)
	INSERT INTO uid_runs (mailbox_id, lo, hi) SELECT $1, $2, $3 WHERE NOT EXISTS (SELECT 1 FROM grown)`

// runsRemoveSQL records that the UIDs in the ranges $2[i]..$3[i] (sorted
// and disjoint) were removed from mailbox $1. Each range is cut out of the
// runs it overlaps, found through the primary key from the run holding
// its start. A run cut by k ranges leaves up to k+1 pieces: the first
// (from the run's start) is the run row shortened, or the row deleted if
// it is empty; the others are new rows. They never collide: every new
// piece starts inside the old run, after its start.
const runsRemoveSQL = `WITH r AS (
		SELECT a, b FROM unnest($2::bigint[], $3::bigint[]) AS r(a, b)),
	cut AS (
		SELECT u.lo, u.hi, greatest(r.a, u.lo) AS a, least(r.b, u.hi) AS b
		FROM r CROSS JOIN LATERAL (
			SELECT lo, hi FROM uid_runs
			WHERE mailbox_id = $1 AND lo <= r.b AND lo >= coalesce(
				(SELECT max(lo) FROM uid_runs WHERE mailbox_id = $1 AND lo <= r.a), r.a)) u
		WHERE u.hi >= r.a),
	piece AS (
		SELECT lo, hi, a, b, lag(b) OVER w AS prev, lead(a) OVER w AS next
		FROM cut WINDOW w AS (PARTITION BY lo ORDER BY a)),
	shortened AS (
		UPDATE uid_runs u SET hi = p.a - 1 FROM piece p
		WHERE u.mailbox_id = $1 AND u.lo = p.lo AND p.prev IS NULL AND p.a > p.lo),
	emptied AS (
		DELETE FROM uid_runs u USING piece p
		WHERE u.mailbox_id = $1 AND u.lo = p.lo AND p.prev IS NULL AND p.a = p.lo)
	INSERT INTO uid_runs (mailbox_id, lo, hi)
	SELECT $1, prev + 1, a - 1 FROM piece WHERE prev IS NOT NULL AND prev + 1 < a
	UNION ALL
	SELECT $1, b + 1, hi FROM piece WHERE next IS NULL AND b < hi`

// runsRebuildSQL recomputes the runs of mailbox $1 from its messages
// (gaps and islands: uid minus its rank is constant along a run), after
// they were deleted. Migration 7 builds every mailbox's runs the same way.
const runsRebuildSQL = `INSERT INTO uid_runs (mailbox_id, lo, hi)
	SELECT $1, min(uid), max(uid)
	FROM (SELECT uid, uid - row_number() OVER (ORDER BY uid) AS island
		FROM messages WHERE mailbox_id = $1) s
	GROUP BY island`

// runsRecentSQL counts the UIDs of mailbox $1 at or above $2.
const runsRecentSQL = `SELECT coalesce(sum(hi - greatest(lo, $2) + 1), 0)::bigint FROM uid_runs
	WHERE mailbox_id = $1 AND hi >= $2 AND lo >= coalesce(
		(SELECT max(lo) FROM uid_runs WHERE mailbox_id = $1 AND lo <= $2), 0)`

// queueRunsAdd adds to b the recording of UIDs lo..hi as added to mailbox.
func queueRunsAdd(b *pgx.Batch, mailbox, lo, hi int64) {
	b.Queue(runsAddSQL, mailbox, lo, hi)
}

// queueRunsRemove adds to b the recording of the UIDs in set (normalised)
// as removed from mailbox.
func queueRunsRemove(b *pgx.Batch, mailbox int64, set store.UIDSet) {
	if len(set) == 0 {
		return
	}
	starts, stops := rangeArrays(set)
	b.Queue(runsRemoveSQL, mailbox, starts, stops)
}

// errRunsMismatch reports runs that disagree with the message count.
var errRunsMismatch = errors.New("pgstore: UID runs disagree with the mailbox's message count")

// expandRuns returns the UIDs of the runs los[i]..his[i], checking that
// they are well formed (ascending, disjoint) and number exactly messages.
func expandRuns(los, his []int64, messages int64) ([]uint32, error) {
	if len(los) != len(his) {
		return nil, errRunsMismatch
	}
	var n, prev int64
	for i, lo := range los {
		if lo <= prev || his[i] < lo {
			return nil, fmt.Errorf("%w: malformed run %d:%d", errRunsMismatch, lo, his[i])
		}
		n += his[i] - lo + 1
		prev = his[i]
	}
	if n != messages {
		return nil, fmt.Errorf("%w: %d UIDs in runs, %d messages", errRunsMismatch, n, messages)
	}
	out := make([]uint32, n)
	at := 0
	for i, lo := range los {
		run := out[at : at+int(his[i]-lo+1)]
		for j := range run {
			run[j] = uint32(lo) + uint32(j)
		}
		at += len(run)
	}
	return out, nil
}

// rebuildRuns recomputes a mailbox's runs from its messages, under its row
// lock. View calls it when the runs disagree with the message count, which
// only a defect (or a hand edit of the database) can cause.
func (u *user) rebuildRuns(ctx context.Context, id int64) error {
	u.s.repairs.Add(1)
	_, err := u.s.write(ctx, func(t *txn) error {
		if _, err := u.mailboxByID(ctx, t, store.MailboxID(id), true); err != nil {
			return err
		}
		b := &pgx.Batch{}
		b.Queue(`DELETE FROM uid_runs WHERE mailbox_id = $1`, id)
		b.Queue(runsRebuildSQL, id)
		return t.sendBatch(ctx, b)
	})
	return err
}
