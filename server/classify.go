package server

import (
	"bytes"
	"errors"

	"github.com/imapfsm/imapfsm/fsm"
	"github.com/imapfsm/imapfsm/server/imapwire"
)

// classify turns one line segment into an fsm input, reading it the way the
// current state says (fsm.State.Reads): as a command, as an IDLE
// continuation, or as a SASL response. It makes no decision: the machine
// decides what each input means in each state.
func (c *conn) classify(line imapwire.Line) *command {
	cmd := &command{line: line}
	text := line.Text
	switch c.state.Reads() {
	case fsm.ReadsSASL:
		// RFC 9051 6.2.2: each line is a base64 response, "*" cancels.
		cmd.tag = c.heldTag
		cmd.raw = append([]byte(nil), text...)
		if string(text) == "*" {
			cmd.input = fsm.InputSASLCancel
		} else {
			cmd.input = fsm.InputSASLResponse
		}
		return cmd
	case fsm.ReadsIdle:
		// RFC 2177 3: only DONE ends IDLE. String literals in the ABNF
		// are case-insensitive, so "done" is DONE; trailing blanks or a
		// bare LF make it a variant.
		trimmed := bytes.TrimRight(text, " \t")
		if bytes.EqualFold(trimmed, []byte("DONE")) {
			if len(trimmed) == len(text) && !line.BareLF {
				cmd.input = fsm.InputDone
			} else {
				cmd.input = fsm.InputDoneVariant
			}
			return cmd
		}
	default:
		if bytes.EqualFold(bytes.TrimRight(text, " \t"), []byte("DONE")) && !line.HasLiteral {
			cmd.tag = "DONE"
			cmd.input = fsm.InputStrayDone
			return cmd
		}
	}
	if len(text) == 0 && !line.HasLiteral {
		cmd.input = fsm.InputEmptyLine
		return cmd
	}
	pc, err := imapwire.ParseCommand(text)
	if err != nil {
		cmd.tag = pc.Tag
		cmd.reason = imapwire.Reason(err)
		cmd.input = fsm.InputUnparsable
		if pc.Tag != "" {
			cmd.input = fsm.InputUnparsableTagged
		}
		return cmd
	}
	cmd.tag = pc.Tag
	cmd.name = pc.Name
	var known bool
	cmd.input, known = fsm.CommandInput(pc.Name)
	if !known {
		cmd.reason = pc.Name
	}
	cmd.args = c.dec.Args(pc.ArgsStart)
	return cmd
}

// classifyUnreadable turns a line the decoder could not return (one with a
// NUL byte, or longer than the line limit, err says which) into an fsm
// input. Where lines are commands (or IDLE continuations), a tag at its
// start makes it the tagged input, whose tag the machine's decision
// answers; in SASL a line is a response and carries no tag.
func (c *conn) classifyUnreadable(line imapwire.Line, err error) *command {
	cmd := &command{line: line}
	tooLong := errors.Is(err, imapwire.ErrLineTooLong)
	if !tooLong {
		cmd.reason = imapwire.Reason(err)
	}
	if c.state.Reads() != fsm.ReadsSASL {
		cmd.tag = line.Tag()
	}
	switch {
	case tooLong && cmd.tag != "":
		cmd.input = fsm.InputLineTooLongTagged
	case tooLong:
		cmd.input = fsm.InputLineTooLong
	case cmd.tag != "":
		cmd.input = fsm.InputUnparsableTagged
	default:
		cmd.input = fsm.InputUnparsable
	}
	return cmd
}
