package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/fsm"
	"github.com/imapfsm/imapfsm/server/store"
)

// TestEveryCommandHasAHandler: every input that the machine executes in
// some state and mode has a handler, and no other input has one.
func TestEveryCommandHasAHandler(t *testing.T) {
	table := handlerTable()
	for in := fsm.Input(0); in < fsm.NumInputs; in++ {
		executed := false
		for s := fsm.State(0); s < fsm.NumStates; s++ {
			for _, m := range []fsm.Modes{fsm.NewModes(fsm.Lenient), fsm.NewModes(fsm.Strict)} {
				for f := fsm.Facts(0); f < 1<<fsm.NumFacts; f++ {
					if fsm.Step(s, f, in, m).Action == fsm.ActionExecute {
						executed = true
					}
				}
			}
		}
		if executed {
			assert.NotNil(t, table[in], "input %s is executed but has no handler", in)
		} else {
			assert.Nil(t, table[in], "input %s is never executed but has a handler", in)
		}
	}
}

// TestAppleIdleSequence runs the iOS Apple Mail sequence end to end: a
// tagged command instead of DONE while idling.
func TestAppleIdleSequence(t *testing.T) {
	for _, mode := range []fsm.Mode{fsm.Lenient, fsm.Strict} {
		t.Run(mode.String(), func(t *testing.T) {
			ts := newTestServer(t, func(c *Config) { c.Modes = fsm.NewModes(mode) })
			c := ts.dial()
			c.login()
			c.ok("A1", "SELECT INBOX")
			c.send("8.569 IDLE\r\n")
			require.Equal(t, "+ idling", c.line())
			c.send("8.570 IDLE\r\n")
			first := c.line()
			if mode == fsm.Lenient {
				assert.Equal(t, "8.569 OK [CLIENTBUG] IDLE terminated by a new command; send DONE first", first)
				require.Equal(t, "+ idling", c.line(), "the second IDLE runs")
				c.send("DONE\r\n")
				assert.Equal(t, "8.570 OK IDLE terminated", c.line())
			} else {
				assert.Equal(t, "8.569 BAD [CLIENTBUG] IDLE interrupted by a command; send DONE first", first)
				assert.Equal(t, "8.570 BAD [CLIENTBUG] Command sent during IDLE was not executed; send DONE first", c.line())
			}
			// STATUS sent while idling.
			c.send("8.571 IDLE\r\n")
			require.Equal(t, "+ idling", c.line())
			c.send("8.572 STATUS \"INBOX\" (MESSAGES)\r\n")
			_, done := c.until("8.571")
			if mode == fsm.Lenient {
				assert.True(t, strings.HasPrefix(done, "8.571 OK"), done)
				u, done := c.until("8.572")
				assert.Contains(t, u, "* STATUS INBOX (MESSAGES 0)")
				assert.True(t, strings.HasPrefix(done, "8.572 OK"), done)
			} else {
				assert.True(t, strings.HasPrefix(done, "8.571 BAD"), done)
				assert.True(t, strings.HasPrefix(c.line(), "8.572 BAD"))
			}
			// The session is in step: a plain command works.
			c.ok("A9", "NOOP")
			assert.Equal(t, int64(2), ts.srv.Metrics().QuirkHits(fsm.QuirkIdleTaggedCommand))
		})
	}
}

// TestStateRejections: commands in the wrong state get BAD with the spec's
// text and leave the session usable.
func TestStateRejections(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	_, done := c.cmd("A1", "SELECT INBOX")
	assert.Equal(t, "A1 BAD Command needs authentication; log in first", done)
	_, done = c.cmd("A2", "FOOBAR")
	assert.Equal(t, "A2 BAD Unknown command: FOOBAR", done)
	_, done = c.cmd("A3", "COMPRESS DEFLATE")
	assert.Equal(t, "A3 BAD COMPRESS is only valid after authentication", done)
	c.login()
	_, done = c.cmd("A4", "FETCH 1 FLAGS")
	assert.Equal(t, "A4 BAD No mailbox selected; use SELECT or EXAMINE first", done)
	_, done = c.cmd("A5", "LOGIN demo demo")
	assert.Equal(t, "A5 BAD Already authenticated", done)
	c.ok("A6", "EXAMINE INBOX")
	_, done = c.cmd("A7", "STORE 1 +FLAGS (\\Seen)")
	assert.Equal(t, "A7 NO [READ-ONLY] Mailbox is read-only (opened with EXAMINE)", done)
	_, done = c.cmd("A8", "SELECT nosuchbox")
	assert.Equal(t, "A8 NO [NONEXISTENT] No such mailbox", done)
	_, done = c.cmd("A9", "FETCH 1 FLAGS")
	assert.Equal(t, "A9 BAD No mailbox selected; use SELECT or EXAMINE first", done, "a failed SELECT deselects")
	u, _ := c.cmd("A10", "LOGOUT")
	assert.Contains(t, u, "* BYE Logging out")
}

