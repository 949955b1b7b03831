package server

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// subjectMsg is a message with the given subject.
func subjectMsg(subject string) string {
	return "From: a@example.org\r\nSubject: " + subject + "\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\n\r\nbody\r\n"
}

// contextServer starts a server whose INBOX holds n messages with UIDs 1
// to n and the subjects s1, s2, ..., and two logged-in clients with INBOX
// selected.
func contextServer(t *testing.T, n int, mutate ...func(*Config)) (ts *testServer, c, other *client) {
	t.Helper()
	ts = newTestServer(t, mutate...)
	for i := 1; i <= n; i++ {
		require.Equal(t, uint32(i), appendMsg(t, ts, "INBOX", subjectMsg(fmt.Sprintf("s%d", i))))
	}
	c, other = ts.dial(), ts.dial()
	for _, x := range []*client{c, other} {
		x.login()
		x.ok("S0", "SELECT INBOX")
	}
	return ts, c, other
}

// TestContextCapability checks that CONTEXT=SEARCH and CONTEXT=SORT are
// advertised after login, with ESORT and ESEARCH.
func TestContextCapability(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	caps := strings.Fields(c.ok("C1", "CAPABILITY")[0])
	for _, want := range []string{"CONTEXT=SEARCH", "CONTEXT=SORT", "ESORT", "ESEARCH", "SORT"} {
		assert.Contains(t, caps, want)
	}
}

// TestContextRFCExamples runs the examples of RFC 5267 4.2 to 4.3.5: the
// CONTEXT hint, UPDATE with COUNT, tag reuse refused, ADDTO after the
// FETCH of a flag change by another session, REMOVEFROM before the
// EXPUNGE, and CANCELUPDATE.
func TestContextRFCExamples(t *testing.T) {
	_, c, other := contextServer(t, 6)
	other.ok("O1", `STORE 1:2 +FLAGS ($Junk)`)
	c.ok("N0", "NOOP")

	// 4.2: the CONTEXT hint changes nothing.
	assert.Equal(t, []string{`* ESEARCH (TAG "A01") COUNT 4`}, c.ok("A01", "SEARCH RETURN (CONTEXT COUNT) UNDELETED UNKEYWORD $Junk"))

	// 4.3: UPDATE with COUNT; the tag cannot be reused while its context
	// lives, and the refused command has no effect.
	assert.Equal(t, []string{`* ESEARCH (TAG "B01") UID COUNT 0`}, c.ok("B01", "UID SEARCH RETURN (UPDATE COUNT) DELETED KEYWORD $Junk"))
	u, done := c.cmd("B01", "SORT RETURN (UPDATE) (SUBJECT) UTF-8 FLAGGED")
	assert.Empty(t, u)
	assert.True(t, strings.HasPrefix(done, "B01 BAD Tag reuse"), done)

	// 4.3.3: another session sets \Deleted on messages 1 and 2: after
	// their FETCH, an ADDTO at position 0 in mailbox order, not a COUNT.
	other.ok("O2", `STORE 1:2 +FLAGS (\Deleted)`)
	u = c.ok("N1", "NOOP")
	require.Len(t, u, 3, "%q", u)
	assert.Regexp(t, `^\* 1 FETCH \(UID 1 FLAGS \(.*\\Deleted`, u[0])
	assert.Regexp(t, `^\* 2 FETCH \(UID 2 FLAGS \(.*\\Deleted`, u[1])
	assert.Equal(t, `* ESEARCH (TAG "B01") UID ADDTO (0 1:2)`, u[2])

	// 4.3.4: message 1 is expunged; the REMOVEFROM comes before the
	// EXPUNGE, while the number is valid.
	other.ok("O3", "UID EXPUNGE 1")
	assert.Equal(t, []string{`* ESEARCH (TAG "B01") UID REMOVEFROM (0 1)`, "* 1 EXPUNGE"}, c.ok("B03", "NOOP"))

	// 4.3.5: after CANCELUPDATE no more updates.
	assert.Empty(t, c.ok("B04", `CANCELUPDATE "B01"`))
	other.ok("O4", `STORE 3 +FLAGS (\Deleted $Junk)`)
	u = c.ok("N2", "NOOP")
	assert.Len(t, u, 1, "only the FETCH: %q", u)
	// The tag may name a new context now.
	c.ok("B01", "UID SEARCH RETURN (UPDATE) DELETED")
}

