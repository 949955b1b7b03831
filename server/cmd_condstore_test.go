package server

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/fsm"
)

// condstoreSetup stores three messages in INBOX; the client is logged in,
// nothing is selected.
func condstoreSetup(t *testing.T, mutate ...func(*Config)) (*testServer, *client) {
	t.Helper()
	ts := newTestServer(t, mutate...)
	for range 3 {
		appendMsg(t, ts, "INBOX", fixturePlain)
	}
	c := ts.dial()
	c.login()
	return ts, c
}

var highestModSeqRe = regexp.MustCompile(`^\* OK \[HIGHESTMODSEQ (\d+)\]`)

// highestModSeq returns the HIGHESTMODSEQ response code among lines, or 0.
func highestModSeq(t *testing.T, lines []string) uint64 {
	t.Helper()
	for _, l := range lines {
		if m := highestModSeqRe.FindStringSubmatch(l); m != nil {
			n, err := strconv.ParseUint(m[1], 10, 64)
			require.NoError(t, err)
			return n
		}
	}
	return 0
}

// statusModSeq returns HIGHESTMODSEQ of a mailbox by STATUS.
func statusModSeq(t *testing.T, c *client, mailbox string) uint64 {
	t.Helper()
	u := c.ok("MS", "STATUS "+mailbox+" (HIGHESTMODSEQ)")
	if len(u) == 2 {
		// The command enabled CONDSTORE with a mailbox selected
		// (RFC 7162 3.1).
		require.Regexp(t, `^\* OK \[HIGHESTMODSEQ \d+\] `, u[1])
		u = u[:1]
	}
	require.Len(t, u, 1)
	m := regexp.MustCompile(`^\* STATUS \S+ \(HIGHESTMODSEQ (\d+)\)$`).FindStringSubmatch(u[0])
	require.NotNil(t, m, u[0])
	n, err := strconv.ParseUint(m[1], 10, 64)
	require.NoError(t, err)
	return n
}

func TestCondstoreEnable(t *testing.T) {
	_, c := condstoreSetup(t)
	u := c.ok("C1", "CAPABILITY")
	assert.Contains(t, strings.Fields(u[0]), "CONDSTORE")

	// Before CONDSTORE is enabled SELECT says nothing of mod-sequences.
	u = c.ok("S1", "SELECT INBOX")
	assert.Zero(t, highestModSeq(t, u), "%q", u)
	c.ok("S2", "UNSELECT")
	// ENABLE is valid in the authenticated state only (RFC 5161 3.1).
	assert.Equal(t, []string{"* ENABLED CONDSTORE"}, c.ok("E1", "ENABLE CONDSTORE"))
	// Enabling twice lists nothing the second time.
	assert.Equal(t, []string{"* ENABLED"}, c.ok("E2", "ENABLE CONDSTORE"))

	u = c.ok("S3", "EXAMINE INBOX")
	hms := highestModSeq(t, u)
	assert.Positive(t, hms, "%q", u)
	assert.Equal(t, hms, statusModSeq(t, c, "INBOX"))
}

func TestCondstoreSelectParameter(t *testing.T) {
	for _, cmd := range []string{"SELECT", "EXAMINE"} {
		t.Run(cmd, func(t *testing.T) {
			_, c := condstoreSetup(t)
			u := c.ok("S1", cmd+" INBOX (CONDSTORE)")
			hms := highestModSeq(t, u)
			assert.Positive(t, hms, "%q", u)
			assert.Equal(t, hms, statusModSeq(t, c, "INBOX"))
			for _, bad := range []string{"INBOX (FOO)", "INBOX (CONDSTORE", "INBOX CONDSTORE"} {
				_, done := c.cmd("S2", cmd+" "+bad)
				assert.True(t, strings.HasPrefix(done, "S2 BAD"), "%s -> %s", bad, done)
			}
		})
	}
}

