package server

import (
	"errors"
	"sort"

	"github.com/imapfsm/imapfsm/server/imapwire"
	"github.com/imapfsm/imapfsm/server/store"
)

// selectedMailbox is a session's view of its selected mailbox: the message
// sequence numbers it has announced, mapped to UIDs, and how far it has
// caught up with the store's change log. Other sessions' changes reach it
// through the notifier and are announced at the points the RFC allows
// (RFC 9051 7.5.1: no EXPUNGE during FETCH, STORE or SEARCH).
type selectedMailbox struct {
	id          store.MailboxID
	name        string
	readOnly    bool
	uidValidity uint32
	// uids holds the UID of each message sequence number: uids[seq-1].
	uids []uint32
	// modseq is the highest change this view has caught up to.
	modseq uint64
	// expunged holds UIDs expunged by others but not yet announced.
	expunged map[uint32]bool
	notes    <-chan store.Notification
	cancel   func()
}

// seqOf returns the sequence number of uid, or 0.
func (m *selectedMailbox) seqOf(uid uint32) uint32 {
	i := sort.Search(len(m.uids), func(i int) bool { return m.uids[i] >= uid })
	if i < len(m.uids) && m.uids[i] == uid {
		return uint32(i + 1)
	}
	return 0
}

// openMailbox selects a mailbox for the session and announces it
// (RFC 9051 6.3.2 responses).
func (c *conn) openMailbox(name string, readOnly bool) result {
	c.closeMailbox()
	info, err := c.user.Mailbox(c.ctx, name)
	if err != nil {
		return c.storeError(err)
	}
	v, err := c.user.View(c.ctx, info.ID)
	if err != nil {
		return c.storeError(err)
	}
	m := &selectedMailbox{
		id: info.ID, name: info.Name, readOnly: readOnly, uidValidity: v.UIDValidity,
		uids: v.UIDs, modseq: v.HighestModSeq, expunged: map[uint32]bool{},
	}
	m.notes, m.cancel = c.srv.cfg.Store.Notifier().Subscribe(c.username, info.ID)
	c.mailbox = m
	flags := append([]string{`\Answered`, `\Flagged`, `\Deleted`, `\Seen`, `\Draft`}, v.Keywords...)
	c.write(func(e *imapwire.Encoder) {
		e.Untagged().Number(uint32(len(v.UIDs))).Raw(" EXISTS").CRLF()
		e.Untagged().Raw("FLAGS ").FlagList(flags).CRLF()
		if readOnly {
			e.StatusResponse("", imapwire.StatusOK, "PERMANENTFLAGS ()", "No permanent flags permitted")
		} else {
			e.Untagged().Raw("OK [PERMANENTFLAGS ").FlagList(append(flags, `\*`)).Raw("] Flags permitted").CRLF()
		}
		e.Untagged().Raw("OK [UIDVALIDITY ").Number(v.UIDValidity).Raw("] UIDs valid").CRLF()
		e.Untagged().Raw("OK [UIDNEXT ").Number(v.UIDNext).Raw("] Predicted next UID").CRLF()
		e.Untagged().Raw("LIST () \"/\" ").Mailbox(info.Name).CRLF()
	})
	if readOnly {
		return okCode("READ-ONLY", "EXAMINE completed")
	}
	return okCode("READ-WRITE", "SELECT completed")
}

// closeMailbox forgets the selected mailbox, if any.
func (c *conn) closeMailbox() {
	if c.mailbox != nil {
		c.mailbox.cancel()
		c.mailbox = nil
	}
}

