package lmtp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/imapfsm/imapfsm/server/internal/listen"
	"github.com/imapfsm/imapfsm/server/lmtp/lmtpfsm"
	"github.com/imapfsm/imapfsm/server/store"
)

// ErrServerClosed is returned by [Server.Serve] after [Server.Shutdown].
var ErrServerClosed = errors.New("lmtp: server closed")

// Defaults of [Config].
const (
	// DefaultMaxMessageSize equals the default limit of the embedded store
	// (boltstore.DefaultMaxMessageSize).
	DefaultMaxMessageSize = 64 << 20
	// DefaultMaxRecipients is the minimum RFC 5321 section 4.5.3.1.8
	// requires a server to accept.
	DefaultMaxRecipients = 100
	// DefaultMaxCommandLength leaves room for the parameters of SIZE and
	// 8BITMIME above the 512 octets of RFC 5321 section 4.5.3.1.4.
	DefaultMaxCommandLength = 2048
	// DefaultMaxLineLength is larger than the 1000 octets of RFC 5321
	// section 4.5.3.1.6: mail in the wild exceeds that, and refusing it at
	// final delivery would bounce it.
	DefaultMaxLineLength = 64 << 10
	// DefaultMaxConnections bounds concurrent sessions.
	DefaultMaxConnections = 100
	// DefaultReadTimeout is the server timeout of RFC 5321 section
	// 4.5.3.2.7 for the next command.
	DefaultReadTimeout = 5 * time.Minute
	// DefaultDataTimeout bounds the transfer of one message's data (RFC
	// 5321 section 4.5.3.2.6 gives the client 10 minutes for the reply to
	// the final dot).
	DefaultDataTimeout = 10 * time.Minute
	// DefaultWriteTimeout bounds the write of a group of replies.
	DefaultWriteTimeout = time.Minute
	// DefaultDetailDelimiter separates the account from the detail in a
	// local part ("alice+lists").
	DefaultDetailDelimiter = "+"
)

// maxErrors is the number of refused commands after which a session is
// closed with 421.
const maxErrors = 20

// memorySpool is how much message data is kept in memory before it is
// spooled to a temporary file.
const memorySpool = 1 << 20

// appendParallelism bounds the concurrent appends of one message for
// several accounts (they share the store's group commit).
const appendParallelism = 4

// Config configures a [Server]. Only Store is required.
type Config struct {
	// Store receives the messages.
	Store store.Store
	// Hostname names this server in the greeting, the LHLO reply and the
	// Received field (default: the host name, else "localhost").
	Hostname string
	// Logger receives connection and delivery records (default
	// slog.Default()).
	Logger *slog.Logger
	// Lookup maps a recipient's local part to an account name, or fails
	// with store.ErrNoSuchUser (other errors are temporary failures). The
	// default uses the local part unchanged.
	Lookup func(ctx context.Context, localPart string) (string, error)
	// DetailDelimiter separates account and detail in a local part
	// (default "+").
	DetailDelimiter string
	// NoDetail turns detail addresses off: "alice+lists" then only
	// matches an account of that exact name.
	NoDetail bool
	// DetailMailbox delivers "user+name" into the mailbox "name" of user
	// when that mailbox exists; without it the detail is ignored.
	DetailMailbox bool
	// MailboxParam accepts the RCPT TO parameter MAILBOX=<xtext> (RFC 3461
	// xtext) that selects the mailbox of that recipient, falling back to
	// INBOX when it does not exist. It lets any client choose any mailbox,
	// so enable it only on a listener reachable by trusted local
	// processes.
	MailboxParam bool
	// TraceHeaders prepends Return-Path and Received fields to every
	// stored message (RFC 5321 section 4.4).
	TraceHeaders bool
	// MaxMessageSize bounds a message, trace fields included, in bytes
	// (default DefaultMaxMessageSize). It is advertised with SIZE and
	// should equal the store's limit.
	MaxMessageSize int64
	// MaxRecipients bounds the accepted recipients of one transaction
	// (default DefaultMaxRecipients).
	MaxRecipients int
	// MaxCommandLength bounds a command line including CRLF (default
	// DefaultMaxCommandLength).
	MaxCommandLength int
	// MaxLineLength bounds a line of message data including CRLF (default
	// DefaultMaxLineLength).
	MaxLineLength int
	// MaxConnections bounds concurrent sessions (default
	// DefaultMaxConnections); further connections get 421 and are closed.
	MaxConnections int
	// ReadTimeout bounds the wait for each command (default
	// DefaultReadTimeout).
	ReadTimeout time.Duration
	// DataTimeout bounds the transfer of one message's data (default
	// DefaultDataTimeout).
	DataTimeout time.Duration
	// WriteTimeout bounds each write of replies (default
	// DefaultWriteTimeout).
	WriteTimeout time.Duration
	// Modes sets the strictness of each LMTP client quirk (see
	// lmtpfsm.Quirk); nil means lmtpfsm.DefaultModes(), the spec's default.
	Modes *lmtpfsm.Modes
	// SpoolDir holds the temporary files of messages larger than 1 MiB
	// (default os.TempDir()). The files are unlinked right after creation
	// where the system allows it.
	SpoolDir string
}

