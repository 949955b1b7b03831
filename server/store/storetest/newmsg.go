package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/store"
)

// NewMessageLimit is the store.Options.MaxMessageSize a [SizedOpener] is
// called with by [RunNewMessageChecks]: above the inline limits of the
// stores, so that both a body read whole and a body streamed to its
// storage are refused for size.
const NewMessageLimit = 1 << 14

// SizedOpener opens a fresh, empty store whose MaxMessageSize is
// maxMessageSize; the store is closed by the suite.
type SizedOpener func(t *testing.T, maxMessageSize int64) store.Store

// newEntry is one way of storing a new message: it stores msg into the named
// mailbox of u and reports the error.
type newEntry struct {
	Name  string
	Store func(ctx context.Context, u store.User, mailbox string, msg store.NewMessage) error
}

// newEntries are the ways a store takes new messages: Append, a batch of one
// (store.BatchAppender) and Replace (store.Replacer, of the first message
// of INBOX). An entry a user does not implement fails with
// errors.ErrUnsupported.
var newEntries = []newEntry{
	{"Append", func(ctx context.Context, u store.User, mailbox string, msg store.NewMessage) error {
		_, err := u.Append(ctx, mailbox, msg)
		return err
	}},
	{"AppendBatch", func(ctx context.Context, u store.User, mailbox string, msg store.NewMessage) error {
		b, ok := u.(store.BatchAppender)
		if !ok {
			return errors.ErrUnsupported
		}
		_, err := b.AppendBatch(ctx, mailbox, []store.NewMessage{msg})
		return err
	}},
	{"Replace", func(ctx context.Context, u store.User, mailbox string, msg store.NewMessage) error {
		r, ok := u.(store.Replacer)
		if !ok {
			return errors.ErrUnsupported
		}
		inbox, err := u.Mailbox(ctx, store.Inbox)
		if err != nil {
			return err
		}
		v, err := u.View(ctx, inbox.ID)
		if err != nil {
			return err
		}
		if len(v.UIDs) == 0 {
			return store.ErrNoSuchMessage
		}
		_, err = r.Replace(ctx, inbox.ID, v.UIDs[0], mailbox, msg)
		return err
	}},
}

// RunNewMessageChecks checks that every way into a mailbox (Append, a
// batch of one, Replace) refuses the same new messages with the same error
// and stores nothing then: bad flags, an invalid keyword, a missing or
// \Noselect target, a body over the size limit (small enough to be read
// whole, and large enough to be streamed) and a message over the storage
// quota.
func RunNewMessageChecks(t *testing.T, open SizedOpener) {
	for _, e := range newEntries {
		t.Run(e.Name, func(t *testing.T) {
			s := open(t, NewMessageLimit)
			t.Cleanup(func() { _ = s.Close() })
			checkNewMessageRefusals(t, t, s, e)
		})
	}
}

// checkNewMessageRefusals is one entry point's part of
// [RunNewMessageChecks]: setup failures stop t, refusals that differ from
// the expected ones are reported to report (so that a test can run it
// against a deliberately broken store and see it fail). s must have been
// opened with [NewMessageLimit].
func checkNewMessageRefusals(t *testing.T, report assert.TestingT, s store.Store, e newEntry) {
	ctx := context.Background()
	u := newUser(t, s, "nina")
	appendMsg(t, u, store.Inbox, "Subject: old\r\n\r\nold\r\n")
	_, err := u.CreateMailbox(ctx, "Holder/Child", 0)
	require.NoError(t, err)
	require.NoError(t, u.DeleteMailbox(ctx, "Holder")) // a \Noselect placeholder
	if err := e.Store(ctx, u, store.Inbox, store.NewMessage{Body: strings.NewReader("Subject: fits\r\n\r\n")}); errors.Is(err, errors.ErrUnsupported) {
		t.Skipf("the store does not implement %s", e.Name)
	} else {
		require.NoError(t, err, "a good message is stored")
	}

	body := func(n int) string {
		return "Subject: x\r\n\r\n" + strings.Repeat("y", n-len("Subject: x\r\n\r\n"))
	}
	cases := []struct {
		name    string
		mailbox string
		msg     store.NewMessage
		want    error
		quota   bool
	}{
		{"recent flag", store.Inbox, store.NewMessage{Flags: []string{`\Recent`}}, store.ErrInvalidFlag, false},
		{"unknown system flag", store.Inbox, store.NewMessage{Flags: []string{`\Bogus`}}, store.ErrInvalidFlag, false},
		{"invalid keyword", store.Inbox, store.NewMessage{Flags: []string{"a(b"}}, store.ErrInvalidFlag, false},
		{"missing mailbox", "Nowhere", store.NewMessage{}, store.ErrNoSuchMailbox, false},
		{"noselect mailbox", "Holder", store.NewMessage{}, store.ErrNoselect, false},
		{"too big, read whole", store.Inbox, store.NewMessage{Body: strings.NewReader(body(NewMessageLimit + 1))}, store.ErrTooBig, false},
		{"too big, streamed", store.Inbox, store.NewMessage{Body: strings.NewReader(body(4 * NewMessageLimit))}, store.ErrTooBig, false},
		{"over quota", store.Inbox, store.NewMessage{Body: strings.NewReader(body(2000))}, store.ErrOverQuota, true},
	}
	qa, _ := s.(store.QuotaAdmin)
	for _, tc := range cases {
		if tc.quota {
			if qa == nil {
				continue
			}
			var used int64
			for _, m := range fetchAll(t, u, mailboxID(t, u, store.Inbox), store.FetchOptions{}) {
				used += m.Size
			}
			require.NoError(t, qa.SetQuota(ctx, "nina", store.Quota{Storage: used + 100}))
		}
		if tc.msg.Body == nil {
			tc.msg.Body = strings.NewReader("Subject: refused\r\n\r\n")
		}
		before := snapshot(t, u)
		err := e.Store(ctx, u, tc.mailbox, tc.msg)
		assert.ErrorIs(report, err, tc.want, "%s: %s", e.Name, tc.name)
		assert.Equal(report, before, snapshot(t, u), "%s: %s stored something", e.Name, tc.name)
		if tc.quota {
			require.NoError(t, qa.SetQuota(ctx, "nina", store.Quota{}))
		}
	}
}

// snapshot describes every selectable mailbox of u: its status and UIDs.
func snapshot(t *testing.T, u store.User) []string {
	t.Helper()
	ctx := context.Background()
	list, err := u.ListMailboxes(ctx)
	require.NoError(t, err)
	var out []string
	for _, mi := range list {
		if mi.Attr&store.AttrNoselect != 0 {
			continue
		}
		v, err := u.View(ctx, mi.ID)
		require.NoError(t, err)
		out = append(out, fmt.Sprintf("%s %+v %v", mi.Name, v.MailboxStatus, v.UIDs))
	}
	return out
}
