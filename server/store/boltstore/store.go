package boltstore

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/internal/backend"
	"github.com/imapfsm/imapfsm/server/store/password"
)

// Defaults of [Options]. The limits both stores share are store's.
const (
	DefaultMaxMessageSize = store.DefaultMaxMessageSize
	DefaultMaxChangeLog   = store.DefaultMaxChangeLog
	DefaultMaxKeywords    = store.DefaultMaxKeywords
	DefaultMaxBatch       = 256
	DefaultLockTimeout    = 5 * time.Second
)

// Options configures a [Store]: the settings shared with the other bundled
// store, and the embedded store's own. The zero value selects the defaults.
type Options struct {
	store.Options
	// MaxBatch bounds the operations sharing one commit (default 256).
	MaxBatch int
	// LockTimeout bounds the wait for the database file lock held by
	// another process (default 5s).
	LockTimeout time.Duration
}

func (o *Options) setDefaults() {
	o.Options.SetDefaults()
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = DefaultLockTimeout
	}
}

// Store is the bbolt-backed [store.Store]. It is safe for concurrent use.
type Store struct {
	opts   Options
	dir    string
	db     *bolt.DB
	blobs  *blobStore
	hasher *password.Hasher

	// inlineMax is the largest body kept inline in the database
	// (defaultInlineMax; tests set 0 to write content files only, as
	// stores did before inline bodies).
	inlineMax int64

	reqs          chan *commitReq
	committerDone chan struct{}

	gate backend.Gate // admits operations until Close

	commits atomic.Uint64 // committed write transactions
	ops     atomic.Uint64 // write operations committed in them

	// recent holds, per mailbox ID, the first UID not claimed as \Recent
	// where it is ahead of the mailbox record (see user.ClaimRecent).
	recentMu sync.Mutex
	recent   map[uint64]uint32
}

// claimRecent advances the first recent UID of a mailbox, whose record
// says stored, to upTo and returns its previous value.
func (s *Store) claimRecent(id uint64, stored, upTo uint32) uint32 {
	s.recentMu.Lock()
	defer s.recentMu.Unlock()
	first := max(stored, s.recent[id])
	if first < upTo {
		if s.recent == nil {
			s.recent = map[uint64]uint32{}
		}
		s.recent[id] = upTo
	}
	return first
}

// firstRecent returns the first UID of rec's mailbox not claimed as
// \Recent, claims not yet saved included.
func (s *Store) firstRecent(rec *mailboxRec) uint32 {
	s.recentMu.Lock()
	defer s.recentMu.Unlock()
	return max(rec.firstRecent(), s.recent[rec.ID])
}

// saveRecent writes the \Recent claims not saved yet into their mailbox
// records, at Close.
func (s *Store) saveRecent() error {
	s.recentMu.Lock()
	pending := s.recent
	s.recent = nil
	s.recentMu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		accts := tx.Bucket(bucketAccts)
		return accts.ForEach(func(k, v []byte) error {
			acct := accts.Bucket(k)
			if v != nil || acct == nil || acct.Bucket(bucketMB) == nil {
				return nil
			}
			var save []*mailboxRec
			err := acct.Bucket(bucketMB).ForEach(func(id, v []byte) error {
				first, ok := pending[keyU64(id)]
				if !ok {
					return nil
				}
				rec := new(mailboxRec)
				if err := decodeJSON(v, rec); err != nil {
					return err
				}
				if rec.firstRecent() < first {
					rec.RecentFrom = first
					save = append(save, rec)
				}
				return nil
			})
			for _, rec := range save {
				if err == nil {
					err = putMailbox(acct, rec)
				}
			}
			return err
		})
	})
}

// Stats are counters for monitoring a Store.
type Stats struct {
	// Commits is the number of durable write transactions.
	Commits uint64
	// Operations is the number of write operations they carried; the
	// ratio Operations/Commits is the group-commit batching factor.
	Operations uint64
}

