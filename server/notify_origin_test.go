package server

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/store"
)

// holdingNotifier is the store's notifier with a hook that interleaves
// sessions deterministically: the first notification that pick selects is
// held in the goroutine publishing it (the command whose change it
// announces is still running) until the test releases it. rewrite, when
// set, changes every notification before it is published (mutants); it is
// told the held notification, if one is held.
type holdingNotifier struct {
	*store.LocalNotifier
	mu      sync.Mutex
	pick    func(store.Notification) bool
	held    *store.Notification
	reached chan store.Notification
	release chan struct{}
	rewrite func(held *store.Notification, n store.Notification) store.Notification
}

func newHoldingNotifier() *holdingNotifier {
	return &holdingNotifier{LocalNotifier: store.NewLocalNotifier()}
}

// Publish implements store.Notifier.
func (h *holdingNotifier) Publish(n store.Notification) {
	h.mu.Lock()
	hold := h.pick != nil && h.pick(n)
	reached, release := h.reached, h.release
	if hold {
		h.pick = nil
		h.held = &n
	}
	h.mu.Unlock()
	if hold {
		reached <- n
		<-release
		h.mu.Lock()
		h.held = nil
		h.mu.Unlock()
	}
	h.mu.Lock()
	if h.rewrite != nil {
		n = h.rewrite(h.held, n)
	}
	h.mu.Unlock()
	h.LocalNotifier.Publish(n)
}

// hold arms the hook for the next notification pick selects. wait blocks
// until that notification is held and returns it; release lets it go.
func (h *holdingNotifier) hold(t *testing.T, pick func(store.Notification) bool) (wait func() store.Notification, release func()) {
	reached, rel := make(chan store.Notification, 1), make(chan struct{})
	h.mu.Lock()
	h.pick, h.reached, h.release = pick, reached, rel
	h.mu.Unlock()
	var once sync.Once
	release = func() { once.Do(func() { close(rel) }) }
	t.Cleanup(release)
	return func() store.Notification {
		t.Helper()
		select {
		case n := <-reached:
			return n
		case <-time.After(5 * time.Second):
			t.Fatal("the change to hold was never published")
			return store.Notification{}
		}
	}, release
}

// blameHeld is the mutant of a filter that takes what happens while the
// session's own command runs for the session's own (the time window this
// replaced): while a notification is held, every other is stamped with its
// origin.
func blameHeld(held *store.Notification, n store.Notification) store.Notification {
	if held != nil {
		n.Origin = held.Origin
	}
	return n
}

// mailboxIDOf returns the ID of the demo account's mailbox name.
func (ts *testServer) mailboxIDOf(t testing.TB, name string) store.MailboxID {
	t.Helper()
	u, err := ts.cfg.Store.OpenUser(context.Background(), "demo")
	require.NoError(t, err)
	mi, err := u.Mailbox(context.Background(), name)
	require.NoError(t, err)
	return mi.ID
}

// settle returns the untagged responses the session gets until two NOOPs
// complete: notifications queued before the first are delivered by then
// (the engine delivers them before it reads each command).
func (c *client) settle(tag string) []string {
	c.t.Helper()
	return append(c.okReading(tag+"a", "NOOP"), c.okReading(tag+"b", "NOOP")...)
}

// okReading is ok for a command sent while the server may be writing
// notifications: the pipe has no buffer, so the command is written while
// the responses are read.
func (c *client) okReading(tag, command string) []string {
	c.t.Helper()
	sent := make(chan error, 1)
	go func() {
		c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_, err := io.WriteString(c.nc, tag+" "+command+"\r\n")
		sent <- err
	}()
	u, done := c.until(tag)
	require.NoError(c.t, <-sent)
	require.True(c.t, strings.HasPrefix(done, tag+" OK"), "%s %s -> %s", tag, command, done)
	return u
}

// appendCommand is an APPEND of a small message to mailbox, with a
// non-synchronising literal.
func appendCommand(mailbox string) string {
	msg := "Subject: mine\r\nFrom: a@example.org\r\n\r\nbody\r\n"
	return fmt.Sprintf("APPEND %s {%d+}\r\n%s", mailbox, len(msg), msg)
}

