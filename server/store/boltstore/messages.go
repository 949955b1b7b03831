package boltstore

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"math"
	"os"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/internal/backend"
)

// readChunk is the number of messages or change-log entries read per read
// transaction by the streaming readers; callbacks run outside transactions.
const readChunk = 512

// selectable returns the record and data bucket of a selectable mailbox of
// this account.
func selectable(tx *bolt.Tx, acct *bolt.Bucket, id store.MailboxID) (*mailboxRec, *bolt.Bucket, error) {
	rec, err := getMailbox(acct, uint64(id))
	if err != nil {
		return nil, nil, err
	}
	if rec.Attr&store.AttrNoselect != 0 {
		return nil, nil, store.ErrNoselect
	}
	data := tx.Bucket(bucketMboxes).Bucket(u64key(rec.ID))
	if data == nil {
		return nil, nil, errCorrupt
	}
	return rec, data, nil
}

func (u *user) appendLog(data *bolt.Bucket, rec *mailboxRec, kind store.ChangeKind, uids store.UIDSet) error {
	// Every change of a mailbox saves its record: the \Recent claims go
	// with it (see ClaimRecent).
	rec.RecentFrom = u.s.firstRecent(rec)
	log := data.Bucket(bucketLog)
	if err := log.Put(u64key(rec.ModSeq), encodeChange(kind, uids)); err != nil {
		return err
	}
	rec.LogCount++
	for rec.LogCount > u.s.opts.MaxChangeLog {
		k, _ := log.Cursor().First()
		if k == nil {
			rec.LogCount = 0
			break
		}
		rec.LogFloor = keyU64(k)
		if err := log.Delete(clone(k)); err != nil {
			return err
		}
		rec.LogCount--
	}
	return nil
}

// insert stores m as a new message of rec (which the caller saves) and
// returns its UID. It does not touch the UID index or the change log.
func (u *user) insert(data *bolt.Bucket, rec *mailboxRec, m *msgRec, structure []byte) (uint32, error) {
	uid := rec.UIDNext
	if uid == 0 || uid == math.MaxUint32 {
		return 0, store.ErrLimit // UID space exhausted; UIDs are never reused
	}
	if err := rec.addKeywords(m.Flags.Keywords, u.s.opts.MaxKeywords); err != nil {
		return 0, err
	}
	rec.UIDNext++
	k := u32key(uid)
	// Every way into a mailbox (append, batch, copy, move) comes here:
	// the message is saved in this mailbox now (RFC 8514).
	m.SaveDate = time.Now().UnixNano()
	if err := data.Bucket(bucketMsg).Put(k, m.encode()); err != nil {
		return 0, err
	}
	if structure != nil {
		if err := data.Bucket(bucketStruct).Put(k, structure); err != nil {
			return 0, err
		}
	}
	if m.Flags.Has(store.FlagDeleted) {
		if err := data.Bucket(bucketDeleted).Put(k, nil); err != nil {
			return 0, err
		}
	}
	rec.account(m, 1)
	return uid, nil
}

// drop deletes the records of message uid (not its UID index entry, not its
// content reference) and updates rec's counters.
func drop(data *bolt.Bucket, rec *mailboxRec, uid uint32, m *msgRec) error {
	k := u32key(uid)
	for _, b := range [][]byte{bucketMsg, bucketStruct, bucketDeleted} {
		if err := data.Bucket(b).Delete(k); err != nil {
			return err
		}
	}
	rec.account(m, -1)
	return nil
}

// checkAppendable fails early, before a body is written, when the named
// mailbox cannot take new messages: store.ErrNoSuchMailbox, or
// store.ErrNoselect for a placeholder. The commit checks again
// (appendTarget), since the mailbox may go in between.
func (u *user) checkAppendable(name string) error {
	return u.s.db.View(func(tx *bolt.Tx) error {
		acct, err := u.acct(tx)
		if err != nil {
			return err
		}
		_, _, err = appendTarget(tx, acct, name)
		return err
	})
}

// appendTarget returns the record and data bucket of the named mailbox
// that an append is about to write to, or the error that refuses it.
func appendTarget(tx *bolt.Tx, acct *bolt.Bucket, name string) (*mailboxRec, *bolt.Bucket, error) {
	rec, err := mailboxByName(acct, name)
	if err != nil {
		return nil, nil, err
	}
	return selectable(tx, acct, store.MailboxID(rec.ID))
}

