package pgstore_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/pgstore"
	"github.com/imapfsm/imapfsm/server/store/pgstore/pgtest"
)

// twoNodes opens two independent stores (two nodes) on one fresh schema.
func twoNodes(t *testing.T) (a, b *pgstore.Store, url, schema string) {
	t.Helper()
	url, schema = pgtest.Schema(t)
	open := func() *pgstore.Store {
		s, err := pgstore.Open(context.Background(), url, testOptions(schema))
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	return open(), open(), url, schema
}

func waitNote(t *testing.T, ch <-chan store.Notification, within time.Duration, want func(store.Notification) bool) store.Notification {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case n := <-ch:
			if want(n) {
				return n
			}
		case <-deadline:
			t.Fatalf("no matching notification within %v", within)
			return store.Notification{}
		}
	}
}

// TestTwoNodesUniqueUIDs appends to one mailbox through two nodes at once:
// UIDs and MODSEQs must be unique and UIDs dense, because both are
// allocated under the mailbox row lock in the storing transaction.
func TestTwoNodesUniqueUIDs(t *testing.T) {
	ctx := context.Background()
	a, b, _, _ := twoNodes(t)
	require.NoError(t, a.CreateUser(ctx, "ann", "pw"))
	const perNode, workers, each = 2, 6, 25
	var mu sync.Mutex
	var uids []uint32
	var modseqs []uint64
	var wg sync.WaitGroup
	errs := make(chan error, perNode*workers*each)
	for _, s := range []*pgstore.Store{a, b} {
		u, err := s.OpenUser(ctx, "ann")
		require.NoError(t, err)
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					r, err := u.Append(ctx, store.Inbox, store.NewMessage{Body: strings.NewReader(fmt.Sprintf("w%d-%d", w, i))})
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					uids, modseqs = append(uids, r.UID), append(modseqs, r.ModSeq)
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	n := perNode * workers * each
	slices.Sort(uids)
	slices.Sort(modseqs)
	require.Len(t, slices.Compact(slices.Clone(uids)), n, "two nodes produced the same UID")
	require.Len(t, slices.Compact(slices.Clone(modseqs)), n, "two nodes produced the same MODSEQ")
	assert.Equal(t, uint32(1), uids[0])
	assert.Equal(t, uint32(n), uids[n-1], "UIDs are dense: no gaps from rolled-back allocations")
	u, err := b.OpenUser(ctx, "ann")
	require.NoError(t, err)
	mi, err := u.Mailbox(ctx, store.Inbox)
	require.NoError(t, err)
	v, err := u.View(ctx, mi.ID)
	require.NoError(t, err)
	assert.Equal(t, uids, v.UIDs)
	assert.Equal(t, uint32(n+1), v.UIDNext)
	assert.Equal(t, modseqs[n-1], v.HighestModSeq)
}

// TestTwoNodesPush checks cross-node push: a subscriber on node A learns
// within one second of an APPEND, a flag change and an expunge made through
// node B, and reads them from A's change log.
func TestTwoNodesPush(t *testing.T) {
	ctx := context.Background()
	a, b, _, _ := twoNodes(t)
	require.NoError(t, a.CreateUser(ctx, "bea", "pw"))
	ua, err := a.OpenUser(ctx, "bea")
	require.NoError(t, err)
	ub, err := b.OpenUser(ctx, "bea")
	require.NoError(t, err)
	mi, err := ua.Mailbox(ctx, store.Inbox)
	require.NoError(t, err)
	start := mi.ID
	base, err := ua.Status(ctx, store.Inbox)
	require.NoError(t, err)
	ch, cancel := a.Notifier().Subscribe("bea", start)
	defer cancel()

	t0 := time.Now()
	r, err := ub.Append(ctx, store.Inbox, store.NewMessage{Body: strings.NewReader("Subject: hi\r\n\r\nfrom B\r\n")})
	require.NoError(t, err)
	n := waitNote(t, ch, time.Second, func(n store.Notification) bool { return n.HighestModSeq >= r.ModSeq })
	assert.Equal(t, store.Notification{User: "bea", Mailbox: start, HighestModSeq: r.ModSeq}, n)
	t.Logf("append on B seen on A after %v", time.Since(t0))

	t0 = time.Now()
	fr, err := ub.StoreFlags(ctx, start, store.UIDSetOf(r.UID), store.FlagChange{Op: store.FlagsAdd, Flags: []string{`\Deleted`}})
	require.NoError(t, err)
	waitNote(t, ch, time.Second, func(n store.Notification) bool { return n.HighestModSeq >= fr.ModSeq })
	t.Logf("flag change on B seen on A after %v", time.Since(t0))

	gone, err := ub.Expunge(ctx, start, nil)
	require.NoError(t, err)
	require.Equal(t, []uint32{r.UID}, gone)
	st, err := ub.Status(ctx, store.Inbox)
	require.NoError(t, err)
	waitNote(t, ch, time.Second, func(n store.Notification) bool { return n.HighestModSeq >= st.HighestModSeq })

	var log []store.Change
	require.NoError(t, ua.ChangesSince(ctx, start, base.HighestModSeq, func(c store.Change) error {
		log = append(log, c)
		return nil
	}))
	require.Len(t, log, 3)
	assert.Equal(t, []store.ChangeKind{store.ChangeAppend, store.ChangeFlags, store.ChangeExpunge},
		[]store.ChangeKind{log[0].Kind, log[1].Kind, log[2].Kind})
	assert.Equal(t, store.UIDSetOf(r.UID), log[2].UIDs)
	v, err := ua.View(ctx, start)
	require.NoError(t, err)
	assert.Empty(t, v.UIDs)
}

// TestListenerReconnect kills the listener's backend: the listener must
// reconnect and tell local subscribers to catch up on what changed while
// it was away.
func TestListenerReconnect(t *testing.T) {
	ctx := context.Background()
	_, b, url, schema := twoNodes(t)
	// Node A reconnects only after 300-600 ms, so the append below is
	// certainly committed while it is not listening: only the resync
	// after the reconnect can tell its subscriber.
	opts := testOptions(schema)
	opts.ReconnectMin = 600 * time.Millisecond
	a, err := pgstore.Open(ctx, url, opts)
	require.NoError(t, err)
	defer a.Close()
	require.NoError(t, a.CreateUser(ctx, "cy", "pw"))
	ub, err := b.OpenUser(ctx, "cy")
	require.NoError(t, err)
	mi, err := ub.Mailbox(ctx, store.Inbox)
	require.NoError(t, err)
	ch, cancel := a.Notifier().Subscribe("cy", mi.ID)
	defer cancel()

	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	before := a.ListenerConnects()
	var ok bool
	require.NoError(t, conn.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, int32(a.ListenerPID())).Scan(&ok))
	require.True(t, ok)
	// A change committed while A may not be listening.
	r, err := ub.Append(ctx, store.Inbox, store.NewMessage{Body: strings.NewReader("during outage")})
	require.NoError(t, err)
	waitNote(t, ch, 10*time.Second, func(n store.Notification) bool { return n.HighestModSeq >= r.ModSeq })
	require.Eventually(t, func() bool { return a.ListenerConnects() > before }, 10*time.Second, 20*time.Millisecond)

	// And the new connection delivers further changes.
	r2, err := ub.Append(ctx, store.Inbox, store.NewMessage{Body: strings.NewReader("after reconnect")})
	require.NoError(t, err)
	waitNote(t, ch, time.Second, func(n store.Notification) bool { return n.HighestModSeq >= r2.ModSeq })
}

