package proptest

import (
	"fmt"
	"sync"

	"github.com/leanovate/gopter"
	"github.com/leanovate/gopter/commands"
	"github.com/leanovate/gopter/gen"

	"github.com/imapfsm/imapfsm/fsm"
)

// Config is one model-level property run: a machine, the reference it is
// checked against, which properties to check, and the global mode its
// sessions start from.
type Config struct {
	// Name names the machine in reports and counterexample files.
	Name      string
	Machine   Machine
	Reference *Reference
	Checks    Properties
	// Global is the mode of every quirk before the random overrides.
	Global fsm.Mode
	// OverrideOdds flips each quirk to the other mode with probability
	// 1/OverrideOdds; 0 means 4.
	OverrideOdds int
	// Coverage, if set, records the transitions the sessions exercise.
	Coverage *Coverage
}

// Report is the result of a property run.
type Report struct {
	Seed   int64
	Result *gopter.TestResult
	// Counterexample is the shrunk failing sequence, or nil if the run
	// passed.
	Counterexample *Counterexample
}

// Passed reports whether no sequence falsified the properties.
func (r Report) Passed() bool { return r.Result.Passed() }

// Prop returns the gopter property: random sequences of steps, each step a
// weighted random input with a random outcome its handler can report, run
// through a Session. It fails when a step violates a checked property, or,
// when MatchesSpec is checked, when the machine's state leaves the one the
// reference predicts. Sessions that fail are passed to onFailure, last the
// one gopter shrank to; onFailure may be nil.
func (c *Config) Prop(onFailure func(*Session)) gopter.Prop {
	return commands.Prop(&sessionCommands{cfg: c, onFailure: onFailure})
}

// Check runs the property with params and returns the shrunk counterexample
// if it fails.
func (c *Config) Check(params *gopter.TestParameters) Report {
	var mu sync.Mutex
	var last *Session
	result := c.Prop(func(s *Session) {
		mu.Lock()
		last = s
		mu.Unlock()
	}).Check(params)
	rep := Report{Seed: params.Seed(), Result: result}
	if !result.Passed() && last != nil {
		rep.Counterexample = NewCounterexample(c.Name, params.Seed(), c.simplifyModes(last))
	}
	return rep
}

// simplifyModes finishes shrinking where gopter cannot: it sets each quirk
// that differs from the global mode back to the global mode, one at a time,
// keeping the change when the sequence still violates the property it
// violated first. Most overrides of a random run are irrelevant to a
// failure; dropping them leaves the ones that matter.
func (c *Config) simplifyModes(s *Session) *Session {
	want := s.Violations()[0].Property
	steps := s.Sequence().Steps
	modes := s.Modes()
	global, overrides := splitModes(modes)
	for _, q := range overrides {
		try := modes.With(q, global)
		if hasProperty(NewSession(c.Machine, c.Reference, try, c.Checks, nil).WithFacts(s.opening).Run(steps), want) {
			modes = try
		}
	}
	if modes == s.Modes() {
		return s
	}
	out := NewSession(c.Machine, c.Reference, modes, c.Checks, nil).WithFacts(s.opening)
	out.Run(steps)
	return out
}

func hasProperty(vs []Violation, p Property) bool {
	for _, v := range vs {
		if v.Property == p {
			return true
		}
	}
	return false
}

// model is the gopter commands' state: what the spec says the session's
// state and facts are, and the session's modes.
type model struct {
	state   fsm.State
	facts   fsm.Facts
	opening fsm.Facts
	modes   fsm.Modes
}

func (m model) String() string {
	return ModesString(m.modes) + "; facts " + m.opening.String() + "; state " + m.state.String() + " with " + m.facts.String()
}

// sessionCommands implements commands.Commands over Sessions.
type sessionCommands struct {
	cfg       *Config
	onFailure func(*Session)
	// gens caches the step generator per state and modes: building the
	// weights asks the reference about every input.
	mu   sync.Mutex
	gens map[model]gopter.Gen
}

