package boltstore

import (
	"bytes"
	"context"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/internal/backend"
)

// Every way of storing new messages (Append, AppendBatch, Replace) goes
// through the same three steps, defined here once:
//
//  1. beginNew checks the target mailbox name and each message's flags and
//     date, enters the store and checks that the target takes messages,
//     all before a body is read;
//  2. stage (or receiveBatch for a batch) receives each body: a body of at
//     most the inline limit is kept in memory for the commit, a larger one
//     becomes a synced content file;
//  3. inside the commit, after the caller's own checks (quota), insertNew
//     inserts the staged messages into their mailbox with one MODSEQ and
//     logs them; settle then releases their content IDs, removing the
//     files of a failed commit.

// staged is a new message whose body was received but not committed.
type staged struct {
	content   uint64 // allocated content ID, in flight until settled
	size      int64
	date      int64 // internal date, unix ns
	flags     store.FlagSet
	structure []byte
	inline    []byte // the body when kept in the database, else nil
	file      bool   // a content file exists for content
}

// beginNew runs the checks every new message goes through before its body
// is read: the target name is normalised, each message's flags and date
// are checked (store.ErrBadFlags and the like; wrapped with the message's
// position when batch is set), the store is entered and the target must
// exist and be selectable. On success the caller must call u.s.leave when
// done, and the returned messages carry their checked flags and dates.
func (u *user) beginNew(ctx context.Context, mailbox string, msgs []store.NewMessage, batch bool) (string, []staged, error) {
	name, err := u.normalize(mailbox)
	if err != nil {
		return "", nil, err
	}
	out := make([]staged, len(msgs))
	now := time.Now()
	for i, msg := range msgs {
		nm, err := backend.CheckNewMessage(msg, now)
		if err != nil {
			if batch {
				err = batchErr(i, err)
			}
			return "", nil, err
		}
		out[i] = staged{date: nm.Date.UnixNano(), flags: nm.Flags}
	}
	if err := u.s.enter(ctx); err != nil {
		return "", nil, err
	}
	if err := u.checkAppendable(name); err != nil {
		u.s.leave()
		return "", nil, err
	}
	for i := range out {
		out[i].content = u.s.blobs.alloc()
	}
	return name, out, nil
}

// stage receives the body of one new message into m: inline when it has at
// most the inline limit of bytes, otherwise as a synced content file. It
// returns the directories to sync before the commit.
func (u *user) stage(m *staged, body store.NewMessage) (dirs []string, err error) {
	prefix, small, err := readSmall(body.Body, u.s.inlineMax)
	if err != nil {
		return nil, err
	}
	if small {
		if err := checkInlineSize(prefix, u.s.opts.MaxMessageSize); err != nil {
			return nil, err
		}
		m.inline, m.size = prefix, int64(len(prefix))
		m.structure = backend.Analyze(u.s.opts.Analyzer, bytes.NewReader(prefix))
		return nil, nil
	}
	m.size, dirs, err = u.s.blobs.write(m.content, rest(prefix, body.Body), u.s.opts.MaxMessageSize)
	if err != nil {
		return nil, err
	}
	m.file = true
	m.structure = u.analyze(m.content)
	return dirs, nil
}

// settle ends the flight of the content IDs of msgs once their fate is
// known: after a failed commit (committed false) their content files are
// removed first, so that a crash never leaves a file below blobfloor that
// nothing references.
func (u *user) settle(msgs []staged, committed bool) {
	for i := range msgs {
		if !committed && msgs[i].file {
			_ = os.Remove(u.s.blobs.path(msgs[i].content))
		}
		u.s.blobs.release(msgs[i].content)
	}
}

// insertNew inserts msgs into rec (data is its bucket; the caller saves
// rec) with one new MODSEQ, in order, and stores their bodies' reference
// counts, their inline bodies, their UID index entries and one change-log
// entry. Each message's save date is set by insert. It returns the UIDs.
func (u *user) insertNew(tx *bolt.Tx, data *bolt.Bucket, rec *mailboxRec, msgs []staged) ([]uint32, error) {
	rec.ModSeq++
	refs := tx.Bucket(bucketBlobs)
	uids := make([]uint32, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		r := &msgRec{Content: m.content, Size: m.size, Date: m.date, Flags: m.flags, ModSeq: rec.ModSeq}
		uid, err := u.insert(data, rec, r, m.structure)
		if err != nil {
			if len(msgs) > 1 {
				err = batchErr(i, err)
			}
			return nil, err
		}
		uids[i] = uid
		if err := refs.Put(u64key(m.content), encodeRefs(1)); err != nil {
			return nil, err
		}
		if m.inline != nil {
			if err := putInline(tx, m.content, m.inline); err != nil {
				return nil, err
			}
		}
	}
	if err := uidxAppend(data.Bucket(bucketUIDIdx), uids); err != nil {
		return nil, err
	}
	if err := u.appendLog(data, rec, store.ChangeAppend, backend.Ranges(uids)); err != nil {
		return nil, err
	}
	return uids, nil
}

// stagedSize is the total size of msgs.
func stagedSize(msgs []staged) int64 {
	var n int64
	for i := range msgs {
		n += msgs[i].size
	}
	return n
}
