package probe

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/fsm"
	"github.com/imapfsm/imapfsm/gen"
	"github.com/imapfsm/imapfsm/server"
	"github.com/imapfsm/imapfsm/server/cmd/imapd/internal/replay"
	"github.com/imapfsm/imapfsm/server/internal/mailmsg"
	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/boltstore"
	"github.com/imapfsm/imapfsm/spec"
)

// startServer serves a fresh store with the account alice/secret in the
// given mode and returns its address.
func startServer(t *testing.T, mode fsm.Mode) string {
	t.Helper()
	st, err := boltstore.Open(t.TempDir(), boltstore.Options{Options: store.Options{Analyzer: mailmsg.Analyze, BcryptCost: 4}})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	require.NoError(t, st.CreateUser(context.Background(), "alice", "secret"))
	srv, err := server.New(server.Config{
		Store:             st,
		AllowInsecureAuth: true,
		Modes:             fsm.NewModes(mode),
		IdleKeepalive:     200 * time.Millisecond,
		Logger:            slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go srv.Serve(l)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return l.Addr().String()
}

func probeOptions(addr string) Options {
	return Options{Addr: addr, User: "alice", Password: "secret", Timeout: 3 * time.Second, IdleWait: 3 * time.Second}
}

func verdicts(results []Result) map[string]Verdict {
	out := map[string]Verdict{}
	for _, r := range results {
		out[r.Quirk] = r.Verdict
	}
	return out
}

// TestProbeImapdAgreesWithItsMode is the agreement of probe, spec and
// server: imapd in lenient mode is lenient for every quirk whose modes
// differ, in strict mode strict, and "both" where the spec gives a quirk
// one behaviour.
func TestProbeImapdAgreesWithItsMode(t *testing.T) {
	m, err := gen.Load(spec.IMAPFile, spec.IMAP())
	require.NoError(t, err)
	for _, mode := range []fsm.Mode{fsm.Lenient, fsm.Strict} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			results, err := Run(probeOptions(startServer(t, mode)))
			require.NoError(t, err)
			got := verdicts(results)
			probed := 0
			for _, q := range m.Quirks[1:] {
				if q.Probe == nil {
					continue
				}
				probed++
				want := Verdict(mode.String())
				if q.Probe.SameInBothModes() {
					want = Both
				}
				assert.Equal(t, want, got[q.Name], "quirk %s", q.Name)
			}
			assert.Equal(t, probed, len(results))
			for _, r := range results {
				if r.Verdict != got[r.Quirk] || t.Failed() {
					t.Logf("%s: %s (%s)\n%s", r.Quirk, r.Verdict, r.Evidence, strings.Join(r.Transcript, "\n"))
				}
			}
		})
	}
}

// TestEveryQuirkHasAProbe keeps the probe complete as quirks are added.
func TestEveryQuirkHasAProbe(t *testing.T) {
	m, err := gen.Load(spec.IMAPFile, spec.IMAP())
	require.NoError(t, err)
	for _, q := range m.Quirks[1:] {
		assert.NotNil(t, q.Probe, "quirk %s has no probe block in the spec", q.Name)
	}
}

// TestSessionQuirkProbesMatchTheMachine checks the probe blocks of session
// quirks against the generated machine: the held tag's completion that a
// probe expects in each mode is the one the machine decides for the
// probe's first line in the probe's state.
func TestSessionQuirkProbesMatchTheMachine(t *testing.T) {
	m, err := gen.Load(spec.IMAPFile, spec.IMAP())
	require.NoError(t, err)
	checked := 0
	for _, q := range m.Quirks[1:] {
		p := q.Probe
		if p == nil || len(p.Send) == 0 {
			continue
		}
		state := stateNamed(t, m.States[p.Reach].Name)
		in, ok := classifyProbeLine(state, p.Send[0])
		if !ok {
			continue
		}
		quirk, _ := fsm.ParseQuirk(q.Name)
		for mode := range 2 {
			md := fsm.Mode(mode)
			d := fsm.Step(state, fsm.FactPlaintextAuth, in, fsm.NewModes(md))
			for _, e := range p.Expect[mode] {
				switch e.Kind {
				case gen.ExpectHeld:
					assert.Equal(t, e.Status, d.Pending.Status(), "quirk %s %s: held tag", q.Name, md)
					checked++
				case gen.ExpectUntagged:
					assert.Equal(t, fsm.ActionNotify, d.Action, "quirk %s %s", q.Name, md)
					assert.Equal(t, e.Status, d.Reply.Status(), "quirk %s %s: untagged", q.Name, md)
					checked++
				case gen.ExpectSilent:
					assert.Equal(t, fsm.ActionIgnore, d.Action, "quirk %s %s", q.Name, md)
					checked++
				case gen.ExpectLine:
					if d.Action == fsm.ActionReject {
						assert.Equal(t, e.Status, d.Reply.Status(), "quirk %s %s: line 1", q.Name, md)
						checked++
					}
				}
			}
			if d.Quirk != fsm.QuirkNone {
				assert.Equal(t, quirk, d.Quirk, "quirk %s: the machine names another quirk", q.Name)
			}
		}
	}
	assert.GreaterOrEqual(t, checked, 10)
}

