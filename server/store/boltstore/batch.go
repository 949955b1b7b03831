package boltstore

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"sync"

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

// AppendBatch implements store.BatchAppender, with the checks, staging
// and insertion of Append (stage.go) applied to every message.
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
	name, news, err := u.beginNew(ctx, mailbox, msgs, true)
	if err != nil {
		return nil, err
	}
	defer u.s.leave()
	// The content IDs are released only once the batch is committed or
	// its files are gone.
	committed := false
	defer func() { u.settle(news, committed) }()
	dirs, err := u.receiveBatch(ctx, msgs, news)
	if err != nil {
		return nil, err
	}

	n := len(msgs)
	results := make([]store.AppendResult, n)
	err = u.write(ctx, dirs, func(tx *bolt.Tx, acct *bolt.Bucket) error {
		rec, data, err := appendTarget(tx, acct, name)
		if err != nil {
			return err
		}
		if err := checkQuota(acct, int64(n), stagedSize(news)); err != nil {
			return err
		}
		uids, err := u.insertNew(tx, data, rec, news)
		if err != nil {
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

// receiveBatch is stage for a whole batch: it receives the body of msgs[i]
// into out[i], inline when small, otherwise as the content file of
// out[i].content (out[i].file is set once that file exists). It returns the
// shard directories to sync before the commit; settle removes the files if
// the batch fails.
//
// The bodies are written straight to their content paths, without the
// temporary file and rename of Append: a content ID is fresh and in flight
// until the commit, so a partial file left by a crash is an unreferenced
// file at or above blobfloor, which Open deletes, and nothing references a
// file before it was synced.
func (u *user) receiveBatch(ctx context.Context, msgs []store.NewMessage, out []staged) (dirs []string, err error) {
	n := len(msgs)

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
						out[j.i].structure = backend.Analyze(u.s.opts.Analyzer, bytes.NewReader(out[j.i].inline))
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
				out[j.i].structure = u.analyze(out[j.i].content)
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
			out[i].inline, out[i].size = prefix, int64(len(prefix))
			jobs <- job{i, nil}
			continue
		}
		f, shard, err := u.s.blobs.create(out[i].content)
		if err != nil {
			fail(i, err)
			break
		}
		out[i].file = true
		if !slices.Contains(dirs, shard) {
			dirs = append(dirs, shard)
		}
		size, err := backend.CopyBody(f, rest(prefix, msg.Body), maxSize)
		if err != nil {
			_ = f.Close()
			fail(i, err)
			break
		}
		out[i].size = size
		jobs <- job{i, f}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return dirs, nil
}

// batchErr names the message of a batch an error belongs to; errors.Is
// still finds the store error inside.
func batchErr(i int, err error) error {
	return fmt.Errorf("message %d of batch: %w", i+1, err)
}
