package storetest

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/store"
)

// testOrigins checks that every notification a change publishes carries
// the store.Origin of the context of the call that made it (RFC 5465 5:
// a session tells its own changes from others' by it), for every kind of
// change, and no Origin when the context has none.
func testOrigins(t *testing.T, s store.Store) {
	u := newUser(t, s, "olga")
	fn, ok := s.Notifier().(interface {
		SubscribeFunc(string, store.MailboxID, func(store.Notification)) func()
	})
	if !ok {
		t.Skip("the notifier cannot call functions")
	}
	var mu sync.Mutex
	var got []store.Notification
	cancel := fn.SubscribeFunc("olga", store.AccountEvents, func(n store.Notification) {
		mu.Lock()
		got = append(got, n)
		mu.Unlock()
	})
	defer cancel()
	seen := 0
	// check runs op with a context carrying o and requires that it
	// published something, all of it with o. Both stores publish a
	// change to SubscribeFunc subscribers before the call returns.
	check := func(what string, o store.Origin, op func(ctx context.Context) error) {
		t.Helper()
		ctx := context.Background()
		if o != 0 {
			ctx = store.WithOrigin(ctx, o)
		}
		require.NoError(t, op(ctx), what)
		mu.Lock()
		defer mu.Unlock()
		require.Greater(t, len(got), seen, "%s published nothing", what)
		for _, n := range got[seen:] {
			assert.Equal(t, o, n.Origin, "%s: %+v", what, n)
		}
		seen = len(got)
	}
	body := func(s string) store.NewMessage {
		return store.NewMessage{Body: strings.NewReader("Subject: " + s + "\r\n\r\nbody\r\n")}
	}
	inbox := mailboxID(t, u, store.Inbox)
	var box store.MailboxID
	check("CreateMailbox", store.NewOrigin(), func(ctx context.Context) error {
		mi, err := u.CreateMailbox(ctx, "Own/Box", 0)
		box = mi.ID
		return err
	})
	check("SetSubscribed", store.NewOrigin(), func(ctx context.Context) error { return u.SetSubscribed(ctx, "Own/Box", true) })
	check("Append", store.NewOrigin(), func(ctx context.Context) error {
		_, err := u.Append(ctx, "Own/Box", body("a"))
		return err
	})
	check("StoreFlags", store.NewOrigin(), func(ctx context.Context) error {
		_, err := u.StoreFlags(ctx, box, store.AllUIDs(), store.FlagChange{Op: store.FlagsAdd, Flags: []string{`\Deleted`}})
		return err
	})
	check("Copy", store.NewOrigin(), func(ctx context.Context) error {
		_, err := u.Copy(ctx, box, store.AllUIDs(), store.Inbox)
		return err
	})
	check("Move", store.NewOrigin(), func(ctx context.Context) error {
		_, err := u.Move(ctx, inbox, store.AllUIDs(), "Own/Box")
		return err
	})
	check("Expunge", store.NewOrigin(), func(ctx context.Context) error {
		_, err := u.Expunge(ctx, box, nil)
		return err
	})
	if b, ok := u.(store.BatchAppender); ok {
		check("AppendBatch", store.NewOrigin(), func(ctx context.Context) error {
			_, err := b.AppendBatch(ctx, "Own/Box", []store.NewMessage{body("b1"), body("b2")})
			return err
		})
	}
	if r, ok := u.(store.Replacer); ok {
		res, err := u.Append(context.Background(), store.Inbox, body("old"))
		require.NoError(t, err)
		mu.Lock()
		seen = len(got)
		mu.Unlock()
		check("Replace", store.NewOrigin(), func(ctx context.Context) error {
			_, err := r.Replace(ctx, inbox, res.UID, "Own/Box", body("new"))
			return err
		})
	}
	if m, ok := u.(store.MetadataUser); ok {
		check("SetMetadata", store.NewOrigin(), func(ctx context.Context) error {
			return m.SetMetadata(ctx, "Own/Box", []store.MetadataEntry{{Name: "/private/comment", Value: []byte("x")}}, store.MetadataLimits{})
		})
	}
	check("RenameMailbox", store.NewOrigin(), func(ctx context.Context) error { return u.RenameMailbox(ctx, "Own", "Yours") })
	check("DeleteMailbox", store.NewOrigin(), func(ctx context.Context) error { return u.DeleteMailbox(ctx, "Yours/Box") })
	check("Append without an origin", 0, func(ctx context.Context) error {
		_, err := u.Append(ctx, store.Inbox, body("anonymous"))
		return err
	})
}
