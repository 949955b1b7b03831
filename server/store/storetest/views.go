package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/store"
)

// testViewMatchesMessages runs a seeded random sequence of every write
// that adds or removes messages (APPEND, batch append, COPY, MOVE between
// two mailboxes and within one, REPLACE, EXPUNGE of scattered UIDs) and
// checks after each one that View's UID list and count are the UIDs Fetch
// finds, in both mailboxes, and that STATUS counts the recent messages as
// View does (claims of \Recent are made at random points too). A store that keeps the UID list apart from the
// messages (pgstore's UID runs) must update it on every one of these
// paths.
func testViewMatchesMessages(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "vera")
	_, err := u.CreateMailbox(ctx, "Other", 0)
	require.NoError(t, err)
	names := []string{store.Inbox, "Other"}
	ids := []store.MailboxID{mailboxID(t, u, store.Inbox), mailboxID(t, u, "Other")}
	batch, _ := u.(store.BatchAppender)
	replacer, _ := u.(store.Replacer)
	body := func(i int) store.NewMessage {
		return store.NewMessage{Body: strings.NewReader(fmt.Sprintf("Subject: m%d\r\n\r\n", i))}
	}
	for i := range 12 {
		_, err := u.Append(ctx, store.Inbox, body(i))
		require.NoError(t, err)
	}
	r := rand.New(rand.NewPCG(20, 4))
	// someUIDs picks one to three short ranges below the mailbox's UIDNEXT.
	someUIDs := func(k int) store.UIDSet {
		next := status(t, u, names[k]).UIDNext
		var set store.UIDSet
		for range 1 + r.IntN(3) {
			lo := 1 + uint32(r.IntN(int(next)))
			set = append(set, store.UIDRange{Start: lo, Stop: lo + uint32(r.IntN(4))})
		}
		return set.Normalize()
	}
	for step := range 80 {
		k := r.IntN(2)
		other := 1 - k
		var what string
		switch op := r.IntN(9); {
		case op == 0:
			what = "append"
			_, err = u.Append(ctx, names[k], body(step))
		case op == 1 && batch != nil:
			what = "batch append"
			msgs := make([]store.NewMessage, 1+r.IntN(4))
			for i := range msgs {
				msgs[i] = body(step*10 + i)
			}
			_, err = batch.AppendBatch(ctx, names[k], msgs)
		case op == 2:
			what = "copy"
			_, err = u.Copy(ctx, ids[k], someUIDs(k), names[other])
		case op == 3:
			what = "move"
			_, err = u.Move(ctx, ids[k], someUIDs(k), names[other])
		case op == 4:
			what = "move within the mailbox"
			_, err = u.Move(ctx, ids[k], someUIDs(k), names[k])
		case op == 5 && replacer != nil:
			what = "replace"
			set := someUIDs(k)
			_, err = replacer.Replace(ctx, ids[k], set[0].Start, names[r.IntN(2)], body(step))
			if errors.Is(err, store.ErrNoSuchMessage) {
				err = nil
			}
		case op == 6:
			// Up to just after a message, which is inside a run of
			// consecutive UIDs whenever the next UID exists too.
			what = "claim recent"
			v, verr := u.View(ctx, ids[k])
			require.NoError(t, verr)
			if len(v.UIDs) > 0 {
				_, err = u.ClaimRecent(ctx, ids[k], v.UIDs[r.IntN(len(v.UIDs))]+1)
			}
		default:
			what = "expunge"
			set := someUIDs(k)
			_, err = u.StoreFlags(ctx, ids[k], set, store.FlagChange{Op: store.FlagsAdd, Flags: []string{`\Deleted`}})
			if err == nil {
				_, err = u.Expunge(ctx, ids[k], set)
			}
		}
		require.NoError(t, err, "step %d: %s", step, what)
		for k, id := range ids {
			v, err := u.View(ctx, id)
			require.NoError(t, err)
			var want []uint32
			for _, m := range fetchAll(t, u, id, store.FetchOptions{}) {
				want = append(want, m.UID)
			}
			require.Equal(t, fmt.Sprint(want), fmt.Sprint(v.UIDs), "step %d (%s): View of %s", step, what, names[k])
			require.Equal(t, uint32(len(want)), v.Messages, "step %d (%s): count of %s", step, what, names[k])
			require.Equal(t, v.Recent, status(t, u, names[k]).Recent, "step %d (%s): recent in %s", step, what, names[k])
		}
	}
}
