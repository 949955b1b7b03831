package server

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/imapfsm/imapfsm/fsm"
	"github.com/imapfsm/imapfsm/server/imapwire"
	"github.com/imapfsm/imapfsm/server/internal/mailmsg"
	"github.com/imapfsm/imapfsm/server/store"
)

// fetchKind is one FETCH data item (RFC 9051 6.4.5).
type fetchKind uint8

// FETCH data items.
const (
	fetchUID           fetchKind = iota // UID
	fetchFlags                          // FLAGS
	fetchInternalDate                   // INTERNALDATE
	fetchSaveDate                       // SAVEDATE (RFC 8514 3)
	fetchSize                           // RFC822.SIZE
	fetchEnvelope                       // ENVELOPE
	fetchBodyStructure                  // BODYSTRUCTURE
	fetchBodyShort                      // BODY without a section
	fetchSection                        // BODY[section]<partial>, BODY.PEEK
	fetchBinary                         // BINARY[section]<partial>, BINARY.PEEK (RFC 3516)
	fetchBinarySize                     // BINARY.SIZE[section] (RFC 3516)
	fetchRFC822                         // RFC822 (BODY[])
	fetchRFC822Header                   // RFC822.HEADER (BODY.PEEK[HEADER])
	fetchRFC822Text                     // RFC822.TEXT (BODY[TEXT])
	fetchModSeq                         // MODSEQ (RFC 7162 3.1.4)
	fetchPreview                        // PREVIEW (RFC 8970)
	fetchEmailID                        // EMAILID (RFC 8474 5.1)
	fetchThreadID                       // THREADID (RFC 8474 5.2)
)

// fetchItem is one requested data item.
type fetchItem struct {
	kind    fetchKind
	section mailmsg.Section
	// peek is true for items that never set \Seen (BODY.PEEK, BINARY.PEEK,
	// RFC822.HEADER, and every item that reads no body text).
	peek bool
}

// needsStructure reports whether the item needs the analysed MIME tree.
func (it fetchItem) needsStructure() bool {
	switch it.kind {
	case fetchEnvelope, fetchBodyStructure, fetchBodyShort, fetchSection, fetchBinary, fetchBinarySize,
		fetchRFC822Header, fetchRFC822Text, fetchPreview:
		return true
	}
	return false
}

// needsBody reports whether the item reads the raw message.
func (it fetchItem) needsBody() bool {
	switch it.kind {
	case fetchSection, fetchBinary, fetchBinarySize, fetchRFC822, fetchRFC822Header, fetchRFC822Text:
		return true
	}
	return false
}

