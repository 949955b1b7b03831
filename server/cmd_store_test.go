package server

import (
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
		{`STORE 1:2 +FLAGS \Flagged $Work`, []string{
			// A keyword new to the mailbox is announced first (RFC 9051
			// 7.3.5).
			`* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Work)`,
			`* OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Work \*)] Flags permitted`,
			`* 1 FETCH (FLAGS (\Seen \Flagged $Work))`, `* 2 FETCH (FLAGS (\Flagged $Work))`}},
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

// flagChecker follows the FLAGS responses a session receives and checks
// that every flag of every FETCH FLAGS was listed, in the same spelling,
// in the last of them (RFC 9051 7.3.5, RFC 3501 7.2.6).
type flagChecker struct {
	t     testing.TB
	known map[string]bool
	// keywords counts the distinct keywords seen in FETCH responses.
	keywords map[string]bool
}

var (
	flagsRespRe = regexp.MustCompile(`^\* FLAGS \(([^)]*)\)$`)
	fetchFlagRe = regexp.MustCompile(`^\* \d+ FETCH \(.*FLAGS \(([^)]*)\)`)
)

func newFlagChecker(t testing.TB) *flagChecker {
	return &flagChecker{t: t, known: map[string]bool{}, keywords: map[string]bool{}}
}

// see checks one response line and reports whether it was a FETCH that
// carried flags.
func (fc *flagChecker) see(l string) bool {
	fc.t.Helper()
	if m := flagsRespRe.FindStringSubmatch(l); m != nil {
		fc.known = map[string]bool{}
		for _, f := range strings.Fields(m[1]) {
			fc.known[f] = true
		}
		return false
	}
	m := fetchFlagRe.FindStringSubmatch(l)
	if m == nil {
		return false
	}
	for _, f := range strings.Fields(m[1]) {
		if strings.EqualFold(f, `\Recent`) {
			continue // a session flag, never in FLAGS
		}
		// Spelt as FLAGS spelt it: clients compare the strings.
		require.True(fc.t, fc.known[f], "flag %s used before a FLAGS response listed it: %q", f, l)
		if !strings.HasPrefix(f, `\`) {
			fc.keywords[f] = true
		}
	}
	return true
}

func (fc *flagChecker) seeAll(lines []string) {
	fc.t.Helper()
	for _, l := range lines {
		fc.see(l)
	}
}

// TestKeywordsAnnouncedBeforeUse: a keyword new to the mailbox reaches a
// session that has it selected in FLAGS and PERMANENTFLAGS before any
// response uses it, whoever brought it (this session's STORE, another
// session's STORE seen through NOOP, FETCH or an IDLE push, an APPEND,
// COPY or MOVE into the mailbox), and under concurrent load (issue 15,
// defect 1).
func TestKeywordsAnnouncedBeforeUse(t *testing.T) {
	ts := newTestServer(t)
	for range 3 {
		appendMsg(t, ts, "INBOX", fixturePlain)
	}
	appendMsg(t, ts, "Archive", fixturePlain, "$FromArchive")
	c := ts.dial()
	c.login()
	fc := newFlagChecker(t)
	fc.seeAll(c.ok("S1", "SELECT INBOX"))
	other := ts.dial()
	other.login()
	other.ok("O1", "SELECT INBOX")

	// This session's own STORE.
	u := c.ok("A1", `STORE 1 +FLAGS ($Own)`)
	require.Len(t, u, 3, "%q", u)
	assert.Equal(t, `* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Own)`, u[0])
	assert.Equal(t, `* OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Own \*)] Flags permitted`, u[1])
	fc.seeAll(u)
	// Known now: not announced again, and spelt as FLAGS spelt it
	// whatever the case the client used (keywords are case-insensitive).
	u = c.ok("A2", `STORE 2 +FLAGS ($own)`)
	assert.Equal(t, []string{`* 2 FETCH (FLAGS ($Own))`}, u)
	assert.Equal(t, []string{`* 1 FETCH (FLAGS ($Own))`, `* 2 FETCH (FLAGS ($Own))`}, c.ok("A2F", "FETCH 1:2 FLAGS"))

	// Another session's STORE, seen through NOOP.
	other.ok("O2", `STORE 2 +FLAGS.SILENT ($Other)`)
	u = c.ok("A3", "NOOP")
	fc.seeAll(u)
	assert.Contains(t, u, `* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Own $Other)`)

	// Another session's STORE, then this session's FETCH FLAGS.
	other.ok("O3", `STORE 3 +FLAGS.SILENT ($Fetched)`)
	fc.seeAll(c.ok("A4", "FETCH 1:* (FLAGS)"))

	// An APPEND with a new keyword, then FETCH.
	other.ok("O4", "APPEND INBOX ($Appended) {5+}\r\nX: y\r\n")
	fc.seeAll(c.ok("A5", "NOOP"))
	fc.seeAll(c.ok("A6", "FETCH 4 (FLAGS)"))

	// COPY and MOVE into the mailbox bring the keywords of their messages.
	other.ok("O5", "SELECT Archive")
	other.ok("O6", "COPY 1 INBOX")
	other.ok("O7", `STORE 1 +FLAGS.SILENT ($Moved)`)
	other.ok("O8", "MOVE 1 INBOX")
	fc.seeAll(c.ok("A7", "NOOP"))
	fc.seeAll(c.ok("A8", "UID FETCH 1:* (FLAGS)"))
	for _, k := range []string{"$Own", "$Other", "$Fetched", "$Appended", "$FromArchive", "$Moved"} {
		assert.True(t, fc.keywords[k], "keyword %s was fetched", k)
	}

	// An IDLE push of another session's new keyword.
	other.ok("O9", "SELECT INBOX")
	c.send("I1 IDLE\r\n")
	require.Equal(t, "+ idling", c.line())
	other.ok("O10", `STORE 1 +FLAGS.SILENT ($Pushed)`)
	for !fc.see(c.line()) {
	}
	c.send("DONE\r\n")
	u, done := c.until("I1")
	require.True(t, strings.HasPrefix(done, "I1 OK"), done)
	fc.seeAll(u)
	assert.True(t, fc.keywords["$Pushed"])
}

// TestKeywordsAnnouncedUnderLoad: sessions storing new keywords
// concurrently; an idling session and a polling session check every FETCH
// they receive against their last FLAGS.
func TestKeywordsAnnouncedUnderLoad(t *testing.T) {
	ts := newTestServer(t)
	for range 5 {
		appendMsg(t, ts, "INBOX", fixturePlain)
	}
	const writers, stores = 3, 30
	idler := ts.dial()
	idler.login()
	ifc := newFlagChecker(t)
	ifc.seeAll(idler.ok("S1", "SELECT INBOX"))
	idler.send("I1 IDLE\r\n")
	require.Equal(t, "+ idling", idler.line())
	poller := ts.dial()
	poller.login()
	pfc := newFlagChecker(t)
	pfc.seeAll(poller.ok("S1", "SELECT INBOX"))

	var wg sync.WaitGroup
	for w := range writers {
		wc := ts.dial()
		wc.login()
		wc.ok("S1", "SELECT INBOX")
		wg.Go(func() {
			for i := range stores {
				seq := strconv.Itoa(i%5 + 1)
				wc.ok("W", "STORE "+seq+" +FLAGS.SILENT ($k"+strconv.Itoa(w)+"x"+strconv.Itoa(i)+")")
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for polling := true; polling; {
		select {
		case <-done:
			polling = false
		default:
		}
		pfc.seeAll(poller.ok("P", "NOOP"))
		pfc.seeAll(poller.ok("F", "FETCH 1:* (FLAGS)"))
	}
	pfc.seeAll(poller.ok("P", "NOOP"))
	assert.Len(t, pfc.keywords, writers*stores)
	// The idler ends IDLE and checks everything it was pushed.
	idler.send("DONE\r\n")
	u, d := idler.until("I1")
	require.True(t, strings.HasPrefix(d, "I1 OK"), d)
	ifc.seeAll(u)
	ifc.seeAll(idler.ok("N", "NOOP"))
	ifc.seeAll(idler.ok("F", "FETCH 1:* (FLAGS)"))
	assert.Len(t, ifc.keywords, writers*stores)
}
