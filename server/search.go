package server

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/imapfsm/imapfsm/server/imapwire"
	"github.com/imapfsm/imapfsm/server/internal/mailmsg"
	"github.com/imapfsm/imapfsm/server/store"
)

// searchOp is the kind of a search key (RFC 9051 6.4.4).
type searchOp uint8

// Search key kinds.
const (
	searchAll         searchOp = iota // ALL
	searchFlag                        // ANSWERED, DELETED, ... KEYWORD, RECENT
	searchNoFlag                      // UNANSWERED, ... UNKEYWORD, OLD
	searchAddress                     // BCC, CC, FROM, TO
	searchHeader                      // HEADER, SUBJECT
	searchBody                        // BODY
	searchText                        // TEXT
	searchBefore                      // BEFORE (internal date)
	searchOn                          // ON
	searchSince                       // SINCE
	searchSentBefore                  // SENTBEFORE (Date header)
	searchSentOn                      // SENTON
	searchSentSince                   // SENTSINCE
	searchLarger                      // LARGER
	searchSmaller                     // SMALLER
	searchSeq                         // sequence set
	searchUID                         // UID set
	searchAnd                         // parenthesised list, and the program itself
	searchNot                         // NOT
	searchOr                          // OR
	searchModSeq                      // MODSEQ (RFC 7162 3.1.5), in size
	searchOlder                       // OLDER (RFC 5032): internal date before date
	searchYounger                     // YOUNGER (RFC 5032): internal date at or after date
	searchEmailID                     // EMAILID (RFC 8474 6): the message's EMAILID is value
	searchThreadID                    // THREADID (RFC 8474 6): never matches, THREADID is NIL
	searchUIDList                     // the UIDs in uids: a sequence set or "$" frozen for an update context (RFC 5267 4.3)
	searchSavedBefore                 // SAVEDBEFORE (RFC 8514 4.3): save date
	searchSavedOn                     // SAVEDON
	searchSavedSince                  // SAVEDSINCE
	searchSaveKnown                   // SAVEDATESUPPORTED (RFC 8514 4.3): the message has a save date
)

// searchKey is a parsed search key; keys with sub-keys form a tree.
type searchKey struct {
	op    searchOp
	field string // flag, header field or address field
	value string // substring
	date  time.Time
	size  uint64
	set   imapwire.SeqSet
	uids  []uint32 // searchUIDList, ascending
	sub   []*searchKey
}

// searchFlagKeys maps the flag search keys to their flag and polarity.
var searchFlagKeys = map[string]struct {
	flag string
	set  bool
}{
	"ANSWERED": {`\Answered`, true}, "UNANSWERED": {`\Answered`, false},
	"DELETED": {`\Deleted`, true}, "UNDELETED": {`\Deleted`, false},
	"DRAFT": {`\Draft`, true}, "UNDRAFT": {`\Draft`, false},
	"FLAGGED": {`\Flagged`, true}, "UNFLAGGED": {`\Flagged`, false},
	"SEEN": {`\Seen`, true}, "UNSEEN": {`\Seen`, false},
}

// searchDateKeys maps the date search keys to their kinds.
var searchDateKeys = map[string]searchOp{
	"BEFORE": searchBefore, "ON": searchOn, "SINCE": searchSince,
	"SENTBEFORE": searchSentBefore, "SENTON": searchSentOn, "SENTSINCE": searchSentSince,
	"SAVEDBEFORE": searchSavedBefore, "SAVEDON": searchSavedOn, "SAVEDSINCE": searchSavedSince,
}

// searchReturn holds the ESEARCH return options (RFC 4731 3.1, RFC 9051
// 6.4.4) and SAVE (RFC 5182 2.1).
type searchReturn struct {
	extended                   bool // answer with ESEARCH
	given                      bool // the RETURN list named an option
	min, max, count, all, save bool
	// update asks for ADDTO and REMOVEFROM notifications (RFC 5267
	// 4.3); context is the caching hint, ignored (4.2); partial asks for
	// the results partialLo to partialHi, counted from 1 (4.4).
	update, context, partial bool
	partialLo, partialHi     uint32
}

