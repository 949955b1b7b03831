package proptest

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leanovate/gopter"
	"github.com/leanovate/gopter/gen"
	"github.com/leanovate/gopter/prop"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/imapfsm/imapfsm/fsm"
)

// msOp is one action of one session in a multi-session run.
type msOp struct {
	Session int
	// Kind is append, store, expunge, idle, done or noop.
	Kind string
	// Arg varies the action: the flag to store, the message number.
	Arg int
}

func (o msOp) String() string { return fmt.Sprintf("S%d %s %d", o.Session+1, o.Kind, o.Arg) }

// msCase is a multi-session run: how many sessions share INBOX, and their
// actions in order.
//
// With Notify the sessions set NOTIFY (RFC 5465) after SELECT: the first
// SELECTED-DELAYED with FlagChange and MessageNew fetch attributes, the
// second SELECTED-DELAYED, a third none (SELECTED, which may renumber
// messages between commands, is not drawn: the ops address messages by
// sequence number); and a watcher session that selects nothing asks for
// INBOX's message events (INBOXES).
type msCase struct {
	Sessions int
	Notify   bool
	Ops      []msOp
}

func (c msCase) String() string {
	parts := make([]string, len(c.Ops))
	for i, o := range c.Ops {
		parts[i] = o.String()
	}
	notify := ""
	if c.Notify {
		notify = " with NOTIFY"
	}
	return fmt.Sprintf("%d sessions%s: %s", c.Sessions, notify, strings.Join(parts, "; "))
}

// msNotify are the NOTIFY sets of the sessions of a case with Notify.
var msNotify = []string{
	"NOTIFY SET (selected-delayed (MessageNew (UID FLAGS) MessageExpunge FlagChange))",
	"NOTIFY SET (selected-delayed (MessageNew MessageExpunge))",
	"",
}

// inboxStatus reads the MESSAGES count of a STATUS response for INBOX.
var inboxStatus = regexp.MustCompile(`^\* STATUS "?INBOX"? \(MESSAGES (\d+) `)

var msKinds = []string{"append", "append", "store", "store", "expunge", "idle", "idle", "done", "noop"}

func genMSCase() gopter.Gen {
	op := gopter.CombineGens(gen.IntRange(0, 2), gen.IntRange(0, len(msKinds)-1), gen.IntRange(0, 7)).Map(func(v []any) msOp {
		return msOp{Session: v[0].(int), Kind: msKinds[v[1].(int)], Arg: v[2].(int)}
	})
	return gopter.CombineGens(gen.IntRange(2, 3), gen.Bool(), gen.SliceOf(op)).Map(func(v []any) msCase {
		n := v[0].(int)
		ops := v[2].([]msOp)
		for i := range ops {
			ops[i].Session %= n
		}
		return msCase{Sessions: n, Notify: v[1].(bool), Ops: ops}
	})
}

// msSession is one client of a multi-session run with its own view of the
// mailbox: the message count its EXISTS and EXPUNGE responses imply.
type msSession struct {
	c      *wireClient
	name   string
	count  uint32
	idling bool
	tag    int
	errs   []string
	log    []string
}

func (s *msSession) failf(format string, args ...any) {
	s.errs = append(s.errs, s.name+": "+fmt.Sprintf(format, args...))
}

// absorb applies untagged responses to the session's view, checking that
// EXPUNGE names an existing message and that EXISTS only shrinks by
// EXPUNGE.
func (s *msSession) absorb(evs []wireEvent) {
	for _, ev := range evs {
		n, kind, ok := untaggedCount(ev)
		if !ok {
			if seq, _, _, _, isFetch := fetchItems(ev); isFetch && (seq == 0 || seq > s.count) {
				s.failf("%q names message %d of %d", ev.line, seq, s.count)
			}
			continue
		}
		switch kind {
		case "EXISTS":
			if n < s.count {
				s.failf("%q after %d messages: EXISTS shrank without EXPUNGE", ev.line, s.count)
			}
			s.count = n
		case "EXPUNGE":
			if n == 0 || n > s.count {
				s.failf("%q, but the session knows %d messages", ev.line, s.count)
			} else {
				s.count--
			}
		}
	}
}

// cmd runs one command and absorbs its untagged responses.
func (s *msSession) cmd(line string) wireEvent {
	s.tag++
	full := fmt.Sprintf("%s%d %s", s.name, s.tag, line)
	untagged, done := s.c.cmd(full)
	s.absorb(untagged)
	s.log = append(s.log, full+" → "+done.String())
	if done.status != "OK" {
		s.failf("%s → %s", full, done.String())
	}
	return done
}

