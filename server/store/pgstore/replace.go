package pgstore

import (
	"bytes"
	"context"
	"errors"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/internal/backend"
)

var _ store.Replacer = (*user)(nil)

// Replace implements store.Replacer. The body is buffered and analysed
// first; then one transaction inserts the content row, locks the account
// row (when limited) and both mailbox rows in ID order, as COPY and MOVE
// do, deletes the old message, inserts the new one and logs both changes.
func (u *user) Replace(ctx context.Context, mailbox store.MailboxID, uid uint32, dest string, msg store.NewMessage) (store.AppendResult, error) {
	var res store.AppendResult
	name, checked, err := u.beginNew(ctx, dest, []store.NewMessage{msg}, false)
	if err != nil {
		return res, err
	}
	defer u.s.leave()
	nm := checked[0]
	body, err := u.s.readBody(msg.Body)
	if err != nil {
		return res, err
	}
	structure := backend.Analyze(u.s.opts.Analyzer, bytes.NewReader(body))
	size := int64(len(body))
	_, err = u.s.write(ctx, func(t *txn) error {
		res = store.AppendResult{}
		var content int64
		if err := t.QueryRow(ctx, `INSERT INTO contents (body) VALUES ($1) RETURNING id`, body).Scan(&content); err != nil {
			return err
		}
		q, err := u.lockQuota(ctx, t)
		if err != nil {
			return err
		}
		src, dst, err := u.lockSourceAndTarget(ctx, t, mailbox, name)
		if err != nil {
			return err
		}
		if dst.Name != name {
			return store.ErrNoSuchMailbox // renamed meanwhile
		}

		var oldSize, oldContent int64
		var oldSys int16
		err = t.QueryRow(ctx, `DELETE FROM messages WHERE mailbox_id = $1 AND uid = $2
			RETURNING size, sys_flags, content_id`, src.ID, int64(uid)).Scan(&oldSize, &oldSys, &oldContent)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNoSuchMessage
		}
		if err != nil {
			return err
		}
		if err := u.checkQuota(ctx, t, q, 0, size-oldSize); err != nil {
			return err
		}

		if dst.UIDNext >= math.MaxUint32 {
			return store.ErrLimit // UID space exhausted; UIDs are never reused
		}
		flags := nm.Flags
		if err := dst.addKeywords(flags.Keywords, u.s.opts.MaxKeywords); err != nil {
			return err
		}
		nuid := dst.UIDNext
		dst.UIDNext++
		dst.ModSeq++
		dst.account(flags, size, 1)
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO messages (mailbox_id, uid, content_id, size, internal_date, modseq, sys_flags, keywords, structure, save_date)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			dst.ID, nuid, content, size, nm.Date.UnixNano(), dst.ModSeq, int16(flags.System), encodeKeywords(flags.Keywords), structure,
			time.Now().UnixNano())
		queueRunsRemove(b, src.ID, store.UIDSetOf(uid))
		queueRunsAdd(b, dst.ID, nuid, nuid)
		u.queueLog(b, dst, store.ChangeAppend, store.UIDSetOf(uint32(nuid)))
		res = store.AppendResult{Mailbox: store.MailboxID(dst.ID), UIDValidity: uint32(dst.UIDValidity), UID: uint32(nuid), ModSeq: uint64(dst.ModSeq)}

		src.ModSeq++
		src.account(store.FlagSet{System: store.SystemFlag(oldSys)}, oldSize, -1)
		u.queueLog(b, src, store.ChangeExpunge, store.UIDSetOf(uid))
		queueSave(b, src)
		if dst != src {
			queueSave(b, dst)
			t.notify(store.Notification{User: u.name, Mailbox: res.Mailbox, HighestModSeq: res.ModSeq})
		}
		t.notify(store.Notification{User: u.name, Mailbox: mailbox, HighestModSeq: uint64(src.ModSeq)})
		if err := t.sendBatch(ctx, b); err != nil {
			return err
		}
		return deleteOrphans(ctx, t, []int64{oldContent})
	})
	if err != nil {
		return store.AppendResult{}, err
	}
	return res, nil
}
