package lmtpprop

import (
	"fmt"
	"sort"
	"strings"

	"github.com/imapfsm/imapfsm/server/lmtp/lmtpfsm"
)

// Property names one invariant the LMTP machine must keep.
type Property int

// The properties. Each one has a mutant in the tests that only it catches.
const (
	// PropValidState: every state the machine moves to is declared and
	// every action is one of lmtpfsm's.
	PropValidState Property = iota
	// PropTerminalAbsorbing: nothing leaves the closed state, and close
	// ends in it.
	PropTerminalAbsorbing
	// PropOneReply: every line read in a state that reads commands gets
	// exactly one reply: the handler's, or the spec's rejection. Only
	// closing the connection is exempt.
	PropOneReply
	// PropPerRecipient: DATA is held only with at least one accepted
	// recipient, and is completed, exactly once, by one reply per accepted
	// recipient when the message ends (RFC 2033 4.2); it is never dropped
	// without them unless the connection closes.
	PropPerRecipient
	// PropMatchesSpec: every decision equals the oracle's reading of
	// spec/lmtp.yaml.
	PropMatchesSpec
	// PropLiveness (exploration): from every reachable state the session
	// can get back to reading commands with nothing held, without closing,
	// and can always be ended.
	PropLiveness
	numProperties
)

var propertyNames = []string{"valid-state", "terminal-absorbing", "one-reply", "per-recipient", "matches-spec", "liveness"}

func (p Property) String() string { return propertyNames[p] }

// Violation is a broken property with what the machine did.
type Violation struct {
	Property Property
	Msg      string
}

func (v *Violation) Error() string { return v.Property.String() + ": " + v.Msg }

// Step is one input with the outcome its handler reports if it runs.
type Step struct {
	Input   lmtpfsm.Input
	Outcome lmtpfsm.Outcome
}

func (s Step) String() string {
	return s.Input.String() + " => " + s.Outcome.String()
}

// Session drives a Machine the way server/lmtp's session does and checks
// the properties after every decision. It counts the accepted recipients
// of the open transaction (an rcpt handler that reports ok in a state with
// a transaction adds one; a state without a transaction forgets them), so
// that the held DATA can be checked against them.
type Session struct {
	M     Machine
	Ref   *Reference
	Modes lmtpfsm.Modes
	// Check selects the properties to check; nil checks every one.
	Check map[Property]bool

	State lmtpfsm.State
	Rcpts int
	// held is the number of replies the held DATA still owes, or -1.
	held int
	// Replies counts the replies the session has sent.
	Replies int
	Cov     *Coverage
}

// NewSession starts a session of m in the spec's initial state.
func NewSession(m Machine, ref *Reference, modes lmtpfsm.Modes) *Session {
	return &Session{M: m, Ref: ref, Modes: modes, State: ref.Initial(), held: -1}
}

func (s *Session) on(p Property) bool { return s.Check == nil || s.Check[p] }

