package server

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/fsm"
	"github.com/imapfsm/imapfsm/server/imapwire"
)

// smallLimits keeps the oversized inputs of the bad-input table small.
var smallLimits = imapwire.Limits{MaxLine: 1024, MaxLiteral: 1024, MaxAppendLiteral: 4096, MaxSkip: 8192}

// badInputCase is one row of the "Bad input" table in doc.go.
type badInputCase struct {
	name string
	// setup: "" (not authenticated), "auth" or "selected" (INBOX).
	setup string
	// cfg adjusts the server; nil uses smallLimits.
	cfg func(*Config)
	in  string
	// want is the exact sequence of response lines the input produces.
	want []string
	// open: the connection serves the next command; otherwise it closes.
	open bool
	// check runs afterwards on a fresh authenticated session.
	check func(t *testing.T, c *client)
}

// inboxEmpty checks that nothing was stored.
func inboxEmpty(t *testing.T, c *client) {
	u := c.ok("C1", "STATUS INBOX (MESSAGES)")
	assert.Equal(t, []string{"* STATUS INBOX (MESSAGES 0)"}, u)
}

func TestBadInput(t *testing.T) {
	deep := strings.Repeat("(", 10000) + "ALL" + strings.Repeat(")", 10000)
	var ranges strings.Builder
	for i := range 100000 {
		if i > 0 {
			ranges.WriteByte(',')
		}
		fmt.Fprintf(&ranges, "%d:%d", 3*i+1, 3*i+2)
	}
	bigLine := func(c *Config) { c.Limits.MaxLine = 4 << 20 }
	cases := []badInputCase{
		{name: "line over the limit", in: "a1 NOOP " + strings.Repeat("x", 2000) + "\r\n",
			want: []string{"a1 BAD [TOOBIG] Line too long"}, open: true},
		{name: "line over the limit without a tag", in: "\x01a1 NOOP " + strings.Repeat("x", 2000) + "\r\n",
			want: []string{"* BAD [TOOBIG] Line too long"}, open: true},
		{name: "line over the limit ending in a literal", in: "a1 LOGIN " + strings.Repeat("x", 2000) + " {5+}\r\nhello\r\n",
			want: []string{"a1 BAD [TOOBIG] Line too long"}, open: true},
		{name: "sync literal over the limit", in: "a1 LOGIN {2000}\r\n",
			want: []string{"a1 BAD [TOOBIG] Literal of 2000 bytes exceeds limit of 1024 bytes"}, open: true},
		{name: "non-sync literal over the limit", in: "a1 LOGIN {2000+}\r\n" + strings.Repeat("x", 2000) + " pw\r\n",
			want: []string{"a1 BAD [TOOBIG] Literal of 2000 bytes exceeds limit of 1024 bytes"}, open: true},
		{name: "APPEND sync literal over the limit", setup: "auth", in: "a1 APPEND INBOX {5000}\r\n",
			want: []string{"a1 NO [TOOBIG] Literal of 5000 bytes exceeds limit of 4096 bytes"}, open: true, check: inboxEmpty},
		{name: "APPEND non-sync literal over the limit", setup: "auth",
			in:   "a1 APPEND INBOX {5000+}\r\n" + strings.Repeat("x", 5000) + "\r\n",
			want: []string{"a1 NO [TOOBIG] Literal of 5000 bytes exceeds limit of 4096 bytes"}, open: true, check: inboxEmpty},
		{name: "non-sync literal too large to skip", in: "a1 LOGIN {1000000000+}\r\n" + strings.Repeat("x", 100000),
			want: []string{"a1 BAD [TOOBIG] Literal of 1000000000 bytes exceeds limit of 1024 bytes; closing", "* BYE [TOOBIG] Command too large"}},
		{name: "APPEND non-sync literal too large to skip", setup: "auth",
			in:    "a1 APPEND INBOX {1000000+}\r\n" + strings.Repeat("x", 100000),
			want:  []string{"a1 NO [TOOBIG] Literal of 1000000 bytes exceeds limit of 4096 bytes; closing", "* BYE [TOOBIG] Command too large"},
			check: inboxEmpty},
		{name: "rejected command with a non-sync literal too large to skip", in: "a1 SELECT {1000000+}\r\n" + strings.Repeat("x", 100000),
			want: []string{"a1 BAD Command needs authentication; log in first", "* BYE [TOOBIG] Command too large"}},
		{name: "command beyond every limit", setup: "selected",
			in:   "a1 SEARCH" + strings.Repeat(" TEXT {1000+}\r\n"+strings.Repeat("x", 1000), 60) + "\r\n",
			want: []string{"a1 BAD [TOOBIG] Command too large; closing", "* BYE [TOOBIG] Command too large"}},
		{name: "line too large to skip", in: "a1 NOOP " + strings.Repeat("x", 100000) + "\r\n",
			want: []string{"a1 BAD [TOOBIG] Line too long", "* BYE [TOOBIG] Command too large"}},
		{name: "literal shorter than announced", setup: "auth", in: "a1 APPEND INBOX {10}\r\nhello\r\na3 NOOP\r\n",
			want: []string{"+ Ready for literal data", "a1 BAD Unexpected extra arguments"}, open: true, check: inboxEmpty},
		{name: "NUL byte", in: "a1 NO\x00OP\r\n", want: []string{"a1 BAD Invalid tag or command line: Line contains NUL byte"}, open: true},
		{name: "NUL bytes after the tag", in: "a \x00\x01\x02 NOOP\r\n", want: []string{"a BAD Invalid tag or command line: Line contains NUL byte"}, open: true},
		{name: "NUL byte in the tag", in: "a\x00 NOOP\r\n", want: []string{"* BAD Invalid tag or command line: Line contains NUL byte"}, open: true},
		{name: "bare CR", in: "a1 NOOP\rX\r\n", want: []string{"a1 BAD Invalid tag or command line: Bare CR in command"}, open: true},
		{name: "bare LF", in: "a1 NOOP\n", want: []string{"a1 OK NOOP completed"}, open: true},
		{name: "invalid UTF-8 in a quoted string", setup: "auth", in: "a1 CREATE \"\xff\xfe\"\r\n",
			want: []string{"a1 BAD Quoted string contains invalid UTF-8"}, open: true},
		{name: "invalid UTF-8 in a mailbox atom", setup: "auth", in: "a1 SELECT \xff\xfe\r\n",
			want: []string{"a1 BAD Invalid character in astring"}, open: true},
		{name: "unterminated modified UTF-7", setup: "auth", in: "a1 CREATE \"&Jjo\"\r\n",
			want: []string{"a1 NO [CANNOT] Invalid mailbox name: Unterminated '&' in mailbox name"}, open: true},
		{name: "modified UTF-7 encoding ASCII", setup: "auth", in: "a1 CREATE \"&AGE-\"\r\n",
			want: []string{"a1 NO [CANNOT] Invalid mailbox name: Mailbox name encodes a printable ASCII character"}, open: true},
		{name: "invalid modified UTF-7 in SELECT", setup: "auth", in: "a1 SELECT \"&Jjo\"\r\n",
			want: []string{"a1 NO [NONEXISTENT] No such mailbox: Unterminated '&' in mailbox name"}, open: true},
		{name: "parentheses nested 10,000 deep", setup: "selected", cfg: bigLine, in: "a1 SEARCH " + deep + "\r\n",
			want: []string{"a1 BAD Parentheses nested too deeply"}, open: true},
		{name: "sequence number 0", setup: "selected", in: "a1 FETCH 0 FLAGS\r\n",
			want: []string{"a1 BAD Sequence number must be non-zero"}, open: true},
		{name: "sequence number 2^32", setup: "selected", in: "a1 FETCH 4294967296 FLAGS\r\n",
			want: []string{"a1 BAD Sequence number out of range (max 4294967295)"}, open: true},
		{name: "1:* on an empty mailbox", setup: "selected", in: "a1 FETCH 1:* FLAGS\r\na2 SEARCH 1:*\r\n",
			want: []string{"a1 OK FETCH completed", "* SEARCH", "a2 OK SEARCH completed"}, open: true},
		{name: "100,000 ranges", setup: "selected", cfg: bigLine, in: "a1 UID FETCH " + ranges.String() + " FLAGS\r\n",
			want: []string{"a1 OK FETCH completed"}, open: true},
		{name: "100,000 ranges over the line limit", setup: "selected", cfg: func(c *Config) { c.Limits.MaxSkip = 4 << 20 }, in: "a1 UID FETCH " + ranges.String() + " FLAGS\r\n",
			want: []string{"a1 BAD [TOOBIG] Line too long"}, open: true},
		{name: "unknown command", in: "a1 XYZZY\r\n", want: []string{"a1 BAD Unknown command: XYZZY"}, open: true},
		{name: "SASL garbage base64", in: "a1 AUTHENTICATE PLAIN\r\n!!!!\r\n",
			want: []string{"+ ", "a1 BAD Invalid base64 in SASL response"}, open: true},
		{name: "SASL garbage initial response", in: "a1 AUTHENTICATE PLAIN !!!!\r\n",
			want: []string{"a1 BAD Invalid base64 in initial response"}, open: true},
		{name: "SASL PLAIN message without NULs", in: "a1 AUTHENTICATE PLAIN\r\nZGVtbw==\r\n", // demo
			want: []string{"+ ", "a1 BAD Invalid SASL PLAIN message"}, open: true},
		{name: "SASL empty response", in: "a1 AUTHENTICATE PLAIN\r\n\r\n",
			want: []string{"+ ", "a1 BAD Invalid SASL PLAIN message"}, open: true},
		{name: "SASL empty initial response", in: "a1 AUTHENTICATE PLAIN =\r\n",
			want: []string{"a1 BAD Invalid SASL PLAIN message"}, open: true},
		{name: "SASL authorization identity of another user", in: "a1 AUTHENTICATE PLAIN b3RoZXIAZGVtbwBkZW1v\r\n", // other\0demo\0demo
			want: []string{"a1 NO [AUTHORIZATIONFAILED] The authorization identity must be the user's own"}, open: true},
		{name: "SASL cancel", in: "a1 AUTHENTICATE PLAIN\r\n*\r\n",
			want: []string{"+ ", "a1 BAD AUTHENTICATE cancelled"}, open: true},
		{name: "SASL response over 8 KiB", cfg: func(c *Config) {}, in: "a1 AUTHENTICATE PLAIN\r\n" + strings.Repeat("A", 20000) + "\r\n",
			want: []string{"+ ", "a1 BAD SASL response too long"}, open: true},
		{name: "SASL response over the line limit", in: "a1 AUTHENTICATE PLAIN\r\n" + strings.Repeat("A", 2000) + "\r\n",
			want: []string{"+ ", "a1 BAD [TOOBIG] SASL response too long; AUTHENTICATE cancelled"}, open: true},
		{name: "bad-command limit before login", in: strings.Repeat("x FOO\r\n", 5),
			want: append(repeat("x BAD Unknown command: FOO", 5), "* BYE Too many invalid commands")},
		{name: "no limit at 4 before login", in: strings.Repeat("x FOO\r\n", 4),
			want: repeat("x BAD Unknown command: FOO", 4), open: true},
		{name: "bad-command limit after login", setup: "auth", in: strings.Repeat("x FOO\r\n", 20),
			want: append(repeat("x BAD Unknown command: FOO", 20), "* BYE Too many invalid commands")},
		{name: "no limit at 19 after login", setup: "auth", in: strings.Repeat("x FOO\r\n", 19),
			want: repeat("x BAD Unknown command: FOO", 19), open: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, func(c *Config) {
				c.Limits = smallLimits
				if tc.cfg != nil {
					c.Limits = imapwire.Limits{}
					tc.cfg(c)
				}
			})
			c := ts.dial()
			switch tc.setup {
			case "auth":
				c.login()
			case "selected":
				c.login()
				c.ok("S1", "SELECT INBOX")
			}
			wrote := make(chan struct{})
			go func() {
				defer close(wrote)
				c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
				io.WriteString(c.nc, tc.in+"z9 NOOP\r\n")
			}()
			for _, want := range tc.want {
				assert.Equal(t, want, c.line())
			}
			if tc.open {
				assert.Equal(t, "z9 OK NOOP completed", c.line(), "the connection stays usable")
			} else {
				requireClosed(t, c)
			}
			<-wrote
			if tc.check != nil {
				c2 := ts.dial()
				c2.login()
				tc.check(t, c2)
			}
		})
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// requireClosed reads until the server closes the connection; nothing but
// the end of the stream may come.
func requireClosed(t testing.TB, c *client) {
	t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	l, err := c.r.ReadString('\n')
	require.Error(t, err, "expected the server to close, got %q", l)
	require.True(t, errors.Is(err, io.EOF), "expected EOF, got %v", err)
}

