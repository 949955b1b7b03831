package proptest

import (
	"encoding/base64"
	"fmt"
	"math/rand"
	"strings"
	"sync"

	"github.com/leanovate/gopter"
	"github.com/leanovate/gopter/gen"
	"github.com/leanovate/gopter/prop"

	"github.com/imapfsm/imapfsm/fsm"
)

// wireGen draws the steps of one wire sequence. It follows the session with
// a predicted state (the spec's next state for the outcome a step is
// expected to have: a right password logs in, a missing mailbox fails), and
// picks inputs with the model level's Weight in that state, so wire
// sequences reach the same deep states; then it writes each input as a
// realistic line. The prediction only steers the drawing: the runner reads
// the real outcomes from the server.
type wireGen struct {
	ref   *Reference
	modes fsm.Modes
	rng   *rand.Rand
	// pipelineOdds: a step joins the write of the step before it with
	// probability 1/pipelineOdds.
	pipelineOdds int
	// opts says which of the server's timers, limits and TLS the
	// sequences may exercise.
	opts WireOptions

	state     fsm.State
	mailboxes map[string]bool
	tagN      int
	messages  int
}

// The mailbox names the generator uses; Missing is never created.
var wireMailboxes = []string{"INBOX", "Archive", "Missing"}

// generate draws n steps.
func (g *wireGen) generate(n int) []WireStep {
	g.state = g.ref.Initial()
	g.mailboxes = map[string]bool{"INBOX": true}
	var steps []WireStep
	for len(steps) < n {
		if st, in, end, ok := g.special(); ok {
			steps = append(steps, st...)
			if end {
				break
			}
			g.state = advance(g.ref, g.state, Step{Input: in, Outcome: g.ref.DefaultOutcome(in)}, g.modes)
			if g.ref.Terminal(g.state) {
				break
			}
			continue
		}
		in := g.pickInput()
		data, outcome, ok := g.render(in)
		if !ok {
			continue
		}
		st := WireStep{Data: data}
		if len(steps) > 0 && g.pipelineOdds > 0 && g.rng.Intn(g.pipelineOdds) == 0 {
			st.Pipelined = true
		}
		steps = append(steps, st)
		if g.ref.Terminal(g.state) {
			break
		}
		actual, _ := g.ref.ClassifyWire(g.ref.Reads(g.state), st)
		if !g.ref.Produces(actual, outcome) {
			outcome = g.ref.DefaultOutcome(actual)
		}
		g.state = advance(g.ref, g.state, Step{Input: actual, Outcome: outcome}, g.modes)
	}
	return steps
}

// special draws, now and then, a step that is not a command line, as far as
// the server's options allow: the TLS handshake after STARTTLS (or garbage
// instead), a pause for the timers, a partial line, an over-long line, or a
// burst of garbage up to the error limit. in is the input the model expects
// the engine to raise; end ends the sequence (after the burst the session is
// closed).
func (g *wireGen) special() (steps []WireStep, in fsm.Input, end, ok bool) {
	ref, o := g.ref, g.opts
	reads := ref.Reads(g.state)
	one := func(st WireStep, name string) ([]WireStep, fsm.Input, bool, bool) {
		return []WireStep{st}, ref.mustInput(name), false, true
	}
	switch {
	case reads == fsm.ReadsNone:
		if o.TLS == nil || ref.Terminal(g.state) {
			return nil, 0, false, false
		}
		if g.rng.Intn(8) == 0 {
			return one(WireStep{Directive: DirectiveBadHandshake}, tlsFailedInput)
		}
		return one(WireStep{Directive: DirectiveHandshake}, tlsReadyInput)
	case o.Autologout > 0 && g.rng.Intn(14) == 0:
		name := autologoutInput
		if ref.Step(g.state, ref.mustInput(autologoutInput), g.modes).Action != fsm.ActionClose {
			name = keepaliveInput
		}
		return one(WireStep{Directive: DirectiveSleep}, name)
	case o.CommandTimeout > 0 && g.rng.Intn(30) == 0 &&
		ref.Step(g.state, ref.mustInput(commandTimeoutInput), g.modes).Action == fsm.ActionClose:
		return one(WireStep{Data: g.tag() + g.pick(" NOO", " SELECT INB", "")}, commandTimeoutInput)
	case o.MaxLine > 0 && g.rng.Intn(12) == 0:
		if o.MaxCommand > 0 && g.rng.Intn(10) == 0 {
			return one(WireStep{Data: g.longLine(2 * o.MaxCommand)}, commandTooLargeInput)
		}
		if g.rng.Intn(3) == 0 {
			// Exactly at the limit: an ordinary line.
			st := WireStep{Data: g.longLine(o.MaxLine)}
			in, _ := ref.ClassifyWire(reads, st)
			return []WireStep{st}, in, false, true
		}
		return one(WireStep{Data: g.longLine(o.MaxLine + 1 + g.rng.Intn(o.MaxLine))}, lineTooLongInput)
	case o.Shutdown && g.rng.Intn(40) == 0:
		return one(WireStep{Directive: DirectiveShutdown}, shutdownInput)
	case o.MaxBad > 0 && g.rng.Intn(40) == 0:
		limit := o.MaxBad
		if g.state == ref.Initial() || reads == fsm.ReadsSASL {
			limit = o.MaxBadBeforeAuth
		}
		for k := 0; k < limit+1; k++ {
			steps = append(steps, WireStep{Data: g.pick(")(\r\n", "%%%\r\n", "* junk\r\n")})
		}
		return steps, 0, true, true
	}
	return nil, 0, false, false
}

