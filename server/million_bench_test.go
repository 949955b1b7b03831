package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/internal/mailmsg"
	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/boltstore"
	"github.com/imapfsm/imapfsm/server/store/pgstore"
	"github.com/imapfsm/imapfsm/server/store/pgstore/pgtest"
)

// millionEnv enables BenchmarkMillionMailbox; its value is the number of
// messages (1000000 for the figures in the README). Building the mailbox
// takes minutes, so the benchmark is kept out of ordinary runs.
const millionEnv = "IMAPFSM_BENCH_MILLION"

// millionStoreEnv selects the store BenchmarkMillionMailbox measures:
// "bolt" (the default, the embedded store) or "pg" (pgstore on the
// PostgreSQL server of the pgtest package, in a schema of its own).
const millionStoreEnv = "IMAPFSM_BENCH_STORE"

// millionAnalyzeEnv, when set with IMAPFSM_BENCH_STORE=pg, runs ANALYZE
// on the schema after the mailbox is built, as autovacuum does some time
// after a bulk import: without it the planner has no statistics on the
// new rows yet.
const millionAnalyzeEnv = "IMAPFSM_BENCH_ANALYZE"

// millionStore opens the store named by IMAPFSM_BENCH_STORE. built is to
// be called once the mailbox is built.
func millionStore(b *testing.B) (st store.Store, built func()) {
	opts := store.Options{BcryptCost: 4, Analyzer: mailmsg.Analyze}
	switch kind := os.Getenv(millionStoreEnv); kind {
	case "", "bolt":
		st, err := boltstore.Open(b.TempDir(), boltstore.Options{Options: opts})
		require.NoError(b, err)
		return st, func() {}
	case "pg":
		url, schema := pgtest.Schema(b)
		st, err := pgstore.Open(context.Background(), url, pgstore.Options{Options: opts, Schema: schema})
		require.NoError(b, err)
		return st, func() {
			if os.Getenv(millionAnalyzeEnv) == "" {
				return
			}
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, url)
			require.NoError(b, err)
			defer conn.Close(ctx)
			start := time.Now()
			_, err = conn.Exec(ctx, `ANALYZE `+pgx.Identifier{schema, "messages"}.Sanitize())
			require.NoError(b, err)
			b.Logf("ANALYZE messages in %v", time.Since(start))
		}
	default:
		b.Fatalf("%s=%q: want bolt or pg", millionStoreEnv, kind)
		return nil, nil
	}
}

// millionMessage is message i of the large mailbox: small, with a unique
// Message-ID and subject; every third is \Seen, every hundredth \Flagged.
func millionMessage(i int) store.NewMessage {
	var flags []string
	if i%3 == 0 {
		flags = append(flags, `\Seen`)
	}
	if i%100 == 0 {
		flags = append(flags, `\Flagged`)
	}
	body := fmt.Sprintf("From: sender%d@example.org\r\nSubject: item %d\r\nMessage-ID: <m%d@example.org>\r\n\r\nbody %d\r\n", i%97, i, i, i)
	return store.NewMessage{Flags: flags, Body: strings.NewReader(body)}
}

// procStatus returns a field of /proc/self/status in bytes (a "kB"
// value such as VmHWM or RssAnon), or 0.
func procStatus(field string) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// peakRSS returns the process's peak resident set (VmHWM) in bytes; reset
// starts a new peak from the current resident set. It counts the pages of
// a memory-mapped store file that were read, not only the heap.
func peakRSS(reset bool) uint64 {
	if reset {
		_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
		return 0
	}
	return procStatus("VmHWM")
}

