package proptest

import (
	"bufio"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/imapfsm/imapfsm/fsm"
)

// A sequence file (testdata/*.seq) is a replayable session: IMAP-like lines,
// one step per line, for example
//
//	# Apple Mail sends tagged commands instead of DONE.
//	mode lenient
//	A1 LOGIN
//	A2 SELECT INBOX
//	8.569 IDLE
//	8.570 STATUS INBOX => no
//	DONE
//	<event autologout>
//	expect logged-out
//
// The grammar, line by line (a # starts a comment, also after a step):
//
//	mode lenient|strict|both   global quirk mode; without a mode line the
//	                           sequence is replayed in both modes
//	quirk NAME lenient|strict  per-quirk override
//	facts NAME...|none         the facts the connection opens with (the
//	                           spec's engine-given facts, e.g. tls,
//	                           plaintext-auth); without a facts line
//	                           DefaultFacts
//	TAG NAME [ARGS]            a command line; UID NAME is one command, and
//	                           a name the spec does not declare is the
//	                           unknown-command input
//	DONE                       the done input (an IDLE continuation)
//	*                          the sasl-cancel input
//	<event NAME>               an event input, e.g. <event autologout>
//	<NAME>                     any input by its spec name, e.g. <stray-done>
//	                           (a DONE line outside IDLE), <empty-line>,
//	                           <sasl-response>
//	TAG <NAME>                 a line input the spec declares tagged, with
//	                           its tag, e.g. A1 <unparsable-tagged>
//	expect STATE               the session must be in STATE at this point
//
// A step may end with "=> OUTCOME" (ok, no, bad, continue), the outcome its
// handler reports. Without it the outcome is ok, or continue for inputs that
// cannot end with ok (IDLE).

// Sequence is a parsed sequence file, or a sequence to print.
type Sequence struct {
	// Global is the mode of every quirk without an override.
	Global fsm.Mode
	// BothModes is set when the file names no global mode: the sequence is
	// replayed with each global mode, the overrides applied to both.
	BothModes bool
	Overrides []Override
	// Facts are the facts the connection opens with.
	Facts fsm.Facts
	Steps []Step
	// Expect lists the states the session must be in after some steps.
	Expect []Expectation
}

// DefaultFacts are the facts a connection of the test servers opens with,
// and those of a sequence without a facts line: no implicit TLS, and
// credentials allowed without TLS (Config.AllowInsecureAuth).
const DefaultFacts = fsm.FactPlaintextAuth

// factsLine writes the facts in the sequence-file syntax.
func factsLine(f fsm.Facts) string {
	return "facts " + strings.ReplaceAll(f.String(), "|", " ")
}

// parseFacts reads the names of a facts line.
func parseFacts(names []string) (fsm.Facts, error) {
	if len(names) == 1 && names[0] == "none" {
		return 0, nil
	}
	var f fsm.Facts
	for _, n := range names {
		x, ok := fsm.ParseFact(n)
		if !ok {
			return 0, fmt.Errorf("unknown fact %q", n)
		}
		if !fsm.EngineFacts.Has(x) {
			return 0, fmt.Errorf("fact %q starts false; the engine does not give it", n)
		}
		f |= x
	}
	return f, nil
}

// Override is a `quirk` line: one quirk in a mode other than the global one.
type Override struct {
	Quirk fsm.Quirk
	Mode  fsm.Mode
}

// Expectation is an `expect` line: after the first After steps, the session
// is in State.
type Expectation struct {
	After int
	State fsm.State
}

// NewSequence returns steps to run under modes, written as a global mode and
// the fewest overrides.
func NewSequence(modes fsm.Modes, steps []Step) Sequence {
	g, over := splitModes(modes)
	seq := Sequence{Global: g, Facts: DefaultFacts, Steps: steps}
	for _, q := range over {
		seq.Overrides = append(seq.Overrides, Override{Quirk: q, Mode: modes.Of(q)})
	}
	return seq
}

// ModesToReplay lists the quirk modes to replay the sequence in.
func (q Sequence) ModesToReplay() []fsm.Modes {
	globals := []fsm.Mode{q.Global}
	if q.BothModes {
		globals = []fsm.Mode{fsm.Lenient, fsm.Strict}
	}
	var out []fsm.Modes
	for _, g := range globals {
		m := fsm.NewModes(g)
		for _, o := range q.Overrides {
			m = m.With(o.Quirk, o.Mode)
		}
		out = append(out, m)
	}
	return out
}

// quirks lists every quirk but QuirkNone.
func quirks() []fsm.Quirk {
	out := make([]fsm.Quirk, 0, fsm.NumQuirks-1)
	for q := fsm.Quirk(1); q < fsm.NumQuirks; q++ {
		out = append(out, q)
	}
	return out
}

// splitModes writes modes as a global mode and the quirks that differ from
// it, choosing the global mode that needs fewer overrides.
func splitModes(m fsm.Modes) (fsm.Mode, []fsm.Quirk) {
	var strict []fsm.Quirk
	var lenient []fsm.Quirk
	for _, q := range quirks() {
		if m.Of(q) == fsm.Strict {
			strict = append(strict, q)
		} else {
			lenient = append(lenient, q)
		}
	}
	if len(strict) > len(lenient) {
		return fsm.Strict, lenient
	}
	return fsm.Lenient, strict
}