// longLine returns a command line of n bytes before its CRLF.
func (g *wireGen) longLine(n int) string {
	s := g.tag() + " NOOP "
	if len(s) < n {
		s += strings.Repeat("x", n-len(s))
	}
	return s[:n] + "\r\n"
}

// pickInput draws an input with the model level's weights.
func (g *wireGen) pickInput() fsm.Input {
	total := 0
	weights := make([]int, fsm.NumInputs)
	for _, in := range g.ref.Inputs() {
		if g.ref.Kind(in) == fsm.KindEvent {
			continue // the engine raises events; a client cannot send them
		}
		weights[in] = Weight(g.ref, g.state, g.modes, in)
		switch {
		case in == fsm.InputIdle && g.ref.Reads(g.state) == fsm.ReadsCommand:
			// Each visit to IDLE decides one line there; visit it more
			// often than the model level does.
			weights[in] *= 3
		case (in == fsm.InputSelect || in == fsm.InputExamine) && g.state != g.ref.Initial():
			// Every sequence starts a fresh session: get to the
			// selected states sooner.
			weights[in] *= 2
		}
		total += weights[in]
	}
	k := g.rng.Intn(total)
	for in, w := range weights {
		if k < w {
			return fsm.Input(in)
		}
		k -= w
	}
	return fsm.InputNoop
}

// tag returns a fresh tag: A1, A2, ... and now and then an Apple-style one
// (8.569).
func (g *wireGen) tag() string {
	g.tagN++
	if g.rng.Intn(5) == 0 {
		return fmt.Sprintf("8.%d", 568+g.tagN)
	}
	return fmt.Sprintf("A%d", g.tagN)
}

func (g *wireGen) pick(xs ...string) string { return xs[g.rng.Intn(len(xs))] }

// mailbox picks a mailbox name, mostly one that exists.
func (g *wireGen) mailbox() string {
	if g.rng.Intn(4) == 0 {
		return g.pick(wireMailboxes...)
	}
	var have []string
	for _, m := range wireMailboxes {
		if g.mailboxes[m] {
			have = append(have, m)
		}
	}
	return g.pick(have...)
}

// plainAuth is the SASL PLAIN message for user and password.
func plainAuth(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + password))
}

// message returns a small RFC 5322 message.
func (g *wireGen) message() string {
	g.messages++
	return fmt.Sprintf("From: a@example.org\r\nSubject: m%d\r\n\r\nbody %d %s\r\n", g.messages, g.messages, strings.Repeat("x", g.rng.Intn(40)))
}

