package server

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/internal/mailmsg"
	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/boltstore"
)

// qresyncSetup stores five messages in INBOX and returns a client that
// enabled QRESYNC (nothing selected) and a second, plain session that
// selected INBOX to make changes.
func qresyncSetup(t *testing.T, mutate ...func(*Config)) (q, other *client) {
	t.Helper()
	ts := newTestServer(t, mutate...)
	for range 5 {
		appendMsg(t, ts, "INBOX", fixturePlain)
	}
	q = ts.dial()
	q.login()
	require.Equal(t, []string{"* ENABLED QRESYNC"}, q.ok("E0", "ENABLE QRESYNC"))
	other = ts.dial()
	other.login()
	other.ok("O0", "SELECT INBOX")
	return q, other
}

// smallChangeLog makes the test server's store keep only a few change-log
// entries, so that old expunges are forgotten.
func smallChangeLog(t *testing.T) func(*Config) {
	return func(cfg *Config) {
		st, err := boltstore.Open(t.TempDir(), boltstore.Options{Options: store.Options{BcryptCost: 4, Analyzer: mailmsg.Analyze, MaxChangeLog: 2}})
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		require.NoError(t, st.CreateUser(context.Background(), "demo", "demo"))
		cfg.Store = st
	}
}

var uidValidityRe = regexp.MustCompile(`^\* OK \[UIDVALIDITY (\d+)\]`)

// selectState selects mailbox and returns its UIDVALIDITY and
// HIGHESTMODSEQ as the client would remember them.
func selectState(t *testing.T, c *client, mailbox string) (uidValidity string, modseq uint64) {
	t.Helper()
	u := c.ok("SS", "SELECT "+mailbox)
	for _, l := range u {
		if m := uidValidityRe.FindStringSubmatch(l); m != nil {
			uidValidity = m[1]
		}
	}
	require.NotEmpty(t, uidValidity, "%q", u)
	modseq = highestModSeq(t, u)
	require.Positive(t, modseq, "%q", u)
	return uidValidity, modseq
}

// resyncLines returns the VANISHED and FETCH responses among lines.
func resyncLines(lines []string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, "* VANISHED") || strings.Contains(l, " FETCH ") {
			out = append(out, l)
		}
	}
	return out
}

func u64(n uint64) string { return strconv.FormatUint(n, 10) }

func TestQresyncEnable(t *testing.T) {
	for _, tc := range []struct{ enable, want string }{
		{"QRESYNC", "* ENABLED QRESYNC"},
		{"QRESYNC CONDSTORE", "* ENABLED QRESYNC CONDSTORE"},
		{"CONDSTORE QRESYNC", "* ENABLED CONDSTORE QRESYNC"},
		{"qresync QRESYNC", "* ENABLED QRESYNC"},
	} {
		t.Run(tc.enable, func(t *testing.T) {
			_, c := condstoreSetup(t)
			assert.Contains(t, strings.Fields(c.ok("C1", "CAPABILITY")[0]), "QRESYNC")
			assert.Equal(t, []string{tc.want}, c.ok("E1", "ENABLE "+tc.enable))
			assert.Equal(t, []string{"* ENABLED"}, c.ok("E2", "ENABLE QRESYNC CONDSTORE"), "nothing new the second time")
			// QRESYNC implies CONDSTORE (RFC 7162 3.2.3).
			assert.Positive(t, highestModSeq(t, c.ok("S1", "SELECT INBOX")))
		})
	}
}

// TestQresyncNeedsEnable: the QRESYNC parameter and the VANISHED modifier
// are BAD until ENABLE QRESYNC, even with CONDSTORE enabled (RFC 7162
// 3.2.3).
func TestQresyncNeedsEnable(t *testing.T) {
	_, c := condstoreSetup(t)
	c.ok("E1", "ENABLE CONDSTORE")
	for _, cmd := range []string{
		"SELECT INBOX (QRESYNC (1 1))",
		"EXAMINE INBOX (QRESYNC (1 1 1:3))",
		"SELECT INBOX (CONDSTORE QRESYNC (1 1))",
	} {
		_, done := c.cmd("B1", cmd)
		assert.Equal(t, "B1 BAD QRESYNC needs ENABLE QRESYNC first (RFC 7162 3.2.3)", done, cmd)
	}
	c.ok("S1", "SELECT INBOX")
	_, done := c.cmd("B2", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)")
	assert.Equal(t, "B2 BAD VANISHED needs ENABLE QRESYNC first (RFC 7162 3.2.3)", done)
}

