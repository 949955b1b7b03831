package server

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/store"
)

// testMessage is a small RFC 5322 message.
const testMessage = "From: a@example.org\r\nSubject: hello\r\n\r\nHello world\r\n"

// appendMessage appends testMessage with a non-synchronising literal and
// returns the tagged completion, which must be OK.
func appendMessage(t *testing.T, c *client, mailbox, flags string) string {
	t.Helper()
	if flags != "" {
		flags = " " + flags
	}
	c.send(fmt.Sprintf("AP APPEND %s%s {%d+}\r\n%s\r\n", mailbox, flags, len(testMessage), testMessage))
	_, done := c.until("AP")
	require.True(t, strings.HasPrefix(done, "AP OK [APPENDUID "), done)
	return done
}

// storedMessages reads the messages of a mailbox of demo straight from the
// store.
func storedMessages(t *testing.T, ts *testServer, mailbox string) []*store.Message {
	t.Helper()
	ctx := context.Background()
	u, err := ts.cfg.Store.OpenUser(ctx, "demo")
	require.NoError(t, err)
	info, err := u.Mailbox(ctx, mailbox)
	require.NoError(t, err)
	var msgs []*store.Message
	require.NoError(t, u.Fetch(ctx, info.ID, store.UIDSet{{Start: 1, Stop: math.MaxUint32}}, store.FetchOptions{}, func(m *store.Message) error {
		msgs = append(msgs, m.Clone())
		return nil
	}))
	return msgs
}

func TestAppendSynchronisingLiteral(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	c.send(fmt.Sprintf("A1 APPEND Drafts {%d}\r\n", len(testMessage)))
	require.Equal(t, "+ Ready for literal data", c.line(), "the server asks for the literal")
	c.send(testMessage + "\r\n")
	_, done := c.until("A1")
	uidValidity := statusValue(t, c, "Drafts", "UIDVALIDITY")
	assert.Equal(t, fmt.Sprintf("A1 OK [APPENDUID %d 1] APPEND completed", uidValidity), done)

	msgs := storedMessages(t, ts, "Drafts")
	require.Len(t, msgs, 1)
	assert.Equal(t, int64(len(testMessage)), msgs[0].Size)
	assert.Empty(t, msgs[0].Flags)
	assert.WithinDuration(t, time.Now(), msgs[0].InternalDate, time.Minute, "default date is now")
}

func TestAppendFlagsDateAndUIDs(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	uidValidity := statusValue(t, c, "INBOX", "UIDVALIDITY")
	tests := []struct {
		name  string
		args  string
		flags []string
		date  time.Time
	}{
		{"plain", "", nil, time.Time{}},
		{"flags", `(\Seen \flagged $Label)`, []string{`\Seen`, `\Flagged`, "$Label"}, time.Time{}},
		{"date", `"17-Jul-1996 02:44:25 -0700"`, nil, time.Date(1996, 7, 17, 9, 44, 25, 0, time.UTC)},
		{"flags and date", `(\Draft) " 1-Feb-2024 10:00:00 +0000"`, []string{`\Draft`}, time.Date(2024, 2, 1, 10, 0, 0, 0, time.UTC)},
		{"empty flags", `()`, nil, time.Time{}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := appendMessage(t, c, "INBOX", tt.args)
			assert.Equal(t, fmt.Sprintf("AP OK [APPENDUID %d %d] APPEND completed", uidValidity, i+1), done)
			msgs := storedMessages(t, ts, "INBOX")
			require.Len(t, msgs, i+1)
			m := msgs[i]
			assert.Equal(t, uint32(i+1), m.UID)
			assert.ElementsMatch(t, tt.flags, m.Flags)
			if !tt.date.IsZero() {
				assert.True(t, tt.date.Equal(m.InternalDate), "date %v, want %v", m.InternalDate, tt.date)
			}
		})
	}
	assert.Equal(t, uint64(len(tests)), statusValue(t, c, "INBOX", "MESSAGES"))
}

func TestAppendErrors(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Limits.MaxAppendLiteral = 100 })
	c := ts.dial()
	c.login()
	c.ok("C1", "CREATE parent/child")
	c.ok("C2", "DELETE parent") // parent stays as \Noselect
	big := strings.Repeat("x", 200)
	tests := []struct {
		name string
		send string
		want string
	}{
		{"missing mailbox, no continuation", "E1 APPEND nope {5}\r\n",
			"E1 NO [TRYCREATE] No such mailbox; create it first"},
		{"missing mailbox, non-sync literal skipped", "E1 APPEND nope {5+}\r\nhello\r\n",
			"E1 NO [TRYCREATE] No such mailbox; create it first"},
		{"sync literal over APPENDLIMIT", "E1 APPEND INBOX {200}\r\n",
			"E1 NO [TOOBIG] Literal of 200 bytes exceeds limit of 100 bytes"},
		{"non-sync literal over APPENDLIMIT", "E1 APPEND INBOX {200+}\r\n" + big + "\r\n",
			"E1 NO [TOOBIG] Literal of 200 bytes exceeds limit of 100 bytes"},
		{"noselect mailbox", "E1 APPEND parent {5+}\r\nhello\r\n",
			"E1 NO [CANNOT] Mailbox is not selectable"},
		{"noselect mailbox, no continuation", "E1 APPEND parent {5}\r\n",
			"E1 NO [CANNOT] Mailbox is not selectable"},
		{"recent flag", "E1 APPEND INBOX (\\Recent) {5+}\r\nhello\r\n", "E1 BAD Invalid flag"},
		{"no literal", "E1 APPEND INBOX \"hello\"\r\n", "E1 BAD "},
		{"bad date", "E1 APPEND INBOX \"32-Jan-2024 00:00:00 +0000\" {5+}\r\nhello\r\n", "E1 BAD "},
		{"garbage after the message", "E1 APPEND INBOX {5+}\r\nhellox\r\n", "E1 BAD Expected SP"},
		{"no literal after the message", "E1 APPEND INBOX {5+}\r\nhello world\r\n", "E1 BAD APPEND needs the message as a literal"},
		{"empty message", "E1 APPEND INBOX {0+}\r\n\r\n", "E1 NO Message 1 is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.send(tt.send)
			_, done := c.until("E1")
			assert.True(t, strings.HasPrefix(done, tt.want), "got %q, want %q", done, tt.want)
			c.ok("N1", "NOOP") // the stream is still in step
		})
	}
	assert.Empty(t, storedMessages(t, ts, "INBOX"), "no failed APPEND stored anything")
}

