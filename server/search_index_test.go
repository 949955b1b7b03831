package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/internal/mailmsg"
	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/boltstore"
	"github.com/imapfsm/imapfsm/server/store/pgstore"
	"github.com/imapfsm/imapfsm/server/store/pgstore/pgtest"
)

// wrappedStore hands out its store's users wrapped by wrap, which hides
// the optional interfaces the wrapper does not implement itself.
type wrappedStore struct {
	store.Store
	wrap func(store.User) store.User
}

func (s wrappedStore) OpenUser(ctx context.Context, name string) (store.User, error) {
	u, err := s.Store.OpenUser(ctx, name)
	if err != nil {
		return nil, err
	}
	return s.wrap(u), nil
}

func (s wrappedStore) Authenticate(ctx context.Context, name, password string) (store.User, error) {
	u, err := s.Store.Authenticate(ctx, name, password)
	if err != nil {
		return nil, err
	}
	return s.wrap(u), nil
}

// mutantFlagUser is a store.FlagSearcher that breaks its queries.
type mutantFlagUser struct {
	store.User
	mutate func(q *store.FlagQuery)
}

func (u mutantFlagUser) SearchFlags(ctx context.Context, id store.MailboxID, q store.FlagQuery) ([]uint32, []uint64, error) {
	u.mutate(&q)
	return u.User.(store.FlagSearcher).SearchFlags(ctx, id, q)
}

// searchStores returns the stores the search tests run on: the embedded
// store, and pgstore when IMAPFSM_TEST_POSTGRES names a server.
func searchStores(t *testing.T) map[string]func(t *testing.T) store.Store {
	opts := store.Options{BcryptCost: 4, Analyzer: mailmsg.Analyze}
	return map[string]func(t *testing.T) store.Store{
		"bolt": func(t *testing.T) store.Store {
			st, err := boltstore.Open(t.TempDir(), boltstore.Options{Options: opts})
			require.NoError(t, err)
			t.Cleanup(func() { st.Close() })
			return st
		},
		"pg": func(t *testing.T) store.Store {
			if os.Getenv(pgtest.EnvURL) == "" {
				t.Skipf("%s is unset", pgtest.EnvURL)
			}
			url, schema := pgtest.SchemaOn(t, pgtest.StartForTest(t))
			st, err := pgstore.Open(context.Background(), url, pgstore.Options{Options: opts, Schema: schema})
			require.NoError(t, err)
			t.Cleanup(func() { st.Close() })
			return st
		},
	}
}

