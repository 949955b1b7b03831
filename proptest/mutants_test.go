package proptest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/fsm"
)

// metaSeed makes the meta-tests deterministic; -seed overrides it.
const metaSeed = 20261127

// maxShrunkSteps bounds the length of a mutant's shrunk counterexample: the
// defects below need at most a login, a SELECT, an IDLE and the offending
// input, so a longer result means shrinking got worse.
const maxShrunkSteps = 8

// mutant is a deliberately broken machine: the generated machine with some
// decisions overridden.
type mutant struct {
	name string
	// catches is the property that must catch the mutant on its own, with
	// every other property off.
	catches Property
	edit    func(ref *Reference, s fsm.State, in fsm.Input, d Decision) Decision
}

func (mu mutant) machine(ref *Reference) Machine {
	return MachineFunc(func(s fsm.State, f fsm.Facts, in fsm.Input, m fsm.Modes) Decision {
		return mu.edit(ref, s, in, FSM{}.Step(s, f, in, m))
	})
}

func isIdle(ref *Reference, s fsm.State) bool { return ref.Reads(s) == fsm.ReadsIdle }

func inputNamed(ref *Reference, name string) fsm.Input {
	in, ok := ref.InputByName(name)
	if !ok {
		panic("the spec declares no input " + name)
	}
	return in
}

// mutants lists the broken machines the properties must catch.
func mutants() []mutant {
	return []mutant{{
		// WildDuck (zone-eu/wildduck#684), as seen from the IDLE tag: the
		// tagged line gets BAD, IDLE ends, and the IDLE tag is never
		// completed.
		name:    "a1-wildduck-idle-tag-never-completed",
		catches: TagCompletion,
		edit: func(ref *Reference, s fsm.State, in fsm.Input, d Decision) Decision {
			if isIdle(ref, s) && ref.Tagged(in) {
				return Decision{Action: fsm.ActionReject, Reply: fsm.ResponseCommandDuringIdle, Rule: d.Rule, Quirk: d.Quirk, Targets: To(ref.Origin(s))}
			}
			return d
		},
	}, {
		// WildDuck as the quirk notes describe it: the IDLE tag gets BAD
		// and the new command is swallowed, never answered.
		name:    "a2-wildduck-command-swallowed",
		catches: TagCompletion,
		edit: func(ref *Reference, s fsm.State, in fsm.Input, d Decision) Decision {
			if isIdle(ref, s) && ref.Tagged(in) {
				return Decision{Action: fsm.ActionIgnore, Pending: fsm.ResponseIdleInterrupted, Rule: d.Rule, Quirk: d.Quirk, Targets: To(ref.Origin(s))}
			}
			return d
		},
	}, {
		// A failed SELECT that leaves the previous mailbox selected. No
		// structural property can tell; only the spec says a failed SELECT
		// deselects.
		name:    "b-failed-select-stays-selected",
		catches: MatchesSpec,
		edit: func(ref *Reference, s fsm.State, in fsm.Input, d Decision) Decision {
			if s == fsm.StateSelected && in == fsm.InputSelect {
				d.Targets[fsm.OutcomeNo] = fsm.StateSelected
			}
			return d
		},
	}, {
		// DONE no longer ends IDLE: the session keeps idling.
		name:    "c1-done-keeps-idling",
		catches: IdleOrigin,
		edit: func(ref *Reference, s fsm.State, in fsm.Input, d Decision) Decision {
			if isIdle(ref, s) && in == inputNamed(ref, "done") {
				return Decision{Action: fsm.ActionIgnore, Rule: d.Rule, Targets: To(s)}
			}
			return d
		},
	}, {
		// Nothing but closing the connection leaves idle-selected: the
		// state is stranded, although it is no trap (shutdown still ends
		// the session).
		name:    "c2-idle-selected-stranded",
		catches: Liveness,
		edit: func(ref *Reference, s fsm.State, in fsm.Input, d Decision) Decision {
			if s == fsm.StateIdleSelected && d.Action != fsm.ActionClose {
				return Decision{Action: fsm.ActionIgnore, Rule: d.Rule, Targets: To(s)}
			}
			return d
		},
	}, {
		// LOGIN revives a logged-out session.
		name:    "d-terminal-left-by-login",
		catches: TerminalAbsorbing,
		edit: func(ref *Reference, s fsm.State, in fsm.Input, d Decision) Decision {
			if ref.Terminal(s) && in == fsm.InputLogin {
				d.Action, d.Rule = fsm.ActionExecute, fsm.RuleLogin
				d.Targets[fsm.OutcomeOK] = fsm.StateAuthenticated
			}
			return d
		},
	}, {
		// The SASL response that ends AUTHENTICATE also carries a Pending
		// completion: the handler and the pending both answer the tag.
		name:    "e-sasl-tag-answered-twice",
		catches: TagCompletion,
		edit: func(ref *Reference, s fsm.State, in fsm.Input, d Decision) Decision {
			if s == fsm.StateSASL && in == inputNamed(ref, "sasl-response") {
				d.Pending = fsm.ResponseSASLCancelled
			}
			return d
		},
	}, {
		// A command sent before authentication is rejected without a
		// reply: the client waits for a completion that never comes.
		name:    "f-reject-without-reply",
		catches: TagCompletion,
		edit: func(ref *Reference, s fsm.State, in fsm.Input, d Decision) Decision {
			if d.Rule == fsm.RuleNeedsAuth {
				d.Reply = fsm.ResponseNone
			}
			return d
		},
	}, {
		// NOOP in selected moves to a state no spec declares.
		name:    "g-undeclared-state",
		catches: ValidState,
		edit: func(ref *Reference, s fsm.State, in fsm.Input, d Decision) Decision {
			if s == fsm.StateSelected && in == fsm.InputNoop {
				d.Targets = To(InvalidState)
			}
			return d
		},
	}}
}

