package server

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/internal/mailmsg"
)

// sortMessage builds a message with the given header fields.
func sortMessage(from, to, subject, date, id, refs string, bodyLines int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\n", from, to, subject)
	if date != "" {
		fmt.Fprintf(&b, "Date: %s\r\n", date)
	}
	if id != "" {
		fmt.Fprintf(&b, "Message-ID: <%s>\r\n", id)
	}
	if refs != "" {
		fmt.Fprintf(&b, "References: %s\r\n", refs)
	}
	b.WriteString("\r\n")
	b.WriteString(strings.Repeat("line\r\n", bodyLines))
	return b.String()
}

// sortSetup stores a small thread and two unrelated messages:
//
//	1 Carol→bob "Meeting"            Mon 10:00  <m1> (20 body lines)
//	2 alice→Zed "Re: Meeting"        Mon 12:00  <m2> refs m1
//	3 "Émile" <bob@x>→al "lunch"     Sun 09:00  <m3>
//	4 Dave→carol "[list] Re: meeting" Mon 11:00 <m4> refs m1
//	5 zoe→amy "Fwd: Lunch (fwd)"     Tue 08:00  <m5>
func sortSetup(t *testing.T) *client {
	ts := newTestServer(t)
	msgs := []string{
		sortMessage("Carol <carol@x>", "bob@x", "Meeting", "Mon, 3 Jan 2022 10:00:00 +0000", "m1@x", "", 20),
		sortMessage("alice@x", "Zed <zed@x>", "Re: Meeting", "Mon, 3 Jan 2022 12:00:00 +0000", "m2@x", "<m1@x>", 1),
		sortMessage("=?UTF-8?Q?=C3=89mile?= <bob@x>", "al@x", "lunch", "Sun, 2 Jan 2022 09:00:00 +0000", "m3@x", "", 30),
		sortMessage("Dave <dave@x>", "carol@x", "[list] Re: meeting", "Mon, 3 Jan 2022 11:00:00 +0000", "m4@x", "<m1@x>", 5),
		sortMessage("zoe@x", "amy@x", "Fwd: Lunch (fwd)", "Tue, 4 Jan 2022 08:00:00 +0000", "m5@x", "", 2),
	}
	for _, m := range msgs {
		appendMsg(t, ts, "INBOX", m)
	}
	c := ts.dial()
	c.login()
	c.ok("S1", "SELECT INBOX")
	return c
}

func TestSortCriteria(t *testing.T) {
	c := sortSetup(t)
	for _, tc := range []struct{ cmd, want string }{
		{"SORT (ARRIVAL) UTF-8 ALL", "* SORT 1 2 3 4 5"},
		{"SORT (DATE) UTF-8 ALL", "* SORT 3 1 4 2 5"},
		{"SORT (REVERSE DATE) UTF-8 ALL", "* SORT 5 2 4 1 3"},
		{"SORT (SUBJECT) UTF-8 ALL", "* SORT 3 5 1 2 4"},
		{"SORT (SUBJECT DATE) UTF-8 ALL", "* SORT 3 5 1 4 2"},
		{"SORT (FROM) UTF-8 ALL", "* SORT 2 3 1 4 5"},
		{"SORT (TO) UTF-8 ALL", "* SORT 3 5 1 4 2"},
		{"SORT (SIZE) UTF-8 ALL", "* SORT 5 2 4 1 3"},
		{"SORT (DISPLAYFROM) UTF-8 ALL", "* SORT 2 1 4 3 5"},
		{"SORT (DISPLAYTO) UTF-8 ALL", "* SORT 3 5 1 4 2"},
		{"SORT (REVERSE SIZE) US-ASCII SUBJECT meeting", "* SORT 1 4 2"},
		{"UID SORT (DATE) UTF-8 2:4", "* SORT 3 4 2"},
		{"SORT RETURN (MIN MAX COUNT) (DATE) UTF-8 ALL", `* ESEARCH (TAG "T") MIN 3 MAX 5 COUNT 5`},
		{"SORT RETURN () (DATE) UTF-8 ALL", `* ESEARCH (TAG "T") ALL 3,1,4,2,5`},
		{"UID SORT RETURN (ALL) (ARRIVAL) UTF-8 ALL", `* ESEARCH (TAG "T") UID ALL 1:5`},
	} {
		untagged, done := c.cmd("T", tc.cmd)
		assert.Equal(t, "T OK SORT completed", done, tc.cmd)
		assert.Equal(t, []string{tc.want}, untagged, tc.cmd)
	}
}

