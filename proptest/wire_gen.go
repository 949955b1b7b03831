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

	// draws, when not nil, is the run's memory of what earlier steps
	// aimed at (see choose).
	draws *wireDraws

	state     fsm.State
	facts     fsm.Facts
	mailboxes map[string]bool
	// selected is the mailbox the session probably has selected.
	selected string
	tagN     int
	messages int
}

// The mailbox names the generator uses; Missing is never created. A new
// account has INBOX and Archive (among the default mailboxes).
var wireMailboxes = []string{"INBOX", "Archive", "Missing"}

// generate draws n steps.
func (g *wireGen) generate(n int) []WireStep {
	g.state, g.facts = g.ref.Initial(), g.opts.Facts
	g.mailboxes = map[string]bool{"INBOX": true, "Archive": true}
	g.selected = ""
	var steps []WireStep
	for len(steps) < n {
		if st, in, end, ok := g.special(); ok {
			steps = append(steps, st...)
			if end {
				break
			}
			g.state, g.facts = advance(g.ref, g.state, g.facts, Step{Input: in, Outcome: g.ref.DefaultOutcome(in)}, g.modes)
			if g.ref.Terminal(g.state) {
				break
			}
			continue
		}
		c := g.choose()
		in := c.in
		data, outcome, ok := g.render(in, c.outcome)
		if !ok {
			continue
		}
		g.aimed(g.ref.TransitionOf(g.state, g.facts, in, g.modes, c.outcome))
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
		g.state, g.facts = advance(g.ref, g.state, g.facts, Step{Input: actual, Outcome: outcome}, g.modes)
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
	// An IDLE or SASL exchange lasts one line, so the events there get
	// their chance more often: rare(n) is true with probability 1/n, 4/n
	// in those states.
	exchange := reads == fsm.ReadsIdle || reads == fsm.ReadsSASL
	rare := func(n int) bool {
		if exchange {
			n = max(n/4, 2)
		}
		return g.rng.Intn(n) == 0
	}
	switch {
	case reads == fsm.ReadsNone:
		if o.TLS == nil || ref.Terminal(g.state) {
			return nil, 0, false, false
		}
		if g.rng.Intn(4) == 0 {
			// Command injection: bytes pipelined after STARTTLS,
			// which the server must discard, never run.
			steps = append(steps, WireStep{Data: g.tag() + " " + g.pick("LOGIN "+WireUser+" "+WirePassword, "NOOP", "SELECT INBOX") + "\r\n", Pipelined: true})
		}
		if g.rng.Intn(8) == 0 {
			return append(steps, WireStep{Directive: DirectiveBadHandshake}), ref.mustInput(tlsFailedInput), false, true
		}
		return append(steps, WireStep{Directive: DirectiveHandshake}), ref.mustInput(tlsReadyInput), false, true
	case o.MaxSkip > 0 && reads != fsm.ReadsSASL && rare(200):
		// A non-synchronising literal too large to skip: answered,
		// then BYE at once, without the payload being read.
		n := o.MaxSkip + o.MaxAppendLiteral + 1
		return one(WireStep{Data: fmt.Sprintf("%s %s {%d+}\r\n%s", g.tag(), g.pick("LOGIN", "APPEND INBOX", "SELECT"), n, strings.Repeat("z", 64))}, commandTooLargeInput)
	case reads == fsm.ReadsCommand && ref.Step(g.state, g.facts, fsm.InputAppend, g.modes).Action == fsm.ActionExecute && rare(200):
		// A disconnect in the middle of an APPEND literal.
		msg := g.message()
		return []WireStep{{Data: fmt.Sprintf("%s APPEND INBOX {%d+}\r\n%s", g.tag(), len(msg)+100, msg)}}, 0, true, true
	case o.Autologout > 0 && g.rng.Intn(14) == 0:
		name := autologoutInput
		if ref.Step(g.state, g.facts, ref.mustInput(autologoutInput), g.modes).Action != fsm.ActionClose {
			name = keepaliveInput
		}
		return one(WireStep{Directive: DirectiveSleep}, name)
	case o.CommandTimeout > 0 && g.rng.Intn(30) == 0 &&
		ref.Step(g.state, g.facts, ref.mustInput(commandTimeoutInput), g.modes).Action == fsm.ActionClose:
		return one(WireStep{Data: g.tag() + g.pick(" NOO", " SELECT INB", "")}, commandTimeoutInput)
	case o.MaxLine > 0 && rare(12):
		if o.MaxCommand > 0 && rare(10) {
			return one(WireStep{Data: g.longLine(2 * o.MaxCommand)}, commandTooLargeInput)
		}
		if g.rng.Intn(3) == 0 {
			// Exactly at the limit: an ordinary line.
			st := WireStep{Data: g.longLine(o.MaxLine)}
			in, _ := ref.ClassifyWire(reads, st)
			return []WireStep{st}, in, false, true
		}
		data := g.longLine(o.MaxLine + 1 + g.rng.Intn(o.MaxLine))
		in, _ := ref.lineTooLong(reads, data, o.MaxLine)
		return []WireStep{{Data: data}}, in, false, true
	case reads == fsm.ReadsCommand && g.state != ref.Initial() && g.rng.Intn(30) == 0:
		return g.vanishingMailbox()
	case o.Shutdown && rare(40):
		return one(WireStep{Directive: DirectiveShutdown}, shutdownInput)
	case g.facts.Has(fsm.FactCompression) && reads != fsm.ReadsNone && rare(40):
		// Bytes that are no DEFLATE on a compressed session.
		return one(WireStep{Directive: DirectiveCorrupt}, corruptStreamInput)
	case o.MaxBad > 0 && rare(40):
		limit := o.MaxBad
		if g.state == ref.Initial() || reads == fsm.ReadsSASL {
			limit = o.MaxBadBeforeAuth
		}
		for k := 0; k < limit+1; k++ {
			line := g.pick(")(\r\n", "%%%\r\n", "* junk\r\n")
			if reads == fsm.ReadsIdle && !g.modes.Tolerates(fsm.QuirkEmptyLine) {
				// Garbage would end IDLE; strict empty lines are
				// answered with an untagged BAD while it goes on.
				line = "\r\n"
			}
			steps = append(steps, WireStep{Data: line})
		}
		return steps, 0, true, true
	}
	return nil, 0, false, false
}

// vanishingMailbox opens a mailbox with a message in it, deletes it while
// it is selected, and sends commands that work on the selected mailbox:
// the server must answer them with NO [NONEXISTENT] (or run them on what
// the session still knows), never leave a tag open or fail internally.
func (g *wireGen) vanishingMailbox() ([]WireStep, fsm.Input, bool, bool) {
	const m = "Vanishing"
	msg := g.message()
	open := g.pick("SELECT", "EXAMINE")
	steps := []WireStep{
		{Data: g.tag() + " CREATE " + m + "\r\n"},
		{Data: fmt.Sprintf("%s APPEND %s {%d+}\r\n%s\r\n", g.tag(), m, len(msg), msg)},
		{Data: g.tag() + " " + open + " " + m + "\r\n"},
		{Data: g.tag() + " DELETE " + m + "\r\n"},
	}
	for k := 1 + g.rng.Intn(3); k > 0; k-- {
		steps = append(steps, WireStep{Data: g.tag() + " " + g.pick(
			"FETCH 1:* (FLAGS)", "UID FETCH 1:* (FLAGS)", `STORE 1 +FLAGS (\Seen)`, `UID STORE 1:* +FLAGS (\Flagged)`,
			"EXPUNGE", "UID EXPUNGE 1:*", "SEARCH ALL", "UID SEARCH ALL", "COPY 1 INBOX", "UID MOVE 1:* INBOX") + "\r\n"})
	}
	g.selected = ""
	in := fsm.InputSelect
	if open == "EXAMINE" {
		in = fsm.InputExamine
	}
	return steps, in, false, true
}

// longLine returns a line of n bytes before its CRLF: a command line, or
// one in four times garbage whose tag cannot be read.
func (g *wireGen) longLine(n int) string {
	s := g.tag() + " NOOP "
	if g.rng.Intn(4) == 0 {
		s = g.pick(")( ", "\x01 NOOP ", "* ")
	}
	if len(s) < n {
		s += strings.Repeat("x", n-len(s))
	}
	return s[:n] + "\r\n"
}

// wireDraws counts, over one run of the property (WireConfig.Check), how
// often the generator aimed at each transition. Later sequences favour the
// transitions earlier ones missed, so that the run spreads over the spec
// instead of repeating its commonest paths. gopter draws the sequences of a
// run one after another from one seed, so the seed still reproduces the
// run; shrinking draws nothing.
type wireDraws struct {
	mu sync.Mutex
	n  map[Transition]int
}

func newWireDraws() *wireDraws { return &wireDraws{n: map[Transition]int{}} }

// wireChoice is a client input to send and the handler outcome its line
// aims at.
type wireChoice struct {
	in      fsm.Input
	outcome fsm.Outcome
}

// choose draws the next input and the outcome to aim at. The weight of a
// choice is the model level's Weight of the input in the predicted state,
// times the share of the outcome (outcomeShare, with OutcomeWeight's
// preference for outcomes that move the session), times two factors that
// steer the run to what it has not done yet: novelty, up to 8× for a
// transition no earlier step aimed at, and frontier, which favours moves
// into states with many such transitions (the IDLE states, whose tagged
// commands are most of the spec's cells, are entered from the command
// states this way, and a tagged IDLE during lenient IDLE, which starts it
// again, counts as such a move).
func (g *wireGen) choose() wireChoice {
	var choices []wireChoice
	var weights []float64
	total := 0.0
	unexplored := map[fsm.State]int{}
	for _, in := range g.ref.Inputs() {
		if g.ref.Kind(in) == fsm.KindEvent {
			continue // the engine raises events; a client cannot send them
		}
		base := float64(Weight(g.ref, g.state, g.facts, g.modes, in))
		d := g.ref.Step(g.state, g.facts, in, g.modes)
		if in == fsm.InputIdle && g.ref.Reads(g.state) == fsm.ReadsCommand {
			// Each visit to IDLE decides one line there, and the IDLE
			// states decide most of the spec's cells (every command,
			// in both modes of idle-tagged-command): visit them often.
			base *= idleVisits
		}
		outcomes := []fsm.Outcome{g.ref.DefaultOutcome(in)}
		sum := 1.0
		if d.Action == fsm.ActionExecute {
			outcomes, sum = g.ref.Outcomes(in), 0
			for _, o := range outcomes {
				sum += g.outcomeShare(in, o)
			}
		}
		for _, o := range outcomes {
			share := 1.0
			if d.Action == fsm.ActionExecute {
				share = g.outcomeShare(in, o) / sum * float64(OutcomeWeight(g.ref, g.state, g.facts, g.modes, in, o))
			}
			if share == 0 {
				continue
			}
			w := base * share
			// A move, or a line that ends IDLE and starts it again
			// (Apple's "8.570 IDLE" in lenient mode): frontier.
			next, _ := advance(g.ref, g.state, g.facts, Step{Input: in, Outcome: o}, g.modes)
			again := next == g.state && g.ref.Reads(g.state) == fsm.ReadsIdle
			if (next != g.state || again) && g.ref.Reads(next) != fsm.ReadsNone {
				n, ok := unexplored[next]
				if !ok {
					n = g.unexplored(next)
					unexplored[next] = n
				}
				w *= 1 + float64(n)/frontierDivisor
			} else {
				w *= g.novelty(g.ref.TransitionOf(g.state, g.facts, in, g.modes, o))
			}
			choices = append(choices, wireChoice{in: in, outcome: o})
			weights = append(weights, w)
			total += w
		}
	}
	k := g.rng.Float64() * total
	for i, w := range weights {
		if k < w {
			return choices[i]
		}
		k -= w
	}
	return choices[len(choices)-1]
}

// novelty is the factor for a transition the run aimed at n times before:
// 8 for none, falling towards 1.
func (g *wireGen) novelty(t Transition) float64 {
	if g.draws == nil {
		return 1
	}
	return 1 + 7/float64(1+g.draws.n[t])
}

// unexplored counts the transitions of s no step of the run aimed at yet,
// among the client lines s reads.
func (g *wireGen) unexplored(s fsm.State) int {
	if g.draws == nil {
		return 0
	}
	n := 0
	for _, in := range g.ref.Inputs() {
		if g.ref.Kind(in) == fsm.KindEvent {
			continue
		}
		if g.draws.n[g.ref.TransitionOf(s, g.facts, in, g.modes, g.ref.DefaultOutcome(in))] == 0 {
			n++
		}
	}
	return n
}

// aimed notes that a step aimed at t.
func (g *wireGen) aimed(t Transition) {
	if g.draws != nil {
		g.draws.n[t]++
	}
}

// outcomeShare is how often an executed input aims at outcome o: mostly
// success, a failure where the generator can write a line the server
// refuses with NO (noLine), a syntax error now and then, and the
// continuation of IDLE and AUTHENTICATE without an initial response. It is
// zero for outcomes the generator cannot aim at.
func (g *wireGen) outcomeShare(in fsm.Input, o fsm.Outcome) float64 {
	switch o {
	case fsm.OutcomeOK:
		if in == fsm.InputStarttls && g.opts.TLS == nil {
			return 0
		}
		return 6
	case fsm.OutcomeNo:
		if g.noLine(in) {
			return 2
		}
	case fsm.OutcomeBad:
		if g.ref.Wire(in) != "" || in.String() == saslResponseName {
			return 2
		}
	case fsm.OutcomeContinue:
		switch in {
		case fsm.InputIdle:
			return 6
		case fsm.InputAuthenticate:
			return 3
		}
	}
	return 0
}

// noLine reports whether the generator can write a line of in that the
// server refuses with NO: wrong credentials, a missing mailbox, a
// destination that does not exist, an unsupported charset or NOTIFY
// event, STARTTLS on a server without TLS, a trailing separator where
// that quirk is strict.
func (g *wireGen) noLine(in fsm.Input) bool {
	switch in {
	case fsm.InputLogin, fsm.InputAuthenticate, fsm.InputSelect, fsm.InputExamine,
		fsm.InputCreate, fsm.InputDelete, fsm.InputRename, fsm.InputSubscribe,
		fsm.InputStatus, fsm.InputAppend, fsm.InputSearch, fsm.InputUIDSearch,
		fsm.InputCopy, fsm.InputUIDCopy, fsm.InputMove, fsm.InputUIDMove,
		fsm.InputGetquota, fsm.InputGetquotaroot, fsm.InputSetquota,
		fsm.InputGetmetadata, fsm.InputSetmetadata, fsm.InputNotify,
		fsm.InputSort, fsm.InputUIDSort, fsm.InputThread, fsm.InputUIDThread:
		return true
	case fsm.InputFetch, fsm.InputUIDFetch:
		return true
	case fsm.InputStarttls:
		return g.opts.TLS == nil
	case fsm.InputUnsubscribe:
		return !g.modes.Tolerates(fsm.QuirkTrailingSeparator)
	}
	return in.String() == saslResponseName
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
	cte := ""
	if g.rng.Intn(4) == 0 {
		cte = "Content-Transfer-Encoding: x-unknown\r\n"
	}
	return fmt.Sprintf("From: a@example.org\r\nSubject: m%d\r\n%s\r\nbody %d %s\r\n", g.messages, cte, g.messages, strings.Repeat("x", g.rng.Intn(40)))
}

// render writes input in as a client line with realistic arguments, aiming
// at outcome want (a line that succeeds, fails with NO, has a syntax error,
// or starts an exchange), and says which outcome the step probably has. ok
// is false for inputs a client cannot send (events, lines over the length
// limit). The kinds of line are tried in order; the first that knows the
// input writes it.
func (g *wireGen) render(in fsm.Input, want fsm.Outcome) (data string, outcome fsm.Outcome, ok bool) {
	r := &wireRender{g: g, in: in, want: want, fails: want == fsm.OutcomeNo, outcome: g.ref.DefaultOutcome(in)}
	for _, kind := range []func() (string, fsm.Outcome, bool){
		r.overLimit, r.syntaxError, r.session, r.mailboxCommand, r.mailboxData, r.messageCommand, r.otherLine,
	} {
		if data, outcome, ok := kind(); ok {
			return data, outcome, true
		}
	}
	return "", r.outcome, false
}

// wireRender is one call of render: the input, the outcome aimed at, and
// the helpers its kinds of line share.
type wireRender struct {
	g       *wireGen
	in      fsm.Input
	want    fsm.Outcome
	fails   bool        // want is NO
	outcome fsm.Outcome // the reference's default outcome of in
}

// line ends s with CRLF.
func (r *wireRender) line(s string) string { return s + "\r\n" }

// cmd writes the input's command with a fresh tag and args.
func (r *wireRender) cmd(args string) string {
	s := r.g.tag() + " " + r.g.ref.Wire(r.in)
	if args != "" {
		s += " " + args
	}
	return r.line(s)
}

// exists is the outcome of a command on mailbox m: OK when it exists.
func (r *wireRender) exists(m string) fsm.Outcome {
	if r.g.mailboxes[m] {
		return fsm.OutcomeOK
	}
	return fsm.OutcomeNo
}

// overLimit writes a literal over a configured limit, for LOGIN aiming at
// BAD and APPEND aiming at NO (one time in three).
func (r *wireRender) overLimit() (data string, outcome fsm.Outcome, ok bool) {
	g, in, want, fails, cmd := r.g, r.in, r.want, r.fails, r.cmd
	o := g.opts
	if in == fsm.InputLogin && want == fsm.OutcomeBad && o.MaxLiteral > 0 && g.rng.Intn(3) == 0 {
		// A literal over the limit: synchronising (no "+", nothing
		// read) or, where that is small, non-synchronising (skipped).
		n := o.MaxLiteral + 1
		if n <= 4096 && n <= o.MaxSkip && g.rng.Intn(2) == 0 {
			return cmd(fmt.Sprintf("{%d+}\r\n%s %s", n, strings.Repeat("u", n), WirePassword)), fsm.OutcomeBad, true
		}
		return cmd(fmt.Sprintf("{%d}\r\n%s %s", n, strings.Repeat("u", n), WirePassword)), fsm.OutcomeBad, true
	}
	if in == fsm.InputAppend && fails && o.MaxAppendLiteral > 0 && g.rng.Intn(3) == 0 {
		// Over APPENDLIMIT: NO [TOOBIG] (RFC 7889), before "+" or
		// after skipping a non-synchronising literal.
		n := o.MaxAppendLiteral + 1
		if n <= 8192 && n <= o.MaxSkip && g.rng.Intn(2) == 0 {
			return cmd(fmt.Sprintf("INBOX {%d+}\r\n%s", n, strings.Repeat("m", n))), fsm.OutcomeNo, true
		}
		return cmd(fmt.Sprintf("INBOX {%d}\r\n%s", n, strings.Repeat("m", n))), fsm.OutcomeNo, true
	}
	return "", r.outcome, false
}

// syntaxError writes a command with a syntax error, for every command
// aiming at BAD and one time in ten otherwise.
func (r *wireRender) syntaxError() (data string, outcome fsm.Outcome, ok bool) {
	g, in, want, ref, cmd := r.g, r.in, r.want, r.g.ref, r.cmd
	if ref.Kind(in) == fsm.KindCommand && ref.Wire(in) != "" && (want == fsm.OutcomeBad || g.rng.Intn(10) == 0) {
		// A syntax error: the handler answers BAD, where it runs.
		return cmd(g.pick("((", `"unterminated`, "1:* ((")), fsm.OutcomeBad, true
	}
	return "", r.outcome, false
}

// session writes the commands and lines of authentication and the
// session: LOGIN, AUTHENTICATE and its responses, STARTTLS, IDLE, ENABLE,
// COMPRESS, ID.
func (r *wireRender) session() (data string, outcome fsm.Outcome, ok bool) {
	g, in, want, fails, cmd, line := r.g, r.in, r.want, r.fails, r.cmd, r.line
	outcome = r.outcome
	switch name := in.String(); {
	case in == fsm.InputLogin:
		if fails {
			return cmd(WireUser + " wrong"), fsm.OutcomeNo, true
		}
		switch g.rng.Intn(4) {
		case 0:
			return cmd(fmt.Sprintf("{%d+}\r\n%s %s", len(WireUser), WireUser, WirePassword)), fsm.OutcomeOK, true
		case 1:
			return cmd(fmt.Sprintf("%q %q", WireUser, WirePassword)), fsm.OutcomeOK, true
		}
		return cmd(WireUser + " " + WirePassword), fsm.OutcomeOK, true
	case in == fsm.InputAuthenticate:
		switch want {
		case fsm.OutcomeContinue:
			// No initial response: the client answers the empty
			// challenge on the next line (sasl-response, sasl-cancel).
			return cmd("PLAIN"), fsm.OutcomeContinue, true
		case fsm.OutcomeNo:
			return cmd(g.pick("PLAIN "+plainAuth(WireUser, "wrong"), "XOAUTH2 "+plainAuth(WireUser, WirePassword))), fsm.OutcomeNo, true
		}
		return cmd("PLAIN " + plainAuth(WireUser, WirePassword)), fsm.OutcomeOK, true
	case name == saslResponseName:
		switch want {
		case fsm.OutcomeNo:
			return line(g.pick(plainAuth(WireUser, "wrong"), plainAuth("", WirePassword))), fsm.OutcomeNo, true
		case fsm.OutcomeBad:
			// No base64, or base64 of no PLAIN message (an empty
			// response among them).
			return line(g.pick("%%%", "not base64!", "=", plainAuth(WireUser, WirePassword)[1:], "", "dXNlcg==")), fsm.OutcomeBad, true
		}
		return line(plainAuth(WireUser, WirePassword)), fsm.OutcomeOK, true
	case name == saslCancelInput:
		return line("*"), outcome, true
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
		if want == fsm.OutcomeBad {
			// DEFLATE is the only mechanism (RFC 4978 3).
			return cmd(g.pick("LZW", "X-ZSTD", "")), fsm.OutcomeBad, true
		}
		return cmd(g.pick("DEFLATE", "deflate")), fsm.OutcomeOK, true
	case in == fsm.InputID:
		return cmd(g.pick("NIL", `("name" "Mail" "version" "16.0")`)), fsm.OutcomeOK, true
	}
	return "", r.outcome, false
}

// mailboxCommand writes the commands that select, create, delete, rename
// and subscribe to mailboxes, keeping the generator's view of which
// mailboxes exist and which is selected.
func (r *wireRender) mailboxCommand() (data string, outcome fsm.Outcome, ok bool) {
	g, in, fails, cmd, exists := r.g, r.in, r.fails, r.cmd, r.exists
	switch {
	case in == fsm.InputSelect || in == fsm.InputExamine:
		m := g.mailbox()
		if fails {
			m = "Missing"
		}
		g.selected = ""
		if exists(m) == fsm.OutcomeOK {
			g.selected = m
		}
		return cmd(m), exists(m), true
	case in == fsm.InputClose || in == fsm.InputUnselect:
		g.selected = ""
		return cmd(""), fsm.OutcomeOK, true
	case in == fsm.InputCreate:
		m := g.pick("Archive", "Box1")
		if fails {
			m = g.pick("INBOX", "Archive", "Box1")
		}
		o := fsm.OutcomeOK
		if g.mailboxes[m] {
			o = fsm.OutcomeNo
		}
		g.mailboxes[m] = true
		return cmd(m), o, true
	case in == fsm.InputDelete:
		m := g.pick("Archive", "Box1", "Missing")
		if g.selected != "" && g.selected != "INBOX" && g.rng.Intn(2) == 0 {
			// The selected mailbox: the mailbox commands after it
			// fail with NO [NONEXISTENT] until the session leaves it.
			m = g.selected
		}
		if fails {
			m = g.pick("INBOX", "Missing")
		}
		o := exists(m)
		if m == "INBOX" {
			o = fsm.OutcomeNo
		} else {
			delete(g.mailboxes, m)
		}
		return cmd(m), o, true
	case in == fsm.InputRename:
		from := g.pick("Box1", "Archive")
		if fails {
			from = "Missing"
		}
		o := exists(from)
		if o == fsm.OutcomeOK && !g.mailboxes["Box2"] {
			delete(g.mailboxes, from)
			g.mailboxes["Box2"] = true
		} else {
			o = fsm.OutcomeNo
		}
		return cmd(from + " Box2"), o, true
	case in == fsm.InputSubscribe:
		m := g.mailbox()
		if fails {
			m = "Missing"
		}
		return cmd(m), exists(m), true
	case in == fsm.InputUnsubscribe:
		if fails {
			// The trailing-separator quirk, strict: NO [NONEXISTENT].
			return cmd(g.pick(wireMailboxes...) + "/"), fsm.OutcomeNo, true
		}
		return cmd(g.mailbox()), fsm.OutcomeOK, true
	}
	return "", r.outcome, false
}

// mailboxData writes the commands that read or add to mailboxes: LIST,
// LSUB, STATUS, the QUOTA commands and APPEND.
func (r *wireRender) mailboxData() (data string, outcome fsm.Outcome, ok bool) {
	g, in, fails, cmd, exists := r.g, r.in, r.fails, r.cmd, r.exists
	switch {
	case in == fsm.InputList:
		return cmd(g.pick(`"" "*"`, `"" INBOX`, `"" "%"`)), fsm.OutcomeOK, true
	case in == fsm.InputLsub:
		return cmd(`"" "*"`), fsm.OutcomeOK, true
	case in == fsm.InputStatus:
		m := g.mailbox()
		if fails {
			m = "Missing"
		}
		return cmd(m + " (MESSAGES UIDNEXT UNSEEN)"), exists(m), true
	case in == fsm.InputGetquota:
		if fails {
			return cmd("Other"), fsm.OutcomeNo, true
		}
		return cmd(`""`), fsm.OutcomeOK, true
	case in == fsm.InputGetquotaroot:
		m := g.mailbox()
		if fails {
			m = "Missing"
		}
		return cmd(m), exists(m), true
	case in == fsm.InputNotify:
		if fails {
			// An event the server does not support: NO [BADEVENT].
			return cmd(g.pick("SET (personal (AnnotationChange))", "SET (selected (MessageNew MessageExpunge AnnotationChange))")), fsm.OutcomeNo, true
		}
		return cmd(g.pick("NONE",
			"SET (selected (MessageNew MessageExpunge))",
			"SET STATUS (personal (MessageNew MessageExpunge FlagChange))",
			"SET (selected-delayed (MessageNew (UID FLAGS) MessageExpunge)) (subtree Box1 (MailboxName SubscriptionChange))",
		)), fsm.OutcomeOK, true
	case in == fsm.InputSetquota:
		// Not offered (no QUOTASET): always NO [NOPERM].
		return cmd(g.pick(`"" (STORAGE 512)`, `"" (MESSAGE 10 STORAGE 1024)`)), fsm.OutcomeNo, true
	case in == fsm.InputGetmetadata:
		m := g.mailbox()
		if fails {
			m = "Missing"
		}
		if g.rng.Intn(3) == 0 {
			// Server entries: the mailbox "" always exists.
			return cmd(g.pick(`"" /shared/comment`, `(DEPTH infinity) "" /shared`)), fsm.OutcomeOK, true
		}
		return cmd(m + " " + g.pick("/private/comment", "(/private/comment /shared/comment)", "(MAXSIZE 10 DEPTH 1) /private")), exists(m), true
	case in == fsm.InputSetmetadata:
		m := g.mailbox()
		if fails {
			m = "Missing"
		}
		return cmd(m + " " + g.pick(`(/private/comment "note")`, "(/shared/comment NIL)", "(/private/comment {4+}\r\nnote /shared/comment \"x\")")), exists(m), true
	case in == fsm.InputAppend:
		m := g.mailbox()
		if fails {
			m = "Missing"
		}
		msg := g.message()
		lit := fmt.Sprintf("{%d+}", len(msg))
		if g.rng.Intn(3) == 0 {
			lit = fmt.Sprintf("{%d}", len(msg))
		}
		flags := g.pick("", `(\Seen) `, `(\Flagged $Work) `)
		return cmd(fmt.Sprintf("%s %s%s\r\n%s", m, flags, lit, msg)), exists(m), true
	}
	return "", r.outcome, false
}

// messageCommand writes the commands on the messages of the selected
// mailbox: SEARCH, SORT, THREAD, FETCH, STORE, COPY, MOVE, UID EXPUNGE.
func (r *wireRender) messageCommand() (data string, outcome fsm.Outcome, ok bool) {
	g, in, fails, cmd, exists := r.g, r.in, r.fails, r.cmd, r.exists
	switch {
	case in == fsm.InputUIDExpunge:
		return cmd("1:*"), fsm.OutcomeOK, true
	case in == fsm.InputSearch || in == fsm.InputUIDSearch:
		if fails {
			return cmd("CHARSET ISO-8859-1 ALL"), fsm.OutcomeNo, true
		}
		return cmd(g.pick("ALL", "UNSEEN", "FLAGGED", "SUBJECT m1",
			"RETURN (UPDATE COUNT) UNSEEN", "RETURN (CONTEXT PARTIAL 1:2) ALL")), fsm.OutcomeOK, true
	case in == fsm.InputSort || in == fsm.InputUIDSort:
		if fails {
			return cmd("(DATE) ISO-8859-1 ALL"), fsm.OutcomeNo, true
		}
		return cmd(g.pick("(DATE) UTF-8 ALL", "(REVERSE ARRIVAL SUBJECT) UTF-8 UNSEEN",
			"RETURN (MIN MAX COUNT) (FROM) US-ASCII ALL", "(DISPLAYFROM SIZE) UTF-8 SUBJECT m1",
			"RETURN (UPDATE) (SUBJECT) UTF-8 FLAGGED")), fsm.OutcomeOK, true
	case in == fsm.InputCancelupdate:
		// A tag that names no update context is accepted too.
		return cmd(g.pick(`"A1"`, `"A2" "8.570"`)), fsm.OutcomeOK, true
	case in == fsm.InputThread || in == fsm.InputUIDThread:
		if fails {
			return cmd("REFERENCES ISO-8859-1 ALL"), fsm.OutcomeNo, true
		}
		return cmd(g.pick("REFERENCES UTF-8 ALL", "ORDEREDSUBJECT UTF-8 UNSEEN")), fsm.OutcomeOK, true
	case (in == fsm.InputFetch || in == fsm.InputUIDFetch) && fails:
		// A message with an unknown transfer encoding cannot be
		// decoded: NO [UNKNOWN-CTE] (RFC 3516 4.2).
		return cmd("1:* BINARY.PEEK[1]"), fsm.OutcomeNo, true
	case in == fsm.InputFetch:
		return cmd(g.pick("1:* (FLAGS UID)", "1 (BODY.PEEK[] RFC822.SIZE)", "1:* (ENVELOPE)", "*:1 FAST")), fsm.OutcomeOK, true
	case in == fsm.InputUIDFetch:
		return cmd(g.pick("1:* (FLAGS)", "1:* BODY.PEEK[HEADER.FIELDS (SUBJECT)]")), fsm.OutcomeOK, true
	case in == fsm.InputStore || in == fsm.InputUIDStore:
		return cmd(g.pick(`1:* +FLAGS (\Flagged)`, `1 +FLAGS.SILENT (\Deleted)`, `1:* -FLAGS (\Seen)`, `1 FLAGS ($Work)`)), fsm.OutcomeOK, true
	case in == fsm.InputCopy || in == fsm.InputUIDCopy || in == fsm.InputMove || in == fsm.InputUIDMove:
		m := g.mailbox()
		if fails {
			m = "Missing"
		}
		// With no message to copy there is nothing to fail.
		return cmd(g.pick("1:* ", "1 ") + m), exists(m), true
	}
	return "", r.outcome, false
}

// otherLine writes what is left: unknown commands, commands without
// arguments, and the lines that are not commands (DONE and its variants,
// empty and unparsable lines).
func (r *wireRender) otherLine() (data string, outcome fsm.Outcome, ok bool) {
	g, in, ref, cmd, line := r.g, r.in, r.g.ref, r.cmd, r.line
	outcome = r.outcome
	switch name := in.String(); {
	case ref.Kind(in) == fsm.KindCommand && ref.Wire(in) == "":
		return line(g.tag() + " " + g.pick("XYZZY", "FROBNICATE INBOX", "GETACL INBOX")), outcome, true
	case ref.Kind(in) == fsm.KindCommand:
		return cmd(""), fsm.OutcomeOK, true
	case name == doneInput:
		return line(g.pick("DONE", "DONE", "done", "Done")), outcome, true
	case name == doneVariantInput || name == strayDoneInput:
		return g.pick("DONE \r\n", "DONE\n", "done\t\r\n", "DONE\r\n", "done\r\n"), outcome, true
	case name == emptyLineInput:
		return g.pick("\r\n", "\r\n", "\n"), outcome, true
	case name == unparsableInput:
		return line(g.pick(")(", "* junk", "+ stray continuation", "%%%", `"quoted" NOOP`, "\x01\x02", "\x00 NOOP", "A1\x00 NOOP")), outcome, true
	case name == unparsableTagged:
		return line(g.tag() + g.pick("", " )(", " \x00\x01\x02 NOOP", " NO\x00OP", " (junk")), outcome, true
	}
	return "", r.outcome, false
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
	draws := newWireDraws()
	return func(p *gopter.GenParameters) *gopter.GenResult {
		modes := fsm.NewModes(c.Global)
		for q := fsm.Quirk(1); q < fsm.NumQuirks; q++ {
			if p.Rng.Intn(odds) == 0 {
				modes = modes.With(q, other)
			}
		}
		g := &wireGen{ref: c.Reference, modes: modes, rng: p.Rng, pipelineOdds: max(pipe, 0), opts: c.Options, draws: draws}
		n := p.MinSize + p.Rng.Intn(max(p.MaxSize-p.MinSize, 0)+1)
		draws.mu.Lock()
		defer draws.mu.Unlock()
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

// frontierDivisor: a move into a state with n transitions no step aimed at
// yet weighs 1 + n/frontierDivisor times its share.
const frontierDivisor = 4

// idleVisits multiplies the weight of IDLE in the command states.
const idleVisits = 5
