package pgstore

import (
	"context"
	"time"

	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/internal/backend"
)

// beginNew runs the checks every way of storing new messages (Append,
// AppendBatch, Replace) starts with, before any body is read: the target
// name is normalised, each message's flags and date are checked (wrapped
// with the message's position when batch is set), the store is entered and
// the target must exist and be selectable. On success the caller must call
// u.s.leave when done. The transaction that stores the messages checks the
// target again, since it may go in between.
func (u *user) beginNew(ctx context.Context, mailbox string, msgs []store.NewMessage, batch bool) (string, []backend.NewMessage, error) {
	name, err := u.normalize(mailbox)
	if err != nil {
		return "", nil, err
	}
	checked := make([]backend.NewMessage, len(msgs))
	now := time.Now()
	for i, msg := range msgs {
		if checked[i], err = backend.CheckNewMessage(msg, now); err != nil {
			if batch {
				err = batchErr(i, err)
			}
			return "", nil, err
		}
	}
	if err := u.s.enter(ctx); err != nil {
		return "", nil, err
	}
	m, err := u.mailboxByName(ctx, u.s.pool, name, false)
	if err == nil && store.MailboxAttr(m.Attr)&store.AttrNoselect != 0 {
		err = store.ErrNoselect
	}
	if err != nil {
		u.s.leave()
		return "", nil, err
	}
	return name, checked, nil
}