func (c *Config) setDefaults() error {
	if c.Store == nil {
		return errors.New("lmtp: Config.Store is required")
	}
	if c.Hostname == "" {
		c.Hostname, _ = os.Hostname()
		if c.Hostname == "" {
			c.Hostname = "localhost"
		}
	}
	if strings.ContainsAny(c.Hostname, " \t\r\n") {
		return fmt.Errorf("lmtp: Config.Hostname %q contains white space", c.Hostname)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Lookup == nil {
		c.Lookup = func(_ context.Context, local string) (string, error) { return local, nil }
	}
	if c.DetailDelimiter == "" {
		c.DetailDelimiter = DefaultDetailDelimiter
	}
	if c.NoDetail {
		c.DetailDelimiter = ""
	}
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.MaxRecipients <= 0 {
		c.MaxRecipients = DefaultMaxRecipients
	}
	if c.MaxCommandLength <= 0 {
		c.MaxCommandLength = DefaultMaxCommandLength
	}
	if c.MaxCommandLength < 512 {
		return fmt.Errorf("lmtp: Config.MaxCommandLength %d is below the 512 octets of RFC 5321", c.MaxCommandLength)
	}
	if c.MaxLineLength <= 0 {
		c.MaxLineLength = DefaultMaxLineLength
	}
	if c.MaxLineLength < 1000 {
		return fmt.Errorf("lmtp: Config.MaxLineLength %d is below the 1000 octets of RFC 5321", c.MaxLineLength)
	}
	if c.MaxConnections <= 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.DataTimeout <= 0 {
		c.DataTimeout = DefaultDataTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.SpoolDir == "" {
		c.SpoolDir = os.TempDir()
	}
	return nil
}

// Server is an LMTP server. Create it with [New]; it is safe for concurrent
// use.
type Server struct {
	cfg Config
	log *slog.Logger

	// ctx is the context of every store operation; cancel aborts them
	// when Shutdown gives up waiting.
	ctx    context.Context
	cancel context.CancelFunc

	sessions listen.Set[*session] // listeners and sessions

	nextID atomic.Uint64
	idBase string
}

// New validates cfg, fills in its defaults and returns a server.
func New(cfg Config) (*Server, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		cfg:    cfg,
		log:    cfg.Logger,
		ctx:    ctx,
		cancel: cancel,
		idBase: strings.ToUpper(fmt.Sprintf("%x", time.Now().Unix())),
	}, nil
}

// Serve accepts connections on l, one session each, until Shutdown; it
// then returns [ErrServerClosed]. l is closed by Shutdown. Serve may run on
// several listeners at once.
func (s *Server) Serve(l net.Listener) error {
	return s.sessions.Serve(l, ErrServerClosed, s.ServeConn)
}

// ServeConn serves one accepted connection in a new goroutine. Over
// Config.MaxConnections the connection gets a 421 reply and is closed;
// during Shutdown it is closed at once.
func (s *Server) ServeConn(nc net.Conn) {
	admit := func(open int) bool { return open < s.cfg.MaxConnections }
	// Refused off the accept loop, which a slow client must not stall.
	refuse := func() {
		_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = fmt.Fprintf(nc, "421 4.3.2 %s Too many connections, try again later\r\n", s.cfg.Hostname)
		_ = nc.Close()
	}
	ss, admitted := s.sessions.Admit(admit, func() *session { return newSession(s, nc) }, refuse)
	switch admitted {
	case listen.Closing:
		_ = nc.Close()
		return
	case listen.Refused:
		s.log.Warn("lmtp connection refused: limit reached", "remote", remoteName(nc), "max", s.cfg.MaxConnections)
		return
	}
	go func() {
		defer s.sessions.Done(ss, nil)
		ss.serve()
	}()
}

// Shutdown stops accepting connections and closes idle sessions with 421.
// A session receiving or storing a message finishes that transaction
// first, so that no accepted message is lost and no client is left without
// its replies. When ctx is done before every session ended, the remaining
// connections are closed, store operations are cancelled, and Shutdown
// returns ctx's error once their goroutines have returned.
func (s *Server) Shutdown(ctx context.Context) error {
	defer s.cancel()
	return s.sessions.Shutdown(ctx, (*session).interrupt, func(sessions []*session) {
		for _, ss := range sessions {
			_ = ss.conn.Close()
		}
		s.cancel()
	})
}

// newTransactionID returns an identifier for the Received field and the
// logs, unique within this process.
func (s *Server) newTransactionID() string {
	return fmt.Sprintf("%s%06X", s.idBase, s.nextID.Add(1))
}

// remoteName names the peer for the Received field and the logs; unix
// socket peers have no address and are called "local".
func remoteName(nc net.Conn) string {
	a := nc.RemoteAddr()
	if a == nil {
		return "local"
	}
	switch s := a.String(); s {
	case "", "@", "<nil>":
		return "local"
	default:
		return s
	}
}
