package storetest

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/store"
)

// headerBodies are messages whose header blocks end in the ways
// store.HeaderLen knows: CRLF CRLF, LF LF, an empty first line, no empty
// line at all, and a large body after a small header.
var headerBodies = []string{
	"Subject: one\r\nMessage-ID: <1@x>\r\n\r\nbody\r\n\r\nmore\r\n",
	"Subject: bare\nX: y\n\nbody\n\nmore\n",
	"\r\nonly a body\r\n",
	"Subject: no body at all\r\n",
	"Subject: mixed\nX: y\r\n\r\nbody\n\nmore\n",
	"Subject: large\r\n\r\n" + strings.Repeat("0123456789abcdef", 4096),
}

// checkFetchHeader fetches the messages uids (holding bodies) with and
// without FetchOptions.Header and reports the first message whose Header
// is not what store.Message.Header promises: absent when not asked for; when
// asked for, nil or a prefix of the content at least store.HeaderLen long.
// It also requires that some message got a header, so that a store that
// never fills it is noticed where it claims to (want is true).
func checkFetchHeader(ctx context.Context, u store.User, id store.MailboxID, uids []uint32, bodies []string, want bool) error {
	byUID := map[uint32]string{}
	for i, uid := range uids {
		byUID[uid] = bodies[i]
	}
	filled := 0
	for _, withHeader := range []bool{false, true} {
		seen := 0
		err := u.Fetch(ctx, id, store.UIDSetOf(uids...), store.FetchOptions{Header: withHeader}, func(m *store.Message) error {
			seen++
			raw, ok := byUID[m.UID]
			if !ok {
				return fmt.Errorf("UID %d: not appended", m.UID)
			}
			switch {
			case !withHeader && m.Header != nil:
				return fmt.Errorf("UID %d: Header %q without FetchOptions.Header", m.UID, m.Header)
			case m.Header == nil:
				return nil
			case !strings.HasPrefix(raw, string(m.Header)):
				return fmt.Errorf("UID %d: Header %q is not a prefix of %q", m.UID, m.Header, raw)
			case len(m.Header) < store.HeaderLen([]byte(raw)):
				return fmt.Errorf("UID %d: Header %q is shorter than the header block (%d bytes)", m.UID, m.Header, store.HeaderLen([]byte(raw)))
			}
			filled++
			return nil
		})
		if err != nil {
			return err
		}
		if seen != len(uids) {
			return fmt.Errorf("fetched %d of %d messages", seen, len(uids))
		}
	}
	if want && filled == 0 {
		return fmt.Errorf("no message got a Header")
	}
	return nil
}

// testFetchHeader: FetchOptions.Header fills Message.Header with a prefix
// of the content holding the header block, and nothing else does.
func testFetchHeader(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "headers")
	id := mailboxID(t, u, store.Inbox)
	var uids []uint32
	for _, b := range headerBodies {
		uids = append(uids, appendMsg(t, u, store.Inbox, b).UID)
	}
	require.NoError(t, checkFetchHeader(ctx, u, id, uids, headerBodies, false))
	for i, raw := range headerBodies {
		n := store.HeaderLen([]byte(raw))
		require.True(t, n == len(raw) || raw[n-1] == '\n', "message %d: header length %d", i, n)
	}
}

// flagPool is the flags the random flag-search data draws from: every
// system flag and keywords in several spellings of the same case-folded
// word.
var flagPool = []string{`\Seen`, `\Answered`, `\Flagged`, `\Deleted`, `\Draft`, "$Junk", "$junk", "Work", "WORK", "todo", "$Forwarded"}

// randomFlags draws a few flags of flagPool.
func randomFlags(rng *rand.Rand) []string {
	var out []string
	for _, f := range flagPool {
		if rng.IntN(3) == 0 {
			out = append(out, f)
		}
	}
	return out
}

// randomFlagQuery draws a FlagQuery over flagPool, in random case.
func randomFlagQuery(rng *rand.Rand) store.FlagQuery {
	var q store.FlagQuery
	for range rng.IntN(4) {
		f := flagPool[rng.IntN(len(flagPool))]
		if rng.IntN(2) == 0 {
			f = strings.ToUpper(f)
		}
		side := &q.Set
		if rng.IntN(2) == 0 {
			side = &q.Unset
		}
		if fs, err := store.ParseFlags([]string{f}); err == nil {
			side.System |= fs.System
			side.Keywords = append(side.Keywords, fs.Keywords...)
		}
	}
	return q
}

// buildFlagMailboxes fills two mailboxes of u with random messages and
// random flag changes, expunges and a copy, so that an index must follow
// every kind of write; it returns the IDs of both.
func buildFlagMailboxes(t *testing.T, u store.User, rng *rand.Rand) []store.MailboxID {
	ctx := context.Background()
	_, err := u.CreateMailbox(ctx, "Other", 0)
	require.NoError(t, err)
	for i := range 60 {
		mbox := store.Inbox
		if i%4 == 3 {
			mbox = "Other"
		}
		appendMsg(t, u, mbox, fmt.Sprintf("Subject: %d\r\n\r\nbody %d\r\n", i, i), randomFlags(rng)...)
	}
	ids := []store.MailboxID{mailboxID(t, u, store.Inbox), mailboxID(t, u, "Other")}
	for range 40 {
		id := ids[rng.IntN(2)]
		uid := uint32(1 + rng.IntN(50))
		op := store.FlagOp(rng.IntN(3))
		_, err := u.StoreFlags(ctx, id, store.UIDSetOf(uid, uid+uint32(rng.IntN(5))), store.FlagChange{Op: op, Flags: randomFlags(rng)})
		require.NoError(t, err)
	}
	_, err = u.Copy(ctx, ids[1], store.AllUIDs(), store.Inbox)
	require.NoError(t, err)
	_, err = u.Expunge(ctx, ids[0], store.UIDSetOf(3, 7, 11, 19, 23, 29))
	require.NoError(t, err)
	return ids
}

