package gen_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/fsm"
)

// step is one input with the outcome its handler reports (ignored unless the
// decision executes).
type step struct {
	in  fsm.Input
	out fsm.Outcome
}

// completions counts, per tag, how often the machine's decisions complete it.
type session struct {
	t       *testing.T
	state   fsm.State
	modes   fsm.Modes
	held    string // tag held by IDLE or AUTHENTICATE
	replies map[string][]string
}

func newSession(t *testing.T, modes fsm.Modes) *session {
	return &session{t: t, state: fsm.InitialState, modes: modes, replies: map[string][]string{}}
}

// send drives one tagged line (tag "" for untagged lines and events)
// through the machine the way the server engine does, recording every
// completion per tag.
func (s *session) send(tag string, in fsm.Input, out fsm.Outcome) fsm.Decision {
	d := fsm.Step(s.state, plain, in, s.modes)
	first := d
	if d.Pending != fsm.ResponseNone {
		s.replies[s.held] = append(s.replies[s.held], d.Pending.Status())
		s.held = ""
	}
	switch d.Action {
	case fsm.ActionRedispatch:
		s.state = d.Next(fsm.OutcomeOK)
		s.send(tag, in, out)
		return first
	case fsm.ActionExecute:
		next := d.Next(out)
		if out == fsm.OutcomeContinue {
			if tag != "" {
				s.held = tag
			}
		} else if tag != "" {
			s.replies[tag] = append(s.replies[tag], map[fsm.Outcome]string{fsm.OutcomeOK: "OK", fsm.OutcomeNo: "NO", fsm.OutcomeBad: "BAD"}[out])
		} else if s.held != "" && !next.HoldsTag() {
			// A SASL response that ends the exchange completes the held tag.
			s.replies[s.held] = append(s.replies[s.held], map[fsm.Outcome]string{fsm.OutcomeOK: "OK", fsm.OutcomeNo: "NO", fsm.OutcomeBad: "BAD"}[out])
			s.held = ""
		}
		s.state = next
	case fsm.ActionReject:
		if tag != "" {
			s.replies[tag] = append(s.replies[tag], d.Reply.Status())
		}
		s.state = d.Next(fsm.OutcomeOK)
	default:
		s.state = d.Next(fsm.OutcomeOK)
	}
	return first
}

func login(s *session) {
	s.send("A1", fsm.InputLogin, fsm.OutcomeOK)
	require.Equal(s.t, fsm.StateAuthenticated, s.state)
}

// TestAppleIdleTaggedCommand models iOS Apple Mail sending `8.570 IDLE`
// (and `8.571 STATUS`) instead of DONE, in both modes: every tag gets
// exactly one completion and the session stays in step.
func TestAppleIdleTaggedCommand(t *testing.T) {
	for _, tc := range []struct {
		name       string
		modes      fsm.Modes
		idleTag    string // completion of 8.569
		newTag     string // completion of the command sent instead of DONE
		finalState fsm.State
	}{
		{"lenient", fsm.NewModes(fsm.Lenient), "OK", "", fsm.StateIdleSelected},
		{"strict", fsm.NewModes(fsm.Strict), "BAD", "BAD", fsm.StateSelected},
		{"strict-override", fsm.NewModes(fsm.Lenient).With(fsm.QuirkIdleTaggedCommand, fsm.Strict), "BAD", "BAD", fsm.StateSelected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSession(t, tc.modes)
			login(s)
			s.send("A2", fsm.InputSelect, fsm.OutcomeOK)
			s.send("8.569", fsm.InputIdle, fsm.OutcomeContinue)
			require.Equal(t, fsm.StateIdleSelected, s.state)
			d := s.send("8.570", fsm.InputIdle, fsm.OutcomeContinue)
			assert.Equal(t, fsm.QuirkIdleTaggedCommand, d.Quirk)
			assert.Equal(t, []string{tc.idleTag}, s.replies["8.569"], "IDLE tag completed exactly once")
			if tc.newTag == "" {
				// Lenient: the second IDLE ran and now holds its own tag.
				assert.Empty(t, s.replies["8.570"])
				assert.Equal(t, "8.570", s.held)
				s.send("", fsm.InputDone, fsm.OutcomeOK)
				assert.Equal(t, []string{"OK"}, s.replies["8.570"])
				assert.Equal(t, fsm.StateSelected, s.state)
			} else {
				assert.Equal(t, []string{tc.newTag}, s.replies["8.570"], "new tag rejected exactly once")
				assert.Equal(t, tc.finalState, s.state)
			}
			// STATUS sent while idling.
			s.send("8.571", fsm.InputIdle, fsm.OutcomeContinue)
			s.send("8.572", fsm.InputStatus, fsm.OutcomeOK)
			assert.Len(t, s.replies["8.571"], 1)
			assert.Len(t, s.replies["8.572"], 1)
			if tc.newTag == "" {
				assert.Equal(t, []string{"OK"}, s.replies["8.572"], "lenient runs STATUS")
			} else {
				assert.Equal(t, []string{"BAD"}, s.replies["8.572"], "strict does not run STATUS")
			}
			assert.Equal(t, fsm.StateSelected, s.state)
		})
	}
}

