package server

import (
	"errors"
	"iter"
	"math"
	"sort"
	"strconv"

	"github.com/imapfsm/imapfsm/server/imapwire"
	"github.com/imapfsm/imapfsm/server/store"
)

// qresyncParam is the QRESYNC select parameter (RFC 7162 3.2.5): what the
// client last knew of the mailbox.
type qresyncParam struct {
	uidValidity uint32
	modseq      uint64
	// known is the set of UIDs the client knows (known-uids), or every
	// UID when the client did not send one.
	known store.UIDSet
	// matchSeqs and matchUIDs are the optional seq-match-data
	// (RFC 7162 3.2.5.2): message sequence numbers and the UIDs the
	// client had for them, pairwise and in ascending order.
	matchSeqs, matchUIDs imapwire.SeqSet
}

// parseQresyncParam reads the parenthesised value of the QRESYNC select
// parameter: "(" uidvalidity SP mod-sequence-value [SP known-uids]
// [SP seq-match-data] ")" (RFC 7162 7). The sets may not use "*" (nor the
// saved search result "$"), and both halves of seq-match-data must name
// as many messages.
func parseQresyncParam(a *imapwire.ArgReader) (qresyncParam, error) {
	q := qresyncParam{known: store.AllUIDs()}
	i := 0
	err := a.List(func() error {
		defer func() { i++ }()
		var err error
		switch {
		case i == 0:
			q.uidValidity, err = a.NZNumber()
		case i == 1:
			if q.modseq, err = a.Number64(); err == nil && q.modseq == 0 {
				err = errSyntax("QRESYNC needs a mod-sequence of at least 1 (RFC 7162 7)")
			}
		case i <= 3 && q.matchSeqs.Ranges == nil:
			if c, ok := a.Peek(); ok && c == '(' {
				return parseSeqMatch(a, &q)
			}
			if i == 3 {
				return errSyntax("Expected seq-match-data in QRESYNC")
			}
			var set imapwire.SeqSet
			if set, err = fixedSeqSet(a); err == nil {
				q.known = uidSetOfSeqSet(set)
			}
		default:
			err = errSyntax("Too many QRESYNC arguments")
		}
		return err
	})
	if err == nil && i < 2 {
		err = errSyntax("QRESYNC needs a UIDVALIDITY and a mod-sequence")
	}
	return q, err
}

// parseSeqMatch reads seq-match-data: "(" known-sequence-set SP
// known-uid-set ")" (RFC 7162 7).
func parseSeqMatch(a *imapwire.ArgReader, q *qresyncParam) error {
	i := 0
	err := a.List(func() error {
		defer func() { i++ }()
		set, err := fixedSeqSet(a)
		switch i {
		case 0:
			q.matchSeqs = set
		case 1:
			q.matchUIDs = set
		default:
			err = errSyntax("Too many sets in QRESYNC seq-match-data")
		}
		return err
	})
	if err == nil && (i != 2 || q.matchSeqs.Count(math.MaxUint32) != q.matchUIDs.Count(math.MaxUint32)) {
		err = errSyntax("QRESYNC seq-match-data needs two sets of the same size")
	}
	return err
}

// fixedSeqSet reads a sequence-set without "*" and "$", as known-uids and
// seq-match-data require (RFC 7162 7).
func fixedSeqSet(a *imapwire.ArgReader) (imapwire.SeqSet, error) {
	set, err := a.SeqSet()
	if err == nil && (set.Saved || set.Dynamic()) {
		err = errSyntax(`"*" and "$" are not allowed in QRESYNC sets`)
	}
	return set, err
}

// uidSetOfSeqSet converts a UID set of a command to a store set, "*"
// standing for every UID above its range start.
func uidSetOfSeqSet(set imapwire.SeqSet) store.UIDSet {
	ranges := set.Resolve(math.MaxUint32)
	out := make(store.UIDSet, len(ranges))
	for i, r := range ranges {
		out[i] = store.UIDRange{Start: r.Start, Stop: r.Stop}
	}
	return out
}

// uidSetOf converts the UID set of a UID command to a store set without
// resolving it against the view: "*" stands for every UID above its range
// start (so that expunged UIDs above the last message are still named),
// "$" for the saved search result (RFC 5182 2.1).
func (m *selectedMailbox) uidSetOf(set imapwire.SeqSet) store.UIDSet {
	if set.Saved {
		return store.UIDSetOf(m.saved...)
	}
	return uidSetOfSeqSet(set)
}

