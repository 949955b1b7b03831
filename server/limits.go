package server

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/imapfsm/imapfsm/server/imapwire"
)

// commandBytesPerSecond is the upload rate that earns a command more time:
// once a command's first byte has arrived, the client has
// Config.CommandTimeout plus one second for every commandBytesPerSecond
// bytes received to send the rest of it (its line and literals). A client
// trickling one byte a second runs out of time after about CommandTimeout;
// a slow but honest link uploading a large APPEND does not.
const commandBytesPerSecond = 4 << 10

// lateReadGrace is how long a read of a command's rest waits when the
// server starts it after the command's deadline (see setDeadlineLocked).
const lateReadGrace = 100 * time.Millisecond

// errCommandTooLarge ends a session whose command grew beyond
// maxCommandBytes.
var errCommandTooLarge = errors.New("server: command exceeds the size bound")

// maxCommandBytes is the most input one command may carry, literals
// included: the messages of one APPEND (Config.MaxAppendSize, at least one
// message at Limits.MaxAppendLiteral) plus sixteen line segments and
// in-memory literals at their limits. A single literal or line too
// large to skip is refused by the decoder (Limits.MaxSkip) before this
// bound; it is reached by a command made of many parts that are each
// within their limits, and the session then closes (RFC 7888 section 4).
func maxCommandBytes(l imapwire.Limits, cfg *Config) int64 {
	return max(l.MaxAppendLiteral, cfg.MaxAppendSize) + 16*(int64(l.MaxLine)+l.MaxLiteral)
}

// sessionReader is what the decoder reads from. It applies the read
// deadlines of a session: while the session waits for the first byte of a
// command the deadline is the inactivity timeout the machine says applies
// (autologout, none while idling); once the command has started the
// per-command deadline applies. It also lets Shutdown interrupt a session
// that waits for a command without interrupting one that is receiving a
// command (an APPEND literal in flight is finished, not cut).
type sessionReader struct {
	c *conn

	mu       sync.Mutex
	waiting  bool      // no byte of the current command has arrived yet
	idle     time.Time // deadline while waiting; zero means none
	timed    bool      // the per-command deadline applies once the command starts
	start    time.Time // when the current command started
	received int64     // bytes of the current command received so far
	closing  bool      // Shutdown asked the session to stop
	tooLarge bool      // the current command exceeded maxCommandBytes
	// With a Config.Clock, timer interrupts the read at the deadline; gen
	// tells a stale timer from the current one.
	timer ClockTimer
	gen   uint64
	// src, when not nil, is what the session reads instead of the
	// connection: the decompressor once COMPRESS DEFLATE is active, so
	// that the counts and limits apply to decompressed bytes.
	src io.Reader
}

// beginCommand prepares the read of the next command. idle is the deadline
// for its first byte (zero for none); timed says whether the per-command
// deadline applies once it has started; started says that bytes of it are
// already buffered.
func (r *sessionReader) beginCommand(idle time.Time, timed, started bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.idle = idle
	r.timed = timed
	r.waiting = !started
	r.start = r.c.clock().Now()
	r.received = 0
	r.tooLarge = false
	r.setDeadlineLocked()
}

// setDeadlineLocked sets the read deadline for the current phase; r.mu must
// be held.
func (r *sessionReader) setDeadlineLocked() {
	var d time.Time
	switch {
	case r.waiting:
		d = r.idle
	case r.timed:
		d = r.start.Add(r.c.srv.cfg.CommandTimeout + time.Duration(r.received/commandBytesPerSecond)*time.Second)
		if now := r.c.clock().Now(); d.Before(now) {
			// The server itself comes late (a busy store, a loaded
			// machine): bytes the client sent in time may wait in the
			// socket, and a read past its deadline would fail without
			// looking. Give the read lateReadGrace to pick them up; a
			// client that sent nothing more still times out.
			d = now.Add(lateReadGrace)
		}
	}
	clk := r.c.srv.cfg.Clock
	if clk == nil {
		r.c.nc.SetReadDeadline(d)
		return
	}
	// A test clock: the deadline is a timer of that clock, which
	// interrupts the read when it fires.
	r.gen++
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	r.c.nc.SetReadDeadline(time.Time{})
	if d.IsZero() {
		return
	}
	gen, nc := r.gen, r.c.nc
	r.timer = clk.AfterFunc(d.Sub(clk.Now()), func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.gen == gen {
			nc.SetReadDeadline(time.Unix(1, 0))
		}
	})
}

// setSource makes the session read src (the decompressor after COMPRESS)
// instead of the connection; the deadlines still go to the connection.
func (r *sessionReader) setSource(src io.Reader) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.src = src
}