// compareFlagSearch asks fs for random queries on the mailbox id and
// compares each answer with the flags Fetch reports; it returns the first
// difference.
func compareFlagSearch(ctx context.Context, u store.User, fs store.FlagSearcher, id store.MailboxID, rng *rand.Rand, queries int) error {
	var msgs []*store.Message
	err := u.Fetch(ctx, id, store.AllUIDs(), store.FetchOptions{}, func(m *store.Message) error {
		msgs = append(msgs, m.Clone())
		return nil
	})
	if err != nil {
		return err
	}
	for range queries {
		q := randomFlagQuery(rng)
		var wantUIDs []uint32
		var wantModSeqs []uint64
		for _, m := range msgs {
			f, err := store.ParseFlags(m.Flags)
			if err != nil {
				return err
			}
			if q.Matches(f) {
				wantUIDs = append(wantUIDs, m.UID)
				wantModSeqs = append(wantModSeqs, m.ModSeq)
			}
		}
		uids, modseqs, err := fs.SearchFlags(ctx, id, q)
		if err != nil {
			return fmt.Errorf("query %+v: %w", q, err)
		}
		if !slices.Equal(uids, wantUIDs) || !slices.Equal(modseqs, wantModSeqs) {
			return fmt.Errorf("query %+v: got UIDs %v MODSEQs %v, Fetch says %v %v", q, uids, modseqs, wantUIDs, wantModSeqs)
		}
	}
	return nil
}

// compareFirstFlagMatch asks fm for the first match of random queries in
// random UID ranges (and in the whole mailbox) of the mailbox id and
// compares each answer with the flags Fetch reports; it returns the
// first difference.
func compareFirstFlagMatch(ctx context.Context, u store.User, fm store.FirstFlagMatcher, id store.MailboxID, rng *rand.Rand, queries int) error {
	var msgs []*store.Message
	err := u.Fetch(ctx, id, store.AllUIDs(), store.FetchOptions{}, func(m *store.Message) error {
		msgs = append(msgs, m.Clone())
		return nil
	})
	if err != nil {
		return err
	}
	top := uint32(1)
	if len(msgs) > 0 {
		top = msgs[len(msgs)-1].UID + 2
	}
	for i := range queries {
		q := randomFlagQuery(rng)
		from, to := uint32(1), uint32(math.MaxUint32)
		if i%4 != 0 {
			from = 1 + rng.Uint32N(top)
			to = from + rng.Uint32N(top)
		}
		var want uint32
		for _, m := range msgs {
			f, err := store.ParseFlags(m.Flags)
			if err != nil {
				return err
			}
			if m.UID >= from && m.UID <= to && q.Matches(f) {
				want = m.UID
				break
			}
		}
		got, err := fm.FirstFlagMatch(ctx, id, q, from, to)
		if err != nil {
			return fmt.Errorf("query %+v in %d:%d: %w", q, from, to, err)
		}
		if got != want {
			return fmt.Errorf("query %+v in %d:%d: got UID %d, Fetch says %d", q, from, to, got, want)
		}
	}
	return nil
}

// testFirstFlagMatch: a store.FirstFlagMatcher finds the first match of
// random flag queries in random UID ranges exactly as the flags Fetch
// reports, after appends, flag changes, a copy and an expunge; it refuses
// invalid queries and fails for a mailbox that is not there.
func testFirstFlagMatch(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "firstmatch")
	fm, ok := u.(store.FirstFlagMatcher)
	if !ok {
		t.Skip("the store has no FirstFlagMatcher")
	}
	rng := rand.New(rand.NewPCG(21, 5))
	for _, id := range buildFlagMailboxes(t, u, rng) {
		require.NoError(t, compareFirstFlagMatch(ctx, u, fm, id, rng, 300))
	}
	_, err := fm.FirstFlagMatch(ctx, mailboxID(t, u, store.Inbox), store.FlagQuery{Set: store.FlagSet{Keywords: []string{"not a keyword"}}}, 1, 10)
	require.ErrorIs(t, err, store.ErrInvalidFlag)
	_, err = fm.FirstFlagMatch(ctx, store.MailboxID(1<<40), store.FlagQuery{}, 1, 10)
	require.ErrorIs(t, err, store.ErrNoSuchMailbox)
}

// testSearchFlags: a store.FlagSearcher answers random flag queries
// exactly as the flags Fetch reports, after appends, flag changes, a copy
// and an expunge; it refuses invalid queries and fails for a mailbox that
// is not there.
func testSearchFlags(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "flagsearch")
	fs, ok := u.(store.FlagSearcher)
	if !ok {
		t.Skip("the store has no FlagSearcher")
	}
	rng := rand.New(rand.NewPCG(20, 4))
	for _, id := range buildFlagMailboxes(t, u, rng) {
		require.NoError(t, compareFlagSearch(ctx, u, fs, id, rng, 300))
	}
	_, _, err := fs.SearchFlags(ctx, mailboxID(t, u, store.Inbox), store.FlagQuery{Set: store.FlagSet{Keywords: []string{"not a keyword"}}})
	require.ErrorIs(t, err, store.ErrInvalidFlag)
	_, _, err = fs.SearchFlags(ctx, store.MailboxID(1<<40), store.FlagQuery{})
	require.ErrorIs(t, err, store.ErrNoSuchMailbox)
}