// searchSession starts a server on st and returns a session of demo with
// INBOX selected.
func searchSession(t *testing.T, st store.Store) *client {
	srv, err := New(Config{
		Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		AllowInsecureAuth: true, AuthFailureDelay: -1,
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	ts := &testServer{t: t, srv: srv}
	c := ts.dial()
	c.login()
	c.ok("S", "SELECT INBOX")
	return c
}

// searchFlagPool is the flags of the random mailbox.
var searchFlagPool = []string{`\Seen`, `\Answered`, `\Flagged`, `\Deleted`, `\Draft`, "$Junk", "$junk", "Work", "todo"}

// fillSearchMailbox fills demo's INBOX with random messages (small ones,
// one over the embedded store's inline limit, bare line feeds, an
// encoded subject), random flag changes and an expunge, and claims
// every message as recent so that no session sees \Recent.
func fillSearchMailbox(t *testing.T, st store.Store, rng *rand.Rand, n int) {
	ctx := context.Background()
	require.NoError(t, st.CreateUser(ctx, "demo", "demo"))
	u, err := st.OpenUser(ctx, "demo")
	require.NoError(t, err)
	for i := range n {
		var flags []string
		for _, f := range searchFlagPool {
			if rng.IntN(3) == 0 {
				flags = append(flags, f)
			}
		}
		body := fmt.Sprintf("From: a%d@example.org\r\nSubject: item %d\r\nMessage-ID: <m%d@example.org>\r\n\r\nbody %d\r\n", i%7, i, i, i)
		switch i % 17 {
		case 5:
			body = strings.ReplaceAll(body, "\r\n", "\n")
		case 9:
			body = fmt.Sprintf("Subject: =?utf-8?q?caf=C3=A9_%d?=\r\nMessage-ID: <m%d@example.org>\r\n\r\n%s\r\n", i, i, strings.Repeat("x", 10_000))
		}
		_, err := u.Append(ctx, store.Inbox, store.NewMessage{Flags: flags, Body: strings.NewReader(body)})
		require.NoError(t, err)
	}
	mb, err := u.Mailbox(ctx, store.Inbox)
	require.NoError(t, err)
	for range n / 3 {
		uid := uint32(1 + rng.IntN(n))
		f := searchFlagPool[rng.IntN(len(searchFlagPool))]
		_, err := u.StoreFlags(ctx, mb.ID, store.UIDSetOf(uid), store.FlagChange{Op: store.FlagOp(rng.IntN(3)), Flags: []string{f}})
		require.NoError(t, err)
	}
	_, err = u.Expunge(ctx, mb.ID, store.UIDSetOf(2, 3, 5, 8, 13))
	require.NoError(t, err)
	_, err = u.ClaimRecent(ctx, mb.ID, uint32(n+1))
	require.NoError(t, err)
}

// randomSearchKey writes one random search key: mostly flag keys, and
// the others the server evaluates itself.
func randomSearchKey(rng *rand.Rand, depth int) string {
	flagKeys := []string{"ANSWERED", "DELETED", "DRAFT", "FLAGGED", "SEEN", "UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN"}
	keywords := []string{"$Junk", "$JUNK", "work", "Work", "todo", "TODO", "absent", `\Seen`, `\flagged`, `\Foo`}
	switch r := rng.IntN(20); {
	case r < 8:
		return flagKeys[rng.IntN(len(flagKeys))]
	case r < 11:
		kw := []string{"KEYWORD", "UNKEYWORD"}[rng.IntN(2)]
		return kw + " " + keywords[rng.IntN(len(keywords))]
	case r == 11:
		return []string{"RECENT", "OLD", "NEW", "ALL"}[rng.IntN(4)]
	case r == 12:
		return fmt.Sprintf("UID %d:%d", 1+rng.IntN(60), 1+rng.IntN(60))
	case r == 13:
		return fmt.Sprintf("%d:*", 1+rng.IntN(50))
	case r == 14:
		return []string{"SUBJECT item", "SUBJECT 1", "HEADER Message-ID m2", "SUBJECT caf", "FROM a3", "LARGER 200"}[rng.IntN(6)]
	case r == 15:
		return fmt.Sprintf("MODSEQ %d", 1+rng.IntN(80))
	case depth > 1:
		return "ALL"
	case r == 16:
		return "NOT " + randomSearchKey(rng, depth+1)
	case r == 17:
		return "OR " + randomSearchKey(rng, depth+1) + " " + randomSearchKey(rng, depth+1)
	}
	return "(" + randomSearchKey(rng, depth+1) + " " + randomSearchKey(rng, depth+1) + ")"
}

// randomSearch writes a random SEARCH or UID SEARCH command of one to
// three keys, sometimes with ESEARCH return options.
func randomSearch(rng *rand.Rand) string {
	var b strings.Builder
	if rng.IntN(2) == 0 {
		b.WriteString("UID ")
	}
	b.WriteString("SEARCH ")
	if rng.IntN(4) == 0 {
		b.WriteString("RETURN (MIN MAX COUNT ALL) ")
	}
	for i := range 1 + rng.IntN(3) {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(randomSearchKey(rng, 0))
	}
	return b.String()
}

// searchAnswer runs a command and returns its whole response, tag
// included, for comparison.
func searchAnswer(c *client, command string) string {
	untagged, done := c.cmd("Q", command)
	return strings.Join(append(untagged, done), "\n")
}

// flagIndexDiffers sends random searches to a session whose store answers
// flag keys (indexed) and to one on the same data whose store does not
// (plain), and returns the first command whose answers differ, or how
// many answers were OK with matches.
func flagIndexDiffers(indexed, plain *client, rng *rand.Rand, searches int) (diff string, differs bool, found int) {
	for range searches {
		cmd := randomSearch(rng)
		a, b := searchAnswer(indexed, cmd), searchAnswer(plain, cmd)
		if a != b {
			return fmt.Sprintf("%s:\nindexed: %s\nplain:   %s", cmd, a, b), true, found
		}
		if strings.Contains(a, "\nQ OK") && (strings.Contains(a, "* SEARCH ") || strings.Contains(a, " ALL ")) {
			found++
		}
	}
	return "", false, found
}

// TestSearchFlagIndexSameAnswers: on random mailboxes, random SEARCH
// commands get the same answers whether the store answers their flag
// keys (store.FlagSearcher: pgstore's indexes, the embedded store's
// scan) or the server tests the flags of every message; a searcher that
// drops the unset flags or the keywords of its query is caught.
func TestSearchFlagIndexSameAnswers(t *testing.T) {
	for name, open := range searchStores(t) {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			fillSearchMailbox(t, st, rand.New(rand.NewPCG(9, 51)), 60)
			u, err := st.OpenUser(context.Background(), "demo")
			require.NoError(t, err)
			require.Implements(t, (*store.FlagSearcher)(nil), u)
			require.NotImplements(t, (*store.FlagSearcher)(nil), plainUser{u})
			indexed := searchSession(t, st)
			// plainUser (cmd_quota_test.go) has no store.FlagSearcher:
			// the server then tests the flags of each message it fetches.
			plain := searchSession(t, wrappedStore{st, func(u store.User) store.User { return plainUser{u} }})
			diff, differs, found := flagIndexDiffers(indexed, plain, rand.New(rand.NewPCG(7, 7)), 400)
			require.False(t, differs, diff)
			require.Greater(t, found, 200, "searches answered OK with matches")

			for mutant, mutate := range map[string]func(q *store.FlagQuery){
				"unset flags dropped":  func(q *store.FlagQuery) { q.Unset = store.FlagSet{} },
				"set keywords dropped": func(q *store.FlagQuery) { q.Set.Keywords = nil },
			} {
				t.Run(mutant, func(t *testing.T) {
					broken := searchSession(t, wrappedStore{st, func(u store.User) store.User { return mutantFlagUser{u, mutate} }})
					_, differs, _ := flagIndexDiffers(broken, plain, rand.New(rand.NewPCG(7, 7)), 400)
					require.True(t, differs, "the mutant is not caught")
				})
			}
		})
	}
}

