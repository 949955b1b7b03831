package probe

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// response is one server response, with its literals read.
type response struct {
	// Line is the response as the transcript shows it: literals are kept
	// as {n} followed by a note of their size.
	Line string
	// Tag is "*" for untagged responses, "+" for continuation requests,
	// or the tag of a completion.
	Tag string
	// Status is OK, NO, BAD, BYE or PREAUTH for status responses.
	Status string
	// Code is the response code's atom (CLIENTBUG for "[CLIENTBUG]").
	Code string
	// Kind is the type of an untagged response: its status, or the word
	// after the number (EXISTS) or the first word (FLAGS, LIST).
	Kind string
	// Rest is what follows the tag.
	Rest string
}

func parseResponse(line string) response {
	r := response{Line: line}
	tag, rest, _ := strings.Cut(line, " ")
	r.Tag, r.Rest = tag, rest
	if tag == "+" {
		return r
	}
	w1, after, _ := strings.Cut(rest, " ")
	upper := strings.ToUpper(w1)
	switch upper {
	case "OK", "NO", "BAD", "BYE", "PREAUTH":
		r.Status, r.Kind = upper, upper
		if strings.HasPrefix(after, "[") {
			code := strings.TrimPrefix(after, "[")
			if end := strings.IndexAny(code, " ]"); end >= 0 {
				code = code[:end]
			}
			r.Code = strings.ToUpper(code)
		}
	default:
		if _, err := strconv.Atoi(w1); err == nil {
			w2, _, _ := strings.Cut(after, " ")
			r.Kind = strings.ToUpper(w2)
		} else {
			r.Kind = upper
		}
	}
	return r
}

// client is one IMAP connection of the prober. Every byte it sends and
// every response it reads goes to the transcript, with secrets redacted.
type client struct {
	conn    net.Conn
	r       *bufio.Reader
	timeout time.Duration
	log     *transcript
	tags    int
	prefix  string
	caps    map[string]bool
}

// transcript records a session in the RFC's C:/S: form.
type transcript struct {
	lines   []string
	secrets []string
}

func (t *transcript) add(side, text string) {
	for _, s := range t.secrets {
		if s != "" && text == s {
			// A literal holding a secret, as a protocol trace writes it.
			t.lines = append(t.lines, fmt.Sprintf("%s: <literal %d bytes redacted>", side, len(s)))
			return
		}
	}
	for _, s := range t.secrets {
		if s != "" {
			text = strings.ReplaceAll(text, s, "<redacted>")
		}
	}
	t.lines = append(t.lines, side+": "+text)
}

func (t *transcript) note(text string) { t.lines = append(t.lines, "-- "+text) }

// errTimeout reports that the server did not answer in time.
var errTimeout = errors.New("no answer within the timeout")

// dial connects, reads the greeting and, when asked, starts TLS.
func dial(o *Options, log *transcript, prefix string) (*client, error) {
	d := net.Dialer{Timeout: o.Timeout}
	var conn net.Conn
	var err error
	if o.TLS {
		conn, err = tls.DialWithDialer(&d, "tcp", o.Addr, o.tlsConfig())
	} else {
		conn, err = d.Dial("tcp", o.Addr)
	}
	if err != nil {
		return nil, err
	}
	c := &client{conn: conn, r: bufio.NewReader(conn), timeout: o.Timeout, log: log, prefix: prefix}
	greet, err := c.read(time.Now().Add(o.Timeout))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("greeting: %w", err)
	}
	if greet.Status != "OK" && greet.Status != "PREAUTH" {
		conn.Close()
		return nil, fmt.Errorf("greeting: %s", greet.Line)
	}
	if o.StartTLS {
		if _, err := c.command("STARTTLS"); err != nil {
			conn.Close()
			return nil, fmt.Errorf("STARTTLS: %w", err)
		}
		tc := tls.Client(conn, o.tlsConfig())
		tc.SetDeadline(time.Now().Add(o.Timeout))
		if err := tc.Handshake(); err != nil {
			conn.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		tc.SetDeadline(time.Time{})
		c.log.note("TLS handshake done")
		c.conn, c.r = tc, bufio.NewReader(tc)
	}
	return c, nil
}