// originScenario is one session's command (own) during which another
// session makes a change (other) that must be notified (want).
type originScenario struct {
	name  string
	setup func(a, b *client)
	// pick selects the notification of own's change that is held
	// while other runs.
	pick  func(ts *testServer) func(store.Notification) bool
	own   string
	other func(b *client)
	want  string // a regular expression one untagged response matches
	never string // one no untagged response may contain
}

var originScenarios = []originScenario{{
	name: "COPY while another session appends elsewhere",
	setup: func(a, b *client) {
		b.appendTo("B0", "INBOX")
		a.ok("S1", "SELECT INBOX")
		a.ok("N1", "NOTIFY SET (personal (MessageNew MessageExpunge MailboxName))")
	},
	pick:  messagesOf("Archive"),
	own:   "COPY 1 Archive",
	other: func(b *client) { b.appendTo("B1", "Drafts") },
	want:  `^\* STATUS Drafts \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+\)$`,
	never: "STATUS Archive",
}, {
	name: "COPY while another session appends to the same mailbox",
	setup: func(a, b *client) {
		b.appendTo("B0", "INBOX")
		a.ok("S1", "SELECT INBOX")
		a.ok("N1", "NOTIFY SET (personal (MessageNew MessageExpunge))")
	},
	pick:  messagesOf("Archive"),
	own:   "COPY 1 Archive",
	other: func(b *client) { b.appendTo("B1", "Archive") },
	// The STATUS includes the session's own message: harmless.
	want: `^\* STATUS Archive \(MESSAGES 2 UIDNEXT 3 UIDVALIDITY \d+\)$`,
}, {
	name: "APPEND while another session changes flags elsewhere",
	setup: func(a, b *client) {
		b.appendTo("B0", "Drafts")
		b.ok("B2", "SELECT Drafts")
		a.ok("E2", "ENABLE CONDSTORE")
		a.ok("N1", "NOTIFY SET (personal (MessageNew MessageExpunge FlagChange))")
	},
	pick:  messagesOf("Archive"),
	own:   appendCommand("Archive"),
	other: func(b *client) { b.ok("B3", `STORE 1 +FLAGS.SILENT (\Flagged)`) },
	want:  `^\* STATUS Drafts \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ HIGHESTMODSEQ \d+\)$`,
	never: "STATUS Archive",
}, {
	name: "CREATE while another session creates a mailbox",
	setup: func(a, b *client) {
		a.ok("N1", "NOTIFY SET (personal (MailboxName))")
	},
	pick: func(*testServer) func(store.Notification) bool {
		return func(n store.Notification) bool { return n.Event == store.MailboxCreated && n.Name == "Mine" }
	},
	own:   "CREATE Mine",
	other: func(b *client) { b.ok("B1", "CREATE Theirs") },
	want:  `^\* LIST \(\\HasNoChildren\) "/" Theirs$`,
	never: `"/" Mine`,
}}

// messagesOf picks the message notifications of the named mailbox.
func messagesOf(name string) func(ts *testServer) func(store.Notification) bool {
	return func(ts *testServer) func(store.Notification) bool {
		id := ts.mailboxIDOf(ts.t, name)
		return func(n store.Notification) bool { return n.Event == 0 && n.Mailbox == id }
	}
}

// runOriginScenario runs sc, with the notifier rewriting notifications
// when rewrite is set, and returns the untagged responses the watching
// session got after its command.
func runOriginScenario(t *testing.T, sc originScenario, rewrite func(*store.Notification, store.Notification) store.Notification) []string {
	hn := newHoldingNotifier()
	hn.rewrite = rewrite
	ts := newTestServerNotifying(t, hn)
	a, b := ts.dial(), ts.dial()
	for _, c := range []*client{a, b} {
		c.login()
		c.ok("E1", "ENABLE IMAP4rev2")
	}
	sc.setup(a, b)
	wait, release := hn.hold(t, sc.pick(ts))
	a.send("O1 " + sc.own + "\r\n")
	held := wait()
	require.NotZero(t, held.Origin, "the session's change carries its origin")
	sc.other(b) // runs to completion while the session's command waits
	release()
	got, done := a.until("O1")
	require.True(t, strings.HasPrefix(done, "O1 OK"), done)
	return append(got, a.settle("P")...)
}