// searchArgResult turns an argument error of SEARCH, SORT or THREAD into
// the result to answer, as fetchArgError does.
func searchArgResult(err error) *result {
	r := fetchArgError(err)
	return &r
}

// parseSearchReturn reads the options list of "RETURN (options) SP"
// (RFC 4731 3.1, RFC 9051 9 search-return-opts); the RETURN keyword has
// been read.
func parseSearchReturn(a *imapwire.ArgReader, ret *searchReturn) error {
	ret.extended = true
	if err := a.SP(); err != nil {
		return err
	}
	err := a.List(func() error {
		opt, err := a.Keyword()
		if err != nil {
			return err
		}
		switch opt {
		case "MIN":
			ret.min = true
		case "MAX":
			ret.max = true
		case "COUNT":
			ret.count = true
		case "ALL":
			ret.all = true
		case "SAVE":
			ret.save = true
		case "UPDATE":
			ret.update = true
		case "CONTEXT":
			ret.context = true
		case "PARTIAL":
			if ret.partial {
				return fetchSyntaxError("PARTIAL given twice")
			}
			if err := a.SP(); err != nil {
				return err
			}
			lo, hi, err := readPartialRange(a)
			if err != nil {
				return err
			}
			ret.partial, ret.partialLo, ret.partialHi = true, lo, hi
		default:
			return fetchSyntaxError("Unknown RETURN option " + opt)
		}
		ret.given = true
		return nil
	})
	if err != nil {
		return err
	}
	if ret.partial && ret.all {
		// RFC 5267 4.4: one PARTIAL or one ALL, not both.
		return fetchSyntaxError("PARTIAL and ALL cannot be combined")
	}
	return a.SP()
}

// readPartialRange reads a partial-range, nz-number ":" nz-number in either
// order (RFC 5267 5).
func readPartialRange(a *imapwire.ArgReader) (lo, hi uint32, err error) {
	raw, err := a.Atom()
	if err != nil {
		return 0, 0, err
	}
	l, h, ok := strings.Cut(raw, ":")
	x, err1 := strconv.ParseUint(l, 10, 32)
	y, err2 := strconv.ParseUint(h, 10, 32)
	if !ok || err1 != nil || err2 != nil || x == 0 || y == 0 {
		return 0, 0, fetchSyntaxError("PARTIAL needs a range n:m of non-zero numbers")
	}
	return uint32(min(x, y)), uint32(max(x, y)), nil
}