// cmdFetch implements FETCH and UID FETCH (RFC 9051 6.4.5, 6.4.9) with the
// BINARY items of RFC 3516. A body item without PEEK sets \Seen on a
// mailbox opened read-write, and the changed FLAGS are included in that
// message's response. EXPUNGE responses of other sessions are deferred
// during FETCH (RFC 9051 7.5.1).
func cmdFetch(c *conn, cmd *command) result {
	uidCmd := cmd.input == fsm.InputUIDFetch
	a := cmd.args
	if err := a.SP(); err != nil {
		return argError(err)
	}
	set, err := a.SeqSet()
	if err != nil {
		return argError(err)
	}
	if err := a.SP(); err != nil {
		return argError(err)
	}
	items, err := parseFetchItems(a)
	if err != nil {
		return fetchArgError(err)
	}
	var changedSince uint64
	hasChangedSince, zeroQuirk, vanished := false, false, false
	if !a.AtEnd() {
		// fetch-modifiers (RFC 4466 2.4): CHANGEDSINCE (RFC 7162
		// 3.1.4.1) and VANISHED (RFC 7162 3.2.6).
		if err := a.SP(); err != nil {
			return argError(err)
		}
		if err := a.List(func() error {
			kw, err := a.Keyword()
			if err != nil {
				return err
			}
			switch {
			case kw == "VANISHED" && !vanished:
				vanished = true
				return nil
			case kw != "CHANGEDSINCE" || hasChangedSince:
				return fetchSyntaxError("Unknown or repeated FETCH modifier " + kw)
			}
			if err := a.SP(); err != nil {
				return err
			}
			hasChangedSince = true
			changedSince, err = a.Number64()
			return err
		}); err != nil {
			return fetchArgError(err)
		}
		if !hasChangedSince && !vanished {
			return bad("Empty FETCH modifier list")
		}
	}
	if err := a.End(); err != nil {
		return argError(err)
	}
	switch {
	case vanished && !c.qresync():
		return bad("VANISHED needs ENABLE QRESYNC first (RFC 7162 3.2.3)")
	case vanished && (!uidCmd || !hasChangedSince):
		return bad("VANISHED is only allowed in UID FETCH with CHANGEDSINCE (RFC 7162 3.2.6)")
	}
	if hasChangedSince && changedSince == 0 {
		// The changedsince-zero quirk (iPhone Mail): a mod-sequence is at
		// least 1. Lenient reads it as "all messages".
		if !c.noteQuirk(fsm.QuirkChangedsinceZero, "input", cmd.input.String(), "tag", cmd.tag) {
			return bad("CHANGEDSINCE needs a mod-sequence of at least 1 (RFC 7162)")
		}
		zeroQuirk = true
	}
	m := c.mailbox
	sel, err := m.selection(set, uidCmd)
	if err != nil {
		return bad("Invalid message sequence number")
	}
	if hasChangedSince || hasFetchKind(items, fetchModSeq) {
		c.enableCondstore() // a CONDSTORE-enabling command (RFC 7162 3.1)
	}
	if hasChangedSince && !hasFetchKind(items, fetchModSeq) {
		// CHANGEDSINCE implies MODSEQ (RFC 7162 3.1.4.1).
		items = append(items, fetchItem{kind: fetchModSeq, peek: true})
	}
	if (uidCmd || hasChangedSince) && !hasFetchKind(items, fetchUID) {
		// UID FETCH always returns the UID (RFC 9051 6.4.9), and so does
		// a FETCH with CHANGEDSINCE (RFC 7162 3.1).
		items = append([]fetchItem{{kind: fetchUID, peek: true}}, items...)
	}
	if vanished {
		// VANISHED (EARLIER) precedes the FETCH responses (RFC 7162
		// 3.2.6). It names messages expunged up to what the view has
		// caught up with and no longer in it; the view's own pending
		// expunges are reported as VANISHED after the FETCH responses.
		gone, err := c.vanishedSince(m.id, changedSince, m.modseq, m.uidSetOf(set), m.uids, 0)
		if err != nil {
			return c.storeError(err)
		}
		c.write(func(e *imapwire.Encoder) { writeVanished(e, true, gone) })
	}
	res := c.fetchMessages(sel, items, changedSince)
	c.sendCommandUpdates(uidCmd)
	if zeroQuirk && res.outcome == fsm.OutcomeOK {
		return okCode("CLIENTBUG", "FETCH completed (CHANGEDSINCE 0 read as all messages)")
	}
	return res
}

// hasFetchKind reports whether items holds an item of kind k.
func hasFetchKind(items []fetchItem, k fetchKind) bool {
	for _, it := range items {
		if it.kind == k {
			return true
		}
	}
	return false
}

// parseFetchItems reads the FETCH data item argument (RFC 9051 9, fetch-att
// and the ALL, FAST and FULL macros): a macro, a single item or a
// parenthesised list of items.
func parseFetchItems(a *imapwire.ArgReader) ([]fetchItem, error) {
	var items []fetchItem
	if c, _ := a.Peek(); c == '(' {
		err := a.List(func() error {
			its, err := parseFetchAtt(a, false)
			items = append(items, its...)
			return err
		})
		if err != nil {
			return nil, err
		}
		if len(items) == 0 {
			return nil, fetchSyntaxError("Empty FETCH item list")
		}
		return items, nil
	}
	return parseFetchAtt(a, true)
}

// fetchMacros are the FETCH macros (RFC 9051 6.4.5); they may not appear
// inside a list.
var fetchMacros = map[string][]fetchKind{
	"ALL":  {fetchFlags, fetchInternalDate, fetchSize, fetchEnvelope},
	"FAST": {fetchFlags, fetchInternalDate, fetchSize},
	"FULL": {fetchFlags, fetchInternalDate, fetchSize, fetchEnvelope, fetchBodyShort},
}

