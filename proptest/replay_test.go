package proptest

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/leanovate/gopter"
	"github.com/leanovate/gopter/gen"
	"github.com/leanovate/gopter/prop"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/fsm"
)

// TestReplaySequenceFiles replays every testdata/*.seq file but the wire
// sequences (wire-*.seq) against the generated machine, in each mode the file asks for, checking every property
// and the file's `expect` lines. Saved counterexamples land here too, so a
// bug found once stays a regression test.
func TestReplaySequenceFiles(t *testing.T) {
	ref := loadReference(t)
	files, err := filepath.Glob(filepath.Join("testdata", "*.seq"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "testdata/*.seq: no sequence files")
	for _, file := range files {
		if strings.HasPrefix(filepath.Base(file), "wire-") {
			continue // wire sequences: TestWireReplay runs them against a live server
		}
		t.Run(strings.TrimSuffix(filepath.Base(file), ".seq"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			seq, err := ref.ParseSequence(string(data))
			require.NoError(t, err)
			for _, modes := range seq.ModesToReplay() {
				replay(t, ref, FSM{}, seq, modes)
			}
		})
	}
}

// replay runs seq under modes, failing on violations and unmet expectations.
func replay(t *testing.T, ref *Reference, m Machine, seq Sequence, modes fsm.Modes) {
	t.Helper()
	s := NewSession(m, ref, modes, AllProperties, nil).WithFacts(seq.Facts)
	var failures []string
	check := func(after int) {
		for _, e := range seq.Expect {
			if e.After == after && s.State() != e.State {
				failures = append(failures, fmt.Sprintf("after step %d the session is in %s, expected %s", after, s.State(), e.State))
			}
		}
	}
	check(0)
	for i, st := range seq.Steps {
		s.Apply(st)
		check(i + 1)
	}
	for _, v := range s.Violations() {
		failures = append(failures, v.String())
	}
	if len(failures) > 0 {
		out := NewSequence(modes, seq.Steps)
		out.Expect, out.Facts = seq.Expect, seq.Facts
		t.Errorf("%s:\n%s", ModesString(modes), ref.FormatSequence(out, s.Records(), failures...))
	}
}

// TestSequenceFormatRoundTrip checks that any sequence survives printing and
// parsing: steps, tags, arguments, outcomes and modes.
func TestSequenceFormatRoundTrip(t *testing.T) {
	ref := loadReference(t)
	s := loadSettings(t)
	genStep := gen.IntRange(0, int(fsm.NumInputs)-1).FlatMap(func(v any) gopter.Gen {
		in := fsm.Input(v.(int))
		outs := ref.Outcomes(in)
		return gen.IntRange(0, len(outs)-1).Map(func(i int) Step {
			st := Step{Input: in, Outcome: outs[i]}
			if ref.Tagged(in) {
				st.Tag = fmt.Sprintf("T%d.%d", v.(int), i)
			}
			if ref.Kind(in) == fsm.KindCommand {
				st.Args = []string{"", "INBOX", "1:* (FLAGS)", `"a b" {5+}`}[i%4]
			}
			return st
		})
	}, reflect.TypeOf(Step{}))
	genModes := gen.SliceOfN(int(fsm.NumQuirks), gen.Bool()).Map(func(bits []bool) fsm.Modes {
		m := fsm.NewModes(fsm.Lenient)
		if bits[0] {
			m = fsm.NewModes(fsm.Strict)
		}
		for i, b := range bits[1:] {
			if b {
				m = m.With(fsm.Quirk(i+1), fsm.Strict)
			}
		}
		return m
	})
	properties := gopter.NewProperties(params(s.seed, 300))
	properties.Property("Parse(Format(seq)) == seq", prop.ForAll(func(steps []Step, modes fsm.Modes) bool {
		seq := NewSequence(modes, steps)
		back, err := ref.ParseSequence(ref.FormatSequence(seq, nil, "header # with a hash"))
		return err == nil && reflect.DeepEqual(normalise(seq.Steps), normalise(back.Steps)) &&
			back.ModesToReplay()[0] == modes && !back.BothModes
	}, gen.SliceOf(genStep), genModes))
	properties.TestingRun(t)
}

func normalise(steps []Step) []Step {
	if len(steps) == 0 {
		return nil
	}
	return steps
}

func TestParseSequenceErrors(t *testing.T) {
	ref := loadReference(t)
	for text, want := range map[string]string{
		"mode sloppy":            "unknown mode",
		"quirk no-such strict":   "unknown quirk",
		"expect nowhere":         "unknown state",
		"<no-such-input>":        "declares no input",
		"<event done>":           "not an event",
		"A1 LOGIN => continue":   "cannot report continue",
		"A1 LOGIN => maybe":      "unknown outcome",
		"LOGIN":                  "want TAG COMMAND",
		"mode":                   "want: mode",
		"A1 IDLE\nA2 NOOP => no": "",
	} {
		_, err := ref.ParseSequence(text)
		if want == "" {
			assert.NoError(t, err, text)
			continue
		}
		require.Error(t, err, text)
		assert.Contains(t, err.Error(), want, text)
	}
}

func TestParseSequenceForms(t *testing.T) {
	ref := loadReference(t)
	seq, err := ref.ParseSequence(`
# comment
mode strict
quirk stray-done lenient
8.569 uid fetch 1:* FLAGS   # trailing comment
a2 frobnicate
DONE
*
<event autologout>
<sasl-response> => continue
A3 IDLE
expect idle-authenticated
`)
	require.NoError(t, err)
	in := func(name string) fsm.Input {
		i, ok := ref.InputByName(name)
		require.True(t, ok, name)
		return i
	}
	assert.Equal(t, []Step{
		{Tag: "8.569", Input: fsm.InputUIDFetch, Outcome: fsm.OutcomeOK, Args: "1:* FLAGS"},
		{Tag: "a2", Input: fsm.InputUnknownCommand, Outcome: fsm.OutcomeOK},
		{Input: in("done"), Outcome: fsm.OutcomeOK},
		{Input: in("sasl-cancel"), Outcome: fsm.OutcomeOK},
		{Input: in("autologout"), Outcome: fsm.OutcomeOK},
		{Input: in("sasl-response"), Outcome: fsm.OutcomeContinue},
		{Tag: "A3", Input: fsm.InputIdle, Outcome: fsm.OutcomeContinue},
	}, seq.Steps)
	assert.False(t, seq.BothModes)
	modes := seq.ModesToReplay()
	require.Len(t, modes, 1)
	assert.Equal(t, fsm.NewModes(fsm.Strict).With(fsm.QuirkStrayDone, fsm.Lenient), modes[0])
	assert.Equal(t, []Expectation{{After: 7, State: fsm.StateIdleAuthenticated}}, seq.Expect)
}