// done ends IDLE, absorbing what was pushed meanwhile.
func (s *msSession) done() {
	if !s.idling {
		return
	}
	s.idling = false
	if err := s.c.send("DONE\r\n"); err != nil {
		s.failf("DONE: %v", err)
		return
	}
	untagged, done := s.c.until(fmt.Sprintf("%s%d", s.name, s.tag))
	s.absorb(untagged)
	if done.status != "OK" {
		s.failf("DONE → %s", done.String())
	}
}

// runMultiSession runs one case and returns what went wrong.
func runMultiSession(t testing.TB, factory WireFactory, c msCase) []string {
	target, err := factory(fsm.NewModes(fsm.Lenient))
	require.NoError(t, err)
	var sessions []*msSession
	var errs []string
	defer func() {
		for _, s := range sessions {
			s.c.close()
		}
	}()
	for i := 0; i < c.Sessions; i++ {
		cl, err := dialWireClient(target, wireTimeout)
		require.NoError(t, err)
		s := &msSession{c: cl, name: fmt.Sprintf("S%d.", i+1)}
		sessions = append(sessions, s)
		s.cmd("LOGIN " + WireUser + " " + WirePassword)
		s.cmd("SELECT INBOX")
		if c.Notify && msNotify[i] != "" {
			s.cmd(msNotify[i])
		}
	}
	var watcher *msSession
	if c.Notify {
		cl, err := dialWireClient(target, wireTimeout)
		require.NoError(t, err)
		watcher = &msSession{c: cl, name: "W."}
		defer func() {
			if watcher != nil {
				watcher.c.close()
			}
		}()
		watcher.cmd("LOGIN " + WireUser + " " + WirePassword)
		watcher.cmd("NOTIFY SET (inboxes (MessageNew MessageExpunge))")
	}
	body := func(k int) string {
		return fmt.Sprintf("Subject: message %d\r\n\r\nbody %d\r\n", k, k)
	}
	flags := []string{`\Seen`, `\Flagged`, `\Deleted`, `$Work`}
	for k, op := range c.Ops {
		s := sessions[op.Session]
		if op.Kind != "idle" {
			s.done()
		}
		switch op.Kind {
		case "append":
			msg := body(k)
			s.cmd(fmt.Sprintf("APPEND INBOX {%d+}\r\n%s", len(msg), msg))
		case "store":
			if s.count == 0 {
				s.cmd("NOOP")
				break
			}
			sign := "+"
			if op.Arg%3 == 2 {
				sign = "-"
			}
			s.cmd(fmt.Sprintf("STORE %d %sFLAGS (%s)", uint32(op.Arg)%s.count+1, sign, flags[op.Arg%len(flags)]))
		case "expunge":
			s.cmd("EXPUNGE")
		case "idle":
			if s.idling {
				break
			}
			s.tag++
			if err := s.c.send(fmt.Sprintf("%s%d IDLE\r\n", s.name, s.tag)); err != nil {
				s.failf("IDLE: %v", err)
				break
			}
			untagged, cont := s.c.until("+")
			s.absorb(untagged)
			if !cont.continuation() {
				s.failf("IDLE → %s", cont.String())
				break
			}
			s.idling = true
		case "noop":
			s.cmd("NOOP")
		}
	}
	// Converge: end IDLE, NOOP everywhere, then compare the views.
	for _, s := range sessions {
		s.done()
		s.cmd("NOOP")
	}
	type msg struct {
		uid   uint32
		flags string
	}
	views := make([][]msg, len(sessions))
	for i, s := range sessions {
		s.tag++
		untagged, done := s.c.cmd(fmt.Sprintf("%s%d UID FETCH 1:* (FLAGS)", s.name, s.tag))
		if done.status != "OK" {
			s.failf("UID FETCH → %s", done.String())
			continue
		}
		for _, ev := range untagged {
			seq, uid, fl, _, ok := fetchItems(ev)
			if !ok {
				s.absorb([]wireEvent{ev})
				continue
			}
			if int(seq) != len(views[i])+1 {
				s.failf("%q: expected message %d", ev.line, len(views[i])+1)
			}
			if n := len(views[i]); n > 0 && uid <= views[i][n-1].uid {
				s.failf("%q: UIDs not ascending", ev.line)
			}
			fl = slices.DeleteFunc(fl, func(f string) bool { return strings.EqualFold(f, `\Recent`) })
			slices.Sort(fl)
			views[i] = append(views[i], msg{uid: uid, flags: strings.Join(fl, " ")})
		}
		if uint32(len(views[i])) != s.count {
			s.failf("its EXISTS/EXPUNGE responses count %d messages, UID FETCH 1:* returns %d", s.count, len(views[i]))
		}
	}
	for i := 1; i < len(views); i++ {
		if !slices.Equal(views[0], views[i]) {
			errs = append(errs, fmt.Sprintf("S1 sees %v, S%d sees %v", views[0], i+1, views[i]))
		}
	}
	if watcher != nil {
		// The watcher's last STATUS for INBOX, pushed between commands,
		// counts the messages every session converged to. Two NOOPs:
		// what was queued while the first ran comes before the second's
		// completion.
		last := 0
		for range 2 {
			watcher.tag++
			untagged, done := watcher.c.cmd(fmt.Sprintf("W.%d NOOP", watcher.tag))
			if done.status != "OK" {
				watcher.failf("NOOP → %s", done.String())
			}
			for _, ev := range untagged {
				if m := inboxStatus.FindStringSubmatch(ev.line); m != nil {
					last, _ = strconv.Atoi(m[1])
				}
			}
		}
		if last != len(views[0]) {
			watcher.failf("its last STATUS INBOX counts %d messages, the sessions see %d", last, len(views[0]))
		}
		errs = append(errs, watcher.errs...)
		watcher.c.close()
		watcher = nil
	}
	for _, s := range sessions {
		errs = append(errs, s.errs...)
	}
	for _, s := range sessions {
		s.c.close()
	}
	sessions = nil
	if err := target.Close(); err != nil {
		errs = append(errs, fmt.Sprintf("%s: %v", ServerSound, err))
	}
	return errs
}