// commandStarted reports whether bytes of the current command arrived, so
// that a timeout can be told apart: inactivity before a command, or a
// command arriving too slowly.
func (r *sessionReader) commandStarted() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.waiting
}

// interrupt is called by Shutdown: a session waiting for a command stops
// waiting at once; a command being received runs to its end (bounded by the
// per-command deadline and by Shutdown's context).
func (r *sessionReader) interrupt() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closing = true
	if r.waiting {
		r.c.raw.SetReadDeadline(time.Now())
	}
}

// Read implements io.Reader over the session's current connection.
func (r *sessionReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	if r.waiting && r.closing {
		r.mu.Unlock()
		return 0, os.ErrDeadlineExceeded
	}
	if r.received > r.c.maxCommand {
		r.tooLarge = true
		r.mu.Unlock()
		return 0, errCommandTooLarge
	}
	r.setDeadlineLocked()
	var src io.Reader = r.c.nc
	if r.src != nil {
		src = r.src
	}
	r.mu.Unlock()

	n, err := src.Read(p)
	if n > 0 {
		r.mu.Lock()
		if r.waiting {
			r.waiting = false
			r.start = r.c.clock().Now()
		}
		r.received += int64(n)
		r.mu.Unlock()
	}
	return n, err
}

// sessionWriter is what the encoder writes to. Every write to the network
// (a flush of the encoder's bounded buffer) must complete within
// Config.WriteTimeout, so a client that stops reading is disconnected after
// at most that long, while a slow client that keeps reading is not cut off
// in the middle of a large FETCH. Output is never queued beyond the
// encoder's fixed buffer: a writer blocks until the client reads or the
// deadline passes. The one exception is an IDLE push from a mailbox hub,
// which must not wait for one client while others wait for it: the rest of
// a push write that would block (at most one encoder buffer) is handed to
// a goroutine of the session's own, and the session's next write waits for
// that goroutine.
type sessionWriter struct{ c *conn }

// tryWriteTimeout is how long a push from a mailbox hub waits for a write
// before a goroutine of the session's own finishes it.
const tryWriteTimeout = 5 * time.Millisecond

// nonBlockingWriter is a connection type with a write that never waits
// (the in-memory transport of the benchmarks has one), which tryWrite
// uses as it uses a socket's non-blocking write.
type nonBlockingWriter interface {
	// TryWrite writes what the connection accepts now and reports how
	// much that was; an error is a broken connection.
	TryWrite(p []byte) (int, error)
}

// tryWrite writes what nc accepts without waiting (at most
// tryWriteTimeout where neither the platform nor the connection type
// has a non-blocking write) and reports how much that was; an error is a
// broken connection.
func tryWrite(nc net.Conn, p []byte) (int, error) {
	if n, err, ok := writeNow(nc, p); ok {
		return n, err
	}
	if w, ok := nc.(nonBlockingWriter); ok {
		return w.TryWrite(p)
	}
	nc.SetWriteDeadline(time.Now().Add(tryWriteTimeout))
	n, err := nc.Write(p)
	var ne net.Error
	if err != nil && errors.As(err, &ne) && ne.Timeout() {
		return n, nil
	}
	return n, err
}

// Write implements io.Writer over the session's current connection;
// conn.wmu is held. A write that a push started with conn.wtry and that
// would block is finished by a goroutine (within Config.WriteTimeout), and
// the next write waits for it, so output stays in order.
func (w sessionWriter) Write(p []byte) (int, error) {
	c := w.c
	if c.bg != nil {
		<-c.bg
		c.bg = nil
	}
	nc := c.nc
	if c.wtry && !c.tls {
		n, err := tryWrite(nc, p)
		if err == nil && n < len(p) {
			rest := append([]byte(nil), p[n:]...)
			done := make(chan struct{})
			c.bg = done
			c.stalled.Store(true)
			go func() {
				defer close(done)
				defer c.stalled.Store(false)
				nc.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout))
				if _, err := nc.Write(rest); err != nil {
					c.raw.Close()
				}
			}()
			return len(p), nil
		}
		if err != nil {
			c.raw.Close()
		}
		return n, err
	}
	nc.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout))
	n, err := nc.Write(p)
	if err != nil {
		// A client that does not read (or a broken connection) ends the
		// session: closing the raw connection also ends a blocked read.
		c.raw.Close()
	}
	return n, err
}

// ipKey is the key under which per-address limits count a remote address:
// the IPv4 address, or the /64 prefix of an IPv6 address (one subscriber
// usually holds a whole /64, so counting single IPv6 addresses would let
// one client rotate through 2^64 of them).
func ipKey(nc net.Conn) string {
	addr := nc.RemoteAddr()
	if addr == nil {
		return ""
	}
	host := addr.String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return host
	}
	if ip4 := ip.To4(); ip4 != nil {
		return ip4.String()
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}
