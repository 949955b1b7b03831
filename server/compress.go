package server

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"sync"
)

// COMPRESS=DEFLATE (RFC 4978): after the tagged OK of COMPRESS DEFLATE both
// directions of the connection carry raw DEFLATE (RFC 1951, no zlib
// header). The layers, from the session down to the network:
//
//	decoder → sessionReader (limits, deadlines) → inflateReader → inflateSource → TLS or TCP
//	encoder → deflateWriter → sessionWriter (write deadlines, IDLE pushes) → TLS or TCP
//
// The read limits (Limits.MaxLine, the literal limits, maxCommandBytes)
// therefore apply to decompressed bytes: a few compressed bytes that
// expand into a huge line are refused like the huge line itself. STARTTLS
// is only valid before login and COMPRESS only after it, so compression
// always runs on top of TLS when both are used, which is the order RFC
// 4978 section 3 requires (compress, then encrypt).
//
// Memory is what decides the design, since thousands of compressed
// sessions may idle for hours (IDLE). Decompression needs the client's
// 32 KiB window for the whole session (the client's compressor may refer
// back to anything it sent), so each compressed session keeps an inflater
// (inflate.go, which also hands out commands that zlib clients flushed
// with Z_PARTIAL_FLUSH). Compression does not: deflateWriter compresses each write of
// the encoder (a batch of responses, or one buffer of a large one) with a
// compressor taken from a pool and ends it with a sync flush, so that the
// bytes are on their way at once and the next write may start a fresh
// compressor on a byte boundary. A compressed session holds no compressor
// between writes; the price is that a batch cannot refer back to earlier
// ones, which costs little since IMAP batches are large or tiny.

// compressLevel is the DEFLATE level of the server's output. BestSpeed
// resets in constant time (higher levels clear 640 KiB of hash tables on
// every reset, that is on every write here) and compresses IMAP responses
// nearly as well; see BenchmarkDeflateWriter.
const compressLevel = flate.BestSpeed

// deflateChunk is the most input one pooled compressor takes before a sync
// flush, so that the output of a large literal written at once is sent in
// pieces instead of being held in memory whole.
const deflateChunk = 64 << 10

// storedBelow is the size under which a write is sent as a stored
// (uncompressed) DEFLATE block: a status line or an IDLE push compresses
// to no fewer bytes than its 10 bytes of framing, and the stored block
// needs no compressor at all (see BenchmarkDeflateWriter/status).
const storedBelow = 128

// keptDeflateOutput is the largest output buffer returned to the pool.
const keptDeflateOutput = 128 << 10

// inflateBufferSize is the read buffer of a decompressing session while
// compressed bytes stream in; a session waiting for a command reads into a
// small array instead (inflateSource).
const inflateBufferSize = 16 << 10

// inflateFirstRead is the size of that small array.
const inflateFirstRead = 64

var (
	deflaters      = newDeflatePool(compressLevel)
	deflateOutputs = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	inflateBuffers = sync.Pool{New: func() any { return new([inflateBufferSize]byte) }}
)

// deflatePool holds idle compressors of one level.
type deflatePool struct{ sync.Pool }

func newDeflatePool(level int) *deflatePool {
	p := &deflatePool{}
	p.New = func() any {
		w, err := flate.NewWriter(nil, level)
		if err != nil {
			panic(err) // a constant, valid level
		}
		return w
	}
	return p
}

// deflate appends p to out as DEFLATE blocks ended by a sync flush (an
// empty stored block), with a pooled compressor that starts afresh.
func (dp *deflatePool) deflate(out *bytes.Buffer, p []byte) {
	fw := dp.Get().(*flate.Writer)
	fw.Reset(out)
	// Writes to a bytes.Buffer do not fail.
	fw.Write(p)
	fw.Flush()
	fw.Reset(nil)
	dp.Put(fw)
}

// deflateWriter is what the encoder writes to once compression is active.
// Each write is compressed and sync-flushed (RFC 4978 section 4: no
// response may wait in the compressor) and handed to next as one write.
type deflateWriter struct {
	next  io.Writer
	trace *tracer // the protocol trace, fed the uncompressed bytes; may be nil
}

// Write implements io.Writer.
func (w deflateWriter) Write(p []byte) (int, error) {
	if w.trace != nil && len(p) > 0 {
		w.trace.feed(&w.trace.server, p)
	}
	written := 0
	for len(p) > 0 {
		n := min(len(p), deflateChunk)
		out := deflateOutputs.Get().(*bytes.Buffer)
		out.Reset()
		if n < storedBelow {
			storedBlock(out, p[:n])
		} else {
			deflaters.deflate(out, p[:n])
		}
		_, err := w.next.Write(out.Bytes())
		if out.Cap() <= keptDeflateOutput {
			deflateOutputs.Put(out)
		}
		if err != nil {
			return written, err
		}
		written += n
		p = p[n:]
	}
	return written, nil
}

// storedBlock appends p to out as a stored DEFLATE block that is not the
// last (RFC 1951 3.2.4: a header byte of zeros for BFINAL 0, BTYPE 00 and
// the padding, LEN, NLEN, the bytes), followed by the empty stored block
// of a sync flush: some decompressors (Go's among them) hand out a stored
// block's bytes only once the next block has begun. Both start and end
// on a byte boundary, so the stream may go on from there.
func storedBlock(out *bytes.Buffer, p []byte) {
	n := uint16(len(p))
	out.Write([]byte{0, byte(n), byte(n >> 8), ^byte(n), ^byte(n >> 8)})
	out.Write(p)
	out.Write([]byte{0, 0, 0, 0xff, 0xff})
}

