package proptest

import (
	"fmt"
	"strings"

	"github.com/imapfsm/imapfsm/fsm"
	"github.com/imapfsm/imapfsm/gen"
)

// Machine is the session state machine under test: for a state, the
// session's facts, an input and the session's quirk modes it returns a
// Decision, whose Next gives the state after the handler's outcome and
// NextFacts the facts after the rule's effect. FSM adapts the generated package; Reference is
// the spec read by the oracle; TableMachine interprets a gen.Model; tests wrap
// any of them with MachineFunc to build broken machines.
//
// A wire-level runner reuses the rest of this package unchanged: it generates
// sequences with the same generator, classifies what the live server did into
// the same Record (decisions, completions, next state), feeds the Ledger and
// the Coverage, and prints failures in the same replayable format.
type Machine interface {
	Step(s fsm.State, f fsm.Facts, in fsm.Input, m fsm.Modes) Decision
}

// MachineFunc adapts a function to Machine.
type MachineFunc func(s fsm.State, f fsm.Facts, in fsm.Input, m fsm.Modes) Decision

// Step calls fn.
func (fn MachineFunc) Step(s fsm.State, f fsm.Facts, in fsm.Input, m fsm.Modes) Decision {
	return fn(s, f, in, m)
}

// InvalidState is a state no spec declares; a broken machine may return it.
const InvalidState = fsm.State(fsm.NumStates)

// Decision mirrors fsm.Decision with its next states exposed, so that tests
// can build and alter decisions.
type Decision struct {
	Action  fsm.Action
	Reply   fsm.Response
	Pending fsm.Response
	Quirk   fsm.Quirk
	Rule    fsm.Rule
	// Targets is the next state per outcome. For actions other than
	// execute every outcome should give the same state.
	Targets [fsm.NumOutcomes]fsm.State
	// Set and Clear are the rule's effect on the facts per outcome: the
	// facts it makes true and those it makes false.
	Set, Clear [fsm.NumOutcomes]fsm.Facts
}

// NextFacts is the facts after the decision, from f, when the handler
// reports o.
func (d Decision) NextFacts(f fsm.Facts, o fsm.Outcome) fsm.Facts {
	if int(o) >= len(d.Set) {
		return f
	}
	return f&^d.Clear[o] | d.Set[o]
}

// engineFacts is the facts the session engine has after the decision: the
// handler's outcome for execute, and OutcomeOK for every other action.
func (d Decision) engineFacts(f fsm.Facts, o fsm.Outcome) fsm.Facts {
	if d.Action == fsm.ActionExecute {
		return d.NextFacts(f, o)
	}
	return d.NextFacts(f, fsm.OutcomeOK)
}

// Next is the state after the decision when the handler reports o.
func (d Decision) Next(o fsm.Outcome) fsm.State {
	if int(o) >= len(d.Targets) {
		return InvalidState
	}
	return d.Targets[o]
}

// engineNext is the state the session engine moves to: the handler's outcome
// for execute, and Next(OutcomeOK) for every other action, as the fsm package
// documents.
func (d Decision) engineNext(o fsm.Outcome) fsm.State {
	if d.Action == fsm.ActionExecute {
		return d.Next(o)
	}
	return d.Next(fsm.OutcomeOK)
}

// To returns the targets of a decision that moves to s whatever the outcome.
func To(s fsm.State) [fsm.NumOutcomes]fsm.State {
	var t [fsm.NumOutcomes]fsm.State
	for i := range t {
		t[i] = s
	}
	return t
}

// FromFSM converts a generated decision.
func FromFSM(d fsm.Decision) Decision {
	out := Decision{Action: d.Action, Reply: d.Reply, Pending: d.Pending, Quirk: d.Quirk, Rule: d.Rule}
	for o := range out.Targets {
		out.Targets[o] = d.Next(fsm.Outcome(o))
		out.Set[o], out.Clear[o] = d.Effect(fsm.Outcome(o))
	}
	return out
}

// FSM is the generated machine, fsm.Step.
type FSM struct{}

// Step calls fsm.Step.
func (FSM) Step(s fsm.State, f fsm.Facts, in fsm.Input, m fsm.Modes) Decision {
	return FromFSM(fsm.Step(s, f, in, m))
}

// TableMachine interprets the decision table of a gen.Model, the generator's
// in-memory form of a spec. It lets tests run the properties against a spec
// edited in memory without generating code.
type TableMachine struct {
	model *gen.Model
	// The model's indices mapped to the generated package's values.
	states  []fsm.State
	inputs  map[fsm.Input]int
	stateIx map[fsm.State]int
	resp    []fsm.Response
	quirks  []fsm.Quirk
	rules   []fsm.Rule
	// facts maps the model's fact i (bit i of a valuation) to fsm's.
	facts []fsm.Facts
}

