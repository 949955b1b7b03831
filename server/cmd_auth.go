package server

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/emersion/go-sasl"

	"github.com/imapfsm/imapfsm/fsm"
	"github.com/imapfsm/imapfsm/server/imapwire"
	"github.com/imapfsm/imapfsm/server/store"
)

// maxSASLResponse bounds one decoded SASL response.
const maxSASLResponse = 8 << 10

// saslExchange is an AUTHENTICATE in progress. checked is set once the
// mechanism parsed a complete message and asked for the credentials to be
// checked; an error before that is the client's malformed message.
type saslExchange struct {
	server  sasl.Server
	user    store.User
	checked bool
}

// errAuthzMismatch: PLAIN with an authorization identity other than the
// user (this server lets no one act as someone else).
var errAuthzMismatch = errors.New("authorization identity must match")

// cmdLogin implements LOGIN (RFC 9051 6.2.3). User name and password are
// astrings, so quoted strings and literals, synchronising or not (the
// nonsync-literal-login quirk of new Outlook), all work.
func cmdLogin(c *conn, cmd *command) result {
	a := cmd.args
	if err := a.SP(); err != nil {
		return argError(err)
	}
	name, err := a.AString()
	if err != nil {
		return argError(err)
	}
	if err := a.SP(); err != nil {
		return argError(err)
	}
	pass, err := a.AString()
	if err != nil {
		return argError(err)
	}
	if err := a.End(); err != nil {
		return argError(err)
	}
	if !c.srv.authLimit.allow(c.ipKey) {
		return c.authThrottled()
	}
	user, err := c.srv.cfg.Authenticator.Authenticate(c.ctx, name, pass)
	if err != nil {
		return c.authFailed(name, err)
	}
	return c.loggedIn(user)
}

// authThrottled answers an attempt from an address over
// Config.MaxAuthFailuresPerIP at once, without checking the credentials.
func (c *conn) authThrottled() result {
	c.srv.metrics.authThrottled.Add(1)
	c.log.Warn("authentication refused: too many failures from this address", "addr", c.ipKey)
	return no("UNAVAILABLE", "Too many failed authentications; try again later")
}

// authFailed answers a failed attempt the same way whether the user exists
// or not, after the configured delay, and counts it against the address.
func (c *conn) authFailed(name string, err error) result {
	c.srv.metrics.authFailures.Add(1)
	c.log.Info("authentication failed", "user", name)
	if !errors.Is(err, store.ErrAuthFailed) && !errors.Is(err, store.ErrNoSuchUser) {
		c.log.Error("authentication error", "err", err)
		return no("UNAVAILABLE", "Authentication is temporarily unavailable")
	}
	c.srv.authLimit.fail(c.ipKey)
	if d := c.srv.cfg.AuthFailureDelay; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
		}
	}
	return no("AUTHENTICATIONFAILED", "Invalid credentials")
}

// loggedIn completes a successful authentication, unless the account is
// at Config.MaxConnectionsPerUser: then the answer is NO [LIMIT] (RFC 5530)
// and the session stays unauthenticated.
func (c *conn) loggedIn(user store.User) result {
	if !c.srv.acquireUser(user.Name()) {
		c.srv.metrics.userLimited.Add(1)
		c.log.Warn("login refused: too many sessions for the account", "user", user.Name())
		return no("LIMIT", "Too many sessions for this account; close some and try again")
	}
	c.counted = user.Name()
	c.user = user
	c.username = user.Name()
	c.log = c.log.With("user", c.username)
	c.log.Info("logged in")
	// The list after login: the machine moves to an authenticated state
	// once this completion is written.
	return okCode("CAPABILITY "+c.capabilities(true), "Logged in")
}

