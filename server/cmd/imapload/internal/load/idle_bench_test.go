//go:build linux

package load_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server"
	"github.com/imapfsm/imapfsm/server/cmd/imapload/internal/imapc"
	"github.com/imapfsm/imapfsm/server/cmd/imapload/internal/load"
)

// rawIdle opens an IDLE session with a plain connection and no goroutine
// of its own.
func rawIdle(addr string) (net.Conn, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return idleOn(nc)
}

// idleOn logs in on nc, selects INBOX and starts IDLE; it closes nc when
// that fails.
func idleOn(nc net.Conn) (net.Conn, error) {
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

// raiseFDLimit makes room for n sockets in this process.
func raiseFDLimit(b testing.TB, n int) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(err)
	}
	need := uint64(n + 64)
	if lim.Cur >= need {
		return
	}
	hard := lim.Max
	lim.Cur = need
	if lim.Max < need {
		lim.Max = need // needs CAP_SYS_RESOURCE
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Skipf("need %d file descriptors for %d idlers, hard limit %d: setrlimit: %v (set IMAPLOAD_IDLERS lower or raise the hard limit)", need, n, hard, err)
	}
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time this process used since start per push
// of n idlers over rounds: load-independent, unlike the latencies.
func reportCPU(b *testing.B, start time.Duration, n, rounds int) {
	b.ReportMetric(float64(cpuTime()-start)/1e3/float64(n*rounds), "cpu-us/push")
}

func inUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse + m.MSpanInuse + m.MCacheInuse
}

// The idle client process: BenchmarkIdleConnections runs this test binary
// again with these variables set, so that the idlers' sockets and reader
// goroutines live in another process and the benchmark's memory figure is
// the server's alone.
const (
	envIdleClientAddr   = "IMAPLOAD_IDLE_CLIENT_ADDR"
	envIdleClientCount  = "IMAPLOAD_IDLE_CLIENT_COUNT"
	envIdleClientRounds = "IMAPLOAD_IDLE_CLIENT_ROUNDS"
	envIdleClientRaw    = "IMAPLOAD_IDLE_CLIENT_RAW"
)

// TestIdleClientProcess is the client side of BenchmarkIdleConnections
// and BenchmarkFanOutFloor, run in a child process; it is skipped
// otherwise. It opens the idlers (IMAP IDLE sessions, or plain connections
// with IMAPLOAD_IDLE_CLIENT_RAW=1), prints "ready", then, each time every
// idler has received an EXISTS line, prints "exists ROUND UNIXNANO" for each
// idler's arrival, until the given number of rounds is done. Arrivals are
// printed after the round so that printing does not compete with reading.
func TestIdleClientProcess(t *testing.T) {
	addr := os.Getenv(envIdleClientAddr)
	if addr == "" {
		t.Skip("run by BenchmarkIdleConnections")
	}
	n, err := strconv.Atoi(os.Getenv(envIdleClientCount))
	require.NoError(t, err)
	rounds, err := strconv.Atoi(os.Getenv(envIdleClientRounds))
	require.NoError(t, err)
	open := rawIdle
	if os.Getenv(envIdleClientRaw) == "1" {
		open = func(addr string) (net.Conn, error) { return net.Dial("tcp", addr) }
	}
	raiseFDLimit(t, n)
	conns := make([]net.Conn, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	var failed sync.Once
	var setupErr error
	for i := range conns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := open(addr)
			if err != nil {
				failed.Do(func() { setupErr = fmt.Errorf("idler %d: %w", i, err) })
				return
			}
			conns[i] = c
		})
	}
	wg.Wait()
	require.NoError(t, setupErr)
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(out, "ready")
	out.Flush()
	arrivals := newArrivals(n, rounds, out)
	waitArrivals(t, conns, arrivals)
	for _, c := range conns {
		c.Close()
	}
}

// arrivals records when each idler received its EXISTS lines and prints a
// round's arrivals once every idler has seen it.
type arrivals struct {
	out       *bufio.Writer
	mu        sync.Mutex // guards out
	at        [][]int64  // at[round][idler]
	next      []int      // next[idler] is the idler's next round
	remaining []atomic.Int64
}

