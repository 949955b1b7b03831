package server

import (
	"bufio"
	"errors"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/internal/memconn"
)

// pushed is what an idler read after DONE: the EXISTS counts in order,
// the lines that were not a well-formed EXISTS or RECENT response, and
// the tagged completion of IDLE (a NOOP after it reports what the hub
// had not pushed yet).
type pushed struct {
	exists    []int
	malformed []string
	done      string
}

// pushesOverBufferedConn serves an idler over a buffered in-memory
// connection of 40 bytes per direction (not a socket: a push writes with
// the connection's own non-blocking TryWrite, or, wrapped so that it has
// none, with a short deadline), lets another session
// append 30 messages while the idler reads nothing, so that pushes fill
// the buffer and the rest of a write is left to the session's own
// goroutine, then reads what the idler got. wrap, if set, wraps the
// server's end of the connection.
func pushesOverBufferedConn(t *testing.T, wrap func(net.Conn) net.Conn) pushed {
	ts := newTestServer(t, func(c *Config) { c.WriteTimeout = 10 * time.Second })
	l := memconn.Listen(40)
	var accepted sync.WaitGroup
	accepted.Go(func() {
		nc, err := l.Accept()
		if err == nil {
			if wrap != nil {
				nc = wrap(nc)
			}
			ts.srv.ServeConn(nc)
		}
	})
	nc, err := l.Dial()
	require.NoError(t, err)
	accepted.Wait()
	t.Cleanup(func() { nc.Close() })
	idler := &client{t: t, nc: nc, r: bufio.NewReader(nc)}
	require.True(t, strings.HasPrefix(idler.line(), "* OK "))
	idler.login()
	idler.ok("S", "SELECT INBOX")
	idler.send("I1 IDLE\r\n")
	require.Equal(t, "+ idling", idler.line())

	other := ts.dial()
	other.login()
	for range 30 {
		other.ok("A", "APPEND INBOX {13+}\r\nSubject: x\r\n")
	}
	// The hub may push the last change after DONE: NOOP reports it then.
	idler.send("DONE\r\nN1 NOOP\r\n")
	existsLine := regexp.MustCompile(`^\* (\d+) EXISTS\r\n$`)
	recentLine := regexp.MustCompile(`^\* \d+ RECENT\r\n$`)
	var got pushed
	for {
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := idler.r.ReadString('\n')
		if err != nil {
			got.malformed = append(got.malformed, line+" ("+err.Error()+")")
			return got
		}
		switch m := existsLine.FindStringSubmatch(line); {
		case m != nil:
			k, _ := strconv.Atoi(m[1])
			got.exists = append(got.exists, k)
		case recentLine.MatchString(line):
		case strings.HasPrefix(line, "I1 "):
			got.done = strings.TrimRight(line, "\r\n")
		case strings.HasPrefix(line, "N1 OK"):
			return got
		default:
			got.malformed = append(got.malformed, line)
		}
	}
}

// TestPushOverBufferedConnKeepsOrder: on a connection that is not a
// socket, pushes that find the client's buffer full lose nothing and keep
// their order: every line is whole, the EXISTS counts only rise and end
// at the last message, and DONE is answered.
// Both push write paths: the connection's non-blocking TryWrite, and
// the write with a deadline of a connection without one.
func TestPushOverBufferedConnKeepsOrder(t *testing.T) {
	for name, wrap := range map[string]func(net.Conn) net.Conn{
		"TryWrite": nil,
		"deadline": func(nc net.Conn) net.Conn { return plainConn{nc} },
	} {
		t.Run(name, func(t *testing.T) {
			got := pushesOverBufferedConn(t, wrap)
			assert.Empty(t, got.malformed)
			assert.Equal(t, "I1 OK IDLE terminated", got.done)
			require.NotEmpty(t, got.exists)
			assert.Equal(t, 30, got.exists[len(got.exists)-1], "the last count reaches the client")
			assert.IsIncreasing(t, got.exists, "no push is lost, repeated or reordered")
		})
	}
}

// plainConn hides the non-blocking TryWrite of the connection it wraps.
type plainConn struct{ net.Conn }

// TestPushOverBufferedConnMutant shows that the checks above catch a
// push path that loses the rest of a write cut short by its deadline
// (here a connection that reports such a write as complete).
func TestPushOverBufferedConnMutant(t *testing.T) {
	got := pushesOverBufferedConn(t, func(nc net.Conn) net.Conn { return lossyConn{nc} })
	assert.NotEmpty(t, got.malformed, "torn lines from the lost bytes")
	// The same over the non-blocking path: a TryWrite that reports a
	// short write as complete.
	got = pushesOverBufferedConn(t, func(nc net.Conn) net.Conn { return lossyTryConn{nc.(*memconn.Conn)} })
	assert.NotEmpty(t, got.malformed, "torn lines from the bytes TryWrite lost")
}

// lossyTryConn reports every non-blocking write as complete.
type lossyTryConn struct{ *memconn.Conn }

func (c lossyTryConn) TryWrite(p []byte) (int, error) {
	_, err := c.Conn.TryWrite(p)
	return len(p), err
}

// lossyConn reports a write that timed out part way as complete; it has
// no TryWrite, so a push writes to it with a deadline.
type lossyConn struct{ net.Conn }

func (c lossyConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	var ne net.Error
	if err != nil && errors.As(err, &ne) && ne.Timeout() {
		return len(p), nil
	}
	return n, err
}
