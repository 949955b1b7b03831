package server

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// notifyPair returns two logged-in IMAP4rev2 sessions of one account: a
// watches, b changes.
func notifyPair(t *testing.T, mutate ...func(*Config)) (ts *testServer, a, b *client) {
	ts = newTestServer(t, mutate...)
	a, b = ts.dial(), ts.dial()
	for _, c := range []*client{a, b} {
		c.login()
		c.ok("E1", "ENABLE IMAP4rev2")
	}
	return ts, a, b
}

// appendTo appends a small message to mailbox.
func (c *client) appendTo(tag, mailbox string) {
	c.t.Helper()
	msg := "Subject: hi\r\nFrom: a@example.org\r\n\r\nbody\r\n"
	c.ok(tag, fmt.Sprintf("APPEND %s {%d+}\r\n%s", mailbox, len(msg), msg))
}

// quiet checks that nothing arrives for a while, then that NOOP brings
// no untagged response either.
func (c *client) quiet(tag string) {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	l, err := c.r.ReadString('\n')
	require.Error(c.t, err, "unexpected %q", l)
	assert.Empty(c.t, l)
	assert.Empty(c.t, c.ok(tag, "NOOP"))
}

// TestNotifyRFCExamples: the NOTIFY commands of RFC 5465 (in the form its
// ABNF gives them: event lists in parentheses) are accepted; invalid
// combinations get BAD, unsupported events NO [BADEVENT (...)] listing
// the supported ones (RFC 5465).
func TestNotifyRFCExamples(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	_, done := c.cmd("P1", "NOTIFY NONE")
	assert.True(t, strings.HasPrefix(done, "P1 BAD"), done)
	c.login()
	c.ok("C1", "CREATE Lists/Lemonade")
	for i, cmd := range []string{
		"NOTIFY SET STATUS (selected (MessageNew (uid body.peek[header.fields (from to subject)]) MessageExpunge)) (subtree Lists (MessageNew MessageExpunge))",
		"NOTIFY SET (selected (MessageNew (uid body[header.fields (from to subject)]) MessageExpunge)) (subtree Lists (MessageNew MessageExpunge)) (mailboxes misc (MessageNew MessageExpunge))",
		"NOTIFY SET (personal (MessageNew FlagChange MessageExpunge))",
		"NOTIFY SET (mailboxes INBOX (Messagenew messageExpunge)) (personal (MailboxName SubscriptionChange))",
		"NOTIFY SET (selected-delayed (MessageNew MessageExpunge FlagChange)) (inboxes NONE) (subscribed (MailboxName))",
		"NOTIFY SET (mailboxes (INBOX Drafts) (MessageNew MessageExpunge))",
		"notify set (selected NONE)",
		"NOTIFY NONE",
	} {
		tag := fmt.Sprintf("N%d", i)
		c.ok(tag, cmd)
	}
	for i, cmd := range []string{
		"NOTIFY",
		"NOTIFY SET",
		"NOTIFY SOMETIMES",
		"NOTIFY NONE extra",
		"NOTIFY SET ()",
		"NOTIFY SET (personal)",
		"NOTIFY SET (elsewhere (MessageNew MessageExpunge))",
		"NOTIFY SET (personal (MessageNew))",                        // needs MessageExpunge
		"NOTIFY SET (personal (MessageExpunge))",                    // needs MessageNew
		"NOTIFY SET (personal (FlagChange))",                        // needs both
		"NOTIFY SET (personal (MessageNew (UID) MessageExpunge))",   // fetch attributes: selected only
		"NOTIFY SET (selected (MailboxName))",                       // message events only
		"NOTIFY SET (selected NONE) (selected-delayed NONE)",        // one selected group
		"NOTIFY SET (subtree (MessageNew MessageExpunge))",          // a mailbox is needed
		"NOTIFY SET (selected (MessageNew (BOGUS) MessageExpunge))", // not a fetch attribute
		"NOTIFY SET (selected (MessageNew (BODY[]<0.99999999999>) MessageExpunge))",
		"NOTIFY SET STATUS",
	} {
		tag := fmt.Sprintf("B%d", i)
		_, done := c.cmd(tag, cmd)
		assert.True(t, strings.HasPrefix(done, tag+" BAD"), "%s -> %s", cmd, done)
		// A fetch attribute's grammar error used to come back as
		// BAD [SERVERBUG] Internal error instead of its reason.
		assert.NotContains(t, done, "Internal error", "%s -> %s", cmd, done)
	}
	for i, cmd := range []string{
		"NOTIFY SET (selected (MessageNew MessageExpunge AnnotationChange))",
		"NOTIFY SET (personal (AnnotationChange))",
		"NOTIFY SET (personal (ServerMetadataChange SomethingNew))",
		"NOTIFY SET (personal (SomethingNew))",
	} {
		tag := fmt.Sprintf("U%d", i)
		_, done := c.cmd(tag, cmd)
		assert.Equal(t, tag+" NO [BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange MailboxMetadataChange ServerMetadataChange)] Event not supported", done, cmd)
	}
	// The store keeps metadata (METADATA), so its events are supported.
	c.ok("M1", "NOTIFY SET (personal (MailboxMetadataChange ServerMetadataChange MailboxName))")
}

