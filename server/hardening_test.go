package server

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: every
// session, pusher and listener must end when its test cleans up.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestSlowLoris: a command trickled one byte at a time is cut off after
// about CommandTimeout, although every byte arrives well within the
// inactivity timeout.
func TestSlowLoris(t *testing.T) {
	ts := newTestServer(t, func(c *Config) {
		c.CommandTimeout = 300 * time.Millisecond
		c.LoginTimeout = time.Hour
	})
	c := ts.dial()
	start := time.Now()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, b := range []byte("a1 LOGIN demo demo demo demo demo demo") {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			c.nc.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := c.nc.Write([]byte{b}); err != nil {
				return
			}
		}
	}()
	assert.Equal(t, "* BYE Command not received in time", c.line())
	requireClosed(t, c)
	close(stop)
	<-done
	elapsed := time.Since(start)
	assert.Less(t, elapsed, 3*time.Second, "cut off after about CommandTimeout")
	assert.GreaterOrEqual(t, elapsed, 300*time.Millisecond)
	assert.Equal(t, int64(1), ts.srv.Metrics().Timeouts())
}

// TestLoginTimeout: a connection that never logs in is closed after
// LoginTimeout, long before the 30-minute autologout.
func TestLoginTimeout(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.LoginTimeout = 200 * time.Millisecond })
	c := ts.dial()
	assert.Equal(t, "* BYE Autologout; idle for too long", c.line())
	requireClosed(t, c)
}

// TestIdleIgnoresCommandTimeout: an idler is governed by the keepalive
// rules, not by the read timers.
func TestIdleIgnoresCommandTimeout(t *testing.T) {
	ts := newTestServer(t, func(c *Config) {
		c.CommandTimeout = 100 * time.Millisecond
		c.AutologoutTimeout = 100 * time.Millisecond
		c.IdleKeepalive = time.Hour
	})
	c := ts.dial()
	c.login()
	c.send("A1 IDLE\r\n")
	require.Equal(t, "+ idling", c.line())
	c.send("DO")
	time.Sleep(400 * time.Millisecond)
	c.send("NE\r\n")
	assert.Equal(t, "A1 OK IDLE terminated", c.line())
}

// TestNeverReadingClient: a client that sends commands but never reads is
// disconnected within about WriteTimeout; nothing is queued for it.
func TestNeverReadingClient(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.WriteTimeout = 200 * time.Millisecond })
	c := ts.dial()
	c.login()
	start := time.Now()
	go func() {
		// net.Pipe has no buffer: every response blocks until read.
		for i := 0; i < 10000; i++ {
			c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.nc.Write([]byte("a CAPABILITY\r\n")); err != nil {
				return
			}
		}
	}()
	require.Eventually(t, func() bool { return ts.srv.Metrics().OpenConnections() == 0 },
		3*time.Second, 10*time.Millisecond, "the session was dropped")
	assert.Less(t, time.Since(start), 2*time.Second)
	c.nc.Close()
}

// TestPerUserLimit: sessions beyond MaxConnectionsPerUser are refused with
// NO [LIMIT]; the connection stays open and can log in once a slot frees.
func TestPerUserLimit(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.MaxConnectionsPerUser = 2 })
	a, b, c := ts.dial(), ts.dial(), ts.dial()
	a.login()
	b.login()
	_, done := c.cmd("L1", "LOGIN demo demo")
	assert.Equal(t, "L1 NO [LIMIT] Too many sessions for this account; close some and try again", done)
	_, done = c.cmd("L2", "AUTHENTICATE PLAIN AGRlbW8AZGVtbw==")
	assert.True(t, strings.HasPrefix(done, "L2 NO [LIMIT]"), done)
	_, done = c.cmd("S1", "SELECT INBOX")
	assert.Equal(t, "S1 BAD Command needs authentication; log in first", done, "still unauthenticated")
	a.ok("Z1", "LOGOUT")
	require.Eventually(t, func() bool {
		_, done := c.cmd("L3", "LOGIN demo demo")
		return strings.HasPrefix(done, "L3 OK")
	}, 3*time.Second, 20*time.Millisecond)
	c.ok("S2", "SELECT INBOX")
	assert.GreaterOrEqual(t, ts.srv.Metrics().UserLimited(), int64(2), "L3 may be refused while the slot frees")
}