// resync sends what changed in the just selected mailbox since the client
// last saw it, when the QRESYNC parameter's UIDVALIDITY matches
// (RFC 7162 3.2.5.1): first VANISHED (EARLIER) with the known UIDs that
// were expunged after the client's mod-sequence, up to the HIGHESTMODSEQ
// just reported (later expunges follow as ordinary VANISHED responses),
// then FETCH (UID FLAGS MODSEQ) with the current flags of the known
// messages of the view changed after it. A mismatching UIDVALIDITY leaves
// a plain SELECT.
func (c *conn) resync(q qresyncParam) result {
	m := c.mailbox
	if q.uidValidity != m.uidValidity {
		return result{}
	}
	gone, err := c.vanishedSince(m.id, q.modseq, m.modseq, q.known, m.uids, seqMatchFloor(m, q))
	if err != nil {
		return c.storeError(err)
	}
	c.write(func(e *imapwire.Encoder) { writeVanished(e, true, gone) })
	// The change log names the messages changed since the client's
	// mod-sequence, so only those are read: O(changes), not a scan of the
	// whole mailbox. Without the log reaching back, every known message is
	// read and its MODSEQ compared.
	candidates := q.known
	if touched, ok, err := c.touchedSince(m.id, q.modseq); err != nil {
		return c.storeError(err)
	} else if ok {
		candidates = intersectUIDs(touched, q.known.Normalize())
	}
	changed := map[uint32]bool{}
	if len(candidates) == 0 {
		return result{}
	}
	err = c.user.Fetch(c.ctx, m.id, candidates, store.FetchOptions{ChangedSince: q.modseq}, func(msg *store.Message) error {
		changed[msg.UID] = true
		return nil
	})
	if err != nil {
		return c.storeError(err)
	}
	c.sendFlagUpdates(changed)
	return result{}
}

// touchedSince returns the UIDs that the change log records as appended
// or changed in flags after since, and false when the log no longer
// reaches back to since.
func (c *conn) touchedSince(id store.MailboxID, since uint64) (store.UIDSet, bool, error) {
	var touched store.UIDSet
	err := c.user.ChangesSince(c.ctx, id, since, func(ch store.Change) error {
		if ch.Kind != store.ChangeExpunge {
			touched = append(touched, ch.UIDs...)
		}
		return nil
	})
	if errors.Is(err, store.ErrChangesTruncated) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return touched.Normalize(), true, nil
}

// seqMatchFloor returns the largest UID of the seq-match-data whose
// message still has the sequence number the client gave it (RFC 7162
// 3.2.5.2). UIDs only grow, so the client then knows exactly the messages
// below it: none of them can have vanished unseen. Only sequence numbers
// the view has are tried, which bounds the work by the mailbox size.
func seqMatchFloor(m *selectedMailbox, q qresyncParam) uint32 {
	var floor uint32
	n := uint32(len(m.uids))
	next, stop := iter.Pull(q.matchUIDs.All(math.MaxUint32))
	defer stop()
	for seq := range q.matchSeqs.All(math.MaxUint32) {
		uid, ok := next()
		if !ok || seq > n {
			break
		}
		if m.uids[seq-1] == uid {
			floor = uid
		}
	}
	return floor
}

// errStopChanges ends a change-log walk early.
var errStopChanges = errors.New("stop reading changes")

// vanishedSince returns the UIDs of within expunged after the mod-sequence
// since and at or before upTo, leaving out those in present (ascending):
// the content of VANISHED (EARLIER) (RFC 7162 3.2.5.1, 3.2.6). The change
// log answers exactly. When it no longer reaches back to since, every UID
// of within above floor and below UIDNEXT that is not in the mailbox is
// reported instead, which the RFC allows a server that does not remember
// old expunges (RFC 7162 3.2.5.2, 3.2.6).
func (c *conn) vanishedSince(id store.MailboxID, since, upTo uint64, within store.UIDSet, present []uint32, floor uint32) (store.UIDSet, error) {
	within = within.Normalize()
	var gone store.UIDSet
	err := c.user.ChangesSince(c.ctx, id, since, func(ch store.Change) error {
		if ch.ModSeq > upTo {
			return errStopChanges
		}
		if ch.Kind == store.ChangeExpunge {
			gone = append(gone, intersectUIDs(ch.UIDs.Normalize(), within)...)
		}
		return nil
	})
	switch {
	case errors.Is(err, store.ErrChangesTruncated):
		v, err := c.user.View(c.ctx, id)
		if err != nil {
			return nil, err
		}
		gone = nil
		if v.UIDNext > floor+1 {
			gone = withoutUIDs(intersectUIDs(store.UIDSet{{Start: floor + 1, Stop: v.UIDNext - 1}}, within), v.UIDs)
		}
	case err != nil && !errors.Is(err, errStopChanges):
		return nil, err
	}
	return withoutUIDs(gone.Normalize(), present), nil
}

