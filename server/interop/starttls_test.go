package interop_test

import (
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server"
)

// TestSTARTTLSInjection sends a command pipelined behind STARTTLS in the
// same write (the CVE-2011-0411 class). The server must discard it: it may
// not be answered over TLS, and it must not have run (the session is still
// not authenticated), while the next command sent over TLS works.
func TestSTARTTLSInjection(t *testing.T) {
	srv := startServer(t, "", withTLS(selfSigned(t)))
	c := dialRaw(t, srv.addr)
	greeting := c.line()
	require.True(t, strings.HasPrefix(greeting, "* OK"), greeting)

	c.write("A1 STARTTLS\r\nA2 LOGIN demo demo\r\n")
	lines := c.until("A1")
	require.True(t, strings.HasPrefix(lines[len(lines)-1], "A1 OK"), "STARTTLS answer: %q", lines)
	for _, l := range lines {
		assert.False(t, strings.HasPrefix(l, "A2 "), "A2 answered in plaintext: %q", l)
	}
	assert.Zero(t, c.br.Buffered(), "the server wrote more after STARTTLS OK")

	tc := tls.Client(c.nc, &tls.Config{InsecureSkipVerify: true})
	require.NoError(t, tc.SetDeadline(time.Now().Add(20*time.Second)))
	require.NoError(t, tc.Handshake())
	c.nc = tc
	c.br.Reset(tc)

	// A command that only works after login proves A2 did not run; its
	// tagged answer is the first thing the server sends over TLS.
	c.write("A3 SELECT INBOX\r\n")
	lines = c.until("A3")
	for _, l := range lines {
		assert.False(t, strings.HasPrefix(l, "A2 "), "A2 was answered over TLS: %q", l)
	}
	last := lines[len(lines)-1]
	assert.True(t, strings.HasPrefix(last, "A3 BAD") || strings.HasPrefix(last, "A3 NO"),
		"SELECT before login must fail, got %q (did the injected LOGIN run?)", last)

	// The session over TLS is healthy: CAPABILITY, then a real LOGIN.
	c.write("A4 CAPABILITY\r\n")
	lines = c.until("A4")
	assert.True(t, strings.HasPrefix(lines[len(lines)-1], "A4 OK"), "%q", lines)
	for _, l := range lines {
		assert.NotContains(t, l, "STARTTLS", "STARTTLS must not be offered again over TLS")
	}
	c.write("A5 LOGIN demo demo\r\n")
	lines = c.until("A5")
	assert.True(t, strings.HasPrefix(lines[len(lines)-1], "A5 OK"), "%q", lines)
	c.write("A6 LOGOUT\r\n")
	lines = c.until("A6")
	assert.True(t, strings.HasPrefix(lines[len(lines)-1], "A6 OK"), "%q", lines)
}

// TestSTARTTLSRequiredForLogin runs a server that does not allow insecure
// authentication: a plaintext LOGIN is refused, and the go-imap client logs
// in after STARTTLS.
func TestSTARTTLSRequiredForLogin(t *testing.T) {
	srv := startServer(t, "", withTLS(selfSigned(t)), func(c *server.Config) { c.AllowInsecureAuth = false })

	plain := dialRaw(t, srv.addr)
	greeting := plain.line()
	assert.Contains(t, greeting, "LOGINDISABLED")
	plain.write("a1 LOGIN demo demo\r\n")
	lines := plain.until("a1")
	last := lines[len(lines)-1]
	assert.True(t, strings.HasPrefix(last, "a1 NO") || strings.HasPrefix(last, "a1 BAD"), "plaintext LOGIN: %q", last)

	nc, err := net.DialTimeout("tcp", srv.addr, 5*time.Second)
	require.NoError(t, err)
	require.NoError(t, nc.SetDeadline(time.Now().Add(20*time.Second)))
	c, err := imapclient.NewStartTLS(nc, &imapclient.Options{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Login(testUser, testPassword).Wait())
	caps, err := c.Capability().Wait()
	require.NoError(t, err)
	assert.False(t, caps.Has(imap.CapStartTLS), "STARTTLS offered again after TLS")
	require.NoError(t, c.Logout().Wait())
}