func TestCondstoreStatus(t *testing.T) {
	_, c := condstoreSetup(t)
	before := statusModSeq(t, c, "INBOX")
	assert.Positive(t, statusModSeq(t, c, "Trash"), "an empty mailbox has a mod-sequence too")
	c.ok("S1", "SELECT INBOX")
	c.ok("S2", `STORE 1 +FLAGS (\Flagged)`)
	c.ok("S3", "UNSELECT")
	assert.Greater(t, statusModSeq(t, c, "INBOX"), before)
	u := c.ok("S4", "STATUS INBOX (MESSAGES HIGHESTMODSEQ)")
	assert.Regexp(t, `^\* STATUS INBOX \(MESSAGES 3 HIGHESTMODSEQ \d+\)$`, u[0])
}

func TestCondstoreFetch(t *testing.T) {
	_, c := condstoreSetup(t)
	c.ok("S1", "SELECT INBOX")
	u := c.ok("F1", "FETCH 1:* (MODSEQ)")
	require.Len(t, u, 4)
	// The first CONDSTORE-enabling command (RFC 7162 3.1).
	assert.Equal(t, "* OK [HIGHESTMODSEQ 4] Highest", u[3])
	u = u[:3]
	re := regexp.MustCompile(`^\* (\d) FETCH \(MODSEQ \((\d+)\)\)$`)
	var mod []uint64
	for _, l := range u {
		m := re.FindStringSubmatch(l)
		require.NotNil(t, m, l)
		n, _ := strconv.ParseUint(m[2], 10, 64)
		mod = append(mod, n)
	}
	assert.Less(t, mod[0], mod[1])
	assert.Less(t, mod[1], mod[2])

	// A flag change on message 2 gives it the highest MODSEQ; CHANGEDSINCE
	// returns it alone, with UID and MODSEQ implied.
	u = c.ok("F2", `STORE 2 +FLAGS (\Answered)`)
	m := regexp.MustCompile(`^\* 2 FETCH \(UID 2 MODSEQ \((\d+)\) FLAGS \(\\Answered\)\)$`).FindStringSubmatch(u[0])
	require.NotNil(t, m, "STORE responses carry UID and MODSEQ once CONDSTORE is enabled: %q", u)
	changed, _ := strconv.ParseUint(m[1], 10, 64)
	assert.Greater(t, changed, mod[2])
	since := strconv.FormatUint(mod[2], 10)
	assert.Equal(t, []string{"* 2 FETCH (UID 2 FLAGS (\\Answered) MODSEQ (" + m[1] + "))"},
		c.ok("F3", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE "+since+")"))
	assert.Equal(t, []string{"* 2 FETCH (UID 2 FLAGS (\\Answered) MODSEQ (" + m[1] + "))"},
		c.ok("F4", "FETCH 1:3 (FLAGS) (CHANGEDSINCE "+since+")"), "FETCH with CHANGEDSINCE includes UID")
	assert.Empty(t, c.ok("F5", "FETCH 1:* (FLAGS) (CHANGEDSINCE "+m[1]+")"))
	assert.Len(t, c.ok("F6", "FETCH 1:* (UID) (CHANGEDSINCE 1)"), 3)

	// A body fetch that sets \Seen: the filter applies to the MODSEQ
	// before the change, and the response carries the new one.
	u = c.ok("F7", "FETCH 1:* (BODY[HEADER.FIELDS (SUBJECT)]) (CHANGEDSINCE "+since+")")
	require.NotEmpty(t, u)
	assert.Regexp(t, `^\* 2 FETCH \(UID 2 BODY\[HEADER\.FIELDS \(SUBJECT\)\] \{\d+\}$`, u[0])
	all := strings.Join(u, "\n")
	assert.Regexp(t, ` MODSEQ \((\d+)\) FLAGS \(\\Seen \\Answered\)\)$`, all)
	assert.NotContains(t, all, "* 1 FETCH")
	assert.NotContains(t, all, "* 3 FETCH")

	for _, bad := range []string{
		"FETCH 1 FLAGS (CHANGEDSINCE)",
		"FETCH 1 FLAGS (CHANGEDSINCE x)",
		"FETCH 1 FLAGS (VANISHED)",
		"FETCH 1 FLAGS (CHANGEDSINCE 1 CHANGEDSINCE 2)",
		"FETCH 1 FLAGS ()",
		"FETCH 1 FLAGS (CHANGEDSINCE 1",
	} {
		_, done := c.cmd("B1", bad)
		assert.True(t, strings.HasPrefix(done, "B1 BAD"), "%s -> %s", bad, done)
	}
	c.ok("Z", "NOOP")
}

// TestCondstoreChangedSinceZero: the changedsince-zero quirk (iPhone Mail)
// in both modes. Lenient treats it as all messages and flags the answer
// [CLIENTBUG]; strict answers BAD. Either way the hit is counted.
func TestCondstoreChangedSinceZero(t *testing.T) {
	for _, mode := range []fsm.Mode{fsm.Lenient, fsm.Strict} {
		t.Run(mode.String(), func(t *testing.T) {
			ts, c := condstoreSetup(t, func(cfg *Config) { cfg.Modes = fsm.NewModes(mode) })
			c.ok("S1", "SELECT INBOX")
			u, done := c.cmd("F1", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE 0)")
			if mode == fsm.Lenient {
				assert.Equal(t, "F1 OK [CLIENTBUG] FETCH completed (CHANGEDSINCE 0 read as all messages)", done)
				require.Len(t, u, 4)
				assert.Regexp(t, `^\* OK \[HIGHESTMODSEQ \d+\] `, u[3])
				u = u[:3]
				for i, l := range u {
					assert.Regexp(t, `^\* `+strconv.Itoa(i+1)+` FETCH \(UID `+strconv.Itoa(i+1)+` FLAGS \(\) MODSEQ \(\d+\)\)$`, l)
				}
			} else {
				assert.True(t, strings.HasPrefix(done, "F1 BAD "), done)
				assert.Empty(t, u)
			}
			assert.Equal(t, int64(1), ts.srv.Metrics().QuirkHits(fsm.QuirkChangedsinceZero))
			c.ok("Z", "NOOP")
		})
	}
}

func TestCondstoreStoreUnchangedSince(t *testing.T) {
	_, c := condstoreSetup(t)
	c.ok("S1", "SELECT INBOX")
	base := statusModSeq(t, c, "INBOX") // every message's MODSEQ is <= base
	b := strconv.FormatUint(base, 10)

	// All pass: the responses carry UID and MODSEQ (UNCHANGEDSINCE
	// enables CONDSTORE).
	u, done := c.cmd("T1", `STORE 1:2 (UNCHANGEDSINCE `+b+`) +FLAGS (\Flagged)`)
	assert.Equal(t, "T1 OK STORE completed", done)
	require.Len(t, u, 2, "%q", u)
	m := regexp.MustCompile(`^\* 1 FETCH \(UID 1 MODSEQ \((\d+)\) FLAGS \(\\Flagged\)\)$`).FindStringSubmatch(u[0])
	require.NotNil(t, m, u[0])
	assert.Regexp(t, `^\* 2 FETCH \(UID 2 MODSEQ \(`+m[1]+`\) FLAGS \(\\Flagged\)\)$`, u[1])

	// Messages 1 and 2 changed after base: they fail, message 3 passes.
	u, done = c.cmd("T2", `STORE 1:3 (UNCHANGEDSINCE `+b+`) +FLAGS (\Seen)`)
	assert.Equal(t, "T2 OK [MODIFIED 1:2] Conditional STORE failed for some messages", done)
	require.Len(t, u, 1, "%q", u)
	assert.Regexp(t, `^\* 3 FETCH \(UID 3 MODSEQ \(\d+\) FLAGS \(\\Seen\)\)$`, u[0])
	assert.Equal(t, []string{`* 1 FETCH (FLAGS (\Flagged))`}, c.ok("T3", "FETCH 1 FLAGS"), "a failed message is unchanged")

	// UID STORE names UIDs; .SILENT still reports the new MODSEQ.
	u, done = c.cmd("T4", `UID STORE 1:3 (UNCHANGEDSINCE `+m[1]+`) +FLAGS.SILENT (\Draft)`)
	assert.Equal(t, "T4 OK [MODIFIED 3] Conditional STORE failed for some messages", done)
	require.Len(t, u, 2, "%q", u)
	assert.Regexp(t, `^\* 1 FETCH \(UID 1 MODSEQ \(\d+\)\)$`, u[0])
	assert.Regexp(t, `^\* 2 FETCH \(UID 2 MODSEQ \(\d+\)\)$`, u[1])

	// UNCHANGEDSINCE 0 fails for every message.
	u, done = c.cmd("T5", `STORE 1:3 (UNCHANGEDSINCE 0) FLAGS ()`)
	assert.Equal(t, "T5 OK [MODIFIED 1:3] Conditional STORE failed for some messages", done)
	assert.Empty(t, u)
	assert.Equal(t, []string{"* SEARCH 1 2"}, c.ok("T7", `SEARCH FLAGGED`))

	for _, bad := range []string{
		`STORE 1 (UNCHANGEDSINCE) +FLAGS (\Seen)`,
		`STORE 1 (FOO 1) +FLAGS (\Seen)`,
		`STORE 1 (UNCHANGEDSINCE 1)+FLAGS (\Seen)`,
		`STORE 1 () +FLAGS (\Seen)`,
		`STORE 1 (UNCHANGEDSINCE 0) +FLAGS (\Recent)`,
	} {
		_, done := c.cmd("B1", bad)
		assert.True(t, strings.HasPrefix(done, "B1 BAD"), "%s -> %s", bad, done)
	}
}

// TestCondstoreOtherSession: once CONDSTORE is enabled, flag changes made
// by another session are announced with UID and MODSEQ.
func TestCondstoreOtherSession(t *testing.T) {
	ts, c := condstoreSetup(t)
	c.ok("E1", "ENABLE CONDSTORE")
	c.ok("S1", "SELECT INBOX")
	o := ts.dial()
	o.login()
	o.ok("S1", "SELECT INBOX")
	o.ok("S2", `STORE 2 +FLAGS.SILENT (\Flagged)`)
	u := c.ok("N1", "NOOP")
	require.Len(t, u, 1, "%q", u)
	assert.Regexp(t, `^\* 2 FETCH \(UID 2 MODSEQ \(\d+\) FLAGS \(\\Flagged\)\)$`, u[0])

	// Without CONDSTORE the other session sees no MODSEQ.
	c.ok("S2", `STORE 3 +FLAGS.SILENT (\Flagged)`)
	u = o.ok("N1", "NOOP")
	assert.Equal(t, []string{`* 3 FETCH (UID 3 FLAGS (\Flagged))`}, u)
}

func TestCondstoreSearch(t *testing.T) {
	_, c := condstoreSetup(t)
	c.ok("S1", "SELECT INBOX")
	u := c.ok("T1", `STORE 2 +FLAGS (\Seen)`)
	require.Len(t, u, 1)
	// STORE before CONDSTORE is enabled: no MODSEQ yet.
	assert.Equal(t, `* 2 FETCH (FLAGS (\Seen))`, u[0])
	top := statusModSeq(t, c, "INBOX")
	ts := strconv.FormatUint(top, 10)

	assert.Equal(t, []string{"* SEARCH 2 (MODSEQ " + ts + ")"}, c.ok("Q1", "SEARCH MODSEQ "+ts))
	assert.Equal(t, []string{"* SEARCH 2 (MODSEQ " + ts + ")"}, c.ok("Q2", `UID SEARCH MODSEQ "/flags/\\Seen" all `+ts))
	assert.Equal(t, []string{"* SEARCH"}, c.ok("Q3", "SEARCH MODSEQ "+strconv.FormatUint(top+1, 10)), "no match, no MODSEQ")
	u = c.ok("Q4", "SEARCH MODSEQ 0")
	assert.Equal(t, []string{"* SEARCH 1 2 3 (MODSEQ " + ts + ")"}, u)
	assert.Equal(t, []string{"* SEARCH 1 3"}, c.ok("Q5", "SEARCH UNSEEN"), "no MODSEQ without the key")
	u = c.ok("Q6", "SEARCH RETURN (MIN COUNT) OR MODSEQ 1 SEEN")
	assert.Equal(t, []string{`* ESEARCH (TAG "Q6") MIN 1 COUNT 3 MODSEQ ` + ts}, u)
	u = c.ok("Q7", "SEARCH RETURN (MIN) MODSEQ 1")
	assert.Regexp(t, `^\* ESEARCH \(TAG "Q7"\) MIN 1 MODSEQ \d+$`, u[0])
	assert.NotContains(t, u[0], "MODSEQ "+ts, "MIN alone reports the MODSEQ of message 1")

	for _, bad := range []string{
		"SEARCH MODSEQ",
		"SEARCH MODSEQ x",
		`SEARCH MODSEQ "/other/x" all 1`,
		`SEARCH MODSEQ "/flags/\\Seen" bogus 1`,
		`SEARCH MODSEQ "/flags/\\Seen" 1`,
	} {
		_, done := c.cmd("B1", bad)
		assert.True(t, strings.HasPrefix(done, "B1 BAD"), "%s -> %s", bad, done)
	}
}

// TestCondstoreEnabledByCommand: the first CONDSTORE-enabling command in a
// session with a mailbox selected sends an untagged OK [HIGHESTMODSEQ]
// before its tagged OK (RFC 7162 3.1), later ones do not, and from then on
// the session is CONDSTORE-enabled: flag changes by another session come
// with MODSEQ (issue 15, defect 3).
func TestCondstoreEnabledByCommand(t *testing.T) {
	for _, cmd := range []string{
		"FETCH 1 (MODSEQ)",
		"UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1)",
		"SEARCH MODSEQ 1",
		"UID SEARCH RETURN (COUNT) MODSEQ 1",
		`STORE 1 (UNCHANGEDSINCE 100) +FLAGS.SILENT (\Answered)`,
		"STATUS Trash (HIGHESTMODSEQ)",
	} {
		t.Run(cmd, func(t *testing.T) {
			ts, c := condstoreSetup(t)
			c.ok("S1", "SELECT INBOX")
			u := c.ok("C1", cmd)
			require.NotEmpty(t, u)
			hms := statusModSeqOf(t, ts)
			assert.Equal(t, "* OK [HIGHESTMODSEQ "+strconv.FormatUint(hms, 10)+"] Highest", u[len(u)-1],
				"the last untagged response before the tagged OK: %q", u)
			for _, l := range u[:len(u)-1] {
				assert.NotContains(t, l, "OK [HIGHESTMODSEQ", "once only: %q", u)
			}
			// Enabled once: a second command says nothing of it.
			for _, l := range c.ok("C2", cmd) {
				assert.NotContains(t, l, "OK [HIGHESTMODSEQ", cmd)
			}
			// CONDSTORE-enabled: another session's flag change comes with
			// UID and MODSEQ (RFC 7162 3.1.4).
			other := ts.dial()
			other.login()
			other.ok("O1", "SELECT INBOX")
			other.ok("O2", `STORE 2 +FLAGS.SILENT (\Flagged)`)
			u = c.ok("N1", "NOOP")
			require.Len(t, u, 1)
			assert.Regexp(t, `^\* 2 FETCH \(UID 2 MODSEQ \(\d+\) FLAGS \(\\Flagged\)\)$`, u[0])
		})
	}
	// Without a selected mailbox there is no HIGHESTMODSEQ to announce.
	_, c := condstoreSetup(t)
	u := c.ok("T1", "STATUS INBOX (HIGHESTMODSEQ)")
	assert.Len(t, u, 1)
}

// statusModSeqOf returns INBOX's HIGHESTMODSEQ as the store has it.
func statusModSeqOf(t *testing.T, ts *testServer) uint64 {
	t.Helper()
	u, err := ts.cfg.Store.OpenUser(context.Background(), "demo")
	require.NoError(t, err)
	st, err := u.Status(context.Background(), "INBOX")
	require.NoError(t, err)
	return st.HighestModSeq
}
