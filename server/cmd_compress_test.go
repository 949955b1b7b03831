package server

import (
	"bytes"
	"compress/flate"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// deflateConn is the client's side of COMPRESS DEFLATE (RFC 4978): reads
// are decompressed, and each write is compressed and sync-flushed, as
// zlib-based clients do with Z_SYNC_FLUSH.
type deflateConn struct {
	net.Conn
	r  io.Reader
	fw *flate.Writer
}

func (d *deflateConn) Read(p []byte) (int, error) { return d.r.Read(p) }

// Write compresses p and sends it with a sync flush in one write, as
// zlib clients do.
func (d *deflateConn) Write(p []byte) (int, error) {
	var b bytes.Buffer
	d.fw.Reset(&b)
	d.fw.Write(p)
	d.fw.Flush()
	if _, err := d.Conn.Write(b.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// deflated returns s compressed and sync-flushed, as a fresh client
// compressor would send it.
func deflated(t testing.TB, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	fw, err := flate.NewWriter(&b, flate.DefaultCompression)
	require.NoError(t, err)
	_, err = fw.Write([]byte(s))
	require.NoError(t, err)
	require.NoError(t, fw.Flush())
	return b.Bytes()
}

// startDeflate switches the client to DEFLATE in both directions, as after
// the tagged OK of COMPRESS. Bytes the client pipelined behind COMPRESS
// were compressed by a compressor of their own, ended by a sync flush, so
// a fresh compressor may go on from there.
func (c *client) startDeflate() {
	c.t.Helper()
	rest, err := c.r.Peek(c.r.Buffered())
	require.NoError(c.t, err)
	raw := c.nc
	fw, err := flate.NewWriter(raw, flate.DefaultCompression)
	require.NoError(c.t, err)
	dc := &deflateConn{Conn: raw, r: flate.NewReader(io.MultiReader(bytes.NewReader(bytes.Clone(rest)), raw)), fw: fw}
	c.nc = dc
	c.r = newReader(dc)
}

// compress runs COMPRESS DEFLATE and switches the client to it.
func (c *client) compress(tag string) {
	c.t.Helper()
	_, done := c.cmd(tag, "COMPRESS DEFLATE")
	require.Equal(c.t, tag+" OK DEFLATE active", done)
	c.startDeflate()
}

// rawConn is the connection under the client's compression.
func (c *client) rawConn() net.Conn {
	if dc, ok := c.nc.(*deflateConn); ok {
		return dc.Conn
	}
	return c.nc
}

// TestCompressDeflate follows RFC 4978's example: after login, COMPRESS
// DEFLATE is answered with an uncompressed OK, and from then on commands
// and responses are compressed; the session works as before.
func TestCompressDeflate(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	c.compress("A2")
	caps := c.ok("A3", "CAPABILITY")
	require.Len(t, caps, 1)
	assert.Contains(t, strings.Fields(caps[0]), compressCapability)
	c.ok("A4", "SELECT INBOX")
	c.ok("A5", fmt.Sprintf("APPEND INBOX {%d+}\r\n%s", len(testMsg), testMsg))
	u := c.ok("A6", "FETCH 1 (BODY.PEEK[])")
	require.NotEmpty(t, u)
	assert.True(t, strings.HasPrefix(u[0], "* 1 FETCH (BODY[] {"), u[0])
	u, done := c.cmd("A7", "LOGOUT")
	assert.Equal(t, []string{"* BYE Logging out"}, u)
	assert.True(t, strings.HasPrefix(done, "A7 OK"), done)
	assert.Equal(t, int64(1), ts.srv.Metrics().CompressedSessions())
}

const testMsg = "From: a@example.org\r\nSubject: hello\r\n\r\nhello world\r\n"

// TestCompressMechanisms: DEFLATE is the only mechanism, in any letter
// case; another, or none, gets BAD and the session stays uncompressed.
func TestCompressMechanisms(t *testing.T) {
	c := newTestServer(t).dial()
	c.login()
	_, done := c.cmd("A1", "COMPRESS LZW")
	assert.Equal(t, "A1 BAD Unsupported compression mechanism LZW; only DEFLATE is supported", done)
	_, done = c.cmd("A2", "COMPRESS")
	assert.True(t, strings.HasPrefix(done, "A2 BAD "), done)
	_, done = c.cmd("A3", "COMPRESS DEFLATE extra")
	assert.True(t, strings.HasPrefix(done, "A3 BAD "), done)
	c.ok("A4", "NOOP") // still uncompressed
	c.compress("A5")
	c.ok("A6", "NOOP")
}

// TestCompressBeforeLogin: COMPRESS needs authentication (RFC 4978 3);
// the connection stays usable and uncompressed.
func TestCompressBeforeLogin(t *testing.T) {
	c := newTestServer(t).dial()
	_, done := c.cmd("A1", "COMPRESS DEFLATE")
	assert.Equal(t, "A1 BAD COMPRESS is only valid after authentication", done)
	c.login()
	c.compress("A2")
	c.ok("A3", "NOOP")
}

// TestCompressPipelined: commands a client pipelines behind COMPRESS
// (compressed, as the client assumed the OK) arrive in the same read as
// the COMPRESS line; the server decompresses them instead of reading them
// as plaintext.
func TestCompressPipelined(t *testing.T) {
	c := newTestServer(t).dial()
	c.login()
	pipelined := "A2 NOOP\r\nA3 SELECT INBOX\r\n"
	var b bytes.Buffer
	b.WriteString("A1 COMPRESS DEFLATE\r\n")
	b.Write(deflated(t, pipelined))
	c.send(b.String())
	assert.Equal(t, "A1 OK DEFLATE active", c.line())
	c.startDeflate()
	_, done := c.until("A2")
	assert.True(t, strings.HasPrefix(done, "A2 OK"), done)
	_, done = c.until("A3")
	assert.True(t, strings.HasPrefix(done, "A3 OK"), done)
	c.ok("A4", "NOOP")
}

// TestCompressIdlePush: a push to an idling compressed session (another
// session's APPEND) is flushed through the compressor at once.
func TestCompressIdlePush(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	c.compress("A1")
	c.ok("A2", "SELECT INBOX")
	c.send("I1 IDLE\r\n")
	require.True(t, strings.HasPrefix(c.line(), "+ "))
	other := ts.dial()
	other.login()
	other.ok("B1", fmt.Sprintf("APPEND INBOX {%d+}\r\n%s", len(testMsg), testMsg))
	assert.Equal(t, "* 1 EXISTS", c.line())
	assert.Equal(t, "* 1 RECENT", c.line())
	other.ok("B2", "SELECT INBOX")
	other.ok("B3", `STORE 1 +FLAGS (\Flagged)`)
	assert.Regexp(t, `^\* 1 FETCH \(.*\\Flagged`, c.line())
	c.send("DONE\r\n")
	_, done := c.until("I1")
	assert.Equal(t, "I1 OK IDLE terminated", done)
	c.ok("A3", "NOOP")
}

// TestCompressBigFetch: a message of several encoder buffers goes up
// compressed (APPEND with a synchronising literal, so the continuation
// request goes through the compressor too) and comes back intact.
func TestCompressBigFetch(t *testing.T) {
	c := newTestServer(t).dial()
	c.login()
	c.compress("A1")
	c.ok("A2", "SELECT INBOX")
	var body strings.Builder
	body.WriteString("From: a@example.org\r\nSubject: big\r\n\r\n")
	for i := 0; body.Len() < 3<<20; i++ {
		fmt.Fprintf(&body, "line %d of a large message, with some text that repeats and some that does not: %x\r\n", i, i*7919)
	}
	msg := body.String()
	c.send(fmt.Sprintf("A3 APPEND INBOX {%d}\r\n", len(msg)))
	require.True(t, strings.HasPrefix(c.line(), "+ "))
	c.send(msg + "\r\n")
	_, done := c.until("A3")
	require.True(t, strings.HasPrefix(done, "A3 OK"), done)
	c.send("A4 FETCH 1 BODY.PEEK[]\r\n")
	head := c.line()
	require.Equal(t, fmt.Sprintf("* 1 FETCH (BODY[] {%d}", len(msg)), head)
	got := make([]byte, len(msg))
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.ReadFull(c.r, got)
	require.NoError(t, err)
	assert.True(t, string(got) == msg, "the body differs")
	assert.Equal(t, ")", c.line())
	_, done = c.until("A4")
	assert.True(t, strings.HasPrefix(done, "A4 OK"), done)
}

// TestCompressLimitsApplyDecompressed: a line that compresses to a few
// hundred bytes but decompresses beyond Limits.MaxLine is refused like an
// uncompressed one (a decompression bomb), and the session goes on.
func TestCompressLimitsApplyDecompressed(t *testing.T) {
	c := newTestServer(t).dial()
	c.login()
	c.compress("A1")
	bomb := "A2 NOOP " + strings.Repeat("x", 1<<20) + "\r\n"
	// The server answers as soon as the line passes the limit, while
	// the rest is still being sent (net.Pipe buffers nothing).
	sent := make(chan error, 1)
	go func() {
		_, err := c.nc.Write([]byte(bomb))
		sent <- err
	}()
	_, done := c.until("A2")
	require.NoError(t, <-sent)
	assert.Equal(t, "A2 BAD [TOOBIG] Line too long", done)
	c.ok("A3", "NOOP")
}

// TestCompressCorruptStream: bytes that are no DEFLATE end the session
// with a BYE (compressed, since the server's direction is fine), and the
// server logs why.
func TestCompressCorruptStream(t *testing.T) {
	logs := &lockedBuffer{}
	ts := newTestServer(t, func(cfg *Config) { cfg.Logger = slogTo(logs) })
	c := ts.dial()
	c.login()
	c.compress("A1")
	c.ok("A2", "NOOP")
	// A block with the reserved block type 11 (RFC 1951 3.2.3).
	_, err := c.rawConn().Write([]byte{0xff, 0xff, 0xff, 0xff})
	require.NoError(t, err)
	assert.Equal(t, "* BYE Compressed input is corrupt", c.line())
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = c.r.ReadByte()
	assert.Error(t, err, "the connection is closed")
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "corrupt COMPRESS DEFLATE stream") }, 3*time.Second, 10*time.Millisecond)
}

