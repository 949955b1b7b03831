package lmtp

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/imapfsm/imapfsm/server/lmtp/lmtpfsm"
)

// TestMachineFollowsTheRFCs pins the transitions of spec/lmtp.yaml that
// RFC 2033 and RFC 5321 prescribe, as the generated machine decides them.
func TestMachineFollowsTheRFCs(t *testing.T) {
	m := lmtpfsm.DefaultModes()
	for _, tc := range []struct {
		why     string
		state   lmtpfsm.State
		in      lmtpfsm.Input
		outcome lmtpfsm.Outcome
		action  lmtpfsm.Action
		reply   lmtpfsm.Response
		next    lmtpfsm.State
	}{
		{"LHLO opens the session (RFC 2033 4.1)", lmtpfsm.StateConnected, lmtpfsm.InputLHLO, lmtpfsm.OutcomeOK, lmtpfsm.ActionExecute, lmtpfsm.ResponseNone, lmtpfsm.StateReady},
		{"MAIL before LHLO is out of sequence", lmtpfsm.StateConnected, lmtpfsm.InputMail, lmtpfsm.OutcomeOK, lmtpfsm.ActionReject, lmtpfsm.ResponseLHLOFirst, lmtpfsm.StateConnected},
		{"RCPT needs MAIL (RFC 5321 4.1.4)", lmtpfsm.StateReady, lmtpfsm.InputRcpt, lmtpfsm.OutcomeOK, lmtpfsm.ActionReject, lmtpfsm.ResponseNeedMail, lmtpfsm.StateReady},
		{"a nested MAIL is refused", lmtpfsm.StateRecipients, lmtpfsm.InputMail, lmtpfsm.OutcomeOK, lmtpfsm.ActionReject, lmtpfsm.ResponseNestedMail, lmtpfsm.StateRecipients},
		{"DATA without an accepted recipient fails with 503 (RFC 2033 4.2)", lmtpfsm.StateSender, lmtpfsm.InputData, lmtpfsm.OutcomeContinue, lmtpfsm.ActionReject, lmtpfsm.ResponseNoValidRecipients, lmtpfsm.StateSender},
		{"a refused recipient keeps the transaction", lmtpfsm.StateSender, lmtpfsm.InputRcpt, lmtpfsm.OutcomeNo, lmtpfsm.ActionExecute, lmtpfsm.ResponseNone, lmtpfsm.StateSender},
		{"DATA answered 354 reads the message", lmtpfsm.StateRecipients, lmtpfsm.InputData, lmtpfsm.OutcomeContinue, lmtpfsm.ActionExecute, lmtpfsm.ResponseNone, lmtpfsm.StateMessage},
		{"the final dot ends the transaction", lmtpfsm.StateMessage, lmtpfsm.InputDataEnd, lmtpfsm.OutcomeOK, lmtpfsm.ActionExecute, lmtpfsm.ResponseNone, lmtpfsm.StateReady},
		{"RSET ends the transaction, not the session (RFC 5321 4.1.1.5)", lmtpfsm.StateRecipients, lmtpfsm.InputRset, lmtpfsm.OutcomeOK, lmtpfsm.ActionExecute, lmtpfsm.ResponseNone, lmtpfsm.StateReady},
		{"LHLO again ends the transaction (RFC 5321 4.1.4)", lmtpfsm.StateSender, lmtpfsm.InputLHLO, lmtpfsm.OutcomeOK, lmtpfsm.ActionExecute, lmtpfsm.ResponseNone, lmtpfsm.StateReady},
		{"HELO is refused by default", lmtpfsm.StateConnected, lmtpfsm.InputHelo, lmtpfsm.OutcomeOK, lmtpfsm.ActionReject, lmtpfsm.ResponseUseLHLO, lmtpfsm.StateConnected},
		{"a session waiting for a command ends on shutdown", lmtpfsm.StateReady, lmtpfsm.InputShutdown, lmtpfsm.OutcomeOK, lmtpfsm.ActionClose, lmtpfsm.ResponseShutdown, lmtpfsm.StateClosed},
		{"a message being read is finished before shutdown", lmtpfsm.StateMessage, lmtpfsm.InputShutdown, lmtpfsm.OutcomeOK, lmtpfsm.ActionIgnore, lmtpfsm.ResponseNone, lmtpfsm.StateMessage},
		{"a data timeout closes with 421", lmtpfsm.StateMessage, lmtpfsm.InputTimeout, lmtpfsm.OutcomeOK, lmtpfsm.ActionClose, lmtpfsm.ResponseTimeout, lmtpfsm.StateClosed},
		{"QUIT closes (RFC 5321 4.1.1.10)", lmtpfsm.StateRecipients, lmtpfsm.InputQuit, lmtpfsm.OutcomeOK, lmtpfsm.ActionExecute, lmtpfsm.ResponseNone, lmtpfsm.StateClosed},
	} {
		d := lmtpfsm.Step(tc.state, tc.in, m)
		assert.Equal(t, tc.action, d.Action, tc.why)
		assert.Equal(t, tc.reply, d.Reply, tc.why)
		assert.Equal(t, tc.next, d.Next(tc.outcome), tc.why)
	}
	assert.Equal(t, 503, lmtpfsm.ResponseNoValidRecipients.Code())
	assert.Equal(t, "5.5.1", lmtpfsm.ResponseNoValidRecipients.Enhanced())
}
