package server

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/imapfsm/imapfsm/fsm"
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

	mu        sync.Mutex
	closing   bool
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	perIP     map[string]int
	perUser   map[string]int // authenticated sessions per account
	wg        sync.WaitGroup

	authLimit *authLimiter // failed authentications per address; nil: none

	hubMu sync.Mutex
	hubs  map[hubKey]*mailboxHub // selected mailboxes, shared by their sessions
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
		listeners: map[net.Listener]struct{}{},
		conns:     map[*conn]struct{}{},
		perIP:     map[string]int{},
		perUser:   map[string]int{},
		authLimit: newAuthLimiter(cfg.MaxAuthFailuresPerIP, cfg.AuthFailureRefill),
		hubs:      map[hubKey]*mailboxHub{},
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
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()
	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			s.mu.Lock()
			closing := s.closing
			s.mu.Unlock()
			if closing {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(delay*2, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		if implicitTLS {
			nc = tls.Server(nc, s.cfg.TLSConfig)
		}
		s.ServeConn(nc)
	}
}

// ServeConn serves one already accepted connection in a new goroutine. A
// *tls.Conn counts as encrypted. Connections over the configured limits are
// greeted with BYE and closed.
func (s *Server) ServeConn(nc net.Conn) {
	ip := ipKey(nc)
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		nc.Close()
		return
	}
	if len(s.conns) >= s.cfg.MaxConnections || s.perIP[ip] >= s.cfg.MaxConnectionsPerIP {
		s.mu.Unlock()
		s.metrics.refused.Add(1)
		s.log.Warn("connection refused: limit reached", "remote", nc.RemoteAddr().String())
		nc.SetWriteDeadline(time.Now().Add(time.Second))
		nc.Write([]byte("* BYE [UNAVAILABLE] Too many connections\r\n"))
		nc.Close()
		return
	}
	c := newConn(s, nc)
	c.ipKey = ip
	s.conns[c] = struct{}{}
	s.perIP[ip]++
	s.wg.Add(1)
	s.mu.Unlock()
	s.metrics.connections.Add(1)
	s.metrics.connectionsOpen.Add(1)
	// The session may move between goroutines (an idling session waits in
	// a fresh one), so its end, not a goroutine's, releases what it holds.
	c.ended = func() {
		s.mu.Lock()
		delete(s.conns, c)
		if s.perIP[ip]--; s.perIP[ip] <= 0 {
			delete(s.perIP, ip)
		}
		if c.counted != "" {
			if s.perUser[c.counted]--; s.perUser[c.counted] <= 0 {
				delete(s.perUser, c.counted)
			}
		}
		s.mu.Unlock()
		s.metrics.connectionsOpen.Add(-1)
		s.wg.Done()
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
	s.mu.Lock()
	s.closing = true
	for l := range s.listeners {
		l.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.shutdown()
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.raw.Close()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}
