package server

import (
	"github.com/imapfsm/imapfsm/fsm"
	"github.com/imapfsm/imapfsm/server/imapwire"
	"github.com/imapfsm/imapfsm/server/store"
)

// cmdExpunge implements EXPUNGE (RFC 9051 6.4.3) and UID EXPUNGE (RFC 4315
// 2.1, RFC 9051 6.4.9). It removes the \Deleted messages (for UID EXPUNGE
// only those in the UID set), announces an untagged EXPUNGE for each in
// descending sequence order, so that every number is valid when the client
// applies it, or one VANISHED once QRESYNC is enabled (RFC 7162 3.2.7,
// 3.2.9), and then reports other sessions' changes.
func cmdExpunge(c *conn, cmd *command) result {
	a := cmd.args
	m := c.mailbox
	var uids store.UIDSet
	expunged := false
	uidCmd := cmd.input == fsm.InputUIDExpunge
	if uidCmd {
		if err := a.SP(); err != nil {
			return argError(err)
		}
		set, err := a.SeqSet()
		if err != nil {
			return argError(err)
		}
		sel, err := m.selection(set, true)
		if err != nil {
			return bad("Invalid UID set")
		}
		uids, _ = sel.storeSet()
	}
	if err := a.End(); err != nil {
		return argError(err)
	}
	if !uidCmd || len(uids) > 0 {
		// A nil set would expunge every \Deleted message, so UID EXPUNGE
		// with no message of the view in its set must not reach the store.
		gone, err := c.user.Expunge(c.ctx, m.id, uids)
		if err != nil {
			return c.storeError(err)
		}
		seqs, uids := m.expungeAnnounced(gone)
		c.write(func(e *imapwire.Encoder) { c.writeExpunged(e, seqs, uids) })
		expunged = len(gone) > 0
	}
	c.sendUpdates(true)
	return c.expungedOK(expunged, "EXPUNGE completed")
}