// TestDisconnectMidLiteral: a client that goes away in the middle of an
// APPEND literal ends its session cleanly and nothing is stored.
func TestDisconnectMidLiteral(t *testing.T) {
	for _, lit := range []string{"{100}", "{100+}"} {
		t.Run(lit, func(t *testing.T) {
			ts := newTestServer(t)
			c := ts.dial()
			c.login()
			c.send("a1 APPEND INBOX " + lit + "\r\n")
			if lit == "{100}" {
				assert.Equal(t, "+ Ready for literal data", c.line())
			}
			c.send("From: x\r\n\r\nhalf a message")
			c.nc.Close()
			require.Eventually(t, func() bool { return ts.srv.Metrics().OpenConnections() == 0 },
				5*time.Second, 10*time.Millisecond, "the session ended")
			c2 := ts.dial()
			c2.login()
			inboxEmpty(t, c2)
		})
	}
}

// reachState drives a fresh session into s, a state that reads lines. It
// returns the tag the state holds (IDLE's) or "".
func reachState(t *testing.T, ts *testServer, s fsm.State) (*client, string) {
	t.Helper()
	c := ts.dial()
	if s.Reads() == fsm.ReadsIdle {
		c2, _ := reachState(t, ts, s.Origin())
		c.nc.Close()
		c2.send("I1 IDLE\r\n")
		require.Equal(t, "+ idling", c2.line())
		return c2, "I1"
	}
	switch s {
	case fsm.StateNotAuthenticated:
	case fsm.StateAuthenticated:
		c.login()
	case fsm.StateSelected:
		c.login()
		c.ok("S1", "SELECT INBOX")
	case fsm.StateSelectedReadOnly:
		c.login()
		c.ok("S1", "EXAMINE INBOX")
	default:
		t.Fatalf("the test does not know how to reach state %s; teach reachState", s)
	}
	return c, ""
}