// TestAuthFailureLimit: after MaxAuthFailuresPerIP failures an address is
// refused at once, even with the right password, until tokens refill.
func TestAuthFailureLimit(t *testing.T) {
	ts := newTestServer(t, func(c *Config) {
		c.MaxAuthFailuresPerIP = 3
		c.AuthFailureRefill = time.Hour
	})
	c := ts.dial()
	for i := 0; i < 3; i++ {
		_, done := c.cmd("L1", "LOGIN demo wrong")
		assert.Equal(t, "L1 NO [AUTHENTICATIONFAILED] Invalid credentials", done)
	}
	other := ts.dial() // same address, other connection
	start := time.Now()
	_, done := other.cmd("L2", "LOGIN demo demo")
	assert.Equal(t, "L2 NO [UNAVAILABLE] Too many failed authentications; try again later", done)
	_, done = other.cmd("L3", "AUTHENTICATE PLAIN AGRlbW8AZGVtbw==")
	assert.True(t, strings.HasPrefix(done, "L3 NO [UNAVAILABLE]"), done)
	assert.Less(t, time.Since(start), time.Second, "refused quickly")
	assert.Equal(t, int64(2), ts.srv.Metrics().AuthThrottled())
}

// TestAuthLimiterBuckets checks refill and the bound on tracked addresses
// with a fake clock.
func TestAuthLimiterBuckets(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newAuthLimiter(2, time.Minute)
	l.now = func() time.Time { return now }
	l.max = 100
	assert.True(t, l.allow("a"))
	l.fail("a")
	assert.True(t, l.allow("a"))
	l.fail("a")
	assert.False(t, l.allow("a"), "burst used up")
	assert.True(t, l.allow("b"), "other addresses are not affected")
	now = now.Add(30 * time.Second)
	assert.False(t, l.allow("a"), "half a token")
	now = now.Add(30 * time.Second)
	assert.True(t, l.allow("a"), "one token back after a minute")
	for i := 0; i < 10000; i++ {
		l.fail("addr" + string(rune('0'+i%10)) + time.Duration(i).String())
		require.LessOrEqual(t, l.tracked(), 100, "memory stays bounded")
	}
	assert.Nil(t, newAuthLimiter(-1, time.Minute), "negative disables")
	assert.True(t, (*authLimiter)(nil).allow("x"))
}

// TestIPKey: IPv6 addresses count per /64.
func TestIPKey(t *testing.T) {
	mk := func(s string) net.Conn {
		return addrConn{addr: &net.TCPAddr{IP: net.ParseIP(s), Port: 1}}
	}
	assert.Equal(t, "192.0.2.1", ipKey(mk("192.0.2.1")))
	assert.Equal(t, ipKey(mk("2001:db8::1")), ipKey(mk("2001:db8::ffff:1")))
	assert.NotEqual(t, ipKey(mk("2001:db8::1")), ipKey(mk("2001:db8:0:1::1")))
}

type addrConn struct {
	net.Conn
	addr net.Addr
}

func (a addrConn) RemoteAddr() net.Addr { return a.addr }

// TestNoUserEnumeration: an unknown user and a wrong password get the same
// answer, and both wait at least the failure delay (a loose timing class,
// never a tight comparison).
func TestNoUserEnumeration(t *testing.T) {
	const delay = 150 * time.Millisecond
	ts := newTestServer(t, func(c *Config) { c.AuthFailureDelay = delay })
	c := ts.dial()
	timed := func(tag, cmd string) (string, time.Duration) {
		start := time.Now()
		_, done := c.cmd(tag, cmd)
		return strings.TrimPrefix(done, tag+" "), time.Since(start)
	}
	unknown, d1 := timed("L1", "LOGIN nosuchuser demo")
	wrong, d2 := timed("L2", "LOGIN demo wrong")
	saslUnknown, d3 := timed("L3", "AUTHENTICATE PLAIN AG5vc3VjaHVzZXIAZGVtbw==") // \0nosuchuser\0demo
	saslWrong, d4 := timed("L4", "AUTHENTICATE PLAIN AGRlbW8Ad3Jvbmc=")           // \0demo\0wrong
	assert.Equal(t, "NO [AUTHENTICATIONFAILED] Invalid credentials", unknown)
	assert.Equal(t, unknown, wrong)
	assert.Equal(t, unknown, saslUnknown)
	assert.Equal(t, unknown, saslWrong)
	for _, d := range []time.Duration{d1, d2, d3, d4} {
		assert.GreaterOrEqual(t, d, delay)
	}
}

