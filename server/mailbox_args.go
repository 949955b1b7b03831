package server

import (
	"errors"
	"strings"

	"github.com/imapfsm/imapfsm/fsm"
)

// errTrailingSeparator rejects a mailbox name with an extra trailing
// separator when the trailing-separator quirk is not tolerated; argError
// answers it with NO [NONEXISTENT].
var errTrailingSeparator = errors.New("mailbox name ends with the hierarchy separator")

// mailboxArg reads a mailbox name and applies the trailing-separator quirk
// (Thunderbird with some layouts): lenient strips one trailing "/", strict
// answers NO [NONEXISTENT], as the machine's mode for the quirk says.
func (c *conn) mailboxArg(a interface{ Mailbox() (string, error) }) (string, error) {
	name, err := a.Mailbox()
	if err != nil {
		return "", err
	}
	if len(name) > 1 && strings.HasSuffix(name, "/") && !strings.HasSuffix(name, "//") {
		if !c.noteQuirk(fsm.QuirkTrailingSeparator, "mailbox", name) {
			return "", errTrailingSeparator
		}
		name = strings.TrimSuffix(name, "/")
	}
	return name, nil
}

// oneMailboxArg parses the arguments of a command that takes exactly one
// mailbox name (SP mailbox, RFC 9051 9). When parsing fails it returns the
// result to complete the command with and done set.
func oneMailboxArg(c *conn, cmd *command) (name string, res result, done bool) {
	a := cmd.args
	if err := a.SP(); err != nil {
		return "", argError(err), true
	}
	name, err := c.mailboxArg(a)
	if err != nil {
		return "", argError(err), true
	}
	if err := a.End(); err != nil {
		return "", argError(err), true
	}
	return name, result{}, false
}
