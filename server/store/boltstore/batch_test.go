package boltstore

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/crypto/bcrypt"

	"github.com/imapfsm/imapfsm/server/store"
)

// failingReader yields some bytes, then an error.
type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("read failed")
	}
	k := min(r.n, len(p))
	for i := range p[:k] {
		p[i] = 'x'
	}
	r.n -= k
	return k, nil
}

// countContents counts the contents of a store: files and inline bodies.
func countContents(t *testing.T, s *Store, dir string) int {
	t.Helper()
	n := countFiles(t, filepath.Join(dir, "blobs"))
	require.NoError(t, s.db.View(func(tx *bolt.Tx) error {
		n += tx.Bucket(bucketInline).Stats().KeyN
		return nil
	}))
	return n
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	require.NoError(t, filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return err
	}))
	return n
}

// TestAppendBatchFailureLeavesNothing checks that a batch failing in any
// phase (reading a body, a too big body, the commit) leaves no message, no
// content file and no change behind.
func TestAppendBatchFailureLeavesNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTest(t, dir, Options{Options: store.Options{BcryptCost: 4, MaxMessageSize: 1 << 16, Analyzer: testOptions().Analyzer}})
	defer s.Close()
	require.NoError(t, s.CreateUser(ctx, "u", "pw"))
	su, err := s.OpenUser(ctx, "u")
	require.NoError(t, err)
	u := su.(*user)
	_, err = u.Append(ctx, store.Inbox, store.NewMessage{Body: strings.NewReader("Subject: first\r\n\r\n")})
	require.NoError(t, err)
	before, err := u.Status(ctx, store.Inbox)
	require.NoError(t, err)
	files := countContents(t, s, dir)

	msgs := func(bad io.Reader, at int) []store.NewMessage {
		var out []store.NewMessage
		for i := range 100 {
			var r io.Reader = strings.NewReader(fmt.Sprintf("Subject: %d\r\n\r\nbody\r\n", i))
			if i == at {
				r = bad
			}
			out = append(out, store.NewMessage{Body: r})
		}
		return out
	}
	cases := map[string][]store.NewMessage{
		"read error":    msgs(&failingReader{n: 1000}, 70),
		"too big":       msgs(bytes.NewReader(make([]byte, 1<<17)), 99),
		"first too big": msgs(bytes.NewReader(make([]byte, 1<<17)), 0),
	}
	for name, batch := range cases {
		_, err := u.AppendBatch(ctx, store.Inbox, batch)
		require.Error(t, err, name)
		after, err := u.Status(ctx, store.Inbox)
		require.NoError(t, err)
		require.Equal(t, before, after, name)
		require.Equal(t, files, countContents(t, s, dir), name)
		require.Equal(t, 0, countFiles(t, filepath.Join(dir, "tmp")), name)
	}
	_, err = u.AppendBatch(ctx, store.Inbox, msgs(&failingReader{}, 1))
	require.ErrorContains(t, err, "message 2 of batch")
	_, err = u.AppendBatch(ctx, store.Inbox, msgs(bytes.NewReader(make([]byte, 1<<17)), 5))
	require.ErrorIs(t, err, store.ErrTooBig)

	// A failure inside the commit: the keyword limit of the mailbox.
	var many []store.NewMessage
	for i := range DefaultMaxKeywords + 1 {
		many = append(many, store.NewMessage{Flags: []string{fmt.Sprintf("kw%d", i)}, Body: strings.NewReader("x")})
	}
	_, err = u.AppendBatch(ctx, store.Inbox, many)
	require.Error(t, err)
	after, err := u.Status(ctx, store.Inbox)
	require.NoError(t, err)
	require.Equal(t, before, after)
	require.Equal(t, files, countContents(t, s, dir))

	// Cancelled before it starts.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = u.AppendBatch(cctx, store.Inbox, msgs(strings.NewReader("x"), 0))
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, files, countContents(t, s, dir))

	// The store is still usable and the next batch follows on.
	res, err := u.AppendBatch(ctx, store.Inbox, msgs(strings.NewReader("x"), 0))
	require.NoError(t, err)
	require.Len(t, res, 100)
	require.Equal(t, before.UIDNext, res[0].UID)
	require.Equal(t, files+100, countContents(t, s, dir))
}

