package storetest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/store"
)

// quotas returns the optional quota interfaces of s and u, skipping the
// test when the backend implements neither.
func quotas(t *testing.T, s store.Store, u store.User) (store.QuotaAdmin, store.QuotaUser) {
	t.Helper()
	qa, ok1 := s.(store.QuotaAdmin)
	qu, ok2 := u.(store.QuotaUser)
	if !ok1 && !ok2 {
		t.Skip("backend does not implement store.QuotaAdmin and store.QuotaUser")
	}
	require.True(t, ok1 && ok2, "a backend implements both store.QuotaAdmin and store.QuotaUser, or neither")
	return qa, qu
}

func usage(t *testing.T, qu store.QuotaUser) (store.Quota, store.QuotaUsage) {
	t.Helper()
	q, use, err := qu.Quota(context.Background())
	require.NoError(t, err)
	return q, use
}

// testQuotaUsage checks that the usage is the sum over every mailbox of
// the account, follows appends, copies, moves, expunges and deletions, and
// ignores other accounts; and that limits are stored per account.
func testQuotaUsage(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "quincy")
	qa, qu := quotas(t, s, u)
	other := newUser(t, s, "olga")
	appendMsg(t, other, store.Inbox, "Subject: not counted\r\n\r\nxxxxxxxxxxxxxxxx\r\n")

	q, use := usage(t, qu)
	assert.Equal(t, store.Quota{}, q)
	assert.Equal(t, store.QuotaUsage{}, use)

	a := "Subject: a\r\n\r\nA\r\n"
	b := "Subject: bb\r\n\r\nBB\r\n"
	appendMsg(t, u, store.Inbox, a)
	_, err := u.CreateMailbox(ctx, "Work", 0)
	require.NoError(t, err)
	appendMsg(t, u, "Work", b, `\Deleted`)
	_, use = usage(t, qu)
	assert.Equal(t, store.QuotaUsage{Messages: 2, Storage: int64(len(a) + len(b))}, use)

	inbox := mailboxID(t, u, store.Inbox)
	_, err = u.Copy(ctx, inbox, store.AllUIDs(), "Work")
	require.NoError(t, err)
	_, use = usage(t, qu)
	assert.Equal(t, store.QuotaUsage{Messages: 3, Storage: int64(2*len(a) + len(b))}, use, "a copy counts twice")

	_, err = u.Move(ctx, inbox, store.AllUIDs(), "Work")
	require.NoError(t, err)
	_, use = usage(t, qu)
	assert.Equal(t, store.QuotaUsage{Messages: 3, Storage: int64(2*len(a) + len(b))}, use, "a move changes nothing")

	work := mailboxID(t, u, "Work")
	_, err = u.Expunge(ctx, work, nil)
	require.NoError(t, err)
	_, use = usage(t, qu)
	assert.Equal(t, store.QuotaUsage{Messages: 2, Storage: int64(2 * len(a))}, use)

	require.NoError(t, u.DeleteMailbox(ctx, "Work"))
	_, use = usage(t, qu)
	assert.Equal(t, store.QuotaUsage{}, use)

	require.NoError(t, qa.SetQuota(ctx, "quincy", store.Quota{Storage: 1 << 20, Messages: 10}))
	q, _ = usage(t, qu)
	assert.Equal(t, store.Quota{Storage: 1 << 20, Messages: 10}, q)
	oq, _ := usage(t, other.(store.QuotaUser))
	assert.Equal(t, store.Quota{}, oq, "limits are per account")
	require.NoError(t, qa.SetQuota(ctx, "quincy", store.Quota{Messages: 5}))
	q, _ = usage(t, qu)
	assert.Equal(t, store.Quota{Messages: 5}, q, "SetQuota replaces every limit")
	require.NoError(t, qa.SetQuota(ctx, "quincy", store.Quota{}))
	q, _ = usage(t, qu)
	assert.Equal(t, store.Quota{}, q)

	assert.ErrorIs(t, qa.SetQuota(ctx, "nobody", store.Quota{Messages: 1}), store.ErrNoSuchUser)
}

