package proptest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/fsm"
)

// TestModelProperties runs random sequences through the generated machine in
// both global modes, with random per-quirk overrides, checking every
// property after every step. It then tops the transition coverage up with a
// shortest sequence for each transition the random runs missed, and fails
// unless every transition of the spec was exercised.
func TestModelProperties(t *testing.T) {
	s := loadSettings(t)
	ref := loadReference(t)
	cov := NewCoverage(ref)
	t.Logf("seed %d, %d sequences of up to %d steps per mode", s.seed, s.cases(), maxSteps)
	for _, global := range []fsm.Mode{fsm.Lenient, fsm.Strict} {
		t.Run(global.String(), func(t *testing.T) {
			cfg := &Config{Name: "fsm", Machine: FSM{}, Reference: ref, Checks: AllProperties, Global: global, Coverage: cov}
			rep := cfg.Check(params(s.seed+int64(global), s.cases()))
			reportFailure(t, ref, rep, s)
			if rep.Passed() {
				t.Logf("%d sequences passed", rep.Result.Succeeded)
			}
		})
	}

	random := cov.Summary()
	missing := cov.Missing()
	for _, tr := range missing {
		seq, ok := ref.CoveringSequence(tr)
		require.True(t, ok, "no path reaches %s", tr)
		session := NewSession(FSM{}, ref, seq.ModesToReplay()[0], AllProperties, cov).WithFacts(seq.Facts)
		if v := session.Run(seq.Steps); len(v) > 0 {
			t.Errorf("the shortest sequence to %s fails:\n%s", tr, ref.FormatSequence(session.Sequence(), session.Records()))
		}
	}
	t.Logf("transition coverage: random sequences %s; with %d shortest-path seed sequences %s", random, len(missing), cov.Summary())
	assert.Empty(t, cov.Missing(), "transitions of the spec never exercised (per state: %v)", cov.MissingByState())
	assert.Equal(t, 100.0, cov.Percent())
}

// TestSeedSequencesCoverEveryTransition checks the deterministic half of the
// coverage guarantee: the shortest-path sequences alone exercise every
// transition of the spec, so the coverage of TestModelProperties reaches
// 100% whatever the random seed.
func TestSeedSequencesCoverEveryTransition(t *testing.T) {
	ref := loadReference(t)
	cov := NewCoverage(ref)
	all := ref.Transitions()
	for _, tr := range all {
		seq, ok := ref.CoveringSequence(tr)
		require.True(t, ok, "no path reaches %s", tr)
		session := NewSession(FSM{}, ref, seq.ModesToReplay()[0], AllProperties, cov).WithFacts(seq.Facts)
		require.Empty(t, session.Run(seq.Steps), "%s", tr)
		require.Positive(t, cov.Hits(tr), "the sequence for %s does not exercise it", tr)
	}
	assert.Equal(t, 100.0, cov.Percent())
	t.Logf("%d transitions, each reached by a shortest-path sequence", len(all))
}
