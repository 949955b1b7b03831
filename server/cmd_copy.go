package server

import (
	"errors"
	"strconv"

	"github.com/imapfsm/imapfsm/fsm"
	"github.com/imapfsm/imapfsm/server/imapwire"
	"github.com/imapfsm/imapfsm/server/store"
)

// copyArgs reads "SP sequence-set SP mailbox" of COPY and MOVE and
// resolves the set against the view, as a store set of the messages'
// UIDs (nil when it names none).
func (c *conn) copyArgs(cmd *command, uidCmd bool) (store.UIDSet, string, result, bool) {
	a := cmd.args
	if err := a.SP(); err != nil {
		return nil, "", argError(err), false
	}
	set, err := a.SeqSet()
	if err != nil {
		return nil, "", argError(err), false
	}
	if err := a.SP(); err != nil {
		return nil, "", argError(err), false
	}
	dest, err := c.mailboxArg(a)
	if err != nil {
		return nil, "", argError(err), false
	}
	if err := a.End(); err != nil {
		return nil, "", argError(err), false
	}
	sel, err := c.mailbox.selection(set, uidCmd)
	if err != nil {
		return nil, "", bad("Invalid message sequence number"), false
	}
	uids, _ := sel.storeSet()
	return uids, dest, result{}, true
}

// copyError maps a COPY/MOVE store error: a missing destination is NO
// [TRYCREATE] (RFC 9051 6.4.7), so the client may create it and retry. The
// store reports a selected mailbox deleted underneath the session the same
// way; creating the destination would not help then, so that is NO
// [NONEXISTENT].
func (c *conn) copyError(err error, dest string) result {
	if errors.Is(err, store.ErrNoSuchMailbox) {
		if _, derr := c.user.Mailbox(c.ctx, dest); derr == nil {
			return no("NONEXISTENT", "The selected mailbox no longer exists")
		}
		return no("TRYCREATE", "Destination mailbox does not exist")
	}
	return c.storeError(err)
}

// copyUIDCode formats the COPYUID response code (RFC 4315 3): the
// destination UIDVALIDITY, the source UIDs and the destination UIDs. Both
// lists ascend in step, so their compact set forms still correspond.
func copyUIDCode(res store.CopyResult) string {
	return "COPYUID " + strconv.FormatUint(uint64(res.DestUIDValidity), 10) + " " +
		store.UIDSetOf(res.SourceUIDs...).String() + " " + store.UIDSetOf(res.DestUIDs...).String()
}

// cmdCopy implements COPY and UID COPY (RFC 9051 6.4.7, 6.4.9) with the
// COPYUID response code of UIDPLUS (RFC 4315 3). The tagged OK is sent
// only after the store made the copies durable.
func cmdCopy(c *conn, cmd *command) result {
	uidCmd := cmd.input == fsm.InputUIDCopy
	src, dest, res, valid := c.copyArgs(cmd, uidCmd)
	if !valid {
		return res
	}
	if len(src) == 0 {
		if _, err := c.user.Mailbox(c.ctx, dest); err != nil {
			return c.copyError(err, dest)
		}
		return ok("COPY completed; no messages")
	}
	cr, err := c.user.Copy(c.ctx, c.mailbox.id, src, dest)
	if err != nil {
		return c.copyError(err, dest)
	}
	c.noteOwnNew(cr.DestID, cr.DestUIDs...)
	c.sendCommandUpdates(true)
	if len(cr.SourceUIDs) == 0 {
		return ok("COPY completed; no messages")
	}
	return okCode(copyUIDCode(cr), "COPY completed")
}

// cmdMove implements MOVE and UID MOVE (RFC 6851 3): the messages move
// atomically, then "* OK [COPYUID ...]" and an EXPUNGE for each moved
// message (in descending sequence order), or one VANISHED once QRESYNC is
// enabled (RFC 6851 4.4), precede the tagged OK.
func cmdMove(c *conn, cmd *command) result {
	uidCmd := cmd.input == fsm.InputUIDMove
	src, dest, res, valid := c.copyArgs(cmd, uidCmd)
	if !valid {
		return res
	}
	if len(src) == 0 {
		if _, err := c.user.Mailbox(c.ctx, dest); err != nil {
			return c.copyError(err, dest)
		}
		return ok("MOVE completed; no messages")
	}
	m := c.mailbox
	cr, err := c.user.Move(c.ctx, m.id, src, dest)
	if err != nil {
		return c.copyError(err, dest)
	}
	c.noteOwnNew(cr.DestID, cr.DestUIDs...)
	seqs, uids := m.expungeAnnounced(cr.SourceUIDs)
	c.write(func(e *imapwire.Encoder) {
		if len(cr.SourceUIDs) > 0 {
			e.StatusResponse("", imapwire.StatusOK, copyUIDCode(cr), "Moved")
		}
		c.writeExpunged(e, seqs, uids)
	})
	c.sendUpdates(true)
	return c.expungedOK(len(cr.SourceUIDs) > 0, "MOVE completed")
}