// fetchSimple are the items that take no section.
var fetchSimple = map[string]fetchItem{
	"UID":           {kind: fetchUID, peek: true},
	"FLAGS":         {kind: fetchFlags, peek: true},
	"INTERNALDATE":  {kind: fetchInternalDate, peek: true},
	"SAVEDATE":      {kind: fetchSaveDate, peek: true},
	"RFC822.SIZE":   {kind: fetchSize, peek: true},
	"ENVELOPE":      {kind: fetchEnvelope, peek: true},
	"BODYSTRUCTURE": {kind: fetchBodyStructure, peek: true},
	"RFC822":        {kind: fetchRFC822},
	"RFC822.HEADER": {kind: fetchRFC822Header, peek: true},
	"RFC822.TEXT":   {kind: fetchRFC822Text},
	"EMAILID":       {kind: fetchEmailID, peek: true},
	"THREADID":      {kind: fetchThreadID, peek: true},
}

// parseFetchAtt reads one fetch-att (or, when macro is true, also a macro).
func parseFetchAtt(a *imapwire.ArgReader, macro bool) ([]fetchItem, error) {
	name, err := a.AtomStop("[")
	if err != nil {
		return nil, err
	}
	name = strings.ToUpper(name)
	if kinds, ok := fetchMacros[name]; ok {
		if !macro {
			return nil, fetchSyntaxError("FETCH macro " + name + " cannot be used in a list")
		}
		items := make([]fetchItem, len(kinds))
		for i, k := range kinds {
			items[i] = fetchItem{kind: k, peek: true}
		}
		return items, nil
	}
	if it, ok := fetchSimple[name]; ok {
		return []fetchItem{it}, nil
	}
	if name == "MODSEQ" {
		return []fetchItem{{kind: fetchModSeq, peek: true}}, nil
	}
	if name == "PREVIEW" {
		// RFC 8970 3.1: PREVIEW [SP "(" preview-mod *(SP preview-mod) ")"];
		// LAZY lets the server skip a preview it has not computed, but
		// previews are computed at delivery, so it changes nothing here.
		if a.PeekSP('(') {
			if err := a.SP(); err != nil {
				return nil, err
			}
			err := a.List(func() error {
				mod, err := a.Atom()
				if err == nil && !strings.EqualFold(mod, "LAZY") {
					err = fetchSyntaxError("Unknown PREVIEW modifier " + mod)
				}
				return err
			})
			if err != nil {
				return nil, err
			}
		}
		return []fetchItem{{kind: fetchPreview, peek: true}}, nil
	}
	it := fetchItem{}
	switch name {
	case "BODY":
		if c, _ := a.Peek(); c != '[' {
			return []fetchItem{{kind: fetchBodyShort, peek: true}}, nil
		}
		it.kind = fetchSection
	case "BODY.PEEK":
		it.kind, it.peek = fetchSection, true
	case "BINARY":
		it.kind = fetchBinary
	case "BINARY.PEEK":
		it.kind, it.peek = fetchBinary, true
	case "BINARY.SIZE":
		it.kind, it.peek = fetchBinarySize, true
	default:
		return nil, fetchSyntaxError("Unknown FETCH item " + name)
	}
	if it.section, err = readFetchSection(a); err != nil {
		return nil, err
	}
	switch it.kind {
	case fetchBinary, fetchBinarySize:
		// section-binary = "[" [section-part] "]" (RFC 3516 4.1)
		if it.section.Specifier != mailmsg.SpecifierNone {
			return nil, fetchSyntaxError(name + " takes part numbers only")
		}
		if it.kind == fetchBinarySize && it.section.Partial != nil {
			return nil, fetchSyntaxError("BINARY.SIZE takes no partial range")
		}
	}
	return []fetchItem{it}, nil
}