// Apply runs one step and checks the properties. It returns the first
// violation.
func (s *Session) Apply(st Step) error {
	from := s.State
	d := s.M.Step(from, st.Input, s.Modes)
	if s.Cov != nil {
		s.Cov.Record(from, st.Input, s.Modes, st.Outcome)
	}
	v := func(p Property, format string, args ...any) error {
		if !s.on(p) {
			return nil
		}
		return &Violation{Property: p, Msg: fmt.Sprintf("in %s on %s: ", from, st) + fmt.Sprintf(format, args...)}
	}
	if s.on(PropMatchesSpec) {
		want := s.Ref.Step(from, st.Input, s.Modes)
		if !sameDecision(s.Ref, st.Input, d, want) {
			return v(PropMatchesSpec, "decided %s, the spec says %s", describe(d), describe(want))
		}
	}
	if int(d.Action) >= lmtpfsm.NumActions {
		if err := v(PropValidState, "action %d is not one of lmtpfsm's", d.Action); err != nil {
			return err
		}
		return nil
	}
	next := d.engineNext(st.Outcome)
	if !next.Valid() {
		return v(PropValidState, "moved to undeclared state %d", next)
	}
	if s.Ref.Terminal(from) && next != from {
		return v(PropTerminalAbsorbing, "left the terminal state for %s", next)
	}
	if d.Action == lmtpfsm.ActionClose && !s.Ref.Terminal(next) {
		return v(PropTerminalAbsorbing, "closed the connection but moved to %s", next)
	}
	closing := d.Action == lmtpfsm.ActionClose
	// One reply per line read as a command.
	replies := 0
	switch d.Action {
	case lmtpfsm.ActionExecute:
		replies = 1
		if st.Input == lmtpfsm.InputDataEnd {
			replies = 0 // the per-recipient replies, below
		}
	case lmtpfsm.ActionReject:
		if d.Reply == lmtpfsm.ResponseNone {
			if err := v(PropOneReply, "rejected without a reply"); err != nil {
				return err
			}
		} else {
			replies = 1
		}
	}
	if s.Ref.ReadsCommands(from) && s.Ref.isLine(st.Input) && !closing && replies != 1 {
		if err := v(PropOneReply, "the line got %d replies (%s)", replies, d.Action); err != nil {
			return err
		}
	}
	s.Replies += replies
	// The held DATA.
	if d.Pending != lmtpfsm.ResponseNone {
		if s.held < 0 {
			if err := v(PropPerRecipient, "pending completes a DATA that is not held"); err != nil {
				return err
			}
		}
		s.Replies += s.Rcpts
		s.held = -1
	}
	if s.held >= 0 && d.Action == lmtpfsm.ActionExecute && st.Input == lmtpfsm.InputDataEnd {
		s.Replies += s.Rcpts // the handler answers once per recipient
		s.held = -1
	}
	if s.held < 0 && d.Action == lmtpfsm.ActionExecute && st.Input == lmtpfsm.InputDataEnd && !s.Ref.Held(from) {
		if err := v(PropPerRecipient, "ran the message handler with no DATA held"); err != nil {
			return err
		}
	}
	nextHeld := s.Ref.Held(next)
	switch {
	case closing:
		s.held = -1
	case s.held >= 0 && !nextHeld:
		if err := v(PropPerRecipient, "left %s for %s with the held DATA unanswered", from, next); err != nil {
			return err
		}
		s.held = -1
	case s.held < 0 && nextHeld:
		if s.Rcpts == 0 {
			if err := v(PropPerRecipient, "holds DATA in %s without an accepted recipient (RFC 2033 4.2)", next); err != nil {
				return err
			}
		}
		s.held = s.Rcpts
	}
	if d.Action == lmtpfsm.ActionExecute && st.Input == lmtpfsm.InputRcpt && st.Outcome == lmtpfsm.OutcomeOK && next.Transaction() {
		s.Rcpts++
	}
	if !next.Transaction() {
		s.Rcpts = 0
	}
	s.State = next
	return nil
}

func sameDecision(ref *Reference, in lmtpfsm.Input, d, want Decision) bool {
	if d.Action != want.Action || d.Reply != want.Reply || d.Pending != want.Pending || d.Quirk != want.Quirk || d.Rule != want.Rule {
		return false
	}
	outs := []lmtpfsm.Outcome{lmtpfsm.OutcomeOK}
	if want.Action == lmtpfsm.ActionExecute {
		outs = ref.Outcomes(in)
	}
	for _, o := range outs {
		if d.engineNext(o) != want.engineNext(o) {
			return false
		}
	}
	return true
}

func describe(d Decision) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s", d.Action)
	if d.Reply != lmtpfsm.ResponseNone {
		fmt.Fprintf(&b, " %s", d.Reply)
	}
	if d.Pending != lmtpfsm.ResponseNone {
		fmt.Fprintf(&b, " +pending %s", d.Pending)
	}
	fmt.Fprintf(&b, " (rule %s) → %v", d.Rule, d.Targets)
	return b.String()
}

// Run applies steps from the initial state and returns the first
// violation with the index of its step.
func Run(m Machine, ref *Reference, modes lmtpfsm.Modes, steps []Step, check map[Property]bool, cov *Coverage) (int, error) {
	s := NewSession(m, ref, modes)
	s.Check, s.Cov = check, cov
	for i, st := range steps {
		if err := s.Apply(st); err != nil {
			return i, err
		}
	}
	return len(steps), nil
}

// Transition is one cell of the spec to cover: a state × input, in a mode
// when the spec decides the cell differently per mode, with an outcome
// when the decision runs the handler.
type Transition struct {
	State   lmtpfsm.State
	Input   lmtpfsm.Input
	Quirk   lmtpfsm.Quirk
	Mode    lmtpfsm.Mode
	Handler bool
	Outcome lmtpfsm.Outcome
}

func (t Transition) String() string {
	s := t.State.String() + " × " + t.Input.String()
	if t.Quirk != lmtpfsm.QuirkNone {
		s += " [" + t.Quirk.String() + " " + t.Mode.String() + "]"
	}
	if t.Handler {
		s += " => " + t.Outcome.String()
	}
	return s
}

// TransitionOf is the transition a step exercises.
func (r *Reference) TransitionOf(s lmtpfsm.State, in lmtpfsm.Input, m lmtpfsm.Modes, o lmtpfsm.Outcome) Transition {
	t := Transition{State: s, Input: in}
	if q, split := r.Split(s, in); split {
		t.Quirk, t.Mode = q, m.Of(q)
	}
	if d := r.Step(s, in, m); d.Action == lmtpfsm.ActionExecute {
		t.Handler, t.Outcome = true, o
	}
	return t
}

