package pgstore

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/pgstore/pgtest"
)

// TestFlagSearchUsesIndexes: the queries of SearchFlags for a flag set,
// \Seen unset and a keyword, and that of FirstFlagMatch for \Seen unset,
// are planned on their partial or GIN index,
// so their predicates are written as the indexes' (a query the planner
// cannot match to an index would still answer right, only in O(n)).
func TestFlagSearchUsesIndexes(t *testing.T) {
	ctx := context.Background()
	url, schema := pgtest.Schema(t)
	s, err := Open(ctx, url, Options{Options: store.Options{BcryptCost: 4}, Schema: schema})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.CreateUser(ctx, "u", "pw"))
	u, err := s.OpenUser(ctx, "u")
	require.NoError(t, err)
	var msgs []store.NewMessage
	for i := range 2000 {
		var flags []string
		if i%3 == 0 {
			flags = append(flags, `\Seen`)
		}
		if i%50 == 0 {
			flags = append(flags, `\Flagged`, `\Answered`, `\Draft`, "$Junk")
		}
		msgs = append(msgs, store.NewMessage{Flags: flags, Body: strings.NewReader(fmt.Sprintf("Subject: %d\r\n\r\n", i))})
	}
	_, err = u.(store.BatchAppender).AppendBatch(ctx, store.Inbox, msgs)
	require.NoError(t, err)
	mb, err := u.Mailbox(ctx, store.Inbox)
	require.NoError(t, err)
	_, err = s.pool.Exec(ctx, `ANALYZE messages`)
	require.NoError(t, err)
	plan := func(query string, args ...any) string {
		var lines []string
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			// Sequential scans off: on a table this small the planner
			// may prefer one; what matters is that the index qualifies.
			if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, `EXPLAIN `+query, args...)
			if err != nil {
				return err
			}
			lines, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
		require.NoError(t, err)
		return strings.Join(lines, "\n")
	}
	for index, q := range map[string]store.FlagQuery{
		"messages_flagged":  {Set: store.FlagSet{System: store.FlagFlagged}},
		"messages_answered": {Set: store.FlagSet{System: store.FlagAnswered}},
		"messages_draft":    {Set: store.FlagSet{System: store.FlagDraft}},
		"messages_deleted":  {Set: store.FlagSet{System: store.FlagDeleted}},
		"messages_unseen":   {Unset: store.FlagSet{System: store.FlagSeen}},
		"messages_keywords": {Set: store.FlagSet{Keywords: []string{"$junk"}}},
	} {
		query, args := flagQuerySQL(int64(mb.ID), q)
		require.Contains(t, plan(query, args...), index, "query %s", query)
	}
	// The first unseen message (SELECT's UNSEEN response code) is one
	// entry of messages_unseen, not a walk of the primary key.
	query, args := firstFlagSQL(int64(mb.ID), store.FlagQuery{Unset: store.FlagSet{System: store.FlagSeen}}, 1, 2000)
	require.Contains(t, plan(query, args...), "messages_unseen", "query %s", query)
	// The mutant: the flag bit as a parameter. A generic plan cannot
	// prove the partial index's predicate, so the check above fails.
	require.NotContains(t, plan(`SELECT uid, modseq FROM messages WHERE mailbox_id = $1 AND sys_flags & $2::smallint <> 0 ORDER BY uid`,
		mb.ID, int16(store.FlagFlagged)), "messages_flagged")
}

// TestJITOff: the store's connections run without JIT compilation (see
// Open), unless the URL sets jit.
func TestJITOff(t *testing.T) {
	ctx := context.Background()
	url, schema := pgtest.Schema(t)
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	for want, u := range map[string]string{"off": url, "on": url + sep + "jit=on"} {
		s, err := Open(ctx, u, Options{Options: store.Options{BcryptCost: 4}, Schema: schema})
		require.NoError(t, err)
		var jit string
		require.NoError(t, s.pool.QueryRow(ctx, `SHOW jit`).Scan(&jit))
		require.Equal(t, want, jit, "URL %s", u)
		s.Close()
	}
}