// readFetchSection reads "[" section "]" ["<" origin "." length ">"] and
// parses it with mailmsg.ParseSection. Header field names are read as
// astrings, so quoted names and literals work.
func readFetchSection(a *imapwire.ArgReader) (mailmsg.Section, error) {
	if err := a.Expect('['); err != nil {
		return mailmsg.Section{}, err
	}
	var b strings.Builder
	if c, _ := a.Peek(); c != ']' {
		spec, err := a.Atom()
		if err != nil {
			return mailmsg.Section{}, err
		}
		b.WriteString(spec)
		if a.Accept(' ') {
			b.WriteString(" (")
			n := 0
			err := a.List(func() error {
				f, err := a.AString()
				if err != nil {
					return err
				}
				if !validFieldName(f) {
					return fetchSyntaxError("Invalid header field name")
				}
				if n > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(f)
				n++
				return nil
			})
			if err != nil {
				return mailmsg.Section{}, err
			}
			b.WriteByte(')')
		}
	}
	if err := a.Expect(']'); err != nil {
		return mailmsg.Section{}, err
	}
	b.WriteByte(']')
	if c, _ := a.Peek(); c == '<' {
		p, err := a.Atom()
		if err != nil {
			return mailmsg.Section{}, err
		}
		b.WriteString(p)
	}
	sec, rest, err := mailmsg.ParseSection(b.String())
	if err != nil {
		return mailmsg.Section{}, fetchSyntaxError("Invalid section: " + strings.TrimPrefix(err.Error(), mailmsg.ErrBadSection.Error()+": "))
	}
	if rest != "" {
		return mailmsg.Section{}, fetchSyntaxError("Invalid section")
	}
	return sec, nil
}

// validFieldName reports whether f is a header field name (RFC 5322 3.6.8:
// printable ASCII except colon), which can be echoed as an atom.
func validFieldName(f string) bool {
	if f == "" {
		return false
	}
	for i := 0; i < len(f); i++ {
		if c := f[i]; c <= ' ' || c >= 0x7f || c == ':' || c == '(' || c == ')' || c == '"' || c == '\\' || c == '{' {
			return false
		}
	}
	return true
}

// fetchFlagsBatch is how many messages FETCH reads at a time when it
// needs no message structure (FLAGS, UID, MODSEQ and the like): what both
// stores read in one query or transaction, so that "1:*" costs one store
// read per that many messages.
const fetchFlagsBatch = 512

// fetchMessages walks the selected messages in chunks (fetchBatch, or
// fetchFlagsBatch when no item needs the message structure): for each it
// sets \Seen where the items require it, reads the chunk's messages from
// the store and writes one FETCH response per message. Nothing is kept
// from one chunk to the next, so the memory of "1:*" does not grow with
// the mailbox. A non-zero changedSince keeps only messages whose MODSEQ is
// greater (RFC 7162 3.1.4.1), tested before \Seen is set.
func (c *conn) fetchMessages(sel selection, items []fetchItem, changedSince uint64) result {
	m := c.mailbox
	var wantStructure, wantBody, setsSeen bool
	for _, it := range items {
		wantStructure = wantStructure || it.needsStructure()
		wantBody = wantBody || it.needsBody()
		setsSeen = setsSeen || (!it.peek && it.needsBody())
	}
	setsSeen = setsSeen && !m.readOnly
	size := fetchFlagsBatch
	if wantStructure || wantBody {
		size = fetchBatch
	}
	var msgs []*store.Message
	for batch := range c.srv.fetchChunks(sel, size) {
		opts := store.FetchOptions{Structure: wantStructure, ChangedSince: changedSince}
		if changedSince != 0 && setsSeen {
			// Setting \Seen changes the MODSEQ: filter first.
			var err error
			if batch, err = c.changedSince(batch, changedSince); err != nil {
				return c.storeError(err)
			}
			if len(batch) == 0 {
				continue
			}
			opts.ChangedSince = 0
		}
		// RFC 9051 6.4.5: a BODY[section] fetch sets \Seen; the new flags
		// are part of the response.
		var seen map[uint32]bool
		if setsSeen {
			sr, err := c.user.StoreFlags(c.ctx, m.id, uidSetOf(batch), store.FlagChange{Op: store.FlagsAdd, Flags: []string{`\Seen`}})
			if err != nil {
				return c.storeError(err)
			}
			m.noteOwnFlagChange(sr.ModSeq)
			for _, u := range sr.Updated {
				if u.Changed {
					if seen == nil {
						seen = map[uint32]bool{}
					}
					seen[u.UID] = true
					m.markContextDirty(u.UID)
				}
			}
		}
		clear(msgs)
		msgs = msgs[:0]
		err := c.user.Fetch(c.ctx, m.id, uidSetOf(batch), opts, func(msg *store.Message) error {
			msgs = append(msgs, msg.Clone())
			return nil
		})
		if err != nil {
			return c.storeError(err)
		}
		for _, msg := range msgs {
			seq := m.seqOf(msg.UID)
			if seq == 0 {
				continue
			}
			if res, ok := c.fetchOne(seq, msg, items, wantBody, seen[msg.UID]); !ok {
				return res
			}
		}
	}
	return ok("FETCH completed")
}

