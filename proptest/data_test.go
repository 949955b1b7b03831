package proptest

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leanovate/gopter"
	"github.com/leanovate/gopter/prop"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/imapfsm/imapfsm/fsm"
)

// dataSpec is how one session of a data run talks: IMAP4rev1 or (after
// ENABLE IMAP4rev2) IMAP4rev2, and how CONDSTORE comes on: not at first
// (a later FETCH MODSEQ, CHANGEDSINCE or SEARCH MODSEQ enables it), by
// ENABLE CONDSTORE, or by SELECT INBOX (CONDSTORE).
type dataSpec struct {
	Rev2      bool
	Condstore int
}

func (s dataSpec) String() string {
	rev := "rev1"
	if s.Rev2 {
		rev = "rev2"
	}
	return rev + []string{"", "+enable-condstore", "+select-condstore"}[s.Condstore]
}

// dataOp is one action of one session; A, B and C pick messages, flags and
// variants, reduced modulo what exists when the action runs.
type dataOp struct {
	Session int
	Kind    string
	A, B, C int
}

func (o dataOp) String() string {
	return fmt.Sprintf("S%d %s %d/%d/%d", o.Session+1, o.Kind, o.A, o.B, o.C)
}

// dataCase is one run: the sessions on one INBOX and their actions.
type dataCase struct {
	Sessions []dataSpec
	Ops      []dataOp
}

func (c dataCase) String() string {
	parts := make([]string, len(c.Ops))
	for i, o := range c.Ops {
		parts[i] = o.String()
	}
	specs := make([]string, len(c.Sessions))
	for i, s := range c.Sessions {
		specs[i] = fmt.Sprintf("S%d %s", i+1, s)
	}
	return fmt.Sprintf("[%s]: %s", strings.Join(specs, ", "), strings.Join(parts, "; "))
}

// dataKinds weighs the actions.
var dataKinds = []string{
	"append", "append", "append", "store", "store", "store", "store", "copy", "move", "expunge",
	"fetch", "fetch", "search", "noop", "idle", "idle", "mark", "changed", "changed",
}

func genDataCase() gopter.Gen {
	return func(p *gopter.GenParameters) *gopter.GenResult {
		r := p.Rng
		c := dataCase{Sessions: make([]dataSpec, 2+r.Intn(3))}
		for i := range c.Sessions {
			c.Sessions[i] = dataSpec{Rev2: r.Intn(2) == 1, Condstore: r.Intn(3)}
		}
		// Always one session of each revision: \Recent needs a rev1
		// session to live in and a rev2 session to stay out of.
		c.Sessions[0].Rev2, c.Sessions[1].Rev2 = false, true
		n := p.MinSize + r.Intn(p.MaxSize-p.MinSize+1)
		for range n {
			c.Ops = append(c.Ops, dataOp{
				Session: r.Intn(len(c.Sessions)), Kind: dataKinds[r.Intn(len(dataKinds))],
				A: r.Intn(64), B: r.Intn(64), C: r.Intn(64),
			})
		}
		return gopter.NewGenResult(c, shrinkDataCase)
	}
}

// shrinkDataCase drops actions: halves of the sequence first, then
// smaller runs, down to single actions; then sessions beyond two.
func shrinkDataCase(v any) gopter.Shrink {
	c := v.(dataCase)
	var next []dataCase
	for size := len(c.Ops) / 2; size >= 1; size /= 2 {
		for at := 0; at+size <= len(c.Ops); at += size {
			ops := slices.Concat(c.Ops[:at], c.Ops[at+size:])
			next = append(next, dataCase{Sessions: c.Sessions, Ops: ops})
		}
	}
	if n := len(c.Sessions); n > 2 {
		var ops []dataOp
		for _, o := range c.Ops {
			if o.Session < n-1 {
				ops = append(ops, o)
			}
		}
		next = append(next, dataCase{Sessions: c.Sessions[:n-1], Ops: ops})
	}
	i := 0
	return func() (any, bool) {
		if i >= len(next) {
			return nil, false
		}
		i++
		return next[i-1], true
	}
}

