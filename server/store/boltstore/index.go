package boltstore

import (
	"encoding/binary"
	"math"

	bolt "go.etcd.io/bbolt"

	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/internal/backend"
)

// uidChunk is the number of UIDs per value of the uidx bucket. The UID list
// of a mailbox is stored as packed big-endian uint32 arrays keyed by a lower
// bound of their UIDs, so loading 1M UIDs reads ~1000 values instead of
// walking 1M keys.
const uidChunk = 1024

// uidxAppend adds UIDs, which must ascend and exceed every UID present.
func uidxAppend(b *bolt.Bucket, uids []uint32) error {
	if len(uids) == 0 {
		return nil
	}
	k, v := b.Cursor().Last()
	if k != nil && len(v) < uidChunk*4 {
		room := uidChunk - len(v)/4
		n := min(room, len(uids))
		nv := make([]byte, len(v), len(v)+4*n)
		copy(nv, v)
		for _, u := range uids[:n] {
			nv = binary.BigEndian.AppendUint32(nv, u)
		}
		if err := b.Put(clone(k), nv); err != nil {
			return err
		}
		uids = uids[n:]
	}
	for len(uids) > 0 {
		n := min(uidChunk, len(uids))
		nv := make([]byte, 0, 4*n)
		for _, u := range uids[:n] {
			nv = binary.BigEndian.AppendUint32(nv, u)
		}
		if err := b.Put(u32key(uids[0]), nv); err != nil {
			return err
		}
		uids = uids[n:]
	}
	return nil
}

// uidxRemove removes the given ascending UIDs from the index.
func uidxRemove(b *bolt.Bucket, uids []uint32) error {
	c := b.Cursor()
	for i := 0; i < len(uids); {
		k, v := c.Seek(u32key(uids[i]))
		if k == nil {
			k, v = c.Last()
		} else if keyU32(k) > uids[i] {
			k, v = c.Prev()
		}
		if k == nil {
			i++
			continue
		}
		key := clone(k)
		vals := clone(v)
		bound := uint64(math.MaxUint32) + 1
		if nk, _ := c.Next(); nk != nil {
			bound = uint64(keyU32(nk))
		}
		j := i
		for j < len(uids) && uint64(uids[j]) < bound {
			j++
		}
		out := vals[:0]
		r := uids[i:j]
		for p := 0; p+4 <= len(vals); p += 4 {
			u := binary.BigEndian.Uint32(vals[p:])
			for len(r) > 0 && r[0] < u {
				r = r[1:]
			}
			if len(r) > 0 && r[0] == u {
				continue
			}
			out = binary.BigEndian.AppendUint32(out, u)
		}
		if err := uidxStore(b, key, out); err != nil {
			return err
		}
		i = j
	}
	return nil
}

// uidxStore writes back a chunk after removals. An empty chunk is deleted;
// a chunk under a quarter full is merged into its predecessor when that has
// room, so expunges cannot fragment the index into many tiny values.
func uidxStore(b *bolt.Bucket, key, vals []byte) error {
	if len(vals) == 0 {
		return b.Delete(key)
	}
	if len(vals) < uidChunk {
		c := b.Cursor()
		if k, _ := c.Seek(key); k != nil {
			if pk, pv := c.Prev(); pk != nil && len(pv)+len(vals) <= uidChunk*4 {
				merged := make([]byte, 0, len(pv)+len(vals))
				merged = append(append(merged, pv...), vals...)
				if err := b.Put(clone(pk), merged); err != nil {
					return err
				}
				return b.Delete(key)
			}
		}
	}
	return b.Put(key, vals)
}

// uidxLoad returns every UID in ascending order.
func uidxLoad(b *bolt.Bucket, hint uint32) ([]uint32, error) {
	out := make([]uint32, 0, hint)
	err := b.ForEach(func(_, v []byte) error {
		for p := 0; p+4 <= len(v); p += 4 {
			out = append(out, binary.BigEndian.Uint32(v[p:]))
		}
		return nil
	})
	return out, err
}

// uidxCountFrom returns the number of UIDs at or above from.
func uidxCountFrom(b *bolt.Bucket, from uint32) uint32 {
	c := b.Cursor()
	// Chunks are keyed by a lower bound of their UIDs, so the chunk that
	// may hold from is the last one whose key is at most from.
	k, v := c.Seek(u32key(from))
	switch {
	case k == nil:
		k, v = c.Last()
	case keyU32(k) > from:
		if k, v = c.Prev(); k == nil {
			k, v = c.First()
		}
	}
	var n uint32
	for ; k != nil; k, v = c.Next() {
		for p := 0; p+4 <= len(v); p += 4 {
			if binary.BigEndian.Uint32(v[p:]) >= from {
				n++
			}
		}
	}
	return n
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// account adds (sign=1) or removes (sign=-1) a message's contribution to
// the mailbox counters.
func (r *mailboxRec) account(m *msgRec, sign int) {
	d := uint32(1)
	if sign > 0 {
		r.Messages += d
		r.Size += m.Size
	} else {
		r.Messages -= d
		r.Size -= m.Size
	}
	if !m.Flags.Has(store.FlagSeen) {
		if sign > 0 {
			r.Unseen++
		} else {
			r.Unseen--
		}
	}
	if m.Flags.Has(store.FlagDeleted) {
		if sign > 0 {
			r.Deleted++
		} else {
			r.Deleted--
		}
	}
}

// addKeywords records keywords in the mailbox's keyword list, enforcing
// the per-mailbox limit.
func (r *mailboxRec) addKeywords(kws []string, limit int) (err error) {
	r.Keywords, err = backend.AddKeywords(r.Keywords, kws, limit)
	return err
}