// Stats returns the store's counters since Open.
func (s *Store) Stats() Stats {
	return Stats{Commits: s.commits.Load(), Operations: s.ops.Load()}
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the store in directory dir. The directory
// holds mail.db (the bbolt database), blobs/ (message contents) and tmp/.
// Opening performs the crash cleanup described in the package doc; it never
// needs a repair step.
func Open(dir string, opts Options) (*Store, error) {
	opts.setDefaults()
	hasher, err := password.NewWithCache(opts.BcryptCost, opts.AuthCache)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	blobs, err := newBlobStore(dir)
	if err != nil {
		return nil, err
	}
	db, err := bolt.Open(filepath.Join(dir, "mail.db"), 0o600, &bolt.Options{
		Timeout:      opts.LockTimeout,
		FreelistType: bolt.FreelistMapType,
		// Address space only: a growing database is remapped (every node
		// of the writing transaction copied first) only past this size.
		InitialMmapSize: initialMmapSize,
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: open database: %w", err)
	}
	s := &Store{
		opts: opts, dir: dir, db: db, blobs: blobs, hasher: hasher,
		inlineMax: defaultInlineMax,
		reqs:      make(chan *commitReq), committerDone: make(chan struct{}),
	}
	if err := s.init(); err != nil {
		_ = db.Close()
		return nil, err
	}
	if _, err := blobs.recover(db); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("boltstore: content cleanup: %w", err)
	}
	go s.committer()
	return s, nil
}

// initialMmapSize is the database mapping reserved at open (virtual memory,
// not resident), so that bulk appends do not remap at every doubling.
const initialMmapSize = 1 << 30

func (s *Store) init() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketMeta, bucketUsers, bucketAccts, bucketMboxes, bucketBlobs, bucketTrash, bucketInline} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		v := meta.Get(keyVersion)
		if v == nil {
			return meta.Put(keyVersion, u32key(formatVersion))
		}
		if len(v) != 4 || keyU32(v) == 0 || keyU32(v) > formatVersion {
			return fmt.Errorf("boltstore: unsupported format version %x", v)
		}
		if keyU32(v) < formatVersion {
			return meta.Put(keyVersion, u32key(formatVersion))
		}
		return nil
	})
}

// Close implements store.Store. It waits for running operations.
func (s *Store) Close() error {
	return s.gate.Close(func() error {
		close(s.reqs)
		<-s.committerDone
		err := s.saveRecent()
		if cerr := s.db.Close(); err == nil {
			err = cerr
		}
		return err
	})
}

// Notifier implements store.Store.
func (s *Store) Notifier() store.Notifier { return s.opts.Notifier }

// enter admits an operation; the caller must call leave when done.
func (s *Store) enter(ctx context.Context) error { return s.gate.Enter(ctx) }

func (s *Store) leave() { s.gate.Leave() }

// nextUIDValidity allocates a UIDVALIDITY strictly greater than any before,
// normally the current Unix time.
func nextUIDValidity(tx *bolt.Tx) (uint32, error) {
	meta := tx.Bucket(bucketMeta)
	var last uint32
	if v := meta.Get(keyUIDValidity); len(v) == 4 {
		last = keyU32(v)
	}
	now := time.Now().Unix()
	v := last + 1
	if now > int64(v) && now < 1<<32 {
		v = uint32(now)
	}
	if v == 0 {
		return 0, store.ErrLimit
	}
	return v, meta.Put(keyUIDValidity, u32key(v))
}

// CreateUser implements store.Accounts.
func (s *Store) CreateUser(ctx context.Context, name, pw string) error {
	hash, err := backend.NewAccountHash(s.hasher, name, pw)
	if err != nil {
		return err
	}
	return s.createUser(ctx, name, hash)
}

// CreateUserWithHash implements store.Accounts.
func (s *Store) CreateUserWithHash(ctx context.Context, name, hash string) error {
	if err := backend.CheckImportedAccount(name, hash); err != nil {
		return err
	}
	return s.createUser(ctx, name, hash)
}

