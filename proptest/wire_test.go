package proptest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	mrand "math/rand"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leanovate/gopter"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/imapfsm/imapfsm/fsm"
	"github.com/imapfsm/imapfsm/server"
	"github.com/imapfsm/imapfsm/server/imapwire"
	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/boltstore"
)

// Sizes of the wire-level runs. Every sequence starts a server on a fresh
// store, so a case costs milliseconds rather than microseconds; shrinking a
// failure takes at most wireMaxShrinks runs, a few seconds.
const (
	wireCases    = 300
	wireMaxSteps = 40
	// wireMinSteps keeps sequences long enough to get past the login
	// and reach IDLE; shrinking still drops steps below it.
	wireMinSteps   = 16
	wireMaxShrinks = 150
	// wireTimeout bounds the wait for a response the spec says must come.
	// Passing runs never wait for it; it only delays the report of a
	// missing response.
	wireTimeout = 2 * time.Second
)

// The error limits the test servers are configured with; the runner expects
// the error-limit BYE when they are reached.
const (
	wireMaxBadBeforeAuth = 6
	wireMaxBad           = 20
)

func wireOptions() WireOptions {
	d := imapwire.DefaultLimits()
	return WireOptions{Timeout: wireTimeout, MaxBadBeforeAuth: wireMaxBadBeforeAuth, MaxBad: wireMaxBad, Facts: DefaultFacts,
		MaxLiteral: int(d.MaxLiteral), MaxAppendLiteral: int(d.MaxAppendLiteral), MaxSkip: int(d.MaxSkip)}
}

// The timers and limits of the extended test server (extendedFactory).
// Its timers run on a test clock the runner advances, so no real time is
// spent waiting for them.
const (
	wireExtendedCases = 150
	// wireTLSOnlyCases are the sequences per mode against the TLS-only
	// server (tlsOnlyFactory).
	wireTLSOnlyCases = 40
	wireAutologout   = 800 * time.Millisecond
	wireKeepalive    = 250 * time.Millisecond
	wireCommandTime  = 500 * time.Millisecond
)

// wireLimits are the extended server's line and literal limits.
var wireLimits = imapwire.Limits{MaxLine: 256, MaxLiteral: 1024, MaxAppendLiteral: 4096, MaxSkip: 8192}

// extendedOptions describe the extended server to the runner. MaxCommand
// is the longest line the server skips after answering it as too long: the
// line limit, its CRLF and Limits.MaxSkip.
func extendedOptions(t testing.TB) WireOptions {
	o := wireOptions()
	o.Autologout, o.Keepalive, o.CommandTimeout = wireAutologout, wireKeepalive, wireCommandTime
	o.MaxLine = wireLimits.MaxLine
	o.MaxCommand = wireLimits.MaxLine + 2 + int(wireLimits.MaxSkip)
	o.MaxLiteral, o.MaxAppendLiteral, o.MaxSkip = int(wireLimits.MaxLiteral), int(wireLimits.MaxAppendLiteral), int(wireLimits.MaxSkip)
	o.TLS = testTLS(t).client
	o.Shutdown = true
	return o
}

// tlsOnlyOptions describe the TLS-only server (tlsOnlyFactory) to the
// runner: the extended server's, but its connections open without the
// plaintext-auth fact.
func tlsOnlyOptions(t testing.TB) WireOptions {
	o := extendedOptions(t)
	o.Facts = 0
	return o
}

// tlsOnlyFactory starts extended servers that refuse credentials without
// TLS (Config.AllowInsecureAuth false), so that sequences reach the spec's
// privacy-required rule and log in only after STARTTLS.
func tlsOnlyFactory(t testing.TB) WireFactory { return extendedFactoryWith(t, false) }

// extendedFactory starts servers with STARTTLS (a self-signed certificate),
// short timers and small line limits, so that sequences reach the TLS
// handshake, the timer events and the over-long lines.
func extendedFactory(t testing.TB) WireFactory { return extendedFactoryWith(t, true) }

