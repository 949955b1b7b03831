package server

import (
	"errors"

	"github.com/imapfsm/imapfsm/fsm"
	"github.com/imapfsm/imapfsm/server/imapwire"
	"github.com/imapfsm/imapfsm/server/store"
)

// cmdReplace implements REPLACE and UID REPLACE (RFC 8508):
//
//	replace     = "REPLACE" SP seq-number SP mailbox append-message
//	uid-replace = "UID" SP "REPLACE" SP uniqueid SP mailbox append-message
//
// The new message is received like one of APPEND (flags, date, a literal
// over APPENDLIMIT refused with NO [TOOBIG]), appended to the target
// mailbox, and then the message it replaces is expunged from the selected
// mailbox. Before the literal is invited, a message that does not exist
// gets NO [NONEXISTENT] and a missing target mailbox NO [TRYCREATE]; a
// failed append leaves the old message alone. The responses are those of
// RFC 8508 3.3: an untagged OK [APPENDUID] for the new message, EXPUNGE
// (VANISHED once QRESYNC is enabled) for the old one, EXISTS when the
// target is the selected mailbox, then the tagged OK.
//
// Both bundled stores replace in one commit (store.Replacer), so a crash
// leaves either the old message or the new one. With a store that cannot,
// the old message is flagged \Deleted and expunged by UID right after the
// append is durable, so a crash between the steps can leave both, the old
// one flagged \Deleted (never neither, and never another \Deleted message
// expunged).
func cmdReplace(c *conn, cmd *command) result {
	uidCmd := cmd.input == fsm.InputUIDReplace
	a := cmd.args
	m := c.mailbox
	if err := a.SP(); err != nil {
		return argError(err)
	}
	set, err := a.SeqSet()
	if err != nil {
		return argError(err)
	}
	if set.Saved || len(set.Ranges) != 1 || set.Ranges[0].Start != set.Ranges[0].Stop {
		return bad("REPLACE takes the number of one message")
	}
	if err := a.SP(); err != nil {
		return argError(err)
	}
	dest, err := c.mailboxArg(a)
	if err != nil {
		return argError(err)
	}
	refs, err := m.resolve(set, uidCmd)
	if err != nil || len(refs) != 1 {
		return no("NONEXISTENT", "No such message; nothing was replaced")
	}
	old := refs[0].uid
	if res, ok := c.replacedExists(old); !ok {
		return res
	}
	sp := c.newAppendSpool()
	defer sp.close()
	if res, ok := c.receiveAppendMessage(a, sp, dest, "REPLACE"); !ok {
		return res
	}
	if err := a.End(); err != nil {
		return argError(err)
	}
	var gone []uint32
	if r, atomic := c.user.(store.Replacer); atomic {
		added, err := r.Replace(c.ctx, m.id, old, dest, sp.messages()[0])
		if err != nil {
			return c.replaceError(err)
		}
		gone = []uint32{old}
		c.noteOwnNew(added.Mailbox, added.UID)
		c.write(func(e *imapwire.Encoder) {
			e.StatusResponse("", imapwire.StatusOK, appendUID([]store.AppendResult{added}), "Replacement message ready")
		})
	} else {
		results, res, ok := c.storeSpooled(dest, sp)
		if !ok {
			return res
		}
		for _, r := range results {
			c.noteOwnNew(r.Mailbox, r.UID)
		}
		c.write(func(e *imapwire.Encoder) {
			e.StatusResponse("", imapwire.StatusOK, appendUID(results), "Replacement message ready")
		})
		if gone, err = c.expungeReplaced(old); err != nil {
			c.log.Error("REPLACE stored the new message but could not expunge the old one", "uid", old, "err", err)
			c.sendUpdates(true)
			return no("SERVERBUG", "The new message was stored, the old one could not be removed")
		}
	}
	seqs, uids := m.expungeAnnounced(gone)
	c.write(func(e *imapwire.Encoder) { c.writeExpunged(e, seqs, uids) })
	c.sendUpdates(true)
	return c.expungedOK(len(gone) > 0, "REPLACE completed")
}

// replaceError maps an error of store.Replacer.Replace: the replaced
// message or the selected mailbox gone is NO [NONEXISTENT], a missing
// target NO [TRYCREATE]; nothing was stored either way.
func (c *conn) replaceError(err error) result {
	switch {
	case errors.Is(err, store.ErrNoSuchMessage):
		return no("NONEXISTENT", "No such message; nothing was replaced")
	case errors.Is(err, store.ErrNoSuchMailbox):
		if _, derr := c.user.Mailbox(c.ctx, c.mailbox.name); derr != nil {
			return no("NONEXISTENT", "The selected mailbox no longer exists")
		}
		return no("TRYCREATE", "No such mailbox; create it first")
	}
	return c.storeError(err)
}

// expungeReplaced removes the replaced message uid from the selected
// mailbox: it flags it \Deleted and expunges that UID only. A message some
// other session expunged meanwhile is already gone, which is no error.
func (c *conn) expungeReplaced(uid uint32) ([]uint32, error) {
	set := store.UIDSetOf(uid)
	_, err := c.user.StoreFlags(c.ctx, c.mailbox.id, set, store.FlagChange{Op: store.FlagsAdd, Flags: []string{`\Deleted`}})
	if err == nil {
		var gone []uint32
		if gone, err = c.user.Expunge(c.ctx, c.mailbox.id, set); err == nil {
			return gone, nil
		}
	}
	if errors.Is(err, store.ErrNoSuchMessage) || errors.Is(err, store.ErrNoSuchMailbox) {
		// Expunged, or its mailbox deleted, by another session since
		// replacedExists looked: it is gone all the same.
		return nil, nil
	}
	return nil, err
}

// replacedExists checks, before the new message is received, that the
// message to replace still exists in the store: another session may have
// expunged it, or deleted the selected mailbox, since this session last
// heard. Otherwise REPLACE would append a message and have nothing to
// replace.
func (c *conn) replacedExists(uid uint32) (result, bool) {
	found := false
	err := c.user.Fetch(c.ctx, c.mailbox.id, store.UIDSetOf(uid), store.FetchOptions{}, func(*store.Message) error {
		found = true
		return nil
	})
	switch {
	case errors.Is(err, store.ErrNoSuchMailbox):
		return no("NONEXISTENT", "The selected mailbox no longer exists"), false
	case err != nil:
		return c.storeError(err), false
	case !found:
		return no("NONEXISTENT", "No such message; nothing was replaced"), false
	}
	return result{}, true
}
