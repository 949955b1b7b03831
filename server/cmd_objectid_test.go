package server

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	mailboxIDRE = regexp.MustCompile(`MAILBOXID \((M\d+)\)`)
	emailIDRE   = regexp.MustCompile(`EMAILID \((E\d+)\)`)
)

func firstMatch(t *testing.T, re *regexp.Regexp, lines ...string) string {
	t.Helper()
	for _, l := range lines {
		if m := re.FindStringSubmatch(l); m != nil {
			return m[1]
		}
	}
	t.Fatalf("no %s in %q", re, lines)
	return ""
}

// TestObjectIDs: MAILBOXID (RFC 8474 4) comes with CREATE, SELECT and
// STATUS, survives RENAME and is new after DELETE and CREATE; EMAILID
// (5.1) survives COPY and MOVE and is searchable; THREADID is NIL.
func TestObjectIDs(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	_, done := c.cmd("C1", "CREATE Box")
	box := firstMatch(t, mailboxIDRE, done)
	assert.Equal(t, box, firstMatch(t, mailboxIDRE, c.ok("S1", "STATUS Box (MAILBOXID MESSAGES)")...))
	c.ok("R1", "RENAME Box Renamed")
	assert.Equal(t, box, firstMatch(t, mailboxIDRE, c.ok("S2", "STATUS Renamed (MAILBOXID)")...), "RENAME keeps it")
	c.ok("D1", "DELETE Renamed")
	_, done = c.cmd("C2", "CREATE Renamed")
	assert.NotEqual(t, box, firstMatch(t, mailboxIDRE, done), "a new mailbox, a new id")

	appendMsg(t, ts, "INBOX", fixturePlain)
	appendMsg(t, ts, "INBOX", fixturePlain)
	inbox := firstMatch(t, mailboxIDRE, c.ok("S3", "SELECT INBOX")...)
	assert.Equal(t, inbox, firstMatch(t, mailboxIDRE, c.ok("S4", "STATUS INBOX (MAILBOXID)")...))
	first := firstMatch(t, emailIDRE, c.ok("F1", "FETCH 1 (EMAILID THREADID)")...)
	second := firstMatch(t, emailIDRE, c.ok("F2", "FETCH 2 EMAILID")...)
	assert.NotEqual(t, first, second, "two APPENDs of the same bytes are two emails")
	assert.Contains(t, strings.Join(c.ok("F3", "FETCH 1 THREADID"), ""), "THREADID NIL")
	assert.Equal(t, []string{"* SEARCH 2"}, c.ok("Q1", "SEARCH EMAILID "+second))
	assert.Equal(t, []string{"* SEARCH"}, c.ok("Q2", "SEARCH THREADID T1"))
	// The destination holds a message already, so the copies get other
	// UIDs than their originals: the id must not follow the UID.
	appendMsg(t, ts, "Renamed", fixturePlain)
	c.ok("M1", "UID MOVE 1 Renamed")
	c.ok("K1", "UID COPY 2 Renamed")
	c.ok("S5", "SELECT Renamed")
	ids := c.ok("F4", "FETCH 1:* (UID EMAILID)")
	require.Len(t, ids, 3)
	own := firstMatch(t, emailIDRE, ids[0])
	assert.NotEqual(t, first, own)
	assert.NotEqual(t, second, own)
	assert.Equal(t, first, firstMatch(t, emailIDRE, ids[1]), "MOVE keeps it")
	assert.Equal(t, second, firstMatch(t, emailIDRE, ids[2]), "COPY keeps it")
}