// extendedFactoryWith is extendedFactory, with credentials allowed without
// TLS or not.
func extendedFactoryWith(t testing.TB, plaintextAuth bool) WireFactory {
	base := t.TempDir()
	certs := testTLS(t)
	n := 0
	return func(modes fsm.Modes) (WireTarget, error) {
		n++
		clk := newWireClock()
		live, err := startLiveServerWith(filepath.Join(base, fmt.Sprint(n)), modes, nil, func(c *server.Config) {
			c.TLSConfig = certs.server
			c.AllowInsecureAuth = plaintextAuth
			c.AutologoutTimeout = wireAutologout
			c.LoginTimeout = wireAutologout
			c.IdleKeepalive = wireKeepalive
			c.CommandTimeout = wireCommandTime
			c.Limits = wireLimits
			c.Clock = clk
		})
		if err != nil {
			return nil, err
		}
		return clockedServer{liveServer: live, clock: clk}, nil
	}
}

// tlsPair is a server configuration with a self-signed certificate and a
// client configuration that trusts it.
type tlsPair struct{ server, client *tls.Config }

var (
	tlsOnce sync.Once
	tlsKeys tlsPair
	tlsErr  error
)

// testTLS generates (once per test binary) a self-signed certificate for
// "localhost".
func testTLS(t testing.TB) tlsPair {
	tlsOnce.Do(func() { tlsKeys, tlsErr = newTLSPair() })
	require.NoError(t, tlsErr)
	return tlsKeys
}

func newTLSPair() (tlsPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tlsPair{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tlsPair{}, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return tlsPair{}, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tlsPair{
		server: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}},
		client: &tls.Config{RootCAs: pool, ServerName: "localhost"},
	}, nil
}

// liveServer is one in-process server on a store in a temporary directory,
// reached over in-memory pipes, optionally through a middleman that
// rewrites what the server sends.
type liveServer struct {
	srv     *server.Server
	st      *boltstore.Store
	dir     string
	before  int
	rewrite rewriter
	middles sync.WaitGroup
}

// pipeConn gives net.Pipe a loopback remote address, as the server's
// per-address limits expect.
type pipeConn struct{ net.Conn }

func (pipeConn) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1143} }

// liveFactory starts servers for the wire properties; rewrite, if not nil,
// puts a middleman between each client and the server.
func liveFactory(t testing.TB, rewrite rewriter) WireFactory {
	base := t.TempDir()
	n := 0
	return func(modes fsm.Modes) (WireTarget, error) {
		n++
		return startLiveServer(filepath.Join(base, fmt.Sprint(n)), modes, rewrite)
	}
}

func startLiveServer(dir string, modes fsm.Modes, rewrite rewriter) (*liveServer, error) {
	return startLiveServerWith(dir, modes, rewrite, nil)
}

// startLiveServerWith is startLiveServer with a hook that adjusts the
// server's configuration.
func startLiveServerWith(dir string, modes fsm.Modes, rewrite rewriter, adjust func(*server.Config)) (*liveServer, error) {
	before := runtime.NumGoroutine()
	st, err := boltstore.Open(dir, boltstore.Options{Options: store.Options{BcryptCost: 4}})
	if err != nil {
		return nil, err
	}
	if err := st.CreateUser(context.Background(), WireUser, WirePassword); err != nil {
		st.Close()
		return nil, err
	}
	// A quota far above what a run stores, so that the quota root exists
	// (GETQUOTA "" succeeds) and no write is refused.
	if err := st.SetQuota(context.Background(), WireUser, store.Quota{Storage: 1 << 40, Messages: 1 << 40}); err != nil {
		st.Close()
		return nil, err
	}
	cfg := server.Config{
		Store:                    st,
		Logger:                   slog.New(slog.NewTextHandler(io.Discard, nil)),
		AllowInsecureAuth:        true,
		AuthFailureDelay:         -1,
		MaxAuthFailuresPerIP:     -1,
		MaxBadCommandsBeforeAuth: wireMaxBadBeforeAuth,
		MaxBadCommands:           wireMaxBad,
		Modes:                    modes,
	}
	if adjust != nil {
		adjust(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		st.Close()
		return nil, err
	}
	return &liveServer{srv: srv, st: st, dir: dir, before: before, rewrite: rewrite}, nil
}

// Dial connects a client over an in-memory pipe.
func (s *liveServer) Dial() (net.Conn, error) {
	client, srvSide := net.Pipe()
	if s.rewrite == nil {
		s.srv.ServeConn(pipeConn{srvSide})
		return client, nil
	}
	inner, mmSide := net.Pipe()
	s.srv.ServeConn(pipeConn{inner})
	s.middles.Add(1)
	go func() {
		defer s.middles.Done()
		runMiddleman(srvSide, mmSide, s.rewrite)
	}()
	return client, nil
}

// Shutdown shuts the server down while sessions run; Close follows.
func (s *liveServer) Shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}