// TestNotifySetStatus: NOTIFY SET STATUS reports each watched mailbox
// except the selected one with MESSAGES, UIDNEXT and UIDVALIDITY, and
// HIGHESTMODSEQ once CONDSTORE is enabled (RFC 5465).
func TestNotifySetStatus(t *testing.T) {
	_, a, b := notifyPair(t)
	b.appendTo("A1", "Drafts")
	a.ok("S1", "SELECT INBOX")
	st := a.ok("N1", "NOTIFY SET STATUS (mailboxes (INBOX Drafts Trash) (MessageNew MessageExpunge))")
	require.Len(t, st, 2, st)
	assert.Regexp(t, `^\* STATUS Drafts \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+\)$`, st[0])
	assert.Regexp(t, `^\* STATUS Trash \(MESSAGES 0 UIDNEXT 1 UIDVALIDITY \d+\)$`, st[1])
	assert.Empty(t, a.ok("N2", "NOTIFY SET (mailboxes (INBOX Drafts Trash) (MessageNew MessageExpunge))"), "no STATUS without the STATUS option")
	a.ok("U1", "UNSELECT")
	a.ok("E2", "ENABLE CONDSTORE")
	st = a.ok("N3", "NOTIFY SET STATUS (subtree Drafts (MessageNew MessageExpunge)) (personal (MailboxName))")
	require.Len(t, st, 1, st)
	assert.Regexp(t, `^\* STATUS Drafts \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ HIGHESTMODSEQ \d+\)$`, st[0])
}

// TestNotifyOtherMailboxBetweenCommands: another session's APPEND,
// flag change and EXPUNGE in a watched mailbox that is not selected
// reach the session as STATUS responses between commands, without IDLE
// (RFC 5465); a flag change only with FlagChange and CONDSTORE.
func TestNotifyOtherMailboxBetweenCommands(t *testing.T) {
	_, a, b := notifyPair(t)
	a.ok("N1", "NOTIFY SET (personal (MessageNew MessageExpunge))")
	b.appendTo("A1", "Drafts")
	assert.Regexp(t, `^\* STATUS Drafts \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+\)$`, a.line())
	b.appendTo("A2", "Drafts")
	assert.Regexp(t, `^\* STATUS Drafts \(MESSAGES 2 UIDNEXT 3 UIDVALIDITY \d+\)$`, a.line())
	b.ok("S1", "SELECT Drafts")
	b.ok("F1", `STORE 1 +FLAGS (\Deleted)`)
	a.quiet("Q1") // no FlagChange asked for
	b.ok("X1", "EXPUNGE")
	assert.Regexp(t, `^\* STATUS Drafts \(MESSAGES 1 UIDNEXT 3 UIDVALIDITY \d+\)$`, a.line())

	a.ok("E2", "ENABLE CONDSTORE")
	a.ok("N2", "NOTIFY SET (personal (MessageNew MessageExpunge FlagChange))")
	b.ok("F2", `STORE 1 +FLAGS (\Flagged)`)
	assert.Regexp(t, `^\* STATUS Drafts \(MESSAGES 1 UIDNEXT 3 UIDVALIDITY \d+ HIGHESTMODSEQ \d+\)$`, a.line())
}

// TestNotifySelectedMailbox: with SELECTED the selected mailbox's new
// messages (with the MessageNew fetch attributes, \Seen left alone), flag
// changes and expunges are pushed between commands (RFC 5465).
func TestNotifySelectedMailbox(t *testing.T) {
	_, a, b := notifyPair(t)
	a.ok("S1", "SELECT INBOX")
	a.ok("N1", "NOTIFY SET (selected (MessageNew (FLAGS BODY[HEADER.FIELDS (SUBJECT)]) MessageExpunge FlagChange)) (personal (MessageNew MessageExpunge))")
	b.appendTo("A1", "INBOX")
	assert.Equal(t, "* 1 EXISTS", a.line())
	assert.Equal(t, `* 1 FETCH (UID 1 FLAGS () BODY[HEADER.FIELDS (SUBJECT)] {15}`, a.line())
	assert.Equal(t, "Subject: hi", a.line())
	assert.Equal(t, "", a.line())
	assert.Equal(t, ")", a.line())
	b.ok("S2", "SELECT INBOX")
	b.ok("F1", `STORE 1 +FLAGS (\Deleted)`)
	assert.Equal(t, `* 1 FETCH (UID 1 FLAGS (\Deleted))`, a.line())
	b.ok("X1", "EXPUNGE")
	assert.Equal(t, "* 1 EXPUNGE", a.line())
	a.quiet("Q1") // and no STATUS for the selected mailbox
}

