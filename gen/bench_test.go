package gen_test

import (
	"context"
	"testing"

	looplab "github.com/looplab/fsm"
	"github.com/qmuntal/stateless"

	"github.com/imapfsm/imapfsm/fsm"
)

// benchCycle is a realistic session loop from authenticated back to
// authenticated: SELECT, IDLE, DONE, FETCH, STORE, CLOSE. Each machine
// below performs exactly these transitions.
var benchCycle = []step{
	{fsm.InputSelect, fsm.OutcomeOK},
	{fsm.InputIdle, fsm.OutcomeContinue},
	{fsm.InputDone, fsm.OutcomeOK},
	{fsm.InputFetch, fsm.OutcomeOK},
	{fsm.InputStore, fsm.OutcomeOK},
	{fsm.InputClose, fsm.OutcomeOK},
}

// event names the transition for the peer libraries, which key transitions
// by event name rather than by (input, outcome).
func event(s step) string { return s.in.String() + ":" + s.out.String() }

// BenchmarkStep measures one decision plus next-state lookup of the
// generated machine. Compare with BenchmarkStepLooplab and
// BenchmarkStepStateless in the same run (make bench-fsm prints the ratios).
func BenchmarkStep(b *testing.B) {
	modes := fsm.DefaultModes()
	state := fsm.StateAuthenticated
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		st := benchCycle[i]
		state = fsm.Step(state, plain, st.in, modes).Next(st.out)
		i++
		if i == len(benchCycle) {
			i = 0
		}
	}
	if state > fsm.NumStates {
		b.Fatal("invalid state")
	}
}

// peerTransitions derives the peer machines' transitions from the generated
// table, so that all three machines agree on the cycle.
func peerTransitions(b *testing.B) (events []looplab.EventDesc, perms [][3]string) {
	state := fsm.StateAuthenticated
	seen := map[string]bool{}
	for _, st := range benchCycle {
		next := fsm.Step(state, plain, st.in, fsm.DefaultModes()).Next(st.out)
		key := state.String() + "/" + event(st)
		if !seen[key] {
			seen[key] = true
			events = append(events, looplab.EventDesc{Name: event(st), Src: []string{state.String()}, Dst: next.String()})
			perms = append(perms, [3]string{state.String(), event(st), next.String()})
		}
		state = next
	}
	if state != fsm.StateAuthenticated {
		b.Fatalf("bench cycle ends in %v", state)
	}
	return events, perms
}

// BenchmarkStepLooplab runs the same cycle on github.com/looplab/fsm.
func BenchmarkStepLooplab(b *testing.B) {
	events, _ := peerTransitions(b)
	m := looplab.NewFSM(fsm.StateAuthenticated.String(), events, nil)
	names := make([]string, len(benchCycle))
	for i, st := range benchCycle {
		names[i] = event(st)
	}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := m.Event(ctx, names[i]); err != nil {
			if _, ok := err.(looplab.NoTransitionError); !ok {
				b.Fatal(err)
			}
		}
		i++
		if i == len(names) {
			i = 0
		}
	}
}

// BenchmarkStepStateless runs the same cycle on github.com/qmuntal/stateless.
func BenchmarkStepStateless(b *testing.B) {
	_, perms := peerTransitions(b)
	m := stateless.NewStateMachine(fsm.StateAuthenticated.String())
	for _, p := range perms {
		if p[0] == p[2] {
			m.Configure(p[0]).PermitReentry(p[1])
		} else {
			m.Configure(p[0]).Permit(p[1], p[2])
		}
	}
	names := make([]string, len(benchCycle))
	for i, st := range benchCycle {
		names[i] = event(st)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := m.Fire(names[i]); err != nil {
			b.Fatal(err)
		}
		i++
		if i == len(names) {
			i = 0
		}
	}
}
