package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/pgstore"
	"github.com/imapfsm/imapfsm/server/store/pgstore/pgtest"
)

// schemaConn connects to the test server with schema first on the
// search path, for reading the store's tables directly.
func schemaConn(t *testing.T, url, schema string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	require.NoError(t, err)
	cfg.RuntimeParams["search_path"] = schema
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// runsDiffSQL lists, in one statement and hence one snapshot, the
// differences between the stored UID runs and the runs of the messages
// actually stored (computed independently, gaps and islands), at most 10.
const runsDiffSQL = `WITH truth AS (
		SELECT mailbox_id, min(uid) AS lo, max(uid) AS hi
		FROM (SELECT mailbox_id, uid, uid - row_number() OVER (PARTITION BY mailbox_id ORDER BY uid) AS island
			FROM messages) s
		GROUP BY mailbox_id, island),
	kept AS (SELECT mailbox_id, lo, hi FROM uid_runs)
	SELECT * FROM (
		SELECT 'missing' AS what, * FROM (TABLE truth EXCEPT TABLE kept) d
		UNION ALL
		SELECT 'extra', * FROM (TABLE kept EXCEPT TABLE truth) e) x
	ORDER BY mailbox_id, lo LIMIT 10`

// runsDiff returns the differences between stored and true UID runs, one
// line each ("missing mailbox 3 run 5:9" is a run of messages the table
// lacks); none when they agree.
func runsDiff(ctx context.Context, conn *pgx.Conn) ([]string, error) {
	rows, err := conn.Query(ctx, runsDiffSQL)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var what string
		var mailbox, lo, hi int64
		err := r.Scan(&what, &mailbox, &lo, &hi)
		return fmt.Sprintf("%s mailbox %d run %d:%d", what, mailbox, lo, hi), err
	})
}

// collectRuns reads rows of (mailbox_id, lo, hi).
func collectRuns(rows pgx.Rows) ([][3]int64, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) ([3]int64, error) {
		var v [3]int64
		err := r.Scan(&v[0], &v[1], &v[2])
		return v, err
	})
}

// runCount returns the number of stored UID runs of all mailboxes.
func runCount(t *testing.T, conn *pgx.Conn) int {
	t.Helper()
	var n int
	require.NoError(t, conn.QueryRow(context.Background(), `SELECT count(*) FROM uid_runs`).Scan(&n))
	return n
}

// viewMatchesFetch checks that View's UID list is the UIDs Fetch finds.
func viewMatchesFetch(t *testing.T, u store.User, id store.MailboxID) {
	t.Helper()
	ctx := context.Background()
	v, err := u.View(ctx, id)
	require.NoError(t, err)
	var want []uint32
	require.NoError(t, u.Fetch(ctx, id, store.AllUIDs(), store.FetchOptions{}, func(m *store.Message) error {
		want = append(want, m.UID)
		return nil
	}))
	assert.Equal(t, fmt.Sprint(want), fmt.Sprint(v.UIDs), "mailbox %d", id)
}

func msg(s string) store.NewMessage {
	return store.NewMessage{Body: strings.NewReader("Subject: " + s + "\r\n\r\n" + s + "\r\n")}
}

