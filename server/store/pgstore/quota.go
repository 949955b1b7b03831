package pgstore

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/imapfsm/imapfsm/server/store"
)

var (
	_ store.QuotaUser    = (*user)(nil)
	_ store.QuotaAdmin   = (*Store)(nil)
	_ store.DeletedSizer = (*user)(nil)
)

// quotaUsageSQL sums the counters of the account's mailboxes.
const quotaUsageSQL = `SELECT coalesce(sum(messages), 0)::bigint, coalesce(sum(size), 0)::bigint
	FROM mailboxes WHERE user_id = $1`

// lockQuota returns the account's limits. When it has any, the account row
// is locked (FOR NO KEY UPDATE) until the end of t, so that the writers
// adding messages to one limited account on any node take turns and each
// one's usage sum (checkQuota) sees the others' commits. Accounts without
// limits take no lock. Callers lock the account row before any mailbox row,
// in the order hierarchy changes use.
func (u *user) lockQuota(ctx context.Context, t *txn) (store.Quota, error) {
	var q store.Quota
	err := t.QueryRow(ctx, `SELECT quota_storage, quota_messages FROM users WHERE id = $1`, u.id).Scan(&q.Storage, &q.Messages)
	if errors.Is(err, pgx.ErrNoRows) {
		return q, store.ErrNoSuchUser
	}
	if err != nil || q.Unlimited() {
		return q, err
	}
	err = t.QueryRow(ctx, `SELECT quota_storage, quota_messages FROM users WHERE id = $1 FOR NO KEY UPDATE`, u.id).Scan(&q.Storage, &q.Messages)
	if errors.Is(err, pgx.ErrNoRows) {
		return q, store.ErrNoSuchUser
	}
	return q, err
}

// checkQuota fails with store.ErrOverQuota when adding messages messages of
// bytes bytes would exceed q. It must run after lockQuota in the same
// transaction.
func (u *user) checkQuota(ctx context.Context, t *txn, q store.Quota, messages, bytes int64) error {
	if q.Unlimited() {
		return nil
	}
	var use store.QuotaUsage
	if err := t.QueryRow(ctx, quotaUsageSQL, u.id).Scan(&use.Messages, &use.Storage); err != nil {
		return err
	}
	if !q.Allows(use, messages, bytes) {
		return store.ErrOverQuota
	}
	return nil
}

// Quota implements store.QuotaUser. Limits and usage come from one
// statement, hence one snapshot.
func (u *user) Quota(ctx context.Context) (store.Quota, store.QuotaUsage, error) {
	var q store.Quota
	var use store.QuotaUsage
	if err := u.s.enter(ctx); err != nil {
		return q, use, err
	}
	defer u.s.leave()
	err := u.s.pool.QueryRow(ctx, `SELECT u.quota_storage, u.quota_messages,
			coalesce(sum(m.messages), 0)::bigint, coalesce(sum(m.size), 0)::bigint
		FROM users u LEFT JOIN mailboxes m ON m.user_id = u.id
		WHERE u.id = $1 GROUP BY u.id`, u.id).Scan(&q.Storage, &q.Messages, &use.Messages, &use.Storage)
	if errors.Is(err, pgx.ErrNoRows) {
		return q, use, store.ErrNoSuchUser
	}
	return q, use, err
}

// SetQuota implements store.QuotaAdmin.
func (s *Store) SetQuota(ctx context.Context, name string, q store.Quota) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.leave()
	tag, err := s.pool.Exec(ctx, `UPDATE users SET quota_storage = $2, quota_messages = $3 WHERE name = $1`,
		name, max(q.Storage, 0), max(q.Messages, 0))
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNoSuchUser
	}
	return nil
}

// DeletedSize implements store.DeletedSizer with the partial index of
// \Deleted messages.
func (u *user) DeletedSize(ctx context.Context, name string) (int64, error) {
	name, err := u.normalize(name)
	if err != nil {
		return 0, err
	}
	if err := u.s.enter(ctx); err != nil {
		return 0, err
	}
	defer u.s.leave()
	m, err := u.mailboxByName(ctx, u.s.pool, name, false)
	if err != nil {
		return 0, err
	}
	if store.MailboxAttr(m.Attr)&store.AttrNoselect != 0 {
		return 0, store.ErrNoselect
	}
	var total int64
	err = u.s.pool.QueryRow(ctx, `SELECT coalesce(sum(size), 0)::bigint FROM messages
		WHERE mailbox_id = $1 AND sys_flags & 8 <> 0`, m.ID).Scan(&total)
	return total, err
}