// TestNotifyOthersChangeDuringOwnCommand: another session's change made
// while the session's own COPY, APPEND or CREATE runs is notified, of the
// same kind and of the same mailbox too (RFC 5465 5 asks to leave out only
// the events the client caused itself); the session's own change is not.
// With the mutant that takes what happens during the command for the
// session's own (the time window notifications used to be filtered
// with), the other session's change is lost: the test catches it.
func TestNotifyOthersChangeDuringOwnCommand(t *testing.T) {
	for _, sc := range originScenarios {
		t.Run(sc.name, func(t *testing.T) {
			got := runOriginScenario(t, sc, nil)
			assert.True(t, anyMatch(sc.want, got), "want %s in %q", sc.want, got)
			if sc.never != "" {
				for _, l := range got {
					assert.NotContains(t, l, sc.never, "the session's own change is not notified")
				}
			}
		})
		t.Run(sc.name+"/mutant", func(t *testing.T) {
			got := runOriginScenario(t, sc, blameHeld)
			assert.False(t, anyMatch(sc.want, got), "the mutant loses the change, got %q", got)
		})
	}
}

func anyMatch(re string, lines []string) bool {
	r := regexp.MustCompile(re)
	for _, l := range lines {
		if r.MatchString(l) {
			return true
		}
	}
	return false
}

// TestNotifyOthersChangeAnnouncedLate: another session's change committed
// before the session's own change of the same mailbox, but announced only
// after the session took that mailbox's status silently (its own change is
// not reported), is still reported, although the status did not change
// since: the silent status included it, and the client was never told.
// The mutant announces the other's change as if it came after the silent
// status (a later HIGHESTMODSEQ); then nothing is reported and the test
// catches it.
func TestNotifyOthersChangeAnnouncedLate(t *testing.T) {
	run := func(t *testing.T, mutant bool) []string {
		hn := newHoldingNotifier()
		if mutant {
			hn.rewrite = func(_ *store.Notification, n store.Notification) store.Notification {
				if n.HighestModSeq != 0 {
					n.HighestModSeq += 1000
				}
				return n
			}
		}
		ts := newTestServerNotifying(t, hn)
		a, b := ts.dial(), ts.dial()
		for _, c := range []*client{a, b} {
			c.login()
			c.ok("E1", "ENABLE IMAP4rev2")
		}
		b.appendTo("B0", "INBOX")
		a.ok("S1", "SELECT INBOX")
		a.ok("N1", "NOTIFY SET (personal (MessageNew MessageExpunge))")
		wait, release := hn.hold(t, messagesOf("Archive")(ts))
		b.send("B1 " + appendCommand("Archive") + "\r\n")
		wait() // committed, not yet announced
		a.ok("C1", "COPY 1 Archive")
		got := a.settle("P") // the own change's status is taken silently
		release()
		_, done := b.until("B1")
		require.True(t, strings.HasPrefix(done, "B1 OK"), done)
		return append(got, a.settle("Q")...)
	}
	want := `^\* STATUS Archive \(MESSAGES 2 UIDNEXT 3 UIDVALIDITY \d+\)$`
	got := run(t, false)
	assert.True(t, anyMatch(want, got), "want %s in %q", want, got)
	assert.Len(t, got, 1)
	got = run(t, true)
	assert.False(t, anyMatch(want, got), "the mutant loses the change, got %q", got)
}

