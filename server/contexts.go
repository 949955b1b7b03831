package server

import (
	"slices"
	"sort"
	"strconv"

	"github.com/imapfsm/imapfsm/server/imapwire"
)

// CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 4). SEARCH, UID SEARCH, SORT
// and UID SORT accept the return options CONTEXT (a hint, ignored),
// PARTIAL (a window of the results, counted from 1) and UPDATE: the
// session then keeps an update context, named by the command's tag, with
// the search program and the results (as UIDs, in the requested order),
// and tells the client of every change to them with ESEARCH ADDTO and
// REMOVEFROM until the mailbox is closed or CANCELUPDATE names the tag.
//
// Changes are found where the session announces changes anyway: a
// message that arrives is tested after its EXISTS, a message whose flags
// changed (by this session or another) after its FETCH, and an expunged
// message of the results is removed just before its EXPUNGE or VANISHED,
// while its sequence number is still valid (RFC 5267 4.3.3, 4.3.4). A
// SEARCH context reports its changes at position 0 in mailbox order; a
// SORT context reports each at its position in the sorted results, in an
// order the client applies one after the other (the sort keys never
// depend on flags, so a flag change only adds or removes). Message
// sequence numbers and "$" in the program are frozen to the messages they
// named when the command ran (RFC 5267 4.3).

// contextCapabilities are advertised with the message commands.
var contextCapabilities = []string{"CONTEXT=SEARCH", "CONTEXT=SORT"}

// updateContext is one search or sort whose results the session keeps
// current for its client (RFC 5267 4.3).
type updateContext struct {
	tag      string
	uid      bool // UID SEARCH or UID SORT: updates carry UIDs
	program  *searchKey
	sorted   bool
	criteria []sortCriterion
	// results are the UIDs of the matching messages in the requested
	// order; keys the sort keys of each, for a SORT context.
	results []uint32
	keys    map[uint32]*sortMsg
}

// contextByTag returns the index of the context named tag, or -1.
func (m *selectedMailbox) contextByTag(tag string) int {
	return slices.IndexFunc(m.contexts, func(x *updateContext) bool { return x.tag == tag })
}

// frozen returns a copy of k in which message sequence numbers and "$"
// are replaced by the UIDs they name now.
func (m *selectedMailbox) frozen(k *searchKey) *searchKey {
	out := *k
	switch {
	case (k.op == searchSeq || k.op == searchUID) && k.set.Saved:
		out = searchKey{op: searchUIDList, uids: slices.Clone(m.saved)}
	case k.op == searchSeq:
		var uids []uint32
		n := uint32(len(m.uids))
		for seq := range k.set.All(n) {
			if seq >= 1 && seq <= n {
				uids = append(uids, m.uids[seq-1])
			}
		}
		out = searchKey{op: searchUIDList, uids: uids}
	}
	out.sub = make([]*searchKey, len(k.sub))
	for i, s := range k.sub {
		out.sub[i] = m.frozen(s)
	}
	return &out
}

// startContext handles the UPDATE return option of a searching command
// that returned hits (and, for SORT, their keys in sort order): it keeps
// an update context, or says with an untagged NO [NOUPDATE] that it will
// not (RFC 5267 4.3.1). A tag already naming a context has been refused
// before the search (checkContextTag).
func (c *conn) startContext(cmd *command, uid bool, program *searchKey, hits []msgRef, criteria []sortCriterion, sorted []*sortMsg) {
	m := c.mailbox
	if len(m.contexts) >= c.srv.cfg.MaxUpdateContexts {
		c.write(func(e *imapwire.Encoder) {
			e.Untagged().Raw("NO [NOUPDATE ").Quoted(cmd.tag).Raw("] Too many update contexts; cancel one with CANCELUPDATE").CRLF()
		})
		return
	}
	ctx := &updateContext{tag: cmd.tag, uid: uid, program: m.frozen(program)}
	if criteria != nil {
		ctx.sorted, ctx.criteria = true, criteria
		ctx.keys = make(map[uint32]*sortMsg, len(sorted))
		for _, sm := range sorted {
			ctx.results = append(ctx.results, sm.ref.uid)
			ctx.keys[sm.ref.uid] = sm
		}
	} else {
		for _, h := range hits {
			ctx.results = append(ctx.results, h.uid)
		}
	}
	m.contexts = append(m.contexts, ctx)
}

