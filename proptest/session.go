package proptest

import (
	"fmt"
	"strings"

	"github.com/imapfsm/imapfsm/fsm"
)

// maxRedispatch bounds how often one input may be decided again. The spec
// needs one redispatch (a tagged command ending IDLE); more is a loop.
const maxRedispatch = 4

// Step is one input of a sequence with the outcome its handler reports. The
// outcome only matters when a decision runs the handler.
type Step struct {
	// Tag is the tag of a command line. Empty tags are numbered A1, A2, ...
	// in the order the session reads command lines.
	Tag     string
	Input   fsm.Input
	Outcome fsm.Outcome
	// Args are a command's arguments. The model ignores them; they are kept
	// so that a wire-level runner can replay a sequence file.
	Args string
}

// Made is one decision of a step, with the state and the facts it was made
// in. A redispatched input has two.
type Made struct {
	State    fsm.State
	Facts    fsm.Facts
	Decision Decision
}

// Record is what one step did.
type Record struct {
	// Index is the step's 0-based position in its sequence.
	Index     int
	Step      Step
	From, To  fsm.State
	Decisions []Made
	// Handler is set when a decision ran the input's handler, so that the
	// step's outcome mattered.
	Handler bool
	// Closed is set when a decision closed the connection.
	Closed bool
	// Tags lists what happened to tags, e.g. "A3 OK (handler)".
	Tags []string
	// Skipped is set when an earlier step broke the machine (an invalid
	// state or a panic), so that this one was not run.
	Skipped    bool
	Violations []Violation
}

// Session drives one machine through a sequence of steps the way the session
// engine does, and checks the properties after every decision and step. It
// is the system under test of the gopter commands and the unit of the
// exploration and of sequence replays.
type Session struct {
	machine  Machine
	ref      *Reference
	checks   Properties
	modes    fsm.Modes
	state    fsm.State
	opening  fsm.Facts // the facts the connection opened with
	facts    fsm.Facts
	ledger   *Ledger
	coverage *Coverage
	records  []Record
	broken   bool
	commands int
}

// NewSession starts a session in the spec's initial state, with the facts
// DefaultFacts (see WithFacts). Properties not in checks are not reported.
// coverage may be nil.
func NewSession(m Machine, ref *Reference, modes fsm.Modes, checks Properties, coverage *Coverage) *Session {
	return &Session{machine: m, ref: ref, checks: checks, modes: modes, state: ref.Initial(), opening: DefaultFacts, facts: DefaultFacts, ledger: NewLedger(), coverage: coverage}
}

// WithFacts sets the facts the connection opens with, before the first step.
func (s *Session) WithFacts(f fsm.Facts) *Session {
	s.opening, s.facts = f, f
	return s
}

// State is the session's current state.
func (s *Session) State() fsm.State { return s.state }

// Facts are the session's current facts.
func (s *Session) Facts() fsm.Facts { return s.facts }

// Modes are the session's quirk modes.
func (s *Session) Modes() fsm.Modes { return s.modes }

// Records lists what every step did.
func (s *Session) Records() []Record { return s.records }

// Held reports whether a tag is held.
func (s *Session) Held() bool { return s.ledger.Held() != NoTag }

// Violations lists every violation so far.
func (s *Session) Violations() []Violation {
	var out []Violation
	for _, r := range s.records {
		out = append(out, r.Violations...)
	}
	return out
}

// Sequence returns the steps applied so far, with their tags.
func (s *Session) Sequence() Sequence {
	steps := make([]Step, len(s.records))
	for i, r := range s.records {
		steps[i] = r.Step
	}
	seq := NewSequence(s.modes, steps)
	seq.Facts = s.opening
	return seq
}

// Run applies every step of seq and returns the session's violations.
func (s *Session) Run(steps []Step) []Violation {
	for _, st := range steps {
		s.Apply(st)
	}
	return s.Violations()
}