// TestNotifyOwnChangesByOrigin: what keeps the session's own changes from
// being notified back is their origin: with the mutant that strips it
// from every notification, the session's own CREATE and APPEND are
// notified to it.
func TestNotifyOwnChangesByOrigin(t *testing.T) {
	run := func(t *testing.T, mutant bool) []string {
		hn := newHoldingNotifier()
		if mutant {
			hn.rewrite = func(_ *store.Notification, n store.Notification) store.Notification {
				n.Origin = 0
				return n
			}
		}
		ts := newTestServerNotifying(t, hn)
		a := ts.dial()
		a.login()
		a.ok("E1", "ENABLE IMAP4rev2")
		a.ok("N1", "NOTIFY SET (personal (MessageNew MessageExpunge MailboxName))")
		got := a.ok("C1", "CREATE Mine")
		got = append(got, a.okReading("A1", appendCommand("Mine"))...)
		return append(got, a.settle("P")...)
	}
	assert.Empty(t, run(t, false))
	got := run(t, true)
	assert.True(t, anyMatch(`^\* LIST \(\\HasNoChildren\) "/" Mine$`, got), "%q", got)
	assert.True(t, anyMatch(`^\* STATUS Mine \(MESSAGES 1 `, got), "%q", got)
}

// newMessageFetchSet is a NOTIFY SET whose MessageNew asks for fetch
// attributes of new messages in the selected mailbox.
const newMessageFetchSet = "NOTIFY SET (selected (MessageNew (FLAGS RFC822.SIZE) MessageExpunge))"

// newMessageFetch matches the FETCH that newMessageFetchSet asks for of
// the message with sequence number and UID n.
func newMessageFetch(n int) string {
	return fmt.Sprintf(`^\* %d FETCH \(UID %d FLAGS \(\) RFC822\.SIZE \d+\)$`, n, n)
}

// notifyFetchPair returns two logged-in IMAP4rev2 sessions of a server
// whose notifier holds what the test picks: a selected INBOX with
// newMessageFetchSet, b changes.
func notifyFetchPair(t *testing.T, mutate ...func(*Config)) (ts *testServer, hn *holdingNotifier, a, b *client) {
	hn = newHoldingNotifier()
	ts = newTestServerNotifying(t, hn, mutate...)
	a, b = ts.dial(), ts.dial()
	for _, c := range []*client{a, b} {
		c.login()
		c.ok("E1", "ENABLE IMAP4rev2")
	}
	a.ok("S1", "SELECT INBOX")
	a.ok("N1", newMessageFetchSet)
	// Caught up through the hub: the session pushes no catch-up of its
	// own (a view new to the hub does) that could announce b's changes.
	require.Empty(t, a.ok("P0", "NOOP"))
	return ts, hn, a, b
}

// othersAppendHeld has b append to INBOX with the notification of it held,
// so that no push announces it: the next command of a that catches up
// does. The returned function releases the notification and waits for
// b's APPEND to complete.
func othersAppendHeld(t *testing.T, ts *testServer, hn *holdingNotifier, b *client) (finish func()) {
	wait, release := hn.hold(t, messagesOf("INBOX")(ts))
	b.send("B1 " + appendCommand("INBOX") + "\r\n")
	wait() // committed, not yet announced
	return func() {
		release()
		_, done := b.until("B1")
		require.True(t, strings.HasPrefix(done, "B1 OK"), done)
	}
}

// TestNotifyNewMessageFetchDuringCommand: another session's new message
// in the selected mailbox that a command (NOOP) announces gets, after its
// EXISTS, the FETCH with the attributes MessageNew asked for (RFC 5465
// 5.2), not only when a push between commands announces it; it is
// announced once.
func TestNotifyNewMessageFetchDuringCommand(t *testing.T) {
	ts, hn, a, b := notifyFetchPair(t)
	finish := othersAppendHeld(t, ts, hn, b)
	got := a.ok("P1", "NOOP")
	require.Len(t, got, 2, "%q", got)
	assert.Equal(t, "* 1 EXISTS", got[0])
	assert.Regexp(t, newMessageFetch(1), got[1])
	finish()
	assert.Empty(t, a.settle("Q"))
}

