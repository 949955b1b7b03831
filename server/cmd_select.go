package server

import (
	"errors"
	"strings"

	"github.com/imapfsm/imapfsm/fsm"
	"github.com/imapfsm/imapfsm/server/imapwire"
	"github.com/imapfsm/imapfsm/server/store"
)

// cmdSelect implements SELECT and EXAMINE (RFC 9051 6.3.2, 6.3.3). The
// machine decides the state for each outcome; a failed SELECT leaves no
// mailbox selected. Closing a selected mailbox is announced with the
// CLOSED response code, and the QRESYNC parameter resynchronises the
// client (RFC 7162 3.2.5).
func cmdSelect(c *conn, cmd *command) result {
	a := cmd.args
	if err := a.SP(); err != nil {
		return argError(err)
	}
	name, err := c.mailboxArg(a)
	if err != nil {
		return argError(err)
	}
	// Optional select parameters (RFC 4466 2.1): CONDSTORE (RFC 7162
	// 3.1.8) and QRESYNC (RFC 7162 3.2.5).
	condstore := false
	var q *qresyncParam
	if !a.AtEnd() {
		if err := a.SP(); err != nil {
			return argError(err)
		}
		err := a.List(func() error {
			kw, err := a.Keyword()
			if err != nil {
				return err
			}
			switch {
			case kw == "CONDSTORE":
				condstore = true
			case kw == "QRESYNC" && q == nil:
				if err := a.SP(); err != nil {
					return err
				}
				p, err := parseQresyncParam(a)
				q = &p
				return err
			default:
				return errSyntax("Unknown or repeated SELECT parameter " + kw)
			}
			return nil
		})
		if err != nil {
			return argError(err)
		}
	}
	if err := a.End(); err != nil {
		return argError(err)
	}
	if q != nil && !c.qresync() {
		return bad("QRESYNC needs ENABLE QRESYNC first (RFC 7162 3.2.3)")
	}
	if c.state.MailboxOpen() {
		// Responses before this one concern the mailbox being closed, those
		// after it the new one (RFC 9051 6.3.2 and 7.1; RFC 7162 3.2.11).
		c.closeMailbox()
		c.write(func(e *imapwire.Encoder) {
			e.StatusResponse("", imapwire.StatusOK, "CLOSED", "Previous mailbox closed")
		})
	}
	if condstore {
		// No mailbox is selected now: SELECT itself reports HIGHESTMODSEQ.
		c.enableCondstore()
	}
	res := c.openMailbox(name, cmd.input == fsm.InputExamine)
	if res.outcome == fsm.OutcomeOK && q != nil {
		if r := c.resync(*q); r.text != "" { // a store error
			res = r
		}
	}
	if res.outcome != fsm.OutcomeOK {
		c.closeMailbox()
	}
	return res
}

// cmdClose implements CLOSE (RFC 9051 6.4.1): it expunges \Deleted messages
// silently unless the mailbox was opened read-only, then deselects. Once
// QRESYNC is enabled its tagged OK carries the new HIGHESTMODSEQ when it
// expunged messages (RFC 7162 3.2.8).
func cmdClose(c *conn, cmd *command) result {
	if err := cmd.args.End(); err != nil {
		return argError(err)
	}
	var modseq uint64
	if m := c.mailbox; m != nil && !m.readOnly {
		gone, err := c.user.Expunge(c.ctx, m.id, nil)
		if err != nil && !errors.Is(err, store.ErrNoSuchMailbox) {
			return c.storeError(err)
		}
		if len(gone) > 0 && c.qresync() {
			modseq = c.closeModSeq(gone)
		}
	}
	c.closeMailbox()
	if modseq != 0 {
		return okCode(modSeqCode(modseq), "CLOSE completed")
	}
	return ok("CLOSE completed")
}

// cmdUnselect implements UNSELECT (RFC 3691, RFC 9051 6.4.2): deselect
// without expunging.
func cmdUnselect(c *conn, cmd *command) result {
	if err := cmd.args.End(); err != nil {
		return argError(err)
	}
	c.closeMailbox()
	return ok("UNSELECT completed")
}

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

// storeError maps store errors to NO responses with RFC 5530 codes.
func (c *conn) storeError(err error) result {
	switch {
	case errors.Is(err, store.ErrNoSuchMailbox):
		return no("NONEXISTENT", "No such mailbox")
	case errors.Is(err, store.ErrMailboxExists):
		return no("ALREADYEXISTS", "Mailbox already exists")
	case errors.Is(err, store.ErrInvalidMailboxName):
		return no("CANNOT", "Invalid mailbox name")
	case errors.Is(err, store.ErrNoselect):
		return no("CANNOT", "Mailbox is not selectable")
	case errors.Is(err, store.ErrHasChildren):
		return no("INUSE", "Mailbox has children")
	case errors.Is(err, store.ErrInboxDelete):
		return no("CANNOT", "INBOX cannot be deleted")
	case errors.Is(err, store.ErrInvalidSpecialUse):
		return no("USEATTR", "Unsupported special-use attribute")
	case errors.Is(err, store.ErrInvalidFlag):
		return bad("Invalid flag")
	case errors.Is(err, store.ErrNoSuchMessage):
		return no("NONEXISTENT", "No such message")
	case errors.Is(err, store.ErrTooBig):
		return no("TOOBIG", "Message too big")
	case errors.Is(err, store.ErrOverQuota):
		return no("OVERQUOTA", "Quota exceeded; nothing was stored")
	case errors.Is(err, store.ErrLimit):
		return no("LIMIT", "Limit exceeded")
	}
	c.log.Error("store error", "err", err)
	return no("SERVERBUG", "Internal error; the change was not made")
}