// testQuotaEnforced checks that Append, AppendBatch and Copy fail with
// store.ErrOverQuota and store nothing when they would exceed a limit, at
// the exact boundary, that Move is never refused, and that removing the
// limit lifts the refusal.
func testQuotaEnforced(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "quentin")
	qa, qu := quotas(t, s, u)
	_, err := u.CreateMailbox(ctx, "Keep", 0)
	require.NoError(t, err)

	require.NoError(t, qa.SetQuota(ctx, "quentin", store.Quota{Messages: 3}))
	appendMsg(t, u, store.Inbox, "Subject: 1\r\n\r\n1\r\n")
	appendMsg(t, u, "Keep", "Subject: 2\r\n\r\n2\r\n")
	before := status(t, u, store.Inbox)
	// Two messages do not fit where one does: nothing of the copy is stored.
	inbox := mailboxID(t, u, store.Inbox)
	appendMsg(t, u, store.Inbox, "Subject: 3\r\n\r\n3\r\n")
	_, err = u.Append(ctx, "Keep", store.NewMessage{Body: strings.NewReader("Subject: 4\r\n\r\n4\r\n")})
	require.ErrorIs(t, err, store.ErrOverQuota)
	archive := status(t, u, "Keep")
	assert.Equal(t, uint32(1), archive.Messages)
	assert.Equal(t, uint32(2), archive.UIDNext, "a refused append allocates no UID")

	_, err = u.Copy(ctx, inbox, store.AllUIDs(), "Keep")
	require.ErrorIs(t, err, store.ErrOverQuota)
	assert.Equal(t, archive, status(t, u, "Keep"), "a refused copy stores nothing")

	res, err := u.Move(ctx, inbox, store.UIDSet{{Start: before.UIDNext, Stop: before.UIDNext}}, "Keep")
	require.NoError(t, err, "a move within the account is never over quota")
	assert.Len(t, res.DestUIDs, 1)
	_, use := usage(t, qu)
	assert.Equal(t, int64(3), use.Messages)

	if b, ok := u.(store.BatchAppender); ok {
		require.NoError(t, qa.SetQuota(ctx, "quentin", store.Quota{Messages: 5}))
		_, err = b.AppendBatch(ctx, store.Inbox, batchOf("over", 3))
		require.ErrorIs(t, err, store.ErrOverQuota)
		_, use = usage(t, qu)
		assert.Equal(t, int64(3), use.Messages, "a refused batch stores nothing")
		_, err = b.AppendBatch(ctx, store.Inbox, batchOf("fits", 2))
		require.NoError(t, err, "a batch that reaches the limit exactly fits")
		_, use = usage(t, qu)
		assert.Equal(t, int64(5), use.Messages)
	}

	// Storage: the limit is inclusive, in bytes.
	_, use = usage(t, qu)
	require.NoError(t, qa.SetQuota(ctx, "quentin", store.Quota{Storage: use.Storage + 20}))
	_, err = u.Append(ctx, store.Inbox, store.NewMessage{Body: strings.NewReader(strings.Repeat("x", 21))})
	require.ErrorIs(t, err, store.ErrOverQuota)
	appendMsg(t, u, store.Inbox, strings.Repeat("y", 20))
	_, err = u.Append(ctx, store.Inbox, store.NewMessage{Body: strings.NewReader("z")})
	require.ErrorIs(t, err, store.ErrOverQuota)

	// A limit below the usage is allowed; it only refuses additions, and
	// removals are never refused.
	require.NoError(t, qa.SetQuota(ctx, "quentin", store.Quota{Messages: 1}))
	_, err = u.StoreFlags(ctx, inbox, store.AllUIDs(), store.FlagChange{Op: store.FlagsAdd, Flags: []string{`\Deleted`}})
	require.NoError(t, err)
	_, err = u.Expunge(ctx, inbox, nil)
	require.NoError(t, err)

	require.NoError(t, qa.SetQuota(ctx, "quentin", store.Quota{}))
	appendMsg(t, u, store.Inbox, "Subject: free again\r\n\r\n")
}

// testQuotaConcurrent checks that the limit holds against concurrent
// appends to several mailboxes of one account: exactly as many succeed as
// the limit allows, the others fail with store.ErrOverQuota.
func testQuotaConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "quorra")
	qa, qu := quotas(t, s, u)
	for _, name := range []string{"A", "B", "C"} {
		_, err := u.CreateMailbox(ctx, name, 0)
		require.NoError(t, err)
	}
	const limit, workers, each = 7, 6, 3
	require.NoError(t, qa.SetQuota(ctx, "quorra", store.Quota{Messages: limit}))
	var ok, over atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			mbox := []string{store.Inbox, "A", "B", "C"}[w%4]
			for range each {
				_, err := u.Append(ctx, mbox, store.NewMessage{Body: strings.NewReader("Subject: race\r\n\r\n")})
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, store.ErrOverQuota):
					over.Add(1)
				default:
					t.Errorf("append: %v", err)
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(limit), ok.Load())
	assert.Equal(t, int64(workers*each-limit), over.Load())
	_, use := usage(t, qu)
	assert.Equal(t, int64(limit), use.Messages)
}

// testDeletedSize checks store.DeletedSizer: the sum of the sizes of the
// messages flagged \Deleted follows flag changes and expunges.
func testDeletedSize(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "delia")
	ds, ok := u.(store.DeletedSizer)
	if !ok {
		t.Skip("backend does not implement store.DeletedSizer")
	}
	size := func() int64 {
		t.Helper()
		n, err := ds.DeletedSize(ctx, store.Inbox)
		require.NoError(t, err)
		return n
	}
	assert.Zero(t, size())
	a, b, c := "Subject: a\r\n\r\nA\r\n", "Subject: bb\r\n\r\nBB\r\n", "Subject: ccc\r\n\r\nCCC\r\n"
	ra := appendMsg(t, u, store.Inbox, a, `\Deleted`)
	appendMsg(t, u, store.Inbox, b)
	appendMsg(t, u, store.Inbox, c, `\Deleted`, `\Seen`)
	assert.Equal(t, int64(len(a)+len(c)), size())

	inbox := mailboxID(t, u, store.Inbox)
	_, err := u.StoreFlags(ctx, inbox, store.UIDSet{{Start: ra.UID, Stop: ra.UID}}, store.FlagChange{Op: store.FlagsRemove, Flags: []string{`\Deleted`}})
	require.NoError(t, err)
	assert.Equal(t, int64(len(c)), size())
	_, err = u.Expunge(ctx, inbox, nil)
	require.NoError(t, err)
	assert.Zero(t, size())

	_, err = ds.DeletedSize(ctx, "Missing")
	assert.ErrorIs(t, err, store.ErrNoSuchMailbox)
}
