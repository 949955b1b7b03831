package server

import (
	"io"
	"slices"
	"strings"
	"time"

	"github.com/imapfsm/imapfsm/fsm"
	"github.com/imapfsm/imapfsm/server/imapwire"
	"github.com/imapfsm/imapfsm/server/internal/mailmsg"
	"github.com/imapfsm/imapfsm/server/store"
)

// sortCapabilities lists what SORT and THREAD implement: SORT (RFC 5256
// 3), SORT=DISPLAY (RFC 5957), ESORT's RETURN options on SORT (RFC 5267
// 3), and the THREAD algorithms ORDEREDSUBJECT and REFERENCES (RFC 5256
// 4). CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 4) are in contexts.go.
var sortCapabilities = []string{"SORT", "SORT=DISPLAY", "ESORT", "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES"}

// sortKey is one sort criterion (RFC 5256 3, RFC 5957 3).
type sortKey uint8

const (
	sortArrival sortKey = iota
	sortCc
	sortDate
	sortFrom
	sortSize
	sortSubject
	sortTo
	sortDisplayFrom
	sortDisplayTo
)

var sortKeys = map[string]sortKey{
	"ARRIVAL": sortArrival, "CC": sortCc, "DATE": sortDate, "FROM": sortFrom, "SIZE": sortSize,
	"SUBJECT": sortSubject, "TO": sortTo, "DISPLAYFROM": sortDisplayFrom, "DISPLAYTO": sortDisplayTo,
}

// sortCriterion is a key with its direction.
type sortCriterion struct {
	key     sortKey
	reverse bool
}

// sortMsg holds what sorting and threading need of one message.
type sortMsg struct {
	ref              msgRef
	size             int64
	arrival, date    time.Time
	subject          string // collated base subject
	isReply          bool
	from, to, cc     string // collated mailbox of the first address
	dispFrom, dispTo string // collated display names (RFC 5957)
	threadIDs        mailmsg.ThreadIDs
}

// cmdSort implements SORT and UID SORT (RFC 5256 3), with ESORT's RETURN
// options (RFC 5267 3): SORT [RETURN (options)] (criteria) charset keys.
func cmdSort(c *conn, cmd *command) result {
	uidCmd := cmd.input == fsm.InputUIDSort
	a := cmd.args
	var ret searchReturn
	var criteria []sortCriterion
	program := &searchKey{op: searchAnd}
	res := func() *result {
		if err := a.SP(); err != nil {
			return searchArgResult(err)
		}
		if c, _ := a.Peek(); c == 'R' || c == 'r' {
			kw, err := a.Keyword()
			if err != nil {
				return searchArgResult(err)
			}
			if kw != "RETURN" {
				return searchArgResult(fetchSyntaxError("Expected RETURN or a list of sort criteria"))
			}
			if err := parseSearchReturn(a, &ret); err != nil {
				return searchArgResult(err)
			}
		}
		err := a.List(func() error {
			kw, err := a.Keyword()
			if err != nil {
				return err
			}
			crit := sortCriterion{}
			if kw == "REVERSE" {
				crit.reverse = true
				if err := a.SP(); err != nil {
					return err
				}
				if kw, err = a.Keyword(); err != nil {
					return err
				}
			}
			k, ok := sortKeys[kw]
			if !ok {
				return fetchSyntaxError("Unknown sort criterion " + kw)
			}
			crit.key = k
			criteria = append(criteria, crit)
			return nil
		})
		if err == nil && len(criteria) == 0 {
			err = fetchSyntaxError("SORT needs at least one sort criterion")
		}
		if err != nil {
			return searchArgResult(err)
		}
		return parseCharsetAndKeys(a, program, "SORT")
	}()
	if res != nil {
		if ret.save {
			c.mailbox.saved = nil
		}
		return *res
	}
	if ret.extended && !ret.given {
		ret.all = true // RETURN () means ALL (RFC 4731 3.1, RFC 5267 3)
	}
	if res := c.checkContextTag(cmd, ret); res != nil {
		return *res
	}
	withModSeq := program.usesModSeq()
	if withModSeq {
		c.enableCondstore() // a CONDSTORE-enabling command (RFC 7162 3.1)
	}
	hits, modseqs, err := c.searchMessages(program)
	if err == nil && ret.save {
		c.mailbox.saved = savedResult(hits, ret)
	}
	var msgs []*sortMsg
	if err == nil {
		msgs, err = c.sortMessages(hits, false)
	}
	if err != nil {
		if ret.save {
			c.mailbox.saved = nil
		}
		return c.storeError(err)
	}
	slices.SortStableFunc(msgs, func(a, b *sortMsg) int { return compareSort(a, b, criteria) })
	refs := make([]msgRef, len(msgs))
	for i, m := range msgs {
		refs[i] = m.ref
	}
	c.write(func(e *imapwire.Encoder) {
		if !ret.extended {
			e.Untagged().Raw("SORT")
			for _, m := range msgs {
				e.SP().Number(refNumber(m.ref, uidCmd))
			}
			if withModSeq && len(hits) > 0 {
				e.Raw(" (MODSEQ ").Number64(slices.Max(modseqs)).Raw(")")
			}
			e.CRLF()
			return
		}
		if ret.save && !ret.min && !ret.max && !ret.count && !ret.all && !ret.partial && !ret.update {
			return
		}
		e.Untagged().Raw("ESEARCH (TAG ").Quoted(cmd.tag).Raw(")")
		if uidCmd {
			e.Raw(" UID")
		}
		if len(msgs) > 0 && ret.min {
			e.Raw(" MIN ").Number(refNumber(msgs[0].ref, uidCmd))
		}
		if len(msgs) > 0 && ret.max {
			e.Raw(" MAX ").Number(refNumber(msgs[len(msgs)-1].ref, uidCmd))
		}
		if ret.count {
			e.Raw(" COUNT ").Number(uint32(len(msgs)))
		}
		if len(msgs) > 0 && ret.all {
			// In sort order (RFC 5267 3.1): ranges only for ascending runs.
			e.Raw(" ALL ").Raw(orderedSet(refs, uidCmd))
		}
		if ret.partial {
			writePartial(e, ret, refs, uidCmd, true)
		}
		if withModSeq && len(hits) > 0 {
			e.Raw(" MODSEQ ").Number64(slices.Max(modseqs))
		}
		e.CRLF()
	})
	if ret.update {
		c.startContext(cmd, uidCmd, program, hits, criteria, msgs)
	}
	c.sendCommandUpdates(uidCmd)
	return ok("SORT completed")
}