func newArrivals(n, rounds int, out *bufio.Writer) *arrivals {
	a := &arrivals{out: out, at: make([][]int64, rounds), next: make([]int, n), remaining: make([]atomic.Int64, rounds)}
	for r := range a.at {
		a.at[r] = make([]int64, n)
		a.remaining[r].Store(int64(n))
	}
	return a
}

// done reports whether idler i has seen every round.
func (a *arrivals) done(i int) bool { return a.next[i] >= len(a.at) }

// record notes an EXISTS at idler i at time now (UnixNano). Calls for one
// idler must not be concurrent.
func (a *arrivals) record(i int, now int64) {
	r := a.next[i]
	if r >= len(a.at) {
		return
	}
	a.next[i]++
	a.at[r][i] = now
	if a.remaining[r].Add(-1) == 0 {
		a.mu.Lock()
		defer a.mu.Unlock()
		for _, at := range a.at[r] {
			fmt.Fprintf(a.out, "exists %d %d\n", r, at)
		}
		a.out.Flush()
	}
}

// waitGoroutines reads every idler in a goroutine of its own until it has
// seen every round; waitArrivals falls back to it when epoll fails.
func waitGoroutines(conns []net.Conn, a *arrivals) {
	var readers sync.WaitGroup
	for i, c := range conns {
		readers.Go(func() {
			r := bufio.NewReaderSize(c, 256)
			for !a.done(i) {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if strings.HasSuffix(line, " EXISTS\r\n") {
					a.record(i, time.Now().UnixNano())
				}
			}
		})
	}
	readers.Wait()
}

// idleClient is the child process of TestIdleClientProcess.
type idleClient struct {
	b     *testing.B
	cmd   *exec.Cmd
	lines *bufio.Scanner
	early []string // lines before "ready"
}

// startIdleClient starts n idlers against addr in a child process and
// waits until they are ready.
func startIdleClient(b *testing.B, addr string, n, rounds int, raw bool) *idleClient {
	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleClientProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		envIdleClientAddr+"="+addr,
		envIdleClientCount+"="+strconv.Itoa(n),
		envIdleClientRounds+"="+strconv.Itoa(rounds))
	if raw {
		cmd.Env = append(cmd.Env, envIdleClientRaw+"=1")
	}
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	c := &idleClient{b: b, cmd: cmd, lines: bufio.NewScanner(stdout)}
	for {
		line := c.next()
		if line == "ready" {
			break
		}
		// The child's own test output: its failure, if it ends early.
		c.early = append(c.early, line)
	}
	return c
}

func (c *idleClient) next() string {
	if !c.lines.Scan() {
		c.cmd.Wait()
		c.b.Fatalf("the idle client process ended early (%v):\n%s", c.lines.Err(), strings.Join(c.early, "\n"))
	}
	return c.lines.Text()
}

// record reads the n arrivals of round and records their latency after
// start (UnixNano).
func (c *idleClient) record(round, n int, start int64, h *load.Histogram) {
	for range n {
		var r int
		var at int64
		line := c.next()
		if _, err := fmt.Sscanf(line, "exists %d %d", &r, &at); err != nil || r != round {
			c.b.Fatalf("round %d: unexpected line from the idle client process: %q", round, line)
		}
		h.Record(time.Duration(at - start))
	}
}

func (c *idleClient) wait() {
	if err := c.cmd.Wait(); err != nil {
		c.b.Fatalf("idle client process: %v", err)
	}
}