// TestMailboxIsolation: mailbox names cannot climb out of the account or
// reach another account's mailboxes, which are invisible.
func TestMailboxIsolation(t *testing.T) {
	ts := newTestServer(t)
	require.NoError(t, ts.cfg.Store.(interface {
		CreateUser(context.Context, string, string) error
	}).CreateUser(context.Background(), "other", "other"))
	o := ts.dial()
	o.ok("L1", "LOGIN other other")
	o.ok("C1", "CREATE Secret")
	o.ok("A1", "APPEND Secret {9}\r\nsecret!\r\n")

	c := ts.dial()
	c.login()
	for i, name := range []string{"../other/Secret", "/other/Secret", "other/Secret", "..", "../../etc/passwd", "~other/Secret", "#shared/other/Secret"} {
		tag := "S" + string(rune('a'+i))
		_, done := c.cmd(tag, "SELECT \""+name+"\"")
		assert.True(t, strings.HasPrefix(done, tag+" NO") || strings.HasPrefix(done, tag+" BAD"), "%s: %s", name, done)
	}
	for _, pattern := range []string{"*", "%", "../*", "/*", "~*"} {
		u := c.ok("L", "LIST \"\" \""+pattern+"\"")
		for _, line := range u {
			assert.NotContains(t, line, "Secret", "pattern %s", pattern)
		}
	}
	// Names that look like paths stay plain names inside the account.
	_, done := c.cmd("C2", "CREATE \"../escape\"")
	if strings.HasPrefix(done, "C2 OK") {
		u := o.ok("L2", "LIST \"\" *")
		for _, line := range u {
			assert.NotContains(t, line, "escape", "another account's mailbox is invisible")
		}
	}
	u := o.ok("S1", "STATUS Secret (MESSAGES)")
	assert.Equal(t, []string{"* STATUS Secret (MESSAGES 1)"}, u)
}

// selfSigned returns a TLS certificate for loopback tests.
func selfSigned(t testing.TB) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func tlsServer(t *testing.T, minVersion uint16) *testServer {
	cert := selfSigned(t)
	return newTestServer(t, func(c *Config) {
		c.AllowInsecureAuth = false
		c.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: minVersion}
	})
}

// dialTLS connects over implicit TLS and reads the greeting.
func (ts *testServer) dialTLS(cfg *tls.Config) (*client, error) {
	a, b := net.Pipe()
	ts.srv.ServeConn(tls.Server(&pipeConn{Conn: b}, ts.srv.cfg.TLSConfig))
	tc := tls.Client(a, cfg)
	ts.t.Cleanup(func() { tc.Close() })
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := tc.Handshake(); err != nil {
		a.Close()
		return nil, err
	}
	tc.SetDeadline(time.Time{})
	c := &client{t: ts.t, nc: tc}
	c.r = newReader(tc)
	greeting := c.line()
	require.True(ts.t, strings.HasPrefix(greeting, "* OK "), greeting)
	return c, nil
}

// TestTLSMinimumVersion: an embedder's TLSConfig allowing TLS 1.0 is raised
// to TLS 1.2; a TLS 1.1 client is refused, a TLS 1.2 client served.
func TestTLSMinimumVersion(t *testing.T) {
	ts := tlsServer(t, tls.VersionTLS10)
	assert.Equal(t, uint16(tls.VersionTLS12), ts.srv.cfg.TLSConfig.MinVersion)
	_, err := ts.dialTLS(&tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11})
	require.Error(t, err, "TLS 1.1 is refused")
	c, err := ts.dialTLS(&tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12})
	require.NoError(t, err)
	c.ok("A1", "NOOP")
	require.Eventually(t, func() bool { return ts.srv.Metrics().OpenConnections() == 1 }, 3*time.Second, 10*time.Millisecond)
}

// TestStartTLSHazards: STARTTLS over TLS is refused; commands pipelined
// after STARTTLS in plaintext are discarded, never run over TLS
// (CVE-2011-0411 class); credentials need TLS.
func TestStartTLSHazards(t *testing.T) {
	ts := tlsServer(t, 0)
	c, err := ts.dialTLS(&tls.Config{InsecureSkipVerify: true})
	require.NoError(t, err)
	_, done := c.cmd("A1", "STARTTLS")
	assert.Equal(t, "A1 BAD TLS is already active", done)
	c.ok("A2", "LOGIN demo demo")

	p := ts.dial()
	_, done = p.cmd("P1", "LOGIN demo demo")
	assert.Equal(t, "P1 NO [PRIVACYREQUIRED] Plaintext authentication is disabled; use STARTTLS or TLS", done)
	p.send("P2 STARTTLS\r\nP3 LOGIN demo demo\r\nP4 SELECT INBOX\r\n")
	assert.Equal(t, "P2 OK Begin TLS negotiation now", p.line())
	tc := tls.Client(p.nc, &tls.Config{InsecureSkipVerify: true})
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	require.NoError(t, tc.Handshake())
	tc.SetDeadline(time.Time{})
	s := &client{t: t, nc: tc, r: newReader(tc)}
	u, done := s.cmd("P5", "SELECT INBOX")
	assert.Empty(t, u, "no answer to the injected commands")
	assert.Equal(t, "P5 BAD Command needs authentication; log in first", done, "the injected LOGIN did not run")
	_, done = s.cmd("P6", "STARTTLS")
	assert.Equal(t, "P6 BAD TLS is already active", done, "the handshake made TLS active (the spec's tls fact)")
	s.ok("P7", "LOGIN demo demo")
}