// render formats a spec response the way the engine writes it.
func render(tag string, r fsm.Response) string {
	s := tag + " " + r.Status() + " "
	if r.Code() != "" {
		s += "[" + r.Code() + "] "
	}
	return s + r.Text()
}

// TestIllegalCommandsFromMachine: every command in every state where the
// machine rejects it, in both modes, gets exactly the spec's reply (and
// the held IDLE tag its pending completion), and the session stays usable.
// The cases are generated from fsm.Step, so a spec change is covered
// without editing the test.
func TestIllegalCommandsFromMachine(t *testing.T) {
	for _, mode := range []fsm.Mode{fsm.Lenient, fsm.Strict} {
		t.Run(mode.String(), func(t *testing.T) {
			modes := fsm.NewModes(mode)
			ts := newTestServer(t, func(c *Config) {
				c.Modes = modes
				c.MaxConnectionsPerUser = 10000
			})
			checked := 0
			for s := fsm.State(0); s < fsm.NumStates; s++ {
				if r := s.Reads(); r != fsm.ReadsCommand && r != fsm.ReadsIdle {
					continue // SASL and event states never classify a command
				}
				for in := fsm.Input(0); in < fsm.NumInputs; in++ {
					d := fsm.Step(s, openingFacts(false, true), in, modes)
					if in.Kind() != fsm.KindCommand || in.Wire() == "" || d.Action != fsm.ActionReject {
						continue
					}
					c, held := reachState(t, ts, s)
					tag := "T" + strconv.Itoa(int(in))
					c.send(tag + " " + in.Wire() + "\r\n")
					if d.Pending != fsm.ResponseNone {
						assert.Equal(t, render(held, d.Pending), c.line(), "%s in %s: held tag", in, s)
					}
					assert.Equal(t, render(tag, d.Reply), c.line(), "%s in %s", in, s)
					c.ok("Z1", "NOOP")
					c.nc.Close()
					checked++
				}
			}
			assert.Greater(t, checked, 50, "the machine rejects many command × state pairs")
		})
	}
}

