package lmtp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// Reply is a reply of an LMTP server that refused a command. Code 4xx is
// a temporary failure, 5xx a permanent one.
type Reply struct {
	Code     int
	Enhanced string // RFC 3463 status code, "" when the server sent none
	Text     string
}

func (r *Reply) Error() string {
	if r.Enhanced != "" {
		return fmt.Sprintf("%d %s %s", r.Code, r.Enhanced, r.Text)
	}
	return fmt.Sprintf("%d %s", r.Code, r.Text)
}

// Temporary reports whether the failure is temporary (4xx).
func (r *Reply) Temporary() bool { return r.Code/100 == 4 }

// maxReplyLines bounds a multi-line reply read by the client.
const maxReplyLines = 100

// Client is a minimal LMTP client (RFC 2033) for handing one message at a
// time to a local LMTP server, such as the server's unix socket. It sends
// one command at a time (no pipelining) and is not safe for concurrent use.
type Client struct {
	conn    net.Conn
	br      *bufio.Reader
	bw      *bufio.Writer
	timeout time.Duration
	rcpts   int
	// Extensions holds the LHLO keywords (upper case) with their
	// parameters.
	Extensions map[string]string
}

// NewClient reads the greeting of the server on conn and introduces itself
// with LHLO localName. timeout bounds every exchange with the server,
// including the wait for the replies that follow the message data.
func NewClient(conn net.Conn, localName string, timeout time.Duration) (*Client, error) {
	c := &Client{
		conn:       conn,
		br:         bufio.NewReaderSize(conn, 4096),
		bw:         bufio.NewWriterSize(conn, 64<<10),
		timeout:    timeout,
		Extensions: map[string]string{},
	}
	if _, err := c.expect(220); err != nil {
		return nil, err
	}
	lines, err := c.cmd(250, "LHLO "+localName)
	if err != nil {
		return nil, err
	}
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, " ")
		c.Extensions[strings.ToUpper(k)] = v
	}
	return c, nil
}

// Mail starts a transaction with the envelope sender from ("" for the null
// reverse-path) and, when size is positive, the SIZE parameter.
func (c *Client) Mail(from string, size int64) error {
	c.rcpts = 0
	line := "MAIL FROM:<" + from + ">"
	if _, ok := c.Extensions["8BITMIME"]; ok {
		line += " BODY=8BITMIME"
	}
	if _, ok := c.Extensions["SIZE"]; ok && size > 0 {
		line += " SIZE=" + strconv.FormatInt(size, 10)
	}
	_, err := c.cmd(250, line)
	return err
}

// Rcpt adds a recipient; params are appended verbatim ("MAILBOX=...").
func (c *Client) Rcpt(to string, params ...string) error {
	line := "RCPT TO:<" + to + ">"
	for _, p := range params {
		line += " " + p
	}
	if _, err := c.cmd(250, line); err != nil {
		return err
	}
	c.rcpts++
	return nil
}

// Data sends the message read from r, dot-stuffed and with CRLF line
// endings, and returns one result per accepted recipient, in Rcpt order
// (nil when that recipient's copy was stored). The error is non-nil when
// the exchange itself failed.
func (c *Client) Data(r io.Reader) ([]error, error) {
	if _, err := c.cmd(354, "DATA"); err != nil {
		return nil, err
	}
	_ = c.conn.SetDeadline(time.Now().Add(c.timeout))
	if err := writeDotStuffed(c.bw, r); err != nil {
		return nil, err
	}
	if err := c.bw.Flush(); err != nil {
		return nil, err
	}
	out := make([]error, c.rcpts)
	for i := range out {
		if _, err := c.expect(250); err != nil {
			var rep *Reply
			if !errors.As(err, &rep) {
				return nil, err
			}
			out[i] = rep
		}
	}
	return out, nil
}

// Quit ends the session and closes the connection.
func (c *Client) Quit() error {
	_, err := c.cmd(221, "QUIT")
	if cerr := c.conn.Close(); err == nil {
		err = cerr
	}
	return err
}

func (c *Client) cmd(want int, line string) ([]string, error) {
	_ = c.conn.SetDeadline(time.Now().Add(c.timeout))
	if _, err := c.bw.WriteString(line + "\r\n"); err != nil {
		return nil, err
	}
	if err := c.bw.Flush(); err != nil {
		return nil, err
	}
	return c.expect(want)
}

// expect reads one (possibly multi-line) reply and returns its text lines,
// or a *Reply error when its code is not want.
func (c *Client) expect(want int) ([]string, error) {
	_ = c.conn.SetDeadline(time.Now().Add(c.timeout))
	var lines []string
	code := 0
	for n := 0; ; n++ {
		if n == maxReplyLines {
			return nil, errors.New("lmtp: reply has too many lines")
		}
		l, err := c.br.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("lmtp: read reply: %w", err)
		}
		l = strings.TrimRight(l, "\r\n")
		if len(l) < 3 {
			return nil, fmt.Errorf("lmtp: malformed reply %q", l)
		}
		cd, err := strconv.Atoi(l[:3])
		if err != nil || cd < 200 || cd > 599 || (code != 0 && cd != code) {
			return nil, fmt.Errorf("lmtp: malformed reply %q", l)
		}
		code = cd
		last := len(l) == 3 || l[3] == ' '
		if len(l) > 3 {
			lines = append(lines, l[4:])
		} else {
			lines = append(lines, "")
		}
		if last {
			break
		}
		if l[3] != '-' {
			return nil, fmt.Errorf("lmtp: malformed reply %q", l)
		}
	}
	if code != want {
		rep := &Reply{Code: code, Text: strings.Join(lines, " ")}
		if f := strings.Fields(lines[len(lines)-1]); len(lines) == 1 && len(f) > 0 && isEnhancedCode(f[0], code) {
			rep.Enhanced = f[0]
			rep.Text = strings.TrimSpace(strings.TrimPrefix(lines[0], f[0]))
		}
		return nil, rep
	}
	return lines, nil
}

func isEnhancedCode(s string, code int) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || parts[0] != strconv.Itoa(code/100) {
		return false
	}
	for _, p := range parts[1:] {
		if _, err := strconv.Atoi(p); err != nil {
			return false
		}
	}
	return true
}

// writeDotStuffed copies r to w as SMTP message data (RFC 5321 section
// 4.5.2): a leading dot is doubled, every line ends with CRLF, and the
// terminating line "." follows.
func writeDotStuffed(w *bufio.Writer, r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	atLineStart := true
	var last byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			if atLineStart && chunk[0] == '.' {
				w.WriteByte('.')
			}
			if chunk[len(chunk)-1] == '\n' {
				body := chunk[:len(chunk)-1]
				w.Write(body)
				if len(body) > 0 && body[len(body)-1] == '\r' || len(body) == 0 && last == '\r' && !atLineStart {
					w.WriteByte('\n')
				} else {
					w.WriteString("\r\n")
				}
				atLineStart, last = true, '\n'
			} else {
				w.Write(chunk)
				atLineStart, last = false, chunk[len(chunk)-1]
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return err
		}
	}
	if !atLineStart {
		w.WriteString("\r\n")
	}
	_, err := w.WriteString(".\r\n")
	return err
}
