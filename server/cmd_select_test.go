package server

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// withPrefix returns the lines of u that start with prefix.
func withPrefix(u []string, prefix string) []string {
	var out []string
	for _, l := range u {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// TestSelectRevisionResponses: SELECT and EXAMINE answer each session in
// the revision it speaks (issue 15, defect 6). IMAP4rev1 (no ENABLE
// IMAP4rev2) gets OK [UNSEEN n] with the first unseen message when there
// is one (RFC 3501 6.3.1) and no LIST response; IMAP4rev2 gets the
// mailbox's LIST response with the attributes LIST reports (RFC 9051
// 6.3.2) and no UNSEEN.
func TestSelectRevisionResponses(t *testing.T) {
	ts := newTestServer(t)
	appendMsg(t, ts, "INBOX", fixturePlain, `\Seen`)
	appendMsg(t, ts, "INBOX", fixturePlain, `\Seen`)
	appendMsg(t, ts, "INBOX", fixturePlain)
	appendMsg(t, ts, "INBOX", fixturePlain)
	appendMsg(t, ts, "Sent", fixturePlain, `\Seen`)

	rev1 := ts.dial()
	rev1.login()
	rev1.ok("C1", "CREATE INBOX/sub")
	for _, cmd := range []string{"SELECT", "EXAMINE"} {
		u := rev1.ok("S1", cmd+" INBOX")
		assert.Equal(t, []string{"* OK [UNSEEN 3] First unseen"}, withPrefix(u, "* OK [UNSEEN "), "%s: %q", cmd, u)
		assert.Empty(t, withPrefix(u, "* LIST "), "%s: %q", cmd, u)
		// No unseen message: no UNSEEN response code.
		u = rev1.ok("S2", cmd+" Sent")
		assert.Empty(t, withPrefix(u, "* OK [UNSEEN "), "%s: %q", cmd, u)
		assert.Empty(t, withPrefix(u, "* LIST "), "%s: %q", cmd, u)
	}
	// The first unseen message as the session numbers it, after an
	// expunge moved it.
	rev1.ok("S3", "SELECT INBOX")
	rev1.ok("S4", `STORE 1 +FLAGS.SILENT (\Deleted)`)
	rev1.ok("S5", "EXPUNGE")
	u := rev1.ok("S6", "SELECT INBOX")
	assert.Equal(t, []string{"* OK [UNSEEN 2] First unseen"}, withPrefix(u, "* OK [UNSEEN "), "%q", u)

	rev2 := ts.dial()
	rev2.login()
	rev2.ok("E1", "ENABLE IMAP4rev2")
	for _, tt := range []struct{ name, list string }{
		{"INBOX", `* LIST (\HasChildren) "/" INBOX`},
		{"INBOX/sub", `* LIST (\HasNoChildren) "/" INBOX/sub`},
		{"Sent", `* LIST (\HasNoChildren \Sent) "/" Sent`},
		{"Trash", `* LIST (\HasNoChildren \Trash) "/" Trash`},
	} {
		for _, cmd := range []string{"SELECT", "EXAMINE"} {
			u := rev2.ok("S1", cmd+" "+tt.name)
			require.Equal(t, []string{tt.list}, withPrefix(u, "* LIST "), "%s %s: %q", cmd, tt.name, u)
			assert.Empty(t, withPrefix(u, "* OK [UNSEEN "), "%s %s: %q", cmd, tt.name, u)
		}
	}
}
