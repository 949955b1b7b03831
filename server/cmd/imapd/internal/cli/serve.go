package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/imapfsm/imapfsm/fsm"
	"github.com/imapfsm/imapfsm/server"
	"github.com/imapfsm/imapfsm/server/lmtp"
	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/password"
)

// serveConfig is the validated configuration of serve and demo.
type serveConfig struct {
	listen, tlsListen string
	certFile, keyFile string
	metrics           string
	insecureAuth      bool
	modes             fsm.Modes
	shutdownTimeout   time.Duration
	traceDir          string
	metadataAdmin     string
	log               *slog.Logger
	dataDir           string // holds the LMTP socket; "" for none
	lmtp              lmtpFlags
}

func quirkList() string {
	var b strings.Builder
	for q := fsm.Quirk(1); q < fsm.NumQuirks; q++ {
		fmt.Fprintf(&b, "  %-22s lenient: %s\n  %-22s strict:  %s\n", q.String(), q.Behaviour(fsm.Lenient), "", q.Behaviour(fsm.Strict))
	}
	return b.String()
}

func runServe(ctx context.Context, args []string, env Env) error {
	fs := newFlags("serve", "serve (--data DIR | --store URL) --listen ADDR [--tls-listen ADDR] [--tls-cert FILE --tls-key FILE] [flags]",
		`Serves IMAP from the store in --data, or from the PostgreSQL store at
--store (any number of nodes may serve one PostgreSQL store). --listen
serves plaintext, with STARTTLS when --tls-cert and --tls-key are given; --tls-listen serves implicit
TLS. SIGINT/SIGTERM shut down gracefully, SIGHUP reloads the certificate.

Quirk identifiers for --quirk ID=MODE:
`+quirkList(), env.Stdout)
	data := dataFlag(fs, "")
	storeURL := storeFlag(fs)
	var cfg serveConfig
	var lf logFlags
	var mf modeFlags
	fs.StringVar(&cfg.listen, "listen", "", "plaintext IMAP address, host:port (e.g. :143)")
	fs.StringVar(&cfg.tlsListen, "tls-listen", "", "implicit-TLS IMAP address, host:port (e.g. :993); needs --tls-cert and --tls-key")
	fs.StringVar(&cfg.certFile, "tls-cert", "", "PEM certificate chain file; enables STARTTLS on --listen")
	fs.StringVar(&cfg.keyFile, "tls-key", "", "PEM private key file of --tls-cert")
	fs.BoolVar(&cfg.insecureAuth, "insecure-auth", false, "allow LOGIN/AUTHENTICATE without TLS; only accepted when every listen address is loopback")
	mf.register(fs)
	authCache := fs.Bool("auth-cache", true, "remember verified credentials for an hour (4096 at most) so that a repeated login skips the slow password hash; false verifies every login")
	fs.StringVar(&cfg.metrics, "metrics", "", "serve Prometheus metrics at http://ADDR/metrics (host:port)")
	fs.DurationVar(&cfg.shutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGINT/SIGTERM, how long sessions may take to finish before they are closed")
	fs.StringVar(&cfg.metadataAdmin, "metadata-admin", "", "a URI for contacting the administrator (e.g. mailto:postmaster@example.org), read by clients as the METADATA server entry /shared/admin")
	fs.StringVar(&cfg.traceDir, "trace-dir", "", "write a protocol trace of every IMAP connection to a file of its own in DIR (created, mode 0700), literals and credentials redacted, for \"imapd replay\"; off by default")
	cfg.lmtp.register(fs)
	lf.register(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos); err != nil {
		return err
	}
	if err := needStore(fs, *data, *storeURL); err != nil {
		return err
	}
	if cfg.modes, err = mf.modes(); err != nil {
		return err
	}
	if cfg.log, err = lf.logger(env.Stderr); err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	if cfg.traceDir != "" {
		if err := os.MkdirAll(cfg.traceDir, 0o700); err != nil {
			return fmt.Errorf("serve: --trace-dir: %w", err)
		}
	}
	var cache password.CacheOptions
	if !*authCache {
		cache.Size = -1
	}
	st, err := openStoreAtCache(ctx, *data, *storeURL, cfg.log, cache)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer st.Close()
	cfg.dataDir = *data
	if err := serveStore(ctx, cfg, st, env); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return st.Close()
}

func runDemo(ctx context.Context, args []string, env Env) error {
	fs := newFlags("demo", "demo [--data DIR] [--listen ADDR]",
		`Serves DIR on a loopback address for local testing: creates the account
"demo" with password "demo" when it is missing and allows plaintext logins.
Not for production: use "imapd serve" with TLS.`, env.Stdout)
	data := dataFlag(fs, "data")
	var cfg serveConfig
	var lf logFlags
	fs.StringVar(&cfg.listen, "listen", "127.0.0.1:1143", "plaintext IMAP address; must be a loopback address")
	fs.StringVar(&cfg.metrics, "metrics", "", "serve Prometheus metrics at http://ADDR/metrics (host:port)")
	lf.register(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos); err != nil {
		return err
	}
	if err := needData(fs, *data); err != nil {
		return err
	}
	if cfg.log, err = lf.logger(env.Stderr); err != nil {
		return err
	}
	cfg.insecureAuth = true
	cfg.shutdownTimeout = 5 * time.Second
	if err := cfg.validate(); err != nil {
		return err
	}
	st, err := openStore(*data)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer st.Close()
	switch err := st.CreateUser(ctx, "demo", "demo"); {
	case err == nil:
		cfg.log.Info("created account demo with password demo", "data", *data)
	case errors.Is(err, store.ErrUserExists):
	default:
		return fmt.Errorf("demo: create account demo: %w", err)
	}
	cfg.dataDir = *data
	if err := serveStore(ctx, cfg, st, env); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return st.Close()
}

// validate checks the flag combinations; its errors are usage errors.
func (c *serveConfig) validate() error {
	if c.listen == "" && c.tlsListen == "" {
		return usageErr("serve: give --listen ADDR, --tls-listen ADDR or both")
	}
	for _, a := range []struct{ flag, addr string }{{"--listen", c.listen}, {"--tls-listen", c.tlsListen}, {"--metrics", c.metrics}} {
		if a.addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return usageErr("serve: %s %q: want host:port", a.flag, a.addr)
		}
	}
	if (c.certFile == "") != (c.keyFile == "") {
		return usageErr("serve: --tls-cert and --tls-key go together")
	}
	if c.tlsListen != "" && c.certFile == "" {
		return usageErr("serve: --tls-listen needs --tls-cert and --tls-key")
	}
	if c.shutdownTimeout <= 0 {
		return usageErr("serve: --shutdown-timeout must be positive")
	}
	if c.insecureAuth {
		for _, a := range []string{c.listen, c.tlsListen} {
			if a != "" && !loopbackHost(a) {
				return usageErr("serve: --insecure-auth is only allowed when every listen address is loopback (127.0.0.1, ::1 or localhost), not %q", a)
			}
		}
	}
	if c.metadataAdmin != "" {
		// RFC 5464 3.2.1.1: the value MUST be a URI.
		if u, err := url.Parse(c.metadataAdmin); err != nil || u.Scheme == "" || strings.ContainsAny(c.metadataAdmin, "\r\n\x00") {
			return usageErr("serve: --metadata-admin %q: want a URI such as mailto:postmaster@example.org", c.metadataAdmin)
		}
	}
	return c.lmtp.validate()
}