func TestQresyncSelectSyntax(t *testing.T) {
	q, _ := qresyncSetup(t)
	for _, tc := range []struct {
		param string
		ok    bool
	}{
		{"(QRESYNC (1 1))", true},
		{"(QRESYNC (1 1 1:3,5))", true},
		{"(QRESYNC (1 1 1:3 (1:3 1:3)))", true},
		{"(QRESYNC (1 1 (1,2 4,5)))", true},
		{"(CONDSTORE QRESYNC (1 1))", true},
		{"(qresync (1 9223372036854775807))", true},
		{"(QRESYNC)", false},
		{"(QRESYNC ())", false},
		{"(QRESYNC (1))", false},
		{"(QRESYNC (0 1))", false},
		{"(QRESYNC (1 0))", false},
		{"(QRESYNC (1 9223372036854775808))", false},
		{"(QRESYNC (1 1 1:*))", false},
		{"(QRESYNC (1 1 $))", false},
		{"(QRESYNC (1 1 1:3 (1:2 1:3)))", false},
		{"(QRESYNC (1 1 1:3 (1 2 3)))", false},
		{"(QRESYNC (1 1 1:3 (1 *)))", false},
		{"(QRESYNC (1 1 1:3 4))", false},
		{"(QRESYNC (1 1 1:3 (1 1) 2))", false},
		{"(QRESYNC (1 1) QRESYNC (1 1))", false},
		{"(QRESYNC (1 1)", false},
		{"(QRESYNC 1 1)", false},
	} {
		u, done := q.cmd("S1", "SELECT INBOX "+tc.param)
		if tc.ok {
			assert.True(t, strings.HasPrefix(done, "S1 OK"), "%s -> %s", tc.param, done)
		} else {
			assert.True(t, strings.HasPrefix(done, "S1 BAD"), "%s -> %s", tc.param, done)
			assert.Empty(t, resyncLines(u))
		}
	}
}

// TestQresyncSelect: with a matching UIDVALIDITY, SELECT and EXAMINE
// report the known messages expunged since the client's mod-sequence with
// VANISHED (EARLIER), then FETCH (UID FLAGS MODSEQ) for those changed since
// (RFC 7162 3.2.5.1). The change log still holds every expunge here.
func TestQresyncSelect(t *testing.T) {
	q, other := qresyncSetup(t)
	uv, base := selectState(t, q, "INBOX")
	q.ok("U0", "UNSELECT")

	other.ok("O1", `STORE 2 +FLAGS (\Flagged)`)
	other.ok("O2", `STORE 3:4 +FLAGS (\Deleted)`)
	other.ok("O3", "EXPUNGE")
	other.ok("O4", `APPEND INBOX {5+}`+"\r\nhello")
	flagged := `^\* 2 FETCH \(UID 2 MODSEQ \(\d+\) FLAGS \(\\Flagged\)\)$`
	appended := `^\* 4 FETCH \(UID 6 MODSEQ \(\d+\) FLAGS \(\)\)$`
	b := u64(base)

	for _, tc := range []struct {
		name, cmd string
		want      []string // VANISHED lines verbatim, FETCH lines as patterns
	}{
		{"everything", "SELECT INBOX (QRESYNC (" + uv + " " + b + "))",
			[]string{"* VANISHED (EARLIER) 3:4", flagged, appended}},
		{"examine", "EXAMINE INBOX (QRESYNC (" + uv + " " + b + "))",
			[]string{"* VANISHED (EARLIER) 3:4", flagged, appended}},
		{"known UIDs", "SELECT INBOX (QRESYNC (" + uv + " " + b + " 1:3))",
			[]string{"* VANISHED (EARLIER) 3", flagged}},
		{"known UIDs unchanged", "SELECT INBOX (QRESYNC (" + uv + " " + b + " 1,5))", nil},
		{"seq-match data", "SELECT INBOX (QRESYNC (" + uv + " " + b + " 1:5 (1:5 1:5)))",
			[]string{"* VANISHED (EARLIER) 3:4", flagged}},
		{"up to date", "SELECT INBOX (QRESYNC (" + uv + " 9000000000))", nil},
		{"other UIDVALIDITY", "SELECT INBOX (QRESYNC (1 " + b + "))", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, done := q.cmd("S1", tc.cmd)
			require.True(t, strings.HasPrefix(done, "S1 OK"), done)
			got := resyncLines(u)
			require.Len(t, got, len(tc.want), "%q", u)
			for i, w := range tc.want {
				if strings.HasPrefix(w, "^") {
					assert.Regexp(t, w, got[i])
				} else {
					assert.Equal(t, w, got[i])
				}
			}
			assert.Positive(t, highestModSeq(t, u))
			assert.Contains(t, u, "* 4 EXISTS")
			q.ok("U1", "UNSELECT")
		})
	}
}