// TestAppendSelected: APPEND to the selected mailbox reports EXISTS before
// its completion; another session selected on it sees EXISTS at its next
// NOOP.
func TestAppendSelected(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	other := ts.dial()
	other.login()
	c.ok("S1", "SELECT INBOX")
	other.ok("S2", "SELECT INBOX")

	c.send(fmt.Sprintf("A1 APPEND INBOX {%d+}\r\n%s\r\n", len(testMessage), testMessage))
	u, done := c.until("A1")
	assert.True(t, strings.HasPrefix(done, "A1 OK [APPENDUID "), done)
	// The appending session learns of the message first: it is \Recent
	// there, and only there (RFC 3501 2.3.2).
	assert.Equal(t, []string{"* 1 EXISTS", "* 1 RECENT"}, u)

	assert.Equal(t, []string{"* 1 EXISTS", "* 0 RECENT"}, other.ok("N1", "NOOP"))
	assert.Empty(t, other.ok("N2", "NOOP"), "EXISTS only when the count changed")

	appendMessage(t, other, "Sent", "")
	assert.Empty(t, c.ok("N3", "NOOP"), "an APPEND elsewhere is not announced")
}

// TestAppendUTF8DataExtension appends with the UTF8 data extension of
// UTF8=ACCEPT (RFC 6855 section 4), "UTF8" SP "(" literal8 ")", which the
// server advertises: with each kind of literal, in a MULTIAPPEND, and with
// the closing parenthesis missing (BAD, nothing stored). Found by probing
// with a scripted client: the server answered BAD "APPEND needs the
// message as a literal" to the form its own capability offers.
func TestAppendUTF8DataExtension(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	c.ok("E", "ENABLE UTF8=ACCEPT")
	msg := "From: Jörg <jörg@exämple.org>\r\nSubject: Grüße\r\n\r\nÜberall.\r\n"

	c.send(fmt.Sprintf("A1 APPEND Drafts (\\Seen) UTF8 (~{%d+}\r\n%s)\r\n", len(msg), msg))
	_, done := c.until("A1")
	assert.True(t, strings.HasPrefix(done, "A1 OK [APPENDUID "), done)

	c.send(fmt.Sprintf("A2 APPEND Drafts utf8 ({%d}\r\n", len(msg)))
	require.Equal(t, "+ Ready for literal data", c.line())
	c.send(msg + ")\r\n")
	_, done = c.until("A2")
	assert.True(t, strings.HasPrefix(done, "A2 OK [APPENDUID "), done)

	c.send(fmt.Sprintf("A3 APPEND Drafts UTF8 (~{%d+}\r\n%s) {%d+}\r\n%s\r\n", len(msg), msg, len(testMessage), testMessage))
	_, done = c.until("A3")
	assert.True(t, strings.HasPrefix(done, "A3 OK [APPENDUID "), done)

	msgs := storedMessages(t, ts, "Drafts")
	require.Len(t, msgs, 4)
	for i, want := range []string{msg, msg, msg, testMessage} {
		assert.Equal(t, int64(len(want)), msgs[i].Size, "message %d", i+1)
	}
	assert.Equal(t, []string{`\Seen`}, msgs[0].Flags)

	for _, tc := range []struct{ name, line, want string }{
		{"no closing parenthesis", fmt.Sprintf("B1 APPEND Drafts UTF8 (~{%d+}\r\n%s\r\n", len(msg), msg), "B1 BAD "},
		{"no opening parenthesis", "B2 APPEND Drafts UTF8 hello\r\n", "B2 BAD "},
		{"another word", "B3 APPEND Drafts UTF7 (hello)\r\n", "B3 BAD APPEND needs the message as a literal"},
	} {
		c.send(tc.line)
		tag := tc.line[:2]
		_, done := c.until(tag)
		assert.True(t, strings.HasPrefix(done, tc.want), "%s: %s", tc.name, done)
	}
	assert.Len(t, storedMessages(t, ts, "Drafts"), 4, "a malformed UTF8 APPEND stored something")
	c.ok("N", "NOOP")
}