func (s *Store) createUser(ctx context.Context, name, hash string) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.leave()
	return s.update(ctx, nil, func(tx *bolt.Tx) error {
		users := tx.Bucket(bucketUsers)
		if users.Get([]byte(name)) != nil {
			return store.ErrUserExists
		}
		id, err := users.NextSequence()
		if err != nil {
			return err
		}
		rec, err := json.Marshal(userRec{ID: id, Hash: hash, Created: time.Now().UTC()})
		if err != nil {
			return err
		}
		if err := users.Put([]byte(name), rec); err != nil {
			return err
		}
		acct, err := tx.Bucket(bucketAccts).CreateBucket(u64key(id))
		if err != nil {
			return err
		}
		for _, b := range [][]byte{bucketMB, bucketNames, bucketSubs} {
			if _, err := acct.CreateBucket(b); err != nil {
				return err
			}
		}
		u := &user{s: s, name: name, id: id}
		for _, d := range store.DefaultMailboxes() {
			if _, err := u.createOne(tx, acct, d.Name, d.Attr); err != nil {
				return err
			}
			if err := acct.Bucket(bucketSubs).Put([]byte(d.Name), nil); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) setHash(ctx context.Context, name, hash string) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.leave()
	return s.update(ctx, nil, func(tx *bolt.Tx) error {
		users := tx.Bucket(bucketUsers)
		v := users.Get([]byte(name))
		if v == nil {
			return store.ErrNoSuchUser
		}
		var rec userRec
		if err := decodeJSON(v, &rec); err != nil {
			return err
		}
		rec.Hash = hash
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		return users.Put([]byte(name), b)
	})
}

// SetPassword implements store.Accounts.
func (s *Store) SetPassword(ctx context.Context, name, pw string) error {
	hash, err := backend.HashPassword(s.hasher, pw)
	if err != nil {
		return err
	}
	return s.setHash(ctx, name, hash)
}

// DeleteUser implements store.Accounts.
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.leave()
	var freed []uint64
	var gone []store.MailboxID
	err := s.update(ctx, nil, func(tx *bolt.Tx) error {
		freed, gone = nil, nil
		users := tx.Bucket(bucketUsers)
		v := users.Get([]byte(name))
		if v == nil {
			return store.ErrNoSuchUser
		}
		var rec userRec
		if err := decodeJSON(v, &rec); err != nil {
			return err
		}
		accts := tx.Bucket(bucketAccts)
		acct := accts.Bucket(u64key(rec.ID))
		if acct != nil {
			err := acct.Bucket(bucketMB).ForEach(func(k, _ []byte) error {
				gone = append(gone, store.MailboxID(keyU64(k)))
				return nil
			})
			if err != nil {
				return err
			}
			for _, id := range gone {
				f, err := purgeMailboxData(tx, uint64(id))
				if err != nil {
					return err
				}
				freed = append(freed, f...)
			}
			if err := accts.DeleteBucket(u64key(rec.ID)); err != nil {
				return err
			}
		}
		return users.Delete([]byte(name))
	})
	if err != nil {
		return err
	}
	s.blobs.remove(freed)
	for _, id := range gone {
		s.opts.Notifier.Publish(store.Notification{User: name, Mailbox: id, Origin: store.OriginOf(ctx)})
	}
	return nil
}

// ListUsers implements store.Accounts.
func (s *Store) ListUsers(ctx context.Context) ([]string, error) {
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	defer s.leave()
	var out []string
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketUsers).ForEach(func(k, _ []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	return out, err
}

func (s *Store) lookupUser(name string) (userRec, bool, error) {
	var rec userRec
	var found bool
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketUsers).Get([]byte(name))
		if v == nil {
			return nil
		}
		found = true
		return decodeJSON(v, &rec)
	})
	return rec, found, err
}

// Authenticate implements store.Accounts.
func (s *Store) Authenticate(ctx context.Context, name, pw string) (store.User, error) {
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	defer s.leave()
	rec, found, err := s.lookupUser(name)
	if err != nil {
		return nil, err
	}
	if err := backend.CheckLogin(s.hasher, rec.Hash, found, pw); err != nil {
		return nil, err
	}
	return &user{s: s, name: name, id: rec.ID}, nil
}

// OpenUser implements store.Store.
func (s *Store) OpenUser(ctx context.Context, name string) (store.User, error) {
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	defer s.leave()
	rec, found, err := s.lookupUser(name)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, store.ErrNoSuchUser
	}
	return &user{s: s, name: name, id: rec.ID}, nil
}