// cmdThread implements THREAD and UID THREAD (RFC 5256 4): THREAD
// algorithm charset keys.
func cmdThread(c *conn, cmd *command) result {
	uidCmd := cmd.input == fsm.InputUIDThread
	a := cmd.args
	program := &searchKey{op: searchAnd}
	var algorithm string
	res := func() *result {
		if err := a.SP(); err != nil {
			return searchArgResult(err)
		}
		kw, err := a.Keyword()
		if err != nil {
			return searchArgResult(err)
		}
		if kw != "ORDEREDSUBJECT" && kw != "REFERENCES" {
			return searchArgResult(fetchSyntaxError("Unknown threading algorithm " + kw + " (ORDEREDSUBJECT and REFERENCES are supported)"))
		}
		algorithm = kw
		return parseCharsetAndKeys(a, program, "THREAD")
	}()
	if res != nil {
		return *res
	}
	if program.usesModSeq() {
		c.enableCondstore()
	}
	hits, _, err := c.searchMessages(program)
	var msgs []*sortMsg
	if err == nil {
		msgs, err = c.sortMessages(hits, algorithm == "REFERENCES")
	}
	if err != nil {
		return c.storeError(err)
	}
	tms := make([]*threadMsg, len(msgs))
	for i, m := range msgs {
		tms[i] = &threadMsg{num: refNumber(m.ref, uidCmd), seq: m.ref.seq, date: m.date,
			subject: m.subject, isReply: m.isReply, id: m.threadIDs.MessageID, refs: m.threadIDs.References}
	}
	var roots []*threadNode
	if algorithm == "REFERENCES" {
		roots = threadReferences(tms)
	} else {
		roots = threadOrderedSubject(tms)
	}
	c.write(func(e *imapwire.Encoder) {
		e.Untagged().Raw("THREAD")
		if len(roots) > 0 {
			e.SP().Raw(string(appendThreads(nil, roots)))
		}
		e.CRLF()
	})
	c.sendCommandUpdates(uidCmd)
	return ok("THREAD completed")
}

// parseCharsetAndKeys reads "SP charset 1*(SP search-key)" of SORT and
// THREAD (RFC 5256 5: the charset is not optional there).
func parseCharsetAndKeys(a *imapwire.ArgReader, program *searchKey, name string) *result {
	if err := a.SP(); err != nil {
		return searchArgResult(err)
	}
	charset, err := a.AString()
	if err != nil {
		return searchArgResult(err)
	}
	if !strings.EqualFold(charset, "UTF-8") && !strings.EqualFold(charset, "US-ASCII") {
		r := no("BADCHARSET (UTF-8 US-ASCII)", "Only UTF-8 and US-ASCII are supported")
		return &r
	}
	for !a.AtEnd() {
		if err := a.SP(); err != nil {
			return searchArgResult(err)
		}
		k, err := parseSearchKey(a, false, nil, "")
		if err != nil {
			return searchArgResult(err)
		}
		program.sub = append(program.sub, k)
	}
	if len(program.sub) == 0 {
		return searchArgResult(fetchSyntaxError(name + " needs a search key"))
	}
	if err := a.End(); err != nil {
		return searchArgResult(err)
	}
	return nil
}

