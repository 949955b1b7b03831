package boltstore

import (
	"context"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/internal/backend"
)

var _ store.Replacer = (*user)(nil)

// Replace implements store.Replacer: the new body is written and synced
// like Append's, then one transaction inserts the new message and drops
// the old one.
func (u *user) Replace(ctx context.Context, mailbox store.MailboxID, uid uint32, dest string, msg store.NewMessage) (store.AppendResult, error) {
	var res store.AppendResult
	name, err := u.normalize(dest)
	if err != nil {
		return res, err
	}
	nm, err := backend.CheckNewMessage(msg, time.Now())
	if err != nil {
		return res, err
	}
	if err := u.s.enter(ctx); err != nil {
		return res, err
	}
	defer u.s.leave()
	if err := u.checkAppendable(name); err != nil {
		return res, err
	}

	content := u.s.blobs.alloc()
	defer u.s.blobs.release(content)
	size, dirs, err := u.s.blobs.write(content, msg.Body, u.s.opts.MaxMessageSize)
	if err != nil {
		return res, err
	}
	committed := false
	defer func() {
		if !committed {
			_ = os.Remove(u.s.blobs.path(content))
		}
	}()
	structure := u.analyze(content)

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
		if err := checkQuota(acct, 0, size-old.Size); err != nil {
			return err
		}

		m := &msgRec{Content: content, Size: size, Date: nm.Date.UnixNano(), Flags: nm.Flags}
		dst.ModSeq++
		m.ModSeq = dst.ModSeq
		nuid, err := u.insert(ddata, dst, m, structure)
		if err != nil {
			return err
		}
		if err := uidxAppend(ddata.Bucket(bucketUIDIdx), []uint32{nuid}); err != nil {
			return err
		}
		if err := tx.Bucket(bucketBlobs).Put(u64key(content), encodeRefs(1)); err != nil {
			return err
		}
		if err := u.appendLog(ddata, dst, store.ChangeAppend, store.UIDSetOf(nuid)); err != nil {
			return err
		}
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
