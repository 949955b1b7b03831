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
	// own holds the MODSEQs of flag changes this session made and already
	// reported to its client, so that sendUpdates does not repeat them.
	own map[uint64]bool
	// saved is the SEARCHRES result "$" as UIDs in ascending order
	// (RFC 5182 2.1); nil until a SEARCH ... RETURN (SAVE).
	saved  []uint32
	notes  <-chan store.Notification
	cancel func()
}

// msgRef is one message of the view: its sequence number and UID.
type msgRef struct{ seq, uid uint32 }

// errBadSeqNumber reports a message sequence number beyond the number of
// messages the client knows (RFC 9051 9, seq-number: numbers above the
// mailbox size are invalid).
var errBadSeqNumber = errors.New("invalid message sequence number")

// resolve maps a sequence set of a command to the messages of the view, in
// ascending order and each once. With uid the set holds UIDs: "*" is the
// largest UID in the view and UIDs that are not in the view are ignored
// (RFC 9051 6.4.9). Otherwise it holds sequence numbers; a number above the
// message count fails with errBadSeqNumber, except that "*" on an empty
// mailbox selects nothing. "$" is the saved search result (RFC 5182 2.1),
// reduced to the messages still in the view.
func (m *selectedMailbox) resolve(set imapwire.SeqSet, uid bool) ([]msgRef, error) {
	if set.Saved {
		refs := make([]msgRef, 0, len(m.saved))
		for _, u := range m.saved {
			if seq := m.seqOf(u); seq != 0 {
				refs = append(refs, msgRef{seq: seq, uid: u})
			}
		}
		return refs, nil
	}
	n := uint32(len(m.uids))
	if !uid {
		if set.Exceeds(n) && (n != 0 || !set.Dynamic()) {
			return nil, errBadSeqNumber
		}
		refs := make([]msgRef, 0, min(set.Count(n), uint64(n)))
		for seq := range set.All(n) {
			refs = append(refs, msgRef{seq: seq, uid: m.uids[seq-1]})
		}
		return refs, nil
	}
	if n == 0 {
		return nil, nil
	}
	var refs []msgRef
	for _, r := range set.Resolve(m.uids[n-1]) {
		i := sort.Search(len(m.uids), func(i int) bool { return m.uids[i] >= r.Start })
		for ; i < len(m.uids) && m.uids[i] <= r.Stop; i++ {
			refs = append(refs, msgRef{seq: uint32(i + 1), uid: m.uids[i]})
		}
	}
	return refs, nil
}

// uidSetOf returns the store UID set of refs.
func uidSetOf(refs []msgRef) store.UIDSet {
	uids := make([]uint32, len(refs))
	for i, r := range refs {
		uids[i] = r.uid
	}
	return store.UIDSetOf(uids...)
}

// noteOwnFlagChange records the MODSEQ of a flag change this session made
// and reported itself (STORE, or \Seen set by FETCH), so that sendUpdates
// does not announce it again.
func (m *selectedMailbox) noteOwnFlagChange(modseq uint64) {
	if modseq == 0 {
		return
	}
	if m.own == nil {
		m.own = map[uint64]bool{}
	}
	m.own[modseq] = true
}

// expungeAnnounced removes the messages with the given UIDs from the view
// and returns their sequence numbers in the order the EXPUNGE responses
// must be sent: descending, so that each number is valid when the client
// applies it (RFC 9051 7.4.1). UIDs not in the view are ignored.
func (m *selectedMailbox) expungeAnnounced(uids []uint32) []uint32 {
	var seqs []uint32
	gone := make(map[uint32]bool, len(uids))
	for _, u := range uids {
		gone[u] = true
	}
	for i := len(m.uids) - 1; i >= 0; i-- {
		if gone[m.uids[i]] {
			seqs = append(seqs, uint32(i+1))
			delete(m.expunged, m.uids[i])
			m.uids = append(m.uids[:i], m.uids[i+1:]...)
		}
	}
	return seqs
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
		uids: v.UIDs, modseq: v.HighestModSeq, expunged: map[uint32]bool{}, own: map[uint64]bool{},
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
		if ch.ModSeq > last {
			last = ch.ModSeq
		}
		if ch.Kind == store.ChangeFlags && m.own[ch.ModSeq] {
			delete(m.own, ch.ModSeq) // this session reported it already
			return nil
		}
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
		// known is the message count the client has after the EXPUNGE
		// responses below; EXISTS is sent only when the view differs.
		known := before
		if allowExpunge && len(m.expunged) > 0 {
			// Announce in descending sequence order so each number is
			// valid when the client applies it.
			for i := len(m.uids) - 1; i >= 0; i-- {
				if m.expunged[m.uids[i]] {
					delete(m.expunged, m.uids[i])
					e.Untagged().Number(uint32(i + 1)).Raw(" EXPUNGE").CRLF()
					m.uids = append(m.uids[:i], m.uids[i+1:]...)
					known--
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
		if n := uint32(len(m.uids)); n != known {
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

// sendCommandUpdates announces other sessions' changes at the end of a
// message command. EXPUNGE responses are held back during FETCH, STORE and
// SEARCH, which must not renumber messages under the client (RFC 9051
// 7.5.1), and allowed during their UID forms, which the RFC exempts.
func (c *conn) sendCommandUpdates(uidCommand bool) {
	c.sendUpdates(uidCommand)
}
