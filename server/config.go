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
	// ServeTLS for implicit TLS. Nil disables TLS. New uses a copy whose
	// MinVersion is raised to TLS 1.2 if it is lower (RFC 9051 11.1 asks for
	// TLS 1.2 or later; RFC 8996 deprecates TLS 1.0 and 1.1). A connection
	// upgraded by STARTTLS gets no TLS session tickets (see startTLSConfig).
	TLSConfig *tls.Config

	// AllowInsecureAuth permits LOGIN and AUTHENTICATE on connections without
	// TLS. Leave it false in production: without it the server advertises
	// LOGINDISABLED and refuses plaintext credentials (RFC 9051 6.2.3).
	AllowInsecureAuth bool

	// Modes sets the strictness of each client quirk (see fsm.Quirk). The
	// zero value is lenient for every quirk, the spec's default.
	Modes fsm.Modes

	// TraceDir, when set, writes a protocol trace of every connection to a
	// file of its own in this directory (mode 0600): the exchange in the
	// RFC's C:/S: transcript form with literals and credentials redacted,
	// which `imapd replay` reads. Off when empty; meant for debugging a
	// client, as every connection costs a file.
	TraceDir string

	// Limits bounds lines and literals (imapwire.DefaultLimits when zero).
	Limits imapwire.Limits

	// MaxAppendMessages bounds the messages of one APPEND command
	// (MULTIAPPEND, RFC 3502); more get NO [LIMIT] and nothing is stored.
	// Default 1000.
	MaxAppendMessages int

	// MaxAppendSize bounds the sum of the message sizes of one APPEND
	// command; a message that would take it beyond gets NO [TOOBIG] and
	// nothing is stored. It is raised to Limits.MaxAppendLiteral (the
	// APPENDLIMIT of each message) when lower. Default four times
	// Limits.MaxAppendLiteral (256 MiB).
	MaxAppendSize int64

	// AppendSpoolMemory is how much of one APPEND command's messages is
	// held in memory while the command arrives (the messages are stored
	// only once all of them are in, all or none); larger messages wait in
	// a temporary file in SpoolDir, unlinked as soon as it is created.
	// Default 1 MiB; negative keeps every message in a file.
	AppendSpoolMemory int64

	// SpoolDir is the directory of the temporary files of AppendSpoolMemory.
	// Default os.TempDir().
	SpoolDir string

	// AutologoutTimeout logs out an authenticated session that sends
	// nothing for this long (RFC 9051 5.4: at least 30 minutes). The machine
	// decides where it applies: never while idling (fsm.InputAutologout).
	// Default 30 minutes.
	AutologoutTimeout time.Duration

	// LoginTimeout is the inactivity timeout before authentication: a
	// connection that has not logged in and sends nothing for this long is
	// closed with BYE. RFC 9051 5.4 only constrains the timer after
	// authentication; a short one here stops idle pre-auth connections from
	// holding connection slots. Default 1 minute.
	LoginTimeout time.Duration

	// CommandTimeout bounds how long a client may take to send one command
	// once its first byte has arrived: the line, and its literals, plus one
	// second for every 4 KiB received (so a large APPEND over a slow link
	// is not cut off). A client trickling a line byte by byte (slow loris)
	// is closed with BYE after about CommandTimeout. It is distinct from the
	// inactivity timeouts above, which bound the wait for a command's first
	// byte, and like them it does not apply while idling, where the IDLE
	// keepalive rules apply instead. Default 1 minute.
	CommandTimeout time.Duration

	// IdleKeepalive is the interval of "* OK Still here" while idling.
	// Default 2 minutes.
	IdleKeepalive time.Duration

	// Clock is the time source of the session timers above (login,
	// autologout and command timeouts, IDLE keepalive). Nil is the system
	// clock, whose read timers are the connection's deadlines. A test sets
	// its own to fire the timers without waiting for them: a read timer is
	// then a Clock timer that interrupts the read when it fires.
	Clock Clock

	// AuthFailureDelay is slept after each failed LOGIN or AUTHENTICATE.
	// Default 1 second; negative disables it (tests).
	AuthFailureDelay time.Duration

	// MaxAuthFailuresPerIP and AuthFailureRefill rate-limit failed LOGIN
	// and AUTHENTICATE attempts per remote address (an IPv4 address or an
	// IPv6 /64) with a token bucket: an address may fail
	// MaxAuthFailuresPerIP times in a row (default 10), then gets one more
	// attempt every AuthFailureRefill (default 6 seconds, 10 a minute).
	// While an address is over the limit every attempt from it, right or
	// wrong, is answered at once with NO [UNAVAILABLE] without checking
	// the credentials. The limiter tracks at most 16384 addresses, so its
	// memory is bounded. A negative MaxAuthFailuresPerIP disables it.
	MaxAuthFailuresPerIP int
	AuthFailureRefill    time.Duration

	// MaxBadCommandsBeforeAuth closes a connection with BYE after this many
	// BAD replies in a row before authentication. Default 5: an honest
	// client needs at most a CAPABILITY, a STARTTLS and a LOGIN before it
	// is authenticated, so a few mistakes are plenty, and an unauthenticated
	// flood costs a fresh connection (and TLS handshake) every few lines.
	MaxBadCommandsBeforeAuth int

	// MaxBadCommands closes an authenticated connection with BYE after this
	// many BAD replies in a row. Default 20: an authenticated client is
	// accountable and some clients probe extensions with commands the
	// server may not know, so the limit is higher (as Dovecot's). Any
	// tagged OK or NO resets both counters.
	MaxBadCommands int

	// MaxConnections bounds open connections in total (default 10000);
	// MaxConnectionsPerIP bounds them per remote address, an IPv4 address
	// or an IPv6 /64 (default 100). Connections over either limit are
	// greeted with "* BYE [UNAVAILABLE]" and closed.
	MaxConnections      int
	MaxConnectionsPerIP int

	// MaxConnectionsPerUser bounds the authenticated sessions of one
	// account (default 50). A LOGIN or AUTHENTICATE with correct
	// credentials beyond the limit is answered NO [LIMIT] (RFC 5530) and
	// the connection stays open and unauthenticated, so the client may
	// retry later or log out; the limit is checked only after the
	// credentials, so it reveals nothing about an account to a guesser.
	MaxConnectionsPerUser int

	// WriteTimeout bounds how long one write to a client may block (each
	// write sends at most the encoder's 16 KiB buffer). A client that stops
	// reading is disconnected after at most this long, and output waiting
	// for it is never queued beyond that buffer. Default 1 minute.
	WriteTimeout time.Duration

	// MaxPendingNotifications bounds the NOTIFY notifications (RFC 5465)
	// queued for a session that has not taken them yet, because it is
	// running a command or its client does not read. Beyond it the
	// session's notify set is dropped and the client is told with
	// OK [NOTIFICATIONOVERFLOW] (RFC 5465). Default 1000.
	MaxPendingNotifications int

	// Greeting is the text of the greeting. Default "imapfsm ready".
	Greeting string

	// MaxUpdateContexts bounds the update contexts (SEARCH or SORT with
	// RETURN (UPDATE), RFC 5267 4.3) a session keeps at once; beyond it a
	// searching command is answered without updates and an untagged
	// NO [NOUPDATE]. Each costs a re-test of every changed message.
	// Default 10 (the RFC asks for at least one).
	MaxUpdateContexts int

	// Metadata configures annotations (RFC 5464 METADATA), offered when
	// the store keeps them (store.MetadataUser).
	Metadata MetadataConfig
}

