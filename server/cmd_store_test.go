package server

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestStore checks the STORE variants and their untagged FETCH responses
// (RFC 9051 6.4.6).
func TestStore(t *testing.T) {
	ts := newTestServer(t)
	for range 3 {
		appendMsg(t, ts, "INBOX", fixturePlain)
	}
	c := ts.dial()
	c.login()
	c.ok("S1", "SELECT INBOX")
	cases := []struct {
		cmd  string
		want []string
	}{
		{`STORE 1 +FLAGS (\Seen)`, []string{`* 1 FETCH (FLAGS (\Seen))`}},
		{`STORE 1:2 +FLAGS \Flagged $Work`, []string{`* 1 FETCH (FLAGS (\Seen \Flagged $Work))`, `* 2 FETCH (FLAGS (\Flagged $Work))`}},
		{`STORE 1 -FLAGS (\Seen $Work)`, []string{`* 1 FETCH (FLAGS (\Flagged))`}},
		{`STORE 2 FLAGS (\deleted)`, []string{`* 2 FETCH (FLAGS (\Deleted))`}},
		{`STORE 3 +FLAGS.SILENT (\Answered)`, nil},
		{`STORE 3 FLAGS ()`, []string{`* 3 FETCH (FLAGS ())`}},
		{`UID STORE 3 +FLAGS (\Draft)`, []string{`* 3 FETCH (UID 3 FLAGS (\Draft))`}},
		{`UID STORE 2:* -FLAGS.SILENT (\Draft)`, nil},
		{`UID STORE 9 +FLAGS (\Seen)`, nil},
		{`FETCH 1:* FLAGS`, []string{`* 1 FETCH (FLAGS (\Flagged))`, `* 2 FETCH (FLAGS (\Deleted))`, `* 3 FETCH (FLAGS ())`}},
	}
	for i, tc := range cases {
		t.Run(tc.cmd, func(t *testing.T) {
			tag := "A" + strconv.Itoa(i)
			u, done := c.cmd(tag, tc.cmd)
			assert.True(t, strings.HasPrefix(done, tag+" OK"), done)
			assert.Equal(t, tc.want, u)
		})
	}
	// The session's own changes are not announced again by NOOP.
	assert.Empty(t, c.ok("N1", "NOOP"))
}

// TestStoreErrors checks the BAD answers of STORE.
func TestStoreErrors(t *testing.T) {
	ts := newTestServer(t)
	appendMsg(t, ts, "INBOX", fixturePlain)
	c := ts.dial()
	c.login()
	c.ok("S1", "SELECT INBOX")
	for i, cmd := range []string{
		`STORE 2 +FLAGS (\Seen)`,
		`STORE 1 XFLAGS (\Seen)`,
		`STORE 1 +FLAGS (\Recent)`,
		`STORE 1 (BOGUS 5) +FLAGS (\Seen)`,
		`STORE 1 +FLAGS`,
		`STORE 1 +FLAGS (\Seen`,
	} {
		tag := "B" + strconv.Itoa(i)
		_, done := c.cmd(tag, cmd)
		assert.True(t, strings.HasPrefix(done, tag+" BAD"), "%s -> %s", cmd, done)
	}
	assert.Equal(t, []string{`* 1 FETCH (FLAGS ())`}, c.ok("C1", "FETCH 1 FLAGS"))
	// EXAMINE: the machine refuses STORE.
	c.ok("E1", "EXAMINE INBOX")
	_, done := c.cmd("E2", `STORE 1 +FLAGS (\Seen)`)
	assert.True(t, strings.HasPrefix(done, "E2 BAD") || strings.HasPrefix(done, "E2 NO"), done)
}