// dataKeywords are the keywords the runs store and append; fresh ones
// ("$new<k>") are added now and then, new to the mailbox.
var dataKeywords = []string{`\Seen`, `\Flagged`, `\Deleted`, `\Answered`, `$Work`, `$Junk`, `Urgent`}

// dataFlags picks flags by the bits of bits, with a fresh keyword when
// fresh is set.
func dataFlags(bits int, fresh string) []string {
	var out []string
	for i, f := range dataKeywords {
		if bits&(1<<i) != 0 {
			out = append(out, f)
		}
	}
	if fresh != "" {
		out = append(out, fresh)
	}
	return out
}

// dataSession is one client of a data run.
type dataSession struct {
	spec   dataSpec
	v      *sessionView
	c      *wireClient
	name   string
	tag    int
	idling bool
	// mark is a MODSEQ taken by "mark" and the model step it was taken
	// at, for a later CHANGEDSINCE.
	mark     uint64
	markStep int
	marked   bool
}

// dataRun is one run of a case.
type dataRun struct {
	d        *dataChecker
	model    *mailboxModel
	sessions []*dataSession
	log      []string
}

// cmd runs one command, absorbing its responses; noExpunge names the
// command when EXPUNGE responses are not allowed during it; enables says
// that the command enables CONDSTORE.
func (r *dataRun) cmd(s *dataSession, line, noExpunge string, enables bool) (untagged []wireEvent, done wireEvent) {
	r.endIdle(s)
	s.tag++
	full := fmt.Sprintf("%s%d %s", s.name, s.tag, line)
	s.v.noExpunge, s.v.sawHighest = noExpunge, false
	untagged, done = s.c.cmd(full)
	for _, ev := range untagged {
		s.v.absorb(ev)
	}
	s.v.absorb(done)
	s.v.noExpunge = ""
	first, _, _ := strings.Cut(line, "\r\n")
	r.d.commands[commandName(first)]++
	r.log = append(r.log, fmt.Sprintf("%s%d %s", s.name, s.tag, first))
	for _, ev := range untagged {
		r.log = append(r.log, "    "+ev.line)
	}
	r.log = append(r.log, "    "+done.String())
	r.d.check(propConverge, done.status == "OK", s.name, "%s → %s", first, done)
	if enables && !s.v.condstore && done.status == "OK" {
		// RFC 7162 3.1: the first CONDSTORE-enabling command reports
		// HIGHESTMODSEQ before its tagged OK.
		r.d.checkAs(propModSeq, checkEnableHighest, s.v.sawHighest, s.name, "%s: the first CONDSTORE-enabling command got no OK [HIGHESTMODSEQ] (RFC 7162 3.1)", first)
		s.v.condstore = true
	}
	return untagged, done
}

// endIdle sends DONE for an idling session and absorbs what came.
func (r *dataRun) endIdle(s *dataSession) {
	if !s.idling {
		return
	}
	s.idling = false
	if err := s.c.send("DONE\r\n"); err != nil {
		r.d.violate(propConverge, s.name, "DONE: %v", err)
		return
	}
	untagged, done := s.c.until(fmt.Sprintf("%s%d", s.name, s.tag))
	for _, ev := range untagged {
		s.v.absorb(ev)
	}
	r.d.commands["IDLE"]++
	r.d.commands["IDLE pushes"] += len(untagged)
	r.log = append(r.log, s.name+" DONE")
	for _, ev := range untagged {
		r.log = append(r.log, "    "+ev.line)
	}
	r.log = append(r.log, "    "+done.String())
	r.d.check(propConverge, done.status == "OK", s.name, "DONE → %s", done)
}

// idle starts IDLE; the session's next command ends it.
func (r *dataRun) idle(s *dataSession) {
	if s.idling {
		return
	}
	s.tag++
	if err := s.c.send(fmt.Sprintf("%s%d IDLE\r\n", s.name, s.tag)); err != nil {
		r.d.violate(propConverge, s.name, "IDLE: %v", err)
		return
	}
	untagged, cont := s.c.until("+")
	for _, ev := range untagged {
		s.v.absorb(ev)
	}
	if r.d.check(propConverge, cont.continuation(), s.name, "IDLE → %s", cont) {
		s.idling = true
	}
	r.log = append(r.log, fmt.Sprintf("%s%d IDLE", s.name, s.tag))
}

