package proptest

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/imapfsm/imapfsm/fsm"
	"github.com/imapfsm/imapfsm/proptest/internal/oracle"
)

// SpecPath is the spec's path relative to this package's directory, where
// `go test` runs.
const SpecPath = "../spec/imap.yaml"

// Reference is the spec as the oracle reads it, in the generated package's
// vocabulary. It is a Machine, and it answers the questions the properties
// ask about states and inputs (how a state reads lines, whether it holds a
// tag, where IDLE returns to) from the spec text, not from the generated
// tables.
type Reference struct {
	spec    *oracle.Spec
	initial fsm.State
	states  [fsm.NumStates]refState
	inputs  [fsm.NumInputs]refInput
	// cells[facts][state][input]: the decision under each valuation of
	// the facts.
	cells [1 << fsm.NumFacts][fsm.NumStates][fsm.NumInputs]refCell
	// reads[state][input] are the facts the rules deciding the cell read.
	reads [fsm.NumStates][fsm.NumInputs]fsm.Facts
	// opening lists the valuations a connection can open with.
	opening []fsm.Facts
	// reachable[state] lists the valuations of the facts the state is
	// reached with, from the opening ones.
	reachable [fsm.NumStates][]fsm.Facts
	// byWire maps a command's wire name to its input; catchAll is the
	// command input without a wire name (unknown commands).
	byWire   map[string]fsm.Input
	catchAll fsm.Input
	byName   map[string]fsm.Input
}

type refState struct {
	name     string
	reads    fsm.Reads
	holdsTag bool
	terminal bool
	origin   fsm.State
}

type refInput struct {
	name     string
	kind     fsm.InputKind
	wire     string
	tagged   bool
	outcomes []fsm.Outcome
}

type refCell struct {
	quirk  fsm.Quirk
	split  bool
	byMode [2]Decision
}

// LoadReference reads the spec at path.
func LoadReference(path string) (*Reference, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return NewReference(data)
}