// Close shuts the server down, closes the store, removes its files, and
// fails when goroutines started since the server was created are still
// running a second later.
func (s *liveServer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	errShutdown := s.srv.Shutdown(ctx)
	s.middles.Wait()
	errStore := s.st.Close()
	os.RemoveAll(s.dir)
	if errShutdown != nil {
		return fmt.Errorf("Shutdown: %w", errShutdown)
	}
	if errStore != nil {
		return fmt.Errorf("close the store: %w", errStore)
	}
	deadline := time.Now().Add(time.Second)
	for runtime.NumGoroutine() > s.before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			buf = buf[:runtime.Stack(buf, true)]
			return fmt.Errorf("%d goroutines outlive Shutdown:\n%s", runtime.NumGoroutine()-s.before, firstLines(string(buf), 40))
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// TestWireProperties runs random wire sequences against a live server in
// both global modes, with random per-quirk overrides and pipelining,
// checking after every step that the server answers as the spec decides in
// the model's state, every tag exactly once and in order; at the end, that
// every acknowledged APPEND reads back, and that Shutdown leaves no
// goroutine. It logs the spec transitions the runs exercised.
func TestWireProperties(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	s := loadSettings(t)
	ref := loadReference(t)
	cov := NewCoverage(ref)
	covOf := map[fsm.Mode]*Coverage{fsm.Lenient: NewCoverage(ref), fsm.Strict: NewCoverage(ref)}
	cases := wireCases
	if s.long {
		cases *= longFactor
	}
	t.Logf("seed %d, %d sequences of up to %d steps per mode", s.seed, cases, wireMaxSteps)
	for _, global := range []fsm.Mode{fsm.Lenient, fsm.Strict} {
		t.Run(global.String(), func(t *testing.T) {
			cfg := &WireConfig{Name: "server", Factory: liveFactory(t, nil), Reference: ref, Global: global, Options: wireOptions(), Coverage: covOf[global]}
			p := wireParams(s.seed+int64(global), cases)
			p.MinSize = wireMinSteps
			rep := cfg.Check(p)
			reportWireFailure(t, rep, s)
			if rep.Passed() {
				t.Logf("%d sequences passed", rep.Result.Succeeded)
			}
		})
	}
	// The extended server: STARTTLS with a handshake, short timers on a
	// test clock, a small line limit, small literal limits.
	extended := wireExtendedCases
	if s.long {
		extended *= longFactor
	}
	for _, global := range []fsm.Mode{fsm.Lenient, fsm.Strict} {
		t.Run("extended-"+global.String(), func(t *testing.T) {
			cfg := &WireConfig{Name: "extended", Factory: extendedFactory(t), Reference: ref, Global: global, Options: extendedOptions(t), Coverage: covOf[global]}
			rep := cfg.Check(wireParams(s.seed+7+int64(global), extended))
			reportWireFailure(t, rep, s)
			if rep.Passed() {
				t.Logf("%d sequences passed", rep.Result.Succeeded)
			}
		})
	}
	// The TLS-only server: credentials only after STARTTLS.
	for _, global := range []fsm.Mode{fsm.Lenient, fsm.Strict} {
		t.Run("tls-only-"+global.String(), func(t *testing.T) {
			cfg := &WireConfig{Name: "tls-only", Factory: tlsOnlyFactory(t), Reference: ref, Global: global, Options: tlsOnlyOptions(t), Coverage: covOf[global]}
			rep := cfg.Check(wireParams(s.seed+13+int64(global), wireTLSOnlyCases))
			reportWireFailure(t, rep, s)
			if rep.Passed() {
				t.Logf("%d sequences passed", rep.Result.Succeeded)
			}
		})
	}
	// What the random sequences of a mode missed, a shortest sequence
	// reaches, as at the model level; every mode must reach every
	// transition the server can make happen.
	for _, global := range []fsm.Mode{fsm.Lenient, fsm.Strict} {
		t.Run("seeds-"+global.String(), func(t *testing.T) {
			c := covOf[global]
			random, total := wireCoverable(ref, c)
			runWireSeeds(t, ref, global, c, s.seed+11+int64(global),
				&WireConfig{Name: "server", Factory: liveFactory(t, nil), Reference: ref, Options: wireOptions(), Coverage: c},
				&WireConfig{Name: "extended", Factory: extendedFactory(t), Reference: ref, Options: extendedOptions(t), Coverage: c},
				&WireConfig{Name: "tls-only", Factory: tlsOnlyFactory(t), Reference: ref, Options: tlsOnlyOptions(t), Coverage: c})
			n, _ := wireCoverable(ref, c)
			t.Logf("wire-level transition coverage: %d/%d (%.1f%%) in %s mode (%d by the random sequences, %d by seed sequences)",
				n, total, 100*float64(n)/float64(total), global, random, n-random)
			if n < total {
				t.Errorf("wire-level coverage below 100%% in %s mode; missing: %s", global, strings.Join(wireOpen(ref, c), ", "))
			}
		})
		cov.Add(covOf[global])
	}
	t.Logf("wire-level coverage of both modes: %s", wireCoverageReport(ref, cov))
	for _, tr := range ref.Transitions() {
		if why := neverReported(tr); why != "" && cov.Hits(tr) > 0 {
			t.Errorf("%s happened, but serverNeverReports says it cannot (%s): correct the list", tr, why)
		}
	}
}

// wireCoverable counts the wire-reachable transitions the server can make
// happen (not in serverNeverReports) that cov exercised, and how many
// there are.
func wireCoverable(ref *Reference, cov *Coverage) (covered, total int) {
	for _, tr := range ref.Transitions() {
		if !ref.WireReachable(tr) || neverReported(tr) != "" {
			continue
		}
		total++
		if cov.Hits(tr) > 0 {
			covered++
		}
	}
	return covered, total
}

// wireOpen lists the transitions wireCoverable counts that cov missed.
func wireOpen(ref *Reference, cov *Coverage) []string {
	var out []string
	for _, tr := range cov.Missing() {
		if ref.WireReachable(tr) && neverReported(tr) == "" {
			out = append(out, tr.String())
		}
	}
	return out
}

// runWireSeeds runs, for each transition the server can make happen that
// cov misses, the shortest wire sequence reaching it (Reference.WireSeed):
// on the default server when it can be written for it, else on the
// extended one (TLS, timers, the line limit). A rendering is drawn again
// when the server's real outcome took the sequence elsewhere. Every seed
// sequence is checked like a random one; a violation fails the test with
// the sequence.
func runWireSeeds(t *testing.T, ref *Reference, global fsm.Mode, cov *Coverage, seed int64, cfgs ...*WireConfig) {
	rng := mrand.New(mrand.NewSource(seed))
	for _, tr := range cov.Missing() {
		if !ref.WireReachable(tr) || neverReported(tr) != "" {
			continue
		}
		// The outcome of a seed also depends on what the server holds
		// (a NO needs, say, a message it cannot decode in the selected
		// mailbox), so a transition gets several renderings.
		for attempt := 0; attempt < 40 && cov.Hits(tr) == 0; attempt++ {
			for _, cfg := range cfgs {
				modes, steps, ok := ref.WireSeed(tr, global, cfg.Options, rng)
				if !ok {
					continue
				}
				w := cfg.Run(modes, steps)
				if vs := w.Violations(); len(vs) > 0 {
					ce := &WireCounterexample{Name: cfg.Name, Seed: seed, Sequence: NewWireSequence(modes, steps), Records: w.Records(), Violations: vs}
					t.Errorf("the seed sequence for %s fails:\n%s", tr, ce.Format())
					return
				}
				break
			}
		}
	}
}

// serverNeverReports lists what the spec allows and a client can send, but
// this server never does: handler outcomes its handlers do not report, and
// events the engine cannot raise in a state. The wire level cannot
// exercise them, so the coverage report counts them apart, with the
// reason.
var serverNeverReports = []struct {
	inputs []string
	states []string // nil: every state
	// outcome is the handler outcome never reported; event is set
	// instead for an event the engine never raises.
	outcome fsm.Outcome
	event   bool
	why     string
}{
	{inputs: []string{"capability", "noop", "id", "logout", "namespace", "enable", "check", "unselect", "idle"}, outcome: fsm.OutcomeNo,
		why: "the handler fails only on its arguments (BAD)"},
	{inputs: []string{"cancelupdate"}, outcome: fsm.OutcomeNo,
		why: "CANCELUPDATE fails only on its arguments (BAD); a tag that names no update context is accepted"},
	{inputs: []string{"list", "lsub", "close"}, outcome: fsm.OutcomeNo,
		why: "only when the store fails (I/O); a deleted selected mailbox lists nothing and CLOSE just leaves it"},
	{inputs: []string{"setquota"}, outcome: fsm.OutcomeOK,
		why: "SETQUOTA is not offered (no QUOTASET); it is always refused with NO [NOPERM]"},
	{inputs: []string{saslResponseName}, outcome: fsm.OutcomeContinue,
		why: "PLAIN, the only mechanism, ends with the first response"},
	{inputs: []string{"error-limit"}, states: []string{"sasl"}, event: true,
		why: "every BAD in SASL ends the exchange, so the count reaches the limit in not-authenticated"},
	{inputs: []string{corruptStreamInput}, states: []string{"not-authenticated", "sasl"}, event: true,
		why: "compression starts only after login (RFC 4978 3), and no state after login leads back to these"},
	{inputs: []string{commandTooLargeInput}, states: []string{"idle-authenticated", "idle-selected", "idle-selected-read-only", "sasl"}, event: true,
		why: "the line or literal too large to skip is answered first (line-too-long, a rejection, or the handler), which ends IDLE or the exchange"},
}

// neverReported says why the server never makes t happen, "" when it may.
func neverReported(t Transition) string {
	for _, n := range serverNeverReports {
		if !slices.Contains(n.inputs, t.Input.String()) || (n.states != nil && !slices.Contains(n.states, t.State.String())) {
			continue
		}
		if n.event || (t.Handler && t.Outcome == n.outcome) {
			return n.why
		}
	}
	return ""
}

// wireCoverageReport sums up the wire-level coverage: of all transitions,
// of the wire-reachable ones, the wire-reachable ones missed that the
// server never makes happen (grouped by reason), and the others, which a
// longer run may reach.
func wireCoverageReport(ref *Reference, cov *Coverage) string {
	never := map[string][]string{}
	var reasons, open []string
	for _, t := range cov.Missing() {
		if !ref.WireReachable(t) {
			continue
		}
		why := neverReported(t)
		if why == "" {
			open = append(open, t.String())
			continue
		}
		if never[why] == nil {
			reasons = append(reasons, why)
		}
		never[why] = append(never[why], t.String())
	}
	var b strings.Builder
	b.WriteString(cov.WireSummary())
	n := 0
	for _, why := range reasons {
		n += len(never[why])
	}
	fmt.Fprintf(&b, "\n%d of the wire-reachable ones missed the server never makes happen:", n)
	for _, why := range reasons {
		fmt.Fprintf(&b, "\n  %s (%d): %s", why, len(never[why]), strings.Join(never[why], ", "))
	}
	fmt.Fprintf(&b, "\nthe %d others (a longer run may reach them): %s", len(open), strings.Join(open, ", "))
	return b.String()
}

// wireParams returns gopter parameters for a wire run of n sequences.
func wireParams(seed int64, n int) *gopter.TestParameters {
	p := params(seed, n)
	p.MaxSize = wireMaxSteps
	p.MaxShrinkCount = wireMaxShrinks
	return p
}

// reportWireFailure prints a failed run's shrunk counterexample and seed,
// and saves it under testdata/ when asked to.
func reportWireFailure(t *testing.T, rep WireReport, s settings) {
	t.Helper()
	if rep.Passed() {
		return
	}
	if rep.Counterexample == nil {
		t.Errorf("wire property failed without a counterexample (seed %d): status %v, labels %v, error %v", rep.Seed, rep.Result.Status, rep.Result.Labels, rep.Result.Error)
		return
	}
	text := rep.Counterexample.Format()
	t.Errorf("wire property falsified (seed %d; rerun with -seed %d or %s=%d). Shrunk counterexample:\n%s", rep.Seed, rep.Seed, envSeed, rep.Seed, text)
	if s.write {
		path := filepath.Join("testdata", rep.Counterexample.FileName())
		require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
		t.Logf("saved as %s; TestWireReplay replays it until the bug is fixed", path)
	} else {
		t.Logf("run with -write-counterexamples or %s=1 to save it under testdata/", envWrite)
	}
}

// TestWireReplay replays every testdata/wire-*.seq file against a live
// server in each mode the file asks for, checking every wire property.
func TestWireReplay(t *testing.T) {
	ref := loadReference(t)
	files, err := filepath.Glob(filepath.Join("testdata", "wire-*.seq"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "testdata/wire-*.seq: no wire sequence files")
	cov := NewCoverage(ref)
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".seq"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			seq, err := ParseWireSequence(string(data))
			require.NoError(t, err)
			cfg := &WireConfig{Name: "server", Factory: liveFactory(t, nil), Reference: ref, Options: wireOptions(), Coverage: cov}
			if strings.Contains(filepath.Base(file), "extended") {
				cfg = &WireConfig{Name: "extended", Factory: extendedFactory(t), Reference: ref, Options: extendedOptions(t), Coverage: cov}
			}
			for _, modes := range seq.ModesToReplay() {
				w := cfg.Run(modes, seq.Steps)
				if vs := w.Violations(); len(vs) > 0 {
					ce := &WireCounterexample{Name: "server", Sequence: NewWireSequence(modes, seq.Steps), Records: w.Records(), Violations: vs}
					t.Errorf("%s:\n%s", ModesString(modes), ce.Format())
				}
			}
		})
	}
	t.Logf("the wire sequence files exercise %s", cov.WireSummary())
}