// TestContextNoUpdate checks the refusal of RFC 5267 4.3.1: beyond the
// configured contexts the search is answered, then an untagged
// NO [NOUPDATE "tag"], and no update follows for it.
func TestContextNoUpdate(t *testing.T) {
	_, c, other := contextServer(t, 3, func(cfg *Config) { cfg.MaxUpdateContexts = 1 })
	c.ok("B01", "UID SEARCH RETURN (UPDATE COUNT) FLAGGED")
	u := c.ok("B02", "UID SORT RETURN (UPDATE COUNT) (SUBJECT) UTF-8 FLAGGED")
	assert.Equal(t, []string{`* ESEARCH (TAG "B02") UID COUNT 0`, `* NO [NOUPDATE "B02"] Too many update contexts; cancel one with CANCELUPDATE`}, u)
	other.ok("O1", `STORE 2 +FLAGS (\Flagged)`)
	u = c.ok("N1", "NOOP")
	assert.Equal(t, `* ESEARCH (TAG "B01") UID ADDTO (0 2)`, u[len(u)-1])
	assert.NotContains(t, strings.Join(u, "\n"), `"B02"`)
}

// TestContextSequenceNumbers checks a SEARCH (not UID) context: updates
// carry sequence numbers, ADDTO of a new message after its EXISTS, and
// sequence numbers in the search program stay bound to the messages they
// named when the command ran (RFC 5267 4.3).
func TestContextSequenceNumbers(t *testing.T) {
	ts, c, other := contextServer(t, 4)
	assert.Equal(t, []string{`* ESEARCH (TAG "C1")`}, c.ok("C1", "SEARCH RETURN (UPDATE) 2:4 FLAGGED"))
	c.ok("C2", "SEARCH RETURN (UPDATE) UNSEEN")
	other.ok("O1", `STORE 1 +FLAGS (\Deleted)`)
	other.ok("O1", "UID EXPUNGE 1")
	other.ok("O2", `STORE 1:3 +FLAGS (\Flagged)`) // UIDs 2, 3, 4
	u := c.ok("N1", "NOOP")
	assert.Equal(t, []string{`* ESEARCH (TAG "C2") REMOVEFROM (0 1)`, "* 1 EXPUNGE"}, u[:2])
	assert.Equal(t, `* ESEARCH (TAG "C1") ADDTO (0 1:3)`, u[len(u)-1], "%q", u)

	// A new message: after EXISTS, in C2 (unseen) but not C1 (2:4 was
	// UIDs 2 to 4 when C1 ran).
	appendMsg(t, ts, "INBOX", subjectMsg("s5"), `\Flagged`)
	u = c.ok("N2", "NOOP")
	require.Len(t, u, 3, "%q", u)
	assert.Equal(t, "* 4 EXISTS", u[0])
	assert.Equal(t, `* ESEARCH (TAG "C2") ADDTO (0 4)`, u[2], "after EXISTS")

	// This session's own STORE and FETCH change flags too.
	u = c.ok("S1", `STORE 2 -FLAGS (\Flagged)`)
	assert.Equal(t, `* ESEARCH (TAG "C1") REMOVEFROM (0 2)`, u[len(u)-1], "%q", u)
	u = c.ok("F1", "FETCH 1 BODY[TEXT]")
	assert.Equal(t, `* ESEARCH (TAG "C2") REMOVEFROM (0 1)`, u[len(u)-1], "%q", u)

	// This session's own EXPUNGE: REMOVEFROM first.
	c.ok("S2", `STORE 3 +FLAGS (\Deleted)`)
	u = c.ok("E1", "EXPUNGE")
	assert.Equal(t, []string{`* ESEARCH (TAG "C1") REMOVEFROM (0 3)`, `* ESEARCH (TAG "C2") REMOVEFROM (0 3)`, "* 3 EXPUNGE"}, u)

	// Closing the mailbox ends every context.
	c.ok("U1", "UNSELECT")
	c.ok("S3", "SELECT INBOX")
	other.ok("O3", `STORE 1:* -FLAGS (\Flagged)`)
	assert.NotContains(t, strings.Join(c.ok("N3", "NOOP"), "\n"), "ESEARCH")
}

