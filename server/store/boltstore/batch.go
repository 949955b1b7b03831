package boltstore

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/internal/backend"
)

// batchSyncers is the number of goroutines that sync and analyse the
// content files of one batch while the next bodies are being written.
// Syncs of different files proceed in parallel: the file system folds
// concurrent syncs into shared journal commits, so a batch costs a few
// device flushes instead of several per message. More goroutines measured
// no faster.
const batchSyncers = 16

var _ store.BatchAppender = (*user)(nil)

// AppendBatch implements store.BatchAppender.
//
// The bodies are written one after another, in slice order, to their
// content files; while the next body is being written, a pool of
// goroutines syncs the previous files and runs the analyser on them. Once
// every file is synced, the shard directories are synced once and all
// messages are inserted in one group-committed transaction, which makes the
// whole batch visible at once.
// Until that commit, every content ID of the batch is in flight, so the
// blobfloor persisted by any commit stays at or below it and a crash leaves
// only orphan files that the next Open deletes.
func (u *user) AppendBatch(ctx context.Context, mailbox string, msgs []store.NewMessage) ([]store.AppendResult, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	name, err := u.normalize(mailbox)
	if err != nil {
		return nil, err
	}
	n := len(msgs)
	flags := make([]store.FlagSet, n)
	dates := make([]int64, n)
	now := time.Now()
	for i, msg := range msgs {
		m, err := backend.CheckNewMessage(msg, now)
		if err != nil {
			return nil, batchErr(i, err)
		}
		flags[i], dates[i] = m.Flags, m.Date.UnixNano()
	}
	if err := u.s.enter(ctx); err != nil {
		return nil, err
	}
	defer u.s.leave()
	if err := u.checkAppendable(name); err != nil {
		return nil, err
	}

	contents := make([]uint64, n)
	for i := range contents {
		contents[i] = u.s.blobs.alloc()
	}
	// Released only once the batch is committed or its files are gone.
	defer func() {
		for _, id := range contents {
			u.s.blobs.release(id)
		}
	}()
	placed := make([]bool, n)
	committed := false
	defer func() {
		if committed {
			return
		}
		for i, ok := range placed {
			if ok {
				_ = os.Remove(u.s.blobs.path(contents[i]))
			}
		}
	}()
	sizes, structures, inline, dirs, err := u.receiveBatch(ctx, msgs, contents, placed)
	if err != nil {
		return nil, err
	}

	results := make([]store.AppendResult, n)
	err = u.write(ctx, dirs, func(tx *bolt.Tx, acct *bolt.Bucket) error {
		rec, data, err := appendTarget(tx, acct, name)
		if err != nil {
			return err
		}
		var bytes int64
		for _, sz := range sizes {
			bytes += sz
		}
		if err := checkQuota(acct, int64(n), bytes); err != nil {
			return err
		}
		rec.ModSeq++
		refs := tx.Bucket(bucketBlobs)
		uids := make([]uint32, n)
		for i := range msgs {
			m := &msgRec{Content: contents[i], Size: sizes[i], Date: dates[i], Flags: flags[i], ModSeq: rec.ModSeq}
			if uids[i], err = u.insert(data, rec, m, structures[i]); err != nil {
				return batchErr(i, err)
			}
			if err := refs.Put(u64key(contents[i]), encodeRefs(1)); err != nil {
				return err
			}
			if inline[i] != nil {
				if err := putInline(tx, contents[i], inline[i]); err != nil {
					return err
				}
			}
		}
		if err := uidxAppend(data.Bucket(bucketUIDIdx), uids); err != nil {
			return err
		}
		if err := u.appendLog(data, rec, store.ChangeAppend, backend.Ranges(uids)); err != nil {
			return err
		}
		for i, uid := range uids {
			results[i] = store.AppendResult{Mailbox: store.MailboxID(rec.ID), UIDValidity: rec.UIDValidity, UID: uid, ModSeq: rec.ModSeq}
		}
		return putMailbox(acct, rec)
	})
	if err != nil {
		return nil, err
	}
	committed = true
	last := results[n-1]
	u.publish(ctx, []store.Notification{{User: u.name, Mailbox: last.Mailbox, HighestModSeq: last.ModSeq}})
	return results, nil
}

// receiveBatch stores the bodies of msgs: a body of at most the store's
// inline limit is returned in inline[i], to be put into the database by the
// commit; a larger one becomes the content file contents[i], and placed[i]
// is set once that file exists. It returns the sizes, the structure blobs
// and the shard directories to sync before the commit. The caller removes
// the placed files if the batch fails.
//
// The bodies are written straight to their content paths, without the
// temporary file and rename of Append: a content ID is fresh and in flight
// until the commit, so a partial file left by a crash is an unreferenced
// file at or above blobfloor, which Open deletes, and nothing references a
// file before it was synced.
func (u *user) receiveBatch(ctx context.Context, msgs []store.NewMessage, contents []uint64, placed []bool) (sizes []int64, structures, inline [][]byte, dirs []string, err error) {
	n := len(msgs)
	sizes = make([]int64, n)
	structures = make([][]byte, n)
	inline = make([][]byte, n)

	var mu sync.Mutex // guards firstErr and errAt
	firstErr, errAt := error(nil), n
	fail := func(i int, err error) {
		mu.Lock()
		if i < errAt {
			firstErr, errAt = batchErr(i, err), i
		}
		mu.Unlock()
	}
	failed := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return firstErr != nil
	}

	// Workers sync, close and analyse the files the loop below has
	// written, and analyse the inline bodies.
	type job struct {
		i int
		f *os.File // nil for an inline body
	}
	jobs := make(chan job, batchSyncers)
	var wg sync.WaitGroup
	for range min(n, batchSyncers) {
		wg.Go(func() {
			for j := range jobs {
				if j.f == nil {
					if !failed() {
						structures[j.i] = backend.Analyze(u.s.opts.Analyzer, bytes.NewReader(inline[j.i]))
					}
					continue
				}
				if failed() {
					_ = j.f.Close()
					continue
				}
				err := j.f.Sync()
				if cerr := j.f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					fail(j.i, err)
					continue
				}
				structures[j.i] = u.analyze(contents[j.i])
			}
		})
	}
	maxSize := u.s.opts.MaxMessageSize
	for i, msg := range msgs {
		if err := ctx.Err(); err != nil {
			fail(i, err)
			break
		}
		if failed() {
			break
		}
		prefix, small, err := readSmall(msg.Body, u.s.inlineMax)
		if err == nil && small {
			err = checkInlineSize(prefix, maxSize)
		}
		if err != nil {
			fail(i, err)
			break
		}
		if small {
			inline[i], sizes[i] = prefix, int64(len(prefix))
			jobs <- job{i, nil}
			continue
		}
		f, shard, err := u.s.blobs.create(contents[i])
		if err != nil {
			fail(i, err)
			break
		}
		placed[i] = true
		if !slices.Contains(dirs, shard) {
			dirs = append(dirs, shard)
		}
		size, err := backend.CopyBody(f, rest(prefix, msg.Body), maxSize)
		if err != nil {
			_ = f.Close()
			fail(i, err)
			break
		}
		sizes[i] = size
		jobs <- job{i, f}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return nil, nil, nil, nil, firstErr
	}
	return sizes, structures, inline, dirs, nil
}

// batchErr names the message of a batch an error belongs to; errors.Is
// still finds the store error inside.
func batchErr(i int, err error) error {
	return fmt.Errorf("message %d of batch: %w", i+1, err)
}
