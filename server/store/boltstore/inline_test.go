package boltstore

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/imapfsm/imapfsm/server/store"
)

// TestInlineBodies checks that small bodies are kept in the database and
// large ones as files, that a store written before inline bodies existed
// (format version 1, files only) is upgraded on open and stays readable,
// and that a newer format version is refused.
func TestInlineBodies(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	small := "Subject: small\r\n\r\nhello\r\n"
	large := "Subject: large\r\n\r\n" + strings.Repeat("x", defaultInlineMax)

	// An old store: content files only, format version 1.
	s := openTest(t, dir, testOptions())
	s.inlineMax = 0
	require.NoError(t, s.CreateUser(ctx, "u", "pw"))
	u, err := s.OpenUser(ctx, "u")
	require.NoError(t, err)
	old, err := u.Append(ctx, store.Inbox, store.NewMessage{Body: strings.NewReader(small)})
	require.NoError(t, err)
	require.NoError(t, s.db.Update(func(tx *bolt.Tx) error {
		require.NoError(t, tx.DeleteBucket(bucketInline))
		return tx.Bucket(bucketMeta).Put(keyVersion, u32key(1))
	}))
	require.NoError(t, s.Close())

	s = openTest(t, dir, testOptions())
	u, err = s.OpenUser(ctx, "u")
	require.NoError(t, err)
	res, err := u.(store.BatchAppender).AppendBatch(ctx, store.Inbox, []store.NewMessage{
		{Body: strings.NewReader(small)}, {Body: strings.NewReader(large)},
	})
	require.NoError(t, err)
	one, err := u.Append(ctx, store.Inbox, store.NewMessage{Body: strings.NewReader(small)})
	require.NoError(t, err)

	read := func(uid uint32) string {
		b, err := u.OpenBody(ctx, old.Mailbox, uid)
		require.NoError(t, err, "UID %d", uid)
		defer b.Close()
		data, err := io.ReadAll(b)
		require.NoError(t, err)
		assert.Equal(t, int64(len(data)), b.Size())
		return string(data)
	}
	assert.Equal(t, small, read(old.UID), "the old content file is read")
	assert.Equal(t, small, read(res[0].UID))
	assert.Equal(t, large, read(res[1].UID))
	assert.Equal(t, small, read(one.UID))
	require.NoError(t, u.Fetch(ctx, old.Mailbox, store.UIDSetOf(one.UID), store.FetchOptions{Structure: true}, func(m *store.Message) error {
		assert.NotNil(t, m.Structure, "inline bodies are analysed")
		assert.Equal(t, int64(len(small)), m.Size)
		return nil
	}))

	where := map[uint32]bool{} // UID -> inline
	require.NoError(t, s.db.View(func(tx *bolt.Tx) error {
		assert.Equal(t, u32key(formatVersion), tx.Bucket(bucketMeta).Get(keyVersion), "upgraded on open")
		data := tx.Bucket(bucketMboxes).Bucket(u64key(uint64(old.Mailbox)))
		for _, uid := range []uint32{old.UID, res[0].UID, res[1].UID, one.UID} {
			var m msgRec
			require.NoError(t, decodeMsg(data.Bucket(bucketMsg).Get(u32key(uid)), &m))
			where[uid] = inlineBody(tx, m.Content) != nil
		}
		return nil
	}))
	assert.Equal(t, map[uint32]bool{old.UID: false, res[0].UID: true, res[1].UID: false, one.UID: true}, where)
	assert.Equal(t, 2, countFiles(t, dir+"/blobs"))

	// Mutant: without its inline body, a message is unreadable, so the
	// reads above did go through the inline bucket.
	require.NoError(t, s.db.Update(func(tx *bolt.Tx) error {
		var keys [][]byte
		require.NoError(t, tx.Bucket(bucketInline).ForEach(func(k, _ []byte) error {
			keys = append(keys, clone(k))
			return nil
		}))
		for _, k := range keys {
			require.NoError(t, tx.Bucket(bucketInline).Delete(k))
		}
		return nil
	}))
	_, err = u.OpenBody(ctx, old.Mailbox, one.UID)
	assert.ErrorIs(t, err, store.ErrNoSuchMessage)

	require.NoError(t, s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyVersion, u32key(formatVersion+1))
	}))
	require.NoError(t, s.Close())
	_, err = Open(dir, testOptions())
	assert.ErrorContains(t, err, "unsupported format version", "a newer format is refused")
}