// loopbackHost reports whether the host part of addr names the loopback
// interface. An empty host (all interfaces) is not loopback.
func loopbackHost(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func boundLoopback(l net.Listener) bool {
	a, ok := l.Addr().(*net.TCPAddr)
	return ok && a.IP.IsLoopback()
}

// serveStore runs the server on st until a signal, ctx or a listener failure
// stops it, then shuts it down gracefully.
func serveStore(ctx context.Context, cfg serveConfig, st store.Store, env Env) (err error) {
	log := cfg.log
	var certs *certHolder
	var tlsConfig *tls.Config
	if cfg.certFile != "" {
		if certs, err = newCertHolder(cfg.certFile, cfg.keyFile); err != nil {
			return err
		}
		tlsConfig = certs.tlsConfig()
	}

	signals := env.Signals
	if signals == nil {
		ch := make(chan os.Signal, 4)
		signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
		defer signal.Stop(ch)
		signals = ch
	}

	var listeners []io.Closer
	defer func() {
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
		}
	}()
	listen := func(flagName, addr string) (net.Listener, error) {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flagName, err)
		}
		listeners = append(listeners, l)
		if cfg.insecureAuth && flagName != "--metrics" && !boundLoopback(l) {
			return nil, fmt.Errorf("%s %s resolved to %s, which is not loopback; --insecure-auth refused", flagName, addr, l.Addr())
		}
		return l, nil
	}
	var plain, implicit, metricsL net.Listener
	var addrs Addrs
	if cfg.listen != "" {
		if plain, err = listen("--listen", cfg.listen); err != nil {
			return err
		}
		addrs.IMAP = plain.Addr().String()
	}
	if cfg.tlsListen != "" {
		if implicit, err = listen("--tls-listen", cfg.tlsListen); err != nil {
			return err
		}
		addrs.IMAPS = implicit.Addr().String()
	}
	if cfg.metrics != "" {
		if metricsL, err = listen("--metrics", cfg.metrics); err != nil {
			return err
		}
		addrs.Metrics = metricsL.Addr().String()
	}

	srv, err := server.New(server.Config{
		Store:             st,
		Logger:            log,
		TLSConfig:         tlsConfig,
		AllowInsecureAuth: cfg.insecureAuth,
		Modes:             cfg.modes,
		TraceDir:          cfg.traceDir,
		Metadata:          server.MetadataConfig{Admin: cfg.metadataAdmin},
	})
	if err != nil {
		return err
	}
	lm, err := startLMTP(cfg, st)
	if err != nil {
		return err
	}
	defer lm.close()
	addrs.LMTP, addrs.LMTPSocket = lm.tcpAddr(), lm.socketPath

	errc := make(chan error, 5)
	running := lm.run(errc)
	if plain != nil {
		running++
		go func() { errc <- fmt.Errorf("--listen %s: %w", addrs.IMAP, srv.Serve(plain)) }()
	}
	if implicit != nil {
		running++
		go func() { errc <- fmt.Errorf("--tls-listen %s: %w", addrs.IMAPS, srv.ServeTLS(implicit)) }()
	}
	var httpSrv *http.Server
	if metricsL != nil {
		httpSrv = metricsServer(srv.Metrics(), log)
		running++
		go func() { errc <- fmt.Errorf("--metrics %s: %w", addrs.Metrics, httpSrv.Serve(metricsL)) }()
	}
	log.Info("imapd listening", "imap", addrs.IMAP, "imaps", addrs.IMAPS, "starttls", tlsConfig != nil && plain != nil,
		"metrics", addrs.Metrics, "insecure_auth", cfg.insecureAuth, "lmtp", addrs.LMTP, "lmtp_socket", addrs.LMTPSocket)
	if env.Ready != nil {
		env.Ready(addrs)
	}

	var failure error
