package server

import (
	"errors"

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