func TestSortErrors(t *testing.T) {
	c := sortSetup(t)
	for _, tc := range []struct{ cmd, want string }{
		{"SORT DATE UTF-8 ALL", "T BAD"},
		{"SORT () UTF-8 ALL", "T BAD SORT needs at least one sort criterion"},
		{"SORT (COLOUR) UTF-8 ALL", "T BAD Unknown sort criterion COLOUR"},
		{"SORT (DATE) UTF-8", "T BAD SORT needs a search key"},
		{"SORT (DATE) KOI8-R ALL", "T NO [BADCHARSET (UTF-8 US-ASCII)]"},
		{"THREAD BRANCHES UTF-8 ALL", "T BAD Unknown threading algorithm BRANCHES"},
		{"THREAD REFERENCES UTF-8", "T BAD THREAD needs a search key"},
	} {
		_, done := c.cmd("T", tc.cmd)
		assert.True(t, strings.HasPrefix(done, tc.want), "%s: %s", tc.cmd, done)
	}
	// The session is still in step.
	c.ok("N", "NOOP")
}

func TestSortNeedsASelectedMailbox(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	_, done := c.cmd("T", "SORT (DATE) UTF-8 ALL")
	assert.Equal(t, "T BAD No mailbox selected; use SELECT or EXAMINE first", done)
}

func TestThread(t *testing.T) {
	c := sortSetup(t)
	for _, tc := range []struct{ cmd, want string }{
		// Subjects "lunch" (3, 5) and "meeting" (1, 4, 2): the earliest
		// message of each is the parent, threads by date of the parent.
		{"THREAD ORDEREDSUBJECT UTF-8 ALL", "* THREAD (3 5)(1 (4)(2))"},
		// 2 and 4 reply to 1; 3 and 5 share a base subject and neither
		// is linked, 5 being a forward: it becomes the child of 3.
		{"THREAD REFERENCES UTF-8 ALL", "* THREAD (3 5)(1 (4)(2))"},
		// Without 1, its replies hang under a dummy that stays at the
		// root because it has two children (RFC 5256 4, step 3).
		{"UID THREAD REFERENCES UTF-8 2:5", "* THREAD (3 5)((4)(2))"},
		{"THREAD REFERENCES UTF-8 SUBJECT nothing-matches", "* THREAD"},
	} {
		untagged, done := c.cmd("T", tc.cmd)
		assert.Equal(t, "T OK THREAD completed", done, tc.cmd)
		assert.Equal(t, []string{tc.want}, untagged, tc.cmd)
	}
}

func TestBaseSubject(t *testing.T) {
	for _, tc := range []struct {
		in, base string
		reply    bool
	}{
		{"hello", "hello", false},
		{"Re: hello", "hello", true},
		{"RE: re: Fwd:   hello  ", "hello", true},
		{"Fwd: [list] Re: hello (fwd)", "hello", true},
		{"[fwd: Re: hi]", "hi", true},
		{"[PATCH]", "[PATCH]", false},
		{"[PATCH] fix it", "fix it", false},
		{"re [x]: answer", "answer", true},
		{"Re:\tmulti \t  space", "multi space", true},
	} {
		base, reply := mailmsg.BaseSubject(tc.in)
		assert.Equal(t, tc.base, base, tc.in)
		assert.Equal(t, tc.reply, reply, tc.in)
	}
	assert.Equal(t, mailmsg.Collate("grüsse"), mailmsg.Collate("GRÜSSE"))
	assert.Equal(t, mailmsg.Collate("e\u0301"), mailmsg.Collate("É"))
}

// TestThreadReferencesAlgorithm runs the RFC 5256 REFERENCES steps on
// hand-built messages: a missing parent becomes a dummy that is pruned, a
// loop in References is ignored, and a duplicate Message-ID is made
// unique.
func TestThreadReferencesAlgorithm(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2022, 1, d, 0, 0, 0, 0, time.UTC) }
	msgs := []*threadMsg{
		{num: 1, seq: 1, date: day(1), subject: "A", id: "a"},
		{num: 2, seq: 2, date: day(2), subject: "A", isReply: true, id: "b", refs: []string{"a"}},
		{num: 3, seq: 3, date: day(3), subject: "A", isReply: true, id: "c", refs: []string{"a", "b"}},
		// Replies to a message the mailbox does not hold.
		{num: 4, seq: 4, date: day(4), subject: "X", isReply: true, id: "d", refs: []string{"gone"}},
		{num: 5, seq: 5, date: day(5), subject: "X", isReply: true, id: "e", refs: []string{"gone"}},
		// A loop: f says g is its parent and g says f.
		{num: 6, seq: 6, date: day(6), subject: "L", id: "f", refs: []string{"g"}},
		{num: 7, seq: 7, date: day(7), subject: "M", id: "g", refs: []string{"f"}},
		// The same Message-ID as message 1.
		{num: 8, seq: 8, date: day(8), subject: "Z", id: "a"},
	}
	got := string(appendThreads(nil, threadReferences(msgs)))
	// g (7) arrived after f (6) had named it its parent, and g's own
	// reference to f would close the loop, so g stays f's parent.
	require.Equal(t, "(1 2 3)((4)(5))(7 6)(8)", got)
}
