package proptest

import (
	"fmt"
	"maps"
	"sync"

	"github.com/imapfsm/imapfsm/fsm"
)

// Transition is one distinct thing the spec can do: a state × input, by one
// rule when the cell's rules have conditions on the session facts, in one
// mode when the spec decides the cell differently per mode, and with one
// handler outcome when the decision runs the handler. Outcomes of decisions
// that run no handler make no difference, so they are one transition. Only
// the (state, facts) the machine can reach count.
type Transition struct {
	State fsm.State
	Input fsm.Input
	// Rule is the rule that decides when ByFacts is set: the cell depends
	// on the facts, and each of its rules is a transition of its own.
	ByFacts bool
	Rule    fsm.Rule
	// Quirk is the quirk whose Mode selects the decision, or QuirkNone when
	// both modes decide the same.
	Quirk fsm.Quirk
	Mode  fsm.Mode
	// Handler is set when the decision runs the handler; Outcome is then the
	// outcome it reports.
	Handler bool
	Outcome fsm.Outcome
}

// String formats the transition, e.g.
// "idle-selected × status [idle-tagged-command strict]" or
// "selected × select → no".
func (t Transition) String() string {
	s := fmt.Sprintf("%s × %s", t.State, t.Input)
	if t.ByFacts {
		s += " (" + t.Rule.String() + ")"
	}
	if t.Quirk != fsm.QuirkNone {
		s += fmt.Sprintf(" [%s %s]", t.Quirk, t.Mode)
	}
	if t.Handler {
		s += " → " + t.Outcome.String()
	}
	return s
}

// TransitionOf classifies what the spec does for state × in with facts f
// under modes when the handler, if it runs, reports o.
func (r *Reference) TransitionOf(s fsm.State, f fsm.Facts, in fsm.Input, modes fsm.Modes, o fsm.Outcome) Transition {
	t := Transition{State: s, Input: in}
	q, split := r.Split(s, f, in)
	if split {
		t.Quirk, t.Mode = q, modes.Of(q)
	}
	d := r.Step(s, f, in, modes)
	if r.FactsRead(s, in) != 0 {
		t.ByFacts, t.Rule = true, d.Rule
	}
	if d.Action == fsm.ActionExecute {
		t.Handler, t.Outcome = true, o
	}
	return t
}

// Transitions lists every transition of the spec under the facts each
// state is reached with, in state, input, facts, mode and outcome order.
func (r *Reference) Transitions() []Transition {
	var out []Transition
	seen := map[Transition]bool{}
	add := func(t Transition) {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	for _, s := range r.States() {
		for _, in := range r.Inputs() {
			for _, f := range r.ReachableFacts(s) {
				q, split := r.Split(s, f, in)
				modes := []fsm.Modes{fsm.NewModes(fsm.Lenient)}
				if split {
					modes = append(modes, fsm.NewModes(fsm.Lenient).With(q, fsm.Strict))
				}
				for _, m := range modes {
					if r.Step(s, f, in, m).Action != fsm.ActionExecute {
						add(r.TransitionOf(s, f, in, m, r.DefaultOutcome(in)))
						continue
					}
					for _, o := range r.Outcomes(in) {
						add(r.TransitionOf(s, f, in, m, o))
					}
				}
			}
		}
	}
	return out
}

// Coverage records which transitions of the spec the decisions of sessions
// exercised. It is safe for concurrent use.
type Coverage struct {
	ref  *Reference
	all  []Transition
	mu   sync.Mutex
	hits map[Transition]int
}

// NewCoverage returns an empty recorder for the transitions of ref.
func NewCoverage(ref *Reference) *Coverage {
	return &Coverage{ref: ref, all: ref.Transitions(), hits: map[Transition]int{}}
}

// Record notes that a decision was made for state × in with facts f under
// modes, with handler outcome o.
func (c *Coverage) Record(s fsm.State, f fsm.Facts, in fsm.Input, modes fsm.Modes, o fsm.Outcome) {
	t := c.ref.TransitionOf(s, f, in, modes, o)
	c.mu.Lock()
	c.hits[t]++
	c.mu.Unlock()
}

// Covered returns how many transitions of the spec were exercised, and how
// many there are.
func (c *Coverage) Covered() (covered, total int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.all {
		if c.hits[t] > 0 {
			covered++
		}
	}
	return covered, len(c.all)
}

// Percent is the covered share of the transitions.
func (c *Coverage) Percent() float64 {
	n, total := c.Covered()
	if total == 0 {
		return 100
	}
	return 100 * float64(n) / float64(total)
}

// Missing lists the transitions not exercised yet, in spec order.
func (c *Coverage) Missing() []Transition {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Transition
	for _, t := range c.all {
		if c.hits[t] == 0 {
			out = append(out, t)
		}
	}
	return out
}

// Add counts the transitions o exercised as exercised here too.
func (c *Coverage) Add(o *Coverage) {
	o.mu.Lock()
	hits := maps.Clone(o.hits)
	o.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	for t, n := range hits {
		c.hits[t] += n
	}
}

// Hits returns how often t was exercised.
func (c *Coverage) Hits(t Transition) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits[t]
}

// Summary is a one-line report, e.g. "912/912 transitions (100.0%)".
func (c *Coverage) Summary() string {
	n, total := c.Covered()
	return fmt.Sprintf("%d/%d transitions (%.1f%%)", n, total, c.Percent())
}

// MissingByState counts the missing transitions per state, for a short
// report when coverage falls short.
func (c *Coverage) MissingByState() map[fsm.State]int {
	out := map[fsm.State]int{}
	for _, t := range c.Missing() {
		out[t.State]++
	}
	return out
}