// parseSearchKey reads one search key (RFC 9051 9 search-key). When first
// is true a leading "CHARSET name" is accepted and stored, and the key
// after it is returned. name is the key's keyword when the caller has
// already read it.
func parseSearchKey(a *imapwire.ArgReader, first bool, charset *string, name string) (*searchKey, error) {
	c, _ := a.Peek()
	switch {
	case name != "":
	case c == '(':
		k := &searchKey{op: searchAnd}
		err := a.List(func() error {
			sub, err := parseSearchKey(a, false, nil, "")
			k.sub = append(k.sub, sub)
			return err
		})
		if err == nil && len(k.sub) == 0 {
			err = fetchSyntaxError("Empty search key list")
		}
		return k, err
	case c >= '0' && c <= '9' || c == '*' || c == '$':
		set, err := a.SeqSet()
		return &searchKey{op: searchSeq, set: set}, err
	}
	if name == "" {
		kw, err := a.Keyword()
		if err != nil {
			return nil, err
		}
		name = kw
	}
	if f, ok := searchFlagKeys[name]; ok {
		op := searchNoFlag
		if f.set {
			op = searchFlag
		}
		return &searchKey{op: op, field: f.flag}, nil
	}
	if op, ok := searchDateKeys[name]; ok {
		if err := a.SP(); err != nil {
			return nil, err
		}
		d, err := a.Date()
		return &searchKey{op: op, date: d}, err
	}
	str := func() (string, error) {
		if err := a.SP(); err != nil {
			return "", err
		}
		return a.AString()
	}
	switch name {
	case "CHARSET":
		if !first {
			return nil, fetchSyntaxError("CHARSET must come first")
		}
		cs, err := str()
		if err != nil {
			return nil, err
		}
		*charset = cs
		if err := a.SP(); err != nil {
			return nil, err
		}
		return parseSearchKey(a, false, nil, "")
	case "ALL":
		return &searchKey{op: searchAll}, nil
	case "SAVEDATESUPPORTED":
		// RFC 8514 4.3: the messages whose save date the store knows
		// (see saveDate).
		return &searchKey{op: searchSaveKnown}, nil
	case "RECENT":
		return &searchKey{op: searchFlag, field: `\Recent`}, nil
	case "OLD":
		return &searchKey{op: searchNoFlag, field: `\Recent`}, nil
	case "NEW":
		// RECENT UNSEEN (RFC 3501 6.4.4).
		return &searchKey{op: searchAnd, sub: []*searchKey{
			{op: searchFlag, field: `\Recent`}, {op: searchNoFlag, field: `\Seen`}}}, nil
	case "KEYWORD", "UNKEYWORD":
		if err := a.SP(); err != nil {
			return nil, err
		}
		kw, err := a.Flag()
		op := searchFlag
		if name == "UNKEYWORD" {
			op = searchNoFlag
		}
		return &searchKey{op: op, field: kw}, err
	case "BCC", "CC", "FROM", "TO":
		s, err := str()
		return &searchKey{op: searchAddress, field: strings.ToLower(name), value: s}, err
	case "SUBJECT":
		s, err := str()
		return &searchKey{op: searchHeader, field: "Subject", value: s}, err
	case "HEADER":
		f, err := str()
		if err != nil {
			return nil, err
		}
		s, err := str()
		return &searchKey{op: searchHeader, field: f, value: s}, err
	case "BODY", "TEXT":
		s, err := str()
		op := searchBody
		if name == "TEXT" {
			op = searchText
		}
		return &searchKey{op: op, value: s}, err
	case "LARGER", "SMALLER":
		if err := a.SP(); err != nil {
			return nil, err
		}
		n, err := a.Number64()
		op := searchLarger
		if name == "SMALLER" {
			op = searchSmaller
		}
		return &searchKey{op: op, size: n}, err
	case "EMAILID", "THREADID":
		if err := a.SP(); err != nil {
			return nil, err
		}
		id, err := a.Atom()
		op := searchEmailID
		if name == "THREADID" {
			op = searchThreadID
		}
		return &searchKey{op: op, value: id}, err
	case "OLDER", "YOUNGER":
		// RFC 5032 (WITHIN): an interval in seconds back from now.
		if err := a.SP(); err != nil {
			return nil, err
		}
		n, err := a.NZNumber()
		op := searchOlder
		if name == "YOUNGER" {
			op = searchYounger
		}
		return &searchKey{op: op, date: time.Now().Add(-time.Duration(n) * time.Second)}, err
	case "UID":
		if err := a.SP(); err != nil {
			return nil, err
		}
		set, err := a.SeqSet()
		return &searchKey{op: searchUID, set: set}, err
	case "MODSEQ":
		return parseSearchModSeq(a)
	case "NOT":
		if err := a.SP(); err != nil {
			return nil, err
		}
		sub, err := parseSearchKey(a, false, nil, "")
		return &searchKey{op: searchNot, sub: []*searchKey{sub}}, err
	case "OR":
		if err := a.SP(); err != nil {
			return nil, err
		}
		k1, err := parseSearchKey(a, false, nil, "")
		if err != nil {
			return nil, err
		}
		if err := a.SP(); err != nil {
			return nil, err
		}
		k2, err := parseSearchKey(a, false, nil, "")
		return &searchKey{op: searchOr, sub: []*searchKey{k1, k2}}, err
	}
	return nil, fetchSyntaxError("Unknown search key " + name)
}