// MetadataConfig bounds the annotations of each account (RFC 5464 4.1:
// at least 1024 octets per value and 10 entries per mailbox must be
// allowed; smaller settings are raised to these) and names the server's
// administrator. Zero fields take the defaults.
type MetadataConfig struct {
	// MaxValueSize bounds one entry's value in octets; SETMETADATA with a
	// larger value answers NO [METADATA MAXSIZE n]. Default 16 KiB. It is
	// also bounded by Limits.MaxLiteral, the largest argument the server
	// reads.
	MaxValueSize int64
	// MaxEntries bounds the entries of one mailbox, and the server
	// entries of an account; MaxBytes the sum of their value sizes.
	// Defaults 100 entries and 256 KiB. SETMETADATA beyond either answers
	// NO [METADATA TOOMANY].
	MaxEntries int
	MaxBytes   int64
	// MaxAccountEntries and MaxAccountBytes bound all the entries of an
	// account together. Defaults 2000 entries and 4 MiB.
	MaxAccountEntries int
	MaxAccountBytes   int64
	// Admin is the value of the read-only server entry /shared/admin, a
	// URI for contacting the administrator such as
	// "mailto:postmaster@example.org" (RFC 5464 3.2.1.1). Empty: the entry
	// does not exist.
	Admin string
	// SharedOnly disables private annotations (RFC 5464 3.3 makes them
	// optional): SETMETADATA of a /private entry answers
	// NO [METADATA NOPRIVATE] and GETMETADATA finds none.
	SharedOnly bool
}