// ModesString describes modes in the sequence-file syntax on one line, e.g.
// "mode lenient; quirk stray-done strict".
func ModesString(m fsm.Modes) string {
	g, over := splitModes(m)
	parts := []string{"mode " + g.String()}
	for _, q := range over {
		parts = append(parts, fmt.Sprintf("quirk %s %s", q, m.Of(q)))
	}
	return strings.Join(parts, "; ")
}

// The spec names of the inputs that have a literal line form.
const (
	doneInput       = "done"
	saslCancelInput = "sasl-cancel"
	// unknownCommandName is written for the catch-all command input.
	unknownCommandName = "XYZZY"
)

// StepLine formats one step as a sequence-file line, without comment.
func (r *Reference) StepLine(st Step) string {
	var line string
	switch name := st.Input.String(); {
	case r.Kind(st.Input) == fsm.KindCommand:
		wire := r.Wire(st.Input)
		if wire == "" {
			wire = unknownCommandName
		}
		tag := st.Tag
		if tag == "" {
			tag = "A?" // numbered when a session reads it
		}
		line = tag + " " + wire
		if st.Args != "" {
			line += " " + st.Args
		}
	case name == doneInput:
		line = "DONE"
	case name == saslCancelInput:
		line = "*"
	case r.Kind(st.Input) == fsm.KindEvent:
		line = "<event " + name + ">"
	case r.Tagged(st.Input) && st.Tag != "":
		line = st.Tag + " <" + name + ">"
	default:
		line = "<" + name + ">"
	}
	if st.Outcome != r.DefaultOutcome(st.Input) {
		line += " => " + st.Outcome.String()
	}
	return line
}

// FormatSequence writes seq in the sequence-file syntax. header lines become
// comments at the top. When records are given (what a session did with the
// steps), each step gets a comment saying what the machine did, violations
// are listed under their step, and outcomes that made no difference (no
// handler ran) are dropped.
func (r *Reference) FormatSequence(seq Sequence, records []Record, header ...string) string {
	var b strings.Builder
	for _, h := range header {
		for _, l := range strings.Split(h, "\n") {
			b.WriteString(strings.TrimRight("# "+l, " ") + "\n")
		}
	}
	if seq.BothModes {
		b.WriteString("mode both\n")
	} else {
		fmt.Fprintf(&b, "mode %s\n", seq.Global)
	}
	for _, o := range seq.Overrides {
		fmt.Fprintf(&b, "quirk %s %s\n", o.Quirk, o.Mode)
	}
	if seq.Facts != DefaultFacts {
		b.WriteString(factsLine(seq.Facts) + "\n")
	}
	expect := 0
	writeExpect := func(after int) {
		for expect < len(seq.Expect) && seq.Expect[expect].After == after {
			fmt.Fprintf(&b, "expect %s\n", seq.Expect[expect].State)
			expect++
		}
	}
	writeExpect(0)
	for i, st := range seq.Steps {
		var rec *Record
		if i < len(records) {
			rec = &records[i]
			st.Tag = rec.Step.Tag
			if !rec.Handler && !rec.Skipped {
				st.Outcome = r.DefaultOutcome(st.Input)
			}
		}
		line := r.StepLine(st)
		if rec != nil {
			line = fmt.Sprintf("%-28s # %s", line, describeRecord(rec))
		}
		b.WriteString(line + "\n")
		if rec != nil {
			for _, v := range rec.Violations {
				fmt.Fprintf(&b, "#   !! %s: %s\n", v.Property, v.Message)
			}
		}
		writeExpect(i + 1)
	}
	return b.String()
}

// describeRecord summarises what the machine did with one step.
func describeRecord(rec *Record) string {
	if rec.Skipped {
		return "not run: the machine broke earlier"
	}
	var parts []string
	for i, m := range rec.Decisions {
		d := m.Decision
		p := fmt.Sprintf("%s %s", d.Rule, d.Action)
		if d.Reply != fsm.ResponseNone {
			p += " " + d.Reply.String()
		}
		if i == 0 {
			p = m.State.String() + ": " + p
		}
		parts = append(parts, p)
	}
	s := strings.Join(parts, ", then ")
	s += " → " + rec.To.String()
	if rec.Closed {
		s += " (closed)"
	}
	if len(rec.Tags) > 0 {
		s += "; " + strings.Join(rec.Tags, ", ")
	}
	return s
}

// ParseSequence reads a sequence file.
func (r *Reference) ParseSequence(text string) (Sequence, error) {
	seq := Sequence{BothModes: true, Facts: DefaultFacts}
	var errs []error
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := stripComment(sc.Text())
		if line == "" {
			continue
		}
		if err := r.parseLine(&seq, line); err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", n, err))
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, err)
	}
	return seq, errors.Join(errs...)
}

