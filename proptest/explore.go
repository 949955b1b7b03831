package proptest

import (
	"fmt"

	"github.com/imapfsm/imapfsm/fsm"
)

// Exploration is the result of enumerating, breadth-first from the initial
// state with every facts a connection can open with, every reachable
// session node under one set of modes, and every input with every outcome
// its handler can report from each node.
type Exploration struct {
	Modes fsm.Modes
	// Nodes counts the reachable nodes: a state, the session's facts, and
	// whether a tag is held.
	Nodes int
	// Steps counts the (node, input, outcome) steps checked.
	Steps    int
	Findings []Finding
}

// Finding is a property violation found by exploration, with the shortest
// sequence that reproduces it.
type Finding struct {
	Violation Violation
	Sequence  Sequence
	Records   []Record
}

// maxFindings bounds the findings one exploration reports per property.
const maxFindings = 20

type node struct {
	state fsm.State
	facts fsm.Facts
	held  bool
}

// pathTo is a shortest sequence to a node: the facts it opens with and its
// steps.
type pathTo struct {
	opening fsm.Facts
	steps   []Step
}

type edge struct {
	to     node
	closed bool
}

// Explore checks the properties in checks on every step reachable under
// modes. Each step is checked by replaying the shortest path to its node in
// a fresh Session, so a finding's sequence is the shortest one known. With
// Liveness checked it then verifies that no reachable node is stranded.
// coverage may be nil.
func Explore(m Machine, ref *Reference, modes fsm.Modes, checks Properties, coverage *Coverage) *Exploration {
	x := &Exploration{Modes: modes}
	paths := map[node]pathTo{}
	var order []node
	for _, f := range ref.Opening() {
		start := node{state: ref.Initial(), facts: f}
		paths[start] = pathTo{opening: f}
		order = append(order, start)
	}
	edges := map[node][]edge{}
	reported := map[string]bool{}
	perProperty := map[Property]int{}
	for i := 0; i < len(order); i++ {
		n := order[i]
		path := paths[n]
		for _, in := range ref.Inputs() {
			for _, o := range ref.Outcomes(in) {
				s := NewSession(m, ref, modes, checks, coverage).WithFacts(path.opening)
				s.Run(path.steps)
				rec := s.Apply(Step{Input: in, Outcome: o})
				x.Steps++
				for _, v := range rec.Violations {
					key := fmt.Sprintf("%s|%s|%s", v.Property, n.state, in)
					if reported[key] || perProperty[v.Property] >= maxFindings {
						continue
					}
					reported[key] = true
					perProperty[v.Property]++
					x.Findings = append(x.Findings, Finding{Violation: v, Sequence: s.Sequence(), Records: s.Records()})
				}
				if rec.Skipped || s.broken {
					continue
				}
				to := node{state: s.State(), facts: s.Facts(), held: s.Held()}
				edges[n] = append(edges[n], edge{to: to, closed: rec.Closed})
				if _, ok := paths[to]; !ok {
					next := append(append([]Step(nil), path.steps...), Step{Input: in, Outcome: o})
					paths[to] = pathTo{opening: path.opening, steps: next}
					order = append(order, to)
				}
			}
		}
	}
	x.Nodes = len(order)
	if checks.Has(Liveness) {
		x.checkLiveness(m, ref, order, paths, edges)
	}
	return x
}

// checkLiveness reports every reachable live node from which no sequence of
// inputs leads back to a state that reads commands with no tag held without
// closing the connection, or from which no sequence ends the session.
func (x *Exploration) checkLiveness(m Machine, ref *Reference, order []node, paths map[node]pathTo, edges map[node][]edge) {
	stranded := 0
	for _, n := range order {
		if ref.Terminal(n.state) {
			continue
		}
		settles := reach(n, edges, false, func(v node) bool { return ref.Reads(v.state) == fsm.ReadsCommand && !v.held })
		ends := reach(n, edges, true, func(v node) bool { return ref.Terminal(v.state) })
		var msg string
		switch {
		case !settles:
			msg = fmt.Sprintf("%s is stranded: no sequence of inputs brings the session back to a state that reads commands with no tag held, short of closing the connection", describeNode(n))
		case !ends:
			msg = fmt.Sprintf("%s is a trap: no sequence of inputs ends the session", describeNode(n))
		default:
			continue
		}
		if stranded++; stranded > maxFindings {
			return
		}
		s := NewSession(m, ref, x.Modes, 0, nil).WithFacts(paths[n].opening)
		s.Run(paths[n].steps)
		x.Findings = append(x.Findings, Finding{
			Violation: Violation{Property: Liveness, Step: max(len(paths[n].steps)-1, 0), Message: msg},
			Sequence:  s.Sequence(),
			Records:   s.Records(),
		})
	}
}

func describeNode(n node) string {
	s := n.state.String() + " with facts " + n.facts.String()
	if n.held {
		return s + " (a tag held)"
	}
	return s
}

// reach reports whether a node satisfying goal is reachable from n, through
// closing steps only if viaClose.
func reach(n node, edges map[node][]edge, viaClose bool, goal func(node) bool) bool {
	seen := map[node]bool{n: true}
	queue := []node{n}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		if goal(v) {
			return true
		}
		for _, e := range edges[v] {
			if (e.closed && !viaClose) || seen[e.to] {
				continue
			}
			seen[e.to] = true
			queue = append(queue, e.to)
		}
	}
	return false
}

// ExplorationModes lists the modes exploration runs under: each global mode,
// and each quirk flipped on its own against each global mode.
func ExplorationModes() []fsm.Modes {
	var out []fsm.Modes
	for _, g := range []fsm.Mode{fsm.Lenient, fsm.Strict} {
		out = append(out, fsm.NewModes(g))
		other := fsm.Strict
		if g == fsm.Strict {
			other = fsm.Lenient
		}
		for _, q := range quirks() {
			out = append(out, fsm.NewModes(g).With(q, other))
		}
	}
	return out
}