// cmdAuthenticate implements AUTHENTICATE (RFC 9051 6.2.2) with PLAIN and
// the SASL-IR initial response (RFC 4959).
func cmdAuthenticate(c *conn, cmd *command) result {
	a := cmd.args
	if err := a.SP(); err != nil {
		return argError(err)
	}
	mech, err := a.Atom()
	if err != nil {
		return argError(err)
	}
	var initial []byte
	hasInitial := false
	if !a.AtEnd() {
		if err := a.SP(); err != nil {
			return argError(err)
		}
		ir, err := a.AtomStop("")
		if err != nil {
			return argError(err)
		}
		hasInitial = true
		if ir != "=" {
			initial, err = base64.StdEncoding.DecodeString(ir)
			if err != nil {
				return bad("Invalid base64 in initial response")
			}
		}
	}
	if err := a.End(); err != nil {
		return argError(err)
	}
	if strings.ToUpper(mech) != "PLAIN" {
		return no("CANNOT", "Unsupported authentication mechanism")
	}
	if !c.srv.authLimit.allow(c.ipKey) {
		return c.authThrottled()
	}
	ex := &saslExchange{}
	ex.server = sasl.NewPlainServer(func(identity, username, password string) error {
		ex.checked = true
		if identity != "" && identity != username {
			return errAuthzMismatch
		}
		u, err := c.srv.cfg.Authenticator.Authenticate(c.ctx, username, password)
		if err != nil {
			return err
		}
		ex.user = u
		return nil
	})
	c.sasl = ex
	if !hasInitial {
		// An empty challenge; the client answers with its response.
		c.write(func(e *imapwire.Encoder) { e.Continuation("") })
		return continued()
	}
	if initial == nil {
		initial = []byte{}
	}
	return c.saslStep(initial)
}

// cmdSASLResponse handles one client line of an AUTHENTICATE exchange.
func cmdSASLResponse(c *conn, cmd *command) result {
	if len(cmd.raw) > base64.StdEncoding.EncodedLen(maxSASLResponse) {
		c.sasl = nil
		return bad("SASL response too long")
	}
	resp, err := base64.StdEncoding.DecodeString(string(cmd.raw))
	if err != nil {
		c.sasl = nil
		return bad("Invalid base64 in SASL response")
	}
	return c.saslStep(resp)
}

func (c *conn) saslStep(resp []byte) result {
	ex := c.sasl
	if ex == nil {
		return bad("No authentication in progress")
	}
	challenge, done, err := ex.server.Next(resp)
	if err != nil {
		c.sasl = nil
		switch {
		case !ex.checked:
			return bad("Invalid SASL PLAIN message")
		case errors.Is(err, errAuthzMismatch):
			return no("AUTHORIZATIONFAILED", "The authorization identity must be the user's own")
		}
		return c.authFailed("", err)
	}
	if !done {
		c.write(func(e *imapwire.Encoder) { e.Continuation(base64.StdEncoding.EncodeToString(challenge)) })
		return continued()
	}
	c.sasl = nil
	if ex.user == nil {
		return c.authFailed("", store.ErrAuthFailed)
	}
	return c.loggedIn(ex.user)
}

// cmdStartTLS implements STARTTLS (RFC 9051 6.2.1). After the OK the
// engine runs the handshake; every byte the client sent before it is thrown
// away, so commands pipelined in plaintext never run (CVE-2011-0411 class).
func cmdStartTLS(c *conn, cmd *command) result {
	if err := cmd.args.End(); err != nil {
		return argError(err)
	}
	if c.srv.cfg.TLSConfig == nil {
		return no("CANNOT", "STARTTLS is not available")
	}
	c.after = c.handshake
	return ok("Begin TLS negotiation now")
}

// handshake upgrades the connection and reports the result to the machine.
func (c *conn) handshake() {
	if n := c.dec.Buffered(); n > 0 {
		c.log.Warn("discarding bytes pipelined before the TLS handshake", "bytes", n)
	}
	tc := tls.Server(c.raw, c.srv.startTLS)
	tc.SetDeadline(time.Now().Add(30 * time.Second))
	if err := tc.HandshakeContext(c.ctx); err != nil {
		c.log.Info("TLS handshake failed", "err", err)
		c.dispatch(fsm.InputTLSFailed, &command{})
		return
	}
	tc.SetDeadline(time.Time{})
	c.nc = tc
	if c.trace != nil {
		c.nc = traceConn{Conn: tc, t: c.trace}
	}
	c.tls = true
	c.dec.Reset(c.rd)
	c.wmu.Lock()
	c.enc.Reset(sessionWriter{c})
	c.wmu.Unlock()
	c.dispatch(fsm.InputTLSReady, &command{})
}
