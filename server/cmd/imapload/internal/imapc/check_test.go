package imapc

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// feed runs a conversation through a new checker: lines starting with
// "C: " are commands sent ("C: a1 SELECT INBOX"), the others responses.
func feed(lines ...string) *Tally {
	tally := &Tally{}
	k := NewChecker(tally)
	for _, l := range lines {
		if cmd, ok := strings.CutPrefix(l, "C: "); ok {
			tag, rest, _ := strings.Cut(cmd, " ")
			k.Sent(tag, rest)
			continue
		}
		k.Received(&Response{Line: l})
	}
	return tally
}

// selectInbox is a correct SELECT of a mailbox with three messages.
var selectInbox = []string{
	"C: a1 SELECT INBOX",
	"* 3 EXISTS",
	`* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Work)`,
	`* OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Work \*)] ok`,
	"a1 OK [READ-WRITE] SELECT completed",
}

func conversation(lines ...string) []string {
	return append(append([]string{}, selectInbox...), lines...)
}

func TestCheckerPassesACorrectSession(t *testing.T) {
	tally := feed(conversation(
		"C: a2 FETCH 1:* (UID FLAGS)",
		`* 1 FETCH (UID 4 FLAGS (\Seen))`,
		`* 2 FETCH (UID 7 FLAGS (\Seen $Work \Recent))`,
		`* 3 FETCH (UID 9 FLAGS ())`,
		"a2 OK FETCH completed",
		"C: a3 UID STORE 9 +FLAGS ($New)",
		`* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Work $New)`,
		`* 3 FETCH (UID 9 FLAGS ($New))`,
		"a3 OK STORE completed",
		"C: a4 NOOP",
		"* 2 EXPUNGE",
		"* 3 EXISTS",
		`* 3 FETCH (FLAGS (\Deleted))`,
		"a4 OK NOOP completed",
		"C: a5 SEARCH ALL",
		"* SEARCH 1 2 3",
		"a5 OK SEARCH completed",
		"C: a6 UID SEARCH ALL",
		"* SEARCH 4 9 12",
		"a6 OK SEARCH completed",
		"C: a7 UID FETCH 1:* (FLAGS)",
		"* 1 EXPUNGE",
		`* 2 FETCH (UID 12 FLAGS (\Deleted))`,
		"a7 OK FETCH completed",
	)...)
	for _, v := range Violations() {
		assert.Zero(t, tally.Count(v), "%s: %v", v, tally.Examples(v))
	}
}

func TestCheckerFlagsABrokenResponseStream(t *testing.T) {
	cases := []struct {
		kind  Violation
		lines []string
	}{
		{FlagUnannounced, conversation("C: a2 STORE 1 +FLAGS ($New)", `* 1 FETCH (FLAGS (\Seen $New))`, "a2 OK done")},
		{FlagUnannounced, []string{"C: a1 SELECT INBOX", "* 1 EXISTS", `* 1 FETCH (FLAGS (\Seen))`, "a1 OK done"}},
		{FlagTwice, conversation("C: a2 FETCH 1 FLAGS", `* 1 FETCH (FLAGS (\Seen \seen))`, "a2 OK done")},
		{SeqOutOfRange, conversation("C: a2 FETCH 1:* FLAGS", `* 4 FETCH (FLAGS (\Seen))`, "a2 OK done")},
		{SeqOutOfRange, conversation("C: a2 NOOP", "* 4 EXPUNGE", "a2 OK done")},
		{SeqOutOfRange, conversation("C: a2 NOOP", "* 1 EXPUNGE", "* 1 EXPUNGE", "* 1 EXPUNGE", "* 1 EXPUNGE", "a2 OK done")},
		{SeqOutOfRange, conversation("C: a2 SEARCH ALL", "* SEARCH 1 5", "a2 OK done")},
		{ExistsShrank, conversation("C: a2 NOOP", "* 2 EXISTS", "a2 OK done")},
		{ExpungeDuringCommand, conversation("C: a2 FETCH 1:* FLAGS", "* 1 EXPUNGE", "a2 OK done")},
		{ExpungeDuringCommand, conversation("C: a2 STORE 1 +FLAGS (\\Seen)", "* 3 EXPUNGE", "a2 OK done")},
		{UIDOrder, conversation("C: a2 FETCH 1:* UID", "* 1 FETCH (UID 5)", "* 2 FETCH (UID 5)", "a2 OK done")},
		{UIDOrder, conversation("C: a2 FETCH 1:* UID", "* 2 FETCH (UID 5)", "* 2 FETCH (UID 6)", "a2 OK done")},
		{UIDOrder, conversation("C: a2 FETCH 1:* UID", "* 1 FETCH (UID 5)", "a2 OK done",
			"C: a3 NOOP", "* 1 EXPUNGE", "* 3 EXISTS", "a3 OK done", "C: a4 FETCH 3 UID", "* 3 FETCH (UID 5)", "a4 OK done")},
		{TagOrder, conversation("C: a2 NOOP", "C: a3 NOOP", "a3 OK done", "a2 OK done")},
		{TagOrder, conversation("C: a2 NOOP", "a2 OK done", "a2 OK again")},
	}
	for _, c := range cases {
		tally := feed(c.lines...)
		assert.NotZero(t, tally.Count(c.kind), "%s not found in %q", c.kind, c.lines)
		for _, v := range Violations() {
			if v != c.kind {
				assert.Zero(t, tally.Count(v), "%s found in %q: %v", v, c.lines, tally.Examples(v))
			}
		}
	}
}

func TestConnFeedsItsChecker(t *testing.T) {
	c := fakeServer(t, "* OK hi\r\n",
		"* 1 EXISTS\r\n* FLAGS (\\Seen)\r\na1 OK [READ-WRITE] done\r\n",
		"* 1 FETCH (UID 3 FLAGS (\\Seen $Junk))\r\na2 OK done\r\n")
	tally := &Tally{}
	c.SetChecker(NewChecker(tally))
	_, err := c.Expect("SELECT INBOX")
	require.NoError(t, err)
	_, err = c.Expect("FETCH 1 (UID FLAGS)")
	require.NoError(t, err)
	assert.EqualValues(t, 1, tally.Count(FlagUnannounced))
	assert.EqualValues(t, 1, tally.Total())
	require.Len(t, tally.Examples(FlagUnannounced), 1)
	assert.Contains(t, tally.Examples(FlagUnannounced)[0], "$Junk")
	assert.Equal(t, "flag-unannounced", FlagUnannounced.String())
}