func (c *sessionCommands) NewSystemUnderTest(initial commands.State) commands.SystemUnderTest {
	cfg := c.cfg
	m := initial.(model)
	return NewSession(cfg.Machine, cfg.Reference, m.modes, cfg.Checks, cfg.Coverage).WithFacts(m.opening)
}

// DestroySystemUnderTest runs after every sequence, including every shrink
// candidate: the last failing session it sees is the shrunk counterexample.
func (c *sessionCommands) DestroySystemUnderTest(sut commands.SystemUnderTest) {
	s := sut.(*Session)
	if c.onFailure != nil && len(s.Violations()) > 0 {
		c.onFailure(s)
	}
}

func (c *sessionCommands) GenInitialState() gopter.Gen {
	cfg := c.cfg
	odds := cfg.OverrideOdds
	if odds <= 0 {
		odds = 4
	}
	flip := gen.Weighted([]gen.WeightedGen{
		{Weight: odds - 1, Gen: gen.Const(false)},
		{Weight: 1, Gen: gen.Const(true)},
	})
	other := fsm.Strict
	if cfg.Global == fsm.Strict {
		other = fsm.Lenient
	}
	// The facts the connection opens with: mostly those of the test
	// servers (DefaultFacts), sometimes any other the engine can give.
	var opening []gen.WeightedGen
	for _, f := range cfg.Reference.Opening() {
		w := 1
		if f == DefaultFacts {
			w = 3 * max(len(cfg.Reference.Opening())-1, 1)
		}
		opening = append(opening, gen.WeightedGen{Weight: w, Gen: gen.Const(f)})
	}
	// Map needs a concrete result type: an interface result means a GenResult.
	return gopter.CombineGens(gen.SliceOfN(fsm.NumQuirks-1, flip), gen.Weighted(opening)).Map(func(vs []any) model {
		m := fsm.NewModes(cfg.Global)
		for i, f := range vs[0].([]bool) {
			if f {
				m = m.With(fsm.Quirk(i+1), other)
			}
		}
		f := vs[1].(fsm.Facts)
		return model{state: cfg.Reference.Initial(), facts: f, opening: f, modes: m}
	})
}

func (c *sessionCommands) InitialPreCondition(commands.State) bool { return true }

// GenCommand draws the next step. Every input is legal in every state (the
// spec is total), so steps have no preconditions and any shrink of a
// sequence is a valid sequence.
func (c *sessionCommands) GenCommand(state commands.State) gopter.Gen {
	m := state.(model)
	c.mu.Lock()
	defer c.mu.Unlock()
	if g, ok := c.gens[m]; ok {
		return g
	}
	g := GenStep(c.cfg.Reference, m.state, m.facts, m.modes).Map(func(st Step) *stepCommand {
		return &stepCommand{step: st, cfg: c.cfg}
	})
	if c.gens == nil {
		c.gens = map[model]gopter.Gen{}
	}
	c.gens[m] = g
	return g
}

// GenStep draws a step for a session in state s with facts f: an input
// weighted by Weight, and an outcome its handler can report, weighted by
// OutcomeWeight. A wire-level runner uses the same generator.
func GenStep(ref *Reference, s fsm.State, f fsm.Facts, modes fsm.Modes) gopter.Gen {
	gens := make([]gen.WeightedGen, 0, fsm.NumInputs)
	for _, in := range ref.Inputs() {
		outs := make([]gen.WeightedGen, 0, fsm.NumOutcomes)
		for _, o := range ref.Outcomes(in) {
			outs = append(outs, gen.WeightedGen{Weight: OutcomeWeight(ref, s, f, modes, in, o), Gen: gen.Const(Step{Input: in, Outcome: o})})
		}
		gens = append(gens, gen.WeightedGen{Weight: Weight(ref, s, f, modes, in), Gen: gen.Weighted(outs)})
	}
	return gen.Weighted(gens)
}