// TestUIDRunsTwoNodes runs every write that adds or removes messages
// (append, batch append, copy, move between mailboxes and within one,
// replace, expunge) from workers on two nodes sharing one database, while
// a checker compares, in one snapshot each time, the stored UID runs with
// the runs of the stored messages. They must agree in every snapshot, not
// only at the end: the runs change in the same transaction as the
// messages, under the mailbox row lock.
func TestUIDRunsTwoNodes(t *testing.T) {
	ctx := context.Background()
	a, b, url, schema := twoNodes(t)
	require.NoError(t, a.CreateUser(ctx, "rui", "pw"))
	ua, err := a.OpenUser(ctx, "rui")
	require.NoError(t, err)
	ub, err := b.OpenUser(ctx, "rui")
	require.NoError(t, err)
	_, err = ua.CreateMailbox(ctx, "Other", 0)
	require.NoError(t, err)
	names := []string{store.Inbox, "Other"}
	var ids []store.MailboxID
	for _, name := range names {
		mi, err := ua.Mailbox(ctx, name)
		require.NoError(t, err)
		ids = append(ids, mi.ID)
	}
	seed := make([]store.NewMessage, 40)
	for i := range seed {
		seed[i] = msg(fmt.Sprintf("seed %d", i))
	}
	_, err = ua.(store.BatchAppender).AppendBatch(ctx, store.Inbox, seed)
	require.NoError(t, err)

	conn := schemaConn(t, url, schema)
	var stop atomic.Bool
	var checks atomic.Int64
	var mismatch []string
	checker := make(chan error, 1)
	go func() {
		for !stop.Load() {
			d, err := runsDiff(ctx, conn)
			if err != nil || len(d) > 0 {
				mismatch = d
				checker <- err
				return
			}
			checks.Add(1)
			time.Sleep(2 * time.Millisecond)
		}
		checker <- nil
	}()

	const workers, steps = 3, 40
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers)
	for n, u := range []store.User{ua, ub} {
		for w := range workers {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(n), uint64(w)))
				if err := runsWorker(ctx, u, r, names, ids, steps); err != nil {
					errs <- fmt.Errorf("node %d worker %d: %w", n, w, err)
				}
			})
		}
	}
	wg.Wait()
	stop.Store(true)
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, <-checker)
	require.Empty(t, mismatch, "stored UID runs differ from the messages")
	d, err := runsDiff(ctx, conn)
	require.NoError(t, err)
	require.Empty(t, d)
	t.Logf("%d consistent snapshots during the run; %d runs at the end", checks.Load(), runCount(t, conn))
	assert.Positive(t, checks.Load())
	assert.Greater(t, runCount(t, conn), 2, "the workload fragments the mailboxes, so runs were split")
	for _, u := range []store.User{ua, ub} {
		for _, id := range ids {
			viewMatchesFetch(t, u, id)
		}
	}
	assert.Zero(t, a.RunsRepairs()+b.RunsRepairs())
}

// runsWorker makes steps random writes to the mailboxes names (ids).
func runsWorker(ctx context.Context, u store.User, r *rand.Rand, names []string, ids []store.MailboxID, steps int) error {
	someUIDs := func(k int) (store.UIDSet, error) {
		st, err := u.Status(ctx, names[k])
		if err != nil {
			return nil, err
		}
		var set store.UIDSet
		for range 1 + r.IntN(3) {
			lo := 1 + uint32(r.IntN(int(st.UIDNext)))
			set = append(set, store.UIDRange{Start: lo, Stop: lo + uint32(r.IntN(5))})
		}
		return set.Normalize(), nil
	}
	for step := range steps {
		k := r.IntN(2)
		set, err := someUIDs(k)
		if err != nil {
			return err
		}
		body := msg(fmt.Sprintf("step %d", step))
		switch r.IntN(7) {
		case 0:
			_, err = u.Append(ctx, names[k], body)
		case 1:
			_, err = u.(store.BatchAppender).AppendBatch(ctx, names[k], []store.NewMessage{body, msg("second"), msg("third")})
		case 2:
			_, err = u.Copy(ctx, ids[k], set, names[1-k])
		case 3:
			_, err = u.Move(ctx, ids[k], set, names[1-k])
		case 4:
			_, err = u.Move(ctx, ids[k], set, names[k])
		case 5:
			_, err = u.(store.Replacer).Replace(ctx, ids[k], set[0].Start, names[r.IntN(2)], body)
			if errors.Is(err, store.ErrNoSuchMessage) {
				err = nil
			}
		default:
			_, err = u.StoreFlags(ctx, ids[k], set, store.FlagChange{Op: store.FlagsAdd, Flags: []string{`\Deleted`}})
			if err == nil {
				_, err = u.Expunge(ctx, ids[k], set)
			}
		}
		if err != nil {
			return fmt.Errorf("step %d: %w", step, err)
		}
	}
	return nil
}

