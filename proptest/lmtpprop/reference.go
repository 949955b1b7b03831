package lmtpprop

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/imapfsm/imapfsm/proptest/internal/oracle"
	"github.com/imapfsm/imapfsm/server/lmtp/lmtpfsm"
)

// SpecPath is the LMTP spec's path relative to this package's directory.
const SpecPath = "../../spec/lmtp.yaml"

// Decision mirrors lmtpfsm.Decision with its next states exposed, so that
// tests can build and alter decisions.
type Decision struct {
	Action  lmtpfsm.Action
	Reply   lmtpfsm.Response
	Pending lmtpfsm.Response
	Quirk   lmtpfsm.Quirk
	Rule    lmtpfsm.Rule
	// Targets is the next state per outcome.
	Targets [lmtpfsm.NumOutcomes]lmtpfsm.State
}

// Next is the state after the decision when the handler reports o.
func (d Decision) Next(o lmtpfsm.Outcome) lmtpfsm.State {
	if int(o) >= len(d.Targets) {
		return InvalidState
	}
	return d.Targets[o]
}

// engineNext is the state the session moves to: the handler's outcome for
// execute, Next(OutcomeOK) otherwise.
func (d Decision) engineNext(o lmtpfsm.Outcome) lmtpfsm.State {
	if d.Action == lmtpfsm.ActionExecute {
		return d.Next(o)
	}
	return d.Next(lmtpfsm.OutcomeOK)
}

// InvalidState is a state no spec declares; a broken machine may return it.
const InvalidState = lmtpfsm.State(lmtpfsm.NumStates)

// To returns the targets of a decision that moves to s whatever the outcome.
func To(s lmtpfsm.State) [lmtpfsm.NumOutcomes]lmtpfsm.State {
	var t [lmtpfsm.NumOutcomes]lmtpfsm.State
	for i := range t {
		t[i] = s
	}
	return t
}

// Machine is the LMTP machine under test: FSM (the generated package), the
// Reference (the spec as the oracle reads it) or a broken machine built by
// a test with MachineFunc.
type Machine interface {
	Step(s lmtpfsm.State, in lmtpfsm.Input, m lmtpfsm.Modes) Decision
}

// MachineFunc adapts a function to Machine.
type MachineFunc func(s lmtpfsm.State, in lmtpfsm.Input, m lmtpfsm.Modes) Decision

// Step calls f.
func (f MachineFunc) Step(s lmtpfsm.State, in lmtpfsm.Input, m lmtpfsm.Modes) Decision {
	return f(s, in, m)
}

// FSM is the generated machine, lmtpfsm.Step.
type FSM struct{}

// Step calls lmtpfsm.Step.
func (FSM) Step(s lmtpfsm.State, in lmtpfsm.Input, m lmtpfsm.Modes) Decision {
	d := lmtpfsm.Step(s, in, m)
	out := Decision{Action: d.Action, Reply: d.Reply, Pending: d.Pending, Quirk: d.Quirk, Rule: d.Rule}
	for o := range out.Targets {
		out.Targets[o] = d.Next(lmtpfsm.Outcome(o))
	}
	return out
}

// Reference is spec/lmtp.yaml as the oracle reads it, in lmtpfsm's
// vocabulary. Nothing in it comes from the generator's tables.
type Reference struct {
	spec     *oracle.Spec
	initial  lmtpfsm.State
	held     [lmtpfsm.NumStates]bool
	terminal [lmtpfsm.NumStates]bool
	reads    [lmtpfsm.NumStates]string
	kinds    [lmtpfsm.NumInputs]string
	outcomes [lmtpfsm.NumInputs][]lmtpfsm.Outcome
	cells    [lmtpfsm.NumStates][lmtpfsm.NumInputs]refCell
	quirkDef [lmtpfsm.NumQuirks]string
}