// pick returns up to n UIDs chosen by a among the messages the session
// knows the UID of and the mailbox still holds (a UID command ignores the
// UIDs that are not in the session's view, RFC 9051 6.4.9), fetching the
// UIDs first when the session knows none; nil when there is no message.
func (r *dataRun) pick(s *dataSession, a, n int) []uint32 {
	known := func() []uint32 {
		var uids []uint32
		for _, u := range s.v.uids {
			if _, ok := r.model.flagsOf(u); ok && u != 0 {
				uids = append(uids, u)
			}
		}
		return uids
	}
	uids := known()
	if len(uids) == 0 {
		r.learnUIDs(s)
		if uids = known(); len(uids) == 0 {
			return nil
		}
	}
	var out []uint32
	for k := 0; k < n; k++ {
		u := uids[(a+k*7)%len(uids)]
		if !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	slices.Sort(out)
	return out
}

func uidList(uids []uint32) string {
	parts := make([]string, len(uids))
	for i, u := range uids {
		parts[i] = strconv.FormatUint(uint64(u), 10)
	}
	return strings.Join(parts, ",")
}

// appendMessage appends a message with flags as session s (nil: a setup
// connection's session) and adds it to the model.
func (r *dataRun) appendMessage(s *dataSession, k int, flags []string) {
	msg := fmt.Sprintf("Subject: message %d\r\n\r\nbody %d\r\n", k, k)
	r.model.tick()
	_, done := r.cmd(s, fmt.Sprintf("APPEND INBOX (%s) {%d+}\r\n%s", strings.Join(flags, " "), len(msg), msg), "", false)
	if done.status != "OK" {
		return
	}
	f := strings.Fields(done.code)
	if !r.d.check(propUIDsAscending, len(f) == 3 && f[0] == "APPENDUID", s.name, "APPEND → %s: no APPENDUID", done) {
		return
	}
	uid, _ := strconv.ParseUint(f[2], 10, 32)
	err := r.model.add(uint32(uid), flags)
	r.d.check(propUIDsAscending, err == nil, s.name, "APPEND: %v", err)
}

// checkStored checks that a STORE reported the model's flags of every
// message it changed, or, with .SILENT, tells the session's view the new
// flags as the client would note them. With CONDSTORE each change must get
// a MODSEQ above every MODSEQ seen before it.
func (r *dataRun) checkStored(s *dataSession, targets, changed []uint32, silent bool, before uint64) {
	for _, uid := range targets {
		want, ok := r.model.flagsOf(uid)
		if !ok || s.v.seqOf(uid) == 0 {
			continue
		}
		if silent {
			s.v.flags[uid] = want
			continue
		}
		got, told := s.v.flags[uid]
		r.d.check(propConverge, told && slices.Equal(got, want), s.name, "after its STORE, UID %d has %s, the session was told %s", uid, flagsKey(want), flagsKey(got))
	}
	if !s.v.condstore {
		return
	}
	for _, uid := range changed {
		if s.v.seqOf(uid) == 0 {
			continue
		}
		mod, ok := s.v.modseq[uid]
		r.d.check(propModSeq, ok && mod > before, s.name, "STORE changed UID %d: MODSEQ %d, but %d was seen before", uid, mod, before)
	}
}

// step runs one action.
func (r *dataRun) step(k int, op dataOp) {
	s := r.sessions[op.Session]
	v := s.v
	// The session's view must be current before an action reads it:
	// end IDLE first, absorbing what it pushed.
	r.endIdle(s)
	switch op.Kind {
	case "append":
		fresh := ""
		if op.B%3 == 0 {
			fresh = fmt.Sprintf("$New%d", k)
		}
		r.appendMessage(s, k, dataFlags(op.A&^4, fresh)) // never \Deleted on arrival
	case "store":
		targets := r.pick(s, op.A, 1+op.C%2)
		if len(targets) == 0 {
			return
		}
		signs := []string{"+", "-", ""}
		sign := signs[op.B%3]
		fresh := ""
		if op.C%4 == 0 {
			fresh = fmt.Sprintf("$Kw%d", k)
		}
		flags := dataFlags(op.B/3, fresh)
		silent := op.C%5 == 0
		item := sign + "FLAGS"
		if silent {
			item += ".SILENT"
		}
		before := r.d.maxModSeq
		r.model.tick()
		changed := r.model.store(targets, map[string]byte{"+": '+', "-": '-', "": '='}[sign], flags)
		if seq := s.v.seqOf(targets[0]); len(targets) == 1 && op.C%3 == 1 && seq != 0 {
			// By message number: the session's view maps it to the UID.
			r.cmd(s, fmt.Sprintf("STORE %d %s (%s)", seq, item, strings.Join(flags, " ")), "STORE", false)
		} else {
			r.cmd(s, fmt.Sprintf("UID STORE %s %s (%s)", uidList(targets), item, strings.Join(flags, " ")), "", false)
		}
		r.checkStored(s, targets, changed, silent, before)
	case "copy":
		src := r.pick(s, op.A, 1+op.B%2)
		if len(src) == 0 {
			return
		}
		r.model.tick()
		_, done := r.cmd(s, "UID COPY "+uidList(src)+" INBOX", "", false)
		f := strings.Fields(done.code)
		if done.status != "OK" || !r.d.check(propUIDsAscending, len(f) == 4 && f[0] == "COPYUID", s.name, "COPY → %s: no COPYUID", done) {
			return
		}
		from, to := expandSet(f[2]), expandSet(f[3])
		if !r.d.check(propUIDsAscending, len(from) == len(to) && len(to) == len(src), s.name, "COPY of %v → %s", src, done) {
			return
		}
		for i, u := range from {
			flags, _ := r.model.flagsOf(u)
			err := r.model.add(to[i], flags)
			r.d.check(propUIDsAscending, err == nil, s.name, "COPY: %v", err)
		}
	case "move":
		src := r.pick(s, op.A, 1)
		if len(src) == 0 {
			return
		}
		r.model.tick()
		r.model.remove(src)
		r.cmd(s, "UID MOVE "+uidList(src)+" Other", "", false)
	case "expunge":
		r.model.tick()
		r.model.remove(r.model.deleted())
		r.cmd(s, "EXPUNGE", "", false)
	case "fetch":
		if len(v.uids) == 0 {
			r.cmd(s, "NOOP", "", false)
			return
		}
		switch op.A % 3 {
		case 0:
			r.cmd(s, "FETCH 1:* (UID FLAGS)", "FETCH", false)
		case 1:
			r.cmd(s, fmt.Sprintf("UID FETCH %d:* (FLAGS)", 1+op.B), "", false)
		default:
			r.cmd(s, "FETCH 1:* (UID FLAGS MODSEQ)", "FETCH", true)
		}
	case "search":
		keys := []string{"ALL", "KEYWORD $Work", `UNSEEN`, "DELETED", "MODSEQ 1"}
		if !s.spec.Rev2 {
			keys = append(keys, "RECENT", "NEW", "OLD")
		}
		key := keys[op.A%len(keys)]
		if op.B%2 == 0 {
			r.cmd(s, "SEARCH "+key, "SEARCH", key == "MODSEQ 1")
		} else {
			r.cmd(s, "UID SEARCH "+key, "", key == "MODSEQ 1")
		}
	case "noop":
		r.cmd(s, "NOOP", "", false)
	case "idle":
		r.endIdle(s)
		r.idle(s)
	case "mark":
		r.markModSeq(s)
	case "changed":
		if !s.marked {
			r.markModSeq(s)
			return
		}
		r.cmd(s, "NOOP", "", false)
		untagged, done := r.cmd(s, fmt.Sprintf("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)", s.mark), "", true)
		if done.status != "OK" {
			return
		}
		var got []uint32
		for _, ev := range untagged {
			if a, ok := parseFetch(ev); ok && a.hasUID {
				got = append(got, a.uid)
			}
		}
		slices.Sort(got)
		got = slices.Compact(got)
		want := r.model.changedAfter(s.markStep)
		r.d.check(propModSeq, slices.Equal(got, want), s.name, "CHANGEDSINCE %d returned UIDs %v, changed since: %v", s.mark, got, want)
	}
}

// learnUIDs fetches the UIDs and flags of the session's messages, for
// actions that need a message the session knows.
func (r *dataRun) learnUIDs(s *dataSession) {
	if len(s.v.uids) == 0 {
		r.cmd(s, "NOOP", "", false)
		return
	}
	r.cmd(s, "UID FETCH 1:* (FLAGS)", "", false)
}

// markModSeq brings the session up to date and takes the highest MODSEQ of
// its messages as the mark for a later CHANGEDSINCE.
func (r *dataRun) markModSeq(s *dataSession) {
	r.cmd(s, "NOOP", "", false)
	untagged, done := r.cmd(s, "UID FETCH 1:* (MODSEQ)", "", true)
	if done.status != "OK" {
		return
	}
	var m uint64
	for _, ev := range untagged {
		if a, ok := parseFetch(ev); ok && a.hasMod {
			m = max(m, a.modseq)
		}
	}
	s.mark, s.markStep, s.marked = m, r.model.step, true
}

// converge ends IDLE, sends NOOP in every session and compares each view
// with the model: first what the session was told, then a full UID FETCH.
// \Recent must then be in exactly one rev1 session per message.
func (r *dataRun) converge() {
	for _, s := range r.sessions {
		r.cmd(s, "NOOP", "", false)
	}
	want := r.model.uids()
	recentIn := map[uint32][]string{}
	rev1 := 0
	for _, s := range r.sessions {
		v := s.v
		r.d.check(propConverge, len(v.uids) == len(want), s.name, "its EXISTS/EXPUNGE responses count %d messages, the mailbox has %d", len(v.uids), len(want))
		for i, u := range v.uids {
			if u != 0 && i < len(want) {
				r.d.check(propConverge, u == want[i], s.name, "message %d has UID %d, the model %d", i+1, u, want[i])
			}
			if f, told := v.flags[u]; told && u != 0 {
				mf, _ := r.model.flagsOf(u)
				r.d.check(propConverge, slices.Equal(f, mf), s.name, "UID %d: the session was told %s, the mailbox has %s", u, flagsKey(f), flagsKey(mf))
			}
		}
		v.flags = map[uint32][]string{}
		untagged, done := r.cmd(s, "UID FETCH 1:* (FLAGS)", "", false)
		if done.status != "OK" {
			continue
		}
		recent := map[uint32]bool{}
		for _, ev := range untagged {
			if a, ok := parseFetch(ev); ok && a.hasUID && slices.ContainsFunc(a.flags, func(f string) bool { return canonFlag(f) == `\Recent` }) {
				recent[a.uid] = true
				recentIn[a.uid] = append(recentIn[a.uid], s.name)
			}
		}
		r.d.check(propConverge, slices.Equal(v.uids, want), s.name, "UID FETCH 1:* gives UIDs %v, the mailbox has %v", v.uids, want)
		for _, u := range want {
			mf, _ := r.model.flagsOf(u)
			r.d.check(propConverge, slices.Equal(v.flags[u], mf), s.name, "UID %d has %s, the mailbox %s", u, flagsKey(v.flags[u]), flagsKey(mf))
		}
		if s.spec.Rev2 {
			continue
		}
		rev1++
		// The rev1 search keys agree with the FETCH FLAGS.
		var recentUIDs, newUIDs, oldUIDs []uint32
		for _, u := range want {
			f, _ := r.model.flagsOf(u)
			switch {
			case !recent[u]:
				oldUIDs = append(oldUIDs, u)
			case !slices.Contains(f, `\Seen`):
				newUIDs = append(newUIDs, u)
				recentUIDs = append(recentUIDs, u)
			default:
				recentUIDs = append(recentUIDs, u)
			}
		}
		for _, q := range []struct {
			key  string
			want []uint32
		}{{"RECENT", recentUIDs}, {"NEW", newUIDs}, {"OLD", oldUIDs}} {
			untagged, done = r.cmd(s, "UID SEARCH "+q.key, "", false)
			if done.status != "OK" {
				continue
			}
			var got []uint32
			for _, ev := range untagged {
				if nums, ok := searchNumbers(ev); ok {
					got = append(got, nums...)
				}
			}
			slices.Sort(got)
			r.d.checkAs(propRecentOnce, checkRev1Recent, slices.Equal(got, q.want), s.name, "UID SEARCH %s gives %v, FETCH FLAGS say %v", q.key, got, q.want)
		}
	}
	if rev1 > 0 {
		for _, u := range want {
			r.d.checkAs(propRecentOnce, checkRev1Recent, len(recentIn[u]) == 1, "all", "UID %d is \\Recent in %v, want exactly one IMAP4rev1 session", u, recentIn[u])
		}
	}
}

// runData runs one case against a new server and returns its checker.
func runData(t testing.TB, factory WireFactory, c dataCase) (*dataChecker, []string) {
	target, err := factory(fsm.NewModes(fsm.Lenient))
	require.NoError(t, err)
	r := &dataRun{d: newDataChecker(), model: &mailboxModel{}}
	defer func() {
		for _, s := range r.sessions {
			s.c.close()
		}
		if err := target.Close(); err != nil {
			r.d.violate(propConverge, "server", "%v", err)
		}
	}()
	open := func(name string, spec dataSpec) *dataSession {
		cl, err := dialWireClient(target, wireTimeout)
		require.NoError(t, err)
		s := &dataSession{spec: spec, c: cl, name: name, v: newSessionView(name, spec.Rev2, r.d)}
		r.cmd(s, "LOGIN "+WireUser+" "+WirePassword, "", false)
		return s
	}
	// A setup session creates the target of MOVE and two messages, before
	// the sessions select INBOX.
	setup := open("S0.", dataSpec{})
	r.cmd(setup, "CREATE Other", "", false)
	r.appendMessage(setup, -1, []string{`\Seen`, "$Seed"})
	r.appendMessage(setup, -2, nil)
	r.cmd(setup, "LOGOUT", "", false)
	setup.c.close()
	for i, spec := range c.Sessions {
		s := open(fmt.Sprintf("S%d.", i+1), spec)
		r.sessions = append(r.sessions, s)
		if spec.Rev2 {
			r.cmd(s, "ENABLE IMAP4rev2", "", false)
		}
		sel := "SELECT INBOX"
		switch spec.Condstore {
		case 1:
			r.cmd(s, "ENABLE CONDSTORE", "", false)
			s.v.condstore = true
		case 2:
			sel += " (CONDSTORE)"
			s.v.condstore = true
		}
		r.cmd(s, sel, "", false)
		if s.v.condstore {
			r.markModSeq(s)
		}
	}
	for k, op := range c.Ops {
		r.step(k, op)
	}
	r.converge()
	return r.d, r.log
}

// commandName names a command line for the report: "UID FETCH
// CHANGEDSINCE", "STORE", ...
func commandName(line string) string {
	f := strings.Fields(strings.ToUpper(line))
	if len(f) < 2 {
		return strings.ToUpper(line)
	}
	name := f[0]
	if name == "UID" {
		name += " " + f[1]
	}
	if strings.Contains(line, "CHANGEDSINCE") {
		name += " CHANGEDSINCE"
	}
	return name
}

// dataTotals adds up the checks and commands of many runs.
type dataTotals struct {
	checks   map[dataProperty]int
	commands map[string]int
}

func newDataTotals() dataTotals {
	return dataTotals{checks: map[dataProperty]int{}, commands: map[string]int{}}
}

func (t dataTotals) add(d *dataChecker) {
	for p, n := range d.checks {
		t.checks[p] += n
	}
	for c, n := range d.commands {
		t.commands[c] += n
	}
}

func (t dataTotals) String() string {
	var b strings.Builder
	for _, p := range dataProperties {
		fmt.Fprintf(&b, "\n  %-16s %7d checks", p, t.checks[p])
	}
	b.WriteString("\ncommands:")
	for i, c := range slices.Sorted(maps.Keys(t.commands)) {
		if i%6 == 0 {
			b.WriteString("\n ")
		}
		fmt.Fprintf(&b, " %s %d,", c, t.commands[c])
	}
	return strings.TrimSuffix(b.String(), ",")
}

// dataResult is the outcome of a data property run.
type dataResult struct {
	passed bool
	// failed holds the properties the shrunk case broke, with its
	// violations and log.
	failed     map[dataProperty]bool
	shrunk     dataCase
	violations []dataViolation
	log        []string
	totals     dataTotals
	runs       int
	// pending counts the violations of pending checks (not counted as
	// failures), with the first one of each.
	pending      map[string]int
	firstPending map[string]string
}

// checkData runs cases random cases from seed against factory; a run fails
// when it breaks a property of want.
func checkData(t testing.TB, factory WireFactory, seed int64, cases, maxShrinks int, want func(dataViolation) bool) dataResult {
	p := params(seed, cases)
	p.MinSize, p.MaxSize = 8, 40
	p.MaxShrinkCount = maxShrinks
	res := dataResult{totals: newDataTotals(), pending: map[string]int{}, firstPending: map[string]string{}}
	result := prop.ForAll(func(c dataCase) *gopter.PropResult {
		d, log := runData(t, factory, c)
		res.totals.add(d)
		res.runs++
		var bad []dataViolation
		for _, v := range d.violations {
			if want(v) {
				bad = append(bad, v)
			} else if res.pending[v.check]++; res.firstPending[v.check] == "" {
				res.firstPending[v.check] = v.String()
			}
		}
		if len(bad) == 0 {
			return &gopter.PropResult{Status: gopter.PropTrue}
		}
		res.shrunk, res.violations, res.log = c, bad, log
		return &gopter.PropResult{Status: gopter.PropFalse}
	}, genDataCase()).Check(p)
	res.passed = result.Passed()
	res.failed = map[dataProperty]bool{}
	for _, v := range res.violations {
		res.failed[v.prop] = true
	}
	return res
}

func (r dataResult) report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "shrunk case: %s\nviolations:", r.shrunk)
	for i, v := range r.violations {
		if i == 12 {
			fmt.Fprintf(&b, "\n  ... %d more", len(r.violations)-i)
			break
		}
		b.WriteString("\n  " + v.String())
	}
	b.WriteString("\nlog:\n  " + strings.Join(r.log, "\n  "))
	return b.String()
}

