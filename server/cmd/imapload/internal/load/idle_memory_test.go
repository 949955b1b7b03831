//go:build linux

package load_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server"
	"github.com/imapfsm/imapfsm/server/cmd/imapload/internal/imapc"
	"github.com/imapfsm/imapfsm/server/cmd/imapload/internal/load"
	"github.com/imapfsm/imapfsm/server/internal/memconn"
)

// envTransport selects how the idle benchmarks connect the idlers:
// "tcp" (the default: loopback sockets, the idlers in a child process)
// or "memory" (in-memory connections, memconn, with the idlers in the
// benchmark's own process, so that no file descriptor limit applies).
const envTransport = "IMAPLOAD_TRANSPORT"

// memoryTransport reports whether IMAPLOAD_TRANSPORT asks for in-memory
// connections.
func memoryTransport(b *testing.B) bool {
	switch v := os.Getenv(envTransport); v {
	case "", "tcp":
		return false
	case "memory":
		return true
	default:
		b.Fatalf("%s=%q: want tcp or memory", envTransport, v)
		return false
	}
}

// memIdlers is the client side of the in-memory idle benchmarks: the
// client ends of n connections, read by the one goroutine that calls
// round (as the socket client reads its sockets with one epoll loop). A
// connection whose buffer gets data puts its index on ready.
type memIdlers struct {
	conns []*memconn.Conn
	ready chan int32
	carry [][]byte // a line split between reads
	buf   []byte
}

// watch makes arrivals on conns reach ready.
func watch(conns []*memconn.Conn) *memIdlers {
	// At most one index per connection waits on ready for its data
	// (the wake-up runs when data reaches an empty buffer, and round
	// drains the buffer after taking the index), and at most one more
	// for its close while close unwatches it: twice the connections
	// never fill it.
	m := &memIdlers{conns: conns, ready: make(chan int32, 2*len(conns)), carry: make([][]byte, len(conns)), buf: make([]byte, 4096)}
	for i, c := range conns {
		c.SetReadNotify(func() { m.ready <- int32(i) })
	}
	return m
}

// round waits until every idler has received an EXISTS line and records
// the latency of each after start (UnixNano).
func (m *memIdlers) round(b *testing.B, start int64, h *load.Histogram) {
	seen := make([]bool, len(m.conns))
	pending := len(m.conns)
	marker := []byte(" EXISTS\r\n")
	timeout := time.NewTimer(5 * time.Minute)
	defer timeout.Stop()
	for pending > 0 {
		var i int32
		select {
		case i = <-m.ready:
		case <-timeout.C:
			b.Fatalf("%d of %d idlers saw no EXISTS within 5 minutes", pending, len(m.conns))
		}
		now := time.Now().UnixNano()
		for {
			n, err := m.conns[i].TryRead(m.buf)
			if err != nil {
				b.Fatalf("idler %d: read: %v", i, err)
			}
			if n == 0 {
				break
			}
			data := append(m.carry[i], m.buf[:n]...)
			for {
				nl := bytes.IndexByte(data, '\n')
				if nl < 0 {
					break
				}
				if bytes.HasSuffix(data[:nl+1], marker) && !seen[i] {
					seen[i] = true
					pending--
					h.Record(time.Duration(now - start))
				}
				data = data[nl+1:]
			}
			m.carry[i] = append(m.carry[i][:0], data...)
		}
	}
}

// close closes the client ends, unwatched first: no wake-up may wait on
// ready once nobody reads it.
func (m *memIdlers) close() {
	for _, c := range m.conns {
		c.SetReadNotify(nil)
		c.Close()
	}
}

// transportShare is the memory (heap and stacks) per idler of n pairs of
// in-memory connections watched by a memIdlers, with no server: the
// transport's and the measuring client's share of the in-memory idle
// benchmark's figure, which the server's share excludes (as the socket
// benchmark's figure excludes the kernel's socket buffers and the client
// process).
func transportShare(n int) float64 {
	before := inUse()
	conns := make([]*memconn.Conn, n)
	servers := make([]*memconn.Conn, n)
	for i := range conns {
		conns[i], servers[i] = memconn.Pipe(0)
	}
	m := watch(conns)
	after := inUse()
	runtime.KeepAlive(m)
	runtime.KeepAlive(servers)
	return float64(after-before) / float64(n)
}

