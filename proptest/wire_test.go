package proptest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
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
	"github.com/imapfsm/imapfsm/server/store/boltstore"
)

// Sizes of the wire-level runs. Every sequence starts a server on a fresh
// store, so a case costs milliseconds rather than microseconds; shrinking a
// failure takes at most wireMaxShrinks runs, a few seconds.
const (
	wireCases      = 150
	wireMaxSteps   = 40
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
	return WireOptions{Timeout: wireTimeout, MaxBadBeforeAuth: wireMaxBadBeforeAuth, MaxBad: wireMaxBad}
}

// liveServer is one in-process server on a store in a temporary directory,
// reached over in-memory pipes, optionally through a middleman that
// rewrites what the server sends.
type liveServer struct {
	srv      *server.Server
	st       *boltstore.Store
	dir      string
	before   int
	rewrite  rewriter
	mu       sync.Mutex
	middles  sync.WaitGroup
	shutdown bool
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
	before := runtime.NumGoroutine()
	st, err := boltstore.Open(dir, boltstore.Options{BcryptCost: 4})
	if err != nil {
		return nil, err
	}
	if err := st.CreateUser(context.Background(), WireUser, WirePassword); err != nil {
		st.Close()
		return nil, err
	}
	srv, err := server.New(server.Config{
		Store:                    st,
		Logger:                   slog.New(slog.NewTextHandler(io.Discard, nil)),
		AllowInsecureAuth:        true,
		AuthFailureDelay:         -1,
		MaxAuthFailuresPerIP:     -1,
		MaxBadCommandsBeforeAuth: wireMaxBadBeforeAuth,
		MaxBadCommands:           wireMaxBad,
		Modes:                    modes,
	})
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
	cases := wireCases
	if s.long {
		cases *= longFactor
	}
	t.Logf("seed %d, %d sequences of up to %d steps per mode", s.seed, cases, wireMaxSteps)
	for _, global := range []fsm.Mode{fsm.Lenient, fsm.Strict} {
		t.Run(global.String(), func(t *testing.T) {
			cfg := &WireConfig{Name: "server", Factory: liveFactory(t, nil), Reference: ref, Global: global, Options: wireOptions(), Coverage: cov}
			rep := cfg.Check(wireParams(s.seed+int64(global), cases))
			reportWireFailure(t, rep, s)
			if rep.Passed() {
				t.Logf("%d sequences passed", rep.Result.Succeeded)
			}
		})
	}
	t.Logf("wire-level transition coverage: %s; per state, missing: %v", cov.Summary(), cov.MissingByState())
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
			for _, modes := range seq.ModesToReplay() {
				w := cfg.Run(modes, seq.Steps)
				if vs := w.Violations(); len(vs) > 0 {
					ce := &WireCounterexample{Name: "server", Sequence: NewWireSequence(modes, seq.Steps), Records: w.Records(), Violations: vs}
					t.Errorf("%s:\n%s", ModesString(modes), ce.Format())
				}
			}
		})
	}
	t.Logf("the wire sequence files exercise %s", cov.Summary())
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
