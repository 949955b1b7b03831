package server

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/imapfsm/imapfsm/fsm"
	"github.com/imapfsm/imapfsm/server/imapwire"
	"github.com/imapfsm/imapfsm/server/store"
)

// notifyState is a session's NOTIFY (RFC 5465) machinery, allocated by
// the session's first NOTIFY SET and kept from then on (conn.ntf is nil
// before: most sessions never use NOTIFY, and an idle session's memory
// is mostly the session struct itself). The set is
// session data: the engine reads it between commands, and so does a push
// while the engine waits (the two never run at once, see idlePush). The
// session subscribes to every notification of its account
// (store.AccountEvents); the notifier's callback only queues what arrives,
// under mu, and asks for a push.
//
// The session's own changes are told apart by their origin: from the
// first NOTIFY SET on, the session's context carries a store.Origin
// (startNotify), the store stamps the notifications of the changes the
// session's commands make with it, and those are not notified back (RFC 5465 5: the client learns of them from
// its commands' responses). Every other notification is another's, among
// them a coalesced one of mixed origins (store.LocalNotifier), which has
// none.
type notifyState struct {
	set    *notifySet
	cancel func()
	// selected is the ID of the selected mailbox (0: none), whose
	// changes reach the session through its mailbox hub instead.
	selected atomic.Uint64
	// origin is the session's store.Origin (of its context).
	origin store.Origin

	mu sync.Mutex
	// pending holds the mailboxes whose messages others changed, each
	// with the lowest HIGHESTMODSEQ those notifications carried (0:
	// unknown); own the mailboxes the session's own commands changed,
	// whose status is taken silently.
	pending map[store.MailboxID]uint64
	own     map[store.MailboxID]bool
	events  []store.Notification // account events, in order
	// count is the number of notifications queued since the last
	// delivery; above Config.MaxPendingNotifications the set overflows.
	count    int
	overflow bool
	// listChanged is set when an own account event was dropped: the
	// caches below are stale all the same.
	listChanged bool

	// Engine-owned caches: mailbox names by ID and subscriptions (nil:
	// to be read again), and the status last reported per mailbox.
	names map[store.MailboxID]string
	subs  map[string]bool
	last  map[store.MailboxID]statusSnap
	// ownNew (engine-owned) holds UIDs that the session's own APPEND,
	// COPY, MOVE or REPLACE added to the selected mailbox, until its view
	// announces them: they get no MessageNew FETCH (RFC 5465 5.2, the
	// client knows them). Kept here, not in the view, so that sessions
	// without NOTIFY do not carry it; nil when empty.
	ownNew map[uint32]bool
}

// statusSnap is what a STATUS notification reported of a mailbox.
type statusSnap struct {
	messages, uidNext, uidValidity uint32
	modseq                         uint64
	// own says that the client has not been told this status: it was
	// taken silently after the session's own changes (or compared equal
	// to such a one), so it may include another session's change whose
	// notification was still on its way (see mailboxStatus).
	own bool
}

func snapOf(st store.MailboxStatus) statusSnap {
	return statusSnap{messages: st.Messages, uidNext: st.UIDNext, uidValidity: st.UIDValidity, modseq: st.HighestModSeq}
}

// isSelectedID reports whether id names the selected mailbox, whose
// changes its hub reports.
func (c *conn) isSelectedID(id store.MailboxID) bool {
	return c.ntf != nil && c.ntf.selected.Load() == uint64(id)
}

// noteSelected records the ID of the selected mailbox (0: none) for the
// notifier's callback, which leaves that mailbox's changes to its hub.
func (c *conn) noteSelected(id store.MailboxID) {
	if c.ntf != nil {
		c.ntf.selected.Store(uint64(id))
		c.ntf.ownNew = nil // of the view that is gone
	}
}

// notifySet returns the session's notify set, or nil.
func (c *conn) notifySet() *notifySet {
	if c.ntf == nil {
		return nil
	}
	return c.ntf.set
}