// TestQresyncSelectForgottenExpunges: once the change log no longer
// reaches back to the client's mod-sequence, VANISHED (EARLIER) names the
// known UIDs that no longer exist, narrowed by the seq-match data (RFC 7162
// 3.2.5.2).
func TestQresyncSelectForgottenExpunges(t *testing.T) {
	q, other := qresyncSetup(t, smallChangeLog(t))
	other.ok("O1", `STORE 1 +FLAGS (\Deleted)`)
	other.ok("O2", "EXPUNGE")
	uv, base := selectState(t, q, "INBOX") // the client knows 2:5 as 1:4
	q.ok("U0", "UNSELECT")
	other.ok("O3", `UID STORE 4 +FLAGS (\Deleted)`)
	other.ok("O4", "UID EXPUNGE 4")
	for i := range 3 { // push the expunge out of the log
		other.ok("O5", `STORE 1 FLAGS (\Seen $k`+strconv.Itoa(i)+`)`)
	}
	b := u64(base)
	for _, tc := range []struct{ name, param, want string }{
		{"known UIDs", "1:5", "* VANISHED (EARLIER) 1,4"},
		{"all UIDs", "", "* VANISHED (EARLIER) 1,4"},
		{"seq-match", "1:5 (1:2 2:3)", "* VANISHED (EARLIER) 4"},
		{"seq-match without a match", "1:5 (1:2 3:4)", "* VANISHED (EARLIER) 1,4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			param := strings.TrimSpace(uv + " " + b + " " + tc.param)
			u := q.ok("S1", "SELECT INBOX (QRESYNC ("+param+"))")
			got := resyncLines(u)
			require.NotEmpty(t, got, "%q", u)
			assert.Equal(t, tc.want, got[0])
			q.ok("U1", "UNSELECT")
		})
	}
}

// TestQresyncUIDFetchVanished: UID FETCH with CHANGEDSINCE and VANISHED
// reports the expunged UIDs of its set before the FETCH responses
// (RFC 7162 3.2.6).
func TestQresyncUIDFetchVanished(t *testing.T) {
	q, other := qresyncSetup(t)
	_, base := selectState(t, q, "INBOX")
	b := u64(base)
	other.ok("O1", `STORE 2,4 +FLAGS (\Deleted)`)
	other.ok("O2", "EXPUNGE")
	other.ok("O3", `UID STORE 5 +FLAGS (\Seen)`)
	// The view learns of the expunges at NOOP (VANISHED, RFC 7162 3.2.10.2).
	assert.Equal(t, []string{"* VANISHED 2,4", `* 3 FETCH (UID 5 MODSEQ (` + u64(statusModSeq(t, other, "INBOX")) + `) FLAGS (\Seen))`},
		q.ok("N1", "NOOP"))

	for _, tc := range []struct{ cmd, want string }{
		{"UID FETCH 1:* (FLAGS) (CHANGEDSINCE " + b + " VANISHED)", "* VANISHED (EARLIER) 2,4"},
		{"UID FETCH 1:* (FLAGS) (VANISHED CHANGEDSINCE " + b + ")", "* VANISHED (EARLIER) 2,4"},
		{"UID FETCH 3:* (FLAGS) (CHANGEDSINCE " + b + " VANISHED)", "* VANISHED (EARLIER) 4"},
		{"UID FETCH 1,3 (FLAGS) (CHANGEDSINCE " + b + " VANISHED)", ""},
		{"UID FETCH 1:* (FLAGS) (CHANGEDSINCE " + u64(statusModSeq(t, other, "INBOX")) + " VANISHED)", ""},
	} {
		u := q.ok("F1", tc.cmd)
		if tc.want == "" {
			for _, l := range u {
				assert.NotContains(t, l, "VANISHED", tc.cmd)
			}
			continue
		}
		require.NotEmpty(t, u, tc.cmd)
		assert.Equal(t, tc.want, u[0], tc.cmd)
		for _, l := range u[1:] {
			assert.Regexp(t, `^\* \d FETCH \(UID \d FLAGS`, l, "FETCH responses follow VANISHED")
		}
	}
	for _, cmd := range []string{
		"FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)",
		"UID FETCH 1:* (FLAGS) (VANISHED)",
		"UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED VANISHED)",
	} {
		_, done := q.cmd("B1", cmd)
		assert.True(t, strings.HasPrefix(done, "B1 BAD"), "%s -> %s", cmd, done)
	}
}

