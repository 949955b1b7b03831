// Package imapc is the small raw-protocol IMAP client of imapload. It
// speaks just enough IMAP4rev1/IMAP4rev2 (RFC 3501, RFC 9051) to drive a
// server under load and to check its answers: tagged commands, literals in
// both directions (LITERAL+ when the server offers it, RFC 7888) and IDLE
// (RFC 2177). It never interprets more of a response than a caller asks
// for, so its cost stays small next to the server's, except through a
// Checker (Conn.SetChecker), which follows the selected mailbox's state
// from every response and counts protocol violations.
package imapc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// MaxLiteral bounds a literal the client accepts from a server.
const MaxLiteral = 64 << 20

// ErrVerify marks a wrong answer from the server: a NO or BAD where OK was
// due, a missing or malformed response. A load run counts it as an error,
// never as throughput.
var ErrVerify = errors.New("wrong answer")

// Verifyf returns an error wrapping ErrVerify.
func Verifyf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrVerify, fmt.Sprintf(format, args...))
}

// Response is one server response: its text with every literal replaced by
// its "{N}" announcement, and the literals in order.
type Response struct {
	Line     string
	Literals [][]byte
}

// Untagged reports whether r starts with "* ".
func (r *Response) Untagged() bool { return strings.HasPrefix(r.Line, "* ") }

// Continuation reports whether r is a continuation request ("+ ...").
func (r *Response) Continuation() bool { return r.Line == "+" || strings.HasPrefix(r.Line, "+ ") }

// Number returns N and the keyword of an untagged "* N KEYWORD ..." response
// (EXISTS, EXPUNGE, FETCH), or ok=false.
func (r *Response) Number() (n uint32, keyword string, ok bool) {
	if !r.Untagged() {
		return 0, "", false
	}
	rest := r.Line[2:]
	num, rest, found := strings.Cut(rest, " ")
	if !found {
		return 0, "", false
	}
	v, err := strconv.ParseUint(num, 10, 32)
	if err != nil {
		return 0, "", false
	}
	kw, _, _ := strings.Cut(rest, " ")
	return uint32(v), strings.ToUpper(kw), true
}

// Result is the completion of a tagged command.
type Result struct {
	// Status is OK, NO or BAD.
	Status string
	// Text is the rest of the tagged line, response code included.
	Text string
	// Untagged holds the responses received before the completion.
	Untagged []Response
}

// Conn is one client connection. It is not safe for concurrent use.
type Conn struct {
	nc      net.Conn
	r       *bufio.Reader
	w       *bufio.Writer
	tag     uint64
	timeout time.Duration
	caps    map[string]bool
	check   *Checker
	// Greeting is the server's greeting line.
	Greeting string
}

// Dialer opens connections.
type Dialer struct {
	// LocalAddr is the local address to dial from; nil lets the system
	// choose.
	LocalAddr net.Addr
	// Timeout bounds the dial and, later, each command's round trip.
	// Zero means 30 seconds.
	Timeout time.Duration
}

// Dial connects to addr and reads the greeting, which must be OK.
func (d Dialer) Dial(addr string) (*Conn, error) {
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	nd := net.Dialer{Timeout: timeout, LocalAddr: d.LocalAddr}
	nc, err := nd.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c := NewConn(nc, timeout)
	resp, err := c.Read()
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("greeting: %w", err)
	}
	if !strings.HasPrefix(resp.Line, "* OK") && !strings.HasPrefix(resp.Line, "* PREAUTH") {
		nc.Close()
		return nil, Verifyf("greeting %q", resp.Line)
	}
	c.Greeting = resp.Line
	c.parseCaps(resp.Line)
	return c, nil
}

// NewConn wraps an established connection whose greeting has not been read.
// timeout bounds each read and write (zero: none).
func NewConn(nc net.Conn, timeout time.Duration) *Conn {
	return &Conn{nc: nc, r: bufio.NewReaderSize(nc, 4096), w: bufio.NewWriterSize(nc, 4096), timeout: timeout}
}

// SetChecker makes k check every response the connection reads from now
// on, and every command it sends.
func (c *Conn) SetChecker(k *Checker) { c.check = k }

// Sent tells the connection's checker, if any, about a command the caller
// writes on NetConn itself; call it before writing.
func (c *Conn) Sent(tag, cmd string) { c.sent(tag, cmd) }

// sent tells the checker, if any, about a command.
func (c *Conn) sent(tag, cmd string) {
	if c.check != nil {
		c.check.Sent(tag, cmd)
	}
}