// checkContextTag refuses UPDATE with a tag that already names an update
// context (RFC 5267 4.3).
func (c *conn) checkContextTag(cmd *command, ret searchReturn) *result {
	if ret.update && c.mailbox.contextByTag(cmd.tag) >= 0 {
		r := bad("Tag reuse: " + strconv.Quote(cmd.tag) + " already names an update context")
		return &r
	}
	return nil
}

// markContextDirty notes messages whose flags this session changed, so
// that the next catch-up re-tests them for the update contexts.
func (m *selectedMailbox) markContextDirty(uids ...uint32) {
	if len(m.contexts) == 0 {
		return
	}
	if m.ctxDirty == nil {
		m.ctxDirty = map[uint32]bool{}
	}
	for _, u := range uids {
		m.ctxDirty[u] = true
	}
}

// contextPairs accumulates the position-and-set pairs of one ADDTO or
// REMOVEFROM return data item.
type contextPairs []string

func (p *contextPairs) add(pos int, set string) {
	*p = append(*p, strconv.Itoa(pos)+" "+set)
}

func (p contextPairs) write(e *imapwire.Encoder, item string) {
	if len(p) == 0 {
		return
	}
	e.SP().Raw(item).Raw(" (")
	for i, s := range p {
		if i > 0 {
			e.SP()
		}
		e.Raw(s)
	}
	e.Raw(")")
}

// writeContextUpdate writes one ESEARCH response of a context's changes.
func writeContextUpdate(e *imapwire.Encoder, x *updateContext, removed, added contextPairs) {
	if len(removed) == 0 && len(added) == 0 {
		return
	}
	e.Untagged().Raw("ESEARCH (TAG ").Quoted(x.tag).Raw(")")
	if x.uid {
		e.Raw(" UID")
	}
	removed.write(e, "REMOVEFROM")
	added.write(e, "ADDTO")
	e.CRLF()
}

// writeContextExpunges writes, before the EXPUNGE or VANISHED responses of
// messages just removed from the view, the REMOVEFROM of every context
// whose results held them; seqs[i] is the number uids[i] had.
func (c *conn) writeContextExpunges(e *imapwire.Encoder, seqs, uids []uint32) {
	m := c.mailbox
	if m == nil || len(m.contexts) == 0 || len(uids) == 0 {
		return
	}
	seqOf := make(map[uint32]uint32, len(uids))
	for i, u := range uids {
		seqOf[u] = seqs[i]
		delete(m.ctxDirty, u)
	}
	for _, x := range m.contexts {
		var gone []msgRef
		for _, u := range x.results {
			if s, ok := seqOf[u]; ok {
				gone = append(gone, msgRef{seq: s, uid: u})
			}
		}
		if len(gone) == 0 {
			continue
		}
		var removed contextPairs
		if x.sorted {
			for _, g := range gone {
				i := slices.Index(x.results, g.uid)
				removed.add(i+1, strconv.FormatUint(uint64(refNumber(g, x.uid)), 10))
				x.results = slices.Delete(x.results, i, i+1)
				delete(x.keys, g.uid)
			}
		} else {
			sort.Slice(gone, func(i, j int) bool { return gone[i].uid < gone[j].uid })
			removed.add(0, compactSet(gone, x.uid))
			x.results = slices.DeleteFunc(x.results, func(u uint32) bool { _, ok := seqOf[u]; return ok })
		}
		writeContextUpdate(e, x, removed, nil)
	}
}