// TestHostileInputAnsweredAtOnce: over TCP with the default limits, each
// hostile input of the issue battery gets its tagged answer (and, where the
// input cannot be skipped, the BYE) within a second of the client starting
// to send it, while the client is still sending; another session served
// meanwhile is not held up.
func TestHostileInputAnsweredAtOnce(t *testing.T) {
	huge := strings.Repeat("x", 10<<20)
	cases := []struct {
		name, setup, in string
		want            []string
		closes          bool
	}{
		{name: "NUL bytes after a readable tag", in: "a \x00\x01\x02 NOOP\r\n",
			want: []string{"a BAD Invalid tag or command line: Line contains NUL byte"}},
		{name: "100 KiB line", in: "a NOOP " + strings.Repeat("x", 100<<10) + "\r\n",
			want: []string{"a BAD [TOOBIG] Line too long"}},
		{name: "10 MiB line without CRLF", in: "a NOOP " + huge,
			want: []string{"a BAD [TOOBIG] Line too long", "* BYE [TOOBIG] Command too large"}, closes: true},
		{name: "LOGIN with a non-sync literal of 1 GB", in: "a LOGIN {1000000000+}\r\n" + huge,
			want: []string{"a BAD [TOOBIG] Literal of 1000000000 bytes exceeds limit of 65536 bytes; closing", "* BYE [TOOBIG] Command too large"}, closes: true},
		{name: "APPEND over APPENDLIMIT with LITERAL+", setup: "auth", in: "a APPEND INBOX {100000000+}\r\n" + huge,
			want: []string{"a NO [TOOBIG] Literal of 100000000 bytes exceeds limit of 67108864 bytes; closing", "* BYE [TOOBIG] Command too large"}, closes: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			go ts.srv.Serve(ln)
			dial := func() *client {
				nc, err := net.Dial("tcp", ln.Addr().String())
				require.NoError(t, err)
				t.Cleanup(func() { nc.Close() })
				c := &client{t: t, nc: nc, r: bufio.NewReader(nc)}
				require.True(t, strings.HasPrefix(c.line(), "* OK "))
				return c
			}
			other := dial()
			other.login()
			c := dial()
			if tc.setup == "auth" {
				c.login()
			}

			start := time.Now()
			go func() {
				// Stream the input as a client would; after the
				// server closes, writes fail and the rest is dropped.
				in := tc.in
				if !tc.closes {
					in += "z9 NOOP\r\n"
				}
				for len(in) > 0 {
					n := min(len(in), 64<<10)
					c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
					if _, err := io.WriteString(c.nc, in[:n]); err != nil {
						return
					}
					in = in[n:]
				}
			}()
			other.ok("o1", "NOOP")
			assert.Less(t, time.Since(start), time.Second, "the other session is served meanwhile")
			for _, want := range tc.want {
				c.nc.SetReadDeadline(start.Add(time.Second))
				l, err := c.r.ReadString('\n')
				require.NoError(t, err, "%q within a second", want)
				assert.Equal(t, want, strings.TrimRight(l, "\r\n"))
			}
			if tc.closes {
				// The server closes with the client's bytes still
				// arriving: the end is a FIN or a reset.
				c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
				l, err := c.r.ReadString('\n')
				require.Error(t, err, "expected the server to close, got %q", l)
				require.True(t, errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET), "expected the end of the stream, got %v", err)
			} else {
				assert.Equal(t, "z9 OK NOOP completed", c.line(), "the connection stays usable")
			}
			other.ok("o2", "NOOP")
		})
	}
}