// truncatedReader returns its data and then io.ErrUnexpectedEOF, as a
// literal reader does when the client goes away mid-literal.
type truncatedReader struct{ data []byte }

func (r *truncatedReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// TestInlineTruncatedBody checks that a small body whose reader fails with
// io.ErrUnexpectedEOF is refused, by Append and by AppendBatch, and not
// stored as a short message (io.ReadFull would have taken that error for
// the end of a short body: the mutant this test catches).
func TestInlineTruncatedBody(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir(), testOptions())
	defer s.Close()
	require.NoError(t, s.CreateUser(ctx, "u", "pw"))
	u, err := s.OpenUser(ctx, "u")
	require.NoError(t, err)
	_, err = u.Append(ctx, store.Inbox, store.NewMessage{Body: &truncatedReader{[]byte("From: x\r\n\r\nhalf")}})
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	_, err = u.(store.BatchAppender).AppendBatch(ctx, store.Inbox, []store.NewMessage{{Body: &truncatedReader{[]byte("half")}}})
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	st, err := u.Status(ctx, store.Inbox)
	require.NoError(t, err)
	assert.Zero(t, st.Messages)

	buf, small, err := readSmall(&truncatedReader{[]byte("abc")}, 10)
	assert.Error(t, err)
	assert.False(t, small)
	assert.Nil(t, buf)
}

// TestStagedBodiesAlike checks that Append, AppendBatch and Replace store a
// body alike, through the one staging path: a small body inline in the
// database with no content file, a large one as a content file; and that
// a Replace refused at its commit (the replaced message is gone) leaves no
// content file behind.
func TestStagedBodiesAlike(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTest(t, dir, testOptions())
	defer s.Close()
	require.NoError(t, s.CreateUser(ctx, "u", "pw"))
	u, err := s.OpenUser(ctx, "u")
	require.NoError(t, err)
	small := "Subject: small\r\n\r\nhello\r\n"
	large := "Subject: large\r\n\r\n" + strings.Repeat("x", defaultInlineMax)
	seed, err := u.Append(ctx, store.Inbox, store.NewMessage{Body: strings.NewReader(small)})
	require.NoError(t, err)
	inbox := seed.Mailbox

	ways := map[string]func(body string) store.AppendResult{
		"Append": func(body string) store.AppendResult {
			res, err := u.Append(ctx, store.Inbox, store.NewMessage{Body: strings.NewReader(body)})
			require.NoError(t, err)
			return res
		},
		"AppendBatch": func(body string) store.AppendResult {
			res, err := u.(store.BatchAppender).AppendBatch(ctx, store.Inbox, []store.NewMessage{{Body: strings.NewReader(body)}})
			require.NoError(t, err)
			return res[0]
		},
		"Replace": func(body string) store.AppendResult {
			// Of a small message, whose freed body frees no file.
			old, err := u.Append(ctx, store.Inbox, store.NewMessage{Body: strings.NewReader(small)})
			require.NoError(t, err)
			res, err := u.(store.Replacer).Replace(ctx, inbox, old.UID, store.Inbox, store.NewMessage{Body: strings.NewReader(body)})
			require.NoError(t, err)
			return res
		},
	}
	inline := func(uid uint32) (in bool) {
		require.NoError(t, s.db.View(func(tx *bolt.Tx) error {
			var m msgRec
			data := tx.Bucket(bucketMboxes).Bucket(u64key(uint64(inbox)))
			require.NoError(t, decodeMsg(data.Bucket(bucketMsg).Get(u32key(uid)), &m))
			in = inlineBody(tx, m.Content) != nil
			return nil
		}))
		return in
	}
	for _, name := range []string{"Append", "AppendBatch", "Replace"} {
		files := countFiles(t, dir+"/blobs")
		res := ways[name](small)
		assert.True(t, inline(res.UID), "%s: a small body is inline", name)
		assert.Equal(t, files, countFiles(t, dir+"/blobs"), "%s: a small body makes no content file", name)
		res = ways[name](large)
		assert.False(t, inline(res.UID), "%s: a large body is a file", name)
		assert.Equal(t, files+1, countFiles(t, dir+"/blobs"), "%s: a large body makes one content file", name)
	}

	files := countFiles(t, dir+"/blobs")
	_, err = u.(store.Replacer).Replace(ctx, inbox, seed.UID+1000, store.Inbox, store.NewMessage{Body: strings.NewReader(large)})
	require.ErrorIs(t, err, store.ErrNoSuchMessage)
	assert.Equal(t, files, countFiles(t, dir+"/blobs"), "a refused Replace leaves no content file")
}
