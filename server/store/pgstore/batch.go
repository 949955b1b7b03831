package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/internal/backend"
)

var _ store.BatchAppender = (*user)(nil)

// AppendBatch implements store.BatchAppender. The bodies are read and
// analysed first, outside any transaction, in slice order; then one
// transaction inserts every content row, locks the mailbox row with the
// UPDATE that allocates the batch's consecutive UIDs and its one MODSEQ,
// and inserts every message, the change-log entry and the notification.
// Nothing of the batch is visible before that transaction commits, and a
// failure rolls all of it back, content rows included.
func (u *user) AppendBatch(ctx context.Context, mailbox string, msgs []store.NewMessage) ([]store.AppendResult, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	name, checked, err := u.beginNew(ctx, mailbox, msgs, true)
	if err != nil {
		return nil, err
	}
	defer u.s.leave()
	n := len(msgs)
	bodies := make([][]byte, n)
	structures := make([][]byte, n)
	var total, unseen, deleted int64
	for i, msg := range msgs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if bodies[i], err = u.s.readBody(msg.Body); err != nil {
			return nil, batchErr(i, err)
		}
		structures[i] = backend.Analyze(u.s.opts.Analyzer, bytes.NewReader(bodies[i]))
		total += int64(len(bodies[i]))
		if !checked[i].Flags.Has(store.FlagSeen) {
			unseen++
		}
		if checked[i].Flags.Has(store.FlagDeleted) {
			deleted++
		}
	}

	var results []store.AppendResult
	_, err = u.s.write(ctx, func(t *txn) error {
		results = nil
		ins := &pgx.Batch{}
		for _, body := range bodies {
			ins.Queue(`INSERT INTO contents (body) VALUES ($1) RETURNING id`, body)
		}
		contents := make([]int64, n)
		br := t.SendBatch(ctx, ins)
		for i := range contents {
			if err := br.QueryRow().Scan(&contents[i]); err != nil {
				_ = br.Close()
				return err
			}
		}
		if err := br.Close(); err != nil {
			return err
		}
		// The account row (when limited) before the mailbox row, as
		// Append and the hierarchy changes lock them.
		q, err := u.lockQuota(ctx, t)
		if err != nil {
			return err
		}
		if err := u.checkQuota(ctx, t, q, int64(n), total); err != nil {
			return err
		}
		m, err := scanMailbox(t.QueryRow(ctx, `UPDATE mailboxes SET uid_next = uid_next + $8,
				highest_modseq = highest_modseq + 1, messages = messages + $8, size = size + $3,
				unseen = unseen + $4, deleted = deleted + $5
			WHERE user_id = $1 AND name = $2 AND attr & $6 = 0 AND uid_next + $8 <= $7
			RETURNING `+mailboxCols, u.id, name, total, unseen, deleted, int32(store.AttrNoselect), int64(math.MaxUint32), int64(n)))
		if errors.Is(err, pgx.ErrNoRows) {
			m, err := u.mailboxByName(ctx, t, name, false)
			switch {
			case err != nil:
				return err
			case store.MailboxAttr(m.Attr)&store.AttrNoselect != 0:
				return store.ErrNoselect
			}
			return store.ErrLimit // UID space exhausted; UIDs are never reused
		}
		if err != nil {
			return err
		}
		first := m.UIDNext - int64(n)
		saved := time.Now().UnixNano()
		b := &pgx.Batch{}
		results = make([]store.AppendResult, n)
		for i := range n {
			uid := first + int64(i)
			flags := checked[i].Flags
			b.Queue(`INSERT INTO messages (mailbox_id, uid, content_id, size, internal_date, modseq, sys_flags, keywords, structure, save_date)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
				m.ID, uid, contents[i], int64(len(bodies[i])), checked[i].Date.UnixNano(), m.ModSeq,
				int16(flags.System), encodeKeywords(flags.Keywords), structures[i], saved)
			if err := m.addKeywords(flags.Keywords, u.s.opts.MaxKeywords); err != nil {
				return batchErr(i, err)
			}
			results[i] = store.AppendResult{Mailbox: store.MailboxID(m.ID), UIDValidity: uint32(m.UIDValidity), UID: uint32(uid), ModSeq: uint64(m.ModSeq)}
		}
		queueRunsAdd(b, m.ID, first, m.UIDNext-1)
		u.queueLog(b, m, store.ChangeAppend, store.UIDSet{{Start: uint32(first), Stop: uint32(m.UIDNext - 1)}})
		b.Queue(`UPDATE mailboxes SET keywords = $2, log_count = $3 WHERE id = $1`, m.ID, m.Keywords, m.LogCount)
		t.notify(store.Notification{User: u.name, Mailbox: store.MailboxID(m.ID), HighestModSeq: uint64(m.ModSeq)})
		return t.sendBatch(ctx, b)
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// batchErr names the message of a batch an error belongs to; errors.Is
// still finds the store error inside.
func batchErr(i int, err error) error {
	return fmt.Errorf("message %d of batch: %w", i+1, err)
}
