package server

import (
	"bytes"
	"errors"

	"github.com/imapfsm/imapfsm/fsm"
	"github.com/imapfsm/imapfsm/server/imapwire"
)

// LineClass is what the session engine reads one client line as.
type LineClass struct {
	// Input is the machine input the line is.
	Input fsm.Input
	// Tag is the line's tag: the command's tag, "DONE" for a stray DONE,
	// or "" when the line has none (or, for IDLE and SASL continuation
	// lines, the tag is the one the state holds).
	Tag string
	// Name is the upper-case command name ("UID FETCH" joined) of a
	// command line.
	Name string
	// Reason explains why a line could not be parsed, or names an unknown
	// command.
	Reason string
	// ArgsStart is the offset of a command's arguments in the line.
	ArgsStart int
}

// ClassifyLine reads one client line the way a state that reads `reads`
// does (fsm.State.Reads): as a command, as an IDLE continuation, or as a
// SASL response. It makes no decision: the machine decides what each input
// means in each state. Tools that replay a recorded session use it to read
// the client's lines exactly as the server does.
func ClassifyLine(reads fsm.Reads, line imapwire.Line) LineClass {
	text := line.Text
	switch reads {
	case fsm.ReadsSASL:
		// RFC 9051 6.2.2: each line is a base64 response, "*" cancels.
		if string(text) == "*" {
			return LineClass{Input: fsm.InputSASLCancel}
		}
		return LineClass{Input: fsm.InputSASLResponse}
	case fsm.ReadsIdle:
		// RFC 2177 3: only DONE ends IDLE. String literals in the ABNF
		// are case-insensitive, so "done" is DONE; trailing blanks or a
		// bare LF make it a variant.
		trimmed := bytes.TrimRight(text, " \t")
		if bytes.EqualFold(trimmed, []byte("DONE")) {
			if len(trimmed) == len(text) && !line.BareLF {
				return LineClass{Input: fsm.InputDone}
			}
			return LineClass{Input: fsm.InputDoneVariant}
		}
	default:
		if bytes.EqualFold(bytes.TrimRight(text, " \t"), []byte("DONE")) && !line.HasLiteral {
			return LineClass{Input: fsm.InputStrayDone, Tag: "DONE"}
		}
	}
	if len(text) == 0 && !line.HasLiteral {
		return LineClass{Input: fsm.InputEmptyLine}
	}
	pc, err := imapwire.ParseCommand(text)
	if err != nil {
		lc := LineClass{Input: fsm.InputUnparsable, Tag: pc.Tag, Reason: imapwire.Reason(err)}
		if pc.Tag != "" {
			lc.Input = fsm.InputUnparsableTagged
		}
		return lc
	}
	lc := LineClass{Tag: pc.Tag, Name: pc.Name, ArgsStart: pc.ArgsStart}
	var known bool
	lc.Input, known = fsm.CommandInput(pc.Name)
	if !known {
		lc.Reason = pc.Name
	}
	return lc
}

// classify turns one line segment into a command: its input as
// ClassifyLine reads it in the current state, the held tag for
// continuation lines, and the argument reader of a command.
func (c *conn) classify(line imapwire.Line) *command {
	lc := ClassifyLine(c.state.Reads(), line)
	cmd := &command{line: line, input: lc.Input, tag: lc.Tag, name: lc.Name, reason: lc.Reason}
	switch c.state.Reads() {
	case fsm.ReadsSASL:
		cmd.tag = c.heldTag
		cmd.raw = append([]byte(nil), line.Text...)
		return cmd
	}
	if lc.Name != "" {
		cmd.args = c.dec.Args(lc.ArgsStart)
	}
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
