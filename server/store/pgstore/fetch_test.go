package pgstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/store"
)

// TestFetchChangedSinceNarrowAndWide: Fetch with ChangedSince answers the
// same for narrow sets (read through the primary key whatever the
// statistics, in more than one chunk) and wide ones (the planner's
// choice), with statistics taken
// before the flag changes (the case that made the planner walk the MODSEQ
// index per range), with and without headers, and for a set mixing both.
func TestFetchChangedSinceNarrowAndWide(t *testing.T) {
	ctx := context.Background()
	s, url, schema := openFresh(t)
	require.NoError(t, s.CreateUser(ctx, "narrow", "pw"))
	u, err := s.OpenUser(ctx, "narrow")
	require.NoError(t, err)
	const n = 3000
	msgs := make([]store.NewMessage, n)
	for i := range msgs {
		msgs[i] = store.NewMessage{Body: strings.NewReader(fmt.Sprintf("Subject: %d\r\n\r\nbody\r\n", i+1))}
	}
	res, err := u.(store.BatchAppender).AppendBatch(ctx, store.Inbox, msgs)
	require.NoError(t, err)
	id := res[0].Mailbox
	since := res[len(res)-1].ModSeq
	_, err = schemaConn(t, url, schema).Exec(ctx, `ANALYZE messages`)
	require.NoError(t, err)
	var changed store.UIDSet
	var want []uint32
	for uid := uint32(2); uid <= n; uid += 3 {
		_, err := u.StoreFlags(ctx, id, store.UIDSetOf(uid), store.FlagChange{Op: store.FlagsAdd, Flags: []string{`\Answered`}})
		require.NoError(t, err)
		changed = append(changed, store.UIDRange{Start: uid, Stop: uid})
		want = append(want, uid)
	}
	fetch := func(set store.UIDSet, header bool) []uint32 {
		var got []uint32
		err := u.Fetch(ctx, id, set, store.FetchOptions{ChangedSince: since, Header: header}, func(m *store.Message) error {
			got = append(got, m.UID)
			require.Contains(t, m.Flags, `\Answered`)
			if header {
				require.Equal(t, fmt.Sprintf("Subject: %d\r\n\r\n", m.UID), string(m.Header))
			}
			return nil
		})
		require.NoError(t, err)
		return got
	}
	for _, header := range []bool{false, true} {
		require.Equal(t, want, fetch(changed, header), "narrow, header %v", header)
		require.Equal(t, want, fetch(store.AllUIDs(), header), "wide, header %v", header)
		// Single UIDs, then a range too wide to list, then single UIDs.
		mixed := append(append(cloneSet(changed[:10]), store.UIDRange{Start: 31, Stop: 2900}), changed[967:]...)
		require.Equal(t, want, fetch(mixed, header), "mixed, header %v", header)
	}
	// Nothing changed since the last change.
	last, err := u.StoreFlags(ctx, id, store.UIDSetOf(1), store.FlagChange{Op: store.FlagsAdd, Flags: []string{`\Seen`}})
	require.NoError(t, err)
	since = last.ModSeq
	require.Empty(t, fetch(changed, false))
}

// cloneSet copies a UID set, so that appending to it leaves the original.
func cloneSet(set store.UIDSet) store.UIDSet { return append(store.UIDSet(nil), set...) }