// TestUIDRunsCheckCatchesStaleRuns is the mutant of the check above: for
// each write path, the same write is made twice, the second time with the
// UID runs put back as they were before it, as if that path did not
// maintain them. The check passes after the real write and must fail
// after the mutant's.
func TestUIDRunsCheckCatchesStaleRuns(t *testing.T) {
	paths := []struct {
		name string
		op   func(ctx context.Context, u store.User, inbox store.MailboxID, i int) error
		// prep, if set, runs before each op, outside the mutant.
		prep func(ctx context.Context, u store.User) error
	}{
		{name: "append", op: func(ctx context.Context, u store.User, _ store.MailboxID, i int) error {
			_, err := u.Append(ctx, store.Inbox, msg("new"))
			return err
		}},
		{name: "batch append", op: func(ctx context.Context, u store.User, _ store.MailboxID, i int) error {
			_, err := u.(store.BatchAppender).AppendBatch(ctx, "Other", []store.NewMessage{msg("a"), msg("b")})
			return err
		}},
		{name: "copy target", op: func(ctx context.Context, u store.User, inbox store.MailboxID, i int) error {
			_, err := u.Copy(ctx, inbox, store.UIDSetOf(2, 3), "Other")
			return err
		}},
		{name: "move", op: func(ctx context.Context, u store.User, inbox store.MailboxID, i int) error {
			_, err := u.Move(ctx, inbox, store.UIDSetOf(uint32(4+i)), "Other")
			return err
		}},
		{name: "move within a mailbox", op: func(ctx context.Context, u store.User, inbox store.MailboxID, i int) error {
			_, err := u.Move(ctx, inbox, store.UIDSetOf(uint32(2+i)), store.Inbox)
			return err
		}},
		{name: "replace", op: func(ctx context.Context, u store.User, inbox store.MailboxID, i int) error {
			_, err := u.(store.Replacer).Replace(ctx, inbox, uint32(6+i), store.Inbox, msg("replaced"))
			return err
		}},
		{name: "expunge", op: func(ctx context.Context, u store.User, inbox store.MailboxID, i int) error {
			set := store.UIDSetOf(uint32(3+2*i), uint32(4+2*i), 9)
			if _, err := u.StoreFlags(ctx, inbox, set, store.FlagChange{Op: store.FlagsAdd, Flags: []string{`\Deleted`}}); err != nil {
				return err
			}
			_, err := u.Expunge(ctx, inbox, nil)
			return err
		}},
		{name: "rename INBOX", op: func(ctx context.Context, u store.User, _ store.MailboxID, i int) error {
			return u.RenameMailbox(ctx, store.Inbox, fmt.Sprintf("Old%d", i))
		}, prep: func(ctx context.Context, u store.User) error {
			_, err := u.Append(ctx, store.Inbox, msg("for the rename"))
			return err
		}},
	}
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			ctx := context.Background()
			s, url, schema := openFresh(t)
			defer s.Close()
			require.NoError(t, s.CreateUser(ctx, "stan", "pw"))
			u, err := s.OpenUser(ctx, "stan")
			require.NoError(t, err)
			_, err = u.CreateMailbox(ctx, "Other", 0)
			require.NoError(t, err)
			mi, err := u.Mailbox(ctx, store.Inbox)
			require.NoError(t, err)
			for i := range 10 {
				_, err := u.Append(ctx, store.Inbox, msg(fmt.Sprint(i)))
				require.NoError(t, err)
			}
			conn := schemaConn(t, url, schema)

			prep := func() {
				if p.prep != nil {
					require.NoError(t, p.prep(ctx, u))
				}
			}
			prep()
			require.NoError(t, p.op(ctx, u, mi.ID, 0))
			d, err := runsDiff(ctx, conn)
			require.NoError(t, err)
			require.Empty(t, d, "the real write path keeps the runs right")

			prep()
			before, err := conn.Query(ctx, `SELECT mailbox_id, lo, hi FROM uid_runs`)
			require.NoError(t, err)
			saved, err := collectRuns(before)
			require.NoError(t, err)
			require.NoError(t, p.op(ctx, u, mi.ID, 1))
			// The mutant: the runs as if this path had not touched them.
			_, err = conn.Exec(ctx, `DELETE FROM uid_runs`)
			require.NoError(t, err)
			for _, r := range saved {
				_, err = conn.Exec(ctx, `INSERT INTO uid_runs (mailbox_id, lo, hi) VALUES ($1, $2, $3)`, r[0], r[1], r[2])
				require.NoError(t, err)
			}
			d, err = runsDiff(ctx, conn)
			require.NoError(t, err)
			assert.NotEmpty(t, d, "the check misses runs this path did not update")
			t.Logf("mutant caught: %v", d)
		})
	}
}