// Apply runs one step and returns its record.
func (s *Session) Apply(st Step) *Record {
	in := st.Input
	tagged := s.ref.Tagged(in)
	if tagged {
		s.commands++
		if st.Tag == "" {
			st.Tag = fmt.Sprintf("A%d", s.commands)
		}
	}
	s.records = append(s.records, Record{Index: len(s.records), Step: st, From: s.state, To: s.state})
	rec := &s.records[len(s.records)-1]
	if s.broken {
		rec.Skipped = true
		return rec
	}
	violate := func(p Property, format string, args ...any) {
		if s.checks.Has(p) {
			rec.Violations = append(rec.Violations, Violation{Property: p, Step: rec.Index, Message: fmt.Sprintf(format, args...)})
		}
	}
	tagEvent := func(err error, format string, args ...any) {
		rec.Tags = append(rec.Tags, fmt.Sprintf(format, args...))
		if err != nil {
			violate(TagCompletion, "%v", err)
		}
	}

	// A tagged line creates an obligation when the state reads lines at all;
	// in states that read none the engine never delivers it.
	current := NoTag
	if tagged && s.ref.Reads(s.state) != fsm.ReadsNone {
		current = s.ledger.Open(st.Tag)
	}
	state, facts := s.state, s.facts
	for depth := 0; ; depth++ {
		if depth > maxRedispatch {
			violate(ValidState, "%s is redispatched more than %d times; the machine loops", s.inputName(st), maxRedispatch)
			s.broken = true
			break
		}
		d, err := s.decide(state, facts, in)
		if err != nil {
			violate(ValidState, "%v", err)
			s.broken = true
			break
		}
		rec.Decisions = append(rec.Decisions, Made{State: state, Facts: facts, Decision: d})
		if s.coverage != nil {
			s.coverage.Record(state, facts, in, s.modes, st.Outcome)
		}
		if s.checks.Has(MatchesSpec) {
			for _, diff := range s.compare(state, facts, in, d) {
				violate(MatchesSpec, "%s", diff)
			}
		}
		next := d.engineNext(st.Outcome)
		nextFacts := d.engineFacts(facts, st.Outcome)
		if int(d.Action) >= enumCount(fsm.Action.String) {
			violate(ValidState, "%s × %s: %v is not an action", state, in, d.Action)
			s.broken = true
			break
		}
		if !next.Valid() {
			violate(ValidState, "%s × %s moves to %v, which is not a declared state", state, in, next)
			rec.To = next
			s.broken = true
			break
		}

		held := s.ledger.Held()
		if d.Pending != fsm.ResponseNone {
			if held == NoTag {
				violate(TagCompletion, "%s × %s completes a held tag with %s, but no tag is held", state, in, d.Pending)
			} else {
				if !isCompletion(d.Pending) {
					violate(TagCompletion, "%s × %s completes tag %s with %s, whose status %q is no tagged completion", state, in, s.ledger.Label(held), d.Pending, d.Pending.Status())
				}
				err := s.ledger.Complete(held, fmt.Sprintf("%s %s (pending)", d.Pending.Status(), d.Pending))
				tagEvent(err, "%s %s %s (pending)", s.ledger.Label(held), d.Pending.Status(), d.Pending)
			}
		}
		switch d.Action {
		case fsm.ActionExecute:
			rec.Handler = true
			status := strings.ToUpper(st.Outcome.String())
			switch {
			case current != NoTag && st.Outcome == fsm.OutcomeContinue:
				tagEvent(s.ledger.Hold(current), "%s held (continue)", st.Tag)
			case current != NoTag:
				tagEvent(s.ledger.Complete(current, status+" (handler)"), "%s %s (handler)", st.Tag, status)
			case held != NoTag && st.Outcome != fsm.OutcomeContinue:
				// The handler of a continuation line (a SASL response)
				// ends the exchange and completes the held tag.
				err := s.ledger.Complete(held, fmt.Sprintf("%s (handler of %s)", status, in))
				tagEvent(err, "%s %s (handler of %s)", s.ledger.Label(held), status, in)
			}
		case fsm.ActionReject:
			if current != NoTag {
				if !isCompletion(d.Reply) {
					violate(TagCompletion, "%s × %s rejects tag %s with %s, whose status %q is no tagged completion", state, in, st.Tag, d.Reply, d.Reply.Status())
				}
				err := s.ledger.Complete(current, fmt.Sprintf("%s %s (reject)", d.Reply.Status(), d.Reply))
				tagEvent(err, "%s %s %s (reject)", st.Tag, d.Reply.Status(), d.Reply)
			}
		case fsm.ActionClose:
			rec.Closed = true
		}
		s.checkMove(violate, state, next, in, d)
		state, facts = next, nextFacts
		if d.Action != fsm.ActionRedispatch {
			break
		}
	}
	if s.broken {
		if rec.To == s.state {
			rec.To = state
		}
		return rec
	}
	from := s.facts
	s.state, s.facts = state, facts
	rec.To = state
	if s.checks.Has(MatchesSpec) && len(rec.Violations) == 0 {
		if want, wantFacts := advance(s.ref, rec.From, from, st, s.modes); want != state || wantFacts != facts {
			violate(MatchesSpec, "%s moved the session to %s with facts %s, the spec says %s with %s", s.inputName(st), state, facts, want, wantFacts)
		}
	}
	if rec.Closed {
		s.ledger.Close()
		return rec
	}
	for _, err := range s.ledger.Settle(current, s.ref.HoldsTag(state), state.String()) {
		violate(TagCompletion, "%v", err)
	}
	return rec
}