// Close closes the connection without LOGOUT.
func (c *Conn) Close() error { return c.nc.Close() }

// NetConn returns the underlying connection.
func (c *Conn) NetConn() net.Conn { return c.nc }

// Has reports whether the server announced capability name (upper case) in
// its greeting or the last CAPABILITY response seen.
func (c *Conn) Has(name string) bool { return c.caps[name] }

// parseCaps records the capabilities of a "[CAPABILITY ...]" code or an
// untagged CAPABILITY response in line.
func (c *Conn) parseCaps(line string) {
	var list string
	if i := strings.Index(line, "[CAPABILITY "); i >= 0 {
		list = line[i+len("[CAPABILITY "):]
		if j := strings.IndexByte(list, ']'); j >= 0 {
			list = list[:j]
		}
	} else if strings.HasPrefix(line, "* CAPABILITY ") {
		list = line[len("* CAPABILITY "):]
	} else {
		return
	}
	c.caps = map[string]bool{}
	for _, f := range strings.Fields(list) {
		c.caps[strings.ToUpper(f)] = true
	}
}

func (c *Conn) deadline() {
	if c.timeout > 0 {
		c.nc.SetDeadline(time.Now().Add(c.timeout))
	}
}

// NoDeadline clears the read and write deadline (for IDLE, which waits for
// as long as the caller wants).
func (c *Conn) NoDeadline() { c.nc.SetDeadline(time.Time{}) }

// Read reads one response with its literals.
func (c *Conn) Read() (Response, error) {
	var resp Response
	var line []byte
	for {
		part, err := c.readLine()
		if err != nil {
			return resp, err
		}
		n, ok := literalSize(part)
		line = append(line, part...)
		if !ok {
			break
		}
		if n > MaxLiteral {
			return resp, Verifyf("literal of %d bytes", n)
		}
		lit := make([]byte, n)
		if _, err := io.ReadFull(c.r, lit); err != nil {
			return resp, err
		}
		resp.Literals = append(resp.Literals, lit)
	}
	resp.Line = string(line)
	if resp.Untagged() {
		c.parseCaps(resp.Line)
	}
	if c.check != nil {
		c.check.Received(&resp)
	}
	return resp, nil
}

// readLine returns one line without CRLF.
func (c *Conn) readLine() ([]byte, error) {
	line, err := c.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		long := append([]byte(nil), line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			if len(long) > 1<<20 {
				return nil, Verifyf("response line over 1 MiB")
			}
			line, err = c.r.ReadSlice('\n')
			long = append(long, line...)
		}
		line = long
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	return line, nil
}

// literalSize reports whether line ends with a literal announcement
// "{N}" or "{N+}" and returns N.
func literalSize(line []byte) (int64, bool) {
	if len(line) < 3 || line[len(line)-1] != '}' {
		return 0, false
	}
	i := bytes.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false
	}
	num := bytes.TrimSuffix(line[i+1:len(line)-1], []byte("+"))
	n, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// nextTag returns a fresh tag.
func (c *Conn) nextTag() string {
	c.tag++
	return "a" + strconv.FormatUint(c.tag, 10)
}

// Command sends "TAG cmd" and collects responses up to its completion. It
// returns an error only for I/O failures and malformed completions; a NO
// or BAD is in Result.Status (see Expect for the usual case).
func (c *Conn) Command(cmd string) (*Result, error) {
	tag := c.nextTag()
	c.sent(tag, cmd)
	c.deadline()
	c.w.WriteString(tag)
	c.w.WriteByte(' ')
	c.w.WriteString(cmd)
	c.w.WriteString("\r\n")
	if err := c.w.Flush(); err != nil {
		return nil, err
	}
	return c.complete(tag)
}

// Expect runs cmd and requires a tagged OK.
func (c *Conn) Expect(cmd string) (*Result, error) {
	res, err := c.Command(cmd)
	if err != nil {
		return nil, err
	}
	if res.Status != "OK" {
		verb, _, _ := strings.Cut(cmd, " ")
		return res, Verifyf("%s: %s %s", verb, res.Status, res.Text)
	}
	return res, nil
}

// complete reads responses until the completion tagged tag.
func (c *Conn) complete(tag string) (*Result, error) {
	res := &Result{}
	for {
		resp, err := c.Read()
		if err != nil {
			return nil, err
		}
		if resp.Untagged() {
			res.Untagged = append(res.Untagged, resp)
			continue
		}
		if resp.Continuation() {
			return nil, Verifyf("unexpected continuation %q", resp.Line)
		}
		t, rest, _ := strings.Cut(resp.Line, " ")
		if t != tag {
			return nil, Verifyf("completion for tag %q, want %q: %q", t, tag, resp.Line)
		}
		status, text, _ := strings.Cut(rest, " ")
		status = strings.ToUpper(status)
		if status != "OK" && status != "NO" && status != "BAD" {
			return nil, Verifyf("malformed completion %q", resp.Line)
		}
		res.Status, res.Text = status, text
		return res, nil
	}
}

