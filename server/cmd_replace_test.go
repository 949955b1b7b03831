package server

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// replacement is the new text of a draft.
const replacement = "From: a@example.org\r\nSubject: draft, second version\r\n\r\nLonger text\r\n"

// draftsWithThree fills Drafts with three messages (UIDs 1 to 3) and
// selects it.
func draftsWithThree(t *testing.T, c *client) uint64 {
	t.Helper()
	for range 3 {
		appendMessage(t, c, "Drafts", "")
	}
	uidValidity := statusValue(t, c, "Drafts", "UIDVALIDITY")
	c.ok("S1", "SELECT Drafts")
	return uidValidity
}

// TestReplace follows RFC 8508 3.3's example: the new message is appended
// with its flags, the old one expunged, with APPENDUID in an untagged OK,
// EXPUNGE and EXISTS before the tagged OK; another session with the
// mailbox selected sees the same change.
func TestReplace(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	assert.Contains(t, strings.Fields(c.ok("C1", "CAPABILITY")[0]), "REPLACE")
	uidValidity := draftsWithThree(t, c)
	other := ts.dial()
	other.login()
	other.ok("S2", "SELECT Drafts")

	c.send(fmt.Sprintf("R1 REPLACE 2 Drafts (\\Seen \\Draft) {%d}\r\n", len(replacement)))
	require.Equal(t, "+ Ready for literal data", c.line())
	c.send(replacement + "\r\n")
	untagged, done := c.until("R1")
	assert.Equal(t, "R1 OK REPLACE completed", done)
	assert.Equal(t, []string{
		fmt.Sprintf("* OK [APPENDUID %d 4] Replacement message ready", uidValidity),
		"* 2 EXPUNGE",
		"* 3 EXISTS",
		"* 3 RECENT", // the session claimed the first three at SELECT
	}, untagged)

	msgs := storedMessages(t, ts, "Drafts")
	require.Len(t, msgs, 3)
	assert.Equal(t, []uint32{1, 3, 4}, []uint32{msgs[0].UID, msgs[1].UID, msgs[2].UID})
	assert.ElementsMatch(t, []string{`\Seen`, `\Draft`}, msgs[2].Flags)
	assert.Equal(t, int64(len(replacement)), msgs[2].Size)
	assert.Empty(t, msgs[0].Flags, "no other message is touched")

	lines := other.ok("N1", "NOOP")
	assert.Contains(t, lines, "* 2 EXPUNGE")
	assert.Contains(t, lines, "* 3 EXISTS")
}

// TestUIDReplaceElsewhere replaces by UID into another mailbox: the
// APPENDUID names that mailbox, only the expunge is reported here; with
// QRESYNC enabled the expunge is a VANISHED.
func TestUIDReplaceElsewhere(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	c.ok("E1", "ENABLE QRESYNC")
	draftsWithThree(t, c)
	sentValidity := statusValue(t, c, "Sent", "UIDVALIDITY")
	untagged, done := c.cmd("R1", fmt.Sprintf("UID REPLACE 3 Sent {%d+}\r\n%s", len(replacement), replacement))
	assert.Regexp(t, `^R1 OK \[HIGHESTMODSEQ \d+\] REPLACE completed$`, done)
	assert.Equal(t, []string{
		fmt.Sprintf("* OK [APPENDUID %d 1] Replacement message ready", sentValidity),
		"* VANISHED 3",
	}, untagged)
	assert.Len(t, storedMessages(t, ts, "Drafts"), 2)
	assert.Len(t, storedMessages(t, ts, "Sent"), 1)
}

