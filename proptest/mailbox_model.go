package proptest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The data properties: what a session may be told about its selected
// mailbox (see the package documentation, "Mailbox data"). They are
// checked by sessionView against each response a session receives, and by
// the runner of TestMailboxDataProperties against mailboxModel.
type dataProperty string

const (
	// propFlagsAnnounced: every flag in a FETCH FLAGS list is in the last
	// FLAGS response the session received (\Recent aside), and no flag is
	// listed twice.
	propFlagsAnnounced dataProperty = "flags-announced"
	// propUIDsAscending: UIDs grow with sequence numbers, a sequence
	// number keeps its UID, an expunged UID never comes back, and every
	// new message (APPENDUID, COPYUID) gets a UID above all before it.
	propUIDsAscending dataProperty = "uids-ascending"
	// propSeqNumbers: EXISTS never goes down, EXPUNGE and FETCH name a
	// message of the session's view at that moment, SEARCH results are in
	// range, and no EXPUNGE comes during FETCH, STORE or SEARCH.
	propSeqNumbers dataProperty = "seq-numbers"
	// propModSeq: a message's MODSEQ only grows, and grows with every
	// change; each change gets a MODSEQ above every one seen before it;
	// HIGHESTMODSEQ never goes backwards nor below a MODSEQ already seen;
	// the first CONDSTORE-enabling command gets an OK [HIGHESTMODSEQ]; a
	// CHANGEDSINCE fetch returns exactly the messages changed since.
	propModSeq dataProperty = "modseq-order"
	// propRecentOnce: each message is \Recent in exactly one IMAP4rev1
	// session and in no IMAP4rev2 session; UID SEARCH RECENT, NEW and OLD
	// agree.
	propRecentOnce dataProperty = "recent-once"
	// propConverge: after a NOOP every session's view (message count,
	// UIDs, the flags it was told) equals the model's, and every command
	// of the run succeeds.
	propConverge dataProperty = "views-converge"
)

// dataProperties lists the data properties in report order.
var dataProperties = []dataProperty{propFlagsAnnounced, propUIDsAscending, propSeqNumbers, propModSeq, propRecentOnce, propConverge}

// dataViolation is one broken data property.
type dataViolation struct {
	prop dataProperty
	// check names the check within the property when it may be pending
	// (see dataPending in the tests); empty otherwise.
	check string
	text  string
}

func (v dataViolation) String() string { return string(v.prop) + ": " + v.text }

// dataChecker collects what the sessions of one run observed together: the
// violations, how many checks each property made, who owns \Recent of each
// message, and the flags each (UID, MODSEQ) pair stands for.
type dataChecker struct {
	violations []dataViolation
	checks     map[dataProperty]int
	// recentOwner is the session each UID was \Recent in.
	recentOwner map[uint32]string
	// stateAt is the flag set a (UID, MODSEQ) pair was reported with.
	stateAt map[[2]uint64]string
	// maxModSeq is the highest MODSEQ or HIGHESTMODSEQ any session saw.
	maxModSeq uint64
	// commands counts the commands sent, by name, for the report.
	commands map[string]int
}

func newDataChecker() *dataChecker {
	return &dataChecker{checks: map[dataProperty]int{}, commands: map[string]int{}, recentOwner: map[uint32]string{}, stateAt: map[[2]uint64]string{}}
}

func (d *dataChecker) violate(p dataProperty, who, format string, args ...any) {
	d.violations = append(d.violations, dataViolation{prop: p, text: who + ": " + fmt.Sprintf(format, args...)})
}

// check counts one check of p and reports a violation unless ok.
func (d *dataChecker) check(p dataProperty, ok bool, who, format string, args ...any) bool {
	return d.checkAs(p, "", ok, who, format, args...)
}

// checkAs is check for the named check of p.
func (d *dataChecker) checkAs(p dataProperty, id string, ok bool, who, format string, args ...any) bool {
	d.checks[p]++
	if !ok {
		d.violations = append(d.violations, dataViolation{prop: p, check: id, text: who + ": " + fmt.Sprintf(format, args...)})
	}
	return ok
}

// The checks a server fix may still be pending for.
const (
	// checkAnnounced: a flag in FETCH FLAGS was announced by FLAGS.
	checkAnnounced = "announced"
	// checkRev1Recent: \Recent is in exactly one rev1 session, and the
	// RECENT, NEW and OLD search keys agree.
	checkRev1Recent = "rev1-recent"
	// checkEnableHighest: the first CONDSTORE-enabling command gets an
	// OK [HIGHESTMODSEQ].
	checkEnableHighest = "enable-highestmodseq"
)

