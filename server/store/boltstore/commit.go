package boltstore

import (
	"context"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// commitReq is one write operation waiting for the group committer.
type commitReq struct {
	fn       func(tx *bolt.Tx) error
	syncDirs []string
	done     chan error
}

// committer runs write operations in shared bbolt transactions (group
// commit): whatever requests queued up while the previous commit was
// syncing go into the next transaction, up to maxBatch. A single writer
// therefore pays one fsync per operation without added delay, and N
// concurrent writers share one fsync. A request whose function fails is
// answered with its error and the transaction is retried without it, so one
// failing operation never affects another.
func (s *Store) committer() {
	defer close(s.committerDone)
	for {
		r, ok := <-s.reqs
		if !ok {
			return
		}
		batch := []*commitReq{r}
	drain:
		for len(batch) < s.opts.MaxBatch {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		s.runBatch(batch)
	}
}

func (s *Store) runBatch(batch []*commitReq) {
	// Directory entries of new content files must be durable before the
	// metadata that references them.
	var dirs []string
	for _, r := range batch {
		dirs = append(dirs, r.syncDirs...)
	}
	slices.Sort(dirs)
	for _, d := range slices.Compact(dirs) {
		if err := syncDir(d); err != nil {
			for _, r := range batch {
				r.done <- err
			}
			return
		}
	}
	for len(batch) > 0 {
		failed, err := s.tryBatch(batch)
		if failed < 0 {
			for _, r := range batch {
				r.done <- err
			}
			return
		}
		batch[failed].done <- err
		batch = slices.Delete(batch, failed, failed+1)
	}
}

// tryBatch runs the batch in one transaction. If the function at index i
// fails it returns (i, err) after rolling back; otherwise (-1, commit error).
func (s *Store) tryBatch(batch []*commitReq) (int, error) {
	tx, err := s.db.Begin(true)
	if err != nil {
		return -1, err
	}
	for i, r := range batch {
		if err := safeCall(r.fn, tx); err != nil {
			_ = tx.Rollback()
			return i, err
		}
	}
	floor, next := s.blobs.watermarks()
	meta := tx.Bucket(bucketMeta)
	if err := meta.Put(keyBlobFloor, u64key(floor)); err != nil {
		_ = tx.Rollback()
		return -1, err
	}
	if err := meta.Put(keyNextContent, u64key(next)); err != nil {
		_ = tx.Rollback()
		return -1, err
	}
	forget := s.blobs.takeForget()
	trash := tx.Bucket(bucketTrash)
	for _, id := range forget {
		if err := trash.Delete(u64key(id)); err != nil {
			_ = tx.Rollback()
			s.blobs.putBack(forget)
			return -1, err
		}
	}
	if err := tx.Commit(); err != nil {
		s.blobs.putBack(forget)
		return -1, err
	}
	s.commits.Add(1)
	s.ops.Add(uint64(len(batch)))
	return -1, nil
}

func safeCall(fn func(tx *bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("boltstore: panic in transaction: %v", p)
		}
	}()
	return fn(tx)
}

// update runs fn in a group-committed write transaction and returns once the
// transaction is durable (or failed). fn may run more than once (if another
// operation in its batch fails, the batch is retried), so it must not have
// effects outside tx other than overwriting its own result variables.
// Cancelling ctx abandons the operation only while it is still queued.
func (s *Store) update(ctx context.Context, syncDirs []string, fn func(tx *bolt.Tx) error) error {
	r := &commitReq{fn: fn, syncDirs: syncDirs, done: make(chan error, 1)}
	select {
	case s.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-r.done
}
