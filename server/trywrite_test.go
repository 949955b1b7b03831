package server

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/internal/memconn"
)

// TestTryWrite shows that a push write never waits for a client that does
// not read: it reports how much the socket took, and the rest is left to
// the caller.
func TestTryWrite(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	client, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	defer client.Close()
	srv, err := l.Accept()
	require.NoError(t, err)
	defer srv.Close()

	chunk := make([]byte, 64<<10)
	total, short := 0, false
	start := time.Now()
	for range 1000 { // far beyond any socket buffer
		n, err := tryWrite(srv, chunk)
		require.NoError(t, err)
		total += n
		if n < len(chunk) {
			short = true
			break
		}
	}
	assert.True(t, short, "the socket filled up and a write came back short")
	assert.Less(t, time.Since(start), 5*time.Second, "no write waited for the client (generous bound)")

	// The client reads everything written so far; nothing was lost or
	// written twice.
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 1<<20)
	read := 0
	for read < total {
		n, err := client.Read(buf)
		require.NoError(t, err)
		read += n
	}
	assert.Equal(t, total, read)

	// A broken connection is an error, not a short write.
	client.Close()
	srv.(*net.TCPConn).SetLinger(0)
	var werr error
	for range 100 {
		if _, werr = tryWrite(srv, chunk[:10]); werr != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	assert.Error(t, werr)
}

// TestTryWriteFallback covers connections that are not plain sockets
// (net.Pipe here): the write waits at most tryWriteTimeout.
func TestTryWriteFallback(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	n, err := tryWrite(a, []byte("* 1 EXISTS\r\n"))
	require.NoError(t, err)
	assert.Equal(t, 0, n, "nobody reads the pipe")
}

// TestTryWriteNonBlockingConn: a connection type with a non-blocking
// write of its own (the in-memory transport) is written with it, never
// with the fallback's deadline: a hundred writes to a full buffer return
// at once, where the fallback would wait tryWriteTimeout for each.
func TestTryWriteNonBlockingConn(t *testing.T) {
	a, b := memconn.Pipe(8)
	defer a.Close()
	defer b.Close()
	n, err := tryWrite(a, []byte("* 1 EXISTS\r\n"))
	require.NoError(t, err)
	assert.Equal(t, 8, n, "what fits")
	start := time.Now()
	for range 100 {
		n, err := tryWrite(a, []byte("* 2 EXISTS\r\n"))
		require.NoError(t, err)
		require.Equal(t, 0, n)
	}
	assert.Less(t, time.Since(start), 50*tryWriteTimeout, "the writes waited")
}