// notifySelectedPush says how the selected mailbox's changes are pushed
// between commands: at all (SELECTED or SELECTED-DELAYED with message
// events), with expunges (SELECTED) and with flag changes (FlagChange).
func (c *conn) notifySelectedPush() (push, expunge, flags bool) {
	set := c.notifySet()
	if set == nil {
		return false, false, false
	}
	g := set.selectedGroup()
	if g == nil || g.events&eventMessageNew == 0 {
		return false, false, false
	}
	return true, g.filter == filterSelected, g.events&eventFlagChange != 0
}

// notifyActive reports whether the session has a notify set.
func (c *conn) notifyActive() bool { return c.notifySet() != nil }

// startNotify makes set the session's notify set. With status, each
// mailbox whose messages the set watches (the selected one aside) is
// reported with a STATUS response first (RFC 5465); either way the
// status of those mailboxes becomes the baseline of later notifications.
func (c *conn) startNotify(set *notifySet, withStatus bool) error {
	c.stopNotify()
	if c.ntf == nil {
		// The engine allocates the state, between commands no push
		// runs; the notifier's callback reads it only once subscribed
		// below.
		c.ntf = &notifyState{}
		if c.mailbox != nil {
			c.ntf.selected.Store(uint64(c.mailbox.id))
		}
	}
	s := c.ntf
	s.set = set
	s.last = map[store.MailboxID]statusSnap{}
	// Subscribe first, so that no change after the baselines below is
	// missed; one before them is reported only if it shows.
	s.mu.Lock()
	if s.origin = store.OriginOf(c.ctx); s.origin == 0 {
		// From now on the session's changes carry its origin. Only a
		// session with a notify set needs it: a change without one is
		// nobody's own, which is right for every other session.
		s.origin = store.NewOrigin()
		c.ctx = store.WithOrigin(c.ctx, s.origin)
	}
	s.pending, s.own, s.events, s.count, s.overflow = map[store.MailboxID]uint64{}, map[store.MailboxID]bool{}, nil, 0, false
	s.mu.Unlock()
	s.cancel = c.srv.cfg.Store.Notifier().(funcNotifier).SubscribeFunc(c.username, store.AccountEvents, c.onNotification)
	mailboxes, err := c.user.ListMailboxes(c.ctx)
	if err != nil {
		c.stopNotify()
		return err
	}
	s.names = map[store.MailboxID]string{}
	for _, mb := range mailboxes {
		s.names[mb.ID] = mb.Name
	}
	for _, mb := range mailboxes {
		if mb.Attr&store.AttrNoselect != 0 || c.isSelectedID(mb.ID) {
			continue
		}
		g := c.groupFor(mb.Name, false)
		if g == nil || g.events&eventMessageNew == 0 {
			continue
		}
		st, err := c.user.Status(c.ctx, mb.Name)
		if err != nil {
			continue // gone meanwhile
		}
		s.last[mb.ID] = snapOf(st)
		if withStatus {
			c.writeNotifyStatus(st)
		}
	}
	return nil
}

// stopNotify drops the notify set (NOTIFY NONE, an overflow, the end of
// the session).
func (c *conn) stopNotify() {
	s := c.ntf
	if s == nil {
		return
	}
	if s.cancel != nil {
		s.cancel()
		s.cancel = nil
	}
	s.mu.Lock()
	s.pending, s.own, s.events, s.count, s.overflow = nil, nil, nil, 0, false
	s.mu.Unlock()
	s.set, s.names, s.subs, s.last = nil, nil, nil, nil
}