// TestCompressOverTLS: COMPRESS after login on an implicit-TLS connection
// (compression on top of TLS, RFC 4978 3).
func TestCompressOverTLS(t *testing.T) {
	ts := tlsServer(t, 0)
	c, err := ts.dialTLS(&tls.Config{InsecureSkipVerify: true})
	require.NoError(t, err)
	c.login()
	c.compress("A1")
	c.ok("A2", "SELECT INBOX")
	c.ok("A3", fmt.Sprintf("APPEND INBOX {%d+}\r\n%s", len(testMsg), testMsg))
	u := c.ok("A4", "FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
	require.NotEmpty(t, u)
}

// lockedBuffer is a log sink safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// slogTo is a debug-level logger writing to w.
func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// TestDeflateWriterOutput: what deflateWriter writes decompresses to its
// input, for writes under storedBelow (stored blocks), above it
// (compressed), and above deflateChunk (several sync-flushed pieces), in
// any order; after each write, everything written so far can be
// decompressed: nothing waits for a later write.
func TestDeflateWriterOutput(t *testing.T) {
	var wire bytes.Buffer
	w := deflateWriter{next: &wire}
	big := strings.Repeat("a line of a large literal that repeats\r\n", 5000)
	var sent string
	for _, p := range []string{"* 1 EXISTS\r\n", big, "A1 OK done\r\n", strings.Repeat("y", storedBelow), "", "z"} {
		n, err := w.Write([]byte(p))
		require.NoError(t, err)
		require.Equal(t, len(p), n)
		sent += p
		got, err := io.ReadAll(flate.NewReader(bytes.NewReader(wire.Bytes())))
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "the stream goes on (no final block)")
		assert.True(t, string(got) == sent, "after a write of %d bytes, %d of %d bytes decompress", len(p), len(got), len(sent))
	}
	assert.Less(t, wire.Len(), len(sent)/10, "the large write is compressed")
}