// TestQresyncExpungeReporting: once QRESYNC is enabled, the commands that
// expunge report VANISHED instead of EXPUNGE and complete with the new
// HIGHESTMODSEQ (RFC 7162 3.2.7, 3.2.9, 3.2.10.2; RFC 6851 4.4); with
// CONDSTORE alone they keep EXPUNGE and a plain OK.
func TestQresyncExpungeReporting(t *testing.T) {
	for _, tc := range []struct{ name, cmd, vanished, expunge string }{
		{"EXPUNGE", "EXPUNGE", "* VANISHED 2:3", "* 3 EXPUNGE,* 2 EXPUNGE"},
		{"UID EXPUNGE", "UID EXPUNGE 3:5", "* VANISHED 3", "* 3 EXPUNGE"},
		{"MOVE", "MOVE 2,4 Trash", "* VANISHED 2,4", "* 4 EXPUNGE,* 2 EXPUNGE"},
		{"UID MOVE", "UID MOVE 4:5 Trash", "* VANISHED 4:5", "* 5 EXPUNGE,* 4 EXPUNGE"},
	} {
		for _, enable := range []string{"QRESYNC", "CONDSTORE"} {
			t.Run(tc.name+"/"+enable, func(t *testing.T) {
				ts, c := condstoreSetup(t)
				appendMsg(t, ts, "INBOX", fixturePlain)
				appendMsg(t, ts, "INBOX", fixturePlain)
				c.ok("E1", "ENABLE "+enable)
				c.ok("S1", "SELECT INBOX")
				c.ok("T1", `STORE 2:3 +FLAGS.SILENT (\Deleted)`)
				u, done := c.cmd("X1", tc.cmd)
				var got []string
				for _, l := range u {
					if strings.HasSuffix(l, " EXPUNGE") || strings.HasPrefix(l, "* VANISHED") {
						got = append(got, l)
					}
				}
				if enable == "QRESYNC" {
					assert.Equal(t, []string{tc.vanished}, got)
					assert.Regexp(t, `^X1 OK \[HIGHESTMODSEQ `+u64(statusModSeq(t, c, "INBOX"))+`\] `, done)
				} else {
					assert.Equal(t, strings.Split(tc.expunge, ","), got)
					assert.NotContains(t, done, "HIGHESTMODSEQ")
				}
				_, done = c.cmd("X2", "UID EXPUNGE 1")
				assert.NotContains(t, done, "HIGHESTMODSEQ", "nothing was expunged")
			})
		}
	}
}

// TestQresyncUnsolicitedVanished: other sessions' expunges reach a
// QRESYNC session as VANISHED, at the same points as EXPUNGE would: not
// during FETCH, at NOOP and while idling (RFC 7162 3.2.10.2).
func TestQresyncUnsolicitedVanished(t *testing.T) {
	q, other := qresyncSetup(t)
	q.ok("S1", "SELECT INBOX")
	other.ok("O1", `STORE 2 +FLAGS.SILENT (\Deleted)`)
	other.ok("O2", "EXPUNGE")
	for _, l := range q.ok("F1", "FETCH 1 (UID)") {
		assert.NotContains(t, l, "VANISHED", "no expunge report during FETCH")
	}
	assert.Contains(t, q.ok("N1", "NOOP"), "* VANISHED 2")

	q.send("I1 IDLE\r\n")
	require.Equal(t, "+ idling", q.line())
	other.ok("O3", `UID STORE 3:4 +FLAGS.SILENT (\Deleted)`)
	other.ok("O4", "UID EXPUNGE 3:4")
	for l := q.line(); l != "* VANISHED 3:4"; l = q.line() {
		assert.Regexp(t, `^\* [23] FETCH \(UID [34] MODSEQ`, l)
	}
	q.send("DONE\r\n")
	_, done := q.until("I1")
	assert.Equal(t, "I1 OK IDLE terminated", done)
	assert.Equal(t, []string{"* 1 FETCH (UID 1)", "* 2 FETCH (UID 5)"}, q.ok("F2", "FETCH 1:* (UID)"))
}