// changedSince returns the messages of refs whose MODSEQ is greater than
// modseq.
func (c *conn) changedSince(refs []msgRef, modseq uint64) ([]msgRef, error) {
	m := c.mailbox
	changed := map[uint32]bool{}
	err := c.user.Fetch(c.ctx, m.id, uidSetOf(refs), store.FetchOptions{ChangedSince: modseq}, func(msg *store.Message) error {
		changed[msg.UID] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []msgRef
	for _, r := range refs {
		if changed[r.uid] {
			out = append(out, r)
		}
	}
	return out, nil
}

// fetchValue is the prepared value of one item: either wire text, or a
// literal streamed from r.
type fetchValue struct {
	name    string // the item name as it appears in the response
	wire    []byte // the value in wire syntax, when r is nil
	r       io.Reader
	n       int64
	literal bool // literal8 ("~{n}", RFC 3516 4.2)
}

// fetchOne prepares and writes the FETCH response of one message. It
// reports false with the result to return when the message cannot be
// served (for example BINARY of an unknown transfer encoding).
func (c *conn) fetchOne(seq uint32, msg *store.Message, items []fetchItem, wantBody, addFlags bool) (result, bool) {
	m := c.mailbox
	msg.Flags = m.withRecent(msg.UID, msg.Flags)
	var body store.Body
	if wantBody || (len(msg.Structure) == 0 && anyNeedsStructure(items)) {
		b, err := c.user.OpenBody(c.ctx, m.id, msg.UID)
		if errors.Is(err, store.ErrNoSuchMessage) {
			return result{}, true // expunged meanwhile (RFC 9051 7.5.1)
		}
		if err != nil {
			return c.storeError(err), false
		}
		body = b
		defer body.Close()
	}
	var st *mailmsg.Structure
	if anyNeedsStructure(items) {
		var err error
		st, err = messageStructure(msg, body)
		if err != nil {
			c.log.Error("decoding message structure", "uid", msg.UID, "err", err)
			return no("SERVERBUG", "Message structure unavailable"), false
		}
	}
	if st != nil && !st.HasPreview && hasFetchKind(items, fetchPreview) {
		// Analysed before previews were kept: compute it now.
		if body == nil {
			b, err := c.user.OpenBody(c.ctx, m.id, msg.UID)
			if errors.Is(err, store.ErrNoSuchMessage) {
				return result{}, true
			}
			if err != nil {
				return c.storeError(err), false
			}
			body = b
			defer body.Close()
		}
		st.Preview, _ = mailmsg.Preview(body, body.Size(), st)
		st.HasPreview = true
	}
	vals := make([]fetchValue, 0, len(items)+1)
	flagsSent := false
	for _, it := range items {
		v, err := fetchItemValue(it, msg, st, body)
		if err != nil {
			if errors.Is(err, mailmsg.ErrUnknownCTE) {
				return no("UNKNOWN-CTE", "Cannot decode the content transfer encoding of this part"), false
			}
			c.log.Warn("fetch item failed", "uid", msg.UID, "err", err)
			return no("UNKNOWN-CTE", "Cannot decode this part"), false
		}
		flagsSent = flagsSent || it.kind == fetchFlags
		vals = append(vals, v)
	}
	if addFlags && !flagsSent {
		vals = append(vals, fetchValue{name: "FLAGS", wire: flagListWire(msg.Flags)})
	}
	if addFlags && c.condstore() && !hasFetchKind(items, fetchModSeq) {
		// The \Seen change has a new MODSEQ (RFC 7162 3.1).
		vals = append(vals, fetchValue{name: "MODSEQ", wire: modSeqWire(msg.ModSeq)})
	}
	if addFlags && c.condstore() && !hasFetchKind(items, fetchUID) {
		// And a UID, as every FETCH response reporting a flag change once
		// CONDSTORE is enabled (RFC 7162 3.2.4).
		uid, err := fetchItemValue(fetchItem{kind: fetchUID}, msg, nil, nil)
		if err == nil {
			vals = append([]fetchValue{uid}, vals...)
		}
	}
	err := c.write(func(e *imapwire.Encoder) {
		if flagsSent || addFlags {
			m.announceFlags(e, msg.Flags)
			if flags := m.canonical(msg.Flags); !slices.Equal(flags, msg.Flags) {
				for i := range vals {
					if vals[i].name == "FLAGS" {
						vals[i].wire = flagListWire(flags)
					}
				}
			}
		}
		e.Untagged().Number(seq).Raw(" FETCH (")
		for i, v := range vals {
			if i > 0 {
				e.SP()
			}
			e.Raw(v.name).SP()
			switch {
			case v.r != nil && v.literal:
				e.Literal8(v.r, v.n)
			case v.r != nil:
				e.Literal(v.r, v.n)
			default:
				writeWire(e, v.wire)
			}
		}
		e.Raw(")").CRLF()
	})
	if err != nil {
		return no("SERVERBUG", "Writing the response failed"), false
	}
	return result{}, true
}

// anyNeedsStructure reports whether an item needs the MIME tree.
func anyNeedsStructure(items []fetchItem) bool {
	for _, it := range items {
		if it.needsStructure() {
			return true
		}
	}
	return false
}

// fetchItemValue computes the response value of one item (RFC 9051 7.5.2
// FETCH response, RFC 3516 4.2).
func fetchItemValue(it fetchItem, msg *store.Message, st *mailmsg.Structure, body store.Body) (fetchValue, error) {
	switch it.kind {
	case fetchUID:
		return fetchValue{name: "UID", wire: strconv.AppendUint(nil, uint64(msg.UID), 10)}, nil
	case fetchFlags:
		return fetchValue{name: "FLAGS", wire: flagListWire(msg.Flags)}, nil
	case fetchModSeq:
		return fetchValue{name: "MODSEQ", wire: modSeqWire(msg.ModSeq)}, nil
	case fetchInternalDate:
		b := append([]byte{'"'}, imapwire.AppendDateTime(nil, msg.InternalDate)...)
		return fetchValue{name: "INTERNALDATE", wire: append(b, '"')}, nil
	case fetchSaveDate:
		if msg.SaveDate.IsZero() {
			// Unknown (see saveDate): NIL, as RFC 8514 4.2 answers
			// where the storage keeps no save date.
			return fetchValue{name: "SAVEDATE", wire: []byte("NIL")}, nil
		}
		b := append([]byte{'"'}, imapwire.AppendDateTime(nil, msg.SaveDate)...)
		return fetchValue{name: "SAVEDATE", wire: append(b, '"')}, nil
	case fetchSize:
		return fetchValue{name: "RFC822.SIZE", wire: strconv.AppendInt(nil, msg.Size, 10)}, nil
	case fetchPreview:
		return previewValue(st.Preview), nil
	case fetchEmailID:
		return fetchValue{name: "EMAILID", wire: []byte("(" + emailObjectID(msg) + ")")}, nil
	case fetchThreadID:
		return fetchValue{name: "THREADID", wire: []byte("NIL")}, nil
	case fetchEnvelope:
		var buf bytes.Buffer
		err := mailmsg.WriteEnvelope(&buf, &st.Envelope)
		return fetchValue{name: "ENVELOPE", wire: buf.Bytes()}, err
	case fetchBodyStructure, fetchBodyShort:
		var buf bytes.Buffer
		err := mailmsg.WriteBodyStructure(&buf, st, it.kind == fetchBodyStructure)
		name := "BODY"
		if it.kind == fetchBodyStructure {
			name = "BODYSTRUCTURE"
		}
		return fetchValue{name: name, wire: buf.Bytes()}, err
	case fetchRFC822:
		return fetchValue{name: "RFC822", r: io.NewSectionReader(body, 0, body.Size()), n: body.Size()}, nil
	case fetchRFC822Header, fetchRFC822Text:
		sec, name := mailmsg.RFC822HeaderSection(), "RFC822.HEADER"
		if it.kind == fetchRFC822Text {
			sec, name = mailmsg.RFC822TextSection(), "RFC822.TEXT"
		}
		r, n, err := mailmsg.ExtractSection(body, body.Size(), st, sec)
		return fetchValue{name: name, r: r, n: n}, err
	case fetchSection:
		r, n, err := mailmsg.ExtractSection(body, body.Size(), st, it.section)
		return fetchValue{name: "BODY[" + it.section.String() + "]" + partialOrigin(it.section), r: r, n: n}, err
	case fetchBinary:
		r, n, err := mailmsg.ExtractBinary(body, body.Size(), st, it.section)
		return fetchValue{name: "BINARY[" + it.section.String() + "]" + partialOrigin(it.section), r: r, n: n, literal: true}, err
	case fetchBinarySize:
		n, err := mailmsg.BinarySize(body, body.Size(), st, it.section.Part)
		return fetchValue{name: "BINARY.SIZE[" + it.section.String() + "]", wire: strconv.AppendInt(nil, n, 10)}, err
	}
	return fetchValue{}, errors.New("unknown fetch item")
}

// partialOrigin returns "<origin>" for a partial fetch: the response names
// only the origin octet (RFC 9051 7.5.2, BODY[<section>]<<origin octet>>).
func partialOrigin(sec mailmsg.Section) string {
	if sec.Partial == nil {
		return ""
	}
	return "<" + strconv.FormatInt(sec.Partial.Origin, 10) + ">"
}

// modSeqWire formats the MODSEQ value "(n)" (RFC 7162 7, fetch-mod-resp).
func modSeqWire(modseq uint64) []byte {
	b := strconv.AppendUint([]byte{'('}, modseq, 10)
	return append(b, ')')
}

// flagListWire formats a flag list such as (\Seen $Forwarded).
func flagListWire(flags []string) []byte {
	b := []byte{'('}
	for i, f := range flags {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, f...)
	}
	return append(b, ')')
}

// writeWire writes a value that is already in IMAP wire syntax, such as the
// ENVELOPE and BODYSTRUCTURE text of mailmsg. Such text holds CRLF only
// right after a literal header "{n}", so it is written as raw text and
// literals in turn, and nothing in it can end the response line early.
func writeWire(e *imapwire.Encoder, b []byte) {
	for len(b) > 0 {
		i := bytes.Index(b, []byte("\r\n"))
		if i < 0 {
			e.Raw(string(b))
			return
		}
		open := bytes.LastIndexByte(b[:i], '{')
		if open < 0 || b[i-1] != '}' {
			e.Raw(string(b)) // not a literal header: Raw refuses the CRLF
			return
		}
		n, err := strconv.ParseInt(string(b[open+1:i-1]), 10, 64)
		if err != nil || n < 0 || int64(len(b)-i-2) < n {
			e.Raw(string(b))
			return
		}
		e.Raw(string(b[:open]))
		e.LiteralBytes(b[i+2 : i+2+int(n)])
		b = b[i+2+int(n):]
	}
}

// previewValue is the PREVIEW fetch value (RFC 8970 3.2, an nstring): a
// quoted string when the text is ASCII, otherwise a literal, which carries
// UTF-8 in IMAP4rev1 sessions too; NIL for a message without text.
func previewValue(text string) fetchValue {
	v := fetchValue{name: "PREVIEW"}
	if text == "" {
		v.wire = []byte("NIL")
		return v
	}
	for i := 0; i < len(text); i++ {
		if text[i] < 0x20 || text[i] > 0x7e {
			v.r, v.n = strings.NewReader(text), int64(len(text))
			return v
		}
	}
	v.wire = []byte(`"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(text) + `"`)
	return v
}