// Weight is how likely input in is drawn in state s. Every input has weight
// at least 1, so the rare ones (events, lines no client should send, inputs
// the engine never classifies in s) still appear. Inputs get more weight
// where the state reads them: commands that run, and most of all commands
// that move the session on (LOGIN, SELECT, IDLE, ...), where the state reads
// commands; tagged commands instead of DONE while idling; SASL lines during
// AUTHENTICATE; the handshake events during STARTTLS. Inputs that can only
// end the session get weight 1, so that sequences stay long enough to reach
// the deeper states.
func Weight(ref *Reference, s fsm.State, f fsm.Facts, modes fsm.Modes, in fsm.Input) int {
	if ref.Terminal(s) {
		return 1
	}
	d := ref.Step(s, f, in, modes)
	moves, ends := false, false
	for _, o := range ref.Outcomes(in) {
		switch n := d.engineNext(o); {
		case ref.Terminal(n):
			ends = true
		case n != s:
			moves = true
		}
	}
	if ends && !moves {
		return 1
	}
	kind := ref.Kind(in)
	switch ref.Reads(s) {
	case fsm.ReadsCommand:
		switch {
		case kind == fsm.KindCommand && moves:
			return 24
		case kind == fsm.KindCommand && d.Action == fsm.ActionExecute:
			return 6
		case kind == fsm.KindCommand, kind == fsm.KindLine:
			return 3
		}
	case fsm.ReadsIdle:
		switch kind {
		case fsm.KindCommand:
			return 4
		case fsm.KindIdle, fsm.KindLine:
			return 6
		case fsm.KindEvent:
			return 4
		}
	case fsm.ReadsSASL:
		switch kind {
		case fsm.KindSASL:
			return 30
		case fsm.KindLine:
			return 3
		}
	case fsm.ReadsNone:
		if kind == fsm.KindEvent {
			return 20
		}
	}
	return 1
}

// OutcomeWeight is how likely a handler of in reports o in state s: three
// times likelier when the outcome moves the session to another live state,
// so that sessions wander.
func OutcomeWeight(ref *Reference, s fsm.State, f fsm.Facts, modes fsm.Modes, in fsm.Input, o fsm.Outcome) int {
	n := ref.Step(s, f, in, modes).engineNext(o)
	if n != s && !ref.Terminal(n) {
		return 3
	}
	return 1
}

// advance is the state and the facts the spec leads to from s with facts f
// with step st.
func advance(ref *Reference, s fsm.State, f fsm.Facts, st Step, modes fsm.Modes) (fsm.State, fsm.Facts) {
	for depth := 0; depth <= maxRedispatch; depth++ {
		d := ref.Step(s, f, st.Input, modes)
		s, f = d.engineNext(st.Outcome), d.engineFacts(f, st.Outcome)
		if d.Action != fsm.ActionRedispatch {
			break
		}
	}
	return s, f
}

// stepCommand is one step as a gopter command.
type stepCommand struct {
	step Step
	cfg  *Config
}

func (c *stepCommand) Run(sut commands.SystemUnderTest) commands.Result {
	return sut.(*Session).Apply(c.step)
}

func (c *stepCommand) NextState(state commands.State) commands.State {
	m := state.(model)
	m.state, m.facts = advance(c.cfg.Reference, m.state, m.facts, c.step, m.modes)
	return m
}

func (c *stepCommand) PreCondition(commands.State) bool { return true }

// PostCondition fails on the step's violations, and on a state that differs
// from the spec's when MatchesSpec is checked.
func (c *stepCommand) PostCondition(state commands.State, result commands.Result) *gopter.PropResult {
	rec := result.(*Record)
	var labels []string
	for _, v := range rec.Violations {
		labels = append(labels, v.String())
	}
	if want := state.(model).state; c.cfg.Checks.Has(MatchesSpec) && !rec.Skipped && rec.To != want {
		labels = append(labels, fmt.Sprintf("%s: step %d: the session is in %s, the spec says %s", MatchesSpec, rec.Index+1, rec.To, want))
	}
	if len(labels) == 0 {
		return &gopter.PropResult{Status: gopter.PropTrue}
	}
	return &gopter.PropResult{Status: gopter.PropFalse, Labels: labels}
}

func (c *stepCommand) String() string { return c.cfg.Reference.StepLine(c.step) }
