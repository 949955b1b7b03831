package replay

import (
	"fmt"
	"strings"

	"github.com/imapfsm/imapfsm/fsm"
	"github.com/imapfsm/imapfsm/server"
	"github.com/imapfsm/imapfsm/server/imapwire"
)

// Step is what the machine made of one client line or event.
type Step struct {
	// LineNo is the line of the transcript.
	LineNo int `json:"line"`
	// Client is the client's line (or "<event NAME>").
	Client string `json:"client"`
	// Input is the machine input the line was read as.
	Input string `json:"input"`
	// Before and After are the states around the line.
	Before string `json:"before"`
	After  string `json:"after"`
	// Rule is the spec rule that decided; Quirk the client quirk, if any.
	Rule  string `json:"rule"`
	Quirk string `json:"quirk,omitempty"`
	// Action is what the machine did: execute, reject, ignore, notify,
	// close, or redispatch followed by the action in the origin state.
	Action string `json:"action"`
	// Outcome is the handler's outcome for executed commands, read from
	// the recorded answer (ok when it has none).
	Outcome string `json:"outcome,omitempty"`
	// Expected lists what the spec says this mode answers ("8.568 OK",
	// "* BAD"); Recorded what the recorded server answered.
	Expected []string `json:"expected,omitempty"`
	Recorded []string `json:"recorded,omitempty"`
	// Differs explains where the recording differs from the spec, or is
	// empty.
	Differs string `json:"differs,omitempty"`
}

// Replay runs the client side of a transcript through the machine in the
// given modes. The session's opening facts come from the greeting: a
// greeting that advertises LOGINDISABLED had credentials refused without
// TLS; any other had them allowed (plaintext-auth). A transcript does not
// say whether its listener was implicit TLS, so TLS starts inactive and
// becomes active with the tls-ready event.
func Replay(entries []Entry, modes fsm.Modes) []Step {
	r := &replayer{entries: entries, modes: modes, state: fsm.InitialState, facts: openingFacts(entries), used: map[int]bool{}}
	var steps []Step
	for i, e := range entries {
		switch e.Side {
		case 'C':
			steps = append(steps, r.client(i, e))
		case 'E':
			steps = append(steps, r.event(i, e))
		}
	}
	return steps
}

// openingFacts reads the opening facts from the transcript's greeting, the
// first line the server sent.
func openingFacts(entries []Entry) fsm.Facts {
	for _, e := range entries {
		if e.Side == 'S' {
			return fsm.Facts(0).With(fsm.FactPlaintextAuth, !strings.Contains(strings.ToUpper(e.Text), "LOGINDISABLED"))
		}
	}
	return fsm.FactPlaintextAuth
}

type replayer struct {
	entries []Entry
	modes   fsm.Modes
	state   fsm.State
	facts   fsm.Facts
	held    string // the tag the state holds (IDLE, AUTHENTICATE)
	used    map[int]bool
}

// completion finds the first unused recorded completion (tagged OK, NO or
// BAD) of tag after entry i, or a continuation request when plus is set and
// one comes before it.
func (r *replayer) completion(i int, tag string, plus bool) (int, string) {
	if tag == "" {
		return -1, ""
	}
	for j := i + 1; j < len(r.entries); j++ {
		e := r.entries[j]
		if e.Side != 'S' || r.used[j] {
			continue
		}
		t, rest, _ := strings.Cut(e.Text, " ")
		if plus && t == "+" {
			return j, "+"
		}
		if t == tag {
			st, _, _ := strings.Cut(rest, " ")
			st = strings.ToUpper(st)
			if st == "OK" || st == "NO" || st == "BAD" {
				return j, st
			}
		}
	}
	return -1, ""
}

// untagged finds the first unused untagged response of the given status
// in answer to entry i: after it, and before the server completes any
// command the client sent later (servers answer in order, so a pipelined
// client's next line may come first in the transcript).
func (r *replayer) untagged(i int, status string) int {
	next := r.nextClient(i)
	for j := i + 1; j < len(r.entries); j++ {
		e := r.entries[j]
		if e.Side != 'S' || r.used[j] {
			continue
		}
		if strings.HasPrefix(strings.ToUpper(e.Text), "* "+status) {
			return j
		}
		if t, _, _ := strings.Cut(e.Text, " "); j > next && t != "*" && t != "+" {
			return -1
		}
	}
	return -1
}

func (r *replayer) client(i int, e Entry) Step {
	text := e.First
	line := imapwire.Line{Text: []byte(strings.TrimSuffix(text, "\n")), HasLiteral: e.HasLiteral}
	if lit := literalAtEnd.FindString(text); lit != "" {
		line.Text = []byte(strings.TrimSuffix(text, lit))
	}
	lc := server.ClassifyLine(r.state.Reads(), line)
	st := Step{LineNo: e.LineNo, Client: e.Text, Input: lc.Input.String(), Before: r.state.String()}
	tag := lc.Tag
	if lc.Input.Kind() == fsm.KindSASL || lc.Input.Kind() == fsm.KindIdle {
		tag = r.held
	}
	r.decide(i, &st, lc.Input, tag)
	st.After = r.state.String()
	return st
}

