package boltstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/imapfsm/imapfsm/server/store"
)

func TestUIDIndex(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "x.db"), 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	var all []uint32
	for u := uint32(1); u <= 3*uidChunk+10; u++ {
		all = append(all, u*2)
	}
	tests := []struct {
		name   string
		remove []uint32
	}{
		{"none", nil},
		{"first", []uint32{2}},
		{"chunk boundary", []uint32{2 * uidChunk, 2*uidChunk + 2, 4 * uidChunk}},
		{"whole chunk", all[uidChunk : 2*uidChunk]},
		{"absent uids", []uint32{1, 3, 999999}},
		{"everything", all},
		{"sparse survivors", slices.DeleteFunc(slices.Clone(all), func(u uint32) bool { return u%200 == 0 || u == 2*uidChunk+2 })},
		{"few survivors", slices.DeleteFunc(slices.Clone(all), func(u uint32) bool { return u%200 != 0 })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, db.Update(func(tx *bolt.Tx) error {
				_ = tx.DeleteBucket([]byte("i"))
				b, err := tx.CreateBucket([]byte("i"))
				require.NoError(t, err)
				// Appends in uneven batches exercise filling the last chunk.
				for rest := all; len(rest) > 0; {
					n := min(len(rest), 700)
					require.NoError(t, uidxAppend(b, rest[:n]))
					rest = rest[n:]
				}
				require.NoError(t, uidxRemove(b, tc.remove))
				got, err := uidxLoad(b, 0)
				require.NoError(t, err)
				chunks := b.Stats().KeyN
				assert.LessOrEqual(t, chunks, len(got)/(uidChunk/4)+2, "chunks must not fragment")
				want := slices.DeleteFunc(slices.Clone(all), func(u uint32) bool { return slices.Contains(tc.remove, u) })
				assert.Equal(t, want, got)
				// Appending after removals keeps the order.
				require.NoError(t, uidxAppend(b, []uint32{1 << 30}))
				got, err = uidxLoad(b, 0)
				require.NoError(t, err)
				assert.Equal(t, append(want, 1<<30), got)
				return nil
			}))
		})
	}
}

func TestCodecRoundTrip(t *testing.T) {
	m := msgRec{Content: 7, Size: 1234, Date: -5, ModSeq: 99, Flags: store.FlagSet{System: store.FlagSeen | store.FlagDraft, Keywords: []string{"$a", "b"}}}
	var got msgRec
	require.NoError(t, decodeMsg(m.encode(), &got))
	assert.Equal(t, m, got)
	for _, bad := range [][]byte{nil, {2}, m.encode()[:20], append(m.encode()[:34], 5)} {
		assert.ErrorIs(t, decodeMsg(bad, &got), errCorrupt)
	}
	set := store.UIDSet{{Start: 1, Stop: 1}, {Start: 4, Stop: 4000000000}}
	c, err := decodeChange(3, encodeChange(store.ChangeFlags, set))
	require.NoError(t, err)
	assert.Equal(t, store.Change{ModSeq: 3, Kind: store.ChangeFlags, UIDs: set}, c)
	_, err = decodeChange(3, []byte{1})
	assert.ErrorIs(t, err, errCorrupt)
}

func TestOrphanCleanupOnOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTest(t, dir, testOptions())
	require.NoError(t, s.CreateUser(ctx, "o", "pw"))
	u, err := s.OpenUser(ctx, "o")
	require.NoError(t, err)
	res, err := u.Append(ctx, store.Inbox, store.NewMessage{Body: strings.NewReader("kept")})
	require.NoError(t, err)
	// Simulate a crash between rename-into-place and commit, a crash while
	// receiving, and a crash after an expunge committed but before the file
	// was removed.
	orphan := s.blobs.alloc()
	require.NoError(t, os.MkdirAll(s.blobs.shardDir(orphan), 0o700))
	require.NoError(t, os.WriteFile(s.blobs.path(orphan), []byte("orphan"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tmp", "in-123"), []byte("partial"), 0o600))
	var trashed uint64
	require.NoError(t, s.db.Update(func(tx *bolt.Tx) error {
		trashed = orphan + 1
		return tx.Bucket(bucketTrash).Put(u64key(trashed), nil)
	}))
	require.NoError(t, os.WriteFile(s.blobs.path(trashed), []byte("expunged"), 0o600))
	require.NoError(t, s.Close())

	s = openTest(t, dir, testOptions())
	defer s.Close()
	for _, p := range []string{s.blobs.path(orphan), s.blobs.path(trashed), filepath.Join(dir, "tmp", "in-123")} {
		_, err := os.Stat(p)
		assert.True(t, errors.Is(err, os.ErrNotExist), "%s must be removed", p)
	}
	u, err = s.OpenUser(ctx, "o")
	require.NoError(t, err)
	b, err := u.OpenBody(ctx, res.Mailbox, res.UID)
	require.NoError(t, err)
	data, err := io.ReadAll(b)
	require.NoError(t, err)
	require.NoError(t, b.Close())
	assert.Equal(t, "kept", string(data))
	assert.Greater(t, s.blobs.alloc(), trashed, "content IDs are not reused")
}

func TestExpungeRemovesFiles(t *testing.T) {
	for _, mode := range []struct {
		name      string
		inlineMax int64
	}{{"file", 0}, {"inline", defaultInlineMax}} {
		t.Run(mode.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			s := openTest(t, dir, testOptions())
			defer s.Close()
			s.inlineMax = mode.inlineMax
			require.NoError(t, s.CreateUser(ctx, "e", "pw"))
			u, err := s.OpenUser(ctx, "e")
			require.NoError(t, err)
			res, err := u.Append(ctx, store.Inbox, store.NewMessage{Flags: []string{`\Deleted`}, Body: strings.NewReader("gone")})
			require.NoError(t, err)
			_, err = u.Copy(ctx, res.Mailbox, store.UIDSetOf(res.UID), "Trash")
			require.NoError(t, err)
			count := func() int { return countContents(t, s, dir) }
			assert.Equal(t, 1, count(), "a copy shares the content")
			assert.Equal(t, mode.inlineMax == 0, countFiles(t, filepath.Join(dir, "blobs")) == 1, "stored as a file only without inline bodies")
			_, err = u.Expunge(ctx, res.Mailbox, nil)
			require.NoError(t, err)
			assert.Equal(t, 1, count(), "the copy still references it")
			require.NoError(t, u.DeleteMailbox(ctx, "Trash"))
			assert.Equal(t, 0, count())
			// The trash entries are forgotten by a later commit.
			_, err = u.CreateMailbox(ctx, "Trash", store.AttrTrash)
			require.NoError(t, err)
			require.NoError(t, s.db.View(func(tx *bolt.Tx) error {
				k, _ := tx.Bucket(bucketTrash).Cursor().First()
				assert.Nil(t, k)
				return nil
			}))
		})
	}
}

func TestLimits(t *testing.T) {
	ctx := context.Background()
	opts := testOptions()
	opts.MaxMessageSize = 10
	opts.MaxChangeLog = 3
	opts.MaxKeywords = 2
	opts.Analyzer = func(r io.Reader) ([]byte, error) {
		b, _ := io.ReadAll(r)
		if strings.Contains(string(b), "bad") {
			return nil, errors.New("unparseable")
		}
		return []byte("ok"), nil
	}
	dir := t.TempDir()
	s := openTest(t, dir, opts)
	defer s.Close()
	require.NoError(t, s.CreateUser(ctx, "l", "pw"))
	u, err := s.OpenUser(ctx, "l")
	require.NoError(t, err)
	_, err = u.Append(ctx, store.Inbox, store.NewMessage{Body: strings.NewReader("01234567890")})
	assert.ErrorIs(t, err, store.ErrTooBig)
	tmp, err := os.ReadDir(filepath.Join(dir, "tmp"))
	require.NoError(t, err)
	assert.Empty(t, tmp, "a refused body leaves no file")

	var first uint64
	for i := range 5 {
		body := fmt.Sprintf("ok %d", i)
		if i == 4 {
			body = "bad"
		}
		r, err := u.Append(ctx, store.Inbox, store.NewMessage{Body: strings.NewReader(body)})
		require.NoError(t, err, "a message the analyser rejects is still stored")
		if i == 0 {
			first = r.ModSeq
		}
	}
	mi, err := u.Mailbox(ctx, store.Inbox)
	require.NoError(t, err)
	id := mi.ID
	var structs [][]byte
	require.NoError(t, u.Fetch(ctx, id, store.AllUIDs(), store.FetchOptions{Structure: true}, func(m *store.Message) error {
		structs = append(structs, m.Structure)
		return nil
	}))
	assert.Equal(t, [][]byte{[]byte("ok"), []byte("ok"), []byte("ok"), []byte("ok"), nil}, structs)

	err = u.ChangesSince(ctx, id, first-1, func(store.Change) error { return nil })
	assert.ErrorIs(t, err, store.ErrChangesTruncated)
	var n int
	st, err := u.Status(ctx, store.Inbox)
	require.NoError(t, err)
	require.NoError(t, u.ChangesSince(ctx, id, st.HighestModSeq-3, func(store.Change) error { n++; return nil }))
	assert.Equal(t, 3, n)

	_, err = u.StoreFlags(ctx, id, store.AllUIDs(), store.FlagChange{Op: store.FlagsAdd, Flags: []string{"k1", "k2"}})
	require.NoError(t, err)
	_, err = u.StoreFlags(ctx, id, store.AllUIDs(), store.FlagChange{Op: store.FlagsAdd, Flags: []string{"k3"}})
	assert.ErrorIs(t, err, store.ErrLimit)
	_, err = u.StoreFlags(ctx, id, store.AllUIDs(), store.FlagChange{Op: store.FlagsAdd, Flags: []string{"K1"}})
	assert.NoError(t, err, "known keywords compare case-insensitively")
}

func TestOpenTwiceFailsFast(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, testOptions())
	defer s.Close()
	opts := testOptions()
	opts.LockTimeout = 50 * time.Millisecond
	_, err := Open(dir, opts)
	assert.Error(t, err, "the database is locked by the first store")
}