func stateNamed(t *testing.T, name string) fsm.State {
	for s := range fsm.State(fsm.NumStates) {
		if s.String() == name {
			return s
		}
	}
	t.Fatalf("no state %q in package fsm", name)
	return 0
}

// classifyProbeLine reads a probe line the way the session engine reads it
// in the state.
func classifyProbeLine(s fsm.State, line string) (fsm.Input, bool) {
	trimmed := strings.TrimRight(line, " \t")
	if s.Reads() == fsm.ReadsIdle && strings.EqualFold(trimmed, "DONE") {
		if trimmed == line {
			return fsm.InputDone, true
		}
		return fsm.InputDoneVariant, true
	}
	switch {
	case strings.EqualFold(trimmed, "DONE"):
		return fsm.InputStrayDone, true
	case line == "":
		return fsm.InputEmptyLine, true
	}
	f := strings.Fields(line)
	if len(f) < 2 {
		return 0, false
	}
	return fsm.CommandInput(strings.ToUpper(f[1]))
}

// swallowingProxy sits between the prober and imapd in strict mode and
// drops the completion of a command sent during IDLE: the WildDuck defect
// (the IDLE tag gets BAD, the new command is never answered).
func swallowingProxy(t *testing.T, upstream string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	drop := regexp.MustCompile(`^\S+ BAD \[CLIENTBUG\] Command sent during IDLE`)
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	go func() {
		for {
			down, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				down.Close()
				continue
			}
			wg.Add(2)
			go func() {
				defer wg.Done()
				io.Copy(up, down)
				up.Close()
			}()
			go func() {
				defer wg.Done()
				defer down.Close()
				r := bufio.NewReader(up)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if !drop.MatchString(line) {
						io.WriteString(down, line)
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}

// TestProbeReportsASwallowedTagAsBroken is the probe's own mutant: a
// server that swallows the tag of a command sent during IDLE is broken for
// idle-tagged-command, with the transcript that shows it.
func TestProbeReportsASwallowedTagAsBroken(t *testing.T) {
	o := probeOptions(swallowingProxy(t, startServer(t, fsm.Strict)))
	o.Timeout = time.Second
	results, err := Run(o)
	require.NoError(t, err)
	got := verdicts(results)
	assert.Equal(t, Broken, got["idle-tagged-command"])
	for _, r := range results {
		if r.Quirk == "idle-tagged-command" {
			assert.Contains(t, r.Evidence, "never answered")
			assert.Contains(t, strings.Join(r.Transcript, "\n"), "BAD [CLIENTBUG] IDLE interrupted")
		}
	}
	// Everything else still looks strict: only the swallowed tag differs.
	assert.Equal(t, Strict, got["stray-done"])
}

// TestProbeRedactsThePassword: transcripts never show the password, also
// not inside the non-synchronising literal of nonsync-literal-login.
func TestProbeRedactsThePassword(t *testing.T) {
	results, err := Run(probeOptions(startServer(t, fsm.Lenient)))
	require.NoError(t, err)
	for _, r := range results {
		for _, l := range r.Transcript {
			assert.NotContains(t, l, "secret", "quirk %s", r.Quirk)
		}
	}
}

// TestProbeSetupFailure: a wrong password is a setup error, not a verdict.
func TestProbeSetupFailure(t *testing.T) {
	o := probeOptions(startServer(t, fsm.Lenient))
	o.Password = "wrong"
	_, err := Run(o)
	require.ErrorIs(t, err, ErrSetup)
}

func TestParseResponse(t *testing.T) {
	for _, tc := range []struct {
		line              string
		tag, status, code string
		kind              string
	}{
		{"* 3 EXISTS", "*", "", "", "EXISTS"},
		{"* OK [CLIENTBUG] x", "*", "OK", "CLIENTBUG", "OK"},
		{"a1 BAD [TOOBIG] Line too long", "a1", "BAD", "TOOBIG", "BAD"},
		{"+ idling", "+", "", "", ""},
		{`* LIST (\HasNoChildren) "/" INBOX`, "*", "", "", "LIST"},
	} {
		r := parseResponse(tc.line)
		assert.Equal(t, tc.tag, r.Tag, tc.line)
		assert.Equal(t, tc.status, r.Status, tc.line)
		assert.Equal(t, tc.code, r.Code, tc.line)
		assert.Equal(t, tc.kind, r.Kind, tc.line)
	}
}

// TestProbeTranscriptsReplayWithoutDifferences closes the loop between
// the server, the probe and the machine: every transcript the probe
// records of imapd, replayed through the machine in the server's mode,
// shows no difference from the spec. A spec answer the server does not
// give (or the reverse) would show here.
func TestProbeTranscriptsReplayWithoutDifferences(t *testing.T) {
	for _, mode := range []fsm.Mode{fsm.Lenient, fsm.Strict} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			results, err := Run(probeOptions(startServer(t, mode)))
			require.NoError(t, err)
			replayed := 0
			for _, r := range results {
				entries, err := replay.Parse(strings.NewReader(strings.Join(r.Transcript, "\n")))
				require.NoError(t, err, r.Quirk)
				for _, s := range replay.Replay(entries, fsm.NewModes(mode)) {
					replayed++
					assert.Empty(t, s.Differs, "quirk %s, line %q (%s → %s by %s)", r.Quirk, s.Client, s.Before, s.After, s.Rule)
				}
			}
			assert.Greater(t, replayed, 50)
		})
	}
}
