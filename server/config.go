package server

import (
	"context"
	"crypto/tls"
	"log/slog"
	"time"

	"github.com/imapfsm/imapfsm/fsm"
	"github.com/imapfsm/imapfsm/server/imapwire"
	"github.com/imapfsm/imapfsm/server/store"
)

// Config holds everything a Server needs: the store, limits, timeouts and
// quirk switches, in one place with documented defaults. The zero value of
// every field but Store means "use the default".
type Config struct {
	// Store holds accounts and mail. Required.
	Store store.Store

	// Authenticator verifies LOGIN and AUTHENTICATE credentials. Nil uses
	// Store; set it to plug in another identity source (LDAP, a database,
	// a cache) that returns the account's store.User.
	Authenticator Authenticator

	// Logger receives structured logs; nil logs to slog.Default().
	Logger *slog.Logger

	// TLSConfig enables STARTTLS on plaintext listeners and is used by
	// ServeTLS for implicit TLS. Nil disables TLS.
	TLSConfig *tls.Config

	// AllowInsecureAuth permits LOGIN and AUTHENTICATE on connections without
	// TLS. Leave it false in production: without it the server advertises
	// LOGINDISABLED and refuses plaintext credentials (RFC 9051 6.2.3).
	AllowInsecureAuth bool

	// Modes sets the strictness of each client quirk (see fsm.Quirk). The
	// zero value is lenient for every quirk, the spec's default.
	Modes fsm.Modes

	// Limits bounds lines and literals (imapwire.DefaultLimits when zero).
	Limits imapwire.Limits

	// AutologoutTimeout logs out a session that sends nothing for this long
	// outside IDLE (RFC 9051 5.4: at least 30 minutes). Default 30 minutes.
	AutologoutTimeout time.Duration

	// IdleKeepalive is the interval of "* OK Still here" while idling.
	// Default 2 minutes.
	IdleKeepalive time.Duration

	// AuthFailureDelay is slept after each failed LOGIN or AUTHENTICATE.
	// Default 1 second; negative disables it (tests).
	AuthFailureDelay time.Duration

	// MaxBadCommandsBeforeAuth closes a connection after this many BAD
	// replies in a row before authentication. Default 5.
	MaxBadCommandsBeforeAuth int

	// MaxBadCommands closes an authenticated connection after this many BAD
	// replies in a row. Default 20.
	MaxBadCommands int

	// MaxConnections bounds open connections in total (default 10000);
	// MaxConnectionsPerIP bounds them per remote address (default 100).
	MaxConnections      int
	MaxConnectionsPerIP int

	// WriteTimeout bounds how long one flush to a client may take before the
	// connection is dropped (a reader that never reads). Default 1 minute.
	WriteTimeout time.Duration

	// Greeting is the text of the greeting. Default "imapfsm ready".
	Greeting string
}

// Authenticator verifies a user name and password. store.Store satisfies
// it. Implementations must answer an unknown user and a wrong password with
// the same error (store.ErrAuthFailed) so that accounts cannot be
// enumerated.
type Authenticator interface {
	Authenticate(ctx context.Context, user, password string) (store.User, error)
}

func (c *Config) setDefaults() {
	if c.Authenticator == nil && c.Store != nil {
		c.Authenticator = c.Store
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Limits == (imapwire.Limits{}) {
		c.Limits = imapwire.DefaultLimits()
	}
	if c.AutologoutTimeout == 0 {
		c.AutologoutTimeout = 30 * time.Minute
	}
	if c.IdleKeepalive == 0 {
		c.IdleKeepalive = 2 * time.Minute
	}
	if c.AuthFailureDelay == 0 {
		c.AuthFailureDelay = time.Second
	}
	if c.MaxBadCommandsBeforeAuth == 0 {
		c.MaxBadCommandsBeforeAuth = 5
	}
	if c.MaxBadCommands == 0 {
		c.MaxBadCommands = 20
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = 10000
	}
	if c.MaxConnectionsPerIP == 0 {
		c.MaxConnectionsPerIP = 100
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = time.Minute
	}
	if c.Greeting == "" {
		c.Greeting = "imapfsm ready"
	}
}
