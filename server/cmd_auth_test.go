package server

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func plain(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
}

// TestLogin: LOGIN with the right password logs in with OK [CAPABILITY]
// (RFC 9051 6.2.3), a wrong one is NO [AUTHENTICATIONFAILED], and a
// second login is refused.
func TestLogin(t *testing.T) {
	c := newTestServer(t).dial()
	_, done := c.cmd("L0", "LOGIN demo wrong")
	assert.True(t, strings.HasPrefix(done, "L0 NO [AUTHENTICATIONFAILED]"), done)
	_, done = c.cmd("L1", "LOGIN demo demo")
	assert.True(t, strings.HasPrefix(done, "L1 OK [CAPABILITY "), done)
	_, done = c.cmd("L2", "LOGIN demo demo")
	assert.Equal(t, "L2 BAD Already authenticated", done)
}

// TestLoginDisabledWithoutTLS: without TLS and without AllowInsecureAuth
// the server advertises LOGINDISABLED and refuses credentials.
func TestLoginDisabledWithoutTLS(t *testing.T) {
	c := newTestServer(t, func(cfg *Config) { cfg.AllowInsecureAuth = false }).dial()
	caps := strings.Join(c.ok("C1", "CAPABILITY"), "\n")
	assert.Contains(t, caps, "LOGINDISABLED")
	_, done := c.cmd("L1", "LOGIN demo demo")
	assert.True(t, strings.HasPrefix(done, "L1 NO"), done)
	_, done = c.cmd("A1", "AUTHENTICATE PLAIN "+plain("demo", "demo"))
	assert.True(t, strings.HasPrefix(done, "A1 NO"), done)
}

// TestAuthenticatePlain: with an initial response (SASL-IR, RFC 4959),
// after a continuation, cancelled with "*", and with a malformed message
// (RFC 9051 6.2.2).
func TestAuthenticatePlain(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	_, done := c.cmd("A1", "AUTHENTICATE PLAIN "+plain("demo", "demo"))
	assert.True(t, strings.HasPrefix(done, "A1 OK"), done)

	c = ts.dial()
	c.send("A2 AUTHENTICATE PLAIN\r\n")
	assert.True(t, strings.HasPrefix(c.line(), "+"))
	c.send("*\r\n")
	assert.Equal(t, "A2 BAD AUTHENTICATE cancelled", c.line())

	c.send("A3 AUTHENTICATE PLAIN\r\n")
	assert.True(t, strings.HasPrefix(c.line(), "+"))
	c.send(plain("demo", "wrong") + "\r\n")
	assert.True(t, strings.HasPrefix(c.line(), "A3 NO [AUTHENTICATIONFAILED]"))

	_, done = c.cmd("A4", "AUTHENTICATE PLAIN !!!notbase64")
	assert.True(t, strings.HasPrefix(done, "A4 BAD"), done)

	c.send("A5 AUTHENTICATE PLAIN\r\n")
	assert.True(t, strings.HasPrefix(c.line(), "+"))
	c.send(plain("demo", "demo") + "\r\n")
	assert.True(t, strings.HasPrefix(c.line(), "A5 OK"))
	c.ok("N1", "NOOP")
}

// TestStartTLSWithoutTLSConfig: STARTTLS on a server without TLS is NO
// and the session goes on in plaintext.
func TestStartTLSWithoutTLSConfig(t *testing.T) {
	c := newTestServer(t).dial()
	_, done := c.cmd("S1", "STARTTLS")
	assert.True(t, strings.HasPrefix(done, "S1 NO"), done)
	c.ok("N1", "NOOP")
}