// NewReference reads a spec with the oracle and maps it onto the generated
// package. It fails when the two do not declare the same states, inputs,
// outcomes, responses, quirks and rules: the package is stale, or the
// generator drops or invents a name.
func NewReference(data []byte) (*Reference, error) {
	spec, err := oracle.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("oracle: %w", err)
	}
	var errs []error
	vocab := func(what string, specNames []string, fsmNames map[string]int) {
		for _, n := range specNames {
			if _, ok := fsmNames[n]; !ok {
				errs = append(errs, fmt.Errorf("the spec declares %s %q, package fsm does not (run make generate)", what, n))
			}
		}
		for n := range fsmNames {
			if !slices.Contains(specNames, n) {
				errs = append(errs, fmt.Errorf("package fsm declares %s %q, the spec does not (run make generate)", what, n))
			}
		}
	}
	states := nameIndex(fsm.NumStates, fsm.State.String)
	inputs := nameIndex(fsm.NumInputs, fsm.Input.String)
	outcomes := nameIndex(fsm.NumOutcomes, fsm.Outcome.String)
	responses := nameIndex(enumCount(fsm.Response.String), fsm.Response.String)
	quirks := nameIndex(fsm.NumQuirks, fsm.Quirk.String)
	rules := nameIndex(fsm.NumRules, fsm.Rule.String)
	actions := nameIndex(enumCount(fsm.Action.String), fsm.Action.String)
	reads := nameIndex(enumCount(fsm.Reads.String), fsm.Reads.String)
	kinds := nameIndex(enumCount(fsm.InputKind.String), fsm.InputKind.String)

	vocab("state", names(spec.States, func(s oracle.State) string { return s.Name }), widen(states))
	vocab("input", names(spec.Inputs, func(i oracle.Input) string { return i.Name }), widen(inputs))
	vocab("outcome", spec.Outcomes, widen(outcomes))
	vocab("response", append([]string{"none"}, names(spec.Responses, func(r oracle.Response) string { return r.Name })...), widen(responses))
	vocab("quirk", append([]string{"none"}, names(spec.Quirks, func(q oracle.Quirk) string { return q.Name })...), widen(quirks))
	vocab("rule", names(spec.Rules, func(r oracle.Rule) string { return r.ID }), widen(rules))
	vocab("action", oracle.Actions, widen(actions))
	facts := map[string]fsm.Facts{}
	for i := 0; i < fsm.NumFacts; i++ {
		f := fsm.Facts(1) << i
		facts[f.String()] = f
	}
	vocab("fact", names(spec.Facts, func(f oracle.Fact) string { return f.Name }), widen(facts))
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	r := &Reference{spec: spec, initial: states[spec.Initial], byWire: map[string]fsm.Input{}, byName: map[string]fsm.Input{}}
	for _, st := range spec.States {
		rs := refState{name: st.Name, reads: reads[st.Reads], holdsTag: st.HoldsTag, terminal: st.Terminal, origin: states[st.Name]}
		if st.Origin != "" {
			rs.origin = states[st.Origin]
		}
		r.states[states[st.Name]] = rs
	}
	for _, in := range spec.Inputs {
		ri := refInput{name: in.Name, kind: kinds[in.Kind], wire: in.Wire, tagged: in.Tagged}
		for _, o := range in.Outcomes {
			ri.outcomes = append(ri.outcomes, outcomes[o])
		}
		slices.Sort(ri.outcomes)
		v := inputs[in.Name]
		r.inputs[v] = ri
		r.byName[in.Name] = v
		if in.Kind == "command" {
			if in.Wire == "" {
				r.catchAll = v
			} else {
				r.byWire[in.Wire] = v
			}
		}
	}
	resp := func(name string) fsm.Response {
		if name == "" {
			return fsm.ResponseNone
		}
		return responses[name]
	}
	quirk := func(name string) fsm.Quirk {
		if name == "" {
			return fsm.QuirkNone
		}
		return quirks[name]
	}
	valuation := func(f oracle.Facts) fsm.Facts {
		var out fsm.Facts
		for name, v := range f {
			if v {
				out |= facts[name]
			}
		}
		return out
	}
	for _, f := range spec.OpeningValuations() {
		r.opening = append(r.opening, valuation(f))
	}
	for _, f := range spec.Valuations() {
		fv := valuation(f)
		for _, st := range spec.States {
			for _, in := range spec.Inputs {
				c, err := spec.CellUnder(st.Name, in.Name, f)
				if err != nil {
					return nil, err
				}
				rc := refCell{quirk: quirk(c.Quirk), split: c.Split()}
				for m, od := range c.ByMode {
					d := Decision{
						Action:  actions[od.Action],
						Reply:   resp(od.Reply),
						Pending: resp(od.Pending),
						Quirk:   quirk(od.Quirk),
						Rule:    rules[od.Rule],
						Targets: To(states[st.Name]),
					}
					for o, target := range od.Next {
						d.Targets[outcomes[o]] = states[target]
					}
					for o, set := range od.Effects {
						for name, v := range set {
							if v {
								d.Set[outcomes[o]] |= facts[name]
							} else {
								d.Clear[outcomes[o]] |= facts[name]
							}
						}
					}
					rc.byMode[m] = d
				}
				r.cells[fv][states[st.Name]][inputs[in.Name]] = rc
			}
		}
	}
	for _, st := range spec.States {
		for _, in := range spec.Inputs {
			for _, name := range spec.FactsRead(st.Name, in.Name) {
				r.reads[states[st.Name]][inputs[in.Name]] |= facts[name]
			}
		}
	}
	r.findReachable()
	return r, nil
}

// findReachable walks the spec's machine over (state, facts) from the
// initial state with every opening valuation, in both modes of every cell.
func (r *Reference) findReachable() {
	type node struct {
		s fsm.State
		f fsm.Facts
	}
	seen := map[node]bool{}
	var queue []node
	for _, f := range r.opening {
		n := node{r.initial, f}
		seen[n] = true
		queue = append(queue, n)
	}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		r.reachable[n.s] = append(r.reachable[n.s], n.f)
		for _, in := range r.Inputs() {
			for _, m := range []fsm.Modes{fsm.NewModes(fsm.Lenient), fsm.NewModes(fsm.Strict)} {
				d := r.Step(n.s, n.f, in, m)
				for _, o := range r.Outcomes(in) {
					next := node{d.engineNext(o), d.engineFacts(n.f, o)}
					if !seen[next] {
						seen[next] = true
						queue = append(queue, next)
					}
				}
			}
		}
	}
	for s := range r.reachable {
		slices.Sort(r.reachable[s])
	}
}

func names[T any](xs []T, name func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = name(x)
	}
	return out
}

func widen[T ~uint8](m map[string]T) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = int(v)
	}
	return out
}

// Spec returns the oracle's reading of the spec.
func (r *Reference) Spec() *oracle.Spec { return r.spec }