func (r *replayer) event(i int, e Entry) Step {
	st := Step{LineNo: e.LineNo, Client: "<event " + e.Text + ">", Before: r.state.String()}
	in, ok := eventInput(e.Text)
	if !ok {
		st.Input, st.After = "?", st.Before
		st.Differs = fmt.Sprintf("unknown event %q", e.Text)
		return st
	}
	st.Input = in.String()
	r.decide(i, &st, in, "")
	st.After = r.state.String()
	return st
}

// eventInput maps an event's name to its machine input.
func eventInput(name string) (fsm.Input, bool) {
	for in := range fsm.Input(fsm.NumInputs) {
		if in.Kind() == fsm.KindEvent && in.String() == name {
			return in, true
		}
	}
	return 0, false
}

// decide steps the machine as the engine does and compares the spec's
// answer with the recorded one.
func (r *replayer) decide(i int, st *Step, in fsm.Input, tag string) {
	var diffs []string
	expect := func(what string) { st.Expected = append(st.Expected, what) }
	record := func(j int) {
		if j >= 0 {
			r.used[j] = true
			st.Recorded = append(st.Recorded, r.entries[j].Text)
		}
	}
	for round := 0; round < 3; round++ {
		d := fsm.Step(r.state, r.facts, in, r.modes)
		if st.Rule == "" {
			st.Rule = d.Rule.String()
		} else {
			st.Rule += ", then " + d.Rule.String()
		}
		if d.Quirk != fsm.QuirkNone && st.Quirk == "" {
			st.Quirk = d.Quirk.String()
		}
		if st.Action == "" {
			st.Action = d.Action.String()
		} else {
			st.Action += ", then " + d.Action.String()
		}
		if d.Pending != fsm.ResponseNone && r.held != "" {
			want := r.held + " " + d.Pending.Status()
			expect(want)
			j, got := r.completion(i, r.held, false)
			record(j)
			if got != d.Pending.Status() {
				diffs = append(diffs, fmt.Sprintf("the spec completes the held tag with %s; the server answered %s", want, orNothing(r.held, got)))
			}
			r.held = ""
		}
		outcome := fsm.OutcomeOK
		switch d.Action {
		case fsm.ActionExecute:
			j, got := r.completion(i, tag, true)
			record(j)
			switch got {
			case "+":
				outcome = fsm.OutcomeContinue
			case "NO":
				outcome = fsm.OutcomeNo
			case "BAD":
				outcome = fsm.OutcomeBad
			case "":
				if tag != "" {
					diffs = append(diffs, fmt.Sprintf("the spec runs %s, which answers; the server answered nothing", tag))
				}
				// With no answer recorded, assume the handler's success.
				if !in.Produces(outcome) {
					outcome = fsm.OutcomeContinue
				}
			}
			if !in.Produces(outcome) {
				diffs = append(diffs, fmt.Sprintf("the server answered %s, an outcome %s cannot have", got, in))
				outcome = fsm.OutcomeOK
			}
			st.Outcome = outcome.String()
			if outcome == fsm.OutcomeContinue {
				r.held = tag
			}
		case fsm.ActionReject:
			if tag != "" {
				want := tag + " " + d.Reply.Status()
				expect(want)
				j, got := r.completion(i, tag, false)
				record(j)
				if got != d.Reply.Status() {
					diffs = append(diffs, fmt.Sprintf("the spec answers %s (%s); the server answered %s", want, d.Reply.Text(), orNothing(tag, got)))
				}
			} else {
				expect("* " + d.Reply.Status())
				j := r.untagged(i, d.Reply.Status())
				record(j)
				if j < 0 {
					diffs = append(diffs, fmt.Sprintf("the spec answers * %s (%s); the server did not", d.Reply.Status(), d.Reply.Text()))
				}
			}
		case fsm.ActionNotify, fsm.ActionClose:
			expect("* " + d.Reply.Status())
			j := r.untagged(i, d.Reply.Status())
			record(j)
			if j < 0 {
				diffs = append(diffs, fmt.Sprintf("the spec sends * %s (%s); the server did not", d.Reply.Status(), d.Reply.Text()))
			}
		case fsm.ActionIgnore:
			if tag != "" && lineTagged(in) {
				if j, got := r.completion(i, tag, false); j >= 0 && j < r.nextClient(i) {
					record(j)
					diffs = append(diffs, fmt.Sprintf("the spec ignores the line; the server answered %s %s", tag, got))
				}
			}
		}
		r.state, r.facts = d.Next(outcome), d.Facts(outcome)
		if d.Action != fsm.ActionRedispatch {
			break
		}
	}
	st.Differs = strings.Join(diffs, "; ")
}

// lineTagged reports whether an input's line carries a tag of its own (a
// command or a stray DONE), as opposed to a continuation line or event.
func lineTagged(in fsm.Input) bool {
	k := in.Kind()
	return k == fsm.KindCommand || k == fsm.KindLine
}

// nextClient returns the index of the next client entry after i.
func (r *replayer) nextClient(i int) int {
	for j := i + 1; j < len(r.entries); j++ {
		if r.entries[j].Side == 'C' {
			return j
		}
	}
	return len(r.entries)
}

func orNothing(tag, status string) string {
	if status == "" {
		return "nothing"
	}
	if status == "+" {
		return "a continuation request"
	}
	return tag + " " + status
}