// decide asks the machine, turning a panic into an error.
func (s *Session) decide(state fsm.State, facts fsm.Facts, in fsm.Input) (d Decision, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the machine panicked on %s × %s: %v", state, in, r)
		}
	}()
	return s.machine.Step(state, facts, in, s.modes), nil
}

// checkMove checks the properties of one decision's move from one state to
// the next.
func (s *Session) checkMove(violate func(Property, string, ...any), from, to fsm.State, in fsm.Input, d Decision) {
	r := s.ref
	if r.Terminal(from) && to != from {
		violate(TerminalAbsorbing, "terminal state %s left for %s on %s (rule %s)", from, to, in, d.Rule)
	}
	if d.Action == fsm.ActionClose && !r.Terminal(to) {
		violate(TerminalAbsorbing, "%s × %s closes the connection but moves to %s, which is not terminal", from, in, to)
	}
	fromIdle := r.Reads(from) == fsm.ReadsIdle
	closing := d.Action == fsm.ActionClose
	if fromIdle && !closing && to != from && to != r.Origin(from) {
		violate(IdleOrigin, "IDLE in %s ended in %s on %s, not in its origin %s", from, to, in, r.Origin(from))
	}
	if fromIdle && !closing && to == from && r.Kind(in) == fsm.KindIdle {
		violate(IdleOrigin, "the IDLE continuation %s did not end IDLE in %s (rule %s)", in, from, d.Rule)
	}
	if r.Reads(to) == fsm.ReadsIdle && to != from && from != r.Origin(to) {
		violate(IdleOrigin, "%s entered from %s on %s, but it returns to %s", to, from, in, r.Origin(to))
	}
}

// compare lists how d differs from the spec's decision for state × in
// with the facts f.
func (s *Session) compare(state fsm.State, f fsm.Facts, in fsm.Input, d Decision) []string {
	want := s.ref.Step(state, f, in, s.modes)
	var diffs []string
	where := fmt.Sprintf("%s × %s", state, in)
	if read := s.ref.FactsRead(state, in); read != 0 {
		where += fmt.Sprintf(" with facts %s", f)
	}
	if q, split := s.ref.Split(state, f, in); split {
		where += fmt.Sprintf(" (%s %s)", q, s.modes.Of(q))
	}
	field := func(name string, got, exp fmt.Stringer) {
		if got.String() != exp.String() {
			diffs = append(diffs, fmt.Sprintf("%s: %s is %v, the spec says %v (rule %s)", where, name, got, exp, want.Rule))
		}
	}
	field("rule", d.Rule, want.Rule)
	field("action", d.Action, want.Action)
	field("reply", d.Reply, want.Reply)
	field("pending", d.Pending, want.Pending)
	field("quirk", d.Quirk, want.Quirk)
	// For execute the spec names a state per outcome the handler can report;
	// every other action must move to one state whatever the outcome.
	outcomes := s.ref.Outcomes(in)
	if want.Action != fsm.ActionExecute {
		outcomes = allOutcomes()
	}
	// Group the outcomes whose next state differs in the same way, so that
	// a wrong `stay` reads as one line, not four.
	type pair struct{ got, want fsm.State }
	var order []pair
	by := map[pair][]string{}
	for _, o := range outcomes {
		p := pair{d.Next(o), want.Next(o)}
		if p.got == p.want {
			continue
		}
		if _, ok := by[p]; !ok {
			order = append(order, p)
		}
		by[p] = append(by[p], o.String())
	}
	for _, p := range order {
		after := " after " + joinAnd(by[p])
		if len(by[p]) == len(outcomes) {
			after = ""
		}
		diffs = append(diffs, fmt.Sprintf("%s: next%s is %v, the spec says %v (rule %s)", where, after, p.got, p.want, want.Rule))
	}
	for _, o := range outcomes {
		if got, exp := d.NextFacts(f, o), want.NextFacts(f, o); got != exp {
			diffs = append(diffs, fmt.Sprintf("%s: the facts after %s are %v, the spec says %v (rule %s)", where, o, got, exp, want.Rule))
		}
	}
	return diffs
}

func (s *Session) inputName(st Step) string {
	if st.Tag != "" {
		return st.Tag + " " + st.Input.String()
	}
	return st.Input.String()
}

func allOutcomes() []fsm.Outcome {
	out := make([]fsm.Outcome, fsm.NumOutcomes)
	for i := range out {
		out[i] = fsm.Outcome(i)
	}
	return out
}

// isCompletion reports whether r can complete a tag: a tagged OK, NO or BAD.
func isCompletion(r fsm.Response) bool {
	switch r.Status() {
	case "OK", "NO", "BAD":
		return true
	}
	return false
}