// Transitions lists every transition of the spec.
func (r *Reference) Transitions() []Transition {
	var out []Transition
	for s := lmtpfsm.State(0); s < lmtpfsm.NumStates; s++ {
		for in := lmtpfsm.Input(0); in < lmtpfsm.NumInputs; in++ {
			modes := []lmtpfsm.Modes{lmtpfsm.NewModes(lmtpfsm.Lenient)}
			if _, split := r.Split(s, in); split {
				modes = append(modes, lmtpfsm.NewModes(lmtpfsm.Strict))
			}
			for _, m := range modes {
				outs := []lmtpfsm.Outcome{lmtpfsm.OutcomeOK}
				if r.Step(s, in, m).Action == lmtpfsm.ActionExecute {
					outs = r.Outcomes(in)
				}
				for _, o := range outs {
					out = append(out, r.TransitionOf(s, in, m, o))
				}
			}
		}
	}
	return out
}

// Coverage counts the transitions exercised out of a set.
type Coverage struct {
	ref  *Reference
	want map[Transition]bool
	hits map[Transition]int
}

// NewCoverage measures coverage of the transitions in want (all of the
// spec's when want is nil).
func NewCoverage(ref *Reference, want []Transition) *Coverage {
	if want == nil {
		want = ref.Transitions()
	}
	c := &Coverage{ref: ref, want: map[Transition]bool{}, hits: map[Transition]int{}}
	for _, t := range want {
		c.want[t] = true
	}
	return c
}

// Record counts the transition of a step.
func (c *Coverage) Record(s lmtpfsm.State, in lmtpfsm.Input, m lmtpfsm.Modes, o lmtpfsm.Outcome) {
	if !s.Valid() || int(in) >= lmtpfsm.NumInputs {
		return
	}
	c.RecordTransition(c.ref.TransitionOf(s, in, m, o))
}

// RecordTransition counts t.
func (c *Coverage) RecordTransition(t Transition) {
	if c.want[t] {
		c.hits[t]++
	}
}

// Covered returns the covered and the total count.
func (c *Coverage) Covered() (int, int) { return len(c.hits), len(c.want) }

// Missing lists the transitions not covered, sorted.
func (c *Coverage) Missing() []Transition {
	var out []Transition
	for t := range c.want {
		if c.hits[t] == 0 {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// Summary is "covered/total (percent)".
func (c *Coverage) Summary() string {
	n, t := c.Covered()
	return fmt.Sprintf("%d/%d transitions (%.1f%%)", n, t, 100*float64(n)/float64(max(t, 1)))
}

// PathTo returns a shortest sequence of steps leading the spec's machine
// from the initial state to a session in target with at least rcpts
// accepted recipients, under modes.
func (r *Reference) PathTo(target lmtpfsm.State, modes lmtpfsm.Modes) ([]Step, bool) {
	type node struct {
		s     lmtpfsm.State
		rcpts int
	}
	start := node{r.Initial(), 0}
	paths := map[node][]Step{start: {}}
	queue := []node{start}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if n.s == target {
			return paths[n], true
		}
		for in := lmtpfsm.Input(0); in < lmtpfsm.NumInputs; in++ {
			for _, o := range r.Outcomes(in) {
				st := Step{Input: in, Outcome: o}
				sess := &Session{M: r, Ref: r, Modes: modes, State: n.s, Rcpts: n.rcpts, held: -1, Check: map[Property]bool{}}
				if r.Held(n.s) {
					sess.held = n.rcpts
				}
				_ = sess.Apply(st)
				next := node{sess.State, min(sess.Rcpts, 1)}
				if _, seen := paths[next]; seen || !next.s.Valid() {
					continue
				}
				paths[next] = append(append([]Step(nil), paths[n]...), st)
				queue = append(queue, next)
			}
		}
	}
	return nil, false
}

// CoveringSequence returns a shortest sequence that ends by exercising t,
// with the modes it needs.
func (r *Reference) CoveringSequence(t Transition) ([]Step, lmtpfsm.Modes, bool) {
	modes := lmtpfsm.NewModes(lmtpfsm.Lenient)
	if t.Quirk != lmtpfsm.QuirkNone {
		modes = modes.With(t.Quirk, t.Mode)
	}
	path, ok := r.PathTo(t.State, modes)
	if !ok {
		return nil, modes, false
	}
	last := Step{Input: t.Input, Outcome: lmtpfsm.OutcomeOK}
	if t.Handler {
		last.Outcome = t.Outcome
	} else if outs := r.Outcomes(t.Input); len(outs) > 0 {
		last.Outcome = outs[0]
	}
	return append(path, last), modes, true
}
