package server

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A protocol trace records one connection's IMAP exchange in the RFC's
// transcript form, "C: " before each client line and "S: " before each
// server line, in the order the server read and wrote them, so that
// `imapd replay` can run it through the session machine. Literal bytes
// (message contents, both ways) are replaced by "<literal n bytes
// redacted>", and so are credentials: the arguments of LOGIN, the initial
// response of AUTHENTICATE and every SASL response line. Machine events
// (timers, the end of a TLS handshake, shutdown) are "-- event NAME" notes.
// After STARTTLS the trace goes on with the decrypted exchange.

// traceSeq numbers the trace files of one process.
var traceSeq atomic.Uint64

// tracer writes one connection's trace file.
type tracer struct {
	mu     sync.Mutex
	f      *os.File
	w      *bufio.Writer
	client traceSide
	server traceSide
	// saslTag is the tag of an AUTHENTICATE exchange in progress: client
	// lines are SASL responses until the server completes it.
	saslTag string
}

// traceSide splits one direction's bytes into lines and literals.
type traceSide struct {
	prefix string
	line   []byte
	over   bool  // the line grew beyond traceLineMax; the rest is dropped
	skip   int64 // literal bytes still to skip
	secret bool  // the command in progress carries credentials
}

// traceLineMax bounds the part of a line a trace keeps.
const traceLineMax = 4096

var traceLiteral = regexp.MustCompile(`~?\{(\d+)\+?\}$`)

// newTracer creates the trace file of a connection in dir.
func newTracer(dir string, remote net.Addr) (*tracer, error) {
	now := time.Now().UTC()
	name := fmt.Sprintf("%s-%d-%s.trace", now.Format("20060102T150405Z"), traceSeq.Add(1),
		strings.NewReplacer(":", "_", "/", "_", "[", "", "]", "").Replace(remote.String()))
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	t := &tracer{f: f, w: bufio.NewWriter(f)}
	t.client.prefix, t.server.prefix = "C: ", "S: "
	fmt.Fprintf(t.w, "# imapfsm protocol trace: connection from %s at %s\n", remote, now.Format(time.RFC3339))
	return t, nil
}

// note writes a "-- " note.
func (t *tracer) note(text string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.w, "-- %s\n", text)
	t.w.Flush()
}

// close flushes and closes the file.
func (t *tracer) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.w.Flush()
	t.f.Close()
}

// feed records bytes of one direction.
func (t *tracer) feed(s *traceSide, p []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for len(p) > 0 {
		if s.skip > 0 {
			n := min(int64(len(p)), s.skip)
			s.skip -= n
			p = p[n:]
			continue
		}
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if room := traceLineMax - len(s.line); room > 0 {
			s.line = append(s.line, chunk[:min(len(chunk), room)]...)
		}
		s.over = s.over || len(s.line)+len(chunk) > traceLineMax
		if i < 0 {
			return
		}
		p = p[i+1:]
		t.line(s, strings.TrimSuffix(string(s.line), "\r"))
		s.line, s.over = s.line[:0], false
	}
	t.w.Flush()
}

// line writes one complete line, redacted, and arms the literal skip.
func (t *tracer) line(s *traceSide, text string) {
	var lit int64 = -1
	if m := traceLiteral.FindStringSubmatch(text); m != nil {
		lit, _ = strconv.ParseInt(m[1], 10, 64)
	}
	shown := text
	if s == &t.client {
		shown = t.redactClient(s, text, lit >= 0)
		if lit >= 0 && shown != text {
			// Keep the announcement, so that a replay knows a literal follows.
			shown += " " + traceLiteral.FindString(text)
		}
	} else if t.saslTag != "" {
		if tag, rest, _ := strings.Cut(text, " "); tag == t.saslTag && isStatus(rest) {
			t.saslTag = ""
		}
	}
	if len(text) >= traceLineMax {
		shown += " <line truncated>"
	}
	fmt.Fprintf(t.w, "%s%s\n", s.prefix, shown)
	if lit > 0 {
		s.skip = lit
		fmt.Fprintf(t.w, "%s<literal %d bytes redacted>\n", s.prefix, lit)
	}
}

// redactClient hides credentials in a client line.
func (t *tracer) redactClient(s *traceSide, text string, literal bool) string {
	defer func() { s.secret = s.secret && literal }()
	if s.secret {
		return "<redacted>" // the rest of LOGIN or AUTHENTICATE after a literal
	}
	if t.saslTag != "" {
		if text == "*" {
			return text
		}
		return "<redacted>"
	}
	f := strings.Fields(text)
	if len(f) < 2 {
		return text
	}
	switch strings.ToUpper(f[1]) {
	case "LOGIN":
		s.secret = true
		return f[0] + " " + f[1] + " <redacted>"
	case "AUTHENTICATE":
		t.saslTag = f[0]
		if len(f) > 3 {
			s.secret = true
			return strings.Join(f[:3], " ") + " <redacted>"
		}
	}
	return text
}

func isStatus(rest string) bool {
	w, _, _ := strings.Cut(rest, " ")
	w = strings.ToUpper(w)
	return w == "OK" || w == "NO" || w == "BAD"
}

// traceConn is a connection whose bytes go to a tracer.
type traceConn struct {
	net.Conn
	t *tracer
}

func (c traceConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.t.feed(&c.t.client, p[:n])
	}
	return n, err
}

func (c traceConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if n > 0 {
		c.t.feed(&c.t.server, p[:n])
	}
	return n, err
}