// TestCapabilityFollowsTheFacts: the pre-login capability list says what
// the machine decides under the session's facts: STARTTLS and
// LOGINDISABLED on a plaintext connection that may not send credentials,
// AUTH=PLAIN and no STARTTLS once TLS is active (implicit, or after
// STARTTLS).
func TestCapabilityFollowsTheFacts(t *testing.T) {
	ts := tlsServer(t, 0)
	caps := func(c *client, tag string) string {
		u := c.ok(tag, "CAPABILITY")
		require.Len(t, u, 1)
		return u[0]
	}
	p := ts.dial()
	plain := caps(p, "P1")
	assert.Contains(t, plain, " STARTTLS")
	assert.Contains(t, plain, " LOGINDISABLED")
	assert.NotContains(t, plain, "AUTH=PLAIN")

	c, err := ts.dialTLS(&tls.Config{InsecureSkipVerify: true})
	require.NoError(t, err)
	implicit := caps(c, "C1")
	assert.NotContains(t, implicit, "STARTTLS")
	assert.NotContains(t, implicit, "LOGINDISABLED")
	assert.Contains(t, implicit, " AUTH=PLAIN")

	_, done := p.cmd("P2", "STARTTLS")
	require.Equal(t, "P2 OK Begin TLS negotiation now", done)
	tc := tls.Client(p.nc, &tls.Config{InsecureSkipVerify: true})
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	require.NoError(t, tc.Handshake())
	tc.SetDeadline(time.Time{})
	s := &client{t: t, nc: tc, r: newReader(tc)}
	after := caps(s, "P3")
	assert.NotContains(t, after, "STARTTLS")
	assert.Contains(t, after, " AUTH=PLAIN")
}

// TestShutdownFinishesAppend: an APPEND whose literal is in flight when
// Shutdown starts is finished, acknowledged and stored, then the session
// says BYE.
func TestShutdownFinishesAppend(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	msg := "From: a@example.org\r\nSubject: x\r\n\r\nbody\r\n"
	c.send("A1 APPEND INBOX {" + itoa(len(msg)) + "}\r\n")
	require.Equal(t, "+ Ready for literal data", c.line())
	c.send(msg[:10])
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shut <- ts.srv.Shutdown(ctx)
	}()
	time.Sleep(100 * time.Millisecond)
	c.send(msg[10:] + "\r\n")
	done := c.line()
	assert.True(t, strings.HasPrefix(done, "A1 OK [APPENDUID "), done)
	assert.Equal(t, "* BYE [UNAVAILABLE] Server shutting down", c.line())
	requireClosed(t, c)
	require.NoError(t, <-shut)
	assertMessages(t, ts, 1)
}

// TestShutdownAbortsAppend: when Shutdown's context ends before the literal
// arrives, the APPEND gets no OK and nothing is stored.
func TestShutdownAbortsAppend(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	c.send("A1 APPEND INBOX {100}\r\n")
	require.Equal(t, "+ Ready for literal data", c.line())
	c.send("From: a@example.org\r\n")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, ts.srv.Shutdown(ctx), context.DeadlineExceeded)
	c.nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		l, err := c.r.ReadString('\n')
		if err != nil {
			break
		}
		assert.False(t, strings.HasPrefix(l, "A1 OK"), "no OK for an aborted APPEND: %q", l)
	}
	assertMessages(t, ts, 0)
}

// TestShutdownInterruptsIdle: sessions waiting for a command, idling or
// not, are told BYE at once.
func TestShutdownInterruptsIdle(t *testing.T) {
	ts := newTestServer(t)
	a := ts.dial()
	a.login()
	b := ts.dial()
	b.login()
	b.ok("S1", "SELECT INBOX")
	b.send("I1 IDLE\r\n")
	require.Equal(t, "+ idling", b.line())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	shut := make(chan error, 1)
	go func() { shut <- ts.srv.Shutdown(ctx) }() // the pipes need a reader
	assert.Equal(t, "* BYE [UNAVAILABLE] Server shutting down", a.line())
	assert.Equal(t, "* BYE [UNAVAILABLE] Server shutting down", b.line())
	require.NoError(t, <-shut)
	assert.Less(t, time.Since(start), time.Second)
}