// TestContextSort checks a SORT context: each change at its position in
// the sorted results, in the order the client applies them (RFC 5267
// 4.3.3, 4.3.4), and the results stay those a new SORT would return.
func TestContextSort(t *testing.T) {
	ts := newTestServer(t)
	for _, s := range []string{"delta", "bravo", "foxtrot", "alpha"} { // UIDs 1 to 4
		appendMsg(t, ts, "INBOX", subjectMsg(s))
	}
	c, other := ts.dial(), ts.dial()
	for _, x := range []*client{c, other} {
		x.login()
		x.ok("S0", "SELECT INBOX")
	}
	assert.Equal(t, []string{`* ESEARCH (TAG "R1") UID ALL 4,2,1,3`}, c.ok("R1", "UID SORT RETURN (UPDATE ALL) (SUBJECT) UTF-8 UNSEEN"))
	assert.Equal(t, []string{`* ESEARCH (TAG "R2") ALL 3,1:2,4`}, c.ok("R2", "SORT RETURN (UPDATE ALL) (REVERSE SUBJECT) UTF-8 UNSEEN"))

	appendMsg(t, ts, "INBOX", subjectMsg("charlie")) // UID 5, between bravo and delta
	u := c.ok("N1", "NOOP")
	require.Len(t, u, 4, "%q", u)
	assert.Equal(t, "* 5 EXISTS", u[0])
	assert.Regexp(t, `^\* \d RECENT$`, u[1], "IMAP4rev1: RECENT after EXISTS")
	assert.Equal(t, []string{`* ESEARCH (TAG "R1") UID ADDTO (3 5)`, `* ESEARCH (TAG "R2") ADDTO (3 5)`}, u[2:], "after EXISTS")

	other.ok("O1", `STORE 2,4 +FLAGS (\Seen)`) // bravo and alpha
	u = c.ok("N2", "NOOP")
	assert.Equal(t, `* ESEARCH (TAG "R1") UID REMOVEFROM (2 2 1 4)`, u[len(u)-2], "%q", u)
	assert.Equal(t, `* ESEARCH (TAG "R2") REMOVEFROM (4 2 4 4)`, u[len(u)-1], "%q", u)

	other.ok("O2", `STORE 2 -FLAGS (\Seen)`)
	u = c.ok("N3", "NOOP")
	assert.Equal(t, `* ESEARCH (TAG "R1") UID ADDTO (1 2)`, u[len(u)-2], "%q", u)
	assert.Equal(t, `* ESEARCH (TAG "R2") ADDTO (4 2)`, u[len(u)-1], "%q", u)

	other.ok("O4", `STORE 1 +FLAGS (\Deleted)`)
	other.ok("O5", "EXPUNGE")
	u = c.ok("N4", "NOOP")
	assert.Equal(t, []string{`* ESEARCH (TAG "R1") UID REMOVEFROM (3 1)`, `* ESEARCH (TAG "R2") REMOVEFROM (2 1)`, "* 1 EXPUNGE"}, u[len(u)-3:], "%q", u)

	// The kept results are what a new SORT returns.
	assert.Equal(t, []string{`* ESEARCH (TAG "R3") UID ALL 2,5,3`}, c.ok("R3", "UID SORT RETURN () (SUBJECT) UTF-8 UNSEEN"))
	assert.Equal(t, []string{`* ESEARCH (TAG "R4") ALL 2,4,1`}, c.ok("R4", "SORT RETURN () (REVERSE SUBJECT) UTF-8 UNSEEN"))
}

