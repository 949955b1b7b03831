package server

import (
	"iter"
	"sort"

	"github.com/imapfsm/imapfsm/server/imapwire"
	"github.com/imapfsm/imapfsm/server/store"
)

// selection is the sequence set of a command checked against the view and
// ready to be walked: its ranges, merged and clipped, with "*" replaced,
// whose size is that of the command text, never that of the mailbox. The
// messages themselves are produced lazily (chunks), so that a command on
// "1:*" of a large mailbox needs no memory per message beyond the view's
// own UID list. The view must not change while a selection is walked; it
// changes only between commands (sendUpdates), so a command's sequence
// numbers stay those the client knew when it sent the command.
type selection struct {
	m *selectedMailbox
	// ranges are sequence numbers, or UIDs when uid is set, ascending and
	// merged (imapwire.SeqSet.Resolve).
	ranges []imapwire.SeqRange
	uid    bool
	// saved is set for "$", the saved search result (RFC 5182 2.1), which
	// is walked from m.saved instead of ranges.
	saved bool
}

// selection checks a command's sequence set against the view, as resolve
// describes, without listing its messages. It fails with errBadSeqNumber
// for a message sequence number above the message count, before anything
// is read or written.
func (m *selectedMailbox) selection(set imapwire.SeqSet, uid bool) (selection, error) {
	s := selection{m: m, uid: uid, saved: set.Saved}
	if set.Saved {
		return s, nil
	}
	n := uint32(len(m.uids))
	if !uid {
		if set.Exceeds(n) && (n != 0 || !set.Dynamic()) {
			return selection{}, errBadSeqNumber
		}
		s.ranges = set.Resolve(n)
		return s, nil
	}
	if n > 0 {
		s.ranges = set.Resolve(m.uids[n-1])
	}
	return s, nil
}

// uidSelection selects the messages of the view among uids.
func (m *selectedMailbox) uidSelection(uids []uint32) selection {
	set := store.UIDSetOf(uids...)
	s := selection{m: m, uid: true, ranges: make([]imapwire.SeqRange, len(set))}
	for i, r := range set {
		s.ranges[i] = imapwire.SeqRange{Start: r.Start, Stop: r.Stop}
	}
	return s
}

// chunks yields the selected messages in ascending order, each once, at
// most size at a time. The slice it yields is reused for the next chunk:
// the caller must not keep it.
func (s selection) chunks(size int) iter.Seq[[]msgRef] {
	return func(yield func([]msgRef) bool) {
		buf := make([]msgRef, 0, min(size, s.bound()))
		// add appends one message and yields a full chunk; it reports
		// false when the caller stopped.
		add := func(r msgRef) bool {
			buf = append(buf, r)
			if len(buf) < size {
				return true
			}
			ok := yield(buf)
			buf = buf[:0]
			return ok
		}
		m := s.m
		switch {
		case s.saved:
			for _, u := range m.saved {
				if seq := m.seqOf(u); seq != 0 && !add(msgRef{seq: seq, uid: u}) {
					return
				}
			}
		case !s.uid:
			for _, r := range s.ranges {
				for seq := r.Start; ; seq++ {
					if !add(msgRef{seq: seq, uid: m.uids[seq-1]}) {
						return
					}
					if seq == r.Stop {
						break
					}
				}
			}
		default:
			i := 0
			for _, r := range s.ranges {
				// The ranges ascend, so the search starts where the
				// previous range ended.
				i += sort.Search(len(m.uids)-i, func(j int) bool { return m.uids[i+j] >= r.Start })
				for ; i < len(m.uids) && m.uids[i] <= r.Stop; i++ {
					if !add(msgRef{seq: uint32(i + 1), uid: m.uids[i]}) {
						return
					}
				}
			}
		}
		if len(buf) > 0 {
			yield(buf)
		}
	}
}

// bound returns an upper bound of the number of selected messages,
// without walking them.
func (s selection) bound() int {
	if s.saved {
		return len(s.m.saved)
	}
	var n uint64
	for _, r := range s.ranges {
		n += uint64(r.Stop-r.Start) + 1
	}
	return int(min(n, uint64(len(s.m.uids))))
}

// selectionChunk is how many messages a selection is walked in when the
// whole result is gathered (refs, storeSet): a buffer of this size is all
// the walk itself allocates.
const selectionChunk = 1024

// refs lists every selected message; its memory grows with the selection.
// Commands whose result is per message anyway (SEARCH, the MODIFIED code
// of STORE) use it; FETCH walks chunks instead.
func (s selection) refs() []msgRef {
	refs := make([]msgRef, 0, s.bound())
	for chunk := range s.chunks(selectionChunk) {
		refs = append(refs, chunk...)
	}
	if len(refs) == 0 {
		return nil
	}
	return refs
}

// storeSet returns the UIDs of the selected messages as a store set, its
// ranges the runs of consecutive UIDs, and how many messages it holds. It
// costs memory per run, not per message: "1:*" of a mailbox without gaps
// is one range.
func (s selection) storeSet() (store.UIDSet, int) {
	var set store.UIDSet
	n := 0
	for chunk := range s.chunks(selectionChunk) {
		n += len(chunk)
		for _, r := range chunk {
			if k := len(set); k > 0 && set[k-1].Stop+1 == r.uid {
				set[k-1].Stop = r.uid
				continue
			}
			set = append(set, store.UIDRange{Start: r.uid, Stop: r.uid})
		}
	}
	return set, n
}
