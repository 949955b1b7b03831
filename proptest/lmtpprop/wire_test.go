package lmtpprop

import (
	"context"
	"fmt"
	"io"
	"math/rand"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/lmtp/lmtpfsm"
	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/boltstore"
)

// newTarget opens a store with Accounts in a temporary directory.
func newTarget(t *testing.T) WireTarget {
	t.Helper()
	st, err := boltstore.Open(t.TempDir(), boltstore.Options{Options: store.Options{BcryptCost: 4}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	for _, u := range Accounts {
		require.NoError(t, st.CreateUser(context.Background(), u, "pw"))
	}
	// A second: long enough that a loaded machine (the race detector, a
	// parallel package) does not time out between two steps.
	return WireTarget{Store: st, Timeout: time.Second, Spool: t.TempDir()}
}

var markerRe = regexp.MustCompile(`X-Marker: (\S+)`)

// storedCopies counts the stored messages of each account by marker.
func storedCopies(st store.Store) (map[string]map[string]int, error) {
	ctx := context.Background()
	out := map[string]map[string]int{}
	for _, name := range Accounts {
		u, err := st.OpenUser(ctx, name)
		if err != nil {
			return nil, err
		}
		info, err := u.Mailbox(ctx, store.Inbox)
		if err != nil {
			return nil, err
		}
		view, err := u.View(ctx, info.ID)
		if err != nil {
			return nil, err
		}
		for _, uid := range view.UIDs {
			b, err := u.OpenBody(ctx, info.ID, uid)
			if err != nil {
				return nil, err
			}
			data, err := io.ReadAll(b)
			b.Close()
			if err != nil {
				return nil, err
			}
			m := markerRe.FindSubmatch(data)
			if m == nil {
				return nil, fmt.Errorf("%s: a stored message without a marker", name)
			}
			if out[string(m[1])] == nil {
				out[string(m[1])] = map[string]int{}
			}
			out[string(m[1])][name]++
		}
	}
	return out, nil
}

// wireRun runs sessions against target and returns the first failure.
type wireRun struct {
	t      *testing.T
	ref    *Reference
	target WireTarget
	cov    *Coverage
	rand   *rand.Rand
	// want is every acknowledged message: marker → account → copies.
	want map[string]map[string]int
	n    int
}

func newWireRun(t *testing.T, ref *Reference, target WireTarget, seed int64) *wireRun {
	return &wireRun{t: t, ref: ref, target: target, cov: NewCoverage(ref, ref.WireReachable()), rand: rand.New(rand.NewSource(seed)), want: map[string]map[string]int{}}
}

// session runs one session of intents (drawn at random when steps is nil,
// n of them) and checks the store after it.
func (r *wireRun) session(modes lmtpfsm.Modes, ending Ending, steps []Step, n int) error {
	r.n++
	w := &WireSession{Ref: r.ref, Modes: modes, Cov: r.cov, Rand: r.rand, Ending: ending}
	defer w.Close()
	if err := w.Start(r.target, fmt.Sprintf("s%d", r.n)); err != nil {
		return r.explain(w, err)
	}
	for i := 0; !w.closed && (steps != nil && i < len(steps) || steps == nil && i < n); i++ {
		st := r.draw(w)
		if steps != nil {
			st = steps[i]
		}
		if err := w.Do(st); err != nil {
			return r.explain(w, err)
		}
	}
	if err := w.End(); err != nil {
		return r.explain(w, err)
	}
	w.Close()
	for m, accts := range w.Stored {
		r.want[m] = accts
	}
	got, err := storedCopies(r.target.Store)
	if err != nil {
		return err
	}
	for m, accts := range got {
		for a, c := range accts {
			if r.want[m][a] != c {
				return r.explain(w, &WireError{Property: PropPerRecipient, Msg: fmt.Sprintf("message %s is stored %d times for %s, acknowledged %d times (stored exactly once per accepted recipient)", m, c, a, r.want[m][a])})
			}
		}
	}
	for m, accts := range r.want {
		for a, c := range accts {
			if got[m][a] != c {
				return r.explain(w, &WireError{Property: PropPerRecipient, Msg: fmt.Sprintf("message %s was acknowledged for %s but is stored %d times", m, a, got[m][a])})
			}
		}
	}
	return nil
}

func (r *wireRun) explain(w *WireSession, err error) error {
	var b strings.Builder
	for q := lmtpfsm.Quirk(1); q < lmtpfsm.NumQuirks; q++ {
		fmt.Fprintf(&b, "  quirk %s %s\n", q, w.Modes.Of(q))
	}
	for _, l := range w.Log {
		b.WriteString("  " + l + "\n")
	}
	return fmt.Errorf("%w\n%s", err, b.String())
}

// draw picks the next intent in the predicted state: inputs whose
// transition this run has not made yet weigh 8×, and the commands that
// lead deeper into a transaction 3× more.
func (r *wireRun) draw(w *WireSession) Step {
	s := w.state
	if r.ref.ReadsData(s) {
		return Step{Input: lmtpfsm.InputDataEnd, Outcome: lmtpfsm.OutcomeOK}
	}
	type cand struct {
		st Step
		w  int
	}
	var cands []cand
	total := 0
	for in := lmtpfsm.Input(0); in < lmtpfsm.NumInputs; in++ {
		if !r.ref.isLine(in) && in != lmtpfsm.InputErrorLimit {
			continue
		}
		for _, o := range r.ref.Outcomes(in) {
			wt := 1
			if r.cov.hits[r.ref.TransitionOf(s, in, w.Modes, o)] == 0 && r.cov.want[r.ref.TransitionOf(s, in, w.Modes, o)] {
				wt = 8
			}
			switch in {
			case lmtpfsm.InputLHLO, lmtpfsm.InputMail, lmtpfsm.InputRcpt, lmtpfsm.InputData:
				if o != lmtpfsm.OutcomeNo {
					wt *= 3
				}
			case lmtpfsm.InputErrorLimit, lmtpfsm.InputQuit:
				wt = max(wt/4, 1)
			}
			cands = append(cands, cand{Step{in, o}, wt})
			total += wt
		}
	}
	x := r.rand.Intn(total)
	for _, c := range cands {
		if x < c.w {
			return c.st
		}
		x -= c.w
	}
	return cands[0].st
}

func randomModes(rng *rand.Rand, global lmtpfsm.Mode) lmtpfsm.Modes {
	m := lmtpfsm.NewModes(global)
	for q := lmtpfsm.Quirk(1); q < lmtpfsm.NumQuirks; q++ {
		if rng.Intn(4) == 0 {
			m = m.With(q, 1-global)
		}
	}
	return m
}

func randomEnding(rng *rand.Rand) Ending {
	switch x := rng.Intn(20); {
	case x < 12:
		return EndQuit
	case x < 15:
		return EndTimeout
	case x < 18:
		return EndShutdown
	}
	return EndDrop
}

// random runs sessions in both global modes.
func (r *wireRun) random(sessions int) error {
	for _, global := range []lmtpfsm.Mode{lmtpfsm.Lenient, lmtpfsm.Strict} {
		for i := 0; i < sessions; i++ {
			if err := r.session(randomModes(r.rand, global), randomEnding(r.rand), nil, 6+r.rand.Intn(25)); err != nil {
				return err
			}
		}
	}
	return nil
}

// seeds runs a session for each wire-reachable transition the random
// sessions missed: the spec's shortest path to it, as wire intents.
func (r *wireRun) seeds() error {
	for _, t := range r.cov.Missing() {
		steps, modes, ok := r.ref.CoveringSequence(t)
		if !ok {
			return fmt.Errorf("no sequence reaches %s", t)
		}
		if t.Input == lmtpfsm.InputBareLFLine {
			// The session classifies a bare LF line as such only where the
			// bare-lf data quirk is not tolerated.
			modes = modes.With(lmtpfsm.QuirkBareLF, lmtpfsm.Strict)
		}
		ending := EndQuit
		switch t.Input {
		case lmtpfsm.InputTimeout:
			ending, steps = EndTimeout, steps[:len(steps)-1]
		case lmtpfsm.InputShutdown:
			ending, steps = EndShutdown, steps[:len(steps)-1]
		}
		if err := r.session(modes, ending, steps, 0); err != nil {
			return fmt.Errorf("seed session for %s: %w", t, err)
		}
	}
	return nil
}

// TestLMTPWireProperties runs random LMTP sessions against live servers on
// one store, in both global modes with quirks flipped at random, then seed
// sessions for the wire-reachable transitions they missed. Each session
// checks that every command gets exactly one reply (the spec's text where
// the machine rejects), that the end of a message gets one reply per
// accepted recipient naming it in RCPT order, that an acknowledged message
// is stored exactly once for each accepted account and an unacknowledged
// one not at all, and that nothing follows the end of a session.
func TestLMTPWireProperties(t *testing.T) {
	seed, scale := runSettings(t)
	ref := loadRef(t)
	r := newWireRun(t, ref, newTarget(t), seed)
	sessions := 60
	if testing.Short() {
		sessions = 15
	}
	require.NoError(t, r.random(sessions*scale))
	random, total := r.cov.Covered()
	require.NoError(t, r.seeds())
	t.Logf("LMTP wire coverage: %d/%d wire-reachable transitions by %d random sessions, %s with seed sessions", random, total, 2*sessions*scale, r.cov.Summary())
	assert.Empty(t, r.cov.Missing(), "wire-reachable transitions no session covers")
}