// TestNotifySelectedDelayed: with SELECTED-DELAYED new messages are pushed
// at once but expunges wait for a command that may report them (RFC 5465
// 5.2: NOOP here).
func TestNotifySelectedDelayed(t *testing.T) {
	_, a, b := notifyPair(t)
	b.appendTo("A1", "INBOX")
	a.ok("S1", "SELECT INBOX")
	a.ok("N1", "NOTIFY SET (selected-delayed (MessageNew MessageExpunge))")
	b.ok("S2", "SELECT INBOX")
	b.ok("F1", `STORE 1 +FLAGS (\Deleted)`)
	b.ok("X1", "EXPUNGE")
	b.appendTo("A2", "INBOX")
	assert.Equal(t, "* 2 EXISTS", a.line(), "the arrival is pushed; the expunged message keeps its number")
	assert.Equal(t, []string{"* 1 EXPUNGE"}, a.ok("P1", "NOOP"))
}

// TestNotifyWithoutSelectedGroup: a set without SELECTED leaves the
// selected mailbox to the base protocol: nothing is pushed between
// commands, NOOP reports the changes.
func TestNotifyWithoutSelectedGroup(t *testing.T) {
	_, a, b := notifyPair(t)
	a.ok("S1", "SELECT INBOX")
	a.ok("N1", "NOTIFY SET (personal (MessageNew MessageExpunge))")
	b.appendTo("A1", "INBOX")
	time.Sleep(50 * time.Millisecond)
	assert.Equal(t, []string{"* 1 EXISTS"}, a.ok("P1", "NOOP"))
}

// TestNotifyMailboxEvents: another session's CREATE, RENAME (with
// OLDNAME), SUBSCRIBE, UNSUBSCRIBE and DELETE reach the session as LIST
// responses (RFC 5465 MailboxName and SubscriptionChange).
func TestNotifyMailboxEvents(t *testing.T) {
	_, a, b := notifyPair(t)
	a.ok("N1", "NOTIFY SET (personal (MailboxName SubscriptionChange))")
	b.ok("C1", "CREATE Foo")
	assert.Equal(t, `* LIST (\HasNoChildren) "/" Foo`, a.line())
	b.ok("R1", "RENAME Foo Bar")
	assert.Equal(t, `* LIST (\HasNoChildren) "/" Bar ("OLDNAME" (Foo))`, a.line())
	b.ok("U1", "SUBSCRIBE Bar")
	assert.Equal(t, `* LIST (\HasNoChildren \Subscribed) "/" Bar`, a.line())
	b.ok("U2", "UNSUBSCRIBE Bar")
	assert.Equal(t, `* LIST (\HasNoChildren) "/" Bar`, a.line())
	b.ok("D1", "DELETE Bar")
	assert.Equal(t, `* LIST (\NonExistent) "/" Bar`, a.line())
	b.ok("C5", "CREATE Top/Sub")
	assert.Equal(t, `* LIST (\HasChildren) "/" Top`, a.line(), "the superior created on the way")
	assert.Equal(t, `* LIST (\HasNoChildren) "/" Top/Sub`, a.line())

	// Only the events asked for, only for the mailboxes asked for.
	a.ok("N2", "NOTIFY SET (mailboxes Baz (SubscriptionChange)) (subtree Qux (MailboxName))")
	b.ok("C2", "CREATE Baz")
	b.ok("C3", "CREATE Other")
	b.ok("C4", "CREATE Qux/Inner")
	assert.Equal(t, `* LIST (\HasChildren) "/" Qux`, a.line())
	assert.Equal(t, `* LIST (\HasNoChildren) "/" Qux/Inner`, a.line())
	b.ok("U3", "SUBSCRIBE Baz")
	assert.Equal(t, `* LIST (\HasNoChildren \Subscribed) "/" Baz`, a.line())
	a.quiet("Q1")
}

