package boltstore

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/crypto/bcrypt"

	"github.com/imapfsm/imapfsm/server/store"
)

// Environment of the crash-test child process.
const (
	envCrashDir = "IMAPFSM_CRASH_CHILD_DIR"
	envCrashRun = "IMAPFSM_CRASH_CHILD_RUN"
	// envCrashBatch makes workers 2 and 3 of the child use AppendBatch.
	envCrashBatch = "IMAPFSM_CRASH_CHILD_BATCH"
	crashUser     = "crash"
)

// crashBody returns the deterministic body of message number seq, of a size
// varying between a few bytes and ~200 KiB.
func crashBody(seq int) []byte {
	r := rand.New(rand.NewPCG(uint64(seq), 42))
	n := r.IntN(200 << 10)
	if seq%2 == 0 {
		n = r.IntN(defaultInlineMax) // half of them inline bodies
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "Subject: crash test %d\r\n\r\n", seq)
	for b.Len() < n {
		fmt.Fprintf(&b, "%d-%d ", seq, r.Uint32())
	}
	return b.Bytes()
}

// crashChild runs the child side when the test binary was re-executed by
// TestCrashKill: it appends with several goroutines and prints
// "ACK <seq> <uidvalidity> <uid> END" after each Append returned, until it
// is killed. It reports whether it ran.
func crashChild() bool {
	dir := os.Getenv(envCrashDir)
	if dir == "" {
		return false
	}
	run, _ := strconv.Atoi(os.Getenv(envCrashRun))
	s, err := Open(dir, Options{Options: store.Options{BcryptCost: bcrypt.MinCost}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	ctx := context.Background()
	u, err := s.OpenUser(ctx, crashUser)
	if err != nil {
		fmt.Fprintln(os.Stderr, "user:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	batch := os.Getenv(envCrashBatch) == "1"
	for w := range 4 {
		wg.Go(func() {
			if batch && w >= 2 {
				crashBatchWorker(ctx, u, run, w, &mu)
				return
			}
			for i := 0; ; i++ {
				seq := run*1_000_000 + w*100_000 + i
				res, err := u.Append(ctx, store.Inbox, store.NewMessage{
					Flags: []string{`\Seen`}, Body: bytes.NewReader(crashBody(seq)),
				})
				if err != nil {
					fmt.Fprintln(os.Stderr, "append:", err)
					os.Exit(3)
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "ACK %d %d %d END\n", seq, res.UIDValidity, res.UID)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return true
}

type ack struct {
	seq         int
	uidValidity uint32
	uid         uint32
}

func runCrashChild(t *testing.T, dir string, run int, after time.Duration, env ...string) []ack {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envCrashDir+"="+dir, envCrashRun+"="+strconv.Itoa(run))
	cmd.Env = append(cmd.Env, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var acks []ack
	done := make(chan struct{})
	first := make(chan struct{})
	go func() {
		defer close(done)
		signalled := false
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 5 || f[0] != "ACK" || f[4] != "END" {
				continue // a line cut by the kill
			}
			seq, _ := strconv.Atoi(f[1])
			uv, _ := strconv.ParseUint(f[2], 10, 32)
			uid, _ := strconv.ParseUint(f[3], 10, 32)
			acks = append(acks, ack{seq, uint32(uv), uint32(uid)})
			if !signalled {
				signalled = true
				close(first)
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	// Kill at a random moment after the first acknowledgement: on a
	// loaded machine the child may need a while to start appending, and
	// a kill before any acknowledgement proves nothing.
	select {
	case <-first:
	case <-done:
	case <-time.After(30 * time.Second):
	}
	time.Sleep(after)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	<-done
	err = cmd.Wait()
	require.Error(t, err, "the child must have been killed, stderr: %s", stderr.String())
	require.NotContains(t, stderr.String(), "append:", "child failed before the kill")
	return acks
}

// TestCrashKill appends from a child process, kills it with SIGKILL at a
// random moment, and checks that every acknowledged message is present byte
// for byte, that the store opens without repair, and that no orphan content
// file survives. Set IMAPFSM_CRASH_LONG=1 for many more rounds.
func TestCrashKill(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	rounds := 3
	if os.Getenv("IMAPFSM_CRASH_LONG") == "1" {
		rounds = 40
	}
	dir := t.TempDir()
	s := openTest(t, dir, Options{Options: store.Options{BcryptCost: bcrypt.MinCost}})
	require.NoError(t, s.CreateUser(context.Background(), crashUser, "pw"))
	require.NoError(t, s.Close())

	all := map[uint32]int{} // UID -> seq of every acknowledged message
	var uidValidity uint32
	for run := range rounds {
		delay := time.Duration(100+rand.IntN(400)) * time.Millisecond
		acks := runCrashChild(t, dir, run+1, delay)
		for _, a := range acks {
			if uidValidity == 0 {
				uidValidity = a.uidValidity
			}
			require.Equal(t, uidValidity, a.uidValidity)
			_, dup := all[a.uid]
			require.False(t, dup, "UID %d acknowledged twice", a.uid)
			all[a.uid] = a.seq
		}
		t.Logf("round %d: killed after %v, %d acknowledged (total %d)", run, delay, len(acks), len(all))
		verifyCrashState(t, dir, all)
	}
	require.NotEmpty(t, all, "the child never acknowledged an append")
}

func verifyCrashState(t *testing.T, dir string, all map[uint32]int) {
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
	present := map[uint32]bool{}
	for _, uid := range v.UIDs {
		present[uid] = true
	}
	for uid, seq := range all {
		require.True(t, present[uid], "acknowledged UID %d lost", uid)
		b, err := u.OpenBody(ctx, mi.ID, uid)
		require.NoError(t, err)
		got, err := io.ReadAll(b)
		require.NoError(t, b.Close())
		require.NoError(t, err)
		require.True(t, bytes.Equal(crashBody(seq), got), "UID %d body differs", uid)
	}
	assert.Equal(t, uint32(len(v.UIDs)), v.Messages)

	// Every content (file or inline body) is referenced and every
	// reference has its content.
	refs := map[uint64]bool{}
	inline := 0
	require.NoError(t, s.db.View(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketBlobs).ForEach(func(k, _ []byte) error {
			refs[keyU64(k)] = true
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket(bucketInline).ForEach(func(k, _ []byte) error {
			assert.True(t, refs[keyU64(k)], "orphan inline body %x", k)
			inline++
			return nil
		})
	}))
	files := inline
	require.NoError(t, filepath.WalkDir(filepath.Join(dir, "blobs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		id, perr := strconv.ParseUint(d.Name(), 16, 64)
		require.NoError(t, perr)
		assert.True(t, refs[id], "orphan content file %s", d.Name())
		files++
		return nil
	}))
	assert.Equal(t, len(refs), files, "referenced contents without file")
	tmp, err := os.ReadDir(filepath.Join(dir, "tmp"))
	require.NoError(t, err)
	assert.Empty(t, tmp)
}