// TestAppendBatchOneCommit checks that a batch is one commit and one
// notification, however many messages it holds.
func TestAppendBatchOneCommit(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir(), testOptions())
	defer s.Close()
	require.NoError(t, s.CreateUser(ctx, "u", "pw"))
	u, err := s.OpenUser(ctx, "u")
	require.NoError(t, err)
	mi, err := u.Mailbox(ctx, store.Inbox)
	require.NoError(t, err)
	ch, unsubscribe := s.Notifier().Subscribe("u", mi.ID)
	defer unsubscribe()
	var msgs []store.NewMessage
	for i := range 300 {
		msgs = append(msgs, store.NewMessage{Body: strings.NewReader(fmt.Sprintf("Subject: %d\r\n\r\n", i))})
	}
	commits := s.Stats().Commits
	res, err := u.(store.BatchAppender).AppendBatch(ctx, store.Inbox, msgs)
	require.NoError(t, err)
	require.Len(t, res, 300)
	require.Equal(t, commits+1, s.Stats().Commits)
	n := <-ch
	require.Equal(t, res[0].ModSeq, n.HighestModSeq)
	select {
	case n := <-ch:
		t.Fatalf("second notification %+v", n)
	default:
	}
}

// BenchmarkAppendBatch measures durable batch appends of 4 KiB messages,
// 256 per batch.
func BenchmarkAppendBatch(b *testing.B) {
	ctx := context.Background()
	s, err := Open(b.TempDir(), testOptions())
	require.NoError(b, err)
	defer s.Close()
	require.NoError(b, s.CreateUser(ctx, "u", "pw"))
	u, err := s.OpenUser(ctx, "u")
	require.NoError(b, err)
	body := bytes.Repeat([]byte("0123456789abcdef"), 256)
	const n = 256
	msgs := make([]store.NewMessage, n)
	b.SetBytes(n * int64(len(body)))
	for b.Loop() {
		for i := range msgs {
			msgs[i] = store.NewMessage{Body: bytes.NewReader(body)}
		}
		_, err := u.(store.BatchAppender).AppendBatch(ctx, store.Inbox, msgs)
		require.NoError(b, err)
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// Crash-test batches: message number seq of a batch worker is
// run*1_000_000 + worker*100_000 + batch*100 + k, where k is its index in
// the batch, so seq/100 names its batch.
const crashBatchMax = 40

// crashBatchSize returns the deterministic size of the batch key.
func crashBatchSize(key int) int {
	return 1 + rand.New(rand.NewPCG(uint64(key), 7)).IntN(crashBatchMax)
}

// crashBatchWorker appends batches until the process is killed, printing
// an ACK line for each message of a batch once AppendBatch returned.
func crashBatchWorker(ctx context.Context, u store.User, run, w int, mu *sync.Mutex) {
	for b := 0; b < 1000; b++ {
		key := (run*1_000_000 + w*100_000 + b*100) / 100
		msgs := make([]store.NewMessage, crashBatchSize(key))
		for k := range msgs {
			msgs[k] = store.NewMessage{Flags: []string{`\Seen`}, Body: bytes.NewReader(crashBody(key*100 + k))}
		}
		res, err := u.(store.BatchAppender).AppendBatch(ctx, store.Inbox, msgs)
		if err != nil {
			fmt.Fprintln(os.Stderr, "append:", err)
			os.Exit(3)
		}
		mu.Lock()
		for k, r := range res {
			fmt.Fprintf(os.Stdout, "ACK %d %d %d END\n", key*100+k, r.UIDValidity, r.UID)
		}
		mu.Unlock()
	}
	select {}
}

// TestCrashKillBatch is TestCrashKill with two of the four writers using
// AppendBatch. Besides the checks of TestCrashKill (every acknowledged
// message intact, Open needs no repair, no orphan content file), it checks
// that every batch is visible whole or not at all, even one committed
// but not yet acknowledged when the process died, with consecutive UIDs in
// batch order. Set IMAPFSM_CRASH_LONG=1 for many more rounds.
func TestCrashKillBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	rounds := 4
	if os.Getenv("IMAPFSM_CRASH_LONG") == "1" {
		rounds = 40
	}
	dir := t.TempDir()
	s := openTest(t, dir, Options{Options: store.Options{BcryptCost: bcrypt.MinCost}})
	require.NoError(t, s.CreateUser(context.Background(), crashUser, "pw"))
	require.NoError(t, s.Close())

	all := map[uint32]int{}
	batched := 0
	// On a loaded machine a batch may take longer than the random delay
	// to be acknowledged; extra rounds with a longer delay make sure at
	// least one batch is acknowledged before a kill.
	for run := 0; run < rounds || (batched == 0 && run < rounds+5); run++ {
		delay := time.Duration(100+rand.IntN(600)) * time.Millisecond
		if run >= rounds {
			delay = time.Duration(run-rounds+1) * 2 * time.Second
		}
		acks := runCrashChild(t, dir, run+1, delay, envCrashBatch+"=1")
		for _, a := range acks {
			_, dup := all[a.uid]
			require.False(t, dup, "UID %d acknowledged twice", a.uid)
			all[a.uid] = a.seq
			if a.seq%1_000_000 >= 200_000 {
				batched++
			}
		}
		t.Logf("round %d: killed after %v, %d acknowledged (total %d, %d in batches)", run, delay, len(acks), len(all), batched)
		verifyCrashState(t, dir, all)
		verifyBatchesWhole(t, dir)
	}
	require.NotZero(t, batched, "no batch was acknowledged")
}

// verifyBatchesWhole reads every stored message and checks that each batch
// present is complete, in order, on consecutive UIDs.
func verifyBatchesWhole(t *testing.T, dir string) {
	t.Helper()
	ctx := context.Background()
	s := openTest(t, dir, Options{Options: store.Options{BcryptCost: bcrypt.MinCost}})
	defer func() { require.NoError(t, s.Close()) }()
	u, err := s.OpenUser(ctx, crashUser)
	require.NoError(t, err)
	mi, err := u.Mailbox(ctx, store.Inbox)
	require.NoError(t, err)
	v, err := u.View(ctx, mi.ID)
	require.NoError(t, err)
	batches := map[int][]uint32{} // batch key -> UIDs by k
	for _, uid := range v.UIDs {
		b, err := u.OpenBody(ctx, mi.ID, uid)
		require.NoError(t, err)
		line, err := bufio.NewReader(b).ReadString('\n')
		require.NoError(t, b.Close())
		require.NoError(t, err)
		var seq int
		_, err = fmt.Sscanf(line, "Subject: crash test %d", &seq)
		require.NoError(t, err, "UID %d", uid)
		if seq%1_000_000 < 200_000 {
			continue // a single Append
		}
		key, k := seq/100, seq%100
		uids := batches[key]
		for len(uids) <= k {
			uids = append(uids, 0)
		}
		require.Zero(t, uids[k], "message %d stored twice", seq)
		uids[k] = uid
		batches[key] = uids
	}
	for key, uids := range batches {
		require.Len(t, uids, crashBatchSize(key), "batch %d incomplete", key)
		for k, uid := range uids {
			require.Equal(t, uids[0]+uint32(k), uid, "batch %d: message %d missing or out of order: %v", key, k, uids)
		}
	}
}

// countingReader counts the reads of a body.
type countingReader struct {
	r     io.Reader
	reads int
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.reads++
	return c.r.Read(p)
}

// TestAppendPrecheckReadsNoBody checks that Append and AppendBatch share
// the precheck: a mailbox that does not exist or is a \Noselect
// placeholder is refused before any body is read or written.
func TestAppendPrecheckReadsNoBody(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTest(t, dir, testOptions())
	defer s.Close()
	require.NoError(t, s.CreateUser(ctx, "u", "pw"))
	u, err := s.OpenUser(ctx, "u")
	require.NoError(t, err)
	_, err = u.CreateMailbox(ctx, "Parent/Child", 0)
	require.NoError(t, err)
	require.NoError(t, u.DeleteMailbox(ctx, "Parent"))
	files := countFiles(t, filepath.Join(dir, "blobs"))

	for _, tc := range []struct {
		mailbox string
		want    error
	}{{"Nonexistent", store.ErrNoSuchMailbox}, {"Parent", store.ErrNoselect}} {
		body := &countingReader{r: strings.NewReader("Subject: x\r\n\r\nx\r\n")}
		_, err := u.Append(ctx, tc.mailbox, store.NewMessage{Body: body})
		require.ErrorIs(t, err, tc.want, "Append to %s", tc.mailbox)
		require.Zero(t, body.reads, "Append to %s read the body", tc.mailbox)

		bodies := []*countingReader{
			{r: strings.NewReader("Subject: a\r\n\r\na\r\n")},
			{r: strings.NewReader("Subject: b\r\n\r\nb\r\n")},
		}
		_, err = u.(store.BatchAppender).AppendBatch(ctx, tc.mailbox, []store.NewMessage{{Body: bodies[0]}, {Body: bodies[1]}})
		require.ErrorIs(t, err, tc.want, "AppendBatch to %s", tc.mailbox)
		require.Zero(t, bodies[0].reads+bodies[1].reads, "AppendBatch to %s read a body", tc.mailbox)
	}
	require.Equal(t, files, countFiles(t, filepath.Join(dir, "blobs")), "no content file left")
}
