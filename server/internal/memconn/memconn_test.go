package memconn

import (
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWriteDoesNotWaitForReader: unlike net.Pipe, a write returns once
// the peer's buffer took it, and the reader gets the bytes in order.
func TestWriteDoesNotWaitForReader(t *testing.T) {
	a, b := Pipe(0)
	n, err := a.Write([]byte("hello "))
	require.NoError(t, err)
	assert.Equal(t, 6, n)
	_, err = a.Write([]byte("world"))
	require.NoError(t, err)
	buf := make([]byte, 4)
	n, err = b.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "hell", string(buf[:n]))
	rest := make([]byte, 64)
	n, err = b.Read(rest)
	require.NoError(t, err)
	assert.Equal(t, "o world", string(rest[:n]))
}

// TestFullBufferWriteTimesOutWithCount: a write that finds the buffer full
// waits until its deadline and reports how much the buffer took, as a
// socket write does; the bytes taken are read, nothing more.
func TestFullBufferWriteTimesOutWithCount(t *testing.T) {
	a, b := Pipe(10)
	a.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
	start := time.Now()
	n, err := a.Write([]byte("0123456789abcdef"))
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
	var ne net.Error
	require.True(t, errors.As(err, &ne))
	assert.True(t, ne.Timeout(), "a timeout, as tryWrite expects")
	assert.Equal(t, 10, n)
	assert.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond)

	buf := make([]byte, 64)
	n, err = b.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "0123456789", string(buf[:n]))

	// A write with room left and a deadline still ahead does not wait;
	// one whose deadline has passed fails without writing.
	a.SetWriteDeadline(time.Now().Add(time.Minute))
	n, err = a.Write([]byte("abc"))
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	a.SetWriteDeadline(time.Now().Add(-time.Second))
	n, err = a.Write([]byte("x"))
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
	assert.Equal(t, 0, n)
}

// TestBlockedWriteResumesWhenRead: a write larger than the buffer
// finishes as the reader makes room.
func TestBlockedWriteResumesWhenRead(t *testing.T) {
	a, b := Pipe(8)
	msg := []byte("a message longer than the buffer")
	done := make(chan error, 1)
	go func() {
		_, err := a.Write(msg)
		done <- err
	}()
	got, err := io.ReadAll(io.LimitReader(b, int64(len(msg))))
	require.NoError(t, err)
	assert.Equal(t, string(msg), string(got))
	require.NoError(t, <-done)
}

// TestDeadlineInterruptsBlockedRead: moving the read deadline into the
// past wakes a read that waits (as the server's Shutdown does).
func TestDeadlineInterruptsBlockedRead(t *testing.T) {
	a, _ := Pipe(0)
	done := make(chan error, 1)
	go func() {
		_, err := a.Read(make([]byte, 1))
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	a.SetReadDeadline(time.Now())
	select {
	case err := <-done:
		assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
	case <-time.After(5 * time.Second):
		t.Fatal("the read did not return")
	}
	a.SetReadDeadline(time.Now().Add(15 * time.Millisecond))
	_, err := a.Read(make([]byte, 1))
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded, "a future deadline passes too")
}

// TestClose: the peer reads what was written, then io.EOF; its writes
// fail, and so does any call on the closed end.
func TestClose(t *testing.T) {
	a, b := Pipe(0)
	a.Write([]byte("bye"))
	require.NoError(t, a.Close())
	buf := make([]byte, 8)
	n, err := b.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "bye", string(buf[:n]))
	_, err = b.Read(buf)
	assert.ErrorIs(t, err, io.EOF)
	_, err = b.Write([]byte("x"))
	assert.ErrorIs(t, err, io.ErrClosedPipe)
	_, err = a.Read(buf)
	assert.ErrorIs(t, err, net.ErrClosed)
	assert.ErrorIs(t, a.Close(), net.ErrClosed)
}

// TestReadNotify: the notify function runs when data reaches an empty
// buffer (not for each write into a non-empty one) and on close, and
// TryRead never waits.
func TestReadNotify(t *testing.T) {
	a, b := Pipe(0)
	var calls atomic.Int32
	b.SetReadNotify(func() { calls.Add(1) })
	buf := make([]byte, 16)
	n, err := b.TryRead(buf)
	require.NoError(t, err)
	assert.Equal(t, 0, n)
	a.Write([]byte("one "))
	a.Write([]byte("two"))
	assert.Equal(t, int32(1), calls.Load())
	n, err = b.TryRead(buf)
	require.NoError(t, err)
	assert.Equal(t, "one two", string(buf[:n]))
	a.Write([]byte("three"))
	assert.Equal(t, int32(2), calls.Load())
	a.Close()
	assert.Equal(t, int32(3), calls.Load())
}

// TestListener: Dial's pair reaches Accept; after Close both fail.
func TestListener(t *testing.T) {
	l := Listen(0)
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	client, err := l.Dial()
	require.NoError(t, err)
	server := <-accepted
	client.Write([]byte("hi"))
	buf := make([]byte, 2)
	_, err = io.ReadFull(server, buf)
	require.NoError(t, err)
	assert.Equal(t, "hi", string(buf))
	l.Close()
	_, err = l.Accept()
	assert.ErrorIs(t, err, net.ErrClosed)
	_, err = l.Dial()
	assert.ErrorIs(t, err, ErrListenerClosed)
}
