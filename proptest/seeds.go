package proptest

import "github.com/imapfsm/imapfsm/fsm"

// PathTo returns a shortest sequence of steps that leads the spec's machine
// from the initial state to target under modes, and whether there is one.
func (r *Reference) PathTo(target fsm.State, modes fsm.Modes) ([]Step, bool) {
	paths := map[fsm.State][]Step{r.Initial(): {}}
	queue := []fsm.State{r.Initial()}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		if s == target {
			return paths[s], true
		}
		for _, in := range r.Inputs() {
			for _, o := range r.Outcomes(in) {
				st := Step{Input: in, Outcome: o}
				next := advance(r, s, st, modes)
				if _, ok := paths[next]; ok || !next.Valid() {
					continue
				}
				paths[next] = append(append([]Step(nil), paths[s]...), st)
				queue = append(queue, next)
			}
		}
	}
	return nil, false
}

// CoveringSequence returns a shortest sequence that ends by exercising t:
// the path to t's state followed by t's input, in lenient mode with t's quirk
// in t's mode.
func (r *Reference) CoveringSequence(t Transition) (Sequence, bool) {
	modes := fsm.NewModes(fsm.Lenient)
	if t.Quirk != fsm.QuirkNone {
		modes = modes.With(t.Quirk, t.Mode)
	}
	path, ok := r.PathTo(t.State, modes)
	if !ok {
		return Sequence{}, false
	}
	last := Step{Input: t.Input, Outcome: r.DefaultOutcome(t.Input)}
	if t.Handler {
		last.Outcome = t.Outcome
	}
	return NewSequence(modes, append(path, last)), true
}