// TestWireSequenceFormatRoundTrip checks that steps of every shape survive
// printing and parsing.
func TestWireSequenceFormatRoundTrip(t *testing.T) {
	steps := []WireStep{
		{Data: "A1 LOGIN user secret\r\n"},
		{Data: "DONE \r\n", Pipelined: true},
		{Data: "DONE\n"},
		{Data: "\r\n"},
		{Data: "A2 APPEND INBOX {5+}\r\nhello\r\n", Pipelined: true},
		{Data: "| A3 NOOP\r\n"},
		{Data: "# not a comment\r\n"},
		{Data: "mode strict\r\n"},
		{Data: "\x01\x02\r\n"},
		{Directive: DirectiveSleep},
		{Directive: DirectiveHandshake},
		{Directive: DirectiveBadHandshake, Pipelined: true},
		{Directive: DirectiveShutdown},
		{Data: "<sleep>\r\n"},
		{Data: "A9 SELECT INB"},
	}
	modes := fsm.NewModes(fsm.Strict).With(fsm.QuirkStrayDone, fsm.Lenient)
	text := FormatWireSequence(NewWireSequence(modes, steps), [][]string{{"note"}}, "header")
	back, err := ParseWireSequence(text)
	require.NoError(t, err)
	assert.Equal(t, steps, back.Steps, text)
	assert.Equal(t, []fsm.Modes{modes}, back.ModesToReplay())
}