// updateContexts re-tests the messages of the view in cands (new ones,
// after their EXISTS, and those whose flags changed) against every update
// context and writes the ADDTO and REMOVEFROM responses of the changes.
func (c *conn) updateContexts(cands map[uint32]bool) {
	m := c.mailbox
	if m == nil || len(m.contexts) == 0 {
		return
	}
	for u := range m.ctxDirty {
		cands[u] = true
	}
	m.ctxDirty = nil
	var uids []uint32
	for u := range cands {
		if m.seqOf(u) != 0 && !m.expunged[u] {
			uids = append(uids, u)
		}
	}
	if len(uids) == 0 {
		return
	}
	slices.Sort(uids)
	for _, x := range m.contexts {
		hits, _, err := c.searchIn(x.program, uids)
		if err != nil {
			c.log.Error("updating a search context", "tag", x.tag, "err", err)
			continue
		}
		match := make(map[uint32]bool, len(hits))
		for _, h := range hits {
			match[h.uid] = true
		}
		in := make(map[uint32]bool, len(x.results))
		for _, u := range x.results {
			in[u] = true
		}
		var gone, come []msgRef
		for _, u := range uids {
			switch ref := (msgRef{seq: m.seqOf(u), uid: u}); {
			case in[u] && !match[u]:
				gone = append(gone, ref)
			case !in[u] && match[u]:
				come = append(come, ref)
			}
		}
		if len(gone) == 0 && len(come) == 0 {
			continue
		}
		var removed, added contextPairs
		if !x.sorted {
			if len(gone) > 0 {
				removed.add(0, compactSet(gone, x.uid))
			}
			if len(come) > 0 {
				added.add(0, compactSet(come, x.uid))
			}
			out := make(map[uint32]bool, len(gone))
			for _, g := range gone {
				out[g.uid] = true
			}
			x.results = slices.DeleteFunc(x.results, func(u uint32) bool { return out[u] })
			for _, r := range come {
				x.results = append(x.results, r.uid)
			}
			slices.Sort(x.results)
		} else {
			for _, g := range gone {
				i := slices.Index(x.results, g.uid)
				removed.add(i+1, strconv.FormatUint(uint64(refNumber(g, x.uid)), 10))
				x.results = slices.Delete(x.results, i, i+1)
				delete(x.keys, g.uid)
			}
			keys, err := c.sortMessages(come, false)
			if err != nil {
				c.log.Error("updating a sort context", "tag", x.tag, "err", err)
				continue
			}
			for _, sm := range keys {
				i := sort.Search(len(x.results), func(i int) bool {
					return compareSort(x.keys[x.results[i]], sm, x.criteria) > 0
				})
				added.add(i+1, strconv.FormatUint(uint64(refNumber(sm.ref, x.uid)), 10))
				x.results = slices.Insert(x.results, i, sm.ref.uid)
				x.keys[sm.ref.uid] = sm
			}
		}
		c.write(func(e *imapwire.Encoder) { writeContextUpdate(e, x, removed, added) })
	}
}

// cmdCancelUpdate implements CANCELUPDATE (RFC 5267 4.3.5): the contexts
// named by the tags stop sending updates. A tag that names no context is
// accepted too: whatever it named sends no more updates either.
func cmdCancelUpdate(c *conn, cmd *command) result {
	a := cmd.args
	var tags []string
	for {
		if err := a.SP(); err != nil {
			return argError(err)
		}
		t, err := a.Quoted()
		if err != nil {
			return argError(err)
		}
		tags = append(tags, t)
		if a.AtEnd() {
			break
		}
	}
	if err := a.End(); err != nil {
		return argError(err)
	}
	m := c.mailbox
	m.contexts = slices.DeleteFunc(m.contexts, func(x *updateContext) bool { return slices.Contains(tags, x.tag) })
	return ok("CANCELUPDATE completed; no further updates")
}

// partialResult writes the PARTIAL return data (RFC 5267 4.4): the
// results lo to hi (from 1) of refs, in the order given, or NIL.
func writePartial(e *imapwire.Encoder, ret searchReturn, refs []msgRef, uid, sorted bool) {
	e.Raw(" PARTIAL (").Number(ret.partialLo).Raw(":").Number(ret.partialHi).SP()
	lo, hi := int(ret.partialLo)-1, min(int(ret.partialHi), len(refs))
	if lo >= hi {
		e.NIL().Raw(")")
		return
	}
	if sorted {
		e.Raw(orderedSet(refs[lo:hi], uid))
	} else {
		e.Raw(compactSet(refs[lo:hi], uid))
	}
	e.Raw(")")
}