wait:
	for {
		select {
		case sig := <-signals:
			if sig == syscall.SIGHUP {
				if certs == nil {
					log.Info("SIGHUP ignored: no TLS certificate configured")
					continue
				}
				if err := certs.reload(); err != nil {
					log.Error("certificate reload failed; keeping the previous certificate", "err", err)
				} else {
					log.Info("TLS certificate reloaded", "cert", cfg.certFile)
				}
				continue
			}
			log.Info("shutting down", "signal", sig.String(), "timeout", cfg.shutdownTimeout)
			break wait
		case <-ctx.Done():
			log.Info("shutting down", "reason", context.Cause(ctx), "timeout", cfg.shutdownTimeout)
			break wait
		case err := <-errc:
			running--
			failure = err
			log.Error("listener failed; shutting down", "err", err)
			break wait
		}
	}

	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	if httpSrv != nil {
		httpSrv.Shutdown(sctx)
	}
	lm.shutdown(sctx)
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("sessions did not finish in time and were closed", "err", err)
	}
	for ; running > 0; running-- {
		err := <-errc
		if failure == nil && !errors.Is(err, server.ErrServerClosed) && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, lmtp.ErrServerClosed) {
			failure = err
		}
	}
	if failure != nil {
		return failure
	}
	log.Info("imapd stopped")
	return nil
}

func metricsServer(m *server.Metrics, log *slog.Logger) *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		if err := m.WritePrometheus(w); err != nil {
			log.Debug("metrics write failed", "err", err)
		}
	})
	return &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