// render writes input in as a client line with realistic arguments, and
// says which outcome the step probably has. ok is false for inputs a client
// cannot send (events, lines over the length limit).
func (g *wireGen) render(in fsm.Input) (data string, outcome fsm.Outcome, ok bool) {
	ref := g.ref
	outcome = ref.DefaultOutcome(in)
	line := func(s string) string { return s + "\r\n" }
	cmd := func(args string) string {
		s := g.tag() + " " + ref.Wire(in)
		if args != "" {
			s += " " + args
		}
		return line(s)
	}
	exists := func(m string) fsm.Outcome {
		if g.mailboxes[m] {
			return fsm.OutcomeOK
		}
		return fsm.OutcomeNo
	}
	if ref.Kind(in) == fsm.KindCommand && ref.Wire(in) != "" && g.rng.Intn(10) == 0 {
		// A syntax error: the handler answers BAD.
		return cmd(g.pick("((", `"unterminated`, "1:* ((")), fsm.OutcomeBad, true
	}
	switch name := in.String(); {
	case in == fsm.InputLogin:
		switch g.rng.Intn(6) {
		case 0:
			return cmd(WireUser + " wrong"), fsm.OutcomeNo, true
		case 1:
			return cmd(fmt.Sprintf("{%d+}\r\n%s %s", len(WireUser), WireUser, WirePassword)), fsm.OutcomeOK, true
		case 2:
			return cmd(fmt.Sprintf("%q %q", WireUser, WirePassword)), fsm.OutcomeOK, true
		}
		return cmd(WireUser + " " + WirePassword), fsm.OutcomeOK, true
	case in == fsm.InputAuthenticate:
		switch g.rng.Intn(4) {
		case 0:
			return cmd("PLAIN " + plainAuth(WireUser, WirePassword)), fsm.OutcomeOK, true
		case 1:
			return cmd("PLAIN " + plainAuth(WireUser, "wrong")), fsm.OutcomeNo, true
		}
		return cmd("PLAIN"), fsm.OutcomeContinue, true
	case name == saslResponseName:
		if g.rng.Intn(4) == 0 {
			return line(plainAuth(WireUser, "wrong")), fsm.OutcomeNo, true
		}
		return line(plainAuth(WireUser, WirePassword)), fsm.OutcomeOK, true
	case name == saslCancelInput:
		return line("*"), outcome, true
	case in == fsm.InputSelect || in == fsm.InputExamine:
		m := g.mailbox()
		return cmd(m), exists(m), true
	case in == fsm.InputCreate:
		m := g.pick("Archive", "Box1")
		o := fsm.OutcomeOK
		if g.mailboxes[m] {
			o = fsm.OutcomeNo
		}
		g.mailboxes[m] = true
		return cmd(m), o, true
	case in == fsm.InputDelete:
		m := g.pick("Archive", "Box1", "Missing")
		o := exists(m)
		delete(g.mailboxes, m)
		return cmd(m), o, true
	case in == fsm.InputRename:
		return cmd("Box1 Box2"), exists("Box1"), true
	case in == fsm.InputSubscribe || in == fsm.InputUnsubscribe:
		return cmd(g.mailbox()), fsm.OutcomeOK, true
	case in == fsm.InputList:
		return cmd(g.pick(`"" "*"`, `"" INBOX`, `"" "%"`)), fsm.OutcomeOK, true
	case in == fsm.InputLsub:
		return cmd(`"" "*"`), fsm.OutcomeOK, true
	case in == fsm.InputStatus:
		m := g.mailbox()
		return cmd(m + " (MESSAGES UIDNEXT UNSEEN)"), exists(m), true
	case in == fsm.InputAppend:
		m := g.mailbox()
		msg := g.message()
		lit := fmt.Sprintf("{%d+}", len(msg))
		if g.rng.Intn(3) == 0 {
			lit = fmt.Sprintf("{%d}", len(msg))
		}
		flags := g.pick("", `(\Seen) `, `(\Flagged $Work) `)
		return cmd(fmt.Sprintf("%s %s%s\r\n%s", m, flags, lit, msg)), exists(m), true
	case in == fsm.InputStarttls:
		if g.opts.TLS == nil {
			return cmd(""), fsm.OutcomeNo, true
		}
		return cmd(""), fsm.OutcomeOK, true
	case in == fsm.InputIdle:
		return cmd(""), fsm.OutcomeContinue, true
	case in == fsm.InputEnable:
		return cmd(g.pick("UTF8=ACCEPT", "CONDSTORE")), fsm.OutcomeOK, true
	case in == fsm.InputCompress:
		return cmd("DEFLATE"), outcome, true
	case in == fsm.InputID:
		return cmd(g.pick("NIL", `("name" "Mail" "version" "16.0")`)), fsm.OutcomeOK, true
	case in == fsm.InputUIDExpunge:
		return cmd("1:*"), fsm.OutcomeOK, true
	case in == fsm.InputSearch || in == fsm.InputUIDSearch:
		return cmd(g.pick("ALL", "UNSEEN", "FLAGGED", "SUBJECT m1")), fsm.OutcomeOK, true
	case in == fsm.InputFetch:
		return cmd(g.pick("1:* (FLAGS UID)", "1 (BODY.PEEK[] RFC822.SIZE)", "1:* (ENVELOPE)", "*:1 FAST")), fsm.OutcomeOK, true
	case in == fsm.InputUIDFetch:
		return cmd(g.pick("1:* (FLAGS)", "1:* BODY.PEEK[HEADER.FIELDS (SUBJECT)]")), fsm.OutcomeOK, true
	case in == fsm.InputStore || in == fsm.InputUIDStore:
		return cmd(g.pick(`1:* +FLAGS (\Flagged)`, `1 +FLAGS.SILENT (\Deleted)`, `1:* -FLAGS (\Seen)`, `1 FLAGS ($Work)`)), fsm.OutcomeOK, true
	case in == fsm.InputCopy || in == fsm.InputUIDCopy || in == fsm.InputMove || in == fsm.InputUIDMove:
		return cmd(g.pick("1:* ", "1 ") + g.mailbox()), fsm.OutcomeOK, true
	case ref.Kind(in) == fsm.KindCommand && ref.Wire(in) == "":
		return line(g.tag() + " " + g.pick("XYZZY", "FROBNICATE INBOX", "GETQUOTAROOT INBOX")), outcome, true
	case ref.Kind(in) == fsm.KindCommand:
		return cmd(""), fsm.OutcomeOK, true
	case name == doneInput:
		return line(g.pick("DONE", "DONE", "done", "Done")), outcome, true
	case name == doneVariantInput || name == strayDoneInput:
		return g.pick("DONE \r\n", "DONE\n", "done\t\r\n", "DONE\r\n", "done\r\n"), outcome, true
	case name == emptyLineInput:
		return g.pick("\r\n", "\r\n", "\n"), outcome, true
	case name == unparsableInput:
		return line(g.pick(")(", "* junk", "+ stray continuation", "%%%", `"quoted" NOOP`, "A1", "\x01\x02")), outcome, true
	}
	return "", outcome, false
}

