package boltstore

import (
	"bytes"
	"context"

	bolt "go.etcd.io/bbolt"

	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/internal/backend"
)

// bucketAnnot, in an account's bucket, holds its annotations (RFC 5464):
// key mailbox id (8, big-endian; 0 for the server entries) + entry name,
// value annotVersion + the entry's value (so that an empty value is never
// a zero-length bbolt value). Keying by mailbox id makes entries follow a
// rename for free; removeOne drops a mailbox's range. The bucket is
// created by the first SETMETADATA of an account.
var bucketAnnot = []byte("annot")

// annotVersion prefixes every stored value.
const annotVersion = 1

func encodeAnnot(v []byte) []byte { return append([]byte{annotVersion}, v...) }

// decodeAnnot returns the value of a stored record, aliasing it.
func decodeAnnot(b []byte) []byte {
	if len(b) == 0 {
		return []byte{}
	}
	return b[1:]
}

var _ store.MetadataUser = (*user)(nil)

// annotKey returns the key of entry name of mailbox id.
func annotKey(id uint64, name string) []byte {
	return append(u64key(id), name...)
}

// forEachAnnot calls fn for each entry of mailbox id, in name order.
func forEachAnnot(acct *bolt.Bucket, id uint64, fn func(name string, value []byte) error) error {
	b := acct.Bucket(bucketAnnot)
	if b == nil {
		return nil
	}
	prefix := u64key(id)
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if err := fn(string(k[8:]), decodeAnnot(v)); err != nil {
			return err
		}
	}
	return nil
}

// annotUsage sums the entries of mailbox id, or of the whole account when
// all is set.
func annotUsage(acct *bolt.Bucket, id uint64, all bool) store.MetadataUsage {
	var use store.MetadataUsage
	b := acct.Bucket(bucketAnnot)
	if b == nil {
		return use
	}
	if all {
		_ = b.ForEach(func(_, v []byte) error {
			use = use.Add(1, len(decodeAnnot(v)))
			return nil
		})
		return use
	}
	_ = forEachAnnot(acct, id, func(_ string, v []byte) error {
		use = use.Add(1, len(v))
		return nil
	})
	return use
}

// removeAnnots deletes every entry of mailbox id.
func removeAnnots(acct *bolt.Bucket, id uint64) error {
	var keys [][]byte
	_ = forEachAnnot(acct, id, func(name string, _ []byte) error {
		keys = append(keys, annotKey(id, name))
		return nil
	})
	b := acct.Bucket(bucketAnnot)
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// copyAnnots copies every entry of mailbox from to mailbox to.
func copyAnnots(acct *bolt.Bucket, from, to uint64) error {
	type kv struct {
		name  string
		value []byte
	}
	var list []kv
	_ = forEachAnnot(acct, from, func(name string, v []byte) error {
		list = append(list, kv{name, bytes.Clone(v)})
		return nil
	})
	if len(list) == 0 {
		return nil
	}
	b := acct.Bucket(bucketAnnot)
	for _, e := range list {
		if err := b.Put(annotKey(to, e.name), encodeAnnot(e.value)); err != nil {
			return err
		}
	}
	return nil
}

// annotMailbox resolves the mailbox of an annotation command: "" is the
// server entries (id 0).
func (u *user) annotMailbox(acct *bolt.Bucket, name string) (uint64, error) {
	if name == "" {
		return 0, nil
	}
	rec, err := mailboxByName(acct, name)
	if err != nil {
		return 0, err
	}
	return rec.ID, nil
}

// normalizeAnnot normalises a mailbox name, keeping "" (server entries).
func (u *user) normalizeAnnot(name string) (string, error) {
	if name == "" {
		return "", nil
	}
	return u.normalize(name)
}

// Metadata implements store.MetadataUser.
func (u *user) Metadata(ctx context.Context, mailbox string) ([]store.MetadataEntry, error) {
	mailbox, err := u.normalizeAnnot(mailbox)
	if err != nil {
		return nil, err
	}
	var out []store.MetadataEntry
	err = u.view(ctx, func(_ *bolt.Tx, acct *bolt.Bucket) error {
		id, err := u.annotMailbox(acct, mailbox)
		if err != nil {
			return err
		}
		return forEachAnnot(acct, id, func(name string, v []byte) error {
			out = append(out, store.MetadataEntry{Name: name, Value: bytes.Clone(v)})
			return nil
		})
	})
	return out, err
}

// SetMetadata implements store.MetadataUser. The limits are checked in
// the serialised write transaction, before anything is written.
func (u *user) SetMetadata(ctx context.Context, mailbox string, changes []store.MetadataEntry, lim store.MetadataLimits) error {
	mailbox, err := u.normalizeAnnot(mailbox)
	if err != nil {
		return err
	}
	if err := u.s.enter(ctx); err != nil {
		return err
	}
	defer u.s.leave()
	final, names := backend.FinalMetadata(changes)
	err = u.write(ctx, nil, func(_ *bolt.Tx, acct *bolt.Bucket) error {
		id, err := u.annotMailbox(acct, mailbox)
		if err != nil {
			return err
		}
		mbBefore := annotUsage(acct, id, false)
		acctBefore := annotUsage(acct, 0, true)
		mbAfter, acctAfter := mbBefore, acctBefore
		b := acct.Bucket(bucketAnnot)
		for _, name := range names {
			if b != nil {
				if old := b.Get(annotKey(id, name)); old != nil {
					n := len(decodeAnnot(old))
					mbAfter, acctAfter = mbAfter.Add(-1, n), acctAfter.Add(-1, n)
				}
			}
			if v := final[name]; v != nil {
				mbAfter, acctAfter = mbAfter.Add(1, len(v)), acctAfter.Add(1, len(v))
			}
		}
		if err := lim.Check(mbBefore, mbAfter, acctBefore, acctAfter); err != nil {
			return err
		}
		if b == nil {
			if b, err = acct.CreateBucketIfNotExists(bucketAnnot); err != nil {
				return err
			}
		}
		for _, name := range names {
			k := annotKey(id, name)
			if v := final[name]; v != nil {
				err = b.Put(k, encodeAnnot(v))
			} else {
				err = b.Delete(k)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, name := range names {
		u.publish(ctx, []store.Notification{{User: u.name, Mailbox: store.AccountEvents,
			Event: store.MetadataChanged, Name: mailbox, Entry: name}})
	}
	return nil
}