// BenchmarkIdleConnections holds IMAPLOAD_IDLERS (default 10000) IDLE
// sessions on an in-process server, with the clients in a child process,
// and reports the memory each session costs the server (heap and stacks),
// the goroutines each one holds, and the push latency from APPEND OK to
// EXISTS at every idler over a few APPENDs, and the CPU time of this
// process per push during those rounds (cpu-us/push). With
// IMAPLOAD_TRANSPORT=memory the idlers are in this process instead, on
// in-memory connections (see benchIdleMemory). With IMAPLOAD_HEAPPROFILE=file
// it writes a heap profile while the idlers are connected (inspect it with
// go tool pprof -sample_index=inuse_space); with IMAPLOAD_CPUPROFILE=file
// it profiles the server during the APPEND rounds. Run it alone:
//
//	go test ./server/cmd/imapload/internal/load -run '^$' -bench IdleConnections -benchtime 1x
func BenchmarkIdleConnections(b *testing.B) {
	n := idlersWanted(b)
	if memoryTransport(b) {
		benchIdleMemory(b, n)
		return
	}
	raiseFDLimit(b, n)
	addr := startServer(b, func(c *server.Config) {
		c.MaxConnections = n + 100
		c.MaxConnectionsPerIP = n + 100
		c.MaxConnectionsPerUser = n + 100
	})
	const rounds = 5
	for b.Loop() {
		before := inUse()
		goroutinesBefore := runtime.NumGoroutine()
		client := startIdleClient(b, addr, n, rounds, false)
		time.Sleep(200 * time.Millisecond) // let every session park in IDLE
		after := inUse()
		b.ReportMetric(float64(after-before)/float64(n), "B/idler")
		b.ReportMetric(float64(runtime.NumGoroutine()-goroutinesBefore)/float64(n), "goroutines/idler")
		if path := os.Getenv("IMAPLOAD_HEAPPROFILE"); path != "" {
			writeHeapProfile(b, path)
		}
		if path := os.Getenv("IMAPLOAD_CPUPROFILE"); path != "" {
			stop := startCPUProfile(b, path)
			defer stop()
		}

		app, err := imapc.Dialer{}.Dial(addr)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := app.Login("bench", "secret"); err != nil {
			b.Fatal(err)
		}
		var push load.Histogram
		cpu := cpuTime()
		for round := range rounds {
			if _, err := app.Append("INBOX", "", []byte("Subject: push\r\n\r\nround "+strconv.Itoa(round)+"\r\n")); err != nil {
				b.Fatal(err)
			}
			client.record(round, n, time.Now().UnixNano(), &push)
		}
		reportCPU(b, cpu, n, rounds)
		app.Logout()
		b.ReportMetric(float64(push.Percentile(50))/1e6, "push-p50-ms")
		b.ReportMetric(float64(push.Percentile(99))/1e6, "push-p99-ms")
		client.wait()
	}
}

// startCPUProfile profiles the process into path until the returned
// function is called.
func startCPUProfile(b *testing.B, path string) func() {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
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

// BenchmarkFanOutFloor measures what pushing costs on this machine without
// an IMAP server: it writes one EXISTS line to each of IMAPLOAD_IDLERS
// plain loopback connections (the same child process reading them) from
// GOMAXPROCS goroutines, and reports the latency from the start of the
// writes to each arrival, and its CPU time per push. It is the peer of
// BenchmarkIdleConnections's push latency: the part of that figure the
// server cannot remove. With IMAPLOAD_TRANSPORT=memory it writes to
// in-memory connections read in this process (see benchFloorMemory). Run
// both in one invocation:
//
//	go test ./server/cmd/imapload/internal/load -run '^$' -bench 'IdleConnections|FanOutFloor' -benchtime 1x
func BenchmarkFanOutFloor(b *testing.B) {
	n := idlersWanted(b)
	if memoryTransport(b) {
		benchFloorMemory(b, n)
		return
	}
	raiseFDLimit(b, n)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
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
		client := startIdleClient(b, l.Addr().String(), n, rounds, true)
		conns := <-accepted
		if len(conns) != n {
			b.Fatalf("accepted %d of %d connections", len(conns), n)
		}
		var push load.Histogram
		line := []byte("* 1 EXISTS\r\n")
		workers := runtime.GOMAXPROCS(0)
		cpu := cpuTime()
		for round := range rounds {
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
			wg.Wait()
			client.record(round, n, start, &push)
		}
		reportCPU(b, cpu, n, rounds)
		b.ReportMetric(float64(push.Percentile(50))/1e6, "push-p50-ms")
		b.ReportMetric(float64(push.Percentile(99))/1e6, "push-p99-ms")
		for _, c := range conns {
			c.Close()
		}
		client.wait()
	}
}