// TestNotifyMetadataChanges: another session's SETMETADATA on a mailbox
// and on the server is reported with unsolicited METADATA responses
// naming the entry (RFC 5464 4.4.2) when the set asks for
// MailboxMetadataChange and ServerMetadataChange; the session's own is
// not.
func TestNotifyMetadataChanges(t *testing.T) {
	_, a, b := notifyPair(t)
	a.ok("N1", "NOTIFY SET (mailboxes Drafts (MailboxMetadataChange)) (personal (ServerMetadataChange))")
	b.ok("M1", `SETMETADATA Drafts (/private/comment "a note")`)
	assert.Equal(t, `* METADATA Drafts /private/comment`, a.line())
	b.ok("M2", `SETMETADATA INBOX (/private/comment "not watched")`)
	b.ok("M3", `SETMETADATA "" (/shared/comment "server note")`)
	assert.Equal(t, `* METADATA "" /shared/comment`, a.line())
	assert.Empty(t, a.ok("M4", `SETMETADATA Drafts (/private/comment NIL)`))
	a.quiet("Q1")
}

// TestNotifyOwnChangesNotReported: the session's own CREATE, SUBSCRIBE,
// RENAME, APPEND and DELETE are not notified back to it: it learns of
// them from its commands' responses. Another session's next change is.
func TestNotifyOwnChangesNotReported(t *testing.T) {
	_, a, b := notifyPair(t)
	a.ok("N1", "NOTIFY SET (personal (MessageNew MessageExpunge MailboxName SubscriptionChange))")
	assert.Empty(t, a.ok("C1", "CREATE Mine"))
	assert.Empty(t, a.ok("U1", "SUBSCRIBE Mine"))
	a.appendTo("A1", "Mine")
	assert.Empty(t, a.ok("R1", "RENAME Mine Yours"))
	a.quiet("Q1")
	b.appendTo("A2", "Yours")
	assert.Regexp(t, `^\* STATUS Yours \(MESSAGES 2 UIDNEXT 3 UIDVALIDITY \d+\)$`, a.line())
	assert.Empty(t, a.ok("D1", "DELETE Yours"))
	a.quiet("Q2")
}

// TestNotifyNoneStops: after NOTIFY NONE nothing is pushed any more.
func TestNotifyNoneStops(t *testing.T) {
	_, a, b := notifyPair(t)
	a.ok("N1", "NOTIFY SET (personal (MessageNew MessageExpunge MailboxName))")
	b.ok("C1", "CREATE One")
	assert.Equal(t, `* LIST (\HasNoChildren) "/" One`, a.line())
	a.ok("N2", "NOTIFY NONE")
	b.ok("C2", "CREATE Two")
	b.appendTo("A1", "Two")
	a.quiet("Q1")
}

// TestNotifyDuringIdle: notifications of other mailboxes reach an idling
// session too.
func TestNotifyDuringIdle(t *testing.T) {
	_, a, b := notifyPair(t)
	a.ok("S1", "SELECT INBOX")
	a.ok("N1", "NOTIFY SET (personal (MessageNew MessageExpunge MailboxName))")
	a.send("I1 IDLE\r\n")
	require.True(t, strings.HasPrefix(a.line(), "+ "))
	b.appendTo("A1", "Drafts")
	assert.Regexp(t, `^\* STATUS Drafts \(MESSAGES 1 `, a.line())
	b.appendTo("A2", "INBOX")
	assert.Equal(t, "* 1 EXISTS", a.line(), "IDLE pushes the selected mailbox as always")
	b.ok("C1", "CREATE New")
	assert.Equal(t, `* LIST (\HasNoChildren) "/" New`, a.line())
	a.send("DONE\r\n")
	_, done := a.until("I1")
	assert.Equal(t, "I1 OK IDLE terminated", done)
}

// TestNotifyOverflow: a session that does not read while notifications
// pile up beyond Config.MaxPendingNotifications gets
// OK [NOTIFICATIONOVERFLOW] and no more notifications: the set is
// dropped as by NOTIFY NONE (RFC 5465).
func TestNotifyOverflow(t *testing.T) {
	ts, a, b := notifyPair(t, func(cfg *Config) { cfg.MaxPendingNotifications = 3 })
	a.ok("N1", "NOTIFY SET (personal (MessageNew MessageExpunge MailboxName))")
	for i := range 12 { // a reads nothing meanwhile
		b.ok(fmt.Sprintf("C%d", i), fmt.Sprintf("CREATE Box%d", i))
	}
	var got []string
	for {
		l := a.line()
		if strings.HasPrefix(l, "* OK [NOTIFICATIONOVERFLOW]") {
			break
		}
		require.True(t, strings.HasPrefix(l, "* LIST "), l)
		got = append(got, l)
	}
	assert.Less(t, len(got), 12, "some notifications were dropped")
	b.ok("C99", "CREATE After")
	b.appendTo("A1", "After")
	a.quiet("Q1")
	assert.Equal(t, int64(1), ts.srv.Metrics().NotifyOverflows())
	// A new set works again.
	a.ok("N2", "NOTIFY SET (personal (MailboxName))")
	b.ok("C100", "CREATE Again")
	assert.Equal(t, `* LIST (\HasNoChildren) "/" Again`, a.line())
}
