package lmtpprop

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/lmtp/lmtpfsm"
)

// mutant is a broken LMTP machine and the property that must catch it.
type mutant struct {
	name string
	prop Property
	// live is false for mutants only exploration can find (liveness).
	live   bool
	mutate func(s lmtpfsm.State, in lmtpfsm.Input, d Decision) Decision
}

var mutants = []mutant{
	{"QUIT moves to an undeclared state", PropValidState, true, func(s lmtpfsm.State, in lmtpfsm.Input, d Decision) Decision {
		if in == lmtpfsm.InputQuit && d.Action == lmtpfsm.ActionExecute {
			d.Targets = To(InvalidState)
		}
		return d
	}},
	{"LHLO leaves the closed state", PropTerminalAbsorbing, true, func(s lmtpfsm.State, in lmtpfsm.Input, d Decision) Decision {
		if s == lmtpfsm.StateClosed && in == lmtpfsm.InputLHLO {
			d.Action, d.Targets = lmtpfsm.ActionExecute, To(lmtpfsm.StateReady)
		}
		return d
	}},
	{"an unknown command is ignored after LHLO", PropOneReply, true, func(s lmtpfsm.State, in lmtpfsm.Input, d Decision) Decision {
		if s == lmtpfsm.StateReady && in == lmtpfsm.InputUnknownCommand {
			d.Action, d.Reply = lmtpfsm.ActionIgnore, lmtpfsm.ResponseNone
		}
		return d
	}},
	{"a rejection without a reply", PropOneReply, true, func(s lmtpfsm.State, in lmtpfsm.Input, d Decision) Decision {
		if in == lmtpfsm.InputNotImplemented && d.Action == lmtpfsm.ActionReject {
			d.Reply = lmtpfsm.ResponseNone
		}
		return d
	}},
	{"DATA runs without an accepted recipient", PropPerRecipient, true, func(s lmtpfsm.State, in lmtpfsm.Input, d Decision) Decision {
		if s == lmtpfsm.StateSender && in == lmtpfsm.InputData {
			d.Action, d.Reply = lmtpfsm.ActionExecute, lmtpfsm.ResponseNone
			d.Targets = To(lmtpfsm.StateSender)
			d.Targets[lmtpfsm.OutcomeContinue] = lmtpfsm.StateMessage
		}
		return d
	}},
	{"the end of the message is ignored, its replies dropped", PropPerRecipient, true, func(s lmtpfsm.State, in lmtpfsm.Input, d Decision) Decision {
		if s == lmtpfsm.StateMessage && in == lmtpfsm.InputDataEnd {
			d.Action = lmtpfsm.ActionIgnore
		}
		return d
	}},
	{"unknown commands answered as not implemented", PropMatchesSpec, true, func(s lmtpfsm.State, in lmtpfsm.Input, d Decision) Decision {
		if in == lmtpfsm.InputUnknownCommand && d.Action == lmtpfsm.ActionReject {
			d.Reply = lmtpfsm.ResponseNotImplemented
		}
		return d
	}},
	{"discarded data never ends", PropLiveness, false, func(s lmtpfsm.State, in lmtpfsm.Input, d Decision) Decision {
		if s == lmtpfsm.StateDiscard && in == lmtpfsm.InputDataEnd {
			d.Targets = To(lmtpfsm.StateDiscard)
		}
		return d
	}},
}

func (m mutant) machine() Machine {
	return MachineFunc(func(s lmtpfsm.State, in lmtpfsm.Input, md lmtpfsm.Modes) Decision {
		return m.mutate(s, in, FSM{}.Step(s, in, md))
	})
}

// TestLMTPMutantsAreCaught is the meta-test: each broken machine fails the
// random runs with every property on and with only its own property on,
// and exploration finds it; each property has a mutant, so each can fail.
func TestLMTPMutantsAreCaught(t *testing.T) {
	seed, _ := runSettings(t)
	ref := loadRef(t)
	covered := map[Property]bool{}
	for _, mu := range mutants {
		t.Run(mu.name, func(t *testing.T) {
			covered[mu.prop] = true
			only := map[Property]bool{mu.prop: true}
			if mu.live {
				failure := checkRandom(t, mu.machine(), ref, nil, nil, seed, 1000)
				assert.NotEmpty(t, failure, "random runs miss the mutant")
				failure = checkRandom(t, mu.machine(), ref, only, nil, seed, 1000)
				assert.Contains(t, failure, mu.prop.String()+":", "random runs with only %s miss the mutant", mu.prop)
				t.Logf("caught: %s", firstLine(failure))
			}
			found := false
			for _, modes := range ExplorationModes() {
				if _, _, err := Explore(mu.machine(), ref, modes, only); err != nil {
					var v *Violation
					require.ErrorAs(t, err, &v)
					assert.Equal(t, mu.prop, v.Property)
					found = true
					break
				}
			}
			assert.True(t, found, "exploration misses the mutant")
		})
	}
	for p := Property(0); p < numProperties; p++ {
		assert.True(t, covered[p], "property %s has no mutant", p)
	}
}

func firstLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}
