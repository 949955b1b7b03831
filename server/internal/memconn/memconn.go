// Package memconn is an in-memory transport for benchmarks and tests:
// connected pairs of net.Conn whose two directions are bounded buffers in
// the process's memory, and a net.Listener that hands out the server ends
// of pairs made by Dial.
//
// Unlike net.Pipe, a write does not wait for a matching read: it copies
// into the peer's buffer and returns, as a write to a socket with room in
// its send buffer does, and blocks only when the buffer holds Capacity
// unread bytes (until the peer reads, the write deadline passes or either
// end closes). A write that times out reports how much of it the buffer
// took, so a caller can finish the rest later. Read and write deadlines
// work as with sockets: a deadline in the past makes a blocked call return
// os.ErrDeadlineExceeded at once.
//
// What it leaves out of a socket is the kernel: there are no system calls,
// no socket buffers outside the Go heap and no file descriptors, so it
// allows far more connections in one process than a descriptor limit
// does, and measures a server's own share of a push without the cost of
// the loopback device.
//
// A reader that holds many connections need not park a goroutine on each:
// SetReadNotify registers a function called when data arrives on an empty
// buffer (or the peer closes), and TryRead reads without blocking.
package memconn

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// DefaultCapacity is the number of unread bytes a direction of a pair
// holds before a write blocks, when Pipe is given 0: about a loopback
// socket's default send buffer.
const DefaultCapacity = 64 << 10

// Addr is the address of either end of a pair; every pair has the same.
type Addr struct{}

// Network returns "memory".
func (Addr) Network() string { return "memory" }

// String returns "memory".
func (Addr) String() string { return "memory" }

// direction is one way of a pair: what one end writes and the other reads.
type direction struct {
	mu       sync.Mutex
	cond     sync.Cond // signalled when data, room, a close or a deadline change arrives
	buf      []byte    // unread bytes; nil when empty
	capacity int
	eof      bool // the writing end closed: reads return io.EOF once drained
	broken   bool // the reading end closed: writes fail
	// notify, if set, is called (without mu) when data arrives on an
	// empty buffer or the writing end closes.
	notify func()
}

// Conn is one end of a pair. Its methods are safe for concurrent use.
type Conn struct {
	in, out *direction
	// dmu guards the deadlines and closed; a blocked call waits on its
	// direction's cond, which a deadline change signals.
	dmu           sync.Mutex
	readDeadline  time.Time
	writeDeadline time.Time
	closed        bool
}

// Pipe returns the two ends of a connected pair; capacity is how many
// unread bytes each direction holds before a write blocks (0:
// DefaultCapacity).
func Pipe(capacity int) (*Conn, *Conn) {
	if capacity <= 0 {
		capacity = DefaultCapacity
	}
	ab := &direction{capacity: capacity}
	ba := &direction{capacity: capacity}
	ab.cond.L = &ab.mu
	ba.cond.L = &ba.mu
	return &Conn{in: ba, out: ab}, &Conn{in: ab, out: ba}
}

// SetReadNotify registers f, called when data arrives on this end's empty
// read buffer or the peer closes, in the writer's goroutine: f must not
// block or call into the pair. Data already buffered when f is registered
// is reported at once.
func (c *Conn) SetReadNotify(f func()) {
	d := c.in
	d.mu.Lock()
	d.notify = f
	pending := len(d.buf) > 0 || d.eof
	d.mu.Unlock()
	if pending && f != nil {
		f()
	}
}

// Read reads what is buffered, waiting for data when there is none.
func (c *Conn) Read(p []byte) (int, error) {
	return c.read(p, true)
}

// TryRead reads what is buffered without waiting: 0 and no error when
// nothing is.
func (c *Conn) TryRead(p []byte) (int, error) {
	return c.read(p, false)
}

func (c *Conn) read(p []byte, wait bool) (int, error) {
	d := c.in
	var timer *time.Timer
	var timerAt time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	d.mu.Lock()
	defer d.mu.Unlock()
	for {
		closed, deadline := c.readState()
		if closed {
			return 0, net.ErrClosed
		}
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return 0, os.ErrDeadlineExceeded
		}
		if len(d.buf) > 0 {
			if len(p) == 0 {
				return 0, nil
			}
			n := copy(p, d.buf)
			d.buf = d.buf[n:]
			if len(d.buf) == 0 {
				d.buf = nil // an idle connection holds no buffer
			}
			d.cond.Broadcast() // room for a blocked writer
			return n, nil
		}
		if d.eof {
			return 0, io.EOF
		}
		if !wait {
			return 0, nil
		}
		timer, timerAt = wakeAt(d, deadline, timer, timerAt)
		d.cond.Wait()
	}
}