// TestUIDRunsRepair: runs that disagree with the message count (here,
// lost) are rebuilt by the next View, which still returns the right UIDs.
func TestUIDRunsRepair(t *testing.T) {
	ctx := context.Background()
	s, url, schema := openFresh(t)
	defer s.Close()
	require.NoError(t, s.CreateUser(ctx, "remy", "pw"))
	u, err := s.OpenUser(ctx, "remy")
	require.NoError(t, err)
	var id store.MailboxID
	for i := range 6 {
		r, err := u.Append(ctx, store.Inbox, msg(fmt.Sprint(i)))
		require.NoError(t, err)
		id = r.Mailbox
	}
	_, err = u.StoreFlags(ctx, id, store.UIDSetOf(3), store.FlagChange{Op: store.FlagsAdd, Flags: []string{`\Deleted`}})
	require.NoError(t, err)
	_, err = u.Expunge(ctx, id, nil)
	require.NoError(t, err)
	conn := schemaConn(t, url, schema)
	_, err = conn.Exec(ctx, `DELETE FROM uid_runs`)
	require.NoError(t, err)

	v, err := u.View(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, []uint32{1, 2, 4, 5, 6}, v.UIDs)
	assert.Equal(t, int64(1), s.RunsRepairs())
	d, err := runsDiff(ctx, conn)
	require.NoError(t, err)
	assert.Empty(t, d)
	assert.Equal(t, 2, runCount(t, conn))
}

// TestUIDRunsMigration: migration 7 builds the runs of messages stored
// before it, in every mailbox, and View reads them.
func TestUIDRunsMigration(t *testing.T) {
	ctx := context.Background()
	url, schema := pgtest.Schema(t)
	require.NoError(t, pgstore.MigrateTo(ctx, url, schema, 6))
	conn := schemaConn(t, url, schema)
	var user, content int64
	require.NoError(t, conn.QueryRow(ctx, `INSERT INTO users (name, hash) VALUES ('mig', 'x') RETURNING id`).Scan(&user))
	require.NoError(t, conn.QueryRow(ctx, `INSERT INTO contents (body) VALUES ($1) RETURNING id`, []byte("Subject: x\r\n\r\n")).Scan(&content))
	boxes := map[string][]int64{
		"INBOX": {1, 2, 3, 5, 8, 9, 10},
		"Other": {4},
		"Empty": nil,
	}
	ids := map[string]int64{}
	for name, uids := range boxes {
		var id int64
		require.NoError(t, conn.QueryRow(ctx, `INSERT INTO mailboxes (user_id, name, uid_validity, uid_next, messages, size)
			VALUES ($1, $2, 1, 11, $3, $3) RETURNING id`, user, name, len(uids)).Scan(&id))
		ids[name] = id
		for _, uid := range uids {
			_, err := conn.Exec(ctx, `INSERT INTO messages (mailbox_id, uid, content_id, size, internal_date, modseq, sys_flags)
				VALUES ($1, $2, $3, 1, 0, 1, 0)`, id, uid, content)
			require.NoError(t, err)
		}
	}

	s, err := pgstore.Open(ctx, url, testOptions(schema))
	require.NoError(t, err)
	defer s.Close()
	rows, err := conn.Query(ctx, `SELECT mailbox_id, lo, hi FROM uid_runs ORDER BY mailbox_id, lo`)
	require.NoError(t, err)
	runs, err := collectRuns(rows)
	require.NoError(t, err)
	in, other := ids["INBOX"], ids["Other"]
	want := [][3]int64{{in, 1, 3}, {in, 5, 5}, {in, 8, 10}, {other, 4, 4}}
	if other < in {
		want = [][3]int64{{other, 4, 4}, {in, 1, 3}, {in, 5, 5}, {in, 8, 10}}
	}
	assert.Equal(t, want, runs)

	u, err := s.OpenUser(ctx, "mig")
	require.NoError(t, err)
	v, err := u.View(ctx, store.MailboxID(in))
	require.NoError(t, err)
	assert.Equal(t, []uint32{1, 2, 3, 5, 8, 9, 10}, v.UIDs)
	v, err = u.View(ctx, store.MailboxID(ids["Empty"]))
	require.NoError(t, err)
	assert.Empty(t, v.UIDs)
	assert.Zero(t, s.RunsRepairs())
}