// WireConfig is one wire-level property run: a server factory, the
// reference, the global mode the servers start from, and where to record
// coverage.
type WireConfig struct {
	// Name names the server in reports and counterexample files.
	Name      string
	Factory   WireFactory
	Reference *Reference
	Global    fsm.Mode
	// OverrideOdds flips each quirk to the other mode with probability
	// 1/OverrideOdds; 0 means 4.
	OverrideOdds int
	// PipelineOdds writes a step together with the one before it with
	// probability 1/PipelineOdds; 0 means 4, negative never.
	PipelineOdds int
	Options      WireOptions
	Coverage     *Coverage
}

// WireReport is the result of a wire property run.
type WireReport struct {
	Seed           int64
	Result         *gopter.TestResult
	Counterexample *WireCounterexample
}

// Passed reports whether every sequence passed.
func (r WireReport) Passed() bool { return r.Result.Passed() }

// wireCase is one drawn sequence with its quirk modes.
type wireCase struct {
	Modes fsm.Modes
	Steps []WireStep
}

func (c wireCase) String() string {
	return FormatWireSequence(NewWireSequence(c.Modes, c.Steps), nil)
}

// Run starts a fresh server under modes, runs steps against it, and shuts
// it down; a server that does not stop cleanly adds a server-sound
// violation.
func (c *WireConfig) Run(modes fsm.Modes, steps []WireStep) *WireSession {
	target, err := c.Factory(modes)
	if err != nil {
		w := &WireSession{ref: c.Reference, modes: modes}
		w.begin(WireStep{}, true)
		w.violate(ServerSound, "start the server: %v", err)
		return w
	}
	w := RunWire(c.Reference, target, modes, steps, c.Options, c.Coverage)
	if err := target.Close(); err != nil {
		w.begin(WireStep{Data: "(shutdown)\r\n"}, true)
		w.violate(ServerSound, "%v", err)
		w.end()
	}
	return w
}

// genCase draws the modes and the steps of a sequence. Shrinking drops
// steps (gopter's slice shrinker); the modes are simplified after.
func (c *WireConfig) genCase() gopter.Gen {
	odds := c.OverrideOdds
	if odds <= 0 {
		odds = 4
	}
	pipe := c.PipelineOdds
	if pipe == 0 {
		pipe = 4
	}
	other := fsm.Strict
	if c.Global == fsm.Strict {
		other = fsm.Lenient
	}
	shrink := func(v any) gopter.Shrink {
		wc := v.(wireCase)
		return gen.SliceShrinker(gopter.NoShrinker)(wc.Steps).Map(func(steps []WireStep) wireCase {
			return wireCase{Modes: wc.Modes, Steps: steps}
		})
	}
	return func(p *gopter.GenParameters) *gopter.GenResult {
		modes := fsm.NewModes(c.Global)
		for q := fsm.Quirk(1); q < fsm.NumQuirks; q++ {
			if p.Rng.Intn(odds) == 0 {
				modes = modes.With(q, other)
			}
		}
		g := &wireGen{ref: c.Reference, modes: modes, rng: p.Rng, pipelineOdds: max(pipe, 0), opts: c.Options}
		n := p.MinSize + p.Rng.Intn(max(p.MaxSize-p.MinSize, 0)+1)
		return gopter.NewGenResult(wireCase{Modes: modes, Steps: g.generate(n)}, shrink)
	}
}