func TestGroupCommitBatches(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir(), testOptions())
	defer s.Close()
	require.NoError(t, s.CreateUser(ctx, "g", "pw"))
	u, err := s.OpenUser(ctx, "g")
	require.NoError(t, err)
	before := s.Stats()
	const writers, each = 20, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				_, err := u.Append(ctx, store.Inbox, store.NewMessage{Body: strings.NewReader(fmt.Sprintf("%d/%d", w, i))})
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	after := s.Stats()
	ops := after.Operations - before.Operations
	commits := after.Commits - before.Commits
	assert.Equal(t, uint64(writers*each), ops)
	assert.Less(t, commits, ops, "concurrent writers must share commits")
	t.Logf("%d operations in %d commits", ops, commits)
}

func TestBatchIsolatesFailures(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir(), testOptions())
	defer s.Close()
	errBad := errors.New("bad operation")
	var wg sync.WaitGroup
	const n = 60
	for i := range n {
		wg.Go(func() {
			// Every operation writes; every third then fails, every
			// seventh panics. Failed ones must leave no trace and must
			// not affect the others in their batch.
			err := s.update(ctx, nil, func(tx *bolt.Tx) error {
				if err := tx.Bucket(bucketMeta).Put([]byte(fmt.Sprintf("test-%02d", i)), []byte("x")); err != nil {
					return err
				}
				switch {
				case i%7 == 0:
					panic("boom")
				case i%3 == 0:
					return errBad
				}
				return nil
			})
			switch {
			case i%7 == 0:
				assert.ErrorContains(t, err, "boom")
			case i%3 == 0:
				assert.ErrorIs(t, err, errBad)
			default:
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	require.NoError(t, s.db.View(func(tx *bolt.Tx) error {
		for i := range n {
			v := tx.Bucket(bucketMeta).Get([]byte(fmt.Sprintf("test-%02d", i)))
			assert.Equal(t, i%7 != 0 && i%3 != 0, v != nil, i)
		}
		return nil
	}))
}

// TestCodecSaveDate: the save date rides after the keywords behind its
// tag; a record written before save dates were kept (no tag) still decodes,
// with SaveDate 0, and a tag this program does not know ends the record.
func TestCodecSaveDate(t *testing.T) {
	m := msgRec{Content: 7, Size: 1234, Date: -5, ModSeq: 99, Flags: store.FlagSet{Keywords: []string{"$a"}}, SaveDate: 1700000000123456789}
	var got msgRec
	require.NoError(t, decodeMsg(m.encode(), &got))
	assert.Equal(t, m, got)

	// The format of the first release, written out by hand: version 1,
	// content 7, size 1234, date 5, modseq 99, \Seen, no keyword.
	old := []byte{1, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 4, 210, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 99, byte(store.FlagSeen), 0}
	got.SaveDate = 42
	require.NoError(t, decodeMsg(old, &got))
	assert.Equal(t, msgRec{Content: 7, Size: 1234, Date: 5, ModSeq: 99, Flags: store.FlagSet{System: store.FlagSeen}}, got)
	m.SaveDate = 0
	assert.Equal(t, len(old)+3, len(m.encode()), "no save date, no tag: the old layout")

	rec := msgRec{Content: 7, SaveDate: 9}
	withSave := rec.encode()
	require.NoError(t, decodeMsg(append(withSave, 0x7f, 1, 2, 3), &got))
	assert.Equal(t, int64(9), got.SaveDate, "an unknown tag after the known ones is ignored")
	assert.ErrorIs(t, decodeMsg(withSave[:len(withSave)-1], &got), errCorrupt, "a cut save date")
}