// TestMultiSessionConvergence runs two or three sessions on one INBOX with
// random APPEND, STORE, EXPUNGE and IDLE; after DONE for the idlers and a
// NOOP on each, every session must see the same UIDs and flags (UID FETCH
// 1:* (FLAGS)), and each session's EXISTS/EXPUNGE stream must be consistent
// with its own sequence numbering.
func TestMultiSessionConvergence(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	s := loadSettings(t)
	cases := 40
	if s.long {
		cases *= longFactor
	}
	factory := liveFactory(t, nil)
	p := params(s.seed, cases)
	p.MaxSize = 25
	p.MaxShrinkCount = wireMaxShrinks
	var last []string
	var lastCase msCase
	start := time.Now()
	result := prop.ForAll(func(c msCase) *gopter.PropResult {
		errs := runMultiSession(t, factory, c)
		if len(errs) == 0 {
			return &gopter.PropResult{Status: gopter.PropTrue}
		}
		last, lastCase = errs, c
		return &gopter.PropResult{Status: gopter.PropFalse, Labels: errs}
	}, genMSCase()).Check(p)
	if !result.Passed() {
		t.Errorf("%s falsified (seed %d; rerun with -seed %d). Shrunk case: %s\n%s", SessionsAgree, s.seed, s.seed, lastCase, strings.Join(last, "\n"))
		return
	}
	t.Logf("seed %d: %d multi-session runs agree (%v)", s.seed, result.Succeeded, time.Since(start).Round(time.Millisecond))
}

// dropStatus is a mutant server that never delivers STATUS responses.
type dropStatus struct{}

func (dropStatus) rewrite(ev wireEvent, raw string) []string {
	if strings.HasPrefix(ev.line, "* STATUS ") {
		return nil
	}
	return []string{raw}
}

func (dropStatus) flush() []string { return nil }

// TestMultiSessionNotifyMutantIsCaught: the NOTIFY part of sessions-agree
// can fail: a server whose STATUS notifications never arrive leaves the
// watcher with a wrong count, and a server that sends them passes.
func TestMultiSessionNotifyMutantIsCaught(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	c := msCase{Sessions: 2, Notify: true, Ops: []msOp{
		{Session: 0, Kind: "append"}, {Session: 1, Kind: "append"}, {Session: 1, Kind: "idle"},
		{Session: 0, Kind: "store", Arg: 6}, {Session: 0, Kind: "expunge"},
	}}
	errs := runMultiSession(t, liveFactory(t, func() responseFilter { return dropStatus{} }), c)
	require.NotEmpty(t, errs)
	require.Contains(t, strings.Join(errs, "\n"), "last STATUS INBOX counts 0 messages, the sessions see 1")
	require.Empty(t, runMultiSession(t, liveFactory(t, nil), c))
}