// onNotification queues a notification for the session and asks for a
// push. The notifier calls it, possibly with its lock held: it never
// blocks and never calls the notifier.
func (c *conn) onNotification(n store.Notification) {
	s := c.ntf
	s.mu.Lock()
	if s.pending == nil || s.overflow {
		s.mu.Unlock()
		return
	}
	// The session's own change: zero is nobody's origin.
	own := s.origin != 0 && n.Origin == s.origin
	switch {
	case n.Event != 0:
		if own {
			s.listChanged = true
			s.mu.Unlock()
			return
		}
		s.events = append(s.events, n)
	case n.Mailbox == store.AccountEvents, uint64(n.Mailbox) == s.selected.Load():
		// A resynchronisation hint, or the selected mailbox, which its
		// hub reports.
		s.mu.Unlock()
		return
	case own:
		s.own[n.Mailbox] = true
	default:
		if low, ok := s.pending[n.Mailbox]; !ok || n.HighestModSeq < low {
			s.pending[n.Mailbox] = n.HighestModSeq
		}
	}
	if s.count++; s.count > c.srv.cfg.MaxPendingNotifications {
		s.overflow = true
		s.pending, s.own, s.events = map[store.MailboxID]uint64{}, map[store.MailboxID]bool{}, nil
	}
	s.mu.Unlock()
	if c.requestPush(pushNotify) {
		go c.runPush(false)
	}
}

// deliverNotifications sends what the notify set asks for of the queued
// notifications: LIST for mailbox events, STATUS for changed mailboxes,
// or, after an overflow, OK [NOTIFICATIONOVERFLOW] and nothing more (the
// set is dropped, RFC 5465).
func (c *conn) deliverNotifications() {
	s := c.ntf
	if s == nil || s.set == nil {
		return
	}
	s.mu.Lock()
	overflow := s.overflow
	events, pending, own, listChanged := s.events, s.pending, s.own, s.listChanged
	s.events, s.pending, s.own, s.count, s.listChanged = nil, map[store.MailboxID]uint64{}, map[store.MailboxID]bool{}, 0, false
	s.mu.Unlock()
	if overflow {
		c.stopNotify()
		c.srv.metrics.notifyOverflows.Add(1)
		c.write(func(e *imapwire.Encoder) {
			e.StatusResponse("", imapwire.StatusOK, "NOTIFICATIONOVERFLOW", "Too many notifications; NOTIFY NONE is in effect")
		})
		return
	}
	if len(events) > 0 || listChanged {
		s.names, s.subs = nil, nil // the mailbox list changed
	}
	if len(events) > 0 {
		for _, n := range events {
			c.sendMailboxEvent(n)
		}
	}
	for id := range own {
		if _, theirs := pending[id]; !theirs {
			c.mailboxStatus(id, 0, true)
		}
	}
	ids := make([]store.MailboxID, 0, len(pending))
	for id := range pending {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		c.mailboxStatus(id, pending[id], false)
	}
}

// groupFor returns the first event group, other than the selected
// mailbox's, whose filter selects name; subscription says that the event
// is a subscription change, which SUBSCRIBED selects whether the name is
// still subscribed or no longer.
func (c *conn) groupFor(name string, subscription bool) *notifyGroup {
	set := c.ntf.set
	for i := range set.groups {
		g := &set.groups[i]
		if g.filter == filterSelected || g.filter == filterSelectedDelayed {
			continue
		}
		if g.filter == filterSubscribed && subscription {
			return g
		}
		if g.matches(name, c.isSubscribed) {
			return g
		}
	}
	return nil
}

// isSubscribed reports whether name is subscribed, from the cache.
func (c *conn) isSubscribed(name string) bool {
	s := c.ntf
	if s.subs == nil {
		subs, err := c.user.Subscriptions(c.ctx)
		if err != nil {
			c.log.Warn("reading subscriptions for NOTIFY", "err", err)
			return false
		}
		s.subs = map[string]bool{}
		for _, n := range subs {
			s.subs[n] = true
		}
	}
	return s.subs[name]
}