// errCompressedStream wraps an error of the client's DEFLATE stream: it
// cannot be decompressed, so nothing more can be read from the client.
type errCompressedStream struct{ err error }

func (e *errCompressedStream) Error() string {
	return fmt.Sprintf("corrupt COMPRESS DEFLATE stream: %v", e.err)
}

func (e *errCompressedStream) Unwrap() error { return e.err }

// inflateReader decompresses the client's bytes once compression is
// active. Errors of the connection underneath (a timeout, a closed
// connection, the end of the stream) come out as they are, so that the
// engine tells them apart as without compression; an error of the
// DEFLATE stream itself is an *errCompressedStream. Like the decoder's,
// every error is final.
type inflateReader struct {
	fr    *inflater
	src   *inflateSource
	trace *tracer
}

// newInflateReader returns a reader that decompresses pending (bytes the
// client sent after COMPRESS that were read before the switch) and then
// what nc delivers.
func newInflateReader(nc io.Reader, pending []byte, trace *tracer) *inflateReader {
	src := &inflateSource{nc: nc, pending: pending}
	return &inflateReader{fr: newInflater(src), src: src, trace: trace}
}

// Read implements io.Reader.
func (r *inflateReader) Read(p []byte) (int, error) {
	n, err := r.fr.Read(p)
	if n > 0 && r.trace != nil {
		r.trace.feed(&r.trace.client, p[:n])
	}
	var corrupt corruptInput
	switch {
	case err == nil, err == io.EOF:
		// io.EOF: the client ended its stream with a final block;
		// nothing can follow it.
	case errors.As(err, &corrupt):
		err = &errCompressedStream{err: err}
	case r.src.err != nil:
		// The connection failed, or ended (possibly in the middle of
		// a DEFLATE block, which the decompressor reports as an
		// unexpected EOF): report what it said.
		err = r.src.err
	}
	return n, err
}

// inflateSource is the byte source of a session's decompressor. It first
// returns the bytes pipelined before the switch, then reads the
// connection. While compressed bytes stream in it reads into a pooled
// buffer; once a read returns less than a full buffer (the client has
// sent everything it had), the buffer goes back to the pool and the next
// read, which may wait for hours, uses a small array, so that an idle
// compressed session holds no read buffer.
type inflateSource struct {
	nc      io.Reader
	pending []byte
	small   [inflateFirstRead]byte
	big     *[inflateBufferSize]byte
	buf     []byte // unread bytes, in small, big or pending
	full    bool   // the last read filled its buffer
	err     error  // the first error of nc; final
}

// buffered is the number of bytes that can be read without waiting.
func (s *inflateSource) buffered() int { return len(s.buf) + len(s.pending) }

// ReadByte implements io.ByteReader, which the decompressor uses.
func (s *inflateSource) ReadByte() (byte, error) {
	if len(s.buf) == 0 {
		if err := s.fill(); err != nil {
			return 0, err
		}
	}
	b := s.buf[0]
	s.buf = s.buf[1:]
	return b, nil
}

// Read implements io.Reader (stored blocks are copied with it).
func (s *inflateSource) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if len(s.buf) == 0 {
		if err := s.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, s.buf)
	s.buf = s.buf[n:]
	return n, nil
}

// fill reads the next bytes into buf.
func (s *inflateSource) fill() error {
	if len(s.pending) > 0 {
		s.buf, s.pending = s.pending, nil
		return nil
	}
	if s.err != nil {
		return s.err
	}
	var dst []byte
	if s.full {
		if s.big == nil {
			s.big = inflateBuffers.Get().(*[inflateBufferSize]byte)
		}
		dst = s.big[:]
	} else {
		if s.big != nil {
			inflateBuffers.Put(s.big)
			s.big = nil
		}
		dst = s.small[:]
	}
	for range 100 {
		n, err := s.nc.Read(dst)
		if err != nil {
			s.err = err
		}
		if n > 0 {
			s.full = n == len(dst)
			s.buf = dst[:n]
			return nil
		}
		if err != nil {
			return err
		}
	}
	s.err = io.ErrNoProgress
	return s.err
}

// startCompression switches the connection to COMPRESS DEFLATE. It runs
// right after the tagged OK of COMPRESS has been written (conn.after), so
// that the OK is the last uncompressed byte the server sends; the client's
// bytes after the command's CRLF are decompressed, those already read
// included.
func (c *conn) startCompression() {
	pending := c.dec.TakeBuffered()
	nc := c.nc
	if tc, ok := nc.(traceConn); ok {
		// The trace goes on with the uncompressed exchange, fed by
		// the compression layers instead of the connection.
		nc = tc.Conn
		c.nc = nc
	}
	c.rd.setSource(newInflateReader(nc, pending, c.trace))
	c.dec.Reset(c.rd)
	c.wmu.Lock()
	c.out = deflateWriter{next: sessionWriter{c}, trace: c.trace}
	c.enc.Reset(c.out)
	c.wmu.Unlock()
	c.srv.metrics.compressed.Add(1)
	c.log.Debug("COMPRESS DEFLATE active", "pipelined", len(pending))
}