// assertMessages counts INBOX's messages with a fresh server on the same
// store.
func assertMessages(t *testing.T, ts *testServer, n int) {
	t.Helper()
	srv, err := New(ts.cfg)
	require.NoError(t, err)
	defer srv.Shutdown(context.Background())
	ts2 := &testServer{t: t, srv: srv, cfg: ts.cfg}
	c := ts2.dial()
	c.login()
	u := c.ok("C1", "STATUS INBOX (MESSAGES)")
	assert.Equal(t, []string{"* STATUS INBOX (MESSAGES " + itoa(n) + ")"}, u)
	c.nc.Close()
}

func itoa(n int) string { return strconv.Itoa(n) }

func newReader(nc net.Conn) *bufio.Reader { return bufio.NewReader(nc) }

// TestLimitsFollowLogin: the spec's `authenticated` states select the
// autologout timer and MaxBadCommands; the others the login timer and
// MaxBadCommandsBeforeAuth.
func TestLimitsFollowLogin(t *testing.T) {
	ts := newTestServer(t, func(c *Config) {
		c.LoginTimeout = 150 * time.Millisecond
		c.AutologoutTimeout = time.Hour
		c.MaxBadCommandsBeforeAuth = 2
		c.MaxBadCommands = 4
	})
	c := ts.dial()
	c.login()
	time.Sleep(400 * time.Millisecond) // beyond the login timer
	c.ok("N1", "NOOP")
	for range 3 {
		_, done := c.cmd("X", "GARBAGE")
		assert.True(t, strings.HasPrefix(done, "X BAD"), done)
	}
	c.ok("N2", "NOOP") // a good command resets the count
	for range 4 {
		c.cmd("X", "GARBAGE")
	}
	assert.Equal(t, "* BYE Too many invalid commands", c.line())
}

// ticketCounter is a client session cache that counts the session tickets
// a server sends.
type ticketCounter struct{ puts atomic.Int32 }

func (tc *ticketCounter) Get(string) (*tls.ClientSessionState, bool) { return nil, false }
func (tc *ticketCounter) Put(_ string, cs *tls.ClientSessionState) {
	if cs != nil {
		tc.puts.Add(1)
	}
}

// TestStartTLSSendsNoSessionTickets: after STARTTLS the server sends no
// TLS 1.3 session ticket (a client writing its first command over TLS
// from one thread while another reads can break on one, see
// startTLSConfig); implicit TLS still sends them, and the embedder's
// configuration is left as it was.
func TestStartTLSSendsNoSessionTickets(t *testing.T) {
	ts := tlsServer(t, 0)
	// Over TCP: on a synchronous pipe the server's early tickets and the
	// client's Finished would wait for each other.
	listen := func(serve func(net.Listener) error) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		go serve(l)
		return l.Addr().String()
	}
	plainAddr, tlsAddr := listen(ts.srv.Serve), listen(ts.srv.ServeTLS)
	session := func(nc net.Conn) *client {
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		t.Cleanup(func() { nc.Close() })
		return &client{t: t, nc: nc, r: newReader(nc)}
	}

	implicit := &ticketCounter{}
	tc, err := tls.Dial("tcp", tlsAddr, &tls.Config{InsecureSkipVerify: true, ClientSessionCache: implicit})
	require.NoError(t, err)
	c := session(tc)
	require.True(t, strings.HasPrefix(c.line(), "* OK "))
	c.ok("C1", "NOOP")
	assert.Positive(t, implicit.puts.Load(), "implicit TLS: tickets as configured")

	upgraded := &ticketCounter{}
	nc, err := net.Dial("tcp", plainAddr)
	require.NoError(t, err)
	p := session(nc)
	require.True(t, strings.HasPrefix(p.line(), "* OK "))
	_, done := p.cmd("P1", "STARTTLS")
	require.Equal(t, "P1 OK Begin TLS negotiation now", done)
	utc := tls.Client(nc, &tls.Config{InsecureSkipVerify: true, ClientSessionCache: upgraded})
	require.NoError(t, utc.Handshake())
	s := session(utc)
	s.ok("P2", "NOOP")
	s.ok("P3", "CAPABILITY")
	assert.Zero(t, upgraded.puts.Load(), "STARTTLS: no session ticket")
	assert.False(t, ts.srv.cfg.TLSConfig.SessionTicketsDisabled, "the embedder's configuration is untouched")
}