// TestCompressTwice: compression is negotiated once per connection; the
// spec's compression fact refuses a second COMPRESS with NO
// [COMPRESSIONACTIVE] (RFC 4978 3), and the session goes on compressed.
// A COMPRESS that failed (BAD) leaves the fact unset.
func TestCompressTwice(t *testing.T) {
	c := newTestServer(t).dial()
	c.login()
	_, done := c.cmd("A1", "COMPRESS X")
	require.True(t, strings.HasPrefix(done, "A1 BAD "), done)
	c.compress("A2")
	_, done = c.cmd("A3", "COMPRESS DEFLATE")
	assert.Equal(t, "A3 NO [COMPRESSIONACTIVE] Compression is already active", done)
	c.ok("A4", "SELECT INBOX")
	_, done = c.cmd("A5", "COMPRESS DEFLATE")
	assert.Equal(t, "A5 NO [COMPRESSIONACTIVE] Compression is already active", done)
	c.ok("A6", "NOOP")
}

// TestCompressPartialFlush: isync/mbsync flushes its commands with zlib's
// Z_PARTIAL_FLUSH, which ends them with an empty fixed-code block whose
// last bits come only with the next command. These are the bytes it sent
// for "3 NAMESPACE"; the server must answer without waiting for more.
func TestCompressPartialFlush(t *testing.T) {
	c := newTestServer(t).dial()
	c.login()
	c.compress("2")
	stream, err := hex.DecodeString("3256f073f4750d0e707476e5e50208")
	require.NoError(t, err)
	_, err = c.rawConn().Write(stream)
	require.NoError(t, err)
	u, done := c.until("3")
	assert.Equal(t, []string{`* NAMESPACE (("" "/")) NIL NIL`}, u)
	assert.Equal(t, "3 OK NAMESPACE completed", done)
}