// sendUpdates announces what other sessions changed in the selected mailbox
// since the view last caught up: FETCH FLAGS, EXPUNGE (only when
// allowExpunge) and EXISTS (only when the count changed: the zero-exists
// quirk of Apple Mail).
func (c *conn) sendUpdates(allowExpunge bool) {
	m := c.mailbox
	if m == nil {
		return
	}
	// Drain a pending notification; the change log is the source of truth.
	select {
	case <-m.notes:
	default:
	}
	before := uint32(len(m.uids))
	var added []uint32
	flagged := map[uint32]bool{}
	last := m.modseq
	err := c.user.ChangesSince(c.ctx, m.id, m.modseq, func(ch store.Change) error {
		for _, uid := range ch.UIDs.Expand() {
			switch ch.Kind {
			case store.ChangeAppend:
				if len(m.uids) == 0 || uid > m.uids[len(m.uids)-1] {
					added = append(added, uid)
				}
			case store.ChangeExpunge:
				m.expunged[uid] = true
			default:
				flagged[uid] = true
			}
		}
		if ch.ModSeq > last {
			last = ch.ModSeq
		}
		return nil
	})
	if errors.Is(err, store.ErrChangesTruncated) {
		c.log.Warn("change log truncated; resynchronising view", "mailbox", m.name)
		if v, verr := c.user.View(c.ctx, m.id); verr == nil {
			for _, uid := range m.uids {
				if i := sort.Search(len(v.UIDs), func(i int) bool { return v.UIDs[i] >= uid }); i >= len(v.UIDs) || v.UIDs[i] != uid {
					m.expunged[uid] = true
				}
			}
			for _, uid := range v.UIDs {
				if len(m.uids) == 0 || uid > m.uids[len(m.uids)-1] {
					added = append(added, uid)
				}
			}
			last = v.HighestModSeq
		}
	} else if err != nil {
		c.log.Error("reading mailbox changes", "mailbox", m.name, "err", err)
		return
	}
	m.modseq = last
	sort.Slice(added, func(i, j int) bool { return added[i] < added[j] })
	c.write(func(e *imapwire.Encoder) {
		if allowExpunge && len(m.expunged) > 0 {
			// Announce in descending sequence order so each number is
			// valid when the client applies it.
			for i := len(m.uids) - 1; i >= 0; i-- {
				if m.expunged[m.uids[i]] {
					delete(m.expunged, m.uids[i])
					e.Untagged().Number(uint32(i + 1)).Raw(" EXPUNGE").CRLF()
					m.uids = append(m.uids[:i], m.uids[i+1:]...)
				}
			}
			for uid := range m.expunged {
				delete(m.expunged, uid) // expunged before we ever announced it
			}
		}
		for _, uid := range added {
			if !m.expunged[uid] {
				m.uids = append(m.uids, uid)
			}
		}
		if n := uint32(len(m.uids)); n != before || (len(added) > 0 && n != before) {
			e.Untagged().Number(n).Raw(" EXISTS").CRLF()
		}
	})
	if len(flagged) > 0 {
		c.sendFlagUpdates(flagged)
	}
}

// sendFlagUpdates sends FETCH (UID FLAGS) for messages whose flags others
// changed.
func (c *conn) sendFlagUpdates(uids map[uint32]bool) {
	m := c.mailbox
	var set []uint32
	for uid := range uids {
		if m.seqOf(uid) != 0 && !m.expunged[uid] {
			set = append(set, uid)
		}
	}
	if len(set) == 0 {
		return
	}
	var msgs []*store.Message
	err := c.user.Fetch(c.ctx, m.id, store.UIDSetOf(set...), store.FetchOptions{}, func(msg *store.Message) error {
		msgs = append(msgs, msg.Clone())
		return nil
	})
	if err != nil {
		c.log.Error("fetching changed flags", "err", err)
		return
	}
	c.write(func(e *imapwire.Encoder) {
		for _, msg := range msgs {
			if seq := m.seqOf(msg.UID); seq != 0 {
				e.Untagged().Number(seq).Raw(" FETCH (UID ").Number(msg.UID).Raw(" FLAGS ").FlagList(msg.Flags).Raw(")").CRLF()
			}
		}
	})
}