// systemFlags maps the lower-case system flags to their spelling.
var systemFlags = map[string]string{
	`\seen`: `\Seen`, `\answered`: `\Answered`, `\flagged`: `\Flagged`, `\deleted`: `\Deleted`,
	`\draft`: `\Draft`, `\recent`: `\Recent`,
}

// canonFlag spells a flag the way the model compares flags: system flags
// as in the RFC, keywords in lower case (flag names are case-insensitive).
func canonFlag(f string) string {
	l := strings.ToLower(f)
	if s, ok := systemFlags[l]; ok {
		return s
	}
	return l
}

// normFlags returns the flags canonical, sorted, once each, without
// \Recent.
func normFlags(flags []string) []string {
	out := make([]string, 0, len(flags))
	for _, f := range flags {
		if c := canonFlag(f); c != `\Recent` {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func flagsKey(flags []string) string { return "(" + strings.Join(flags, " ") + ")" }

// modelMsg is one message of the model.
type modelMsg struct {
	uid   uint32
	flags []string
	// changed is the model step of the message's last change (its
	// arrival or a flag change).
	changed int
}

// mailboxModel is the reference of one mailbox: which messages it holds,
// in UID order, with their flags; the highest UID ever given; and when each
// message last changed, for CHANGEDSINCE. The server's MODSEQ values are
// not predicted, only their order. Which session a message is \Recent in
// depends on timing, so it is not modelled either: dataChecker sees to it
// that there is exactly one.
type mailboxModel struct {
	msgs   []modelMsg
	maxUID uint32
	step   int
}

// tick starts a new step and returns it.
func (m *mailboxModel) tick() int {
	m.step++
	return m.step
}

func (m *mailboxModel) index(uid uint32) int {
	i, found := slices.BinarySearchFunc(m.msgs, uid, func(x modelMsg, u uint32) int { return int(int64(x.uid) - int64(u)) })
	if !found {
		return -1
	}
	return i
}

// add records a new message; its UID must be above every UID before.
func (m *mailboxModel) add(uid uint32, flags []string) error {
	if uid <= m.maxUID {
		return fmt.Errorf("new message got UID %d, but UIDs up to %d were given before", uid, m.maxUID)
	}
	m.maxUID = uid
	m.msgs = append(m.msgs, modelMsg{uid: uid, flags: normFlags(flags), changed: m.step})
	return nil
}

// flagsOf returns the flags of uid.
func (m *mailboxModel) flagsOf(uid uint32) ([]string, bool) {
	if i := m.index(uid); i >= 0 {
		return m.msgs[i].flags, true
	}
	return nil, false
}

// store applies a STORE (op '+', '-' or '=') to the messages of uids that
// exist and returns the UIDs whose flags changed.
func (m *mailboxModel) store(uids []uint32, op byte, flags []string) (changed []uint32) {
	flags = normFlags(flags)
	for _, uid := range uids {
		i := m.index(uid)
		if i < 0 {
			continue
		}
		var next []string
		switch op {
		case '+':
			next = normFlags(append(slices.Clone(m.msgs[i].flags), flags...))
		case '-':
			next = slices.DeleteFunc(slices.Clone(m.msgs[i].flags), func(f string) bool { return slices.Contains(flags, f) })
		default:
			next = flags
		}
		if !slices.Equal(next, m.msgs[i].flags) {
			m.msgs[i].flags = next
			m.msgs[i].changed = m.step
			changed = append(changed, uid)
		}
	}
	return changed
}

// remove expunges the messages of uids.
func (m *mailboxModel) remove(uids []uint32) {
	m.msgs = slices.DeleteFunc(m.msgs, func(x modelMsg) bool { return slices.Contains(uids, x.uid) })
}

// deleted returns the UIDs of the messages flagged \Deleted.
func (m *mailboxModel) deleted() []uint32 {
	var out []uint32
	for _, x := range m.msgs {
		if slices.Contains(x.flags, `\Deleted`) {
			out = append(out, x.uid)
		}
	}
	return out
}

// uids returns the UIDs in order.
func (m *mailboxModel) uids() []uint32 {
	out := make([]uint32, len(m.msgs))
	for i, x := range m.msgs {
		out[i] = x.uid
	}
	return out
}

// changedAfter returns the UIDs of the messages that arrived or changed
// after step.
func (m *mailboxModel) changedAfter(step int) []uint32 {
	var out []uint32
	for _, x := range m.msgs {
		if x.changed > step {
			out = append(out, x.uid)
		}
	}
	return out
}

// fetchAtts are the data items of a FETCH response this package reads.
type fetchAtts struct {
	seq      uint32
	uid      uint32
	hasUID   bool
	flags    []string
	hasFlags bool
	modseq   uint64
	hasMod   bool
}

// parseFetch reads "* n FETCH (...)"; ok is false for other responses.
func parseFetch(ev wireEvent) (a fetchAtts, ok bool) {
	if ev.tag != "*" {
		return a, false
	}
	num, rest, _ := strings.Cut(strings.TrimPrefix(ev.line, "* "), " ")
	if len(rest) < 7 || !strings.EqualFold(rest[:7], "FETCH (") {
		return a, false
	}
	n, err := strconv.ParseUint(num, 10, 32)
	if err != nil {
		return a, false
	}
	a.seq = uint32(n)
	s := strings.TrimSuffix(rest[7:], ")")
	for s != "" {
		s = strings.TrimLeft(s, " ")
		name, after, _ := strings.Cut(s, " ")
		var value string
		value, s = nextValue(after)
		switch strings.ToUpper(name) {
		case "UID":
			if u, err := strconv.ParseUint(value, 10, 32); err == nil {
				a.uid, a.hasUID = uint32(u), true
			}
		case "FLAGS":
			a.hasFlags = true
			a.flags = strings.Fields(strings.Trim(value, "()"))
		case "MODSEQ":
			if v, err := strconv.ParseUint(strings.Trim(value, "()"), 10, 64); err == nil {
				a.modseq, a.hasMod = v, true
			}
		}
	}
	return a, true
}

// nextValue splits one value (an atom, a quoted string or a parenthesized
// list) off s.
func nextValue(s string) (value, rest string) {
	depth, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '(' || c == '[':
			depth++
		case c == ')' || c == ']':
			depth--
		case c == ' ' && depth == 0:
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// flagsResponse reads "* FLAGS (...)".
func flagsResponse(ev wireEvent) ([]string, bool) {
	if ev.tag != "*" || len(ev.line) < 9 || !strings.EqualFold(ev.line[:9], "* FLAGS (") {
		return nil, false
	}
	return strings.Fields(strings.Trim(ev.line[8:], "()")), true
}

// codeNumber reads the number of a response code such as HIGHESTMODSEQ.
func codeNumber(ev wireEvent, name string) (uint64, bool) {
	f := strings.Fields(ev.code)
	if len(f) != 2 || !strings.EqualFold(f[0], name) {
		return 0, false
	}
	v, err := strconv.ParseUint(f[1], 10, 64)
	return v, err == nil
}

// searchNumbers reads the numbers of "* SEARCH ..." or of the ALL item of
// "* ESEARCH ...", with ok false for other responses.
func searchNumbers(ev wireEvent) (nums []uint32, ok bool) {
	if ev.tag != "*" {
		return nil, false
	}
	f := strings.Fields(ev.line)
	switch {
	case len(f) >= 2 && strings.EqualFold(f[1], "SEARCH"):
		for _, x := range f[2:] {
			if x[0] == '(' { // (MODSEQ n)
				break
			}
			if v, err := strconv.ParseUint(x, 10, 32); err == nil {
				nums = append(nums, uint32(v))
			}
		}
		return nums, true
	case len(f) >= 2 && strings.EqualFold(f[1], "ESEARCH"):
		for i := 2; i+1 < len(f); i++ {
			if strings.EqualFold(f[i], "ALL") {
				nums = expandSet(f[i+1])
			}
		}
		return nums, true
	}
	return nil, false
}

// expandSet expands a sequence set without "*".
func expandSet(set string) []uint32 {
	var out []uint32
	for _, r := range strings.Split(set, ",") {
		a, b, isRange := strings.Cut(r, ":")
		lo, err1 := strconv.ParseUint(a, 10, 32)
		hi := lo
		var err2 error
		if isRange {
			hi, err2 = strconv.ParseUint(b, 10, 32)
		}
		if err1 != nil || err2 != nil {
			continue
		}
		if lo > hi {
			lo, hi = hi, lo
		}
		for v := lo; v <= hi && len(out) < 1<<16; v++ {
			out = append(out, uint32(v))
		}
	}
	return out
}

// sessionView is what one session knows of the mailbox from the responses
// it received: the UID of each sequence number (0 while unknown), the flags
// it was told, the last FLAGS response, MODSEQs and HIGHESTMODSEQ. absorb
// checks every response against it before applying it.
type sessionView struct {
	name string
	rev2 bool
	// condstore is set once CONDSTORE is enabled in the session.
	condstore bool
	d         *dataChecker
	uids      []uint32
	flags     map[uint32][]string
	announced map[string]bool
	highest   uint64
	maxModSeq uint64
	modseq    map[uint32]uint64
	modFlags  map[uint32]string
	expunged  map[uint32]bool
	// recent holds the UIDs the session saw \Recent.
	recent map[uint32]bool
	// noExpunge is set while a FETCH, STORE or SEARCH runs.
	noExpunge string
	// sawHighest is set when an OK [HIGHESTMODSEQ] arrived since reset.
	sawHighest bool
}

func newSessionView(name string, rev2 bool, d *dataChecker) *sessionView {
	return &sessionView{
		name: name, rev2: rev2, d: d, flags: map[uint32][]string{}, modseq: map[uint32]uint64{},
		modFlags: map[uint32]string{}, expunged: map[uint32]bool{}, recent: map[uint32]bool{},
	}
}

// seqOf returns the sequence number of uid in the view, or 0.
func (v *sessionView) seqOf(uid uint32) uint32 {
	if i := slices.Index(v.uids, uid); i >= 0 {
		return uint32(i + 1)
	}
	return 0
}

// absorb checks one response and applies it to the view.
func (v *sessionView) absorb(ev wireEvent) {
	d := v.d
	if ev.tag != "*" {
		if n, ok := codeNumber(ev, "HIGHESTMODSEQ"); ok {
			v.highestModSeq(n)
		}
		return
	}
	if flags, ok := flagsResponse(ev); ok {
		v.announced = map[string]bool{}
		for _, f := range flags {
			v.announced[canonFlag(f)] = true
		}
		return
	}
	if n, ok := codeNumber(ev, "HIGHESTMODSEQ"); ok {
		v.highestModSeq(n)
		return
	}
	if n, kind, ok := untaggedCount(ev); ok {
		switch kind {
		case "EXISTS":
			if d.check(propSeqNumbers, n >= uint32(len(v.uids)), v.name, "%q after %d messages: EXISTS went down without EXPUNGE", ev.line, len(v.uids)) {
				for uint32(len(v.uids)) < n {
					v.uids = append(v.uids, 0)
				}
			} else {
				v.uids = v.uids[:n]
			}
			return
		case "EXPUNGE":
			d.check(propSeqNumbers, v.noExpunge == "", v.name, "%q during %s (RFC 9051 7.5.1)", ev.line, v.noExpunge)
			if !d.check(propSeqNumbers, n >= 1 && n <= uint32(len(v.uids)), v.name, "%q, but the session knows %d messages", ev.line, len(v.uids)) {
				return
			}
			if uid := v.uids[n-1]; uid != 0 {
				v.expunged[uid] = true
				delete(v.flags, uid)
			}
			v.uids = slices.Delete(v.uids, int(n-1), int(n))
			return
		case "RECENT":
			d.check(propRecentOnce, !v.rev2, v.name, "%q in an IMAP4rev2 session", ev.line)
			return
		}
	}
	if nums, ok := searchNumbers(ev); ok {
		if v.noExpunge == "SEARCH" { // sequence numbers, not UIDs
			for _, n := range nums {
				if !d.check(propSeqNumbers, n >= 1 && n <= uint32(len(v.uids)), v.name, "%q names message %d of %d", ev.line, n, len(v.uids)) {
					break
				}
			}
		}
		return
	}
	a, ok := parseFetch(ev)
	if !ok {
		return
	}
	if !d.check(propSeqNumbers, a.seq >= 1 && a.seq <= uint32(len(v.uids)), v.name, "%q names message %d of %d", ev.line, a.seq, len(v.uids)) {
		return
	}
	uid := v.uids[a.seq-1]
	if a.hasUID {
		v.checkUID(ev, a.seq, a.uid)
		uid = a.uid
		v.uids[a.seq-1] = uid
	}
	var flags []string
	if a.hasFlags {
		flags = normFlags(a.flags)
		seen := map[string]bool{}
		for _, f := range a.flags {
			c := canonFlag(f)
			d.check(propFlagsAnnounced, !seen[c], v.name, "%q lists %s twice", ev.line, f)
			seen[c] = true
			if c == `\Recent` {
				v.sawRecent(ev, uid)
				continue
			}
			d.checkAs(propFlagsAnnounced, checkAnnounced, v.announced != nil && v.announced[c], v.name, "%q uses %s, which no FLAGS response announced (last FLAGS: %v)", ev.line, f, v.announcedList())
		}
		if uid != 0 {
			v.flags[uid] = flags
		}
	}
	if a.hasMod && uid != 0 {
		v.sawModSeq(ev, uid, a.modseq, flags, a.hasFlags)
	}
}

func (v *sessionView) announcedList() []string {
	out := make([]string, 0, len(v.announced))
	for f := range v.announced {
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}

// checkUID checks the UID a FETCH reports for seq against the view.
func (v *sessionView) checkUID(ev wireEvent, seq, uid uint32) {
	d := v.d
	if known := v.uids[seq-1]; known != 0 {
		d.check(propUIDsAscending, known == uid, v.name, "%q: message %d had UID %d", ev.line, seq, known)
	}
	d.check(propUIDsAscending, !v.expunged[uid], v.name, "%q: UID %d was expunged before", ev.line, uid)
	for i := int(seq) - 2; i >= 0; i-- {
		if u := v.uids[i]; u != 0 {
			d.check(propUIDsAscending, u < uid, v.name, "%q: message %d has UID %d, not below %d", ev.line, i+1, u, uid)
			break
		}
	}
	for i := int(seq); i < len(v.uids); i++ {
		if u := v.uids[i]; u != 0 {
			d.check(propUIDsAscending, u > uid, v.name, "%q: message %d has UID %d, not above %d", ev.line, i+1, u, uid)
			break
		}
	}
}

// sawRecent records that uid is \Recent in this session.
func (v *sessionView) sawRecent(ev wireEvent, uid uint32) {
	d := v.d
	if !d.check(propRecentOnce, !v.rev2, v.name, "%q: \\Recent in an IMAP4rev2 session", ev.line) || uid == 0 {
		return
	}
	v.recent[uid] = true
	owner, taken := d.recentOwner[uid]
	d.checkAs(propRecentOnce, checkRev1Recent, !taken || owner == v.name, v.name, "%q: UID %d is \\Recent in %s already", ev.line, uid, owner)
	if !taken {
		d.recentOwner[uid] = v.name
	}
}

// sawModSeq checks a message's MODSEQ: it never goes down in the session,
// it changes when the flags change, the same (UID, MODSEQ) always stands
// for the same flags, and HIGHESTMODSEQ later is at least as high.
func (v *sessionView) sawModSeq(ev wireEvent, uid uint32, mod uint64, flags []string, hasFlags bool) {
	d := v.d
	prev, known := v.modseq[uid]
	d.check(propModSeq, !known || mod >= prev, v.name, "%q: MODSEQ of UID %d went down from %d", ev.line, uid, prev)
	if hasFlags {
		key := flagsKey(flags)
		if known && mod == prev && v.modFlags[uid] != "" {
			d.check(propModSeq, v.modFlags[uid] == key, v.name, "%q: flags of UID %d changed from %s but MODSEQ stayed %d", ev.line, uid, v.modFlags[uid], mod)
		}
		v.modFlags[uid] = key
		at := [2]uint64{uint64(uid), mod}
		if was, ok := d.stateAt[at]; ok {
			d.check(propModSeq, was == key, v.name, "%q: UID %d at MODSEQ %d was %s elsewhere", ev.line, uid, mod, was)
		} else {
			d.stateAt[at] = key
		}
	} else if known && mod != prev {
		delete(v.modFlags, uid)
	}
	v.modseq[uid] = mod
	v.maxModSeq = max(v.maxModSeq, mod)
	d.maxModSeq = max(d.maxModSeq, mod)
}

// highestModSeq checks an OK [HIGHESTMODSEQ n].
func (v *sessionView) highestModSeq(n uint64) {
	d := v.d
	v.sawHighest = true
	d.check(propModSeq, n >= v.highest, v.name, "HIGHESTMODSEQ %d after %d", n, v.highest)
	d.check(propModSeq, n >= v.maxModSeq, v.name, "HIGHESTMODSEQ %d below MODSEQ %d seen before", n, v.maxModSeq)
	v.highest = max(v.highest, n)
	d.maxModSeq = max(d.maxModSeq, n)
}