// stripComment removes a comment: a line starting with #, or " #" and what
// follows (tags never contain spaces, so " #" cannot start one).
func stripComment(line string) string {
	line = strings.TrimSpace(line)
	if strings.HasPrefix(line, "#") {
		return ""
	}
	if i := strings.Index(line, " #"); i >= 0 {
		line = line[:i]
	}
	if i := strings.Index(line, "\t#"); i >= 0 {
		line = line[:i]
	}
	return strings.TrimSpace(line)
}

func (r *Reference) parseLine(seq *Sequence, line string) error {
	fields := strings.Fields(line)
	switch fields[0] {
	case "mode":
		if len(fields) != 2 {
			return fmt.Errorf("want: mode lenient|strict|both")
		}
		if fields[1] == "both" {
			seq.BothModes = true
			return nil
		}
		m, ok := fsm.ParseMode(fields[1])
		if !ok {
			return fmt.Errorf("unknown mode %q", fields[1])
		}
		seq.BothModes, seq.Global = false, m
		return nil
	case "quirk":
		if len(fields) != 3 {
			return fmt.Errorf("want: quirk NAME lenient|strict")
		}
		q, ok := fsm.ParseQuirk(fields[1])
		if !ok {
			return fmt.Errorf("unknown quirk %q", fields[1])
		}
		m, ok := fsm.ParseMode(fields[2])
		if !ok {
			return fmt.Errorf("unknown mode %q", fields[2])
		}
		seq.Overrides = append(seq.Overrides, Override{Quirk: q, Mode: m})
		return nil
	case "facts":
		if len(fields) < 2 {
			return fmt.Errorf("want: facts NAME... or facts none")
		}
		f, err := parseFacts(fields[1:])
		if err != nil {
			return err
		}
		seq.Facts = f
		return nil
	case "expect":
		if len(fields) != 2 {
			return fmt.Errorf("want: expect STATE")
		}
		for _, s := range r.States() {
			if s.String() == fields[1] {
				seq.Expect = append(seq.Expect, Expectation{After: len(seq.Steps), State: s})
				return nil
			}
		}
		return fmt.Errorf("unknown state %q", fields[1])
	}
	st, err := r.parseStep(line)
	if err != nil {
		return err
	}
	seq.Steps = append(seq.Steps, st)
	return nil
}

// parseStep reads one step line.
func (r *Reference) parseStep(line string) (Step, error) {
	outcome := ""
	if i := strings.Index(line, "=>"); i >= 0 {
		outcome = strings.TrimSpace(line[i+2:])
		line = strings.TrimSpace(line[:i])
	}
	var st Step
	switch {
	case strings.EqualFold(line, "DONE"):
		in, ok := r.InputByName(doneInput)
		if !ok {
			return st, fmt.Errorf("the spec declares no %q input", doneInput)
		}
		st.Input = in
	case line == "*":
		in, ok := r.InputByName(saslCancelInput)
		if !ok {
			return st, fmt.Errorf("the spec declares no %q input", saslCancelInput)
		}
		st.Input = in
	case strings.HasPrefix(line, "<") && strings.HasSuffix(line, ">"):
		name := strings.TrimSpace(line[1 : len(line)-1])
		event := false
		if rest, ok := strings.CutPrefix(name, "event "); ok {
			name, event = strings.TrimSpace(rest), true
		}
		in, ok := r.InputByName(name)
		if !ok {
			return st, fmt.Errorf("the spec declares no input %q", name)
		}
		if event && r.Kind(in) != fsm.KindEvent {
			return st, fmt.Errorf("%q is not an event", name)
		}
		st.Input = in
	default:
		fields := strings.Fields(line)
		if len(fields) < 2 {
			return st, fmt.Errorf("%q: want TAG COMMAND [ARGS], DONE, *, <event NAME> or <INPUT>", line)
		}
		st.Tag = fields[0]
		if n, ok := strings.CutPrefix(fields[1], "<"); ok && len(fields) == 2 && strings.HasSuffix(n, ">") {
			in, ok := r.InputByName(strings.TrimSuffix(n, ">"))
			if !ok || !r.Tagged(in) || r.Kind(in) == fsm.KindCommand {
				return st, fmt.Errorf("%q: TAG <NAME> names a line input the spec declares tagged", line)
			}
			st.Input = in
			break
		}
		name, args := strings.ToUpper(fields[1]), fields[2:]
		if name == "UID" && len(args) > 0 {
			name, args = name+" "+strings.ToUpper(args[0]), args[1:]
		}
		st.Input = r.CommandByWire(name)
		st.Args = strings.Join(args, " ")
	}
	st.Outcome = r.DefaultOutcome(st.Input)
	if outcome != "" {
		i := slices.IndexFunc(allOutcomes(), func(o fsm.Outcome) bool { return o.String() == outcome })
		if i < 0 {
			return st, fmt.Errorf("unknown outcome %q", outcome)
		}
		o := fsm.Outcome(i)
		if !r.Produces(st.Input, o) {
			return st, fmt.Errorf("a handler of %s cannot report %s", st.Input, o)
		}
		st.Outcome = o
	}
	return st, nil
}
