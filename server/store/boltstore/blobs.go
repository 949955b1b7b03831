package boltstore

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/imapfsm/imapfsm/server/store/internal/backend"
)

// shardBits is the number of low content-ID bits that share a directory:
// 4096 files per directory.
const shardBits = 12

// blobStore manages the message content files. A file is named by its
// content ID only (never by anything a user sent). Content IDs are
// allocated in memory; every commit persists the allocation watermark
// (nextcontent) and the lowest ID that may still be uncommitted (blobfloor),
// so that after a crash only files with IDs >= blobfloor need checking for
// orphans.
type blobStore struct {
	dir string // <data>/blobs
	tmp string // <data>/tmp

	mu       sync.Mutex
	next     uint64
	inflight map[uint64]struct{}
	forget   []uint64 // trash entries whose files are gone

	shardMu sync.Mutex
	shards  map[string]struct{} // shard directories whose entries are durable
}

func newBlobStore(dataDir string) (*blobStore, error) {
	b := &blobStore{
		dir:      filepath.Join(dataDir, "blobs"),
		tmp:      filepath.Join(dataDir, "tmp"),
		inflight: make(map[uint64]struct{}),
		shards:   make(map[string]struct{}),
	}
	for _, d := range []string{b.dir, b.tmp} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	// Make the directory entries themselves durable.
	if err := syncDir(dataDir); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *blobStore) shardDir(id uint64) string {
	return filepath.Join(b.dir, fmt.Sprintf("%08x", id>>shardBits))
}

func (b *blobStore) path(id uint64) string {
	return filepath.Join(b.shardDir(id), fmt.Sprintf("%016x", id))
}

// alloc reserves a new content ID. The caller must call release when the
// ID's fate (committed or abandoned) is settled.
func (b *blobStore) alloc() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	id := b.next
	b.next++
	b.inflight[id] = struct{}{}
	return id
}

func (b *blobStore) release(id uint64) {
	b.mu.Lock()
	delete(b.inflight, id)
	b.mu.Unlock()
}

// watermarks returns the values every commit persists: the lowest ID that
// may belong to an uncommitted file, and the next ID to allocate.
func (b *blobStore) watermarks() (floor, next uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	floor = b.next
	for id := range b.inflight {
		floor = min(floor, id)
	}
	return floor, b.next
}

// write streams r into a temporary file, syncs it and renames it into its
// content path. It returns the size and the directories whose entries must
// be synced before the metadata commit makes the file reachable.
func (b *blobStore) write(id uint64, r io.Reader, maxSize int64) (size int64, syncDirs []string, err error) {
	f, size, err := b.receive(r, maxSize)
	if err != nil {
		return 0, nil, err
	}
	syncDirs, err = b.place(f, id)
	if err != nil {
		return 0, nil, err
	}
	return size, syncDirs, nil
}

// receive streams r into a new temporary file and returns it open, not yet
// synced. On error nothing is left behind.
func (b *blobStore) receive(r io.Reader, maxSize int64) (f *os.File, size int64, err error) {
	f, err = os.CreateTemp(b.tmp, "in-*")
	if err != nil {
		return nil, 0, err
	}
	size, err = backend.CopyBody(f, r, maxSize)
	if err != nil {
		discard(f)
		return nil, 0, err
	}
	return f, size, nil
}

// place syncs and closes a file returned by receive and renames it into
// the content path of id. It returns the directories whose entries must be
// synced before the metadata commit makes the file reachable. On error the
// file is closed and removed. place may run concurrently for different ids.
func (b *blobStore) place(f *os.File, id uint64) (syncDirs []string, err error) {
	if err = f.Sync(); err != nil {
		discard(f)
		return nil, err
	}
	tmpName := f.Name()
	if err = f.Close(); err != nil {
		_ = os.Remove(tmpName)
		return nil, err
	}
	shard, err := b.ensureShard(id)
	if err != nil {
		_ = os.Remove(tmpName)
		return nil, err
	}
	if err = os.Rename(tmpName, b.path(id)); err != nil {
		_ = os.Remove(tmpName)
		return nil, err
	}
	return []string{shard}, nil
}

// ensureShard returns the shard directory of id, creating it if needed,
// after making sure its own directory entry is durable. Doing this once
// per shard, under a lock, means no writer can commit a file in a shard
// whose entry another writer created but has not synced yet.
func (b *blobStore) ensureShard(id uint64) (string, error) {
	shard := b.shardDir(id)
	b.shardMu.Lock()
	defer b.shardMu.Unlock()
	if _, ok := b.shards[shard]; ok {
		return shard, nil
	}
	if err := os.Mkdir(shard, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", err
	}
	if err := syncDir(b.dir); err != nil {
		return "", err
	}
	b.shards[shard] = struct{}{}
	return shard, nil
}

