package storetest

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/boltstore"
)

// openBolt opens an embedded store for the mutant tests of the suite's
// own checks.
func openBolt(t *testing.T) store.Store {
	s, err := boltstore.Open(t.TempDir(), boltstore.Options{Options: store.Options{BcryptCost: 4, Analyzer: Analyzer}})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// shortHeader is a mutant store user whose Fetch cuts the last byte off
// every Header.
type shortHeader struct{ store.User }

func (u shortHeader) Fetch(ctx context.Context, id store.MailboxID, uids store.UIDSet, opts store.FetchOptions, fn func(*store.Message) error) error {
	return u.User.Fetch(ctx, id, uids, opts, func(m *store.Message) error {
		if len(m.Header) > 0 {
			m.Header = m.Header[:len(m.Header)-1]
		}
		return fn(m)
	})
}

// TestCheckFetchHeaderCatchesMutant: the FetchHeader check passes on the
// embedded store and fails on a store whose headers are one byte short.
func TestCheckFetchHeaderCatchesMutant(t *testing.T) {
	ctx := context.Background()
	u := newUser(t, openBolt(t), "h")
	id := mailboxID(t, u, store.Inbox)
	var uids []uint32
	for _, b := range headerBodies {
		uids = append(uids, appendMsg(t, u, store.Inbox, b).UID)
	}
	require.NoError(t, checkFetchHeader(ctx, u, id, uids, headerBodies, true))
	require.ErrorContains(t, checkFetchHeader(ctx, shortHeader{u}, id, uids, headerBodies, true), "shorter than the header block")
}

// flagMutant is a FlagSearcher broken in one way.
type flagMutant struct {
	fs     store.FlagSearcher
	mutate func(q *store.FlagQuery)
}

func (m flagMutant) SearchFlags(ctx context.Context, id store.MailboxID, q store.FlagQuery) ([]uint32, []uint64, error) {
	m.mutate(&q)
	return m.fs.SearchFlags(ctx, id, q)
}

// TestCompareFlagSearchCatchesMutants: the SearchFlags check passes on
// the embedded store and fails on searchers that drop a condition or
// compare keywords case-sensitively.
func TestCompareFlagSearchCatchesMutants(t *testing.T) {
	ctx := context.Background()
	u := newUser(t, openBolt(t), "f")
	rng := rand.New(rand.NewPCG(1, 2))
	ids := buildFlagMailboxes(t, u, rng)
	fs := u.(store.FlagSearcher)
	require.NoError(t, compareFlagSearch(ctx, u, fs, ids[0], rng, 200))
	mutants := map[string]func(q *store.FlagQuery){
		"unset system flags ignored": func(q *store.FlagQuery) { q.Unset.System = 0 },
		"unset keywords ignored":     func(q *store.FlagQuery) { q.Unset.Keywords = nil },
		"set keywords ignored":       func(q *store.FlagQuery) { q.Set.Keywords = nil },
		"keywords case-sensitive": func(q *store.FlagQuery) {
			// A keyword given in another case than stored is taken
			// for one nobody has.
			for i, k := range q.Set.Keywords {
				if k != "Work" && k != "$Junk" && k != "todo" {
					q.Set.Keywords[i] = "nobody-has-this"
				}
			}
		},
	}
	for name, mutate := range mutants {
		t.Run(name, func(t *testing.T) {
			require.Error(t, compareFlagSearch(ctx, u, flagMutant{fs, mutate}, ids[0], rand.New(rand.NewPCG(3, 4)), 300))
		})
	}
}

// firstMatchMutant is a FirstFlagMatcher broken in one way.
type firstMatchMutant struct {
	fm     store.FirstFlagMatcher
	mutate func(q *store.FlagQuery, from, to *uint32)
}

func (m firstMatchMutant) FirstFlagMatch(ctx context.Context, id store.MailboxID, q store.FlagQuery, from, to uint32) (uint32, error) {
	m.mutate(&q, &from, &to)
	return m.fm.FirstFlagMatch(ctx, id, q, from, to)
}

// TestCompareFirstFlagMatchCatchesMutants: the FirstFlagMatch check
// passes on the embedded store and fails on matchers that ignore the
// range's start or end, or drop the unset flags.
func TestCompareFirstFlagMatchCatchesMutants(t *testing.T) {
	ctx := context.Background()
	u := newUser(t, openBolt(t), "f")
	rng := rand.New(rand.NewPCG(1, 2))
	ids := buildFlagMailboxes(t, u, rng)
	fm := u.(store.FirstFlagMatcher)
	require.NoError(t, compareFirstFlagMatch(ctx, u, fm, ids[0], rng, 200))
	mutants := map[string]func(q *store.FlagQuery, from, to *uint32){
		"range start ignored": func(_ *store.FlagQuery, from, _ *uint32) { *from = 1 },
		"range end ignored":   func(_ *store.FlagQuery, _, to *uint32) { *to = math.MaxUint32 },
		"unset flags ignored": func(q *store.FlagQuery, _, _ *uint32) { q.Unset = store.FlagSet{} },
	}
	for name, mutate := range mutants {
		t.Run(name, func(t *testing.T) {
			require.Error(t, compareFirstFlagMatch(ctx, u, firstMatchMutant{fm, mutate}, ids[0], rand.New(rand.NewPCG(3, 4)), 300))
		})
	}
}
