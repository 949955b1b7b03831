package proptest

import (
	"fmt"
	"maps"
	"math/rand"
	"slices"
	"strings"

	"github.com/imapfsm/imapfsm/fsm"
)

// WireSeed renders the model level's shortest covering sequence of t
// (Reference.CoveringSequence, under global instead of lenient, with t's
// quirk in t's mode) as the bytes and directives a client sends: each step
// of the path is drawn with the generator's renderings, retried until the
// rendering aims at the path's outcome, and the events are the client
// actions that make the server raise them (a pause for the timers, a
// partial line, an over-long line, the TLS handshake, a shutdown, a burst
// of garbage for the error limit). It returns the modes to run the steps
// in, and ok false when a step needs what opts does not offer (TLS, timers
// or a line limit) or cannot be written at all.
func (r *Reference) WireSeed(t Transition, global fsm.Mode, opts WireOptions, rng *rand.Rand) (fsm.Modes, []WireStep, bool) {
	modes := fsm.NewModes(global)
	if t.Quirk != fsm.QuirkNone {
		modes = modes.With(t.Quirk, t.Mode)
	}
	last := Step{Input: t.Input, Outcome: r.DefaultOutcome(t.Input)}
	if t.Handler {
		last.Outcome = t.Outcome
	}
	// The server gives the opening facts (opts.Facts); the path starts
	// from them.
	path, _, ok := r.PathTo(t.State, func(f fsm.Facts) bool {
		return r.TransitionOf(t.State, f, t.Input, modes, last.Outcome) == t
	}, modes, opts.Facts)
	if !ok {
		return modes, nil, false
	}
	path = append(path, last)
	if t.Input.String() == corruptStreamInput {
		// Only a compressed session can send a corrupt stream: COMPRESS
		// DEFLATE where the path first reaches a state that runs it
		// (COMPRESS stays where it is).
		for i, s, f := 0, r.Initial(), opts.Facts; i < len(path); i++ {
			if r.Step(s, f, fsm.InputCompress, modes).Action == fsm.ActionExecute {
				path = slices.Insert(path, i, Step{Input: fsm.InputCompress, Outcome: fsm.OutcomeOK})
				break
			}
			s, f = advance(r, s, f, path[i], modes)
		}
	}
	for _, st := range path {
		if st.Input == fsm.InputUnsubscribe && st.Outcome == fsm.OutcomeNo && t.Quirk != fsm.QuirkTrailingSeparator {
			// UNSUBSCRIBE fails only on a name with a trailing
			// separator where that data quirk is strict; it decides
			// no cell of the session machine.
			modes = modes.With(fsm.QuirkTrailingSeparator, fsm.Strict)
		}
	}
	g := &wireGen{ref: r, modes: modes, rng: rng, opts: opts, state: r.Initial(), facts: opts.Facts,
		mailboxes: map[string]bool{"INBOX": true, "Archive": true}}
	var steps []WireStep
	bad := 0 // BAD replies in a row the path has drawn, for the error limit
	for _, st := range path {
		out, ok := g.seedStep(st, bad)
		if !ok {
			return modes, nil, false
		}
		steps = append(steps, out...)
		if st.Outcome == fsm.OutcomeBad || r.Step(g.state, g.facts, st.Input, modes).Action == fsm.ActionReject {
			bad++
		} else if r.Tagged(st.Input) {
			bad = 0
		}
		g.state, g.facts = advance(r, g.state, g.facts, st, modes)
	}
	return modes, steps, true
}

// seedStep writes one step of a covering path in the generator's predicted
// state; bad is the count of BAD replies in a row before it.
func (g *wireGen) seedStep(st Step, bad int) ([]WireStep, bool) {
	ref, o := g.ref, g.opts
	reads := ref.Reads(g.state)
	one := func(s WireStep) ([]WireStep, bool) { return []WireStep{s}, true }
	long := func(prefix string, n int) string {
		return prefix + strings.Repeat("x", max(n-len(prefix), 0)) + "\r\n"
	}
	switch st.Input.String() {
	case tlsReadyInput, tlsFailedInput:
		if o.TLS == nil {
			return nil, false
		}
		if st.Input.String() == tlsFailedInput {
			return one(WireStep{Directive: DirectiveBadHandshake})
		}
		return one(WireStep{Directive: DirectiveHandshake})
	case autologoutInput, keepaliveInput:
		if o.Autologout <= 0 || o.Keepalive <= 0 {
			return nil, false
		}
		return one(WireStep{Directive: DirectiveSleep})
	case shutdownInput:
		if !o.Shutdown {
			return nil, false
		}
		return one(WireStep{Directive: DirectiveShutdown})
	case corruptStreamInput:
		// WireSeed put a COMPRESS DEFLATE on the path.
		return one(WireStep{Directive: DirectiveCorrupt})
	case commandTimeoutInput:
		if o.CommandTimeout <= 0 {
			return nil, false
		}
		return one(WireStep{Data: g.tag() + " NOO"})
	case lineTooLongInput:
		if o.MaxLine <= 0 {
			return nil, false
		}
		return one(WireStep{Data: long(")( ", o.MaxLine+10)})
	case lineTooLongTagged:
		if o.MaxLine <= 0 {
			return nil, false
		}
		return one(WireStep{Data: long(g.tag()+" NOOP ", o.MaxLine+10)})
	case commandTooLargeInput:
		if o.MaxCommand <= 0 {
			return nil, false
		}
		return one(WireStep{Data: long(g.tag()+" NOOP ", 2*o.MaxCommand)})
	case "error-limit":
		limit := o.MaxBad
		if g.state == ref.Initial() || reads == fsm.ReadsSASL {
			limit = o.MaxBadBeforeAuth
		}
		var steps []WireStep
		for k := bad; k < limit; k++ {
			steps = append(steps, WireStep{Data: ")(\r\n"})
		}
		return steps, limit > 0
	}
	if ref.Kind(st.Input) == fsm.KindEvent {
		return nil, false
	}
	// A line: draw renderings until one aims at the path's outcome and
	// is read as the path's input in this state.
	mailboxes, selected := maps.Clone(g.mailboxes), g.selected
	for range 50 {
		g.mailboxes, g.selected = maps.Clone(mailboxes), selected
		data, outcome, ok := g.render(st.Input, st.Outcome)
		if !ok {
			continue
		}
		step := WireStep{Data: data}
		if in, _ := ref.ClassifyWire(reads, step); in != st.Input {
			continue
		}
		if ref.Step(g.state, g.facts, st.Input, g.modes).Action == fsm.ActionExecute && outcome != st.Outcome {
			continue
		}
		if (st.Input == fsm.InputFetch || st.Input == fsm.InputUIDFetch) && st.Outcome == fsm.OutcomeNo && g.selected != "" {
			// A FETCH fails on a message the server cannot decode; the
			// shortest path selects a mailbox that may hold none, so
			// append one first (APPEND leaves the state as it is).
			undecodable := "From: a@example.org\r\nSubject: seed\r\nContent-Transfer-Encoding: x-unknown\r\n\r\nbody\r\n"
			appendStep := WireStep{Data: fmt.Sprintf("%s APPEND %s {%d+}\r\n%s\r\n", g.tag(), g.selected, len(undecodable), undecodable)}
			return []WireStep{appendStep, step}, true
		}
		return one(step)
	}
	return nil, false
}