type refCell struct {
	quirk  lmtpfsm.Quirk
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

func nameIndex[T ~uint8](n int, name func(T) string) map[string]T {
	out := make(map[string]T, n)
	for i := 0; i < n; i++ {
		out[name(T(i))] = T(i)
	}
	return out
}

// NewReference reads a spec with the oracle and maps it onto lmtpfsm. It
// fails when the two do not declare the same names (the package is stale,
// or the generator drops or invents a name).
func NewReference(data []byte) (*Reference, error) {
	spec, err := oracle.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("oracle: %w", err)
	}
	states := nameIndex(lmtpfsm.NumStates, lmtpfsm.State.String)
	inputs := nameIndex(lmtpfsm.NumInputs, lmtpfsm.Input.String)
	outcomes := nameIndex(lmtpfsm.NumOutcomes, lmtpfsm.Outcome.String)
	responses := nameIndex(lmtpfsm.NumResponses, lmtpfsm.Response.String)
	quirks := nameIndex(lmtpfsm.NumQuirks, lmtpfsm.Quirk.String)
	rules := nameIndex(lmtpfsm.NumRules, lmtpfsm.Rule.String)
	actions := nameIndex(lmtpfsm.NumActions, lmtpfsm.Action.String)
	var errs []error
	need := func(what string, names []string, known func(string) bool, count int) {
		for _, n := range names {
			if !known(n) {
				errs = append(errs, fmt.Errorf("the spec declares %s %q, package lmtpfsm does not (run make generate)", what, n))
			}
		}
		if len(names) != count {
			errs = append(errs, fmt.Errorf("the spec declares %d %ss, package lmtpfsm %d (run make generate)", len(names), what, count))
		}
	}
	has := func(m any) func(string) bool {
		return func(n string) bool {
			switch m := m.(type) {
			case map[string]lmtpfsm.State:
				_, ok := m[n]
				return ok
			case map[string]lmtpfsm.Input:
				_, ok := m[n]
				return ok
			case map[string]lmtpfsm.Response:
				_, ok := m[n]
				return ok
			case map[string]lmtpfsm.Quirk:
				_, ok := m[n]
				return ok
			case map[string]lmtpfsm.Rule:
				_, ok := m[n]
				return ok
			}
			return false
		}
	}
	var sn, in, rn, qn, un []string
	for _, s := range spec.States {
		sn = append(sn, s.Name)
	}
	for _, i := range spec.Inputs {
		in = append(in, i.Name)
	}
	for _, r := range spec.Responses {
		rn = append(rn, r.Name)
	}
	for _, q := range spec.Quirks {
		qn = append(qn, q.Name)
	}
	for _, r := range spec.Rules {
		un = append(un, r.ID)
	}
	need("state", sn, has(states), lmtpfsm.NumStates)
	need("input", in, has(inputs), lmtpfsm.NumInputs)
	need("response", rn, has(responses), lmtpfsm.NumResponses-1)
	need("quirk", qn, has(quirks), lmtpfsm.NumQuirks-1)
	need("rule", un, has(rules), lmtpfsm.NumRules)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	r := &Reference{spec: spec, initial: states[spec.Initial]}
	for _, s := range spec.States {
		v := states[s.Name]
		r.held[v], r.terminal[v], r.reads[v] = s.HoldsTag, s.Terminal, s.Reads
	}
	for _, i := range spec.Inputs {
		v := inputs[i.Name]
		r.kinds[v] = i.Kind
		for _, o := range i.Outcomes {
			r.outcomes[v] = append(r.outcomes[v], outcomes[o])
		}
		slices.Sort(r.outcomes[v])
	}
	for _, q := range spec.Quirks {
		r.quirkDef[quirks[q.Name]] = q.Default
	}
	resp := func(n string) lmtpfsm.Response {
		if n == "" {
			return lmtpfsm.ResponseNone
		}
		return responses[n]
	}
	quirk := func(n string) lmtpfsm.Quirk {
		if n == "" {
			return lmtpfsm.QuirkNone
		}
		return quirks[n]
	}
	for _, s := range spec.States {
		for _, i := range spec.Inputs {
			c, err := spec.Cell(s.Name, i.Name)
			if err != nil {
				return nil, err
			}
			rc := refCell{quirk: quirk(c.Quirk), split: c.Split()}
			for m, od := range c.ByMode {
				act, ok := actions[od.Action]
				if !ok {
					return nil, fmt.Errorf("rule %q: action %q is not in package lmtpfsm", od.Rule, od.Action)
				}
				d := Decision{Action: act, Reply: resp(od.Reply), Pending: resp(od.Pending), Quirk: quirk(od.Quirk), Rule: rules[od.Rule], Targets: To(states[s.Name])}
				for o, t := range od.Next {
					d.Targets[outcomes[o]] = states[t]
				}
				rc.byMode[m] = d
			}
			r.cells[states[s.Name]][inputs[i.Name]] = rc
		}
	}
	return r, nil
}

// Step returns the decision the spec text gives for s × in under m.
func (r *Reference) Step(s lmtpfsm.State, in lmtpfsm.Input, m lmtpfsm.Modes) Decision {
	c := &r.cells[s][in]
	return c.byMode[m.Of(c.quirk)]
}

// Initial is the spec's initial state.
func (r *Reference) Initial() lmtpfsm.State { return r.initial }

// Held reports whether the spec says s holds the DATA command.
func (r *Reference) Held(s lmtpfsm.State) bool { return r.held[s] }

// Terminal reports whether the spec says s is terminal.
func (r *Reference) Terminal(s lmtpfsm.State) bool { return r.terminal[s] }

// ReadsCommands reports whether the spec says s reads command lines.
func (r *Reference) ReadsCommands(s lmtpfsm.State) bool { return r.reads[s] == "command" }

// ReadsData reports whether the spec says s reads message data.
func (r *Reference) ReadsData(s lmtpfsm.State) bool { return r.reads[s] == "data" }

// Kind is the spec's kind of input in.
func (r *Reference) Kind(in lmtpfsm.Input) string { return r.kinds[in] }

// Outcomes lists the outcomes a handler of in can report.
func (r *Reference) Outcomes(in lmtpfsm.Input) []lmtpfsm.Outcome { return r.outcomes[in] }

// QuirkDefault is the quirk's own default mode in the spec, or "".
func (r *Reference) QuirkDefault(q lmtpfsm.Quirk) string { return r.quirkDef[q] }

// Split reports whether the spec decides s × in differently per mode, and
// the quirk whose mode selects the decision.
func (r *Reference) Split(s lmtpfsm.State, in lmtpfsm.Input) (lmtpfsm.Quirk, bool) {
	c := &r.cells[s][in]
	return c.quirk, c.split
}

// isLine reports whether in is a line a state reading commands answers: a
// command, pipelined DATA or another line.
func (r *Reference) isLine(in lmtpfsm.Input) bool {
	k := r.kinds[in]
	return k == "command" || k == "pipelined" || k == "line"
}