// openMemIdlers opens n IDLE sessions over l, GOMAXPROCS×16 at a time.
func openMemIdlers(b *testing.B, l *memconn.Listener, n int) []*memconn.Conn {
	conns := make([]*memconn.Conn, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16*runtime.GOMAXPROCS(0))
	var failed sync.Once
	var setupErr error
	for i := range conns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := l.Dial()
			if err == nil {
				_, err = idleOn(c)
			}
			if err != nil {
				failed.Do(func() { setupErr = fmt.Errorf("idler %d: %w", i, err) })
				return
			}
			conns[i] = c
		})
		if i > 0 && i%20000 == 0 {
			b.Logf("%d idlers open", i)
		}
	}
	wg.Wait()
	if setupErr != nil {
		b.Fatal(setupErr)
	}
	return conns
}

// benchIdleMemory is BenchmarkIdleConnections over in-memory connections:
// the server (Server.Serve on a memconn.Listener) and the idlers in this
// process. B/idler is the whole process's growth per idler (server,
// connections and client); server-B/idler takes away the transport's and
// client's share, measured alone first (transportShare).
func benchIdleMemory(b *testing.B, n int) {
	l := memconn.Listen(0)
	startServerOn(b, l, func(c *server.Config) {
		c.MaxConnections = n + 100
		c.MaxConnectionsPerIP = n + 100
		c.MaxConnectionsPerUser = n + 100
	})
	const rounds = 5
	for b.Loop() {
		share := transportShare(n)
		before := inUse()
		goroutinesBefore := runtime.NumGoroutine()
		conns := openMemIdlers(b, l, n)
		idlers := watch(conns)
		time.Sleep(200 * time.Millisecond) // let every session park in IDLE
		after := inUse()
		perIdler := float64(after-before) / float64(n)
		b.ReportMetric(perIdler, "B/idler")
		b.ReportMetric(perIdler-share, "server-B/idler")
		b.ReportMetric(float64(runtime.NumGoroutine()-goroutinesBefore)/float64(n), "goroutines/idler")
		if path := os.Getenv("IMAPLOAD_HEAPPROFILE"); path != "" {
			writeHeapProfile(b, path)
		}
		if path := os.Getenv("IMAPLOAD_CPUPROFILE"); path != "" {
			stop := startCPUProfile(b, path)
			defer stop()
		}

		nc, err := l.Dial()
		require.NoError(b, err)
		app := imapc.NewConn(nc, time.Minute)
		_, err = app.Read() // the greeting
		require.NoError(b, err)
		_, err = app.Login("bench", "secret")
		require.NoError(b, err)
		var push load.Histogram
		cpu := cpuTime()
		for round := range rounds {
			_, err := app.Append("INBOX", "", []byte("Subject: push\r\n\r\nround "+strconv.Itoa(round)+"\r\n"))
			require.NoError(b, err)
			idlers.round(b, time.Now().UnixNano(), &push)
		}
		reportCPU(b, cpu, n, rounds)
		app.Logout()
		b.ReportMetric(float64(push.Percentile(50))/1e6, "push-p50-ms")
		b.ReportMetric(float64(push.Percentile(99))/1e6, "push-p99-ms")
		idlers.close()
	}
}

// benchFloorMemory is BenchmarkFanOutFloor over in-memory connections:
// one EXISTS line written to each of n connections from GOMAXPROCS
// goroutines, read by the same client as benchIdleMemory's.
func benchFloorMemory(b *testing.B, n int) {
	l := memconn.Listen(0)
	defer l.Close()
	const rounds = 5
	for b.Loop() {
		accepted := make(chan []net.Conn)
		go func() {
			var conns []net.Conn
			for range n {
				c, err := l.Accept()
				if err != nil {
					break
				}
				conns = append(conns, c)
			}
			accepted <- conns
		}()
		clients := make([]*memconn.Conn, n)
		for i := range clients {
			c, err := l.Dial()
			require.NoError(b, err)
			clients[i] = c
		}
		conns := <-accepted
		idlers := watch(clients)
		var push load.Histogram
		line := []byte("* 1 EXISTS\r\n")
		workers := runtime.GOMAXPROCS(0)
		cpu := cpuTime()
		for range rounds {
			start := time.Now().UnixNano()
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for i := w; i < n; i += workers {
						if _, err := conns[i].Write(line); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			// The reader runs while the writers write, as the socket
			// client's does.
			idlers.round(b, start, &push)
			wg.Wait()
		}
		reportCPU(b, cpu, n, rounds)
		b.ReportMetric(float64(push.Percentile(50))/1e6, "push-p50-ms")
		b.ReportMetric(float64(push.Percentile(99))/1e6, "push-p99-ms")
		idlers.close()
		for _, c := range conns {
			c.Close()
		}
	}
}