// Append implements store.MessageWriter: the message is checked and its
// body staged (see stage.go), then one transaction inserts it.
func (u *user) Append(ctx context.Context, mailbox string, msg store.NewMessage) (store.AppendResult, error) {
	var res store.AppendResult
	name, msgs, err := u.beginNew(ctx, mailbox, []store.NewMessage{msg}, false)
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

	err = u.write(ctx, dirs, func(tx *bolt.Tx, acct *bolt.Bucket) error {
		rec, data, err := appendTarget(tx, acct, name)
		if err != nil {
			return err
		}
		if err := checkQuota(acct, 1, msgs[0].size); err != nil {
			return err
		}
		uids, err := u.insertNew(tx, data, rec, msgs)
		if err != nil {
			return err
		}
		res = store.AppendResult{Mailbox: store.MailboxID(rec.ID), UIDValidity: rec.UIDValidity, UID: uids[0], ModSeq: rec.ModSeq}
		return putMailbox(acct, rec)
	})
	if err != nil {
		return store.AppendResult{}, err
	}
	committed = true
	u.publish(ctx, []store.Notification{{User: u.name, Mailbox: res.Mailbox, HighestModSeq: res.ModSeq}})
	return res, nil
}

// analyze runs the configured Analyzer over a stored content file (see
// backend.Analyze); a file that cannot be read has no structure blob
// either.
func (u *user) analyze(content uint64) []byte {
	if u.s.opts.Analyzer == nil {
		return nil
	}
	f, err := os.Open(u.s.blobs.path(content))
	if err != nil {
		return nil
	}
	defer f.Close()
	return backend.Analyze(u.s.opts.Analyzer, f)
}

// View implements store.MessageReader.
func (u *user) View(ctx context.Context, mailbox store.MailboxID) (store.View, error) {
	var v store.View
	err := u.view(ctx, func(tx *bolt.Tx, acct *bolt.Bucket) error {
		rec, data, err := selectable(tx, acct, mailbox)
		if err != nil {
			return err
		}
		v.MailboxStatus = rec.status()
		v.Keywords = rec.Keywords
		v.UIDs, err = uidxLoad(data.Bucket(bucketUIDIdx), rec.Messages)
		first := u.s.firstRecent(rec)
		v.Recent = uint32(len(v.UIDs) - sort.Search(len(v.UIDs), func(i int) bool { return v.UIDs[i] >= first }))
		return err
	})
	return v, err
}

// ClaimRecent implements store.MessageWriter. Only one process can open
// the database (bbolt locks its file), so claims are decided in memory
// under a mutex, without a write transaction and its fsync for every new
// message a session learns of. They are saved with the mailbox record by
// the next change to the mailbox (appendLog) and by Close; after a crash
// the claims made since the mailbox last changed are lost, and those
// messages are recent once more for the next session (RFC 3501 allows a
// server to lose \Recent state, never to give it to two sessions at once).
func (u *user) ClaimRecent(ctx context.Context, mailbox store.MailboxID, upTo uint32) (uint32, error) {
	var stored uint32
	err := u.view(ctx, func(tx *bolt.Tx, acct *bolt.Bucket) error {
		rec, _, err := selectable(tx, acct, mailbox)
		if err != nil {
			return err
		}
		stored = rec.firstRecent()
		return nil
	})
	if err != nil {
		return 0, err
	}
	return u.s.claimRecent(uint64(mailbox), stored, upTo), nil
}