// create creates the content file of id for writing; the file must not
// exist. It returns the file and its shard directory.
func (b *blobStore) create(id uint64) (*os.File, string, error) {
	shard, err := b.ensureShard(id)
	if err != nil {
		return nil, "", err
	}
	f, err := os.OpenFile(b.path(id), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	return f, shard, err
}

// discard closes and removes a temporary file.
func discard(f *os.File) {
	_ = f.Close()
	_ = os.Remove(f.Name())
}

// remove deletes content files whose reference count dropped to zero and
// queues their trash entries for removal in a later commit.
func (b *blobStore) remove(ids []uint64) {
	if len(ids) == 0 {
		return
	}
	done := make([]uint64, 0, len(ids))
	for _, id := range ids {
		if err := os.Remove(b.path(id)); err == nil || errors.Is(err, fs.ErrNotExist) {
			done = append(done, id)
		}
	}
	b.mu.Lock()
	b.forget = append(b.forget, done...)
	b.mu.Unlock()
}

// takeForget hands the queued trash entries to a commit; putBack returns
// them if that commit fails.
func (b *blobStore) takeForget() []uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	f := b.forget
	b.forget = nil
	return f
}

func (b *blobStore) putBack(ids []uint64) {
	b.mu.Lock()
	b.forget = append(b.forget, ids...)
	b.mu.Unlock()
}

// recover runs at open, before any write: it removes temporary files,
// deletes the files of trashed contents, removes orphan files (content IDs
// >= blobfloor without a reference) and sets the allocator past every ID
// in use. It returns the number of files removed.
func (b *blobStore) recover(db *bolt.DB) (removed int, err error) {
	entries, err := os.ReadDir(b.tmp)
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		if err := os.Remove(filepath.Join(b.tmp, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, err
		}
		removed++
	}
	var floor, next uint64
	var trash []uint64
	err = db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(keyBlobFloor); len(v) == 8 {
			floor = keyU64(v)
		}
		if v := meta.Get(keyNextContent); len(v) == 8 {
			next = keyU64(v)
		}
		if k, _ := tx.Bucket(bucketBlobs).Cursor().Last(); k != nil {
			next = max(next, keyU64(k)+1)
		}
		return tx.Bucket(bucketTrash).ForEach(func(k, _ []byte) error {
			trash = append(trash, keyU64(k))
			return nil
		})
	})
	if err != nil {
		return removed, err
	}
	for _, id := range trash {
		if err := os.Remove(b.path(id)); err == nil {
			removed++
		} else if !errors.Is(err, fs.ErrNotExist) {
			return removed, err
		}
		next = max(next, id+1)
	}
	if len(trash) > 0 {
		err = db.Update(func(tx *bolt.Tx) error {
			t := tx.Bucket(bucketTrash)
			for _, id := range trash {
				if err := t.Delete(u64key(id)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return removed, err
		}
	}

	shards, err := os.ReadDir(b.dir)
	if err != nil {
		return removed, err
	}
	var candidates []uint64
	for _, sh := range shards {
		n, perr := strconv.ParseUint(sh.Name(), 16, 64)
		if perr != nil || !sh.IsDir() || (n+1)<<shardBits <= floor {
			continue
		}
		files, err := os.ReadDir(filepath.Join(b.dir, sh.Name()))
		if err != nil {
			return removed, err
		}
		for _, f := range files {
			id, perr := strconv.ParseUint(f.Name(), 16, 64)
			if perr != nil {
				continue
			}
			next = max(next, id+1)
			if id >= floor {
				candidates = append(candidates, id)
			}
		}
	}
	if len(candidates) > 0 {
		var orphans []uint64
		err = db.View(func(tx *bolt.Tx) error {
			refs := tx.Bucket(bucketBlobs)
			for _, id := range candidates {
				if decodeRefs(refs.Get(u64key(id))) == 0 {
					orphans = append(orphans, id)
				}
			}
			return nil
		})
		if err != nil {
			return removed, err
		}
		for _, id := range orphans {
			if err := os.Remove(b.path(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return removed, err
			}
			removed++
		}
	}
	b.mu.Lock()
	b.next = max(next, 1)
	b.mu.Unlock()
	return removed, nil
}

// body is an open content file.
type body struct {
	*os.File
	size int64
}

// Size implements store.Body.
func (b *body) Size() int64 { return b.size }

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