// TestQuirkRules checks every session quirk's decision in both modes.
func TestQuirkRules(t *testing.T) {
	L, S := fsm.NewModes(fsm.Lenient), fsm.NewModes(fsm.Strict)
	type want struct {
		action  fsm.Action
		reply   fsm.Response
		pending fsm.Response
		next    fsm.State
	}
	for _, tc := range []struct {
		quirk   fsm.Quirk
		state   fsm.State
		in      fsm.Input
		lenient want
		strict  want
	}{
		{fsm.QuirkIdleTaggedCommand, fsm.StateIdleAuthenticated, fsm.InputStatus,
			want{fsm.ActionRedispatch, fsm.ResponseNone, fsm.ResponseIdleEndedByCommand, fsm.StateAuthenticated},
			want{fsm.ActionReject, fsm.ResponseCommandDuringIdle, fsm.ResponseIdleInterrupted, fsm.StateAuthenticated}},
		{fsm.QuirkIdleTaggedCommand, fsm.StateIdleSelectedReadOnly, fsm.InputUnknownCommand,
			want{fsm.ActionRedispatch, fsm.ResponseNone, fsm.ResponseIdleEndedByCommand, fsm.StateSelectedReadOnly},
			want{fsm.ActionReject, fsm.ResponseCommandDuringIdle, fsm.ResponseIdleInterrupted, fsm.StateSelectedReadOnly}},
		{fsm.QuirkIdleDoneVariants, fsm.StateIdleSelected, fsm.InputDoneVariant,
			want{fsm.ActionIgnore, fsm.ResponseNone, fsm.ResponseIdleDone, fsm.StateSelected},
			want{fsm.ActionIgnore, fsm.ResponseNone, fsm.ResponseIdleExpectedDone, fsm.StateSelected}},
		{fsm.QuirkStrayDone, fsm.StateSelected, fsm.InputStrayDone,
			want{fsm.ActionIgnore, fsm.ResponseNone, fsm.ResponseNone, fsm.StateSelected},
			want{fsm.ActionReject, fsm.ResponseStrayDone, fsm.ResponseNone, fsm.StateSelected}},
		{fsm.QuirkEmptyLine, fsm.StateNotAuthenticated, fsm.InputEmptyLine,
			want{fsm.ActionIgnore, fsm.ResponseNone, fsm.ResponseNone, fsm.StateNotAuthenticated},
			want{fsm.ActionNotify, fsm.ResponseEmptyLine, fsm.ResponseNone, fsm.StateNotAuthenticated}},
		{fsm.QuirkEmptyLine, fsm.StateIdleSelected, fsm.InputEmptyLine,
			want{fsm.ActionIgnore, fsm.ResponseNone, fsm.ResponseNone, fsm.StateIdleSelected},
			want{fsm.ActionNotify, fsm.ResponseEmptyLine, fsm.ResponseNone, fsm.StateIdleSelected}},
		{fsm.QuirkIdleBeforeSelect, fsm.StateAuthenticated, fsm.InputIdle,
			want{fsm.ActionExecute, fsm.ResponseNone, fsm.ResponseNone, fsm.StateIdleAuthenticated},
			want{fsm.ActionExecute, fsm.ResponseNone, fsm.ResponseNone, fsm.StateIdleAuthenticated}},
		{fsm.QuirkCompressBeforeAuth, fsm.StateNotAuthenticated, fsm.InputCompress,
			want{fsm.ActionReject, fsm.ResponseCompressBeforeAuth, fsm.ResponseNone, fsm.StateNotAuthenticated},
			want{fsm.ActionReject, fsm.ResponseCompressBeforeAuth, fsm.ResponseNone, fsm.StateNotAuthenticated}},
		{fsm.QuirkStaleIdleDrop, fsm.StateIdleSelected, fsm.InputAutologout,
			want{fsm.ActionIgnore, fsm.ResponseNone, fsm.ResponseNone, fsm.StateIdleSelected},
			want{fsm.ActionIgnore, fsm.ResponseNone, fsm.ResponseNone, fsm.StateIdleSelected}},
		{fsm.QuirkStaleIdleDrop, fsm.StateIdleAuthenticated, fsm.InputKeepalive,
			want{fsm.ActionNotify, fsm.ResponseKeepalive, fsm.ResponseNone, fsm.StateIdleAuthenticated},
			want{fsm.ActionNotify, fsm.ResponseKeepalive, fsm.ResponseNone, fsm.StateIdleAuthenticated}},
	} {
		t.Run(tc.quirk.String()+"/"+tc.state.String(), func(t *testing.T) {
			for _, m := range []struct {
				modes fsm.Modes
				w     want
			}{{L, tc.lenient}, {S, tc.strict}, {L.With(tc.quirk, fsm.Strict), tc.strict}, {S.With(tc.quirk, fsm.Lenient), tc.lenient}} {
				d := fsm.Step(tc.state, plain, tc.in, m.modes)
				assert.Equal(t, tc.quirk, d.Quirk)
				assert.Equal(t, m.w.action, d.Action, "action")
				assert.Equal(t, m.w.reply, d.Reply, "reply")
				assert.Equal(t, m.w.pending, d.Pending, "pending")
				o := fsm.OutcomeOK
				if tc.in.Produces(fsm.OutcomeContinue) {
					o = fsm.OutcomeContinue
				}
				assert.Equal(t, m.w.next, d.Next(o), "next")
			}
		})
	}
	// Autologout applies outside IDLE.
	d := fsm.Step(fsm.StateSelected, plain, fsm.InputAutologout, L)
	assert.Equal(t, fsm.ActionClose, d.Action)
	assert.Equal(t, fsm.StateLoggedOut, d.Next(fsm.OutcomeOK))
}