// mailboxName returns the name of a mailbox, or "" when it is gone.
func (c *conn) mailboxName(id store.MailboxID) string {
	s := c.ntf
	if name, ok := s.names[id]; ok {
		return name
	}
	mailboxes, err := c.user.ListMailboxes(c.ctx)
	if err != nil {
		c.log.Warn("listing mailboxes for NOTIFY", "err", err)
		return ""
	}
	s.names = map[store.MailboxID]string{}
	for _, mb := range mailboxes {
		s.names[mb.ID] = mb.Name
	}
	return s.names[id]
}

// mailboxStatus reports a mailbox whose messages changed with a STATUS
// response (RFC 5465) when a group asks for its message
// events and what STATUS shows changed: MESSAGES, UIDNEXT or UIDVALIDITY,
// or, for FlagChange with CONDSTORE enabled, HIGHESTMODSEQ. With silent
// (only the session's own changes) it only takes the new status as the
// baseline. Otherwise since is the lowest HIGHESTMODSEQ of the others'
// notifications (0: unknown): when a silent baseline already includes
// such a change (its notification came after the session's own), the
// status is reported even though it did not change since: the client
// has not been told.
func (c *conn) mailboxStatus(id store.MailboxID, since uint64, silent bool) {
	if c.isSelectedID(id) {
		return
	}
	name := c.mailboxName(id)
	if name == "" {
		return
	}
	g := c.groupFor(name, false)
	if g == nil || g.events&eventMessageNew == 0 {
		return
	}
	st, err := c.user.Status(c.ctx, name)
	if err != nil {
		return // deleted meanwhile: MailboxName reports that
	}
	s := c.ntf
	prev, had := s.last[id]
	snap := snapOf(st)
	if silent {
		snap.own = true
		s.last[id] = snap
		return
	}
	absorbed := had && prev.own && since <= prev.modseq
	if !absorbed && had && prev.messages == st.Messages && prev.uidNext == st.UIDNext && prev.uidValidity == st.UIDValidity &&
		(g.events&eventFlagChange == 0 || !c.condstore() || prev.modseq == st.HighestModSeq) {
		snap.own = prev.own // still untold
		s.last[id] = snap
		return
	}
	s.last[id] = snap
	c.writeNotifyStatus(st)
}

// writeNotifyStatus writes the STATUS response of a notification:
// MESSAGES, UIDNEXT, UIDVALIDITY and, with CONDSTORE enabled,
// HIGHESTMODSEQ (RFC 5465).
func (c *conn) writeNotifyStatus(st store.MailboxStatus) {
	items := []string{"MESSAGES", "UIDNEXT", "UIDVALIDITY"}
	if c.condstore() {
		items = append(items, "HIGHESTMODSEQ")
	}
	c.write(func(e *imapwire.Encoder) { writeStatus(e, st.Name, st, items) })
}

// sendMailboxEvent reports an account event with a LIST response when a
// group asks for it (RFC 5465 MailboxName and SubscriptionChange):
// the mailbox's attributes now (\NonExistent once it is gone, \Subscribed
// when subscribed), and for a rename the old name as OLDNAME.
func (c *conn) sendMailboxEvent(n store.Notification) {
	if n.Event == store.MetadataChanged {
		c.sendMetadataEvent(n)
		return
	}
	want := eventMailboxName
	subscription := n.Event == store.MailboxSubscribed || n.Event == store.MailboxUnsubscribed
	if subscription {
		want = eventSubscriptionChange
	}
	g := c.groupFor(n.Name, subscription)
	if (g == nil || g.events&want == 0) && n.OldName != "" {
		g = c.groupFor(n.OldName, false)
	}
	if g == nil || g.events&want == 0 {
		return
	}
	attrs := c.mailboxAttributes(n.Name)
	if len(attrs) == 0 {
		attrs = []string{`\NonExistent`}
	}
	if n.Event == store.MailboxSubscribed {
		attrs = append(attrs, `\Subscribed`)
	}
	c.write(func(e *imapwire.Encoder) {
		e.Untagged().Raw("LIST ").FlagList(attrs).Raw(` "/" `).Mailbox(n.Name)
		if n.OldName != "" {
			e.Raw(` ("OLDNAME" (`).Mailbox(n.OldName).Raw("))")
		}
		e.CRLF()
	})
}