// parseSearchModSeq reads the rest of the MODSEQ key (RFC 7162 7):
//
//	search-modsequence = "MODSEQ" [search-modseq-ext] SP mod-sequence-valzer
//	search-modseq-ext  = SP entry-name SP entry-type-req
//
// Mod-sequences are kept per message, not per flag, so the entry name
// (a "/flags/..." name) and type ("priv", "shared" or "all") are checked
// and then compared against the message's MODSEQ, which RFC 7162 3.1.5
// allows.
func parseSearchModSeq(a *imapwire.ArgReader) (*searchKey, error) {
	if err := a.SP(); err != nil {
		return nil, err
	}
	if c, _ := a.Peek(); c == '"' {
		entry, err := a.Quoted()
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(strings.ToLower(entry), "/flags/") || len(entry) == len("/flags/") {
			return nil, fetchSyntaxError("MODSEQ entry name must be /flags/<flag>")
		}
		if err := a.SP(); err != nil {
			return nil, err
		}
		typ, err := a.Keyword()
		if err != nil {
			return nil, err
		}
		if typ != "PRIV" && typ != "SHARED" && typ != "ALL" {
			return nil, fetchSyntaxError("MODSEQ entry type must be priv, shared or all")
		}
		if err := a.SP(); err != nil {
			return nil, err
		}
	}
	n, err := a.Number64()
	return &searchKey{op: searchModSeq, size: n}, err
}

// usesModSeq reports whether k contains a MODSEQ key.
func (k *searchKey) usesModSeq() bool {
	if k.op == searchModSeq {
		return true
	}
	return slices.ContainsFunc(k.sub, (*searchKey).usesModSeq)
}

// needs reports whether evaluating k needs the message structure, the
// raw header block (HEADER, SUBJECT) and the rest of the raw message
// (BODY, TEXT).
func (k *searchKey) needs() (structure, header, body bool) {
	switch k.op {
	case searchAddress, searchSentBefore, searchSentOn, searchSentSince:
		return true, false, false
	case searchHeader:
		return true, true, false
	case searchBody, searchText:
		return true, false, true
	}
	for _, s := range k.sub {
		st, h, b := s.needs()
		structure, header, body = structure || st, header || h, body || b
	}
	return structure, header, body
}

// searchCandidate is one message being tested.
type searchCandidate struct {
	ref  msgRef
	msg  *store.Message
	st   *mailmsg.Structure
	body store.Body
	open func() (store.Body, error)
}

// headerBlock returns the raw message as far as the header block of the
// root, for HEADER: the store's Message.Header when it reaches the end of
// the header block the structure records (read with the metadata, no
// query of its own), else the opened body.
func (cand *searchCandidate) headerBlock() (io.ReaderAt, error) {
	if h := cand.msg.Header; h != nil && cand.st.Root != nil && cand.st.Root.HeaderStart == 0 && int64(len(h)) >= cand.st.Root.BodyStart {
		return bytes.NewReader(h), nil
	}
	return cand.open()
}

// searchContext is what evaluation needs beyond the message.
type searchContext struct {
	count  uint32   // messages in the view, the value of "*"
	maxUID uint32   // largest UID in the view
	saved  []uint32 // "$", ascending
}

// searchMessages evaluates the program against every message of the view
// and returns the matches in ascending order, with the MODSEQ of each.
// When the store is a [store.FlagSearcher] and the program is an AND of
// flag keys and others, the store's answer to the flag keys is the
// result, or the only messages fetched and tested for the other keys.
func (c *conn) searchMessages(program *searchKey) ([]msgRef, []uint64, error) {
	m := c.mailbox
	fs, ok := c.user.(store.FlagSearcher)
	if !ok {
		return c.searchIn(program, m.uids)
	}
	q, pure, found := flagQueryOf(program)
	if !found {
		return c.searchIn(program, m.uids)
	}
	uids, modseqs, err := fs.SearchFlags(c.ctx, m.id, q)
	if err != nil {
		return nil, nil, err
	}
	var hits []msgRef
	var hitModSeqs []uint64
	var cands []uint32
	for i, uid := range uids {
		seq := m.seqOf(uid)
		if seq == 0 {
			continue // not in the session's view
		}
		if !pure {
			cands = append(cands, uid)
			continue
		}
		hits = append(hits, msgRef{seq: seq, uid: uid})
		hitModSeqs = append(hitModSeqs, modseqs[i])
	}
	if !pure {
		return c.searchIn(program, cands)
	}
	return hits, hitModSeqs, nil
}

