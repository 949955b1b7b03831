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

// LegacyOpener opens a fresh, empty store (closed by the suite) and
// returns with it a function that makes the store forget the save dates of
// every message it holds, as if they were stored before it kept them.
type LegacyOpener func(t *testing.T) (s store.Store, forget func(t *testing.T))

// RunSaveDateUnknown checks messages without a save date (RFC 8514): they
// read with a zero store.Message.SaveDate and their internal date intact,
// a flag change does not make one up, and a message newly stored next to
// them, a copy, a move or a replacement of one of them gets its own.
func RunSaveDateUnknown(t *testing.T, open LegacyOpener) {
	ctx := context.Background()
	s, forget := open(t)
	t.Cleanup(func() { _ = s.Close() })
	u := newUser(t, s, "lena")
	inbox := mailboxID(t, u, store.Inbox)
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	for _, subject := range []string{"one", "two", "three"} {
		_, err := u.Append(ctx, store.Inbox, store.NewMessage{InternalDate: old, Body: strings.NewReader("Subject: " + subject + "\r\n\r\n")})
		require.NoError(t, err)
	}
	forget(t)
	for _, m := range fetchAll(t, u, inbox, store.FetchOptions{}) {
		assert.True(t, m.SaveDate.IsZero(), "UID %d still has a save date", m.UID)
		assert.True(t, m.InternalDate.Equal(old), "UID %d lost its internal date", m.UID)
	}

	from := time.Now()
	appendMsg(t, u, store.Inbox, "Subject: new\r\n\r\n")
	_, err := u.StoreFlags(ctx, inbox, store.UIDSetOf(1), store.FlagChange{Op: store.FlagsAdd, Flags: []string{`\Seen`}})
	require.NoError(t, err)
	_, err = u.Copy(ctx, inbox, store.UIDSetOf(1), "Archive")
	require.NoError(t, err)
	_, err = u.Move(ctx, inbox, store.UIDSetOf(2), "Trash")
	require.NoError(t, err)
	if r, ok := u.(store.Replacer); ok {
		_, err = r.Replace(ctx, inbox, 3, store.Inbox, store.NewMessage{InternalDate: old, Body: strings.NewReader("Subject: three, again\r\n\r\n")})
		require.NoError(t, err)
	}
	to := time.Now()

	got := map[string]map[uint32]time.Time{}
	for _, name := range []string{store.Inbox, "Archive", "Trash"} {
		got[name] = map[uint32]time.Time{}
		for _, m := range fetchAll(t, u, mailboxID(t, u, name), store.FetchOptions{}) {
			got[name][m.UID] = m.SaveDate
		}
	}
	assert.True(t, got[store.Inbox][1].IsZero(), "a flag change made up a save date")
	saved := []time.Time{got[store.Inbox][4], got["Archive"][1], got["Trash"][1]}
	if _, ok := u.(store.Replacer); ok {
		saved = append(saved, got[store.Inbox][5])
	}
	for i, d := range saved {
		assert.False(t, d.Before(from) || d.After(to), "save date %d is %v, not within the test", i, d)
	}
}