// Write copies p into the peer's buffer, waiting for room when the buffer
// is full. When the write deadline passes first it returns how much was
// taken and os.ErrDeadlineExceeded.
func (c *Conn) Write(p []byte) (int, error) {
	d := c.out
	var timer *time.Timer
	var timerAt time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	n := 0
	d.mu.Lock()
	for {
		closed, deadline := c.writeState()
		var err error
		switch {
		case closed:
			err = net.ErrClosed
		case d.broken:
			err = io.ErrClosedPipe
		case !deadline.IsZero() && !time.Now().Before(deadline):
			err = os.ErrDeadlineExceeded
		}
		if err != nil {
			d.mu.Unlock()
			return n, err
		}
		if room := d.capacity - len(d.buf); room > 0 && n < len(p) {
			wasEmpty := len(d.buf) == 0
			m := min(room, len(p)-n)
			d.buf = append(d.buf, p[n:n+m]...)
			n += m
			d.cond.Broadcast()
			if wasEmpty && d.notify != nil {
				f := d.notify
				d.mu.Unlock()
				f()
				d.mu.Lock()
			}
		}
		if n == len(p) {
			d.mu.Unlock()
			return n, nil
		}
		timer, timerAt = wakeAt(d, deadline, timer, timerAt)
		d.cond.Wait()
	}
}

// wakeAt makes sure a waiter on d is woken at deadline (none when zero),
// reusing timer when it is already set for that time; d.mu is held.
func wakeAt(d *direction, deadline time.Time, timer *time.Timer, at time.Time) (*time.Timer, time.Time) {
	if deadline.IsZero() || (timer != nil && at.Equal(deadline)) {
		return timer, at
	}
	if timer != nil {
		timer.Stop()
	}
	return time.AfterFunc(time.Until(deadline), func() {
		d.mu.Lock()
		d.cond.Broadcast()
		d.mu.Unlock()
	}), deadline
}

func (c *Conn) readState() (bool, time.Time) {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	return c.closed, c.readDeadline
}

func (c *Conn) writeState() (bool, time.Time) {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	return c.closed, c.writeDeadline
}

// Close closes this end: its own calls fail with net.ErrClosed, the
// peer reads io.EOF once it has read what was written, and the peer's
// writes fail with io.ErrClosedPipe.
func (c *Conn) Close() error {
	c.dmu.Lock()
	if c.closed {
		c.dmu.Unlock()
		return net.ErrClosed
	}
	c.closed = true
	c.dmu.Unlock()

	c.in.mu.Lock()
	c.in.broken = true
	c.in.buf = nil
	c.in.cond.Broadcast()
	c.in.mu.Unlock()

	d := c.out
	d.mu.Lock()
	d.eof = true
	d.cond.Broadcast()
	f := d.notify
	d.mu.Unlock()
	if f != nil {
		f()
	}
	return nil
}

// LocalAddr returns Addr{}.
func (c *Conn) LocalAddr() net.Addr { return Addr{} }

// RemoteAddr returns Addr{}.
func (c *Conn) RemoteAddr() net.Addr { return Addr{} }

// SetDeadline sets the read and write deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

// SetReadDeadline sets the deadline of reads, waking a blocked one so
// that it sees the new deadline.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.dmu.Lock()
	c.readDeadline = t
	c.dmu.Unlock()
	c.in.wake()
	return nil
}

// SetWriteDeadline sets the deadline of writes, waking a blocked one so
// that it sees the new deadline.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.dmu.Lock()
	c.writeDeadline = t
	c.dmu.Unlock()
	c.out.wake()
	return nil
}

func (d *direction) wake() {
	d.mu.Lock()
	d.cond.Broadcast()
	d.mu.Unlock()
}

// Listener is a net.Listener whose connections are the server ends of
// pairs made by its Dial.
type Listener struct {
	conns    chan *Conn
	done     chan struct{}
	once     sync.Once
	capacity int
}

// ErrListenerClosed is what Dial returns once the listener is closed.
var ErrListenerClosed = errors.New("memconn: listener closed")

// Listen returns a listener whose pairs have the given capacity per
// direction (0: DefaultCapacity).
func Listen(capacity int) *Listener {
	return &Listener{conns: make(chan *Conn), done: make(chan struct{}), capacity: capacity}
}

// Dial makes a pair, hands its server end to Accept and returns the
// client end.
func (l *Listener) Dial() (*Conn, error) {
	client, server := Pipe(l.capacity)
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, ErrListenerClosed
	}
}

// Accept waits for the next Dial and returns its server end.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops the listener; connections already made stay open.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr returns Addr{}.
func (l *Listener) Addr() net.Addr { return Addr{} }
