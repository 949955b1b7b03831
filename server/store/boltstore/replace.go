package boltstore

import (
	"context"

	bolt "go.etcd.io/bbolt"

	"github.com/imapfsm/imapfsm/server/store"
)

var _ store.Replacer = (*user)(nil)

// Replace implements store.Replacer: the new message is checked and its
// body staged as Append's (see stage.go), then one transaction inserts the
// new message and drops the old one.
func (u *user) Replace(ctx context.Context, mailbox store.MailboxID, uid uint32, dest string, msg store.NewMessage) (store.AppendResult, error) {
	var res store.AppendResult
	name, msgs, err := u.beginNew(ctx, dest, []store.NewMessage{msg}, false)
	if err != nil {
		return res, err
	}
	defer u.s.leave()
	committed := false
	defer func() { u.settle(msgs, committed) }()
	dirs, err := u.stage(&msgs[0], msg)
	if err != nil {
		return res, err
	}

	var freed []uint64
	var srcMod uint64
	err = u.write(ctx, dirs, func(tx *bolt.Tx, acct *bolt.Bucket) error {
		freed, srcMod = nil, 0
		src, sdata, err := selectable(tx, acct, mailbox)
		if err != nil {
			return err
		}
		var old msgRec
		v := sdata.Bucket(bucketMsg).Get(u32key(uid))
		if v == nil {
			return store.ErrNoSuchMessage
		}
		if err := decodeMsg(v, &old); err != nil {
			return err
		}
		dst, ddata, err := appendTarget(tx, acct, name)
		if err != nil {
			return err
		}
		if dst.ID == src.ID {
			dst = src // one record, changed by both steps
		}
		if err := checkQuota(acct, 0, msgs[0].size-old.Size); err != nil {
			return err
		}

		uids, err := u.insertNew(tx, ddata, dst, msgs)
		if err != nil {
			return err
		}
		nuid := uids[0]
		res = store.AppendResult{Mailbox: store.MailboxID(dst.ID), UIDValidity: dst.UIDValidity, UID: nuid, ModSeq: dst.ModSeq}

		src.ModSeq++
		srcMod = src.ModSeq
		if err := drop(sdata, src, uid, &old); err != nil {
			return err
		}
		f, err := unref(tx, old.Content)
		if err != nil {
			return err
		}
		if f {
			freed = append(freed, old.Content)
		}
		if err := uidxRemove(sdata.Bucket(bucketUIDIdx), []uint32{uid}); err != nil {
			return err
		}
		if err := u.appendLog(sdata, src, store.ChangeExpunge, store.UIDSetOf(uid)); err != nil {
			return err
		}
		if dst != src {
			if err := putMailbox(acct, dst); err != nil {
				return err
			}
		}
		return putMailbox(acct, src)
	})
	if err != nil {
		return store.AppendResult{}, err
	}
	committed = true
	u.s.blobs.remove(freed)
	notes := []store.Notification{{User: u.name, Mailbox: mailbox, HighestModSeq: srcMod}}
	if res.Mailbox != mailbox {
		notes = append(notes, store.Notification{User: u.name, Mailbox: res.Mailbox, HighestModSeq: res.ModSeq})
	}
	u.publish(ctx, notes)
	return res, nil
}
