package load_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/imapfsm/imapfsm/server"
	"github.com/imapfsm/imapfsm/server/cmd/imapload/internal/imapc"
	"github.com/imapfsm/imapfsm/server/cmd/imapload/internal/load"
)

// rawIdle opens an IDLE session with a plain connection and no goroutine,
// so that the client side adds little beyond its socket to the process's
// memory.
func rawIdle(addr string) (net.Conn, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	nc.SetDeadline(time.Now().Add(time.Minute))
	r := bufio.NewReaderSize(nc, 512)
	expect := func(prefix string) error {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return err
			}
			if strings.HasPrefix(line, prefix) {
				return nil
			}
			if !strings.HasPrefix(line, "* ") {
				return fmt.Errorf("want %q, got %q", prefix, line)
			}
		}
	}
	steps := []struct{ send, want string }{
		{"", "* OK"},
		{"a LOGIN bench secret\r\n", "a OK"},
		{"b SELECT INBOX\r\n", "b OK"},
		{"c IDLE\r\n", "+"},
	}
	for _, s := range steps {
		if s.send != "" {
			if _, err := nc.Write([]byte(s.send)); err != nil {
				nc.Close()
				return nil, err
			}
		}
		if err := expect(s.want); err != nil {
			nc.Close()
			return nil, err
		}
	}
	nc.SetDeadline(time.Time{})
	return nc, nil
}

func idlersWanted(b *testing.B) int {
	n := 10000
	if v := os.Getenv("IMAPLOAD_IDLERS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("IMAPLOAD_IDLERS=%q: want a positive number", v)
		}
	}
	return n
}

// raiseFDLimit makes room for n client and n server sockets in this
// process.
func raiseFDLimit(b *testing.B, n int) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(err)
	}
	need := uint64(2*n + 64)
	if lim.Cur >= need {
		return
	}
	lim.Cur = need
	if lim.Max < need {
		lim.Max = need // allowed to root only
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Skipf("need %d file descriptors for %d idlers: %v (set IMAPLOAD_IDLERS lower or raise the limit)", need, n, err)
	}
}

func inUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse + m.MSpanInuse + m.MCacheInuse
}

// BenchmarkIdleConnections holds IMAPLOAD_IDLERS (default 10000) IDLE
// sessions on an in-process server and reports the memory each one costs
// the process (heap and stacks, client sockets included, which are a few
// hundred bytes), the goroutines each one holds, and the push latency from
// APPEND OK to EXISTS at every idler over a few APPENDs. With
// IMAPLOAD_HEAPPROFILE=file it writes a heap profile while the idlers are
// connected (inspect it with go tool pprof -sample_index=inuse_space). Run
// it alone:
//
//	go test ./server/cmd/imapload/internal/load -run '^$' -bench IdleConnections -benchtime 1x
func BenchmarkIdleConnections(b *testing.B) {
	n := idlersWanted(b)
	raiseFDLimit(b, n)
	addr := startServer(b, func(c *server.Config) {
		c.MaxConnections = n + 100
		c.MaxConnectionsPerIP = n + 100
		c.MaxConnectionsPerUser = n + 100
	})
	for b.Loop() {
		before := inUse()
		goroutinesBefore := runtime.NumGoroutine()
		conns := make([]net.Conn, n)
		var wg sync.WaitGroup
		sem := make(chan struct{}, 32)
		var failed sync.Once
		var setupErr error
		for i := range conns {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				c, err := rawIdle(addr)
				if err != nil {
					failed.Do(func() { setupErr = fmt.Errorf("idler %d: %w", i, err) })
					return
				}
				conns[i] = c
			})
		}
		wg.Wait()
		if setupErr != nil {
			b.Fatal(setupErr)
		}
		time.Sleep(200 * time.Millisecond) // let every session park in IDLE
		after := inUse()
		b.ReportMetric(float64(after-before)/float64(n), "B/idler")
		b.ReportMetric(float64(runtime.NumGoroutine()-goroutinesBefore)/float64(n), "goroutines/idler")
		if path := os.Getenv("IMAPLOAD_HEAPPROFILE"); path != "" {
			writeHeapProfile(b, path)
		}

		// Push latency: readers for every idler, then APPENDs.
		const rounds = 5
		arrivals := make([][rounds]int64, n)
		seen := make(chan struct{}, n)
		var readers sync.WaitGroup
		for i, c := range conns {
			readers.Go(func() {
				r := bufio.NewReaderSize(c, 256)
				round := 0
				for round < rounds {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if strings.HasSuffix(line, " EXISTS\r\n") {
						arrivals[i][round] = time.Now().UnixNano()
						round++
						seen <- struct{}{}
					}
				}
			})
		}
		app, err := imapc.Dialer{}.Dial(addr)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := app.Login("bench", "secret"); err != nil {
			b.Fatal(err)
		}
		var push load.Histogram
		for round := range rounds {
			if _, err := app.Append("INBOX", "", []byte("Subject: push\r\n\r\nround "+strconv.Itoa(round)+"\r\n")); err != nil {
				b.Fatal(err)
			}
			okAt := time.Now().UnixNano()
			timeout := time.After(30 * time.Second)
			for range n {
				select {
				case <-seen:
				case <-timeout:
					b.Fatalf("round %d: not every idler saw EXISTS within 30s", round)
				}
			}
			for i := range arrivals {
				push.Record(time.Duration(arrivals[i][round] - okAt))
			}
		}
		app.Logout()
		b.ReportMetric(float64(push.Percentile(50))/1e6, "push-p50-ms")
		b.ReportMetric(float64(push.Percentile(99))/1e6, "push-p99-ms")
		for _, c := range conns {
			c.Close()
		}
		readers.Wait()
	}
}

// writeHeapProfile writes the live heap to path.
func writeHeapProfile(b *testing.B, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}
