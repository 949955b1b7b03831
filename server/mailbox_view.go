package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/imapfsm/imapfsm/server/imapwire"
	"github.com/imapfsm/imapfsm/server/store"
)

// selectedMailbox is a session's view of its selected mailbox: the message
// sequence numbers it has announced, mapped to UIDs, and how far it has
// caught up with the store's change log. Other sessions' changes reach it
// through the notifier and are announced at the points the RFC allows
// (RFC 9051 7.5.1: no EXPUNGE during FETCH, STORE or SEARCH).
type selectedMailbox struct {
	// What a push to an idler reads comes first, so that it spans as few
	// cache lines as it can.

	// uids holds the UID of each message sequence number: uids[seq-1].
	uids []uint32
	// modseq is the highest change this view has caught up to.
	modseq uint64
	// expunged holds UIDs expunged by others but not yet announced (nil
	// until the first, see markExpunged).
	expunged map[uint32]bool
	// own holds the MODSEQs of flag changes this session made and already
	// reported to its client, so that sendUpdates does not repeat them.
	own map[uint64]bool
	// rev1 is set in IMAP4rev1 sessions: only they know \Recent (RFC 9051
	// dropped it). recent holds the UIDs of the view that are \Recent for
	// the session (RFC 3501 2.3.2), allocated when there is one. With
	// ownsRecent (SELECT in IMAP4rev1) they are the
	// messages this session claimed from the store (ClaimRecent), so that
	// each message is recent in exactly one session, and they carry the
	// \Recent flag. Without it (EXAMINE, which must not take \Recent from
	// other sessions, RFC 3501 6.3.2) they are the messages no session had
	// claimed when the mailbox was opened and those that arrived since:
	// they are counted in RECENT responses but never flagged.
	rev1       bool
	recent     map[uint32]bool
	ownsRecent bool
	// recentFrom and recentTo bound the UIDs recent since the mailbox was
	// opened (recentFrom <= uid < recentTo, those of them still in the
	// view); recent holds only the UIDs made recent after that.
	recentFrom, recentTo uint32
	// hub is shared with the server's other sessions on the mailbox; gen
	// is its notification count when this view last caught up.
	hub *mailboxHub
	gen uint64
	// heldFlags are messages whose flags others changed while a push
	// was not to report flag changes (NOTIFY without FlagChange); the
	// next catch-up that may reports them.
	heldFlags map[uint32]bool
	// contexts are the update contexts of searches and sorts with RETURN
	// (UPDATE) (RFC 5267 4.3, contexts.go); ctxDirty the messages whose
	// flags this session changed since they were last re-tested.
	contexts []*updateContext
	ctxDirty map[uint32]bool

	id          store.MailboxID
	name        string
	readOnly    bool
	uidValidity uint32
	// keywords are the keywords of the last FLAGS response, in the order
	// sent; known maps each, lower-cased (keywords are case-insensitive),
	// to its spelling there.
	keywords []string
	known    map[string]string
	// saved is the SEARCHRES result "$" as UIDs in ascending order
	// (RFC 5182 2.1); nil until a SEARCH ... RETURN (SAVE).
	saved []uint32
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
// reduced to the messages still in the view. The list grows with the set;
// selection walks it in chunks instead.
func (m *selectedMailbox) resolve(set imapwire.SeqSet, uid bool) ([]msgRef, error) {
	sel, err := m.selection(set, uid)
	if err != nil {
		return nil, err
	}
	return sel.refs(), nil
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
// applies it (RFC 9051 7.4.1), and their UIDs in the same order. UIDs not
// in the view are ignored.
func (m *selectedMailbox) expungeAnnounced(uids []uint32) (seqs, removed []uint32) {
	gone := make(map[uint32]bool, len(uids))
	for _, u := range uids {
		gone[u] = true
	}
	return m.removeFromView(gone)
}

// removeFromView is expungeAnnounced for the UIDs in gone.
//
// The sequence numbers come in descending order, each valid when the
// EXPUNGE responses are sent in that order. The view is compacted in one
// pass, so removing k of n messages costs O(n), not O(k·n).
func (m *selectedMailbox) removeFromView(gone map[uint32]bool) (seqs, removed []uint32) {
	if len(gone) == 0 {
		return nil, nil
	}
	for i := len(m.uids) - 1; i >= 0; i-- {
		if uid := m.uids[i]; gone[uid] {
			seqs = append(seqs, uint32(i+1))
			removed = append(removed, uid)
		}
	}
	if len(removed) > 0 {
		// gone may be m.expunged itself: read it before deleting from it.
		m.uids = slices.DeleteFunc(m.uids, func(uid uint32) bool { return gone[uid] })
	}
	for _, uid := range removed {
		delete(m.expunged, uid)
		delete(m.recent, uid)
	}
	return seqs, removed
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
		uids: v.UIDs, modseq: v.HighestModSeq,
	}
	m.hub = c.srv.acquireHub(c.username, info.ID, v.HighestModSeq)
	c.noteSelected(info.ID)
	m.gen = ^uint64(0) // not caught up through the hub yet
	c.mailbox = m
	m.learnKeywords(v.Keywords)
	if !c.rev2() {
		m.rev1 = true
		m.ownsRecent = !readOnly
		first := uint32(0)
		if readOnly {
			first = m.uidAt(len(v.UIDs) - int(min(v.Recent, uint32(len(v.UIDs)))))
		} else if len(v.UIDs) > 0 {
			if first, err = c.claimRecent(m, v.UIDs[len(v.UIDs)-1]+1); err != nil {
				return c.storeError(err) // the caller closes the mailbox
			}
		}
		if first != 0 && len(v.UIDs) > 0 {
			// A range, not a set: after an import every message of a
			// large mailbox is recent, and a set of them would cost
			// O(n) time and memory on SELECT.
			m.recentFrom, m.recentTo = first, v.UIDs[len(v.UIDs)-1]+1
		}
	}
	// Each revision gets the SELECT responses it defines: IMAP4rev1 the
	// first unseen message (RFC 3501 6.3.1), IMAP4rev2 the mailbox's LIST
	// response instead (RFC 9051 6.3.2).
	var unseen uint32
	var listAttrs []string
	if c.rev2() {
		listAttrs = c.mailboxAttributes(info.Name)
	} else if v.Unseen > 0 {
		if unseen, err = c.firstUnseen(m); err != nil {
			return c.storeError(err) // the caller closes the mailbox
		}
	}
	c.write(func(e *imapwire.Encoder) {
		e.Untagged().Number(uint32(len(v.UIDs))).Raw(" EXISTS").CRLF()
		if m.rev1 {
			e.Untagged().Number(m.recentCount()).Raw(" RECENT").CRLF()
		}
		m.writeFlags(e)
		if unseen != 0 {
			e.Untagged().Raw("OK [UNSEEN ").Number(unseen).Raw("] First unseen").CRLF()
		}
		e.Untagged().Raw("OK [UIDVALIDITY ").Number(v.UIDValidity).Raw("] UIDs valid").CRLF()
		e.Untagged().Raw("OK [UIDNEXT ").Number(v.UIDNext).Raw("] Predicted next UID").CRLF()
		e.Untagged().Raw("OK [MAILBOXID (" + mailboxObjectID(v.ID) + ")] Ok").CRLF() // RFC 8474 4.2
		if c.condstore() {
			// Every mailbox keeps mod-sequences, so NOMODSEQ is never sent
			// (RFC 7162 3.1.2.1).
			e.Untagged().Raw("OK [HIGHESTMODSEQ ").Number64(v.HighestModSeq).Raw("] Highest").CRLF()
		}
		if listAttrs != nil {
			e.Untagged().Raw("LIST ").FlagList(listAttrs).Raw(` "/" `).Mailbox(info.Name).CRLF()
		}
	})
	if readOnly {
		return okCode("READ-ONLY", "EXAMINE completed")
	}
	return okCode("READ-WRITE", "SELECT completed")
}

// uidAt returns the UID at index i of the view, or 0 past its end.
func (m *selectedMailbox) uidAt(i int) uint32 {
	if i < 0 || i >= len(m.uids) {
		return 0
	}
	return m.uids[i]
}

// withRecent returns flags with \Recent added when the message is recent
// for this session; flags itself is not modified.
func (m *selectedMailbox) withRecent(uid uint32, flags []string) []string {
	if !m.ownsRecent || !m.isRecent(uid) {
		return flags
	}
	return append(slices.Clip(flags), `\Recent`)
}

// claimRecent claims the messages with a UID below upTo that no session
// has seen as \Recent for this session (store.MessageWriter.ClaimRecent)
// and returns the first UID it got. The hub remembers how far the
// sessions of this server have claimed, so that of the sessions learning
// of a new message only the first asks the store.
func (c *conn) claimRecent(m *selectedMailbox, upTo uint32) (uint32, error) {
	if m.hub.recentClaimed.Load() >= upTo {
		return upTo, nil
	}
	first, err := c.user.ClaimRecent(c.ctx, m.id, upTo)
	if err != nil {
		return 0, err
	}
	for done := max(first, upTo); ; {
		cur := m.hub.recentClaimed.Load()
		if cur >= done || m.hub.recentClaimed.CompareAndSwap(cur, done) {
			break
		}
	}
	return first, nil
}

// recentFirst returns the first UID of added (ascending) that becomes
// \Recent in the view: what this session claimed (SELECT), every arrival
// (EXAMINE), or none (IMAP4rev2, or a failed claim).
func (c *conn) recentFirst(m *selectedMailbox, added []uint32) uint32 {
	switch {
	case !m.rev1 || len(added) == 0:
		return math.MaxUint32
	case !m.ownsRecent:
		return 0
	}
	first, err := c.claimRecent(m, added[len(added)-1]+1)
	if err != nil {
		c.log.Error("claiming recent messages", "mailbox", m.name, "err", err)
		return math.MaxUint32
	}
	return first
}

// countFrom counts the UIDs of added at or above first that are not in
// expunged: the messages addToView will make recent.
func countFrom(added []uint32, first uint32, expunged map[uint32]bool) int {
	n := 0
	for _, uid := range added {
		if uid >= first && !expunged[uid] {
			n++
		}
	}
	return n
}

// isRecent reports whether uid, a UID of the view, is recent for the
// session.
func (m *selectedMailbox) isRecent(uid uint32) bool {
	return (uid >= m.recentFrom && uid < m.recentTo) || m.recent[uid]
}

// recentCount returns the number of messages of the view that are recent
// for the session: those of the range at open still in the view, and
// those marked since.
func (m *selectedMailbox) recentCount() uint32 {
	n := len(m.recent)
	if m.recentFrom < m.recentTo {
		lo, _ := slices.BinarySearch(m.uids, m.recentFrom)
		hi, _ := slices.BinarySearch(m.uids, m.recentTo)
		n += hi - lo
	}
	return uint32(n)
}

// markRecent makes uid recent in the view.
func (m *selectedMailbox) markRecent(uid uint32) {
	if m.recent == nil {
		m.recent = map[uint32]bool{}
	}
	m.recent[uid] = true
}

// addToView appends uid to the view, recent when at or above recentFirst.
func (m *selectedMailbox) addToView(uid, recentFirst uint32) {
	m.uids = append(m.uids, uid)
	if uid >= recentFirst && m.rev1 {
		m.markRecent(uid)
	}
}

// systemFlags are the system flags every mailbox supports, as the FLAGS
// response lists them.
var systemFlags = []string{`\Answered`, `\Flagged`, `\Deleted`, `\Seen`, `\Draft`}

// learnKeywords adds the keywords among flags that the view does not know
// yet and reports whether there were any.
func (m *selectedMailbox) learnKeywords(flags []string) bool {
	added := false
	for _, f := range flags {
		if strings.HasPrefix(f, `\`) {
			continue
		}
		if k := strings.ToLower(f); m.known[k] == "" {
			if m.known == nil {
				m.known = map[string]string{}
			}
			m.known[k] = f
			m.keywords = append(m.keywords, f)
			added = true
		}
	}
	return added
}

// writeFlags writes the FLAGS and PERMANENTFLAGS responses for the flags
// the view knows (RFC 9051 7.3.5 and 7.1, RFC 3501 7.2.6). Clients may
// create keywords in a mailbox opened read-write (\*).
func (m *selectedMailbox) writeFlags(e *imapwire.Encoder) {
	flags := append(slices.Clip(systemFlags), m.keywords...)
	e.Untagged().Raw("FLAGS ").FlagList(flags).CRLF()
	if m.readOnly {
		e.StatusResponse("", imapwire.StatusOK, "PERMANENTFLAGS ()", "No permanent flags permitted")
	} else {
		e.Untagged().Raw("OK [PERMANENTFLAGS ").FlagList(append(flags, `\*`)).Raw("] Flags permitted").CRLF()
	}
}

// announceFlags makes sure the client knows every keyword in the flag
// lists about to be sent: when one is new to the view (another session,
// or this one, set it first, or a message carrying it was appended,
// copied or moved in), the FLAGS and PERMANENTFLAGS responses are sent
// again with it, before the response that uses it (RFC 9051 7.3.5,
// RFC 3501 7.2.6). The encoder must be locked, and the responses that
// carry the flags written next, in the same lock.
func (m *selectedMailbox) announceFlags(e *imapwire.Encoder, lists ...[]string) {
	added := false
	for _, flags := range lists {
		added = m.learnKeywords(flags) || added
	}
	if added {
		m.writeFlags(e)
	}
}

// canonical returns flags with each keyword spelt as the FLAGS response
// announced it: messages may carry another case of a keyword (keywords
// are case-insensitive), and clients compare them with FLAGS. flags itself
// is not modified; it is returned when nothing differs.
func (m *selectedMailbox) canonical(flags []string) []string {
	var out []string
	for i, f := range flags {
		if strings.HasPrefix(f, `\`) {
			continue
		}
		if k := m.known[strings.ToLower(f)]; k != "" && k != f {
			if out == nil {
				out = slices.Clone(flags)
			}
			out[i] = k
		}
	}
	if out == nil {
		return flags
	}
	return out
}

// errFound stops a store iteration that found what it looked for.
var errFound = errors.New("found")

// firstUnseen returns the sequence number of the first message of the
// view without \Seen, or 0 (RFC 3501 6.3.1, the UNSEEN response code).
//
// A store.FirstFlagMatcher answers from its index (pgstore: O(log n));
// otherwise the messages are fetched from the first until one lacks
// \Seen.
func (c *conn) firstUnseen(m *selectedMailbox) (uint32, error) {
	if len(m.uids) == 0 {
		return 0, nil
	}
	if fm, ok := c.user.(store.FirstFlagMatcher); ok {
		unseen := store.FlagQuery{Unset: store.FlagSet{System: store.FlagSeen}}
		last := m.uids[len(m.uids)-1]
		for from := m.uids[0]; ; {
			uid, err := fm.FirstFlagMatch(c.ctx, m.id, unseen, from, last)
			if err != nil || uid == 0 {
				return 0, err
			}
			// A message of the store that is not in the view (possible
			// only with a store that hands out UIDs out of order) is
			// skipped.
			if seq := m.seqOf(uid); seq != 0 {
				return seq, nil
			}
			if uid == last {
				return 0, nil
			}
			from = uid + 1
		}
	}
	var seq uint32
	err := c.user.Fetch(c.ctx, m.id, store.UIDSet{{Start: m.uids[0], Stop: m.uids[len(m.uids)-1]}}, store.FetchOptions{},
		func(msg *store.Message) error {
			if slices.Contains(msg.Flags, `\Seen`) {
				return nil
			}
			if seq = m.seqOf(msg.UID); seq != 0 {
				return errFound
			}
			return nil
		})
	if err != nil && err != errFound {
		return 0, err
	}
	return seq, nil
}

// mailboxAttributes returns the attributes LIST reports for an existing
// mailbox (\HasChildren or \HasNoChildren, special use), for the LIST
// response of SELECT in IMAP4rev2 (RFC 9051 6.3.2). On a store error it
// returns no attributes: the mailbox was just opened, so the error is
// transient and the response stays well-formed.
func (c *conn) mailboxAttributes(name string) []string {
	entries, err := c.listEntries([]string{name}, false, func(e *listEntry) bool { return e.info != nil }, false)
	if err != nil {
		c.log.Warn("listing the selected mailbox", "mailbox", name, "err", err)
		return []string{}
	}
	for _, le := range entries {
		if le.name == name {
			return listAttributes(le, false, true)
		}
	}
	return []string{}
}

// closeMailbox forgets the selected mailbox, if any.
func (c *conn) closeMailbox() {
	if c.mailbox != nil {
		c.srv.releaseHub(c.mailbox.hub)
		c.mailbox = nil
		c.noteSelected(0)
	}
}

// sendUpdates announces what other sessions changed in the selected mailbox
// since the view last caught up: FETCH FLAGS, EXPUNGE or VANISHED (only
// when allowExpunge) and EXISTS (only when the count changed: the zero-exists
// quirk of Apple Mail).
// With a NOTIFY set whose MessageNew asks for fetch attributes, the new
// messages other sessions added get their FETCH response too (fetchNew).
func (c *conn) sendUpdates(allowExpunge bool) { c.fetchNew(c.catchUp(allowExpunge, false, true)) }

// catchUp is sendUpdates. With fromHub (a push to an idling session after
// the hub refreshed its cache) the changes come from the hub's cache when
// it reaches back far enough, and a lone EXISTS line is the one the hub
// encoded for every idler; otherwise they come from the store, which
// also sees changes committed after the last notification. Without
// withFlags, flag changes are held back for a later catch-up (a NOTIFY
// set without FlagChange). It returns the UIDs of the messages it
// announced as new (for NOTIFY's MessageNew fetch attributes).
func (c *conn) catchUp(allowExpunge, fromHub, withFlags bool) (announced []uint32) {
	m := c.mailbox
	if m == nil {
		return nil
	}
	gen := m.hub.generation()
	before := uint32(len(m.uids))
	v := changeVisit{m: m, last: m.modseq}
	var err error
	if !fromHub || !m.hub.cached(m.modseq, func(ch store.Change) { v.visit(ch) }) {
		// The store keeps its callback: a copy on the heap takes it, so
		// that v stays on the stack in a push from the hub's cache.
		sv := new(changeVisit)
		*sv = v
		err = c.user.ChangesSince(c.ctx, m.id, m.modseq, sv.visit)
		v = *sv
	}
	added, flagged, last := v.added, v.flagged, v.last
	m.gen = gen
	if errors.Is(err, store.ErrChangesTruncated) {
		c.log.Warn("change log truncated; resynchronising view", "mailbox", m.name)
		if v, verr := c.user.View(c.ctx, m.id); verr == nil {
			for _, uid := range m.uids {
				if i := sort.Search(len(v.UIDs), func(i int) bool { return v.UIDs[i] >= uid }); i >= len(v.UIDs) || v.UIDs[i] != uid {
					m.markExpunged(uid)
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
		return nil
	}
	m.modseq = last
	slices.Sort(added) // sort.Slice would allocate, once per idler of a push
	// A message appended and expunged within one catch-up was never
	// announced: the client must see neither its EXISTS nor its EXPUNGE.
	// (Found by the multi-session property: a plain EXPUNGE removes
	// \Deleted messages this session has not seen yet.)
	kept := added[:0]
	for _, uid := range added {
		if m.expunged[uid] {
			delete(m.expunged, uid)
			continue
		}
		kept = append(kept, uid)
	}
	added = kept
	if !withFlags && len(flagged) > 0 {
		if m.heldFlags == nil {
			m.heldFlags = map[uint32]bool{}
		}
		for uid := range flagged {
			m.heldFlags[uid] = true
		}
		flagged = nil
	} else if withFlags && len(m.heldFlags) > 0 {
		if flagged == nil {
			flagged = map[uint32]bool{}
		}
		for uid := range m.heldFlags {
			flagged[uid] = true
		}
		m.heldFlags = nil
	}
	recentFirst := c.recentFirst(m, added)
	// After the EXISTS and FETCH responses, the update contexts re-test
	// the new messages and those whose flags changed (RFC 5267 4.3.3).
	defer func() {
		if len(m.contexts) == 0 || c.mailbox != m {
			return
		}
		cands := make(map[uint32]bool, len(added)+len(flagged))
		for _, u := range added {
			cands[u] = true
		}
		for u := range flagged {
			cands[u] = true
		}
		c.updateContexts(cands)
	}()
	if fromHub && (!allowExpunge || len(m.expunged) == 0) && len(added) > 0 && c.writeShared(m, added, recentFirst) {
		if len(flagged) > 0 {
			c.sendFlagUpdates(flagged)
		}
		return added
	}
	c.write(func(e *imapwire.Encoder) {
		// known is the message count the client has after the EXPUNGE
		// responses below; EXISTS is sent only when the view differs.
		known := before
		if allowExpunge && len(m.expunged) > 0 {
			seqs, uids := m.removeFromView(m.expunged)
			c.writeExpunged(e, seqs, uids)
			known -= uint32(len(seqs))
			for uid := range m.expunged {
				delete(m.expunged, uid) // expunged before we ever announced it
			}
		}
		for _, uid := range added {
			if !m.expunged[uid] {
				m.addToView(uid, recentFirst)
				announced = append(announced, uid)
			}
		}
		if n := uint32(len(m.uids)); n != known {
			e.Untagged().Number(n).Raw(" EXISTS").CRLF()
			if m.rev1 {
				// With the new size, the number of recent messages
				// (RFC 3501 7.3.2).
				e.Untagged().Number(m.recentCount()).Raw(" RECENT").CRLF()
			}
		}
	})
	if len(flagged) > 0 {
		c.sendFlagUpdates(flagged)
	}
	return announced
}

// changeVisit gathers what a catch-up learns from the changes it reads:
// the UIDs appended past the view, the UIDs whose flags others changed,
// and the highest MODSEQ; expunged UIDs go to the view's set at once.
type changeVisit struct {
	m       *selectedMailbox
	added   []uint32
	flagged map[uint32]bool
	last    uint64
}

// visit takes one change (a store.User.ChangesSince callback).
func (v *changeVisit) visit(ch store.Change) error {
	m := v.m
	if ch.ModSeq > v.last {
		v.last = ch.ModSeq
	}
	if ch.Kind == store.ChangeFlags && m.own[ch.ModSeq] {
		delete(m.own, ch.ModSeq) // this session reported it already
		return nil
	}
	if ch.Kind == store.ChangeAppend && len(ch.UIDs) == 1 && ch.UIDs[0].Start == ch.UIDs[0].Stop {
		// The common single APPEND, without expanding the set.
		if uid := ch.UIDs[0].Start; len(m.uids) == 0 || uid > m.uids[len(m.uids)-1] {
			v.added = append(v.added, uid)
		}
		return nil
	}
	for _, uid := range ch.UIDs.Expand() {
		switch ch.Kind {
		case store.ChangeAppend:
			if len(m.uids) == 0 || uid > m.uids[len(m.uids)-1] {
				v.added = append(v.added, uid)
			}
		case store.ChangeExpunge:
			m.markExpunged(uid)
		default:
			if v.flagged == nil {
				v.flagged = map[uint32]bool{}
			}
			v.flagged[uid] = true
		}
	}
	return nil
}

// writeShared appends added to the view and announces the new count with
// the hub's shared EXISTS line, when nothing else is to be written before
// it, followed in IMAP4rev1 by the session's own RECENT line. It reports
// false, having changed nothing, when a flush to the client failed.
func (c *conn) writeShared(m *selectedMailbox, added []uint32, recentFirst uint32) bool {
	n := len(m.uids)
	for _, uid := range added {
		if !m.expunged[uid] {
			n++
		}
	}
	if n == len(m.uids) {
		return false
	}
	var line []byte
	if m.rev1 {
		// With the session's RECENT count, in one write: a second one
		// could block on a client that stopped reading, and hold up the
		// hub's other idlers.
		line = m.hub.existsRecentLine(uint32(n), m.recentCount()+uint32(countFrom(added, recentFirst, m.expunged)))
	} else {
		line = m.hub.existsLine(uint32(n))
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	// Every holder of wmu flushes the encoder before releasing it, so
	// it holds no output here, unless a flush failed.
	if c.wfailed {
		return false
	}
	for _, uid := range added {
		if !m.expunged[uid] {
			m.addToView(uid, recentFirst)
		}
	}
	c.out.Write(line)
	return true
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
	condstore := c.condstore()
	for _, msg := range msgs {
		msg.Flags = m.withRecent(msg.UID, msg.Flags)
	}
	c.write(func(e *imapwire.Encoder) {
		for _, msg := range msgs {
			if m.seqOf(msg.UID) != 0 {
				m.announceFlags(e, msg.Flags)
			}
		}
		for _, msg := range msgs {
			if seq := m.seqOf(msg.UID); seq != 0 {
				e.Untagged().Number(seq).Raw(" FETCH (UID ").Number(msg.UID)
				if condstore {
					// RFC 7162 3.1: flag changes carry MODSEQ once enabled.
					e.Raw(" MODSEQ (").Number64(msg.ModSeq).Raw(")")
				}
				e.Raw(" FLAGS ").FlagList(m.canonical(msg.Flags)).Raw(")").CRLF()
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

// maxCachedChanges bounds the change-log entries a mailboxHub keeps.
const maxCachedChanges = 512

// funcNotifier is implemented by notifiers that can call a function for
// each notification (store.LocalNotifier), which spares a hub the
// goroutine that waits on a subscription channel.
type funcNotifier interface {
	SubscribeFunc(user string, mailbox store.MailboxID, fn func(store.Notification)) (cancel func())
}

// hubKey names a mailbox of an account.
type hubKey struct {
	user    string
	mailbox store.MailboxID
}

// mailboxHub is what the sessions of this server that selected one mailbox
// share: a single notifier subscription, the set of those sessions that
// idle, and a bounded cache of the mailbox's recent changes. On a
// notification it reads the change log once into the cache and pushes the
// changes to every idling session from the cache, in a few goroutines
// that exist only while pushing, so that an idling session holds no
// goroutine of its own and does not read the store.
type mailboxHub struct {
	srv    *Server
	key    hubKey
	refs   int // sessions that selected the mailbox; guarded by srv.hubMu
	cancel func()

	mu      sync.Mutex
	idlers  map[*conn]struct{}
	gen     atomic.Uint64 // notifications received; written under mu
	running bool          // a goroutine is pushing
	dirty   bool          // a notification arrived since the last refresh
	// notified is the highest HIGHESTMODSEQ notified, where a dropped
	// cache starts again.
	notified uint64

	// cache is the cache of recent changes, nil when dropped. Only the
	// pushing goroutine replaces it; a published hubCache never changes,
	// so the idlers read it without a lock (a read lock per idler would
	// bounce its cache line between the pushing goroutines).
	cache atomic.Pointer[hubCache]
	// exists is the last "* n EXISTS" line pushed, encoded once for all
	// the idlers that announce the same count.
	exists atomic.Pointer[existsLine]
	// existsRecent is the last EXISTS and RECENT pair pushed to IMAP4rev1
	// idlers (existsRecentLine).
	existsRecent atomic.Pointer[existsLine]
	// recentClaimed is a UID below which the mailbox's messages are known
	// to be claimed as \Recent already (see claimRecent).
	recentClaimed atomic.Uint32
}

// hubCache holds every change of a mailbox with floor < ModSeq <= high,
// in ascending order. It is immutable once published: refresh appends to
// changes only past the length earlier caches see, and copies when it
// drops old entries.
type hubCache struct {
	floor, high uint64
	changes     []store.Change
}

// existsLine is an encoded "* n EXISTS" line, followed by "* r RECENT"
// in existsRecentLine.
type existsLine struct {
	n, r uint32
	line []byte
}

// acquireHub returns the hub of a mailbox, creating it (and its
// subscription) for the first session; modseq is the mailbox's
// HIGHESTMODSEQ as that session saw it, where the cache starts.
func (s *Server) acquireHub(user string, mailbox store.MailboxID, modseq uint64) *mailboxHub {
	k := hubKey{user, mailbox}
	s.hubMu.Lock()
	defer s.hubMu.Unlock()
	if h := s.hubs[k]; h != nil {
		h.refs++
		return h
	}
	h := &mailboxHub{srv: s, key: k, refs: 1, idlers: map[*conn]struct{}{}}
	h.cache.Store(&hubCache{floor: modseq, high: modseq})
	n := s.cfg.Store.Notifier()
	if fn, ok := n.(funcNotifier); ok {
		h.cancel = fn.SubscribeFunc(user, mailbox, h.notify)
	} else {
		ch, cancel := n.Subscribe(user, mailbox)
		done := make(chan struct{})
		go func() {
			for {
				select {
				case note := <-ch:
					h.notify(note)
				case <-done:
					return
				}
			}
		}()
		h.cancel = func() { cancel(); close(done) }
	}
	s.hubs[k] = h
	return h
}

// releaseHub drops a session's reference; the last one unsubscribes.
func (s *Server) releaseHub(h *mailboxHub) {
	s.hubMu.Lock()
	defer s.hubMu.Unlock()
	if h.refs--; h.refs > 0 {
		return
	}
	delete(s.hubs, h.key)
	h.cancel()
}

// notify records a notification and starts pushing unless a push is
// already running (which then runs once more). It is called by the
// notifier and never blocks.
func (h *mailboxHub) notify(note store.Notification) {
	h.mu.Lock()
	h.gen.Add(1)
	h.dirty = true
	h.notified = max(h.notified, note.HighestModSeq)
	start := !h.running && len(h.idlers) > 0
	if start {
		h.running = true
	}
	h.mu.Unlock()
	if start {
		go h.run()
	}
}

// addIdler makes c receive pushes. It reports whether a notification
// arrived since c last caught up (gen), which c must then push itself.
func (h *mailboxHub) addIdler(c *conn, gen uint64) (missed bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.idlers[c] = struct{}{}
	return h.gen.Load() != gen
}

func (h *mailboxHub) removeIdler(c *conn) {
	h.mu.Lock()
	delete(h.idlers, c)
	h.mu.Unlock()
}

// generation returns the number of notifications received so far.
func (h *mailboxHub) generation() uint64 { return h.gen.Load() }

// run pushes until no notification is left: it refreshes the cache once
// and has every idling session catch up from it, the sessions split among
// GOMAXPROCS goroutines.
func (h *mailboxHub) run() {
	for {
		h.mu.Lock()
		if !h.dirty || len(h.idlers) == 0 {
			h.running = false
			h.mu.Unlock()
			return
		}
		h.dirty = false
		notified := h.notified
		idlers := make([]*conn, 0, len(h.idlers))
		for c := range h.idlers {
			idlers = append(idlers, c)
		}
		h.mu.Unlock()
		h.refresh(idlers[0].user, notified)
		workers := min(runtime.GOMAXPROCS(0), (len(idlers)+63)/64)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := w; i < len(idlers); i += workers {
					idlers[i].pushFromHub()
				}
			})
		}
		wg.Wait()
	}
}

// refresh reads the changes after the cached ones from the store and
// publishes a new cache. On any failure (a truncated log, a deleted
// mailbox) the cache is dropped and sessions read the store themselves;
// the next refresh starts a new cache at notified, a committed
// HIGHESTMODSEQ. Past maxCachedChanges it keeps the newest half, so that
// the copy this takes is made once per maxCachedChanges/2 changes.
func (h *mailboxHub) refresh(u store.User, notified uint64) {
	cur := h.cache.Load()
	if cur == nil {
		if notified == 0 {
			return
		}
		cur = &hubCache{floor: notified, high: notified}
	}
	floor, high, changes := cur.floor, cur.high, cur.changes
	err := u.ChangesSince(context.Background(), h.key.mailbox, high, func(ch store.Change) error {
		if ch.ModSeq <= high {
			return nil
		}
		// Appending writes past len(cur.changes) only: no published
		// cache sees those entries.
		changes = append(changes, ch)
		high = ch.ModSeq
		return nil
	})
	if err != nil {
		h.cache.Store(nil)
		return
	}
	if len(changes) > maxCachedChanges {
		keep := maxCachedChanges / 2
		drop := len(changes) - keep
		floor = changes[drop-1].ModSeq
		changes = append(make([]store.Change, 0, maxCachedChanges), changes[drop:]...)
	}
	if cur == h.cache.Load() && high == cur.high {
		return // nothing new
	}
	h.cache.Store(&hubCache{floor: floor, high: high, changes: changes})
}

// cached calls fn for each cached change after modseq, and reports false
// (having called nothing) when the cache does not reach back to modseq.
func (h *mailboxHub) cached(modseq uint64, fn func(store.Change)) bool {
	hc := h.cache.Load()
	if hc == nil || modseq < hc.floor || modseq > hc.high {
		return false
	}
	i := sort.Search(len(hc.changes), func(i int) bool { return hc.changes[i].ModSeq > modseq })
	for _, ch := range hc.changes[i:] {
		fn(ch)
	}
	return true
}

// existsRecentLine returns "* n EXISTS" CRLF "* r RECENT" CRLF, the push
// to an IMAP4rev1 idler, encoded once for the idlers that announce the
// same counts (most have no recent message, or the same number).
func (h *mailboxHub) existsRecentLine(n, r uint32) []byte {
	if e := h.existsRecent.Load(); e != nil && e.n == n && e.r == r {
		return e.line
	}
	e := &existsLine{n: n, r: r, line: fmt.Appendf(nil, "* %d EXISTS\r\n* %d RECENT\r\n", n, r)}
	h.existsRecent.Store(e)
	return e.line
}

// existsLine returns "* n EXISTS" CRLF, encoded once per count.
func (h *mailboxHub) existsLine(n uint32) []byte {
	if e := h.exists.Load(); e != nil && e.n == n {
		return e.line
	}
	e := &existsLine{n: n, line: fmt.Appendf(nil, "* %d EXISTS\r\n", n)}
	h.exists.Store(e)
	return e.line
}

// markExpunged records uid as expunged by another session and not yet
// announced. The set is made on first use: most views, idle ones above
// all, never need it.
func (m *selectedMailbox) markExpunged(uid uint32) {
	if m.expunged == nil {
		m.expunged = map[uint32]bool{}
	}
	m.expunged[uid] = true
}
