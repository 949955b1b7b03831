package server

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// searchSetup stores five messages: 1 plain (\Seen), 2 multipart
// (\Flagged), 3 plain with a keyword, 4 a large one from Eve, 5 plain
// (\Deleted), then expunges nothing, so UIDs equal sequence numbers.
func searchSetup(t *testing.T) *client {
	ts := newTestServer(t)
	appendMsg(t, ts, "INBOX", fixturePlain, `\Seen`)
	appendMsg(t, ts, "INBOX", fixtureMultipart, `\Flagged`)
	appendMsg(t, ts, "INBOX", strings.Replace(fixturePlain, "Lunch plans", "Dinner plans", 1), "$Work")
	appendMsg(t, ts, "INBOX", "From: Eve <eve@example.com>\r\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\nDate: Wed, 9 Feb 1994 08:00:00 +0100\r\nX-Tracking: abc\r\n\r\n"+strings.Repeat("padding line\r\n", 100))
	appendMsg(t, ts, "INBOX", fixturePlain, `\Deleted`, `\Answered`)
	c := ts.dial()
	c.login()
	c.ok("S1", "SELECT INBOX")
	return c
}

// TestSearchKeys checks every search key through SEARCH and UID SEARCH.
func TestSearchKeys(t *testing.T) {
	c := searchSetup(t)
	cases := []struct{ cmd, want string }{
		{"SEARCH ALL", "* SEARCH 1 2 3 4 5"},
		{"SEARCH SEEN", "* SEARCH 1"},
		{"SEARCH UNSEEN", "* SEARCH 2 3 4 5"},
		{"SEARCH FLAGGED", "* SEARCH 2"},
		{"SEARCH UNFLAGGED DELETED", "* SEARCH 5"},
		{"SEARCH UNDELETED ANSWERED", "* SEARCH"},
		{"SEARCH UNANSWERED DRAFT", "* SEARCH"},
		{"SEARCH UNDRAFT", "* SEARCH 1 2 3 4 5"},
		{"SEARCH KEYWORD $work", "* SEARCH 3"},
		{"SEARCH UNKEYWORD $Work", "* SEARCH 1 2 4 5"},
		{"SEARCH NEW", "* SEARCH"},
		{"SEARCH RECENT", "* SEARCH"},
		{"SEARCH OLD", "* SEARCH 1 2 3 4 5"},
		{"SEARCH FROM alice", "* SEARCH 1 3 5"},
		{"SEARCH TO alice", "* SEARCH 2"},
		{`SEARCH FROM "eve@example"`, "* SEARCH 4"},
		{"SEARCH TO bob", "* SEARCH 1 3 5"},
		{"SEARCH CC carol", "* SEARCH 1 3 5"},
		{"SEARCH BCC carol", "* SEARCH"},
		{"SEARCH SUBJECT plans", "* SEARCH 1 3 5"},
		{"SEARCH SUBJECT dinner", "* SEARCH 3"},
		{"SEARCH CHARSET UTF-8 SUBJECT {7+}\r\ngrüße", "* SEARCH 4"},
		{`SEARCH HEADER X-Tracking ""`, "* SEARCH 4"},
		{"SEARCH HEADER Message-ID plain@", "* SEARCH 1 3 5"},
		{"SEARCH BODY noon", "* SEARCH 1 3 5"},
		{"SEARCH BODY figures", "* SEARCH 2"},
		{"SEARCH TEXT Quarterly", "* SEARCH 2"},
		{"SEARCH TEXT noon NOT SUBJECT lunch", "* SEARCH 3"},
		{"SEARCH LARGER 1000", "* SEARCH 4"},
		{"SEARCH SMALLER 300", "* SEARCH 1 3 5"},
		{"SEARCH SENTBEFORE 8-Feb-1994", "* SEARCH 1 3 5"},
		{"SEARCH SENTON 8-Feb-1994", "* SEARCH 2"},
		{`SEARCH SENTSINCE "9-Feb-1994"`, "* SEARCH 4"},
		{"SEARCH ON 1-Mar-2024", "* SEARCH 1 2 3 4 5"},
		{"SEARCH BEFORE 1-Mar-2024", "* SEARCH"},
		{"SEARCH SINCE 2-Mar-2024", "* SEARCH"},
		{"SEARCH 2:3,5", "* SEARCH 2 3 5"},
		{"SEARCH 4:*", "* SEARCH 4 5"},
		{"SEARCH UID 2,4", "* SEARCH 2 4"},
		{"SEARCH OR FLAGGED SEEN", "* SEARCH 1 2"},
		{"SEARCH NOT (OR FLAGGED SEEN)", "* SEARCH 3 4 5"},
		{"SEARCH (TO bob UNSEEN) NOT DELETED", "* SEARCH 3"},
		{"UID SEARCH FLAGGED", "* SEARCH 2"},
		{"SEARCH charset us-ascii all", "* SEARCH 1 2 3 4 5"},
		{"SEARCH RETURN (MIN MAX COUNT) UNSEEN", `* ESEARCH (TAG "T") MIN 2 MAX 5 COUNT 4`},
		{"SEARCH RETURN () TO bob", `* ESEARCH (TAG "T") ALL 1,3,5`},
		{"UID SEARCH RETURN (ALL) 2:4", `* ESEARCH (TAG "T") UID ALL 2:4`},
		{"SEARCH RETURN (COUNT MIN) DRAFT", `* ESEARCH (TAG "T") COUNT 0`},
		{"SEARCH RETURN (COUNT) RECENT", `* ESEARCH (TAG "T") COUNT 0`},
	}
	for _, tc := range cases {
		t.Run(tc.cmd, func(t *testing.T) {
			u, done := c.cmd("T", tc.cmd)
			assert.Equal(t, "T OK SEARCH completed", done)
			assert.Equal(t, []string{tc.want}, u)
		})
	}
}