// flagQueryOf collects the flag keys of program that a store's flag
// search answers: the system flags and valid keywords, set and unset
// (or NOT set), of the AND at its top (with nested ANDs). found is false when there is
// none; pure is true when program has no other key than these and ALL,
// so that the messages the store finds are the result. \Recent belongs
// to the session, not to the store, and a keyword that is not a valid
// keyword (which [strings.EqualFold] may still equate with a stored one)
// is left to the evaluation of each message, as is every other key.
func flagQueryOf(program *searchKey) (q store.FlagQuery, pure, found bool) {
	pure = true
	var walk func(k *searchKey)
	walk = func(k *searchKey) {
		switch k.op {
		case searchAnd:
			for _, s := range k.sub {
				walk(s)
			}
			return
		case searchAll:
			return
		case searchFlag, searchNoFlag, searchNot:
			set := k.op == searchFlag
			if k.op == searchNot {
				// NOT DELETED, as some clients write UNDELETED.
				if sub := k.sub[0]; sub.op == searchFlag || sub.op == searchNoFlag {
					set, k = sub.op == searchNoFlag, sub
				} else {
					break
				}
			}
			if f, err := store.ParseFlags([]string{k.field}); err == nil {
				side := &q.Set
				if !set {
					side = &q.Unset
				}
				side.System |= f.System
				side.Keywords = append(side.Keywords, f.Keywords...)
				found = true
				return
			}
		}
		pure = false
	}
	walk(program)
	return q, pure, found
}