// TestQresyncClose: CLOSE reports no expunges, but once QRESYNC is enabled
// its tagged OK carries the HIGHESTMODSEQ after its expunge (RFC 7162
// 3.2.8) unless another session's change was not announced yet.
func TestQresyncClose(t *testing.T) {
	q, other := qresyncSetup(t)
	q.ok("S1", "SELECT INBOX")
	q.ok("T1", `STORE 1 +FLAGS.SILENT (\Deleted)`)
	u, done := q.cmd("C1", "CLOSE")
	assert.Empty(t, u)
	assert.Equal(t, "C1 OK [HIGHESTMODSEQ "+u64(statusModSeq(t, q, "INBOX"))+"] CLOSE completed", done)

	q.ok("S2", "SELECT INBOX")
	q.ok("T2", `STORE 1 +FLAGS.SILENT (\Deleted)`)
	other.ok("O1", `STORE 2 +FLAGS.SILENT (\Flagged)`)
	_, done = q.cmd("C2", "CLOSE")
	assert.Equal(t, "C2 OK CLOSE completed", done, "a larger value would hide the flag change")

	q.ok("S3", "SELECT INBOX")
	_, done = q.cmd("C3", "CLOSE")
	assert.Equal(t, "C3 OK CLOSE completed", done, "nothing expunged")
}

// TestSelectClosedResponseCode: a SELECT or EXAMINE that closes the
// selected mailbox says so with the CLOSED response code before anything
// about the new one, even when it fails; CLOSE and UNSELECT do not
// (RFC 9051 6.3.2, 7.1; RFC 7162 3.2.11).
func TestSelectClosedResponseCode(t *testing.T) {
	_, c := condstoreSetup(t)
	closed := "* OK [CLOSED] Previous mailbox closed"
	for _, tc := range []struct {
		cmd    string
		closed bool
	}{
		{"SELECT INBOX", false},
		{"SELECT Trash", true},
		{"EXAMINE Trash", true},
		{"SELECT Nonexistent", true},
		{"EXAMINE INBOX", false},
		{"UNSELECT", false},
		{"SELECT INBOX", false},
		{"CLOSE", false},
	} {
		u, _ := c.cmd("S1", tc.cmd)
		if tc.closed {
			require.NotEmpty(t, u, tc.cmd)
			assert.Equal(t, closed, u[0], tc.cmd)
		} else {
			assert.NotContains(t, u, closed, tc.cmd)
		}
	}
}

// TestQresyncImplicitSeenFetch: a FETCH that sets \Seen reports the flag
// change with UID and MODSEQ once CONDSTORE is enabled, as every untagged
// FETCH of a flag change (RFC 7162 3.2.4).
func TestQresyncImplicitSeenFetch(t *testing.T) {
	q, _ := qresyncSetup(t)
	q.ok("S1", "SELECT INBOX")
	u := q.ok("F1", "FETCH 2 (BODY[HEADER.FIELDS (SUBJECT)])")
	all := strings.Join(u, "\n")
	assert.Regexp(t, `^\* 2 FETCH \(UID 2 BODY\[HEADER\.FIELDS \(SUBJECT\)\] \{\d+\}\n`, all)
	assert.Regexp(t, ` FLAGS \(\\Seen\) MODSEQ \(\d+\)\)$`, all)
	u = q.ok("F2", "FETCH 2 (BODY[HEADER.FIELDS (SUBJECT)])")
	assert.NotContains(t, strings.Join(u, "\n"), "MODSEQ", "no flag change, no UID or MODSEQ added")
}