// TestSearchErrors checks BAD and BADCHARSET.
func TestSearchErrors(t *testing.T) {
	c := searchSetup(t)
	cases := []struct{ cmd, want string }{
		{"SEARCH CHARSET ISO-8859-1 ALL", "NO [BADCHARSET (UTF-8 US-ASCII)]"},
		{"SEARCH", "BAD"},
		{"SEARCH BOGUS", "BAD Unknown search key BOGUS"},
		{"SEARCH ALL CHARSET UTF-8", "BAD CHARSET must come first"},
		{"SEARCH RETURN (FOO) ALL", "BAD Unknown RETURN option FOO"},
		{"SEARCH ()", "BAD Empty search key list"},
		{"SEARCH OR SEEN", "BAD"},
		{"SEARCH BEFORE 32-Jan-2024", "BAD"},
		{"SEARCH LARGER x", "BAD"},
	}
	for i, tc := range cases {
		t.Run(tc.cmd, func(t *testing.T) {
			tag := "E" + strconv.Itoa(i)
			_, done := c.cmd(tag, tc.cmd)
			assert.True(t, strings.HasPrefix(done, tag+" "+tc.want), done)
		})
	}
}

// TestSearchRes checks SEARCH ... RETURN (SAVE) and "$" (RFC 5182).
func TestSearchRes(t *testing.T) {
	c := searchSetup(t)
	assert.Empty(t, c.ok("A1", "SEARCH RETURN (SAVE) TO bob"), "SAVE alone sends no ESEARCH")
	assert.Equal(t, []string{"* 1 FETCH (UID 1)", "* 3 FETCH (UID 3)", "* 5 FETCH (UID 5)"}, c.ok("A2", "FETCH $ UID"))
	assert.Equal(t, []string{"* SEARCH 3 5"}, c.ok("A3", "SEARCH $ UNSEEN"))
	assert.Equal(t, []string{"* SEARCH 1"}, c.ok("A4", "UID SEARCH UID $ SEEN"))
	c.ok("A5", `STORE $ +FLAGS.SILENT (\Answered)`)
	assert.Equal(t, []string{"* SEARCH 1 3 5"}, c.ok("A6", "SEARCH ANSWERED"))
	// MIN and MAX without ALL save just those two.
	u := c.ok("A7", "UID SEARCH RETURN (SAVE MIN MAX) UNSEEN")
	assert.Equal(t, []string{`* ESEARCH (TAG "A7") UID MIN 2 MAX 5`}, u)
	assert.Equal(t, []string{"* SEARCH 2 5"}, c.ok("A8", "SEARCH $"))
	// A failing SEARCH ... SAVE empties "$".
	_, done := c.cmd("A9", "SEARCH RETURN (SAVE) BOGUS")
	require.True(t, strings.HasPrefix(done, "A9 BAD"), done)
	assert.Equal(t, []string{"* SEARCH"}, c.ok("A10", "SEARCH $"))
	assert.Empty(t, c.ok("A11", "FETCH $ UID"))
}

// TestSearchESEARCHWhenRev2Enabled: with IMAP4rev2 enabled a plain SEARCH
// is answered with ESEARCH (RFC 9051 6.4.4).
func TestSearchESEARCHWhenRev2Enabled(t *testing.T) {
	c := searchSetup(t)
	c.ok("A0", "UNSELECT")
	c.ok("A1", "ENABLE IMAP4rev2")
	c.ok("A1a", "SELECT INBOX")
	assert.Equal(t, []string{`* ESEARCH (TAG "A2") ALL 1:2`}, c.ok("A2", "SEARCH OR SEEN FLAGGED"))
	assert.Equal(t, []string{`* ESEARCH (TAG "A3") UID`}, c.ok("A3", "UID SEARCH DRAFT"))
}

// TestSearchWithin: OLDER and YOUNGER (RFC 5032) compare the internal
// date with now minus an interval in seconds.
func TestSearchWithin(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	msg := "From: a@example.org\r\nSubject: old\r\n\r\nold\r\n"
	c.send(`A1 APPEND INBOX "01-Jan-2020 00:00:00 +0000" {` + strconv.Itoa(len(msg)) + "+}\r\n" + msg + "\r\n")
	_, done := c.until("A1")
	require.True(t, strings.HasPrefix(done, "A1 OK"), done)
	c.send("A2 APPEND INBOX {" + strconv.Itoa(len(msg)) + "+}\r\n" + msg + "\r\n") // internal date: now
	_, done = c.until("A2")
	require.True(t, strings.HasPrefix(done, "A2 OK"), done)
	c.ok("S1", "SELECT INBOX")
	for _, tc := range []struct{ cmd, want string }{
		{"SEARCH OLDER 3600", "* SEARCH 1"},
		{"SEARCH YOUNGER 3600", "* SEARCH 2"},
		{"SEARCH OR OLDER 86400 YOUNGER 60", "* SEARCH 1 2"},
		{"UID SEARCH NOT OLDER 3600", "* SEARCH 2"},
		{"SEARCH NOT OLDER 3600", "* SEARCH 2"},
		{"SEARCH NOT YOUNGER 3600", "* SEARCH 1"},
		{"UID SEARCH ALL", "* SEARCH 1 2"},
	} {
		untagged, done := c.cmd("T", tc.cmd)
		assert.Equal(t, "T OK SEARCH completed", done, tc.cmd)
		assert.Equal(t, []string{tc.want}, untagged, tc.cmd)
	}
	_, done = c.cmd("T", "SEARCH OLDER 0")
	assert.True(t, strings.HasPrefix(done, "T BAD"), done)
}
