package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/store"
)

// testSaveDate checks store.Message.SaveDate (RFC 8514): APPEND, a batch,
// COPY and MOVE each give the message in its (new) mailbox the time it was
// saved there, whatever its internal date; flag changes keep it.
func testSaveDate(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "sally")
	inbox := mailboxID(t, u, store.Inbox)
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	within := func(t *testing.T, m *store.Message, from, to time.Time) {
		t.Helper()
		require.False(t, m.SaveDate.IsZero(), "UID %d has no save date", m.UID)
		assert.False(t, m.SaveDate.Before(from), "save date %v before %v", m.SaveDate, from)
		assert.False(t, m.SaveDate.After(to), "save date %v after %v", m.SaveDate, to)
	}

	t0 := time.Now()
	_, err := u.Append(ctx, store.Inbox, store.NewMessage{InternalDate: old, Body: strings.NewReader("Subject: old\r\n\r\n")})
	require.NoError(t, err)
	if b, ok := u.(store.BatchAppender); ok {
		_, err = b.AppendBatch(ctx, store.Inbox, batchOf("batch", 2))
		require.NoError(t, err)
	}
	t1 := time.Now()
	msgs := fetchAll(t, u, inbox, store.FetchOptions{})
	require.NotEmpty(t, msgs)
	for _, m := range msgs {
		within(t, m, t0, t1)
	}
	assert.True(t, msgs[0].InternalDate.Equal(old), "the internal date stays the client's")

	time.Sleep(20 * time.Millisecond) // so that a kept save date would show
	_, err = u.StoreFlags(ctx, inbox, store.UIDSetOf(msgs[0].UID), store.FlagChange{Op: store.FlagsAdd, Flags: []string{`\Seen`}})
	require.NoError(t, err)
	t2 := time.Now()
	_, err = u.Copy(ctx, inbox, store.UIDSetOf(msgs[0].UID), "Archive")
	require.NoError(t, err)
	_, err = u.Move(ctx, inbox, store.UIDSetOf(msgs[0].UID), "Trash")
	require.NoError(t, err)
	t3 := time.Now()
	for _, name := range []string{"Archive", "Trash"} {
		got := fetchAll(t, u, mailboxID(t, u, name), store.FetchOptions{})
		require.Len(t, got, 1, name)
		within(t, got[0], t2, t3)
		assert.True(t, got[0].InternalDate.Equal(old), "%s: COPY and MOVE keep the internal date", name)
	}
	rest := fetchAll(t, u, inbox, store.FetchOptions{})
	for _, m := range rest {
		within(t, m, t0, t1)
	}
}