// sortMessages loads the sort keys of the messages hits refers to, and
// with ids their Message-ID and References.
func (c *conn) sortMessages(hits []msgRef, ids bool) ([]*sortMsg, error) {
	m := c.mailbox
	bySeq := make(map[uint32]*sortMsg, len(hits))
	out := make([]*sortMsg, 0, len(hits))
	for start := 0; start < len(hits); start += fetchBatch {
		end := min(start+fetchBatch, len(hits))
		uids := make([]uint32, 0, end-start)
		for _, h := range hits[start:end] {
			uids = append(uids, h.uid)
		}
		var got []*store.Message
		err := c.user.Fetch(c.ctx, m.id, store.UIDSetOf(uids...), store.FetchOptions{Structure: true}, func(msg *store.Message) error {
			got = append(got, msg.Clone())
			return nil
		})
		if err != nil {
			return nil, err
		}
		for _, msg := range got {
			seq := m.seqOf(msg.UID)
			if seq == 0 || bySeq[seq] != nil {
				continue
			}
			sm, err := c.sortKeysOf(msg, ids)
			if err != nil {
				return nil, err
			}
			sm.ref = msgRef{seq: seq, uid: msg.UID}
			bySeq[seq] = sm
			out = append(out, sm)
		}
	}
	// Back in mailbox order, the final tie-breaker of every criterion.
	slices.SortFunc(out, func(a, b *sortMsg) int { return int(a.ref.seq) - int(b.ref.seq) })
	return out, nil
}

// sortKeysOf computes one message's keys.
func (c *conn) sortKeysOf(msg *store.Message, ids bool) (*sortMsg, error) {
	sm := &sortMsg{size: msg.Size, arrival: msg.InternalDate, date: msg.InternalDate}
	var body store.Body
	open := func() (store.Body, error) {
		if body == nil {
			b, err := c.user.OpenBody(c.ctx, c.mailbox.id, msg.UID)
			if err != nil {
				return nil, err
			}
			body = b
		}
		return body, nil
	}
	defer func() {
		if body != nil {
			body.Close()
		}
	}()
	if len(msg.Structure) == 0 {
		if _, err := open(); err != nil {
			return nil, err
		}
	}
	st, err := messageStructure(msg, body)
	if err != nil {
		c.log.Error("decoding message structure", "uid", msg.UID, "err", err)
		return sm, nil // sorts as a message without header fields
	}
	if d, ok := mailmsg.SentDate(st); ok {
		sm.date = d // RFC 5256 2.2: the Date header, else INTERNALDATE
	}
	base, reply := mailmsg.BaseSubject(mailmsg.Subject(st))
	sm.subject, sm.isReply = mailmsg.Collate(base), reply
	env := st.Envelope
	sm.from = mailmsg.Collate(mailmsg.SortAddress(env.From))
	sm.to = mailmsg.Collate(mailmsg.SortAddress(env.To))
	sm.cc = mailmsg.Collate(mailmsg.SortAddress(env.Cc))
	sm.dispFrom = mailmsg.Collate(mailmsg.DisplayAddress(env.From))
	sm.dispTo = mailmsg.Collate(mailmsg.DisplayAddress(env.To))
	if ids {
		b, err := open()
		if err != nil {
			return nil, err
		}
		sm.threadIDs, err = mailmsg.MessageIDs(io.NewSectionReader(b, 0, b.Size()), st)
		if err != nil {
			return nil, err
		}
	}
	return sm, nil
}

// compareSort orders two messages by the criteria, then by mailbox
// position (RFC 5256 3).
func compareSort(a, b *sortMsg, criteria []sortCriterion) int {
	for _, cr := range criteria {
		var c int
		switch cr.key {
		case sortArrival:
			c = a.arrival.Compare(b.arrival)
		case sortDate:
			c = a.date.Compare(b.date)
		case sortSize:
			c = cmpInt(a.size, b.size)
		case sortSubject:
			c = strings.Compare(a.subject, b.subject)
		case sortFrom:
			c = strings.Compare(a.from, b.from)
		case sortTo:
			c = strings.Compare(a.to, b.to)
		case sortCc:
			c = strings.Compare(a.cc, b.cc)
		case sortDisplayFrom:
			c = strings.Compare(a.dispFrom, b.dispFrom)
		case sortDisplayTo:
			c = strings.Compare(a.dispTo, b.dispTo)
		}
		if cr.reverse {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	// Mailbox order: the UIDs ascend with the sequence numbers, and stay
	// valid in an update context's results while numbers shift.
	return cmpInt(int64(a.ref.uid), int64(b.ref.uid))
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