// UnknownRule stands for a rule the generated package does not declare.
const UnknownRule = fsm.Rule(fsm.NumRules)

// NewTableMachine maps the model's names onto the generated package's enums.
// It fails when the model declares a state, input, response or quirk the
// package does not know; rules it does not know become UnknownRule.
func NewTableMachine(m *gen.Model) (*TableMachine, error) {
	t := &TableMachine{model: m, inputs: map[fsm.Input]int{}, stateIx: map[fsm.State]int{}}
	states := nameIndex(fsm.NumStates, fsm.State.String)
	inputs := nameIndex(fsm.NumInputs, fsm.Input.String)
	responses := nameIndex(enumCount(fsm.Response.String), fsm.Response.String)
	quirks := nameIndex(fsm.NumQuirks, fsm.Quirk.String)
	rules := nameIndex(fsm.NumRules, fsm.Rule.String)
	for i, s := range m.States {
		v, ok := states[s.Name]
		if !ok {
			return nil, fmt.Errorf("model state %q is not in package fsm", s.Name)
		}
		t.states = append(t.states, v)
		t.stateIx[v] = i
	}
	for i, in := range m.Inputs {
		v, ok := inputs[in.Name]
		if !ok {
			return nil, fmt.Errorf("model input %q is not in package fsm", in.Name)
		}
		t.inputs[v] = i
	}
	for _, r := range m.Responses {
		v, ok := responses[r.Name]
		if !ok {
			return nil, fmt.Errorf("model response %q is not in package fsm", r.Name)
		}
		t.resp = append(t.resp, v)
	}
	for _, q := range m.Quirks {
		v, ok := quirks[q.Name]
		if !ok {
			return nil, fmt.Errorf("model quirk %q is not in package fsm", q.Name)
		}
		t.quirks = append(t.quirks, v)
	}
	for _, f := range m.Facts {
		v, ok := fsm.ParseFact(f.Name)
		if !ok {
			return nil, fmt.Errorf("model fact %q is not in package fsm", f.Name)
		}
		t.facts = append(t.facts, v)
	}
	for _, r := range m.Rules {
		v, ok := rules[r.ID]
		if !ok {
			// A rule added by an edited spec: decisions name it with a
			// value past the package's rules, which the reference never
			// uses.
			v = UnknownRule
		}
		t.rules = append(t.rules, v)
	}
	return t, nil
}

// Step looks the decision up in the model's table under the facts f. The
// mode is the mode of the quirk of the cell's rule, as in the generated
// Step.
func (t *TableMachine) Step(s fsm.State, f fsm.Facts, in fsm.Input, m fsm.Modes) Decision {
	si, ok := t.stateIx[s]
	ii, ok2 := t.inputs[in]
	if !ok || !ok2 {
		panic(fmt.Sprintf("TableMachine: %v × %v is not in the model", s, in))
	}
	v := 0
	for i, bit := range t.facts {
		if f.Has(bit) {
			v |= 1 << i
		}
	}
	cell := t.model.Table[si][v][ii]
	rule := t.model.Rules[cell[0].Rule]
	gd := cell[m.Of(t.quirks[rule.Quirk])]
	d := Decision{
		Action:  fsm.Action(gd.Action),
		Reply:   t.resp[gd.Reply],
		Pending: t.resp[gd.Pending],
		Quirk:   t.quirks[gd.Quirk],
		Rule:    t.rules[gd.Rule],
	}
	for o := range d.Targets {
		if o < len(gd.Next) && gd.Next[o] >= 0 && gd.Next[o] < len(t.states) {
			d.Targets[o] = t.states[gd.Next[o]]
		} else {
			d.Targets[o] = InvalidState
		}
		if o < len(gd.Effects) {
			for i, bit := range t.facts {
				if gd.Effects[o].Set&(1<<i) != 0 {
					d.Set[o] |= bit
				}
				if gd.Effects[o].Clear&(1<<i) != 0 {
					d.Clear[o] |= bit
				}
			}
		}
	}
	return d
}

// nameIndex maps the names of the first n values of an enum to the values.
func nameIndex[T ~uint8](n int, name func(T) string) map[string]T {
	out := make(map[string]T, n)
	for i := 0; i < n; i++ {
		out[name(T(i))] = T(i)
	}
	return out
}

// enumCount counts the declared values of a generated enum that has no count
// constant (responses, actions, reads, input kinds): String names declared
// values and falls back to "Type(n)" after the last one. It stops at 256, the
// range of the uint8 the enums use.
func enumCount[T ~uint8](name func(T) string) int {
	for i := 0; i < 256; i++ {
		if strings.HasSuffix(name(T(i)), ")") {
			return i
		}
	}
	return 256
}
