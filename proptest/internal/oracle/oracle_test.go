package oracle

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tiny is a small spec that uses every construct the oracle resolves: nested
// groups, stay, origin, per-outcome next with otherwise, a quirk rule with
// lenient and strict blocks, and an input with its own outcome list.
const tiny = `
version: 1
initial: out
protocol:
  name: TINY
  replies: imap
  reads: {command: {doc: a command}, idle: {doc: a continuation, commands: true, origin: true}, none: {doc: nothing}}
  kinds: {command: a command, idle: a continuation, event: an event}
  attributes: {holds-tag: {means: held, doc: a tag waits.}}
  actions: {execute: run, reject: refuse, ignore: nothing, close: close}
  default-outcomes: [ok, "no", bad]
states:
  out: {reads: command}
  in: {reads: command}
  idle: {reads: idle, holds-tag: true, origin: in}
  gone: {reads: none, terminal: true}
outcomes:
  ok: {doc: fine}
  "no": {doc: failed}
  bad: {doc: invalid}
  continue: {doc: waits}
inputs:
  login: {kind: command, wire: LOGIN}
  idle: {kind: command, wire: IDLE, outcomes: [continue, "no", bad]}
  done: {kind: idle}
  bye: {kind: event}
groups:
  live: [cmd-states, idle]
  cmd-states: [out, in]
  cmds: [login, idle]
responses:
  no-auth: {status: BAD, text: log in}
  idle-done: {status: OK, text: done}
  unexpected: {status: BAD, text: not now}
  bye: {status: BYE, text: bye}
quirks:
  late-done:
    scope: session
    lenient: {tolerate: true, doc: ignore}
    strict: {tolerate: false, doc: refuse}
rules:
  - id: login
    in: [out]
    on: [login]
    do: execute
    next: {ok: in, otherwise: stay}
  - id: needs-auth
    in: [out]
    on: [idle]
    do: reject
    reply: no-auth
  - id: logged-in
    in: [in]
    on: [cmds]
    do: execute
    next: {continue: idle, otherwise: stay}
  - id: command-in-idle
    in: [idle]
    on: [cmds]
    do: redispatch
    pending: idle-done
    next: origin
  - id: done
    in: [idle]
    on: [done]
    do: ignore
    pending: idle-done
    next: origin
  - id: late-done
    in: [cmd-states]
    on: [done]
    quirk: late-done
    lenient: {do: ignore}
    strict: {do: reject, reply: unexpected}
  - id: bye
    in: [live]
    on: [bye]
    do: close
    reply: bye
    next: gone
  - id: absorbing
    in: [gone]
    on: [cmds, done, bye]
    do: ignore
`

func TestParseResolvesEveryConstruct(t *testing.T) {
	s, err := Parse([]byte(tiny))
	require.NoError(t, err)
	assert.Equal(t, "out", s.Initial)
	assert.Equal(t, Lenient, s.DefaultMode)
	assert.Equal(t, []string{"ok", "no", "bad", "continue"}, s.Outcomes)

	login, err := s.Decide("out", "login", Lenient)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"ok": "in", "no": "out", "bad": "out"}, login.Next, "otherwise covers no and bad; continue is not an outcome of login")

	idle, err := s.Decide("in", "idle", Strict)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"continue": "idle", "no": "in", "bad": "in"}, idle.Next)

	redispatch, err := s.Decide("idle", "login", Lenient)
	require.NoError(t, err)
	assert.Equal(t, "redispatch", redispatch.Action)
	assert.Equal(t, "idle-done", redispatch.Pending)
	for _, o := range s.Outcomes {
		assert.Equal(t, "in", redispatch.Next[o], "origin of idle, whatever the outcome")
	}

	cell, err := s.Cell("in", "done")
	require.NoError(t, err)
	assert.True(t, cell.Split())
	assert.Equal(t, "late-done", cell.Quirk)
	assert.Equal(t, "ignore", cell.ByMode[Lenient].Action)
	assert.Equal(t, "reject", cell.ByMode[Strict].Action)
	assert.Equal(t, "unexpected", cell.ByMode[Strict].Reply)
	assert.Equal(t, "in", cell.ByMode[Strict].Next["ok"], "no next means stay")

	bye, err := s.Cell("idle", "bye")
	require.NoError(t, err)
	assert.False(t, bye.Split())
	assert.Equal(t, "gone", bye.ByMode[Strict].Next["no"], "nested group live includes idle")

	_, err = s.Cell("nowhere", "bye")
	assert.Error(t, err)
}

