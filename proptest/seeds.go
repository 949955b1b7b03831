package proptest

import "github.com/imapfsm/imapfsm/fsm"

// PathTo returns a shortest sequence of steps that leads the spec's machine
// under modes from the initial state, with one of the facts in openings
// (without any: DefaultFacts, then every opening valuation), to target
// with facts that satisfy want; the facts it opens with; and whether there
// is one. Among equally short paths, those from an earlier opening come
// first.
func (r *Reference) PathTo(target fsm.State, want func(fsm.Facts) bool, modes fsm.Modes, openings ...fsm.Facts) ([]Step, fsm.Facts, bool) {
	type node struct {
		s fsm.State
		f fsm.Facts
	}
	type path struct {
		steps   []Step
		opening fsm.Facts
	}
	paths := map[node]path{}
	var queue []node
	if len(openings) == 0 {
		openings = append([]fsm.Facts{DefaultFacts}, r.Opening()...)
	}
	for _, f := range openings {
		n := node{r.Initial(), f}
		if _, ok := paths[n]; !ok {
			paths[n] = path{opening: f}
			queue = append(queue, n)
		}
	}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if n.s == target && want(n.f) {
			return paths[n].steps, paths[n].opening, true
		}
		for _, in := range r.Inputs() {
			for _, o := range r.Outcomes(in) {
				st := Step{Input: in, Outcome: o}
				s, f := advance(r, n.s, n.f, st, modes)
				next := node{s, f}
				if _, ok := paths[next]; ok || !s.Valid() {
					continue
				}
				paths[next] = path{steps: append(append([]Step(nil), paths[n].steps...), st), opening: paths[n].opening}
				queue = append(queue, next)
			}
		}
	}
	return nil, 0, false
}

// CoveringSequence returns a shortest sequence that ends by exercising t:
// the path to t's state, with facts under which the spec decides as t says,
// followed by t's input, in lenient mode with t's quirk in t's mode.
func (r *Reference) CoveringSequence(t Transition) (Sequence, bool) {
	modes := fsm.NewModes(fsm.Lenient)
	if t.Quirk != fsm.QuirkNone {
		modes = modes.With(t.Quirk, t.Mode)
	}
	last := Step{Input: t.Input, Outcome: r.DefaultOutcome(t.Input)}
	if t.Handler {
		last.Outcome = t.Outcome
	}
	path, opening, ok := r.PathTo(t.State, func(f fsm.Facts) bool {
		return r.TransitionOf(t.State, f, t.Input, modes, last.Outcome) == t
	}, modes)
	if !ok {
		return Sequence{}, false
	}
	seq := NewSequence(modes, append(path, last))
	seq.Facts = opening
	return seq, true
}
