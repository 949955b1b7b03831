package server

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/store"
)

// firstMatchMutant is a store.FirstFlagMatcher broken in one way: it
// answers from SearchFlags with pick choosing among the matches in the
// range (nil when there are none) and the UIDs of the range.
type firstMatchMutant struct {
	store.User
	pick func(matches, all []uint32) uint32
}

func (u firstMatchMutant) FirstFlagMatch(ctx context.Context, id store.MailboxID, q store.FlagQuery, from, to uint32) (uint32, error) {
	fs := u.User.(store.FlagSearcher)
	matches, _, err := fs.SearchFlags(ctx, id, q)
	if err != nil {
		return 0, err
	}
	all, _, err := fs.SearchFlags(ctx, id, store.FlagQuery{})
	if err != nil {
		return 0, err
	}
	in := func(uids []uint32) []uint32 {
		var out []uint32
		for _, uid := range uids {
			if uid >= from && uid <= to {
				out = append(out, uid)
			}
		}
		return out
	}
	return u.pick(in(matches), in(all)), nil
}

// firstUnseenCases builds, for demo, one mailbox per edge case of the
// UNSEEN response code and returns the code each must get ("" for none).
func firstUnseenCases(t *testing.T, st store.Store) map[string]string {
	ctx := context.Background()
	require.NoError(t, st.CreateUser(ctx, "demo", "demo"))
	u, err := st.OpenUser(ctx, "demo")
	require.NoError(t, err)
	fill := func(name string, seen ...bool) store.MailboxID {
		info, err := u.CreateMailbox(ctx, name, 0)
		require.NoError(t, err)
		for i, s := range seen {
			var flags []string
			if s {
				flags = []string{`\Seen`}
			}
			_, err := u.Append(ctx, name, store.NewMessage{Flags: flags, Body: strings.NewReader(fmt.Sprintf("Subject: %d\r\n\r\nx\r\n", i))})
			require.NoError(t, err)
		}
		return info.ID
	}
	expunge := func(id store.MailboxID, uids ...uint32) {
		_, err := u.StoreFlags(ctx, id, store.UIDSetOf(uids...), store.FlagChange{Op: store.FlagsAdd, Flags: []string{`\Deleted`}})
		require.NoError(t, err)
		_, err = u.Expunge(ctx, id, store.UIDSetOf(uids...))
		require.NoError(t, err)
	}
	fill("Empty")
	fill("AllSeen", true, true, true)
	fill("FirstUnseen", false, true, true)
	fill("OnlyLastUnseen", true, true, true, true, false)
	fill("AllUnseen", false, false)
	// UIDs 1 and 3 (the first unseen) expunged: UID 4, now message 2.
	expunge(fill("AfterExpunge", true, true, false, false, true), 1, 3)
	// Every unseen message expunged.
	expunge(fill("UnseenExpunged", true, false, true, false), 2, 4)
	return map[string]string{
		"Empty": "", "AllSeen": "", "FirstUnseen": "1", "OnlyLastUnseen": "5",
		"AllUnseen": "1", "AfterExpunge": "2", "UnseenExpunged": "",
	}
}

// unseenCodes selects each mailbox in an IMAP4rev1 session and returns
// the UNSEEN response code it got, by mailbox.
func unseenCodes(t *testing.T, st store.Store, names map[string]string) map[string]string {
	c := searchSession(t, st)
	got := map[string]string{}
	for name := range names {
		got[name] = ""
		for _, l := range c.ok("S", "SELECT "+name) {
			if v, ok := strings.CutPrefix(l, "* OK [UNSEEN "); ok {
				got[name], _, _ = strings.Cut(v, "]")
			}
		}
	}
	return got
}

// TestSelectFirstUnseen: the UNSEEN response code of an IMAP4rev1 SELECT
// names the first message without \Seen in the edge cases (empty
// mailbox, none unseen, the first, only the last, all, after an expunge
// of the first unseen, after the expunge of every unseen message), on
// both stores, whether the store finds it (store.FirstFlagMatcher) or
// the server reads the messages; stores that answer the last match, or
// any message, are caught.
func TestSelectFirstUnseen(t *testing.T) {
	for name, open := range searchStores(t) {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			want := firstUnseenCases(t, st)
			u, err := st.OpenUser(context.Background(), "demo")
			require.NoError(t, err)
			require.Implements(t, (*store.FirstFlagMatcher)(nil), u)
			require.NotImplements(t, (*store.FirstFlagMatcher)(nil), plainUser{u})
			require.Equal(t, want, unseenCodes(t, st, want), "the store's first match")
			plain := wrappedStore{st, func(u store.User) store.User { return plainUser{u} }}
			require.Equal(t, want, unseenCodes(t, plain, want), "the server's scan")
			for mutant, pick := range map[string]func(matches, all []uint32) uint32{
				"last match": func(matches, _ []uint32) uint32 {
					if len(matches) == 0 {
						return 0
					}
					return matches[len(matches)-1]
				},
				"flags ignored": func(_, all []uint32) uint32 {
					if len(all) == 0 {
						return 0
					}
					return all[0]
				},
			} {
				t.Run(mutant, func(t *testing.T) {
					broken := wrappedStore{st, func(u store.User) store.User { return firstMatchMutant{u, pick} }}
					require.NotEqual(t, want, unseenCodes(t, broken, want), "the mutant is not caught")
				})
			}
		})
	}
}