// Fetch implements store.MessageReader.
func (u *user) Fetch(ctx context.Context, mailbox store.MailboxID, uids store.UIDSet, opts store.FetchOptions, fn func(*store.Message) error) error {
	set := uids.Normalize()
	ri, next := 0, uint32(0)
	buf := make([]store.Message, 0, readChunk)
	for {
		buf = buf[:0]
		err := u.view(ctx, func(tx *bolt.Tx, acct *bolt.Bucket) error {
			_, data, err := selectable(tx, acct, mailbox)
			if err != nil {
				return err
			}
			st := data.Bucket(bucketStruct)
			c := data.Bucket(bucketMsg).Cursor()
			var m msgRec
			for ; ri < len(set); ri, next = ri+1, 0 {
				r := set[ri]
				for k, v := c.Seek(u32key(max(r.Start, next))); k != nil && keyU32(k) <= r.Stop; k, v = c.Next() {
					uid := keyU32(k)
					if len(buf) == readChunk {
						next = uid
						return nil
					}
					if opts.ChangedSince != 0 {
						if _, ms, ok := decodeMsgQuick(v); ok && ms <= opts.ChangedSince {
							continue
						}
					}
					if err := decodeMsg(v, &m); err != nil {
						return err
					}
					msg := store.Message{
						UID: uid, Size: m.Size, InternalDate: time.Unix(0, m.Date),
						Flags: m.Flags.Strings(), ModSeq: m.ModSeq, ContentID: m.Content,
					}
					if m.SaveDate != 0 {
						msg.SaveDate = time.Unix(0, m.SaveDate)
					}
					if opts.Structure {
						msg.Structure = clone(st.Get(k))
					}
					if opts.Header {
						// Inline bodies only: a file would cost an open
						// per message, which the caller does anyway.
						if in := tx.Bucket(bucketInline).Get(u64key(m.Content)); in != nil {
							msg.Header = clone(in[:store.HeaderLen(in)])
						}
					}
					buf = append(buf, msg)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for i := range buf {
			if err := fn(&buf[i]); err != nil {
				return err
			}
		}
		if ri >= len(set) {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// SearchFlags implements store.FlagSearcher. There is no flag index:
// it walks the mailbox's message records in one read transaction, O(n),
// reading only the system flags and MODSEQ of each record (and its
// keywords when q names any), which is several times cheaper than Fetch.
func (u *user) SearchFlags(ctx context.Context, mailbox store.MailboxID, q store.FlagQuery) ([]uint32, []uint64, error) {
	var uids []uint32
	var modseqs []uint64
	err := u.scanFlags(ctx, mailbox, q, 1, math.MaxUint32, func() { uids, modseqs = nil, nil }, func(uid uint32, modseq uint64) bool {
		uids = append(uids, uid)
		modseqs = append(modseqs, modseq)
		return true
	})
	if err != nil {
		return nil, nil, err
	}
	return uids, modseqs, nil
}

// FirstFlagMatch implements store.FirstFlagMatcher: a scan of the
// messages from the UID from that stops at the first match.
func (u *user) FirstFlagMatch(ctx context.Context, mailbox store.MailboxID, q store.FlagQuery, from, to uint32) (uint32, error) {
	var first uint32
	err := u.scanFlags(ctx, mailbox, q, from, to, func() { first = 0 }, func(uid uint32, _ uint64) bool {
		first = uid
		return false
	})
	if err != nil {
		return 0, err
	}
	return first, nil
}

// scanFlags calls match, in UID order, for each message of the mailbox
// with a UID in from..to that matches q, until match returns false; reset
// is called at the start of each (retried) read transaction.
func (u *user) scanFlags(ctx context.Context, mailbox store.MailboxID, q store.FlagQuery, from, to uint32, reset func(), match func(uid uint32, modseq uint64) bool) error {
	if err := q.Validate(); err != nil {
		return err
	}
	return u.view(ctx, func(tx *bolt.Tx, acct *bolt.Bucket) error {
		reset()
		_, data, err := selectable(tx, acct, mailbox)
		if err != nil {
			return err
		}
		keywords := len(q.Set.Keywords)+len(q.Unset.Keywords) > 0
		var m msgRec
		c := data.Bucket(bucketMsg).Cursor()
		for k, v := c.Seek(u32key(from)); k != nil && keyU32(k) <= to; k, v = c.Next() {
			sys, modseq, ok := decodeMsgQuick(v)
			if !ok {
				return errCorrupt
			}
			if sys&q.Set.System != q.Set.System || sys&q.Unset.System != 0 {
				continue
			}
			if keywords {
				if err := decodeMsg(v, &m); err != nil {
					return err
				}
				if !q.Matches(m.Flags) {
					continue
				}
			}
			if !match(keyU32(k), modseq) {
				return nil
			}
		}
		return nil
	})
}

// OpenBody implements store.MessageReader.
func (u *user) OpenBody(ctx context.Context, mailbox store.MailboxID, uid uint32) (store.Body, error) {
	var b *body
	var ib memBody
	err := u.view(ctx, func(tx *bolt.Tx, acct *bolt.Bucket) error {
		// A message found in a mailbox of the account settles that the
		// mailbox exists and is selectable (a \Noselect one holds none)
		// without decoding its record, which SEARCH would otherwise pay
		// for every message it reads. Otherwise selectable says why.
		var v []byte
		if acct.Bucket(bucketMB).Get(u64key(uint64(mailbox))) != nil {
			if data := tx.Bucket(bucketMboxes).Bucket(u64key(uint64(mailbox))); data != nil {
				v = data.Bucket(bucketMsg).Get(u32key(uid))
			}
		}
		if v == nil {
			if _, _, err := selectable(tx, acct, mailbox); err != nil {
				return err
			}
			return store.ErrNoSuchMessage
		}
		var m msgRec
		if err := decodeMsg(v, &m); err != nil {
			return err
		}
		if in := inlineBody(tx, m.Content); in != nil {
			ib = memBody{bytes.NewReader(in)}
			return nil
		}
		f, err := os.Open(u.s.blobs.path(m.Content))
		if errors.Is(err, fs.ErrNotExist) {
			return store.ErrNoSuchMessage
		} else if err != nil {
			return err
		}
		b = &body{File: f, size: m.Size}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if ib.Reader != nil {
		return ib, nil
	}
	return b, nil
}

// ChangesSince implements store.MessageReader.
func (u *user) ChangesSince(ctx context.Context, mailbox store.MailboxID, modseq uint64, fn func(store.Change) error) error {
	from := modseq + 1
	buf := make([]store.Change, 0, readChunk)
	first := true
	for {
		buf = buf[:0]
		done := true
		err := u.view(ctx, func(tx *bolt.Tx, acct *bolt.Bucket) error {
			rec, data, err := selectable(tx, acct, mailbox)
			if err != nil {
				return err
			}
			if first && modseq < rec.LogFloor {
				return store.ErrChangesTruncated
			}
			c := data.Bucket(bucketLog).Cursor()
			for k, v := c.Seek(u64key(from)); k != nil; k, v = c.Next() {
				if len(buf) == readChunk {
					done = false
					from = keyU64(k)
					return nil
				}
				ch, err := decodeChange(keyU64(k), v)
				if err != nil {
					return err
				}
				buf = append(buf, ch)
			}
			return nil
		})
		if err != nil {
			return err
		}
		first = false
		for _, ch := range buf {
			if err := fn(ch); err != nil {
				return err
			}
		}
		if done {
			return nil
		}
	}
}

// StoreFlags implements store.MessageWriter.
func (u *user) StoreFlags(ctx context.Context, mailbox store.MailboxID, uids store.UIDSet, req store.FlagChange) (store.StoreResult, error) {
	change, err := store.ParseFlags(req.Flags)
	if err != nil {
		return store.StoreResult{}, err
	}
	set := uids.Normalize()
	if err := u.s.enter(ctx); err != nil {
		return store.StoreResult{}, err
	}
	defer u.s.leave()
	var res store.StoreResult
	err = u.write(ctx, nil, func(tx *bolt.Tx, acct *bolt.Bucket) error {
		res = store.StoreResult{}
		rec, data, err := selectable(tx, acct, mailbox)
		if err != nil {
			return err
		}
		fs := backend.NewFlagStore(req, change)
		bump := func() uint64 { rec.ModSeq++; return rec.ModSeq }
		msgs, del := data.Bucket(bucketMsg), data.Bucket(bucketDeleted)
		c := msgs.Cursor()
		var m msgRec
		for _, r := range set {
			k, v := c.Seek(u32key(r.Start))
			for k != nil && keyU32(k) <= r.Stop {
				uid := keyU32(k)
				if err := decodeMsg(v, &m); err != nil {
					return err
				}
				if nf, changed := fs.Apply(uid, m.ModSeq, m.Flags, bump); changed {
					if err := rec.addKeywords(nf.Keywords, u.s.opts.MaxKeywords); err != nil {
						return err
					}
					rec.account(&m, -1)
					m.Flags, m.ModSeq = nf, fs.ModSeq()
					rec.account(&m, 1)
					kk := u32key(uid)
					if err := msgs.Put(kk, m.encode()); err != nil {
						return err
					}
					if nf.Has(store.FlagDeleted) {
						err = del.Put(kk, nil)
					} else {
						err = del.Delete(kk)
					}
					if err != nil {
						return err
					}
				}
				if uid == math.MaxUint32 {
					break
				}
				// Reposition: the cursor is invalid after a Put.
				k, v = c.Seek(u32key(uid + 1))
			}
		}
		res = fs.Result()
		if len(fs.Changed()) == 0 {
			return nil
		}
		if err := u.appendLog(data, rec, store.ChangeFlags, backend.Ranges(fs.Changed())); err != nil {
			return err
		}
		return putMailbox(acct, rec)
	})
	if err != nil {
		return store.StoreResult{}, err
	}
	if res.ModSeq != 0 {
		u.publish(ctx, []store.Notification{{User: u.name, Mailbox: mailbox, HighestModSeq: res.ModSeq}})
	}
	return res, nil
}

// Expunge implements store.MessageWriter.
func (u *user) Expunge(ctx context.Context, mailbox store.MailboxID, uids store.UIDSet) ([]uint32, error) {
	set := backend.ExpungeSet(uids)
	if err := u.s.enter(ctx); err != nil {
		return nil, err
	}
	defer u.s.leave()
	var out []uint32
	var freed []uint64
	var modseq uint64
	err := u.write(ctx, nil, func(tx *bolt.Tx, acct *bolt.Bucket) error {
		out, freed, modseq = nil, nil, 0
		rec, data, err := selectable(tx, acct, mailbox)
		if err != nil {
			return err
		}
		c := data.Bucket(bucketDeleted).Cursor()
		for _, r := range set {
			for k, _ := c.Seek(u32key(r.Start)); k != nil && keyU32(k) <= r.Stop; k, _ = c.Next() {
				out = append(out, keyU32(k))
			}
		}
		if len(out) == 0 {
			return nil
		}
		rec.ModSeq++
		modseq = rec.ModSeq
		msgs := data.Bucket(bucketMsg)
		var m msgRec
		for _, uid := range out {
			if err := decodeMsg(msgs.Get(u32key(uid)), &m); err != nil {
				return err
			}
			if err := drop(data, rec, uid, &m); err != nil {
				return err
			}
			f, err := unref(tx, m.Content)
			if err != nil {
				return err
			}
			if f {
				freed = append(freed, m.Content)
			}
		}
		if err := uidxRemove(data.Bucket(bucketUIDIdx), out); err != nil {
			return err
		}
		if err := u.appendLog(data, rec, store.ChangeExpunge, backend.Ranges(out)); err != nil {
			return err
		}
		return putMailbox(acct, rec)
	})
	if err != nil {
		return nil, err
	}
	u.s.blobs.remove(freed)
	if modseq != 0 {
		u.publish(ctx, []store.Notification{{User: u.name, Mailbox: mailbox, HighestModSeq: modseq}})
	}
	return out, nil
}

// transferResult is the outcome of transfer.
type transferResult struct {
	copy  store.CopyResult
	notes []store.Notification
}

// transfer copies (or moves) the messages of src in uids to dst within tx
// and saves both records. src and dst may be the same mailbox.
func (u *user) transfer(tx *bolt.Tx, acct *bolt.Bucket, src *mailboxRec, uids store.UIDSet, dst *mailboxRec, move bool) (transferResult, error) {
	var res transferResult
	mboxes := tx.Bucket(bucketMboxes)
	sdata := mboxes.Bucket(u64key(src.ID))
	ddata := mboxes.Bucket(u64key(dst.ID))
	if sdata == nil || ddata == nil {
		return res, errCorrupt
	}
	if dst.ID == src.ID {
		dst = src
	}
	res.copy.DestID, res.copy.DestUIDValidity = store.MailboxID(dst.ID), dst.UIDValidity
	// Collect first: with src == dst the loop below adds to the same bucket.
	c := sdata.Bucket(bucketMsg).Cursor()
	for _, r := range uids.Normalize() {
		for k, _ := c.Seek(u32key(r.Start)); k != nil && keyU32(k) <= r.Stop; k, _ = c.Next() {
			res.copy.SourceUIDs = append(res.copy.SourceUIDs, keyU32(k))
		}
	}
	if len(res.copy.SourceUIDs) == 0 {
		return res, nil
	}
	if !move {
		// A copy adds to the account's usage; a move within it does not.
		var bytes int64
		for _, uid := range res.copy.SourceUIDs {
			bytes += msgSize(sdata.Bucket(bucketMsg).Get(u32key(uid)))
		}
		if err := checkQuota(acct, int64(len(res.copy.SourceUIDs)), bytes); err != nil {
			return res, err
		}
	}
	dst.ModSeq++
	dstMod := dst.ModSeq
	var m msgRec
	for _, uid := range res.copy.SourceUIDs {
		k := u32key(uid)
		if err := decodeMsg(sdata.Bucket(bucketMsg).Get(k), &m); err != nil {
			return res, err
		}
		var structure []byte
		if v := sdata.Bucket(bucketStruct).Get(k); v != nil {
			structure = append(make([]byte, 0, len(v)), v...)
		}
		if move {
			if err := drop(sdata, src, uid, &m); err != nil {
				return res, err
			}
		} else if err := addRef(tx, m.Content); err != nil {
			return res, err
		}
		m.ModSeq = dstMod
		nuid, err := u.insert(ddata, dst, &m, structure)
		if err != nil {
			return res, err
		}
		res.copy.DestUIDs = append(res.copy.DestUIDs, nuid)
	}
	if err := uidxAppend(ddata.Bucket(bucketUIDIdx), res.copy.DestUIDs); err != nil {
		return res, err
	}
	if err := u.appendLog(ddata, dst, store.ChangeAppend, backend.Ranges(res.copy.DestUIDs)); err != nil {
		return res, err
	}
	if move {
		src.ModSeq++
		if err := uidxRemove(sdata.Bucket(bucketUIDIdx), res.copy.SourceUIDs); err != nil {
			return res, err
		}
		if err := u.appendLog(sdata, src, store.ChangeExpunge, backend.Ranges(res.copy.SourceUIDs)); err != nil {
			return res, err
		}
		if err := putMailbox(acct, src); err != nil {
			return res, err
		}
		res.notes = append(res.notes, store.Notification{User: u.name, Mailbox: store.MailboxID(src.ID), HighestModSeq: src.ModSeq})
	}
	if dst != src || !move {
		res.notes = append(res.notes, store.Notification{User: u.name, Mailbox: store.MailboxID(dst.ID), HighestModSeq: dst.ModSeq})
	}
	return res, putMailbox(acct, dst)
}

func (u *user) copyOrMove(ctx context.Context, mailbox store.MailboxID, uids store.UIDSet, dest string, move bool) (store.CopyResult, error) {
	dest, err := u.normalize(dest)
	if err != nil {
		return store.CopyResult{}, err
	}
	if err := u.s.enter(ctx); err != nil {
		return store.CopyResult{}, err
	}
	defer u.s.leave()
	var res transferResult
	err = u.write(ctx, nil, func(tx *bolt.Tx, acct *bolt.Bucket) error {
		src, _, err := selectable(tx, acct, mailbox)
		if err != nil {
			return err
		}
		d, err := mailboxByName(acct, dest)
		if err != nil {
			return err
		}
		dst, _, err := selectable(tx, acct, store.MailboxID(d.ID))
		if err != nil {
			return err
		}
		res, err = u.transfer(tx, acct, src, uids, dst, move)
		return err
	})
	if err != nil {
		return store.CopyResult{}, err
	}
	u.publish(ctx, res.notes)
	return res.copy, nil
}

// Copy implements store.MessageWriter.
func (u *user) Copy(ctx context.Context, mailbox store.MailboxID, uids store.UIDSet, dest string) (store.CopyResult, error) {
	return u.copyOrMove(ctx, mailbox, uids, dest, false)
}

// Move implements store.MessageWriter.
func (u *user) Move(ctx context.Context, mailbox store.MailboxID, uids store.UIDSet, dest string) (store.CopyResult, error) {
	return u.copyOrMove(ctx, mailbox, uids, dest, true)
}
