package proptest

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/fsm"
	"github.com/imapfsm/imapfsm/gen"
)

// TestExhaustiveExploration enumerates, breadth-first from the initial
// state, every reachable node with every input and every outcome, in both
// global modes and with each quirk flipped on its own, and checks every
// property on each step, liveness included. It runs against the generated
// package and against the generator's in-memory table of the same spec.
func TestExhaustiveExploration(t *testing.T) {
	ref := loadReference(t)
	model, err := gen.LoadFile(SpecPath)
	require.NoError(t, err)
	table, err := NewTableMachine(model)
	require.NoError(t, err)
	machines := []struct {
		name string
		m    Machine
	}{{"fsm", FSM{}}, {"gen-table", table}}
	for _, mc := range machines {
		t.Run(mc.name, func(t *testing.T) {
			cov := NewCoverage(ref)
			nodes, steps := 0, 0
			for _, modes := range ExplorationModes() {
				x := Explore(mc.m, ref, modes, AllProperties, cov)
				nodes += x.Nodes
				steps += x.Steps
				for _, f := range x.Findings {
					t.Errorf("%s\n%s", f.Violation, ref.FormatSequence(f.Sequence, f.Records, "Found by exploration under "+ModesString(modes)+"."))
				}
			}
			t.Logf("%d mode sets, %d reachable nodes, %d steps checked; %s", len(ExplorationModes()), nodes, steps, cov.Summary())
			assert.Empty(t, cov.Missing(), "exploration did not reach every transition of the spec")
		})
	}
}

// TestGeneratedMetadataMatchesSpec compares what package fsm says about
// states, inputs, responses and quirks with what the oracle reads in the
// spec. The decisions themselves are compared by the properties.
func TestGeneratedMetadataMatchesSpec(t *testing.T) {
	ref := loadReference(t)
	spec := ref.Spec()
	assert.Equal(t, ref.Initial(), fsm.InitialState, "initial state")
	assert.Equal(t, fsm.NewModes(fsm.Mode(spec.DefaultMode)), fsm.DefaultModes(), "default mode")
	for _, s := range ref.States() {
		assert.Equal(t, ref.Reads(s), s.Reads(), "%s reads", s)
		assert.Equal(t, ref.HoldsTag(s), s.HoldsTag(), "%s holds-tag", s)
		assert.Equal(t, ref.Terminal(s), s.Terminal(), "%s terminal", s)
		assert.Equal(t, ref.Origin(s), s.Origin(), "%s origin", s)
		assert.True(t, s.Valid())
	}
	assert.False(t, InvalidState.Valid())
	for _, in := range ref.Inputs() {
		assert.Equal(t, ref.Kind(in), in.Kind(), "%s kind", in)
		assert.Equal(t, ref.Wire(in), in.Wire(), "%s wire", in)
		for _, o := range allOutcomes() {
			assert.Equal(t, ref.Produces(in, o), in.Produces(o), "%s produces %s", in, o)
		}
		if w := ref.Wire(in); w != "" {
			got, ok := fsm.CommandInput(w)
			assert.True(t, ok, "CommandInput(%q)", w)
			assert.Equal(t, in, got, "CommandInput(%q)", w)
		}
	}
	got, ok := fsm.CommandInput("XYZZY")
	assert.False(t, ok)
	assert.Equal(t, ref.CommandByWire("XYZZY"), got, "unknown commands map to the catch-all input")
	for i, r := range spec.Responses {
		resp := fsm.Response(i + 1)
		assert.Equal(t, r.Name, resp.String())
		assert.Equal(t, r.Status, resp.Status(), "%s status", r.Name)
		assert.Equal(t, r.Code, resp.Code(), "%s code", r.Name)
		assert.Equal(t, strings.TrimSpace(r.Text), resp.Text(), "%s text", r.Name)
	}
	for i, q := range spec.Quirks {
		quirk := fsm.Quirk(i + 1)
		assert.Equal(t, q.Name, quirk.String())
		assert.Equal(t, q.Scope == "session", quirk.Session(), "%s scope", q.Name)
		for _, m := range []fsm.Mode{fsm.Lenient, fsm.Strict} {
			assert.Equal(t, q.Tolerate[m], fsm.NewModes(m).Tolerates(quirk), "%s tolerates in %s", q.Name, m)
		}
	}
}