// TestReplaceErrors: whatever is refused leaves both mailboxes as they
// were, and the session in step. A missing message or mailbox is refused
// before the client is invited to send a synchronising literal.
func TestReplaceErrors(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Limits.MaxAppendLiteral = 200 })
	c := ts.dial()
	c.login()
	sent := sendAsync(c, fmt.Sprintf("R0 REPLACE 1 Drafts {%d+}\r\n%s\r\n", len(replacement), replacement))
	_, done := c.until("R0")
	require.NoError(t, <-sent)
	assert.Equal(t, "R0 BAD No mailbox selected; use SELECT or EXAMINE first", done)
	draftsWithThree(t, c)
	tests := []struct {
		name string
		send string
		want string
	}{
		{"no such message, sync", "R1 REPLACE 4 Drafts {5}\r\n", "R1 NO [NONEXISTENT] No such message"},
		{"no such UID, non-sync", "R1 UID REPLACE 9 Drafts {5+}\r\nhello\r\n", "R1 NO [NONEXISTENT] No such message"},
		{"missing target, sync", "R1 REPLACE 1 Nope {5}\r\n", "R1 NO [TRYCREATE] No such mailbox"},
		{"missing target, non-sync", "R1 UID REPLACE 1 Nope {5+}\r\nhello\r\n", "R1 NO [TRYCREATE] No such mailbox"},
		{"over APPENDLIMIT", "R1 REPLACE 1 Drafts {201}\r\n", "R1 NO [TOOBIG] Literal of 201 bytes exceeds limit of 200 bytes"},
		{"a range", "R1 REPLACE 1:2 Drafts {5+}\r\nhello\r\n", "R1 BAD REPLACE takes the number of one message"},
		{"a saved result", "R1 REPLACE $ Drafts {5+}\r\nhello\r\n", "R1 BAD REPLACE takes the number of one message"},
		{"bad flag", "R1 REPLACE 1 Drafts (\\Recent) {5+}\r\nhello\r\n", "R1 BAD Invalid flag"},
		{"no literal", "R1 REPLACE 1 Drafts (\\Seen) hello\r\n", "R1 BAD REPLACE needs the message as a literal"},
		{"two messages", "R1 REPLACE 1 Drafts {5+}\r\nhello {5+}\r\nworld\r\n", "R1 BAD Unexpected extra arguments"},
		{"empty message", "R1 REPLACE 1 Drafts {0+}\r\n\r\n", "R1 NO Message 1 is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sent := sendAsync(c, tt.send)
			_, done := c.until("R1")
			require.NoError(t, <-sent)
			assert.True(t, strings.HasPrefix(done, tt.want), "got %q, want %q", done, tt.want)
			c.ok("N1", "NOOP")
			assert.Len(t, storedMessages(t, ts, "Drafts"), 3)
		})
	}
	c.ok("X1", "EXAMINE Drafts")
	sent = sendAsync(c, fmt.Sprintf("R2 REPLACE 1 Drafts {%d+}\r\n%s\r\n", len(replacement), replacement))
	_, done = c.until("R2")
	require.NoError(t, <-sent)
	assert.Equal(t, "R2 NO [READ-ONLY] Mailbox is read-only (opened with EXAMINE)", done)
	assert.Len(t, storedMessages(t, ts, "Drafts"), 3)
	assert.Empty(t, storedMessages(t, ts, "Sent"))
}

// TestReplaceVanishedMailbox: when another session deleted the selected
// mailbox, REPLACE is refused before anything is appended.
func TestReplaceVanishedMailbox(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	c.ok("C1", "CREATE Vanishing")
	appendMessage(t, c, "Vanishing", "")
	c.ok("S1", "SELECT Vanishing")
	other := ts.dial()
	other.login()
	other.ok("D1", "DELETE Vanishing")
	sent := sendAsync(c, fmt.Sprintf("R1 UID REPLACE 1 INBOX {%d+}\r\n%s\r\n", len(replacement), replacement))
	_, done := c.until("R1")
	require.NoError(t, <-sent)
	assert.Equal(t, "R1 NO [NONEXISTENT] The selected mailbox no longer exists", done)
	assert.Empty(t, storedMessages(t, ts, "INBOX"))
}

// TestReplaceWithoutAtomicStore runs REPLACE on a store without
// store.Replacer: append, then flag and expunge the old message, with the
// same responses.
func TestReplaceWithoutAtomicStore(t *testing.T) {
	ts := newTestServer(t, func(cfg *Config) { cfg.Store = quotalessStore{cfg.Store} })
	c := ts.dial()
	c.login()
	uidValidity := draftsWithThree(t, c)
	untagged, done := c.cmd("R1", fmt.Sprintf("REPLACE 2 Drafts (\\Seen) {%d+}\r\n%s", len(replacement), replacement))
	assert.Equal(t, "R1 OK REPLACE completed", done)
	assert.Equal(t, []string{
		fmt.Sprintf("* OK [APPENDUID %d 4] Replacement message ready", uidValidity),
		"* 2 EXPUNGE",
		"* 3 EXISTS",
		"* 3 RECENT",
	}, untagged)
	msgs := storedMessages(t, ts, "Drafts")
	require.Len(t, msgs, 3)
	assert.Equal(t, []uint32{1, 3, 4}, []uint32{msgs[0].UID, msgs[1].UID, msgs[2].UID})
	sent := sendAsync(c, fmt.Sprintf("R2 UID REPLACE 2 Drafts {%d+}\r\n%s\r\n", len(replacement), replacement))
	_, done = c.until("R2")
	require.NoError(t, <-sent)
	assert.Equal(t, "R2 NO [NONEXISTENT] No such message; nothing was replaced", done)
}
