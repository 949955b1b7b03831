package storetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/store"
)

// batcher returns u as a store.BatchAppender, skipping the test when the
// backend does not implement the optional interface.
func batcher(t *testing.T, u store.User) store.BatchAppender {
	t.Helper()
	b, ok := u.(store.BatchAppender)
	if !ok {
		t.Skip("backend does not implement store.BatchAppender")
	}
	return b
}

func batchOf(prefix string, n int, flags ...string) []store.NewMessage {
	msgs := make([]store.NewMessage, n)
	for i := range msgs {
		msgs[i] = store.NewMessage{Flags: flags, Body: strings.NewReader(fmt.Sprintf("Subject: %s %d\r\n\r\nbody %d\r\n", prefix, i, i))}
	}
	return msgs
}

// testAppendBatch checks store.BatchAppender: order, consecutive UIDs, one
// MODSEQ, change-log entry and notification per batch, the per-message
// metadata, and that a failing batch stores nothing.
func testAppendBatch(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "bart")
	b := batcher(t, u)
	id := mailboxID(t, u, store.Inbox)
	ch, cancel := s.Notifier().Subscribe("bart", id)
	defer cancel()

	res, err := b.AppendBatch(ctx, store.Inbox, nil)
	require.NoError(t, err)
	assert.Empty(t, res)

	first := appendMsg(t, u, store.Inbox, "Subject: single\r\n\r\n")
	<-ch
	date := time.Date(2024, 3, 7, 12, 0, 0, 0, time.UTC)
	msgs := []store.NewMessage{
		{Flags: []string{`\Seen`}, InternalDate: date, Body: strings.NewReader("Subject: a\r\n\r\nA\r\n")},
		{Flags: []string{"$Label1", `\Flagged`}, Body: strings.NewReader("Subject: b\r\n\r\nBB\r\n")},
		{InternalDate: date.Add(time.Hour), Body: strings.NewReader("Subject: c\r\n\r\nCCC\r\n")},
	}
	before := time.Now().Add(-time.Second)
	res, err = b.AppendBatch(ctx, store.Inbox, msgs)
	require.NoError(t, err)
	require.Len(t, res, 3)
	for i, r := range res {
		assert.Equal(t, id, r.Mailbox)
		assert.Equal(t, first.UIDValidity, r.UIDValidity)
		assert.Equal(t, first.UID+1+uint32(i), r.UID, "UIDs ascend in slice order, consecutively")
		assert.Equal(t, first.ModSeq+1, r.ModSeq, "one MODSEQ for the whole batch")
	}
	select {
	case n := <-ch:
		assert.Equal(t, store.Notification{User: "bart", Mailbox: id, HighestModSeq: first.ModSeq + 1}, n)
	case <-time.After(5 * time.Second):
		t.Fatal("no notification")
	}
	select {
	case n := <-ch:
		t.Fatalf("second notification for one batch: %v", n)
	case <-time.After(50 * time.Millisecond):
	}

	got := fetchAll(t, u, id, store.FetchOptions{Structure: true})
	require.Len(t, got, 4)
	bodies := []string{"Subject: a\r\n\r\nA\r\n", "Subject: b\r\n\r\nBB\r\n", "Subject: c\r\n\r\nCCC\r\n"}
	for i, m := range got[1:] {
		assert.Equal(t, res[i].UID, m.UID)
		assert.Equal(t, int64(len(bodies[i])), m.Size)
		assert.Equal(t, bodies[i], readBody(t, u, id, m.UID))
		want, _ := Analyzer(strings.NewReader(bodies[i]))
		assert.Equal(t, want, m.Structure)
		assert.Equal(t, res[i].ModSeq, m.ModSeq)
	}
	assert.Equal(t, []string{`\Seen`}, got[1].Flags)
	assert.Equal(t, []string{`\Flagged`, "$Label1"}, got[2].Flags)
	assert.Empty(t, got[3].Flags)
	assert.True(t, got[1].InternalDate.Equal(date))
	assert.True(t, got[2].InternalDate.After(before), "a zero date defaults to now")
	assert.True(t, got[3].InternalDate.Equal(date.Add(time.Hour)))

	st := status(t, u, store.Inbox)
	assert.Equal(t, uint32(4), st.Messages)
	assert.Equal(t, uint32(3), st.Unseen)
	assert.Equal(t, res[2].UID+1, st.UIDNext)
	assert.Equal(t, first.ModSeq+1, st.HighestModSeq)

	var changes []store.Change
	require.NoError(t, u.ChangesSince(ctx, id, first.ModSeq, func(c store.Change) error {
		changes = append(changes, c)
		return nil
	}))
	require.Len(t, changes, 1, "one change-log entry per batch")
	assert.Equal(t, store.ChangeAppend, changes[0].Kind)
	assert.Equal(t, store.UIDSet{{Start: res[0].UID, Stop: res[2].UID}}, changes[0].UIDs.Normalize())

	// Failing batches store nothing at all.
	bad := batchOf("bad", 5)
	bad[3].Flags = []string{`\Recent`}
	_, err = b.AppendBatch(ctx, store.Inbox, bad)
	require.Error(t, err)
	bad = batchOf("bad", 5)
	bad[4].Body = nil
	_, err = b.AppendBatch(ctx, store.Inbox, bad)
	require.Error(t, err)
	bad = batchOf("bad", 3)
	bad[2].Body = io.MultiReader(strings.NewReader("Subject: cut\r\n"), iotest.ErrReader(errors.New("connection lost")))
	_, err = b.AppendBatch(ctx, store.Inbox, bad)
	require.Error(t, err, "a body that fails to read fails the batch")
	_, err = b.AppendBatch(ctx, "Nonexistent", batchOf("x", 2))
	require.ErrorIs(t, err, store.ErrNoSuchMailbox)
	_, err = u.CreateMailbox(ctx, "Parent/Child", 0)
	require.NoError(t, err)
	require.NoError(t, u.DeleteMailbox(ctx, "Parent"))
	_, err = b.AppendBatch(ctx, "Parent", batchOf("x", 2))
	require.ErrorIs(t, err, store.ErrNoselect)
	assert.Equal(t, st, status(t, u, store.Inbox))
	assert.Len(t, fetchAll(t, u, id, store.FetchOptions{}), 4)

	// Other mailboxes by name, INBOX case-insensitively.
	res, err = b.AppendBatch(ctx, "inbox", batchOf("more", 2))
	require.NoError(t, err)
	assert.Equal(t, st.UIDNext, res[0].UID)
	res, err = b.AppendBatch(ctx, "Trash", batchOf("trash", 2, `\Deleted`))
	require.NoError(t, err)
	assert.Len(t, res, 2)
	assert.Equal(t, uint32(2), status(t, u, "Trash").Deleted)
}

// testAppendBatchConcurrent runs batches and single appends concurrently:
// every batch keeps consecutive UIDs in slice order and nothing is lost.
func testAppendBatchConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "carl")
	b := batcher(t, u)
	id := mailboxID(t, u, store.Inbox)
	const workers, rounds, size = 4, 5, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				if w%2 == 1 {
					_, err := u.Append(ctx, store.Inbox, store.NewMessage{Body: strings.NewReader("Subject: single\r\n\r\n")})
					errs <- err
					continue
				}
				res, err := b.AppendBatch(ctx, store.Inbox, batchOf(fmt.Sprintf("w%d r%d", w, r), size))
				if err == nil {
					for i := range res {
						if res[i].UID != res[0].UID+uint32(i) || res[i].ModSeq != res[0].ModSeq {
							err = fmt.Errorf("batch results not consecutive: %+v", res)
							break
						}
					}
				}
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	st := status(t, u, store.Inbox)
	assert.Equal(t, uint32(workers/2*rounds*size+workers/2*rounds), st.Messages)
	v, err := u.View(ctx, id)
	require.NoError(t, err)
	assert.Len(t, v.UIDs, int(st.Messages))
}