// TestContextPartial checks PARTIAL (RFC 5267 4.4): a window of the
// results in the requested order, the range in either order, NIL past the
// end, and BAD with ALL or twice.
func TestContextPartial(t *testing.T) {
	ts := newTestServer(t)
	for _, s := range []string{"delta", "bravo", "foxtrot", "alpha", "echo"} {
		appendMsg(t, ts, "INBOX", subjectMsg(s))
	}
	c := ts.dial()
	c.login()
	c.ok("S0", "SELECT INBOX")
	assert.Equal(t, []string{`* ESEARCH (TAG "P1") UID PARTIAL (2:4 2:4)`}, c.ok("P1", "UID SEARCH RETURN (PARTIAL 2:4) ALL"))
	assert.Equal(t, []string{`* ESEARCH (TAG "P2") COUNT 5 PARTIAL (4:10 4:5)`}, c.ok("P2", "SEARCH RETURN (COUNT PARTIAL 10:4) ALL"))
	assert.Equal(t, []string{`* ESEARCH (TAG "P3") PARTIAL (6:9 NIL)`}, c.ok("P3", "SEARCH RETURN (PARTIAL 6:9) ALL"))
	assert.Equal(t, []string{`* ESEARCH (TAG "P4") UID PARTIAL (1:3 4,2,1)`}, c.ok("P4", "UID SORT RETURN (PARTIAL 1:3) (SUBJECT) UTF-8 ALL"))
	for _, bad := range []string{
		"SEARCH RETURN (PARTIAL 1:2 ALL) ALL",
		"SEARCH RETURN (PARTIAL 1:2 PARTIAL 3:4) ALL",
		"SEARCH RETURN (PARTIAL 0:2) ALL",
		"SEARCH RETURN (PARTIAL 1:*) ALL",
		"SEARCH RETURN (PARTIAL 5) ALL",
		"SEARCH RETURN (PARTIAL) ALL",
	} {
		_, done := c.cmd("B1", bad)
		assert.True(t, strings.HasPrefix(done, "B1 BAD "), "%s -> %s", bad, done)
	}
}

// TestContextResultsStayExact is the check behind the examples: after a
// run of changes by both sessions, the results each context reported
// (applying its ADDTO and REMOVEFROM in order) equal those of a fresh
// search. A context that missed a change, or placed it wrongly, fails it.
func TestContextResultsStayExact(t *testing.T) {
	ts := newTestServer(t)
	subjects := []string{"kilo", "alpha", "juliet", "echo", "golf", "bravo", "india", "hotel"}
	for _, s := range subjects {
		appendMsg(t, ts, "INBOX", subjectMsg(s))
	}
	c, other := ts.dial(), ts.dial()
	for _, x := range []*client{c, other} {
		x.login()
		x.ok("S0", "SELECT INBOX")
	}
	kept := map[string][]string{
		"K1": parseAll(t, c.ok("K1", "UID SORT RETURN (UPDATE ALL) (SUBJECT) UTF-8 UNFLAGGED")),
		"K2": parseAll(t, c.ok("K2", "UID SEARCH RETURN (UPDATE ALL) UNFLAGGED")),
	}
	// The mutant: a client of a server that failed to send its ADDTO
	// items ends with other results, so the check below can fail.
	lossy := map[string][]string{"K1": slices.Clone(kept["K1"]), "K2": slices.Clone(kept["K2"])}
	apply := func(l string) {
		applyContextUpdate(t, kept, l, true)
		if !strings.Contains(l, "ADDTO") {
			applyContextUpdate(t, lossy, l, false)
		}
	}
	steps := []struct {
		who  *client
		line string
	}{
		{other, `STORE 2,5 +FLAGS (\Flagged)`},
		{c, `UID STORE 1 +FLAGS (\Flagged)`},
		{other, `STORE 2 -FLAGS (\Flagged)`},
		{other, `STORE 3 +FLAGS (\Deleted)`},
		{other, "EXPUNGE"},
		{c, `UID STORE 8 +FLAGS (\Flagged \Deleted)`},
		{c, "UID EXPUNGE 8"},
		{other, `STORE 1:* -FLAGS (\Flagged)`},
	}
	for i, s := range steps {
		out := s.who.ok(fmt.Sprintf("T%d", i), s.line)
		if s.who == c {
			// This session's own changes are reported with its command.
			for _, l := range out {
				apply(l)
			}
		}
		for _, l := range c.ok(fmt.Sprintf("N%d", i), "NOOP") {
			apply(l)
		}
	}
	appendMsg(t, ts, "INBOX", subjectMsg("delta"))
	for _, l := range c.ok("N", "NOOP") {
		apply(l)
	}
	fresh1 := parseAll(t, c.ok("F1", "UID SORT RETURN (ALL) (SUBJECT) UTF-8 UNFLAGGED"))
	fresh2 := parseAll(t, c.ok("F2", "UID SEARCH RETURN (ALL) UNFLAGGED"))
	assert.Equal(t, fresh1, kept["K1"])
	assert.Equal(t, fresh2, kept["K2"])
	assert.NotEqual(t, fresh1, lossy["K1"], "mutant: without the ADDTO items the results differ")
	assert.NotEqual(t, fresh2, lossy["K2"], "mutant: without the ADDTO items the results differ")
}