// dataPending names the checks (see checkAs) that wait for a server fix,
// with the fix: their violations are reported in the log but do not fail
// the test, and a subtest per check is skipped naming the fix.
var dataPending = map[string]string{}

// notPending reports whether a violation counts.
func notPending(v dataViolation) bool { return dataPending[v.check] == "" }

// TestMailboxDataProperties drives two to four sessions, IMAP4rev1 and
// IMAP4rev2, with and without CONDSTORE, on one INBOX with random APPEND,
// STORE (new keywords included), COPY, MOVE, EXPUNGE, FETCH, SEARCH, NOOP,
// IDLE and CHANGEDSINCE fetches, checking every response each session
// receives against its view and the mailbox model (the data properties,
// one subtest each).
func TestMailboxDataProperties(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	s := loadSettings(t)
	cases := 60
	if s.long {
		cases *= longFactor
	}
	start := time.Now()
	res := checkData(t, liveFactory(t, nil), s.seed, cases, wireMaxShrinks, notPending)
	t.Logf("seed %d: %d data runs in %v; checks per property:%s", s.seed, res.runs, time.Since(start).Round(time.Millisecond), res.totals)
	for _, p := range dataProperties {
		t.Run(string(p), func(t *testing.T) {
			assert.False(t, res.failed[p], "%s falsified (seed %d; rerun with -seed %d)\n%s", p, s.seed, s.seed, res.report())
			assert.Positive(t, res.totals.checks[p], "%s made no check", p)
		})
	}
	for _, id := range slices.Sorted(maps.Keys(dataPending)) {
		t.Run("pending/"+id, func(t *testing.T) {
			t.Skipf("check %s is off until the server has the fix: %s (%d violations in this run; first: %s)", id, dataPending[id], res.pending[id], res.firstPending[id])
		})
	}
}