// Check runs the property with params and returns the shrunk counterexample
// if it fails.
func (c *WireConfig) Check(params *gopter.TestParameters) WireReport {
	var mu sync.Mutex
	var last *wireFailure
	p := prop.ForAll(func(wc wireCase) *gopter.PropResult {
		w := c.Run(wc.Modes, wc.Steps)
		vs := w.Violations()
		if len(vs) == 0 {
			return &gopter.PropResult{Status: gopter.PropTrue}
		}
		mu.Lock()
		last = &wireFailure{modes: wc.Modes, steps: wc.Steps, session: w}
		mu.Unlock()
		var labels []string
		for _, v := range vs {
			labels = append(labels, v.String())
		}
		return &gopter.PropResult{Status: gopter.PropFalse, Labels: labels}
	}, c.genCase())
	result := p.Check(params)
	rep := WireReport{Seed: params.Seed(), Result: result}
	if !result.Passed() && last != nil {
		f := c.simplifyModes(last)
		rep.Counterexample = &WireCounterexample{
			Name: c.Name, Seed: params.Seed(),
			Sequence: NewWireSequence(f.modes, f.steps), Records: f.session.Records(), Violations: f.session.Violations(),
		}
	}
	return rep
}

type wireFailure struct {
	modes   fsm.Modes
	steps   []WireStep
	session *WireSession
}

// simplifyModes sets each overridden quirk back to the global mode when the
// sequence still fails with the same property, as the model level does.
func (c *WireConfig) simplifyModes(f *wireFailure) *wireFailure {
	want := f.session.Violations()[0].Property
	global, overrides := splitModes(f.modes)
	for _, q := range overrides {
		try := f.modes.With(q, global)
		if w := c.Run(try, f.steps); hasProperty(w.Violations(), want) {
			f = &wireFailure{modes: try, steps: f.steps, session: w}
		}
	}
	return f
}

// WireCounterexample is a failing wire sequence with what the server did.
type WireCounterexample struct {
	Name       string
	Seed       int64
	Sequence   WireSequence
	Records    []WireRecord
	Violations []Violation
}

// Properties lists the properties the counterexample violates.
func (c *WireCounterexample) Properties() Properties {
	var ps Properties
	for _, v := range c.Violations {
		ps |= Only(v.Property)
	}
	return ps
}

// Format writes the counterexample as a wire sequence file: a header with
// the seed, then each step with comments saying what the spec decided, what
// the server answered, and where the properties failed.
func (c *WireCounterexample) Format() string {
	header := []string{
		fmt.Sprintf("Wire counterexample: server %s, seed %d, %d steps after shrinking.", c.Name, c.Seed, len(c.Sequence.Steps)),
		fmt.Sprintf("It violates %s; the lines marked !! say where.", strings.ReplaceAll(c.Properties().String(), ",", ", ")),
		"Saved under testdata/, it is replayed against the live server as a regression test.",
	}
	notes := make([][]string, len(c.Sequence.Steps))
	last := len(notes) - 1
	for _, r := range c.Records {
		i := r.Index
		var ns []string
		if r.Synthetic || i > last {
			i = last
			ns = append(ns, "then the runner sends "+strings.TrimSpace(FormatWireStep(r.Step)))
		}
		if r.Skipped {
			ns = append(ns, "not run: an earlier step failed")
		}
		ns = append(ns, r.Notes...)
		for _, resp := range r.Responses {
			ns = append(ns, "S: "+resp)
		}
		for _, v := range r.Violations {
			ns = append(ns, fmt.Sprintf("!! %s: %s", v.Property, v.Message))
		}
		if i >= 0 {
			notes[i] = append(notes[i], ns...)
		} else {
			header = append(header, ns...)
		}
	}
	return FormatWireSequence(c.Sequence, notes, header...)
}

// FileName is the file the counterexample is saved as; the wire- prefix
// makes TestWireReplay pick it up.
func (c *WireCounterexample) FileName() string {
	return "wire-" + (&Counterexample{Machine: c.Name, Seed: c.Seed}).FileName()
}