// TestSchemaVersion checks the migration bookkeeping and that a program
// refuses a database migrated by a newer one.
func TestSchemaVersion(t *testing.T) {
	ctx := context.Background()
	s, url, schema := openFresh(t)
	require.NoError(t, s.Close())
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	tbl := pgx.Identifier{schema, "schema_version"}.Sanitize()
	var n, maxv int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*), max(version) FROM `+tbl).Scan(&n, &maxv))
	assert.Equal(t, pgstore.SchemaVersion(), maxv)
	assert.Equal(t, pgstore.SchemaVersion(), n)

	// Reopening an up-to-date schema applies nothing.
	s, err = pgstore.Open(ctx, url, testOptions(schema))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM `+tbl).Scan(&n))
	assert.Equal(t, pgstore.SchemaVersion(), n)

	_, err = conn.Exec(ctx, `INSERT INTO `+tbl+` (version, description) VALUES ($1, 'from the future')`, pgstore.SchemaVersion()+1)
	require.NoError(t, err)
	_, err = pgstore.Open(ctx, url, testOptions(schema))
	require.ErrorIs(t, err, pgstore.ErrSchemaTooNew)
}

// TestConcurrentOpen starts several nodes on an empty schema at once: the
// advisory lock lets exactly one of them migrate.
func TestConcurrentOpen(t *testing.T) {
	url, schema := pgtest.Schema(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			s, err := pgstore.Open(context.Background(), url, testOptions(schema))
			if err == nil {
				err = s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		assert.NoError(t, err)
	}
}
