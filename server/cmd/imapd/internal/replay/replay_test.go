package replay

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/fsm"
)

func replayFile(t *testing.T, name string, mode fsm.Mode) []Step {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	require.NoError(t, err)
	defer f.Close()
	entries, err := Parse(f)
	require.NoError(t, err)
	return Replay(entries, fsm.NewModes(mode))
}

func stepAt(t *testing.T, steps []Step, client string) Step {
	t.Helper()
	for _, s := range steps {
		if strings.HasPrefix(s.Client, client) {
			return s
		}
	}
	t.Fatalf("no step for %q", client)
	return Step{}
}

// TestAppleIdleWildDuck replays the iOS Apple Mail report: the tagged IDLE
// during IDLE is the idle-tagged-command quirk, and the recording (the IDLE
// tag BAD, 8.569 never answered) differs from the spec in both modes.
func TestAppleIdleWildDuck(t *testing.T) {
	lenient := replayFile(t, "apple-idle-wildduck.txt", fsm.Lenient)
	s := stepAt(t, lenient, "8.569 IDLE")
	assert.Equal(t, "idle", s.Input)
	assert.Equal(t, "idle-selected", s.Before)
	assert.Equal(t, "idle-tagged-command", s.Quirk)
	assert.Equal(t, "redispatch, then execute", s.Action)
	assert.Equal(t, []string{"8.568 OK"}, s.Expected)
	assert.Contains(t, s.Differs, "8.568 BAD")
	assert.Contains(t, s.Differs, "the spec runs 8.569")
	assert.Equal(t, 2, Differences(lenient), "the next command is out of step too")

	strict := replayFile(t, "apple-idle-wildduck.txt", fsm.Strict)
	s = stepAt(t, strict, "8.569 IDLE")
	assert.Equal(t, "selected", s.After)
	assert.Equal(t, []string{"8.568 BAD", "8.569 BAD"}, s.Expected)
	assert.Contains(t, s.Differs, "8.569 BAD")
	assert.Equal(t, 1, Differences(strict))
	// Everything before IDLE matches.
	for _, s := range strict[:4] {
		assert.Empty(t, s.Differs, "line %d", s.LineNo)
	}
}

// TestStrayDone replays a late DONE answered with BAD: that is the strict
// answer, and lenient ignores the line.
func TestStrayDone(t *testing.T) {
	strict := replayFile(t, "stray-done.txt", fsm.Strict)
	assert.Zero(t, Differences(strict), "%+v", strict)
	lenient := replayFile(t, "stray-done.txt", fsm.Lenient)
	s := stepAt(t, lenient[4:], "DONE")
	assert.Equal(t, "stray-done", s.Input)
	assert.Equal(t, "stray-done", s.Quirk)
	assert.Contains(t, s.Differs, "the spec ignores the line")
	assert.Equal(t, 1, Differences(lenient))
	assert.Equal(t, "logged-out", lenient[len(lenient)-1].After)
}

func TestParse(t *testing.T) {
	in := `# comment
S: * OK ready
C: a1 LOGIN {5}
S: + Ready
C: alice {6+}
C: <literal 6 bytes redacted>
C:
C: a2 APPEND INBOX {12}
C: hello
C: world
-- event autologout
-- a note
C:
`
	entries, err := Parse(strings.NewReader(in))
	require.NoError(t, err)
	var client []Entry
	for _, e := range entries {
		if e.Side != 'S' {
			client = append(client, e)
		}
	}
	require.Len(t, client, 4)
	assert.Equal(t, "a1 LOGIN {5}", client[0].First)
	assert.True(t, client[0].HasLiteral)
	assert.Equal(t, "a2 APPEND INBOX {12}", client[1].First)
	assert.Equal(t, byte('E'), client[2].Side)
	assert.Equal(t, "autologout", client[2].Text)
	assert.Equal(t, "", client[3].Text, "an empty client line")

	_, err = Parse(strings.NewReader("X: nonsense\n"))
	assert.ErrorContains(t, err, "line 1")
}

// TestEvents: an event note is a machine input.
func TestEvents(t *testing.T) {
	entries, err := Parse(strings.NewReader("S: * OK ready\n-- event autologout\nS: * BYE Autologout; idle for too long\n-- event bogus\n"))
	require.NoError(t, err)
	steps := Replay(entries, fsm.DefaultModes())
	require.Len(t, steps, 2)
	assert.Equal(t, "autologout", steps[0].Input)
	assert.Equal(t, "logged-out", steps[0].After)
	assert.Empty(t, steps[0].Differs)
	assert.Contains(t, steps[1].Differs, "unknown event")
}

// TestOpeningFactsFromGreeting: a greeting that advertises LOGINDISABLED
// opens the session without plaintext credentials, so the spec refuses
// LOGIN with NO [PRIVACYREQUIRED] (and the transcript matches); any other
// greeting allows them, and the spec runs LOGIN.
func TestOpeningFactsFromGreeting(t *testing.T) {
	replayText := func(text string) []Step {
		entries, err := Parse(strings.NewReader(text))
		require.NoError(t, err)
		return Replay(entries, fsm.DefaultModes())
	}
	disabled := replayText("S: * OK [CAPABILITY IMAP4rev2 STARTTLS LOGINDISABLED] ready\nC: A1 LOGIN u p\nS: A1 NO [PRIVACYREQUIRED] Plaintext authentication is disabled; use STARTTLS or TLS\n")
	s := stepAt(t, disabled, "A1 LOGIN")
	assert.Equal(t, "privacy-required", s.Rule)
	assert.Equal(t, "reject", s.Action)
	assert.Empty(t, s.Differs)
	assert.Equal(t, "not-authenticated", s.After)

	allowed := replayText("S: * OK [CAPABILITY IMAP4rev2 AUTH=PLAIN] ready\nC: A1 LOGIN u p\nS: A1 OK Logged in\n")
	s = stepAt(t, allowed, "A1 LOGIN")
	assert.Equal(t, "login", s.Rule)
	assert.Empty(t, s.Differs)
	assert.Equal(t, "authenticated", s.After)
}