// intersectUIDs returns the UIDs in both a and b, both normalised.
func intersectUIDs(a, b store.UIDSet) store.UIDSet {
	var out store.UIDSet
	for i, j := 0, 0; i < len(a) && j < len(b); {
		lo, hi := max(a[i].Start, b[j].Start), min(a[i].Stop, b[j].Stop)
		if lo <= hi {
			out = append(out, store.UIDRange{Start: lo, Stop: hi})
		}
		if a[i].Stop < b[j].Stop {
			i++
		} else {
			j++
		}
	}
	return out
}

// withoutUIDs returns the normalised set s without the UIDs of uids
// (ascending), in time proportional to the ranges and the UIDs within them.
func withoutUIDs(s store.UIDSet, uids []uint32) store.UIDSet {
	var out store.UIDSet
	for _, r := range s {
		k := sort.Search(len(uids), func(k int) bool { return uids[k] >= r.Start })
		for ; k < len(uids) && uids[k] <= r.Stop; k++ {
			if uids[k] > r.Start {
				out = append(out, store.UIDRange{Start: r.Start, Stop: uids[k] - 1})
			}
			if uids[k] == r.Stop {
				r.Start = 0 // nothing left of r
				break
			}
			r.Start = uids[k] + 1
		}
		if r.Start != 0 {
			out = append(out, r)
		}
	}
	return out
}

// maxVanishedRanges bounds the ranges of one VANISHED line, keeping it
// under the 8192 octets RFC 7162 4 recommends.
const maxVanishedRanges = 300

// writeVanished writes VANISHED responses for uids (RFC 7162 3.2.10), with
// "(EARLIER)" for messages the client was never told of in this session
// (3.2.10.1). Nothing is written for an empty set.
func writeVanished(e *imapwire.Encoder, earlier bool, uids store.UIDSet) {
	uids = uids.Normalize()
	for len(uids) > 0 {
		n := min(len(uids), maxVanishedRanges)
		e.Untagged().Raw("VANISHED ")
		if earlier {
			e.Raw("(EARLIER) ")
		}
		e.Raw(uids[:n].String()).CRLF()
		uids = uids[n:]
	}
}

// writeExpunged reports messages just removed from the view, seqs[i] being
// the sequence number of uids[i] in descending order: one VANISHED once
// QRESYNC is enabled (RFC 7162 3.2.10.2), else an EXPUNGE each, in that
// order so every number is valid when the client applies it (RFC 9051
// 7.4.1).
func (c *conn) writeExpunged(e *imapwire.Encoder, seqs, uids []uint32) {
	// REMOVEFROM while the numbers are still valid (RFC 5267 4.3.4).
	c.writeContextExpunges(e, seqs, uids)
	if c.qresync() {
		writeVanished(e, false, store.UIDSetOf(uids...))
		return
	}
	for _, seq := range seqs {
		e.Untagged().Number(seq).Raw(" EXPUNGE").CRLF()
	}
}

// expungedOK completes EXPUNGE, UID EXPUNGE and MOVE: once QRESYNC is
// enabled and messages were expunged, the tagged OK carries the mailbox's
// new HIGHESTMODSEQ (RFC 7162 3.2.7, 3.2.9; RFC 6851 4.4). The value is the
// view's, after the command reported every change up to it.
func (c *conn) expungedOK(expunged bool, text string) result {
	if !expunged || !c.qresync() {
		return ok(text)
	}
	return okCode(modSeqCode(c.mailbox.modseq), text)
}

// modSeqCode formats the HIGHESTMODSEQ response code (RFC 7162 3.1.2.1).
func modSeqCode(modseq uint64) string {
	return "HIGHESTMODSEQ " + strconv.FormatUint(modseq, 10)
}

// closeModSeq returns the HIGHESTMODSEQ the tagged OK of CLOSE carries once
// QRESYNC is enabled and CLOSE expunged the messages gone (RFC 7162 3.2.8),
// or 0 when no value is safe. CLOSE reports no expunges, so the value may
// cover only changes the client knows: those this view announced, its own
// flag changes and the expunge of CLOSE itself. A larger value would make
// the client skip, on its next QRESYNC, a change it was never told of; so
// when another session's change or expunge is still unannounced, the code
// is left out.
func (c *conn) closeModSeq(gone []uint32) uint64 {
	m := c.mailbox
	for _, uid := range m.uids {
		if m.expunged[uid] {
			return 0 // another session's expunge the client was not told of
		}
	}
	var safe uint64
	err := c.user.ChangesSince(c.ctx, m.id, m.modseq, func(ch store.Change) error {
		own := ch.Kind == store.ChangeFlags && m.own[ch.ModSeq]
		if ch.Kind == store.ChangeExpunge {
			own = len(ch.UIDs) > 0 && len(withoutUIDs(ch.UIDs.Normalize(), gone)) == 0
		}
		if !own {
			return errStopChanges
		}
		safe = ch.ModSeq
		return nil
	})
	if err != nil && !errors.Is(err, errStopChanges) {
		return 0
	}
	return safe
}