// TestSASL covers AUTHENTICATE PLAIN with and without an initial response,
// and the "*" cancel (RFC 9051 6.2.2).
func TestSASL(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.send("A1 AUTHENTICATE PLAIN\r\n")
	assert.Equal(t, "+ ", c.line())
	c.send("*\r\n")
	assert.Equal(t, "A1 BAD AUTHENTICATE cancelled", c.line())
	c.send("A2 AUTHENTICATE PLAIN\r\n")
	assert.Equal(t, "+ ", c.line())
	c.send("AGRlbW8Ad3Jvbmc=\r\n") // \0demo\0wrong
	assert.Equal(t, "A2 NO [AUTHENTICATIONFAILED] Invalid credentials", c.line())
	_, done := c.cmd("A3", "AUTHENTICATE PLAIN AGRlbW8AZGVtbw==") // \0demo\0demo
	assert.True(t, strings.HasPrefix(done, "A3 OK [CAPABILITY "), done)
	c.ok("A4", "SELECT INBOX")
}

// TestLoginDisabled: without TLS and without AllowInsecureAuth the server
// advertises LOGINDISABLED and refuses credentials.
func TestLoginDisabled(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.AllowInsecureAuth = false })
	c := ts.dial()
	u := c.ok("A1", "CAPABILITY")
	require.Len(t, u, 1)
	assert.Contains(t, u[0], "LOGINDISABLED")
	assert.NotContains(t, u[0], "AUTH=PLAIN")
	_, done := c.cmd("A2", "LOGIN demo demo")
	assert.Equal(t, "A2 NO [PRIVACYREQUIRED] Plaintext authentication is disabled; use STARTTLS or TLS", done)
	_, done = c.cmd("A3", "AUTHENTICATE PLAIN AGRlbW8AZGVtbw==")
	assert.True(t, strings.HasPrefix(done, "A3 NO [PRIVACYREQUIRED]"), done)
}

// TestQuirkLines covers stray DONE and empty lines in both modes.
func TestQuirkLines(t *testing.T) {
	lenient := newTestServer(t).dial()
	lenient.send("DONE\r\n\r\n")
	lenient.ok("A1", "NOOP") // nothing was answered for the two lines
	strict := newTestServer(t, func(c *Config) { c.Modes = fsm.NewModes(fsm.Strict) }).dial()
	strict.send("DONE\r\n")
	assert.Equal(t, "DONE BAD DONE without IDLE", strict.line())
	strict.send("\r\n")
	assert.Equal(t, "* BAD Empty command line", strict.line())
	strict.ok("A1", "NOOP")
}

// TestBadCommandLimit closes a connection that keeps sending garbage.
func TestBadCommandLimit(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.MaxBadCommandsBeforeAuth = 3 })
	c := ts.dial()
	for i := 0; i < 3; i++ {
		_, done := c.cmd("X", "GARBAGE")
		assert.True(t, strings.HasPrefix(done, "X BAD"))
	}
	assert.Equal(t, "* BYE Too many invalid commands", c.line())
}

// TestTrailingSeparatorSelect: lenient strips one trailing separator, strict
// answers NO [NONEXISTENT] (quirks.md, trailing-separator).
func TestTrailingSeparatorSelect(t *testing.T) {
	lenient := newTestServer(t).dial()
	lenient.login()
	lenient.ok("A1", "SELECT Sent/")
	strict := newTestServer(t, func(c *Config) { c.Modes = fsm.NewModes(fsm.Strict) }).dial()
	strict.login()
	_, done := strict.cmd("A1", "SELECT Sent/")
	assert.Equal(t, "A1 NO [NONEXISTENT] No such mailbox (the name ends with the separator)", done)
	strict.ok("A2", "SELECT Sent")
}

// TestAutologoutAndKeepalive: outside IDLE an inactive session is logged
// out; an idler is never logged out and gets keepalives instead (the
// stale-idle-drop quirk). Short timers stand in for 30 and 2 minutes.
func TestAutologoutAndKeepalive(t *testing.T) {
	ts := newTestServer(t, func(c *Config) {
		c.AutologoutTimeout = 150 * time.Millisecond
		c.IdleKeepalive = 100 * time.Millisecond
	})
	idler := ts.dial()
	idler.login()
	idler.ok("A1", "SELECT INBOX")
	idler.send("A2 IDLE\r\n")
	require.Equal(t, "+ idling", idler.line())
	// Well past the autologout timeout, the idler is still served.
	for i := 0; i < 4; i++ {
		assert.Equal(t, "* OK Still here", idler.line())
	}
	idler.send("DONE\r\n")
	assert.Equal(t, "A2 OK IDLE terminated", idler.line())

	quiet := ts.dial()
	quiet.login()
	assert.Equal(t, "* BYE Autologout; idle for too long", quiet.line())
}