// heapPeak samples the live heap and the anonymous resident set (RssAnon:
// the heap and stacks as the kernel sees them, without mapped files) every
// few milliseconds until stop is called, which returns their peaks.
func heapPeak() (stop func() (heap, anon uint64)) {
	var peak, anonPeak atomic.Uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			if a := procStatus("RssAnon"); a > anonPeak.Load() {
				anonPeak.Store(a)
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return func() (uint64, uint64) {
		close(done)
		<-finished
		return peak.Load(), anonPeak.Load()
	}
}

// count sends a command and reads its response, counting the untagged
// lines that start with prefix without keeping them (bounded client
// memory), and requires OK.
func (c *client) count(tag, command, prefix string) int {
	c.t.Helper()
	c.send(tag + " " + command + "\r\n")
	n := 0
	start := true // the next slice begins a line
	for {
		c.nc.SetReadDeadline(time.Now().Add(10 * time.Minute)) // SEARCH HEADER answers only at the end
		l, err := c.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer (a large SEARCH result):
			// only its start is looked at.
			if start && strings.HasPrefix(string(l), prefix) {
				n++
			}
			start = false
			continue
		}
		require.NoError(c.t, err)
		if start && strings.HasPrefix(string(l), tag+" ") {
			require.True(c.t, strings.HasPrefix(string(l), tag+" OK"), "%s -> %s", command, l)
			return n
		}
		if start && strings.HasPrefix(string(l), prefix) {
			n++
		}
		start = true
	}
}