// searchIn is searchMessages for the messages of the view whose UIDs
// (ascending) are in uids.
func (c *conn) searchIn(program *searchKey, uids []uint32) ([]msgRef, []uint64, error) {
	m := c.mailbox
	wantStructure, wantHeader, wantBody := program.needs()
	sc := searchContext{count: uint32(len(m.uids)), saved: m.saved}
	if len(m.uids) > 0 {
		sc.maxUID = m.uids[len(m.uids)-1]
	}
	var hits []msgRef
	var modseqs []uint64
	for start := 0; start < len(uids); start += searchBatch {
		end := min(start+searchBatch, len(uids))
		var msgs []*store.Message
		// The header block comes with the metadata when nothing beyond
		// it is searched: the store reads it in the same query.
		opts := store.FetchOptions{Structure: wantStructure, Header: wantHeader && !wantBody}
		err := c.user.Fetch(c.ctx, m.id, store.UIDSetOf(uids[start:end]...), opts, func(msg *store.Message) error {
			msgs = append(msgs, msg.Clone())
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		for _, msg := range msgs {
			seq := m.seqOf(msg.UID)
			if seq == 0 {
				continue
			}
			msg.Flags = m.withRecent(msg.UID, msg.Flags)
			cand := &searchCandidate{ref: msgRef{seq: seq, uid: msg.UID}, msg: msg}
			cand.open = func() (store.Body, error) {
				if cand.body == nil {
					b, err := c.user.OpenBody(c.ctx, m.id, msg.UID)
					if err != nil {
						return nil, err
					}
					cand.body = b
				}
				return cand.body, nil
			}
			if wantStructure || wantHeader || wantBody {
				var body store.Body
				if len(msg.Structure) == 0 {
					if body, err = cand.open(); err != nil {
						return nil, nil, err
					}
				}
				if cand.st, err = messageStructure(msg, body); err != nil {
					c.log.Error("decoding message structure", "uid", msg.UID, "err", err)
				}
			}
			match, err := program.match(cand, &sc)
			if cand.body != nil {
				cand.body.Close()
			}
			if errors.Is(err, store.ErrNoSuchMessage) {
				continue // expunged meanwhile
			}
			if err != nil {
				return nil, nil, err
			}
			if match {
				hits = append(hits, cand.ref)
				modseqs = append(modseqs, msg.ModSeq)
			}
		}
	}
	return hits, modseqs, nil
}

// match evaluates k for one message (RFC 9051 6.4.4).
func (k *searchKey) match(cand *searchCandidate, sc *searchContext) (bool, error) {
	msg := cand.msg
	switch k.op {
	case searchAll:
		return true, nil
	case searchFlag:
		return hasFlag(msg.Flags, k.field), nil
	case searchNoFlag:
		return !hasFlag(msg.Flags, k.field), nil
	case searchAddress:
		return mailmsg.MatchAddress(cand.st, k.field, k.value), nil
	case searchHeader, searchBody, searchText:
		if cand.st == nil {
			return false, nil
		}
		if k.op == searchHeader {
			raw, err := cand.headerBlock()
			if err != nil {
				return false, err
			}
			return mailmsg.MatchHeader(raw, cand.st, k.field, k.value)
		}
		body, err := cand.open()
		if err != nil {
			return false, err
		}
		switch k.op {
		case searchBody:
			return mailmsg.MatchBody(body, cand.st, k.value)
		}
		return mailmsg.MatchText(body, cand.st, k.value)
	case searchBefore, searchOn, searchSince:
		return compareDay(k.op-searchBefore, msg.InternalDate, k.date), nil
	case searchSentBefore, searchSentOn, searchSentSince:
		t, ok := mailmsg.SentDate(cand.st)
		return ok && compareDay(k.op-searchSentBefore, t, k.date), nil
	case searchSavedBefore, searchSavedOn, searchSavedSince:
		return compareDay(k.op-searchSavedBefore, saveDate(msg), k.date), nil
	case searchSaveKnown:
		return !msg.SaveDate.IsZero(), nil
	case searchEmailID:
		return emailObjectID(msg) == k.value, nil
	case searchThreadID:
		return false, nil
	case searchOlder:
		return msg.InternalDate.Before(k.date), nil
	case searchYounger:
		return !msg.InternalDate.Before(k.date), nil
	case searchLarger:
		return msg.Size >= 0 && uint64(msg.Size) > k.size, nil
	case searchModSeq:
		return msg.ModSeq >= k.size, nil
	case searchSmaller:
		return msg.Size >= 0 && uint64(msg.Size) < k.size, nil
	case searchSeq:
		if k.set.Saved {
			_, found := slices.BinarySearch(sc.saved, msg.UID)
			return found, nil
		}
		return k.set.Contains(cand.ref.seq, sc.count), nil
	case searchUID:
		if k.set.Saved {
			_, found := slices.BinarySearch(sc.saved, msg.UID)
			return found, nil
		}
		return k.set.Contains(msg.UID, sc.maxUID), nil
	case searchUIDList:
		_, found := slices.BinarySearch(k.uids, msg.UID)
		return found, nil
	case searchNot:
		ok, err := k.sub[0].match(cand, sc)
		return !ok, err
	case searchOr:
		for _, s := range k.sub {
			if ok, err := s.match(cand, sc); ok || err != nil {
				return ok, err
			}
		}
		return false, nil
	}
	// searchAnd: cheap keys first would be an optimisation; the order of
	// the client is kept so that errors are deterministic.
	for _, s := range k.sub {
		if ok, err := s.match(cand, sc); !ok || err != nil {
			return false, err
		}
	}
	return true, nil
}

// compareDay compares the calendar day of t, in t's own zone, with day
// (midnight UTC of the date given in the key): rel 0 is BEFORE, 1 ON and
// 2 SINCE. Time and zone are disregarded (RFC 9051 6.4.4).
func compareDay(rel searchOp, t, day time.Time) bool {
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	switch rel {
	case 0:
		return d.Before(day)
	case 1:
		return d.Equal(day)
	}
	return !d.Before(day)
}

// hasFlag reports whether flags holds flag; flags and keywords compare
// case-insensitively (RFC 9051 2.3.2).
func hasFlag(flags []string, flag string) bool {
	for _, f := range flags {
		if strings.EqualFold(f, flag) {
			return true
		}
	}
	return false
}

// savedResult is what SAVE stores (RFC 5182 2.1): every match, or only the
// minimum and/or maximum when MIN or MAX is given without ALL or COUNT.
func savedResult(hits []msgRef, ret searchReturn) []uint32 {
	if len(hits) == 0 {
		return []uint32{}
	}
	if (ret.min || ret.max) && !ret.all && !ret.count {
		var out []uint32
		if ret.min {
			out = append(out, hits[0].uid)
		}
		if ret.max && (!ret.min || len(hits) > 1) {
			out = append(out, hits[len(hits)-1].uid)
		}
		return out
	}
	out := make([]uint32, len(hits))
	for i, h := range hits {
		out[i] = h.uid
	}
	return out
}