// TestCustomAuthenticator: Config.Authenticator replaces the store's
// password check.
func TestCustomAuthenticator(t *testing.T) {
	ts := newTestServer(t, func(c *Config) {
		c.Authenticator = authFunc(func(ctx context.Context, user, pass string) (store.User, error) {
			if user == "token" && pass == "s3cret" {
				return c.Store.OpenUser(ctx, "demo")
			}
			return nil, store.ErrAuthFailed
		})
	})
	c := ts.dial()
	_, done := c.cmd("A1", "LOGIN demo demo")
	assert.True(t, strings.HasPrefix(done, "A1 NO [AUTHENTICATIONFAILED]"), done)
	c.ok("A2", "LOGIN token s3cret")
	c.ok("A3", "SELECT INBOX")
}

type authFunc func(ctx context.Context, user, pass string) (store.User, error)

func (f authFunc) Authenticate(ctx context.Context, user, pass string) (store.User, error) {
	return f(ctx, user, pass)
}

// TestExpungeOfUnseenMessage: a plain EXPUNGE also removes \Deleted
// messages this session has not been told about yet; the session must
// announce neither their EXISTS nor their EXPUNGE, and its count must stay
// right (found by the multi-session property test).
func TestExpungeOfUnseenMessage(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	c.ok("A1", "SELECT INBOX")
	u, err := ts.cfg.Store.OpenUser(context.Background(), "demo")
	require.NoError(t, err)
	_, err = u.Append(context.Background(), "INBOX", store.NewMessage{Flags: []string{`\Deleted`}, Body: strings.NewReader("Subject: gone\r\n\r\nx\r\n")})
	require.NoError(t, err)
	_, err = u.Append(context.Background(), "INBOX", store.NewMessage{Body: strings.NewReader("Subject: kept\r\n\r\ny\r\n")})
	require.NoError(t, err)
	untagged := c.ok("A2", "EXPUNGE")
	assert.Equal(t, []string{"* 1 EXISTS", "* 1 RECENT"}, untagged, "only the surviving message is announced")
	untagged = c.ok("A3", "UID FETCH 1:* (FLAGS)")
	assert.Equal(t, []string{`* 1 FETCH (UID 2 FLAGS (\Recent))`}, untagged)
}

// TestTimeoutAfterRejectedLiteral: the skipped payload of a rejected
// command's non-synchronising literal does not count as the start of the
// next command, so a client that then stays silent is logged out for
// inactivity, not for a slow command.
func TestTimeoutAfterRejectedLiteral(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.LoginTimeout = 200 * time.Millisecond })
	c := ts.dial()
	c.send("a1 SELECT {5+}\r\nINBOX\r\n")
	assert.Equal(t, "a1 BAD Command needs authentication; log in first", c.line())
	assert.Equal(t, "* BYE Autologout; idle for too long", c.line())
}

// TestTimerClassesMatchTheMachine: the engine arms a timer where the
// machine closes the session on autologout, and chooses its duration from
// the state's timer class; so every state the machine times out has the
// login or the autologout timer, and no other state has either. The limit
// of invalid commands follows the state's limits class, post-login exactly
// where a user is logged in.
func TestTimerClassesMatchTheMachine(t *testing.T) {
	for s := fsm.State(0); s < fsm.NumStates; s++ {
		for f := fsm.Facts(0); f < 1<<fsm.NumFacts; f++ {
			for _, m := range []fsm.Modes{fsm.NewModes(fsm.Lenient), fsm.NewModes(fsm.Strict)} {
				closes := fsm.Step(s, f, fsm.InputAutologout, m).Action == fsm.ActionClose
				timed := s.Timer() == fsm.TimerLogin || s.Timer() == fsm.TimerAutologout
				assert.Equal(t, closes, timed, "%s (timer %s) with %s", s, s.Timer(), f)
			}
		}
		assert.Equal(t, s.Authenticated(), s.Limits() == fsm.LimitsPostLogin, "%s", s)
		assert.Equal(t, s.Authenticated(), s.Timer() == fsm.TimerAutologout || s.Timer() == fsm.TimerIdle, "%s", s)
	}
	srv := &Server{cfg: Config{LoginTimeout: time.Second, AutologoutTimeout: time.Hour, MaxBadCommandsBeforeAuth: 3, MaxBadCommands: 20}}
	c := &conn{srv: srv, state: fsm.StateNotAuthenticated}
	assert.Equal(t, time.Second, c.inactivityTimeout())
	assert.Equal(t, 3, c.badLimit())
	c.state = fsm.StateSelected
	assert.Equal(t, time.Hour, c.inactivityTimeout())
	assert.Equal(t, 20, c.badLimit())
}