// BenchmarkMillionMailbox measures a mailbox of IMAPFSM_BENCH_MILLION
// messages on the store IMAPFSM_BENCH_STORE names (bolt, the default, or
// pg) through the IMAP engine: SELECT, UID FETCH 1:* (FLAGS) streamed
// (peak heap, peak RSS and peak anonymous RSS over the idle process), UID
// SEARCH on a flag and on flags with a header, a QRESYNC SELECT after
// 1,000 flag changes, EXPUNGE of 10,000 messages, and UID SEARCH on a
// header. The mailbox is built once with AppendBatch (the import path),
// in batches of 10,000.
func BenchmarkMillionMailbox(b *testing.B) {
	n, _ := strconv.Atoi(os.Getenv(millionEnv))
	if n <= 0 {
		b.Skipf("set %s=1000000 to run", millionEnv)
	}
	st, built := millionStore(b)
	b.Cleanup(func() { st.Close() })
	ctx := context.Background()
	require.NoError(b, st.CreateUser(ctx, "demo", "demo"))
	u, err := st.OpenUser(ctx, "demo")
	require.NoError(b, err)
	start := time.Now()
	const batch = 10_000
	for i := 0; i < n; i += batch {
		msgs := make([]store.NewMessage, 0, batch)
		for j := i; j < min(i+batch, n); j++ {
			msgs = append(msgs, millionMessage(j))
		}
		_, err := u.(store.BatchAppender).AppendBatch(ctx, store.Inbox, msgs)
		require.NoError(b, err)
		if done := i + batch; done%100_000 == 0 && done < n {
			b.Logf("built %d messages in %v", done, time.Since(start))
		}
	}
	build := time.Since(start)
	b.Logf("built %d messages with AppendBatch in %v (%.0f msgs/s)", n, build, float64(n)/build.Seconds())
	built()

	srv, err := New(Config{
		Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		AllowInsecureAuth: true, AuthFailureDelay: -1,
	})
	require.NoError(b, err)
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	ts := &testServer{t: b, srv: srv}
	c := ts.dial()
	c.login()
	exists := fmt.Sprintf("* %d EXISTS", n)

	b.Run("Select", func(b *testing.B) {
		c.t = b
		for b.Loop() {
			require.Equal(b, 1, c.count("S", "SELECT INBOX", exists))
		}
	})
	b.Run("UIDFetchAllFlags", func(b *testing.B) {
		c.t = b
		c.ok("S", "SELECT INBOX")
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		baseHeap := ms.HeapAlloc
		peakRSS(true)
		baseRSS := peakRSS(false)
		baseAnon := procStatus("RssAnon")
		stop := heapPeak()
		for b.Loop() {
			require.Equal(b, n, c.count("F", "UID FETCH 1:* (FLAGS)", "* "))
		}
		heap, anon := stop()
		// The sampled peak includes garbage not yet collected, which the
		// collector lets grow to about the live heap (GOGC=100) whatever
		// the command keeps; heap-before is that live heap.
		b.ReportMetric(float64(baseHeap)/(1<<20), "heap-before-MB")
		b.ReportMetric(float64(heap-baseHeap)/(1<<20), "peak-heap-growth-MB")
		b.ReportMetric(float64(baseRSS)/(1<<20), "RSS-before-MB")
		b.ReportMetric(float64(peakRSS(false))/(1<<20), "peak-RSS-MB")
		b.ReportMetric(float64(baseAnon)/(1<<20), "anon-RSS-before-MB")
		b.ReportMetric(float64(anon)/(1<<20), "peak-anon-RSS-MB")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/fetch")
	})
	b.Run("SearchFlag", func(b *testing.B) {
		c.t = b
		c.ok("S", "SELECT INBOX")
		for b.Loop() {
			require.Equal(b, 1, c.count("s", "UID SEARCH FLAGGED", "* SEARCH 1 101 "))
		}
	})
	b.Run("SearchFlagAndHeader", func(b *testing.B) {
		// Flag keys with a header key: the flag keys (answered by the
		// store's flag search where it has one) choose the messages
		// whose headers are read. Message n/2 is \Flagged and not \Seen.
		c.t = b
		c.ok("S", "SELECT INBOX")
		for b.Loop() {
			require.Equal(b, 1, c.count("a", fmt.Sprintf("UID SEARCH UNSEEN FLAGGED HEADER Message-ID <m%d@example.org>", n/2), fmt.Sprintf("* SEARCH %d", n/2+1)))
		}
	})
	b.Run("QresyncAfter1000Changes", func(b *testing.B) {
		c := ts.dial()
		c.t = b
		c.login()
		c.ok("E", "ENABLE QRESYNC")
		lines := c.ok("S", "SELECT INBOX")
		var uidValidity, modseq string
		for _, l := range lines {
			if v, ok := strings.CutPrefix(l, "* OK [UIDVALIDITY "); ok {
				uidValidity, _, _ = strings.Cut(v, "]")
			}
			if v, ok := strings.CutPrefix(l, "* OK [HIGHESTMODSEQ "); ok {
				modseq, _, _ = strings.Cut(v, "]")
			}
		}
		require.NotEmpty(b, modseq)
		// 1,000 changes spread over the mailbox, from another session.
		w := ts.dial()
		w.t = b
		w.login()
		w.ok("S", "SELECT INBOX")
		for i := range 1000 {
			w.ok("W", fmt.Sprintf("UID STORE %d +FLAGS.SILENT (\\Answered)", 1+i*(n/1000)))
		}
		w.ok("C", "CLOSE")
		for b.Loop() {
			c.ok("U", "UNSELECT")
			got := c.count("Q", fmt.Sprintf("SELECT INBOX (QRESYNC (%s %s))", uidValidity, modseq), "* ")
			require.GreaterOrEqual(b, got, 1000)
		}
	})
	b.Run("Expunge10000", func(b *testing.B) {
		// A fresh session: the one above has 1,000 flag updates pending,
		// which the synchronous pipe would deliver only as it is read.
		c := ts.dial()
		c.t = b
		c.login()
		c.ok("S", "SELECT INBOX")
		var total time.Duration
		for i := 0; b.Loop(); i++ {
			b.StopTimer()
			lo := 1 + i*10_000
			c.ok("D", fmt.Sprintf("UID STORE %d:%d +FLAGS.SILENT (\\Deleted)", lo, lo+9_999))
			b.StartTimer()
			t0 := time.Now()
			require.Equal(b, 10_000, c.count("X", "EXPUNGE", "* "))
			total += time.Since(t0)
		}
	})
	b.Run("SearchHeader", func(b *testing.B) {
		if n/2+1 <= 10_000 {
			b.Skip("the EXPUNGE above removed the message searched for")
		}
		c.t = b
		c.ok("S", "SELECT INBOX")
		// Last because it is the slowest on pgstore (a body read per
		// message); UID n/2+1 is above the 10,000 expunged.
		for b.Loop() {
			require.Equal(b, 1, c.count("h", fmt.Sprintf("UID SEARCH HEADER Message-ID <m%d@example.org>", n/2), fmt.Sprintf("* SEARCH %d", n/2+1)))
		}
	})
}