// TestMutantsAreCaught shows that the properties have teeth. For each broken
// machine: the random property run fails with a short shrunk counterexample,
// which replays as a failure against the mutant and passes against the real
// machine; the mutant's own property catches it with every other property
// off (so the oracle comparison is not the only line of defence); and the
// exhaustive exploration finds it in both global modes.
func TestMutantsAreCaught(t *testing.T) {
	ref := loadReference(t)
	seed := int64(metaSeed)
	if *seedFlag != 0 || envSet(envSeed) {
		seed = loadSettings(t).seed
	}
	var summary []string
	for i, mu := range mutants() {
		t.Run(mu.name, func(t *testing.T) {
			m := mu.machine(ref)
			cfg := &Config{Name: mu.name, Machine: m, Reference: ref, Checks: AllProperties, Global: fsm.Lenient}
			rep := cfg.Check(params(seed+int64(i), defaultCases))
			require.False(t, rep.Passed(), "the properties did not catch %s (seed %d)", mu.name, rep.Seed)
			ce := rep.Counterexample
			require.NotNil(t, ce)
			text := ce.Format(ref)
			t.Logf("shrunk counterexample:\n%s", text)
			assert.LessOrEqual(t, len(ce.Sequence.Steps), maxShrunkSteps, "shrinking left a long sequence")

			// The printed counterexample is replayable.
			back, err := ref.ParseSequence(text)
			require.NoError(t, err)
			modes := back.ModesToReplay()
			require.Len(t, modes, 1)
			again := NewSession(m, ref, modes[0], AllProperties, nil).WithFacts(back.Facts)
			assert.NotEmpty(t, again.Run(back.Steps), "the replayed counterexample passes against the mutant")
			clean := NewSession(FSM{}, ref, modes[0], AllProperties, nil).WithFacts(back.Facts)
			assert.Empty(t, clean.Run(back.Steps), "the counterexample fails against the real machine")

			// The mutant's own property catches it without the others.
			alone := false
			if mu.catches == Liveness {
				for _, g := range []fsm.Mode{fsm.Lenient, fsm.Strict} {
					alone = alone || len(Explore(m, ref, fsm.NewModes(g), Only(Liveness), nil).Findings) > 0
				}
			} else {
				only := *cfg
				only.Checks = Only(mu.catches)
				alone = !only.Check(params(seed+int64(i), defaultCases)).Passed()
			}
			assert.True(t, alone, "%s alone does not catch %s", mu.catches, mu.name)

			// Exhaustive exploration finds it in both global modes.
			for _, g := range []fsm.Mode{fsm.Lenient, fsm.Strict} {
				x := Explore(m, ref, fsm.NewModes(g), AllProperties, nil)
				found := Properties(0)
				for _, f := range x.Findings {
					found |= Only(f.Violation.Property)
				}
				assert.True(t, found.Has(mu.catches), "exploration in %s mode finds %s but not %s", g, found, mu.catches)
			}
			summary = append(summary, fmt.Sprintf("%-40s caught by %-55s shrunk to %d steps; alone: %s", mu.name, ce.Properties(), len(ce.Sequence.Steps), mu.catches))
		})
	}
	t.Logf("mutants (seed %d):\n%s", seed, strings.Join(summary, "\n"))
}
