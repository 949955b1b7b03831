package boltstore

import (
	"context"
	"encoding/binary"

	bolt "go.etcd.io/bbolt"

	"github.com/imapfsm/imapfsm/server/store"
)

// keyQuota holds an account's quota limits in its account bucket:
// storage(8, bytes) messages(8), big-endian. No key means no limits.
var keyQuota = []byte("quota")

var (
	_ store.QuotaUser    = (*user)(nil)
	_ store.QuotaAdmin   = (*Store)(nil)
	_ store.DeletedSizer = (*user)(nil)
)

func getQuota(acct *bolt.Bucket) store.Quota {
	v := acct.Get(keyQuota)
	if len(v) != 16 {
		return store.Quota{}
	}
	return store.Quota{
		Storage:  int64(binary.BigEndian.Uint64(v)),
		Messages: int64(binary.BigEndian.Uint64(v[8:])),
	}
}

// quotaUsage sums the counters of every mailbox record of the account.
func quotaUsage(acct *bolt.Bucket) (store.QuotaUsage, error) {
	var use store.QuotaUsage
	err := acct.Bucket(bucketMB).ForEach(func(_, v []byte) error {
		var rec mailboxRec
		if err := decodeJSON(v, &rec); err != nil {
			return err
		}
		use.Messages += int64(rec.Messages)
		use.Storage += rec.Size
		return nil
	})
	return use, err
}

// checkQuota fails with store.ErrOverQuota when adding messages messages of
// bytes bytes would exceed a limit of the account. It runs inside the write
// transaction, after the account's earlier writes of the same commit, so
// the usage it sums is exact. Accounts without limits cost nothing.
func checkQuota(acct *bolt.Bucket, messages, bytes int64) error {
	q := getQuota(acct)
	if q.Unlimited() {
		return nil
	}
	use, err := quotaUsage(acct)
	if err != nil {
		return err
	}
	if !q.Allows(use, messages, bytes) {
		return store.ErrOverQuota
	}
	return nil
}

// Quota implements store.QuotaUser.
func (u *user) Quota(ctx context.Context) (store.Quota, store.QuotaUsage, error) {
	var q store.Quota
	var use store.QuotaUsage
	err := u.view(ctx, func(_ *bolt.Tx, acct *bolt.Bucket) error {
		q = getQuota(acct)
		var err error
		use, err = quotaUsage(acct)
		return err
	})
	return q, use, err
}

// SetQuota implements store.QuotaAdmin.
func (s *Store) SetQuota(ctx context.Context, name string, q store.Quota) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.leave()
	return s.update(ctx, nil, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketUsers).Get([]byte(name))
		if v == nil {
			return store.ErrNoSuchUser
		}
		var rec userRec
		if err := decodeJSON(v, &rec); err != nil {
			return err
		}
		acct := tx.Bucket(bucketAccts).Bucket(u64key(rec.ID))
		if acct == nil {
			return store.ErrNoSuchUser
		}
		if q.Unlimited() {
			return acct.Delete(keyQuota)
		}
		b := make([]byte, 16)
		binary.BigEndian.PutUint64(b, uint64(max(q.Storage, 0)))
		binary.BigEndian.PutUint64(b[8:], uint64(max(q.Messages, 0)))
		return acct.Put(keyQuota, b)
	})
}

// msgSize returns the size of an encoded message record.
func msgSize(b []byte) int64 {
	if len(b) < 35 || b[0] != msgRecVersion {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b[9:]))
}

// DeletedSize implements store.DeletedSizer: it reads the records of the
// UIDs in the mailbox's index of \Deleted messages only.
func (u *user) DeletedSize(ctx context.Context, name string) (int64, error) {
	name, err := u.normalize(name)
	if err != nil {
		return 0, err
	}
	var total int64
	err = u.view(ctx, func(tx *bolt.Tx, acct *bolt.Bucket) error {
		rec, err := mailboxByName(acct, name)
		if err != nil {
			return err
		}
		_, data, err := selectable(tx, acct, store.MailboxID(rec.ID))
		if err != nil {
			return err
		}
		msgs := data.Bucket(bucketMsg)
		return data.Bucket(bucketDeleted).ForEach(func(k, _ []byte) error {
			total += msgSize(msgs.Get(k))
			return nil
		})
	})
	return total, err
}
