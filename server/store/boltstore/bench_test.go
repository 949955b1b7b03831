package boltstore

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/crypto/bcrypt"

	"github.com/imapfsm/imapfsm/server/store"
)

// bulkLoad adds n messages to a mailbox directly in large unsynced
// transactions, all sharing one content file, for benchmark setup. It keeps
// every invariant of the normal write path (counters, UID index, refs).
func bulkLoad(tb testing.TB, s *Store, u *user, mailbox string, n int) {
	tb.Helper()
	ctx := context.Background()
	res, err := u.Append(ctx, mailbox, store.NewMessage{Body: strings.NewReader("Subject: bulk\r\n\r\nbody\r\n")})
	require.NoError(tb, err)
	var content uint64
	require.NoError(tb, s.db.View(func(tx *bolt.Tx) error {
		var m msgRec
		data := tx.Bucket(bucketMboxes).Bucket(u64key(uint64(res.Mailbox)))
		if err := decodeMsg(data.Bucket(bucketMsg).Get(u32key(res.UID)), &m); err != nil {
			return err
		}
		content = m.Content
		return nil
	}))
	s.db.NoSync = true
	defer func() { s.db.NoSync = false }()
	date := time.Now().UnixNano()
	const perTx = 100_000
	for done := 1; done < n; {
		k := min(perTx, n-done)
		require.NoError(tb, s.db.Update(func(tx *bolt.Tx) error {
			acct, err := u.acct(tx)
			if err != nil {
				return err
			}
			rec, data, err := selectable(tx, acct, res.Mailbox)
			if err != nil {
				return err
			}
			msgs := data.Bucket(bucketMsg)
			msgs.FillPercent = 1.0 // keys ascend
			rec.ModSeq++
			uids := make([]uint32, 0, k)
			for i := range k {
				m := msgRec{Content: content, Size: 24, Date: date, ModSeq: rec.ModSeq}
				if i%3 == 0 {
					m.Flags.System = store.FlagSeen
				}
				uid := rec.UIDNext
				rec.UIDNext++
				if err := msgs.Put(u32key(uid), m.encode()); err != nil {
					return err
				}
				rec.account(&m, 1)
				uids = append(uids, uid)
			}
			if err := uidxAppend(data.Bucket(bucketUIDIdx), uids); err != nil {
				return err
			}
			refs := tx.Bucket(bucketBlobs)
			if err := refs.Put(u64key(content), encodeRefs(decodeRefs(refs.Get(u64key(content)))+uint32(k))); err != nil {
				return err
			}
			if err := u.appendLog(data, rec, store.ChangeAppend, store.UIDSet{{Start: uids[0], Stop: uids[len(uids)-1]}}); err != nil {
				return err
			}
			return putMailbox(acct, rec)
		}))
		done += k
	}
	require.NoError(tb, s.db.Sync())
}

func benchStore(b *testing.B) (*Store, *user) {
	b.Helper()
	s, err := Open(b.TempDir(), Options{Options: store.Options{BcryptCost: bcrypt.MinCost}})
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	require.NoError(b, s.CreateUser(ctx, "bench", "pw"))
	u, err := s.OpenUser(ctx, "bench")
	require.NoError(b, err)
	return s, u.(*user)
}

// BenchmarkAppend measures durable appends (group-committed metadata fsync;
// a 4 KiB body is inline in the database) of a 2 KiB message by G
// concurrent writers, into one mailbox or, with mailboxes=G, each writer
// into a mailbox of its own. One op is one acknowledged message.
func BenchmarkAppend(b *testing.B) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 128)
	for _, c := range []struct{ g, mailboxes int }{{1, 1}, {10, 1}, {10, 10}, {50, 1}} {
		b.Run(fmt.Sprintf("goroutines=%d/mailboxes=%d", c.g, c.mailboxes), func(b *testing.B) {
			_, u := benchStore(b)
			ctx := context.Background()
			names := []string{store.Inbox}
			for i := 1; i < c.mailboxes; i++ {
				name := fmt.Sprintf("box%d", i)
				_, err := u.CreateMailbox(ctx, name, 0)
				require.NoError(b, err)
				names = append(names, name)
			}
			var next, writer atomic.Int64
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for range c.g {
				name := names[int(writer.Add(1)-1)%len(names)]
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						if _, err := u.Append(ctx, name, store.NewMessage{Body: bytes.NewReader(body)}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
		})
	}
}

// BenchmarkMillion loads a 1,000,000-message mailbox once, then measures
// opening its view (the ordered UID list, as SELECT needs) and streaming the
// FLAGS of every message through Fetch.
func BenchmarkMillion(b *testing.B) {
	const n = 1_000_000
	s, u := benchStore(b)
	start := time.Now()
	bulkLoad(b, s, u, store.Inbox, n)
	b.Logf("bulk load of %d messages: %v", n, time.Since(start))
	ctx := context.Background()
	mi, err := u.Mailbox(ctx, store.Inbox)
	require.NoError(b, err)
	st, err := u.Status(ctx, store.Inbox)
	require.NoError(b, err)
	wantSeen := int(st.Messages - st.Unseen)

	b.Run("View", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v, err := u.View(ctx, mi.ID)
			if err != nil || len(v.UIDs) != n {
				b.Fatalf("view: %v, %d uids", err, len(v.UIDs))
			}
		}
	})
	b.Run("FetchFlags", func(b *testing.B) {
		b.ReportAllocs()
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		base, peak := ms.HeapAlloc, ms.HeapAlloc
		for b.Loop() {
			seen, i := 0, 0
			err := u.Fetch(ctx, mi.ID, store.AllUIDs(), store.FetchOptions{}, func(m *store.Message) error {
				if len(m.Flags) > 0 {
					seen++
				}
				if i++; i%100_000 == 0 {
					runtime.ReadMemStats(&ms)
					peak = max(peak, ms.HeapAlloc)
				}
				return nil
			})
			if err != nil || seen != wantSeen {
				b.Fatalf("fetch: %v, %d seen", err, seen)
			}
		}
		// Heap growth over the idle baseline while streaming: bounded by
		// the read chunk plus garbage not yet collected, not by n.
		b.ReportMetric(float64(peak-base)/(1<<20), "peak-heap-MB")
	})
	b.Run("FetchRange1000", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c := 0
			err := u.Fetch(ctx, mi.ID, store.UIDSet{{Start: 500_000, Stop: 500_999}}, store.FetchOptions{}, func(*store.Message) error {
				c++
				return nil
			})
			if err != nil || c != 1000 {
				b.Fatalf("fetch: %v, %d", err, c)
			}
		}
	})
}