// bodyCounter counts the bodies opened through it; dropHeader makes its
// Fetch return no Message.Header (the mutant of the test below).
type bodyCounter struct {
	store.User
	opened     *atomic.Int64
	dropHeader bool
}

func (u bodyCounter) OpenBody(ctx context.Context, id store.MailboxID, uid uint32) (store.Body, error) {
	u.opened.Add(1)
	return u.User.OpenBody(ctx, id, uid)
}

func (u bodyCounter) Fetch(ctx context.Context, id store.MailboxID, uids store.UIDSet, opts store.FetchOptions, fn func(*store.Message) error) error {
	return u.User.Fetch(ctx, id, uids, opts, func(m *store.Message) error {
		if u.dropHeader {
			m.Header = nil
		}
		return fn(m)
	})
}

// TestSearchHeaderReadsNoBodies: SEARCH HEADER and SUBJECT read the
// header blocks with the messages' metadata (FetchOptions.Header) and
// open a body only where the store gives none (a body the embedded store
// keeps in a file); BODY still opens each body. Without the headers (the
// mutant) every message's body is opened, and the answers stay the same.
func TestSearchHeaderReadsNoBodies(t *testing.T) {
	for name, open := range searchStores(t) {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			const n = 60
			fillSearchMailbox(t, st, rand.New(rand.NewPCG(3, 3)), n)
			require.NotZero(t, n)
			// The messages left after the expunge, and those over the
			// inline limit, which the embedded store keeps in files.
			live, large := 0, 0
			u, err := st.OpenUser(context.Background(), "demo")
			require.NoError(t, err)
			mb, err := u.Mailbox(context.Background(), store.Inbox)
			require.NoError(t, err)
			require.NoError(t, u.Fetch(context.Background(), mb.ID, store.AllUIDs(), store.FetchOptions{}, func(m *store.Message) error {
				live++
				if m.Size > 8<<10 {
					large++
				}
				return nil
			}))
			var opened, mutantOpened atomic.Int64
			c := searchSession(t, wrappedStore{st, func(u store.User) store.User { return bodyCounter{User: u, opened: &opened} }})
			m := searchSession(t, wrappedStore{st, func(u store.User) store.User {
				return bodyCounter{User: u, opened: &mutantOpened, dropHeader: true}
			}})
			for _, cmd := range []string{
				"UID SEARCH HEADER Message-ID <m20@example.org>",
				"SEARCH SUBJECT caf",
				"SEARCH HEADER X-Absent \"\"",
				"SEARCH NOT HEADER Subject 1",
			} {
				opened.Store(0)
				mutantOpened.Store(0)
				require.Equal(t, searchAnswer(m, cmd), searchAnswer(c, cmd), cmd)
				want := int64(0)
				if name == "bolt" {
					want = int64(large)
				}
				require.Equal(t, want, opened.Load(), "bodies opened by %s", cmd)
				require.Equal(t, int64(live), mutantOpened.Load(), "the mutant opens every body: %s", cmd)
			}
			require.Contains(t, searchAnswer(c, "UID SEARCH HEADER Message-ID <m20@example.org>"), "* SEARCH 21\n")
			opened.Store(0)
			searchAnswer(c, "SEARCH BODY 12")
			require.Equal(t, int64(live), opened.Load(), "BODY reads every body")
		})
	}
}