// TestNotifyNewMessageFetchStartingIdle: another session's new message
// that IDLE announces when it starts gets the MessageNew FETCH too, and so
// does one pushed while the session idles.
func TestNotifyNewMessageFetchStartingIdle(t *testing.T) {
	ts, hn, a, b := notifyFetchPair(t)
	finish := othersAppendHeld(t, ts, hn, b)
	a.send("I1 IDLE\r\n")
	assert.Equal(t, "* 1 EXISTS", a.line())
	assert.Regexp(t, newMessageFetch(1), a.line())
	require.True(t, strings.HasPrefix(a.line(), "+ "))
	finish()
	b.appendTo("B2", "INBOX")
	assert.Equal(t, "* 2 EXISTS", a.line())
	assert.Regexp(t, newMessageFetch(2), a.line())
	a.send("DONE\r\n")
	got, done := a.until("I1")
	assert.Empty(t, got)
	assert.Equal(t, "I1 OK IDLE terminated", done)
}

// ownUIDLiar is the mutant of a session that cannot tell its own new
// messages: the store reports other UIDs for what APPEND and COPY add.
type ownUIDLiar struct{ store.User }

func (u ownUIDLiar) Append(ctx context.Context, mailbox string, msg store.NewMessage) (store.AppendResult, error) {
	r, err := u.User.Append(ctx, mailbox, msg)
	r.UID += 1000
	return r, err
}

func (u ownUIDLiar) Copy(ctx context.Context, src store.MailboxID, uids store.UIDSet, dest string) (store.CopyResult, error) {
	r, err := u.User.Copy(ctx, src, uids, dest)
	for i := range r.DestUIDs {
		r.DestUIDs[i] += 1000
	}
	return r, err
}

// TestNotifyOwnNewMessagesNoFetch: the session's own APPEND, COPY and
// REPLACE into the selected mailbox get EXISTS but no MessageNew FETCH
// (RFC 5465 5.2: the client added them), while another session's message announced by
// the same command gets it. With the mutant store that reports other UIDs
// for the session's additions, the session takes its own for another's
// and sends their FETCH: the test catches it.
func TestNotifyOwnNewMessagesNoFetch(t *testing.T) {
	run := func(t *testing.T, mutant bool) (appended, copied, replaced []string) {
		var mutate []func(*Config)
		if mutant {
			mutate = append(mutate, func(cfg *Config) {
				cfg.Store = wrappedStore{cfg.Store, func(u store.User) store.User { return ownUIDLiar{u} }}
			})
		}
		ts, hn, a, b := notifyFetchPair(t, mutate...)
		finish := othersAppendHeld(t, ts, hn, b)
		appended = a.okReading("A1", appendCommand("INBOX")) // UID 2
		finish()
		require.Empty(t, a.settle("P"))
		copied = a.okReading("C1", "COPY 1:2 INBOX") // UIDs 3 and 4
		require.Empty(t, a.settle("Q"))
		replaced = a.okReading("R1", "REPLACE 1 INBOX"+strings.TrimPrefix(appendCommand("INBOX"), "APPEND INBOX")) // UID 5
		require.Empty(t, a.settle("R"))
		return appended, copied, replaced
	}
	appended, copied, replaced := run(t, false)
	require.Len(t, appended, 2, "%q", appended)
	assert.Equal(t, "* 2 EXISTS", appended[0])
	assert.Regexp(t, newMessageFetch(1), appended[1], "the other session's message only")
	assert.Equal(t, []string{"* 4 EXISTS"}, copied)
	assert.False(t, anyMatch(`FETCH`, replaced), "%q", replaced)
	assert.True(t, anyMatch(`^\* 4 EXISTS$`, replaced), "%q", replaced)

	appended, copied, replaced = run(t, true)
	assert.True(t, anyMatch(newMessageFetch(2), appended), "the mutant fetches its own appended message: %q", appended)
	assert.True(t, anyMatch(newMessageFetch(4), copied), "the mutant fetches its own copies: %q", copied)
	assert.True(t, anyMatch(`^\* 4 FETCH \(UID 5 `, replaced), "the mutant fetches its own replacement: %q", replaced)
}