// parseAll returns the numbers of the ALL item of a one-line ESEARCH
// answer, ranges expanded.
func parseAll(t *testing.T, u []string) []string {
	t.Helper()
	require.Len(t, u, 1)
	_, all, ok := strings.Cut(u[0], " ALL ")
	require.True(t, ok, u[0])
	return expandSet(t, all)
}

func expandSet(t *testing.T, set string) []string {
	t.Helper()
	var out []string
	for _, part := range strings.Split(set, ",") {
		lo, hi, isRange := strings.Cut(part, ":")
		if !isRange {
			out = append(out, lo)
			continue
		}
		var a, b int
		_, err := fmt.Sscanf(lo+" "+hi, "%d %d", &a, &b)
		require.NoError(t, err)
		for n := a; n <= b; n++ {
			out = append(out, fmt.Sprint(n))
		}
	}
	return out
}

// applyContextUpdate applies the ADDTO and REMOVEFROM items of an ESEARCH
// line to the kept results, as a client does (RFC 5267 4.3.3, 4.3.4).
// strict requires each positional removal to name what is at its
// position.
func applyContextUpdate(t *testing.T, kept map[string][]string, line string, strict bool) {
	t.Helper()
	rest, ok := strings.CutPrefix(line, `* ESEARCH (TAG "`)
	if !ok {
		return
	}
	tag, rest, _ := strings.Cut(rest, `")`)
	rest = strings.TrimPrefix(rest, " UID")
	for rest != "" {
		rest = strings.TrimPrefix(rest, " ")
		item, after, _ := strings.Cut(rest, " (")
		body, next, _ := strings.Cut(after, ")")
		rest = next
		f := strings.Fields(body)
		for i := 0; i+1 < len(f); i += 2 {
			var pos int
			_, err := fmt.Sscan(f[i], &pos)
			require.NoError(t, err)
			nums := expandSet(t, f[i+1])
			res := kept[tag]
			switch {
			case item == "ADDTO" && pos == 0:
				res = append(res, nums...)
				slices.SortFunc(res, func(a, b string) int { return len(a)*1000 - len(b)*1000 + strings.Compare(a, b) })
			case item == "ADDTO":
				res = slices.Insert(res, pos-1, nums...)
			case item == "REMOVEFROM" && pos == 0:
				res = slices.DeleteFunc(res, func(s string) bool { return slices.Contains(nums, s) })
			case item == "REMOVEFROM" && !strict:
				res = slices.DeleteFunc(res, func(s string) bool { return slices.Contains(nums, s) })
			case item == "REMOVEFROM":
				require.Equal(t, nums, res[pos-1:pos-1+len(nums)], "%s: removal at %d", line, pos)
				res = slices.Delete(res, pos-1, pos-1+len(nums))
			default:
				t.Fatalf("unexpected item %q in %s", item, line)
			}
			kept[tag] = res
		}
	}
}

// TestContextDuringIdle checks that updates reach an idling client with
// the changes that cause them (RFC 5267 4.3.2), without waiting for DONE.
func TestContextDuringIdle(t *testing.T) {
	ts, c, other := contextServer(t, 2)
	c.ok("I1", "UID SEARCH RETURN (UPDATE) FLAGGED")
	c.send("I2 IDLE\r\n")
	require.True(t, strings.HasPrefix(c.line(), "+ "))
	other.ok("O1", `STORE 2 +FLAGS (\Flagged)`)
	assert.Regexp(t, `^\* 2 FETCH \(UID 2 FLAGS \(.*\\Flagged`, c.line())
	assert.Equal(t, `* ESEARCH (TAG "I1") UID ADDTO (0 2)`, c.line())
	appendMsg(t, ts, "INBOX", subjectMsg("new"), `\Flagged`)
	assert.Equal(t, "* 3 EXISTS", c.line())
	l := c.line()
	if strings.HasSuffix(l, " RECENT") {
		l = c.line()
	}
	assert.Equal(t, `* ESEARCH (TAG "I1") UID ADDTO (0 3)`, l)
	c.send("DONE\r\n")
	_, done := c.until("I2")
	assert.Equal(t, "I2 OK IDLE terminated", done)
}
