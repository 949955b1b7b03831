package server

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAbuseBesideGoodClients runs 500 abusive connections (garbage,
// slow-loris, never-reading, oversized literals) against a server on a
// loopback TCP listener while 10 well-behaved clients work: every command of
// the good clients must succeed and the server's heap must stay bounded.
// Set IMAPFSM_LONG_ABUSE=1 for a longer run with more connections.
func TestAbuseBesideGoodClients(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	abusers, rounds, abuseFor := 500, 5, 3*time.Second
	if os.Getenv("IMAPFSM_LONG_ABUSE") != "" {
		abusers, rounds, abuseFor = 2000, 200, 30*time.Second
	}
	ts := newTestServer(t, func(c *Config) {
		c.MaxConnections = 5000
		c.MaxConnectionsPerIP = 5000     // everything comes from 127.0.0.1
		c.MaxAuthFailuresPerIP = -1      // likewise; covered by its own test
		c.CommandTimeout = time.Second   // slow-loris cut-off
		c.LoginTimeout = 5 * time.Second // silent connections; room for a loaded machine
		c.WriteTimeout = time.Second     // never-reading clients
		c.Limits.MaxAppendLiteral = 1 << 20
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- ts.srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ts.srv.Shutdown(ctx)
		<-served
	})
	addr := l.Addr().String()

	heapBefore := heapInuse()
	start := time.Now()
	stop := make(chan struct{})
	var abuse sync.WaitGroup
	for i := range abusers {
		abuse.Add(1)
		go func() {
			defer abuse.Done()
			abuseOnce(addr, i%4, stop)
		}()
	}

	var good sync.WaitGroup
	errs := make(chan error, 10*rounds)
	for g := range 10 {
		good.Add(1)
		go func() {
			defer good.Done()
			if err := goodClient(addr, g, rounds); err != nil {
				errs <- fmt.Errorf("good client %d: %w", g, err)
			}
		}()
	}
	good.Wait()
	time.Sleep(time.Until(start.Add(abuseFor)))
	heapDuring := heapInuse()
	close(stop)
	abuse.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	require.Eventually(t, func() bool { return ts.srv.Metrics().OpenConnections() == 0 },
		10*time.Second, 20*time.Millisecond, "every abusive session ended")
	heapAfter := heapInuse()
	t.Logf("heap in use: before %d KiB, during %d KiB, after %d KiB; timeouts %d, BAD replies %d",
		heapBefore>>10, heapDuring>>10, heapAfter>>10, ts.srv.Metrics().Timeouts(), ts.srv.Metrics().BadReplies())
	// Loose bounds: each session holds at most a few buffers of the
	// limits, never what abusers send.
	assert.Less(t, heapDuring, heapBefore+uint64(abusers)*256<<10, "memory bounded while under abuse")
	assert.Less(t, heapAfter, heapBefore+64<<20, "memory returns after the abuse")
}

func heapInuse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// abuseOnce runs one abusive connection of the given kind until stop or
// until the server drops it, then reconnects (so the pressure stays up).
func abuseOnce(addr string, kind int, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		nc, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		done := make(chan struct{})
		go func() {
			select {
			case <-stop:
			case <-done:
			}
			nc.Close()
		}()
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		switch kind {
		case 0: // garbage lines, read replies until the server gives up
			go drain(nc)
			buf := make([]byte, 200)
			for i := 0; i < 50; i++ {
				for j := range buf {
					buf[j] = byte(rand.IntN(256))
				}
				buf[len(buf)-1] = '\n'
				if _, err := nc.Write(buf); err != nil {
					break
				}
			}
		case 1: // slow loris: one byte every 100 ms
			go drain(nc)
			for _, b := range []byte("a1 LOGIN demo demo demo demo demo demo demo demo demo") {
				if _, err := nc.Write([]byte{b}); err != nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
		case 2: // never reads, keeps asking
			// A small receive window keeps the kernel's loopback
			// buffers (not the server's heap) from dominating the run.
			nc.(*net.TCPConn).SetReadBuffer(16 << 10)
			// 2000 commands, about 600 KiB of answers, then silence
			// until the server drops the connection (WriteTimeout or
			// LoginTimeout).
			line := []byte(strings.Repeat("a CAPABILITY\r\n", 100))
			for range 20 {
				if _, err := nc.Write(line); err != nil {
					break
				}
			}
			nc.Read(make([]byte, 1)) // blocks until the server closes
		case 3: // oversized literals, synchronising and not
			go drain(nc)
			nc.Write([]byte("a1 LOGIN {100000000}\r\n"))
			nc.Write([]byte("a2 LOGIN {100000000+}\r\n"))
			chunk := make([]byte, 32<<10)
			for {
				if _, err := nc.Write(chunk); err != nil {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		close(done)
		nc.Close()
		// Pause before the next connection: the point is many hostile
		// sessions at once, not a CPU benchmark of the loopback device.
		select {
		case <-stop:
			return
		case <-time.After(time.Second):
		}
	}
}

func drain(nc net.Conn) {
	buf := make([]byte, 4096)
	for {
		if _, err := nc.Read(buf); err != nil {
			return
		}
	}
}

// goodClient logs in and runs rounds of ordinary commands; any non-OK
// completion is an error.
func goodClient(addr string, id, rounds int) error {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer nc.Close()
	r := bufio.NewReader(nc)
	nc.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := r.ReadString('\n'); err != nil {
		return err
	}
	run := func(tag, cmd string) error {
		if _, err := fmt.Fprintf(nc, "%s %s\r\n", tag, cmd); err != nil {
			return err
		}
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return fmt.Errorf("%s: %w", cmd, err)
			}
			if strings.HasPrefix(l, "+ ") {
				continue
			}
			if strings.HasPrefix(l, tag+" ") {
				if !strings.HasPrefix(l, tag+" OK") {
					return fmt.Errorf("%s: %s", cmd, strings.TrimSpace(l))
				}
				return nil
			}
		}
	}
	box := fmt.Sprintf("box%d", id)
	for _, cmd := range []string{"LOGIN demo demo", "CREATE " + box, "SELECT " + box} {
		if err := run("G0", cmd); err != nil {
			return err
		}
	}
	msg := "From: good@example.org\r\nSubject: round\r\n\r\nhello\r\n"
	for i := range rounds {
		for _, cmd := range []string{
			fmt.Sprintf("APPEND %s {%d+}\r\n%s", box, len(msg), msg),
			"NOOP",
			fmt.Sprintf("FETCH %d (FLAGS BODY.PEEK[HEADER])", i+1),
			fmt.Sprintf("STORE %d +FLAGS (\\Seen)", i+1),
			"SEARCH UNSEEN",
		} {
			if err := run(fmt.Sprintf("G%d", i+1), cmd); err != nil {
				return err
			}
		}
	}
	return run("GZ", "LOGOUT")
}