// TestDataQuirks checks the quirks the server asks about with Tolerates.
func TestDataQuirks(t *testing.T) {
	L, S := fsm.NewModes(fsm.Lenient), fsm.NewModes(fsm.Strict)
	for q := fsm.Quirk(1); q < fsm.NumQuirks; q++ {
		assert.NotEmpty(t, q.Behaviour(fsm.Lenient), q.String())
		assert.NotEmpty(t, q.Behaviour(fsm.Strict), q.String())
		p, ok := fsm.ParseQuirk(q.String())
		assert.True(t, ok)
		assert.Equal(t, q, p)
	}
	assert.True(t, L.Tolerates(fsm.QuirkTrailingSeparator))
	assert.False(t, S.Tolerates(fsm.QuirkTrailingSeparator))
	assert.True(t, L.Tolerates(fsm.QuirkChangedsinceZero))
	assert.False(t, S.Tolerates(fsm.QuirkChangedsinceZero))
	assert.True(t, S.Tolerates(fsm.QuirkStatusSelected), "status-selected is answered in both modes")
	assert.False(t, fsm.QuirkTrailingSeparator.Session())
	assert.True(t, fsm.QuirkIdleTaggedCommand.Session())
	assert.Equal(t, fsm.Lenient, S.With(fsm.QuirkNone, fsm.Strict).Of(fsm.QuirkNone), "QuirkNone never becomes strict")
}

// plain are the facts of a plaintext connection on a server that allows
// credentials without TLS, as in the server's tests.
const plain = fsm.FactPlaintextAuth

// TestFactRules pins the decisions that depend on the session facts and
// the effects that change them.
func TestFactRules(t *testing.T) {
	m := fsm.DefaultModes()
	na := fsm.StateNotAuthenticated
	assert.Equal(t, fsm.EngineFacts, fsm.FactTLS|fsm.FactPlaintextAuth, "the engine gives tls and plaintext-auth; compression starts false")

	// STARTTLS runs once; over TLS it is refused (RFC 9051 6.2.1).
	assert.Equal(t, fsm.ActionExecute, fsm.Step(na, plain, fsm.InputStarttls, m).Action)
	again := fsm.Step(na, fsm.FactTLS, fsm.InputStarttls, m)
	assert.Equal(t, fsm.ActionReject, again.Action)
	assert.Equal(t, "TLS is already active", again.Reply.Text())
	ready := fsm.Step(fsm.StateTLSHandshake, 0, fsm.InputTLSReady, m)
	assert.Equal(t, fsm.FactTLS, ready.Facts(fsm.OutcomeOK), "the handshake makes TLS active")
	assert.Equal(t, na, ready.Next(fsm.OutcomeOK))

	// Credentials need TLS unless plaintext is allowed.
	for _, in := range []fsm.Input{fsm.InputLogin, fsm.InputAuthenticate} {
		for f, want := range map[fsm.Facts]fsm.Action{
			0:                                   fsm.ActionReject,
			fsm.FactPlaintextAuth:               fsm.ActionExecute,
			fsm.FactTLS:                         fsm.ActionExecute,
			fsm.FactTLS | fsm.FactPlaintextAuth: fsm.ActionExecute,
		} {
			d := fsm.Step(na, f, in, m)
			assert.Equal(t, want, d.Action, "%s with %s", in, f)
			if want == fsm.ActionReject {
				assert.Equal(t, "PRIVACYREQUIRED", d.Reply.Code())
				assert.Equal(t, "NO", d.Reply.Status())
			}
		}
	}

	// COMPRESS: runs once, its OK sets the compression fact, and then
	// it is refused with NO [COMPRESSIONACTIVE] (RFC 4978 3).
	for _, s := range []fsm.State{fsm.StateAuthenticated, fsm.StateSelected, fsm.StateSelectedReadOnly} {
		active := fsm.Step(s, plain|fsm.FactCompression, fsm.InputCompress, m)
		assert.Equal(t, fsm.ActionReject, active.Action)
		assert.Equal(t, "COMPRESSIONACTIVE", active.Reply.Code(), "%s", s)
		first := fsm.Step(s, plain, fsm.InputCompress, m)
		assert.Equal(t, fsm.RuleCompress, first.Rule, "%s", s)
		assert.Equal(t, fsm.ActionExecute, first.Action, "%s", s)
		assert.True(t, first.Facts(fsm.OutcomeOK).Has(fsm.FactCompression), "%s: OK turns compression on", s)
		assert.False(t, first.Facts(fsm.OutcomeBad).Has(fsm.FactCompression), "%s: BAD leaves it off", s)
	}

	// A decision without an effect keeps the facts.
	d := fsm.Step(fsm.StateSelected, fsm.FactTLS|fsm.FactCompression, fsm.InputNoop, m)
	assert.Equal(t, fsm.FactTLS|fsm.FactCompression, d.Facts(fsm.OutcomeOK))
	assert.Equal(t, "tls|compression", (fsm.FactTLS | fsm.FactCompression).String())
	assert.Equal(t, "none", fsm.Facts(0).String())
	assert.True(t, fsm.StateIdleSelected.MailboxOpen())
	assert.False(t, fsm.StateAuthenticated.MailboxOpen())
}