func TestParseReportsProblems(t *testing.T) {
	cases := map[string]struct {
		edit func(string) string
		want string
	}{
		"unknown key":    {func(s string) string { return s + "colour: blue\n" }, "colour"},
		"group cycle":    {func(s string) string { return replace(s, "cmd-states: [out, in]", "cmd-states: [out, in, live]") }, "contains itself"},
		"nondeterminism": {func(s string) string { return replace(s, "in: [out]\n    on: [idle]", "in: [out]\n    on: [cmds]") }, "decided by rule \"login\" and by rule \"needs-auth\""},
		"missing cell":   {func(s string) string { return replace(s, "on: [cmds, done, bye]", "on: [cmds, done]") }, "gone × bye is decided by no rule"},
		"origin missing": {func(s string) string {
			return replace(s, "in: [idle]\n    on: [done]", "in: [idle, out]\n    on: [done]")
		}, "has none"},
		"unknown state":   {func(s string) string { return replace(s, "next: gone", "next: elsewhere") }, "\"elsewhere\" is not declared"},
		"outcome missing": {func(s string) string { return replace(s, "next: {ok: in, otherwise: stay}", "next: {ok: in}") }, "can end with \"no\""},
		"map on reject":   {func(s string) string { return replace(s, "reply: no-auth", "reply: no-auth\n    next: {ok: in}") }, "runs no handler"},
		"unknown action":  {func(s string) string { return replace(s, "do: close", "do: hang-up") }, "hang-up"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.edit(tiny)))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// replace edits the fixture and fails loudly if the fixture changed.
func replace(s, old, new string) string {
	if !strings.Contains(s, old) {
		panic("fixture does not contain " + old)
	}
	return strings.Replace(s, old, new, 1)
}

// TestParseProjectSpec reads the project's spec: the oracle must be able to
// decide every state × input of it.
func TestParseProjectSpec(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "spec", "imap.yaml"))
	require.NoError(t, err)
	s, err := Parse(data)
	require.NoError(t, err)
	for _, st := range s.States {
		for _, in := range s.Inputs {
			_, err := s.Cell(st.Name, in.Name)
			require.NoError(t, err)
		}
	}
}

// withFacts is tiny with session facts: LOGIN runs only over a secure
// connection (a fact the engine gives) and marks the session seen; without
// it LOGIN is refused.
func withFacts() string {
	s := replace(tiny, "rules:\n  - id: login\n    in: [out]\n    on: [login]\n    do: execute\n    next: {ok: in, otherwise: stay}\n",
		`facts:
  secure: {doc: the connection is encrypted, initial: engine}
  seen: {doc: a user logged in once, initial: false}
rules:
  - id: login
    in: [out]
    on: [login]
    when: [{secure: true}, {seen: true}]
    do: execute
    effect: {ok: {seen: true}, otherwise: {seen: false}}
    next: {ok: in, otherwise: stay}
  - id: login-refused
    in: [out]
    on: [login]
    when: {secure: false, seen: false}
    do: reject
    reply: no-auth
`)
	return replace(s, "    do: close\n    reply: bye\n", "    do: close\n    reply: bye\n    effect: {secure: false}\n")
}

func TestParseFacts(t *testing.T) {
	s, err := Parse([]byte(withFacts()))
	require.NoError(t, err)
	assert.Equal(t, []Fact{{Name: "secure", Engine: true}, {Name: "seen"}}, s.Facts)
	assert.Len(t, s.Valuations(), 4)
	assert.Equal(t, []Facts{{}, {"secure": true}}, s.OpeningValuations(), "seen starts false")

	refused, err := s.DecideUnder("out", "login", Facts{}, Lenient)
	require.NoError(t, err)
	assert.Equal(t, "login-refused", refused.Rule)
	assert.Empty(t, refused.Effects)
	for _, f := range []Facts{{"secure": true}, {"seen": true}, {"secure": true, "seen": true}} {
		d, err := s.DecideUnder("out", "login", f, Lenient)
		require.NoError(t, err)
		assert.Equal(t, "login", d.Rule, "%v", f)
	}
	login, err := s.DecideUnder("out", "login", Facts{"secure": true}, Lenient)
	require.NoError(t, err)
	assert.Equal(t, map[string]map[string]bool{"ok": {"seen": true}, "no": {"seen": false}, "bad": {"seen": false}}, login.Effects, "per outcome, otherwise for the rest")
	assert.Equal(t, Facts{"secure": true, "seen": true}, login.After(Facts{"secure": true}, "ok"))
	assert.Equal(t, Facts{"secure": true}, login.After(Facts{"secure": true, "seen": true}, "no"))
	assert.Equal(t, []string{"secure", "seen"}, s.FactsRead("out", "login"))
	assert.Empty(t, s.FactsRead("in", "login"))

	bye, err := s.DecideUnder("in", "bye", Facts{"secure": true}, Strict)
	require.NoError(t, err)
	assert.Equal(t, Facts{}, bye.After(Facts{"secure": true}, "ok"), "an effect on every outcome")
	assert.False(t, login.Equal(refused))
	assert.True(t, login.Equal(login))
}

func TestParseReportsFactProblems(t *testing.T) {
	cases := map[string]struct {
		edit func(string) string
		want string
	}{
		"missing valuation": {func(s string) string {
			return replace(s, "when: {secure: false, seen: false}", "when: {secure: false, seen: true}")
		}, "out × login is decided by no rule when secure=false seen=false"},
		"overlap": {func(s string) string {
			return replace(s, "when: {secure: false, seen: false}", "when: {seen: false}")
		}, "out × login is decided by rule \"login\" and by rule \"login-refused\" when secure=true seen=false"},
		"unknown fact in when": {func(s string) string {
			return replace(s, "{secure: true}, {seen: true}", "{secure: true}, {sen: true}")
		}, "\"sen\" is not a declared fact"},
		"unknown fact in effect": {func(s string) string { return replace(s, "effect: {secure: false}", "effect: {secur: false}") }, "effect: \"secur\" is not a declared fact"},
		"unknown outcome":        {func(s string) string { return replace(s, "otherwise: {seen: false}", "maybe: {seen: false}") }, "\"maybe\" is not a declared outcome"},
		"bad initial":            {func(s string) string { return replace(s, "initial: false", "initial: sometimes") }, "neither false nor engine"},
		"effect per outcome on close": {func(s string) string {
			return replace(s, "effect: {secure: false}", "effect: {ok: {secure: false}}")
		}, "its effect cannot depend on an outcome"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.edit(withFacts())))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
