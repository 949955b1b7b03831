package lmtpprop

import (
	"fmt"

	"github.com/imapfsm/imapfsm/server/lmtp/lmtpfsm"
)

// node is what exploration tells apart: the state, the accepted recipients
// (0, 1, or 2 standing for more) and the replies the held DATA owes.
type node struct {
	state lmtpfsm.State
	rcpts int
	held  int
}

// ExplorationModes are the modes exploration runs in: both global modes,
// and each quirk flipped on its own from each.
func ExplorationModes() []lmtpfsm.Modes {
	var out []lmtpfsm.Modes
	for _, g := range []lmtpfsm.Mode{lmtpfsm.Lenient, lmtpfsm.Strict} {
		base := lmtpfsm.NewModes(g)
		out = append(out, base)
		for q := lmtpfsm.Quirk(1); q < lmtpfsm.NumQuirks; q++ {
			out = append(out, base.With(q, 1-g))
		}
	}
	return out
}

// Explore enumerates breadth-first every reachable node of m under modes
// with every input and outcome, checking every property, liveness
// included. It returns the nodes visited and the first violation, with the
// path that reaches it.
func Explore(m Machine, ref *Reference, modes lmtpfsm.Modes, check map[Property]bool) (int, []Step, error) {
	start := node{ref.Initial(), 0, -1}
	paths := map[node][]Step{start: nil}
	queue := []node{start}
	succ := map[node][]node{}
	closes := map[node]bool{}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for in := lmtpfsm.Input(0); in < lmtpfsm.NumInputs; in++ {
			for _, o := range ref.Outcomes(in) {
				st := Step{Input: in, Outcome: o}
				sess := &Session{M: m, Ref: ref, Modes: modes, Check: check, State: n.state, Rcpts: n.rcpts, held: n.held}
				path := append(append([]Step(nil), paths[n]...), st)
				if err := sess.Apply(st); err != nil {
					return len(paths), path, err
				}
				next := node{sess.State, min(sess.Rcpts, 2), min(sess.held, 2)}
				if m.Step(n.state, in, modes).Action == lmtpfsm.ActionClose {
					closes[next] = true
					continue
				}
				succ[n] = append(succ[n], next)
				if _, seen := paths[next]; !seen {
					paths[next] = path
					queue = append(queue, next)
				}
			}
		}
	}
	if check == nil || check[PropLiveness] {
		for n, path := range paths {
			if ref.Terminal(n.state) || !n.state.Valid() {
				continue
			}
			home := false
			seen := map[node]bool{n: true}
			q := []node{n}
			for len(q) > 0 && !home {
				x := q[0]
				q = q[1:]
				if x.state.Valid() && ref.ReadsCommands(x.state) && x.held < 0 {
					home = true
				}
				for _, y := range succ[x] {
					if !seen[y] {
						seen[y] = true
						q = append(q, y)
					}
				}
			}
			if !home {
				return len(paths), path, &Violation{Property: PropLiveness, Msg: fmt.Sprintf("%s is stranded: no input leads back to reading commands without closing", n.state)}
			}
		}
	}
	return len(paths), nil, nil
}