// TestClassifyWire pins the client-side reading of lines to the spec's
// input documentation.
func TestClassifyWire(t *testing.T) {
	ref := loadReference(t)
	in := func(name string) fsm.Input {
		v, ok := ref.InputByName(name)
		require.True(t, ok, name)
		return v
	}
	for _, c := range []struct {
		reads fsm.Reads
		data  string
		want  fsm.Input
		tag   string
	}{
		{fsm.ReadsCommand, "A1 NOOP\r\n", fsm.InputNoop, "A1"},
		{fsm.ReadsCommand, "8.570 uid fetch 1:* FLAGS\r\n", fsm.InputUIDFetch, "8.570"},
		{fsm.ReadsCommand, "A1 XYZZY\r\n", fsm.InputUnknownCommand, "A1"},
		{fsm.ReadsCommand, "done \r\n", in("stray-done"), "DONE"},
		{fsm.ReadsCommand, "\r\n", in("empty-line"), ""},
		{fsm.ReadsCommand, ")(\r\n", in("unparsable"), ""},
		{fsm.ReadsCommand, "A1\r\n", in("unparsable-tagged"), "A1"},
		{fsm.ReadsCommand, "A1 )(\r\n", in("unparsable-tagged"), "A1"},
		{fsm.ReadsCommand, "a \x00\x01\x02 NOOP\r\n", in("unparsable-tagged"), "a"},
		{fsm.ReadsCommand, "a NOOP \x00\r\n", in("unparsable-tagged"), "a"},
		{fsm.ReadsCommand, "a\x00 NOOP\r\n", in("unparsable"), ""},
		{fsm.ReadsCommand, "a%b NOOP\r\n", in("unparsable"), ""},
		{fsm.ReadsIdle, "8.570 )(\r\n", in("unparsable-tagged"), "8.570"},
		{fsm.ReadsSASL, "a \x00\r\n", in("unparsable"), ""},
		{fsm.ReadsIdle, "DONE\r\n", in("done"), ""},
		{fsm.ReadsIdle, "done\r\n", in("done"), ""},
		{fsm.ReadsIdle, "DONE \r\n", in("done-variant"), ""},
		{fsm.ReadsIdle, "DONE\n", in("done-variant"), ""},
		{fsm.ReadsIdle, "8.570 STATUS INBOX (MESSAGES)\r\n", fsm.InputStatus, "8.570"},
		{fsm.ReadsSASL, "*\r\n", in("sasl-cancel"), ""},
		{fsm.ReadsSASL, "AHVzZXIAc2VjcmV0\r\n", in("sasl-response"), ""},
	} {
		got, tag := ref.ClassifyWire(c.reads, WireStep{Data: c.data})
		assert.Equal(t, c.want, got, "%q", c.data)
		assert.Equal(t, c.tag, tag, "%q", c.data)
	}
	l := scanWireLine("A1 APPEND INBOX {5}\r\nhello {3+}\r\nabc\r\n")
	assert.Equal(t, 1, l.syncLiterals)
	assert.Equal(t, []string{"hello", "abc"}, l.literals)
	assert.Equal(t, []string{"A1 APPEND INBOX {5}\r\n", "hello {3+}\r\nabc\r\n"}, l.chunks)
}