// TestRFCTransitions pins state changes the RFCs require.
func TestRFCTransitions(t *testing.T) {
	m := fsm.DefaultModes()
	for _, tc := range []struct {
		name string
		from fsm.State
		in   fsm.Input
		out  fsm.Outcome
		to   fsm.State
	}{
		{"failed SELECT deselects (RFC 9051 6.3.2)", fsm.StateSelected, fsm.InputSelect, fsm.OutcomeNo, fsm.StateAuthenticated},
		{"failed EXAMINE deselects", fsm.StateSelectedReadOnly, fsm.InputExamine, fsm.OutcomeNo, fsm.StateAuthenticated},
		{"SELECT with bad arguments keeps the mailbox", fsm.StateSelected, fsm.InputSelect, fsm.OutcomeBad, fsm.StateSelected},
		{"EXAMINE opens read-only", fsm.StateAuthenticated, fsm.InputExamine, fsm.OutcomeOK, fsm.StateSelectedReadOnly},
		{"CLOSE leaves the mailbox", fsm.StateSelected, fsm.InputClose, fsm.OutcomeOK, fsm.StateAuthenticated},
		{"AUTHENTICATE with a challenge", fsm.StateNotAuthenticated, fsm.InputAuthenticate, fsm.OutcomeContinue, fsm.StateSASL},
		{"SASL success", fsm.StateSASL, fsm.InputSASLResponse, fsm.OutcomeOK, fsm.StateAuthenticated},
		{"SASL failure", fsm.StateSASL, fsm.InputSASLResponse, fsm.OutcomeNo, fsm.StateNotAuthenticated},
		{"SASL cancel (RFC 9051 6.2.2)", fsm.StateSASL, fsm.InputSASLCancel, fsm.OutcomeOK, fsm.StateNotAuthenticated},
		{"STARTTLS OK starts the handshake", fsm.StateNotAuthenticated, fsm.InputStarttls, fsm.OutcomeOK, fsm.StateTLSHandshake},
		{"handshake done", fsm.StateTLSHandshake, fsm.InputTLSReady, fsm.OutcomeOK, fsm.StateNotAuthenticated},
		{"LOGOUT", fsm.StateSelected, fsm.InputLogout, fsm.OutcomeOK, fsm.StateLoggedOut},
		{"logged-out absorbs", fsm.StateLoggedOut, fsm.InputLogin, fsm.OutcomeOK, fsm.StateLoggedOut},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.to, fsm.Step(tc.from, plain, tc.in, m).Next(tc.out))
		})
	}
	assert.Equal(t, fsm.ActionReject, fsm.Step(fsm.StateSelectedReadOnly, plain, fsm.InputStore, m).Action)
	assert.Equal(t, "READ-ONLY", fsm.Step(fsm.StateSelectedReadOnly, plain, fsm.InputUIDExpunge, m).Reply.Code())
	assert.Equal(t, fsm.ActionReject, fsm.Step(fsm.StateNotAuthenticated, plain, fsm.InputSelect, m).Action)
	assert.Equal(t, fsm.ActionReject, fsm.Step(fsm.StateSelected, plain, fsm.InputEnable, m).Action)
}
