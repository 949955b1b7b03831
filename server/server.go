package server

import (
	"context"
	"crypto/tls"
	"errors"
	"iter"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/imapfsm/imapfsm/fsm"
	"github.com/imapfsm/imapfsm/server/internal/listen"
)

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("server: closed")

// Server is an IMAP server. Create it with New; it is safe for concurrent
// use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	metrics *Metrics
	// handlers maps each command input to its handler; built once by New.
	handlers *[fsm.NumInputs]handler

	// conns tracks the listeners and sessions; perIP is only touched
	// under its lock (its admit and release functions).
	conns listen.Set[*conn]
	perIP map[string]int

	mu      sync.Mutex
	perUser map[string]int // authenticated sessions per account

	authLimit *authLimiter // failed authentications per address; nil: none

	hubMu sync.Mutex
	hubs  map[hubKey]*mailboxHub // selected mailboxes, shared by their sessions

	// fetchChunks walks the messages of a FETCH (selection.chunks); a
	// field so that a test can put back whole-set resolution and show
	// that its memory bound catches it.
	fetchChunks func(selection, int) iter.Seq[[]msgRef]

	// startTLS is the TLS configuration for STARTTLS (startTLSConfig).
	startTLS *tls.Config
}

// New returns a server for cfg. It fails when cfg has no store.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("server: Config.Store is required")
	}
	cfg.setDefaults()
	return &Server{
		cfg:       cfg,
		log:       cfg.Logger,
		metrics:   &Metrics{},
		handlers:  handlerTable(),
		perIP:     map[string]int{},
		perUser:   map[string]int{},
		authLimit: newAuthLimiter(cfg.MaxAuthFailuresPerIP, cfg.AuthFailureRefill),
		hubs:      map[hubKey]*mailboxHub{},

		fetchChunks: selection.chunks,
		startTLS:    startTLSConfig(cfg.TLSConfig),
	}, nil
}

// Metrics returns the server's counters.
func (s *Server) Metrics() *Metrics { return s.metrics }

// Serve accepts plaintext connections on l (STARTTLS is offered when
// Config.TLSConfig is set) until l fails or Shutdown is called.
func (s *Server) Serve(l net.Listener) error { return s.serve(l, false) }

// ServeTLS accepts implicit-TLS connections (port 993 style) on l.
func (s *Server) ServeTLS(l net.Listener) error {
	if s.cfg.TLSConfig == nil {
		return errors.New("server: ServeTLS needs Config.TLSConfig")
	}
	return s.serve(l, true)
}

func (s *Server) serve(l net.Listener, implicitTLS bool) error {
	return s.conns.Serve(l, ErrServerClosed, func(nc net.Conn) {
		if implicitTLS {
			nc = tls.Server(nc, s.cfg.TLSConfig)
		}
		s.ServeConn(nc)
	})
}

// ServeConn serves one already accepted connection in a new goroutine. A
// *tls.Conn counts as encrypted. Connections over the configured limits are
// greeted with BYE and closed.
func (s *Server) ServeConn(nc net.Conn) {
	ip := ipKey(nc)
	admit := func(open int) bool {
		if open >= s.cfg.MaxConnections || s.perIP[ip] >= s.cfg.MaxConnectionsPerIP {
			return false
		}
		s.perIP[ip]++
		return true
	}
	c, admitted := s.conns.Admit(admit, func() *conn {
		c := newConn(s, nc)
		c.ipKey = ip
		return c
	}, nil)
	switch admitted {
	case listen.Closing:
		nc.Close()
		return
	case listen.Refused:
		s.metrics.refused.Add(1)
		s.log.Warn("connection refused: limit reached", "remote", nc.RemoteAddr().String())
		nc.SetWriteDeadline(time.Now().Add(time.Second))
		nc.Write([]byte("* BYE [UNAVAILABLE] Too many connections\r\n"))
		nc.Close()
		return
	}
	s.metrics.connections.Add(1)
	s.metrics.connectionsOpen.Add(1)
	// The session may move between goroutines (an idling session waits in
	// a fresh one), so its end, not a goroutine's, releases what it holds.
	c.ended = func() {
		if c.counted != "" {
			s.mu.Lock()
			if s.perUser[c.counted]--; s.perUser[c.counted] <= 0 {
				delete(s.perUser, c.counted)
			}
			s.mu.Unlock()
		}
		s.metrics.connectionsOpen.Add(-1)
		s.conns.Done(c, func() {
			if s.perIP[ip]--; s.perIP[ip] <= 0 {
				delete(s.perIP, ip)
			}
		})
	}
	go c.serve()
}

// acquireUser counts a new authenticated session of account name against
// Config.MaxConnectionsPerUser; it reports false when the account is at the
// limit. The connection's goroutine releases it when the session ends.
func (s *Server) acquireUser(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perUser[name] >= s.cfg.MaxConnectionsPerUser {
		return false
	}
	s.perUser[name]++
	return true
}

// Shutdown stops accepting connections, asks every session to finish its
// current command and say BYE, and waits for them until ctx is done; then it
// closes the remaining connections. A session waiting for a command (or
// idling) stops waiting at once; a command being received or executed (an
// APPEND literal in flight, a large FETCH) runs to its end, bounded by
// Config.CommandTimeout and by ctx. Acknowledged data is never lost: a
// command's OK is only written after the store made it durable, and a
// command cut off by ctx gets no OK and, for APPEND, stores nothing.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.conns.Shutdown(ctx, (*conn).shutdown, func(conns []*conn) {
		for _, c := range conns {
			c.raw.Close()
		}
	})
}