func (c *client) close() { c.conn.Close() }

// nextTag returns a fresh tag.
func (c *client) nextTag() string {
	c.tags++
	return fmt.Sprintf("%s%d", c.prefix, c.tags)
}

// write sends raw client bytes; each line goes to the transcript.
func (c *client) write(raw string) error {
	for _, l := range strings.SplitAfter(raw, "\r\n") {
		if l != "" {
			c.log.add("C", strings.TrimSuffix(l, "\r\n"))
		}
	}
	c.conn.SetWriteDeadline(time.Now().Add(c.timeout))
	_, err := io.WriteString(c.conn, raw)
	return err
}

// read reads one response, its literals included, by the deadline.
func (c *client) read(deadline time.Time) (response, error) {
	c.conn.SetReadDeadline(deadline)
	var b strings.Builder
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return response{}, errTimeout
			}
			if err == io.EOF {
				c.log.note("connection closed by the server")
				return response{}, io.EOF
			}
			return response{}, err
		}
		line = strings.TrimRight(line, "\r\n")
		b.WriteString(line)
		n, ok := literalSize(line)
		if !ok {
			break
		}
		if n > 1<<24 {
			return response{}, fmt.Errorf("server sent a literal of %d bytes", n)
		}
		if _, err := io.CopyN(io.Discard, c.r, n); err != nil {
			return response{}, err
		}
		fmt.Fprintf(&b, "<%d bytes>", n)
	}
	r := parseResponse(b.String())
	c.log.add("S", r.Line)
	return r, nil
}

// literalSize reports the size of a literal that ends a line ({n} or ~{n}).
func literalSize(line string) (int64, bool) {
	if !strings.HasSuffix(line, "}") {
		return 0, false
	}
	open := strings.LastIndexByte(line, '{')
	if open < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSuffix(line[open+1:len(line)-1], "+"), 10, 64)
	return n, err == nil && n >= 0
}

// command sends one tagged command and reads up to its completion, which
// must be OK. It returns every response read.
func (c *client) command(args string) ([]response, error) {
	tag := c.nextTag()
	if err := c.write(tag + " " + args + "\r\n"); err != nil {
		return nil, err
	}
	var got []response
	deadline := time.Now().Add(c.timeout)
	for {
		r, err := c.read(deadline)
		if err != nil {
			return got, err
		}
		got = append(got, r)
		if r.Tag == tag {
			if r.Status != "OK" {
				return got, fmt.Errorf("%s", r.Line)
			}
			return got, nil
		}
		if r.Status == "BYE" {
			return got, fmt.Errorf("%s", r.Line)
		}
	}
}

// capabilities asks for CAPABILITY and remembers the answer.
func (c *client) capabilities() error {
	got, err := c.command("CAPABILITY")
	if err != nil {
		return err
	}
	c.caps = map[string]bool{}
	for _, r := range got {
		if r.Tag == "*" && r.Kind == "CAPABILITY" {
			for _, w := range strings.Fields(r.Rest)[1:] {
				c.caps[strings.ToUpper(w)] = true
			}
		}
	}
	return nil
}

// login authenticates with LOGIN and quoted strings.
func (c *client) login(user, password string) error {
	if c.caps == nil {
		if err := c.capabilities(); err != nil {
			return err
		}
	}
	if c.caps["LOGINDISABLED"] {
		return errors.New("the server advertises LOGINDISABLED on this connection; use --starttls or --tls")
	}
	if _, err := c.command("LOGIN " + quote(user) + " " + quote(password)); err != nil {
		return fmt.Errorf("LOGIN: %w", err)
	}
	c.caps = nil
	return c.capabilities()
}

// quote renders s as an IMAP quoted string.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