// Initial is the spec's initial state.
func (r *Reference) Initial() fsm.State { return r.initial }

// Step returns the decision the spec text gives for s × in with facts f
// under m. For execute, Targets of outcomes the input cannot produce are
// unspecified.
func (r *Reference) Step(s fsm.State, f fsm.Facts, in fsm.Input, m fsm.Modes) Decision {
	c := &r.cells[f&allFacts][s][in]
	return c.byMode[m.Of(c.quirk)]
}

// allFacts has every declared fact.
const allFacts = fsm.Facts(1<<fsm.NumFacts - 1)

// Split reports whether the spec decides s × in with facts f differently
// per mode, and which quirk's mode selects the decision.
func (r *Reference) Split(s fsm.State, f fsm.Facts, in fsm.Input) (fsm.Quirk, bool) {
	c := &r.cells[f&allFacts][s][in]
	return c.quirk, c.split
}

// FactsRead are the facts the rules deciding s × in read; the cell depends
// on the facts exactly when they are not empty.
func (r *Reference) FactsRead(s fsm.State, in fsm.Input) fsm.Facts { return r.reads[s][in] }

// Opening lists the valuations of the facts a connection can open with:
// every value of the facts the engine gives, the others false.
func (r *Reference) Opening() []fsm.Facts { return r.opening }

// ReachableFacts lists the valuations of the facts under which the spec's
// machine reaches state s from the initial state and an opening valuation.
func (r *Reference) ReachableFacts(s fsm.State) []fsm.Facts { return r.reachable[s] }

// Reads says how the spec has s classify client lines.
func (r *Reference) Reads(s fsm.State) fsm.Reads { return r.states[s].reads }

// HoldsTag reports whether the spec has s hold a command's tag.
func (r *Reference) HoldsTag(s fsm.State) bool { return r.states[s].holdsTag }

// Terminal reports whether the spec marks s terminal.
func (r *Reference) Terminal(s fsm.State) bool { return r.states[s].terminal }

// Origin is the state IDLE state s returns to; s itself for other states.
func (r *Reference) Origin(s fsm.State) fsm.State { return r.states[s].origin }

// Kind is the spec's kind of input in.
func (r *Reference) Kind(in fsm.Input) fsm.InputKind { return r.inputs[in].kind }

// Wire is the command name of in, or "".
func (r *Reference) Wire(in fsm.Input) string { return r.inputs[in].wire }

// Outcomes lists what a handler of in can report, in outcome order.
func (r *Reference) Outcomes(in fsm.Input) []fsm.Outcome { return r.inputs[in].outcomes }

// Produces reports whether a handler of in can report o.
func (r *Reference) Produces(in fsm.Input, o fsm.Outcome) bool {
	return slices.Contains(r.inputs[in].outcomes, o)
}

// DefaultOutcome is the outcome a sequence file means when a step names none:
// ok when the handler can report it, else continue (IDLE), else the first.
func (r *Reference) DefaultOutcome(in fsm.Input) fsm.Outcome {
	for _, o := range []fsm.Outcome{fsm.OutcomeOK, fsm.OutcomeContinue} {
		if r.Produces(in, o) {
			return o
		}
	}
	return r.inputs[in].outcomes[0]
}

// Tagged reports whether in is a tagged line (a command, or a line input the
// spec declares tagged), which must get exactly one completion.
func (r *Reference) Tagged(in fsm.Input) bool { return r.inputs[in].tagged }

// InputByName looks an input up by its spec name.
func (r *Reference) InputByName(name string) (fsm.Input, bool) {
	in, ok := r.byName[name]
	return in, ok
}

// CommandByWire classifies a command name as the spec declares it ("UID
// FETCH"); names the spec does not declare are the catch-all input.
func (r *Reference) CommandByWire(name string) fsm.Input {
	if in, ok := r.byWire[strings.ToUpper(name)]; ok {
		return in
	}
	return r.catchAll
}

// States lists every state, in fsm order.
func (r *Reference) States() []fsm.State {
	out := make([]fsm.State, fsm.NumStates)
	for i := range out {
		out[i] = fsm.State(i)
	}
	return out
}

// Inputs lists every input, in fsm order.
func (r *Reference) Inputs() []fsm.Input {
	out := make([]fsm.Input, fsm.NumInputs)
	for i := range out {
		out[i] = fsm.Input(i)
	}
	return out
}