// sendMetadataEvent reports a changed metadata entry with an unsolicited
// METADATA response naming it (RFC 5464 4.4.2): for a server entry when a
// group asks for ServerMetadataChange, for a mailbox's when the group
// that selects the mailbox asks for MailboxMetadataChange.
func (c *conn) sendMetadataEvent(n store.Notification) {
	if n.Name == "" {
		found := false
		for _, g := range c.ntf.set.groups {
			found = found || g.events&eventServerMetadataChange != 0
		}
		if !found {
			return
		}
	} else if g := c.groupFor(n.Name, false); g == nil || g.events&eventMailboxMetadataChange == 0 {
		return
	}
	c.write(func(e *imapwire.Encoder) {
		e.Untagged().Raw("METADATA ").Mailbox(n.Name).SP().AString(n.Entry).CRLF()
	})
}

// fetchNew sends the FETCH responses MessageNew asks for (RFC 5465 5.2)
// for messages just announced in the selected mailbox: the group's fetch
// attributes and UID, without setting \Seen. The session's own new
// messages (noteOwnNew) are left out: the client added them itself, and
// the RFC asks not to send it their FETCH.
func (c *conn) fetchNew(uids []uint32) {
	m := c.mailbox
	if m == nil {
		return
	}
	uids = c.othersNew(m, uids)
	set := c.notifySet()
	if len(uids) == 0 || set == nil {
		return
	}
	g := set.selectedGroup()
	if g == nil || g.fetch == nil || g.events&eventMessageNew == 0 {
		return
	}
	items := []fetchItem{{kind: fetchUID, peek: true}}
	for _, it := range g.fetch {
		if it.kind == fetchUID {
			continue
		}
		it.peek = true // a notification never sets \Seen
		items = append(items, it)
	}
	if res := c.fetchMessages(m.uidSelection(uids), items, 0); res.outcome != fsm.OutcomeOK {
		c.log.Warn("fetching new messages for NOTIFY", "text", res.text)
	}
}

// noteOwnNew records uids, the messages the session's own command just
// added to the mailbox id, as the session's own when id is the selected
// mailbox and the session has a notify set (only fetchNew needs them).
// The engine calls it right after the store added them and before the
// command's catch-up announces them; no push runs meanwhile.
func (c *conn) noteOwnNew(id store.MailboxID, uids ...uint32) {
	m := c.mailbox
	if m == nil || m.id != id || c.notifySet() == nil || len(uids) == 0 {
		return
	}
	s := c.ntf
	if s.ownNew == nil {
		s.ownNew = make(map[uint32]bool, len(uids))
	}
	for _, uid := range uids {
		s.ownNew[uid] = true
	}
}

// othersNew returns the UIDs of announced, messages just added to the
// view m, that are not the session's own (noteOwnNew), and forgets the
// own ones the view has caught up with: announced now, or expunged
// before they could be (every UID up to the view's last is settled).
func (c *conn) othersNew(m *selectedMailbox, announced []uint32) []uint32 {
	s := c.ntf
	if s == nil || len(s.ownNew) == 0 {
		return announced
	}
	var others []uint32
	for _, uid := range announced {
		if !s.ownNew[uid] {
			others = append(others, uid)
		}
	}
	var last uint32
	if n := len(m.uids); n > 0 {
		last = m.uids[n-1]
	}
	for uid := range s.ownNew {
		if uid <= last {
			delete(s.ownNew, uid)
		}
	}
	if len(s.ownNew) == 0 {
		s.ownNew = nil
	}
	return others
}