// Login sends LOGIN with both arguments as quoted strings and requires OK.
func (c *Conn) Login(user, pass string) (*Result, error) {
	return c.Expect("LOGIN " + Quote(user) + " " + Quote(pass))
}

// Logout sends LOGOUT, requires BYE and OK, and closes the connection.
func (c *Conn) Logout() error {
	defer c.nc.Close()
	res, err := c.Expect("LOGOUT")
	if err != nil {
		return err
	}
	for _, u := range res.Untagged {
		if strings.HasPrefix(u.Line, "* BYE") {
			return nil
		}
	}
	return Verifyf("LOGOUT: no BYE")
}

// Append stores msg in mailbox with flags (e.g. `(\Seen)`, or "") and
// requires OK. It uses a non-synchronizing literal when the server offers
// LITERAL+.
func (c *Conn) Append(mailbox, flags string, msg []byte) (*Result, error) {
	tag := c.nextTag()
	c.sent(tag, "APPEND")
	c.deadline()
	c.w.WriteString(tag)
	c.w.WriteString(" APPEND ")
	c.w.WriteString(Quote(mailbox))
	if flags != "" {
		c.w.WriteByte(' ')
		c.w.WriteString(flags)
	}
	plus := c.Has("LITERAL+")
	fmt.Fprintf(c.w, " {%d", len(msg))
	if plus {
		c.w.WriteString("+}\r\n")
	} else {
		c.w.WriteString("}\r\n")
		if err := c.w.Flush(); err != nil {
			return nil, err
		}
		resp, err := c.Read()
		if err != nil {
			return nil, err
		}
		if !resp.Continuation() {
			return nil, Verifyf("APPEND: want continuation, got %q", resp.Line)
		}
	}
	c.w.Write(msg)
	c.w.WriteString("\r\n")
	if err := c.w.Flush(); err != nil {
		return nil, err
	}
	res, err := c.complete(tag)
	if err != nil {
		return nil, err
	}
	if res.Status != "OK" {
		return res, Verifyf("APPEND: %s %s", res.Status, res.Text)
	}
	return res, nil
}

// Idle starts IDLE and waits for the continuation. The connection's
// deadline is cleared; read pushed responses with Read and end with Done.
// It returns the tag to pass to Done.
func (c *Conn) Idle() (string, error) {
	tag := c.nextTag()
	c.sent(tag, "IDLE")
	c.deadline()
	c.w.WriteString(tag + " IDLE\r\n")
	if err := c.w.Flush(); err != nil {
		return "", err
	}
	for {
		resp, err := c.Read()
		if err != nil {
			return "", err
		}
		if resp.Continuation() {
			c.NoDeadline()
			return tag, nil
		}
		if !resp.Untagged() {
			return "", Verifyf("IDLE: want continuation, got %q", resp.Line)
		}
	}
}

// Done ends IDLE and requires the tagged OK.
func (c *Conn) Done(tag string) error {
	c.deadline()
	c.w.WriteString("DONE\r\n")
	if err := c.w.Flush(); err != nil {
		return err
	}
	res, err := c.complete(tag)
	if err != nil {
		return err
	}
	if res.Status != "OK" {
		return Verifyf("IDLE: %s %s", res.Status, res.Text)
	}
	return nil
}

// Quote returns s as an IMAP quoted string.
func Quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// ResponseCode returns the bracketed response code of a tagged text, e.g.
// "APPENDUID 38505 3955" for "[APPENDUID 38505 3955] APPEND completed", or
// "".
func ResponseCode(text string) string {
	if !strings.HasPrefix(text, "[") {
		return ""
	}
	end := strings.IndexByte(text, ']')
	if end < 0 {
		return ""
	}
	return text[1:end]
}

// AppendUID parses the UID of an APPENDUID response code (RFC 4315).
func AppendUID(text string) (uint32, bool) {
	f := strings.Fields(ResponseCode(text))
	if len(f) != 3 || !strings.EqualFold(f[0], "APPENDUID") {
		return 0, false
	}
	uid, err := strconv.ParseUint(f[2], 10, 32)
	if err != nil || uid == 0 {
		return 0, false
	}
	return uint32(uid), true
}
