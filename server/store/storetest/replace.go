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

// testReplace checks store.Replacer: the new message and the expunge of
// the old one commit together, in the same mailbox or another; a missing
// message or target stores nothing; quota counts the new message instead
// of the old one.
func testReplace(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "rita")
	r, ok := u.(store.Replacer)
	if !ok {
		t.Skip("backend does not implement store.Replacer")
	}
	inbox := mailboxID(t, u, store.Inbox)
	drafts := mailboxID(t, u, "Drafts")
	for _, subject := range []string{"one", "two", "three"} {
		appendMsg(t, u, store.Inbox, "Subject: "+subject+"\r\n\r\n", `\Deleted`)
	}
	ch, cancel := s.Notifier().Subscribe("rita", inbox)
	defer cancel()
	before := status(t, u, store.Inbox)
	newBody := "Subject: two, again\r\n\r\nlonger\r\n"

	res, err := r.Replace(ctx, inbox, 2, store.Inbox, store.NewMessage{Flags: []string{`\Seen`, "$Draft"}, Body: strings.NewReader(newBody)})
	require.NoError(t, err)
	assert.Equal(t, store.AppendResult{Mailbox: inbox, UIDValidity: before.UIDValidity, UID: 4, ModSeq: before.HighestModSeq + 1}, res)
	v, err := u.View(ctx, inbox)
	require.NoError(t, err)
	assert.Equal(t, []uint32{1, 3, 4}, v.UIDs, "only the replaced message is expunged, not the other \\Deleted ones")
	assert.Equal(t, before.HighestModSeq+2, v.HighestModSeq)
	assert.Equal(t, uint32(2), v.Deleted)
	assert.Equal(t, uint32(2), v.Unseen)
	var changes []store.Change
	require.NoError(t, u.ChangesSince(ctx, inbox, before.HighestModSeq, func(c store.Change) error {
		changes = append(changes, c)
		return nil
	}))
	require.Len(t, changes, 2)
	assert.Equal(t, store.Change{ModSeq: before.HighestModSeq + 1, Kind: store.ChangeAppend, UIDs: store.UIDSetOf(4)}, changes[0])
	assert.Equal(t, store.Change{ModSeq: before.HighestModSeq + 2, Kind: store.ChangeExpunge, UIDs: store.UIDSetOf(2)}, changes[1])
	got := fetchAll(t, u, inbox, store.FetchOptions{})
	assert.Equal(t, []string{`\Seen`, "$Draft"}, got[2].Flags)
	assert.Equal(t, newBody, readBody(t, u, inbox, 4))
	waitNotification(t, ch, before.HighestModSeq+2)

	// Into another mailbox: both get their change.
	dch, dcancel := s.Notifier().Subscribe("rita", drafts)
	defer dcancel()
	res, err = r.Replace(ctx, inbox, 1, "Drafts", store.NewMessage{Body: strings.NewReader(newBody)})
	require.NoError(t, err)
	assert.Equal(t, drafts, res.Mailbox)
	assert.Equal(t, uint32(1), res.UID)
	v, err = u.View(ctx, inbox)
	require.NoError(t, err)
	assert.Equal(t, []uint32{3, 4}, v.UIDs)
	assert.Equal(t, uint32(1), status(t, u, "Drafts").Messages)
	waitNotification(t, ch, before.HighestModSeq+3)
	waitNotification(t, dch, res.ModSeq)

	// Nothing is stored when the message or the target is missing.
	drafted := status(t, u, "Drafts")
	inboxNow := status(t, u, store.Inbox)
	_, err = r.Replace(ctx, inbox, 2, "Drafts", store.NewMessage{Body: strings.NewReader(newBody)})
	require.ErrorIs(t, err, store.ErrNoSuchMessage)
	_, err = r.Replace(ctx, inbox, 3, "Nowhere", store.NewMessage{Body: strings.NewReader(newBody)})
	require.ErrorIs(t, err, store.ErrNoSuchMailbox)
	_, err = r.Replace(ctx, inbox, 3, "Drafts", store.NewMessage{Flags: []string{`\Recent`}, Body: strings.NewReader(newBody)})
	require.Error(t, err)
	assert.Equal(t, drafted, status(t, u, "Drafts"))
	assert.Equal(t, inboxNow, status(t, u, store.Inbox))

	// Quota: at the message limit a replacement still fits, an append
	// does not.
	qa, ok := s.(store.QuotaAdmin)
	if !ok {
		return
	}
	require.NoError(t, qa.SetQuota(ctx, "rita", store.Quota{Messages: 3}))
	_, err = u.Append(ctx, store.Inbox, store.NewMessage{Body: strings.NewReader(newBody)})
	require.ErrorIs(t, err, store.ErrOverQuota)
	_, err = r.Replace(ctx, inbox, 3, store.Inbox, store.NewMessage{Body: strings.NewReader(newBody)})
	require.NoError(t, err)
	require.NoError(t, qa.SetQuota(ctx, "rita", store.Quota{Storage: 1}))
	_, err = r.Replace(ctx, inbox, 4, store.Inbox, store.NewMessage{Body: strings.NewReader(newBody + "more")})
	require.ErrorIs(t, err, store.ErrOverQuota, "a larger replacement over the storage limit")
	assert.Len(t, fetchAll(t, u, inbox, store.FetchOptions{}), 2)
}

// waitNotification waits for a notification reaching modseq on ch.
func waitNotification(t *testing.T, ch <-chan store.Notification, modseq uint64) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case n := <-ch:
			if n.HighestModSeq >= modseq {
				return
			}
		case <-deadline:
			t.Fatalf("no notification up to MODSEQ %d", modseq)
		}
	}
}