// setDefaults fills the zero fields and raises values below the RFC's
// minimums.
func (m *MetadataConfig) setDefaults(l imapwire.Limits) {
	if m.MaxValueSize == 0 {
		m.MaxValueSize = 16 << 10
	}
	m.MaxValueSize = max(m.MaxValueSize, 1024)
	if l.MaxLiteral > 0 {
		m.MaxValueSize = min(m.MaxValueSize, l.MaxLiteral)
	}
	if m.MaxEntries == 0 {
		m.MaxEntries = 100
	}
	m.MaxEntries = max(m.MaxEntries, 10)
	if m.MaxBytes == 0 {
		m.MaxBytes = 256 << 10
	}
	m.MaxBytes = max(m.MaxBytes, m.MaxValueSize)
	if m.MaxAccountEntries == 0 {
		m.MaxAccountEntries = 2000
	}
	m.MaxAccountEntries = max(m.MaxAccountEntries, m.MaxEntries)
	if m.MaxAccountBytes == 0 {
		m.MaxAccountBytes = 4 << 20
	}
	m.MaxAccountBytes = max(m.MaxAccountBytes, m.MaxBytes)
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
	if c.MaxAppendMessages <= 0 {
		c.MaxAppendMessages = 1000
	}
	appendLimit := c.Limits.MaxAppendLiteral
	if appendLimit <= 0 {
		appendLimit = imapwire.DefaultMaxAppendLiteral
	}
	if c.MaxAppendSize == 0 {
		c.MaxAppendSize = 4 * appendLimit
	}
	c.MaxAppendSize = max(c.MaxAppendSize, appendLimit)
	if c.AppendSpoolMemory == 0 {
		c.AppendSpoolMemory = 1 << 20
	}
	if c.AutologoutTimeout == 0 {
		c.AutologoutTimeout = 30 * time.Minute
	}
	if c.IdleKeepalive == 0 {
		c.IdleKeepalive = 2 * time.Minute
	}
	if c.LoginTimeout == 0 {
		c.LoginTimeout = time.Minute
	}
	if c.CommandTimeout == 0 {
		c.CommandTimeout = time.Minute
	}
	if c.AuthFailureDelay == 0 {
		c.AuthFailureDelay = time.Second
	}
	if c.MaxAuthFailuresPerIP == 0 {
		c.MaxAuthFailuresPerIP = 10
	}
	if c.AuthFailureRefill == 0 {
		c.AuthFailureRefill = 6 * time.Second
	}
	if c.MaxConnectionsPerUser == 0 {
		c.MaxConnectionsPerUser = 50
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
	if c.MaxPendingNotifications == 0 {
		c.MaxPendingNotifications = 1000
	}
	if c.TLSConfig != nil && c.TLSConfig.MinVersion < tls.VersionTLS12 {
		c.TLSConfig = c.TLSConfig.Clone()
		c.TLSConfig.MinVersion = tls.VersionTLS12
	}
	if c.Greeting == "" {
		c.Greeting = "imapfsm ready"
	}
	c.Metadata.setDefaults(c.Limits)
	if c.MaxUpdateContexts <= 0 {
		c.MaxUpdateContexts = 10
	}
}

// Clock is a time source for the session timers (Config.Clock).
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed.
	AfterFunc(d time.Duration, f func()) ClockTimer
}

// ClockTimer is a timer started by Clock.AfterFunc; *time.Timer is one.
type ClockTimer interface {
	// Stop prevents the timer from firing; false if it already fired or
	// was stopped.
	Stop() bool
	// Reset makes the timer fire after d from now.
	Reset(d time.Duration) bool
}

// systemClock is the Clock of a Config without one.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }
func (systemClock) AfterFunc(d time.Duration, f func()) ClockTimer {
	return time.AfterFunc(d, f)
}

// startTLSConfig returns the TLS configuration for STARTTLS: base with
// session tickets disabled, or nil without base.
//
// A TLS 1.3 server sends its session tickets after the handshake, so
// they reach a STARTTLS client while it is already writing its first
// command over TLS. offlineimap's imaplib2 reads and writes one Python
// SSL socket from two threads; a ticket arriving during that first write
// breaks it, in about one STARTTLS connection in ten on loopback: the
// session hangs after CAPABILITY, or fails with "[SSL] internal error".
// Over implicit TLS the client reads the greeting before it writes, which
// takes the tickets out of the way, so they stay enabled there. Losing
// resumption after STARTTLS costs a full handshake on reconnection.
func startTLSConfig(base *tls.Config) *tls.Config {
	if base == nil {
		return nil
	}
	c := base.Clone()
	c.SessionTicketsDisabled = true
	return c
}
