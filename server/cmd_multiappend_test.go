package server

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/store"
)

// multiMessages are the three messages the MULTIAPPEND tests upload.
var multiMessages = []string{
	"Subject: one\r\n\r\nfirst\r\n",
	"Subject: two\r\n\r\nsecond, a little longer\r\n",
	"Subject: three\r\n\r\nthird\r\n",
}

// TestMultiAppend uploads three messages in one APPEND (RFC 3502), the
// second with a synchronising literal, each with its own flags and date:
// all are stored in order, APPENDUID carries the UID set (RFC 4315 3), and
// a session with the mailbox selected sees them at once.
func TestMultiAppend(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	assert.Contains(t, strings.Fields(c.ok("C1", "CAPABILITY")[0]), "MULTIAPPEND")
	other := ts.dial()
	other.login()
	other.ok("S1", "SELECT Drafts")
	appendMessage(t, c, "Drafts", "") // UID 1
	uidValidity := statusValue(t, c, "Drafts", "UIDVALIDITY")

	c.send(fmt.Sprintf("A1 APPEND Drafts (\\Seen) {%d+}\r\n%s", len(multiMessages[0]), multiMessages[0]))
	c.send(fmt.Sprintf(" \"17-Jul-1996 02:44:25 -0700\" {%d}\r\n", len(multiMessages[1])))
	require.Equal(t, "+ Ready for literal data", c.line(), "the server asks for the second literal")
	c.send(multiMessages[1])
	c.send(fmt.Sprintf(" (\\Flagged $Work) \" 1-Feb-2024 10:00:00 +0000\" ~{%d+}\r\n%s\r\n", len(multiMessages[2]), multiMessages[2]))
	_, done := c.until("A1")
	assert.Equal(t, fmt.Sprintf("A1 OK [APPENDUID %d 2:4] APPEND completed", uidValidity), done)

	msgs := storedMessages(t, ts, "Drafts")
	require.Len(t, msgs, 4)
	for i, m := range msgs[1:] {
		assert.Equal(t, uint32(i+2), m.UID)
		assert.Equal(t, int64(len(multiMessages[i])), m.Size)
	}
	assert.Equal(t, []string{`\Seen`}, msgs[1].Flags)
	assert.Empty(t, msgs[2].Flags)
	assert.ElementsMatch(t, []string{`\Flagged`, "$Work"}, msgs[3].Flags)
	assert.WithinDuration(t, time.Now(), msgs[1].InternalDate, time.Minute)
	assert.True(t, time.Date(1996, 7, 17, 9, 44, 25, 0, time.UTC).Equal(msgs[2].InternalDate))
	assert.True(t, time.Date(2024, 2, 1, 10, 0, 0, 0, time.UTC).Equal(msgs[3].InternalDate))
	lines := c.ok("F0", "SELECT Drafts")
	assert.Contains(t, lines, "* 4 EXISTS")
	lines = c.ok("F1", "FETCH 2:4 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
	require.Len(t, lines, 12, "%q", lines)
	assert.Equal(t, "Subject: three", lines[9])

	assert.Contains(t, other.ok("N1", "NOOP"), "* 4 EXISTS", "one notification for the whole batch")
}

// TestMultiAppendAllOrNothing: whatever fails in a later message (syntax,
// flags, a limit, a cancelling empty message, quota, a lost connection)
// stores none of the messages, and the session stays in step.
func TestMultiAppendAllOrNothing(t *testing.T) {
	ts := newTestServer(t, func(c *Config) {
		c.Limits.MaxAppendLiteral = 100
		c.MaxAppendSize = 120
		c.MaxAppendMessages = 3
	})
	c := ts.dial()
	c.login()
	first := fmt.Sprintf("E1 APPEND INBOX {%d+}\r\n%s", len(multiMessages[0]), multiMessages[0])
	big := strings.Repeat("x", 100)
	tests := []struct {
		name string
		rest string // what follows the first message
		want string
	}{
		{"bad flag in the second", " (\\Recent) {5+}\r\nhello\r\n", "E1 BAD Invalid flag"},
		{"bad date in the second", " \"32-Jan-2024 00:00:00 +0000\" {5+}\r\nhello\r\n", "E1 BAD "},
		{"no literal in the second", " (\\Seen) hello\r\n", "E1 BAD APPEND needs the message as a literal"},
		{"garbage after the second", " {5+}\r\nhello)\r\n", "E1 BAD Expected SP"},
		{"second over APPENDLIMIT, sync", " {101}\r\n", "E1 NO [TOOBIG] Literal of 101 bytes exceeds limit of 100 bytes"},
		{"second over APPENDLIMIT, non-sync", " {101+}\r\n" + strings.Repeat("y", 101) + "\r\n",
			"E1 NO [TOOBIG] Literal of 101 bytes exceeds limit of 100 bytes"},
		{"over the total size, sync", " {100}\r\n", "E1 NO [TOOBIG] The messages of one APPEND exceed 120 bytes together"},
		{"over the total size, non-sync", " {100+}\r\n" + big + "\r\n", "E1 NO [TOOBIG] The messages of one APPEND exceed 120 bytes together"},
		{"too many messages", " {5+}\r\nhello {5+}\r\nhello {5+}\r\nhello\r\n", "E1 NO [LIMIT] More than 3 messages in one APPEND"},
		{"cancelled by an empty message, sync", " {5+}\r\nhello {0}\r\n", "E1 NO Message 3 is empty; APPEND cancelled"},
		{"cancelled by an empty message, non-sync", " {0+}\r\n\r\n", "E1 NO Message 2 is empty; APPEND cancelled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sent := sendAsync(c, first+tt.rest)
			_, done := c.until("E1")
			require.NoError(t, <-sent)
			assert.True(t, strings.HasPrefix(done, tt.want), "got %q, want %q", done, tt.want)
			c.ok("N1", "NOOP") // the stream is still in step
			assert.Empty(t, storedMessages(t, ts, "INBOX"), "a failed APPEND stored a message")
		})
	}

	t.Run("over quota together", func(t *testing.T) {
		setQuota(t, ts, store.Quota{Messages: 2})
		defer setQuota(t, ts, store.Quota{})
		c.send(first + " {5+}\r\nhello {5+}\r\nworld\r\n")
		_, done := c.until("E1")
		assert.True(t, strings.HasPrefix(done, "E1 NO [OVERQUOTA] "), done)
		assert.Empty(t, storedMessages(t, ts, "INBOX"))
		c.send(first + " {5+}\r\nhello\r\n")
		_, done = c.until("E1")
		assert.True(t, strings.HasPrefix(done, "E1 OK [APPENDUID "), "two fit: %s", done)
		assert.Len(t, storedMessages(t, ts, "INBOX"), 2)
	})

	t.Run("connection lost in the second", func(t *testing.T) {
		d := ts.dial()
		d.login()
		d.send(fmt.Sprintf("E1 APPEND Drafts {%d+}\r\n%s {20+}\r\nonly part", len(multiMessages[0]), multiMessages[0]))
		require.NoError(t, d.nc.Close())
		// The session ends without storing; a new one sees nothing.
		e := ts.dial()
		e.login()
		assert.Eventually(t, func() bool {
			return statusValue(t, e, "Drafts", "MESSAGES") == 0
		}, time.Second, 10*time.Millisecond)
		assert.Empty(t, storedMessages(t, ts, "Drafts"))
	})
}

// sendAsync writes s while the caller reads: the server may answer a
// command before it has read all of it (and then discards the rest), and a
// net.Pipe has no buffer to hold the rest meanwhile.
func sendAsync(c *client, s string) <-chan error {
	done := make(chan error, 1)
	go func() {
		c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_, err := c.nc.Write([]byte(s))
		done <- err
	}()
	return done
}

// TestMultiAppendTRYCREATE: a missing mailbox is refused before the first
// literal is invited, as for a single message.
func TestMultiAppendTRYCREATE(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	c.send("A1 APPEND Nope {5}\r\n")
	assert.Equal(t, "A1 NO [TRYCREATE] No such mailbox; create it first", c.line())
	c.ok("N1", "NOOP")
}

// TestMultiAppendSpoolFile forces every message into the spool file: the
// messages arrive intact, and the file is gone from the directory the whole
// time (it is unlinked as soon as it is created).
func TestMultiAppendSpoolFile(t *testing.T) {
	dir := t.TempDir()
	for _, mem := range []int64{-1, 30} { // all in the file; the first in memory
		t.Run(fmt.Sprint(mem), func(t *testing.T) {
			ts := newTestServer(t, func(c *Config) {
				c.AppendSpoolMemory = mem
				c.SpoolDir = dir
			})
			c := ts.dial()
			c.login()
			c.send(fmt.Sprintf("A1 APPEND INBOX {%d+}\r\n%s", len(multiMessages[0]), multiMessages[0]))
			c.send(fmt.Sprintf(" {%d+}\r\n%s", len(multiMessages[1]), multiMessages[1]))
			c.send(fmt.Sprintf(" {%d}\r\n", len(multiMessages[2])))
			require.Equal(t, "+ Ready for literal data", c.line())
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Empty(t, entries, "the spool file is unlinked while in use")
			c.send(multiMessages[2] + "\r\n")
			_, done := c.until("A1")
			assert.True(t, strings.HasPrefix(done, "A1 OK [APPENDUID "), done)
			c.ok("S1", "SELECT INBOX")
			for i, want := range multiMessages {
				lines := c.ok("F1", fmt.Sprintf("FETCH %d BODY.PEEK[]", i+1))
				require.NotEmpty(t, lines)
				got := strings.Join(lines, "\r\n")
				assert.Contains(t, got, strings.TrimSuffix(want, "\r\n"))
			}
		})
	}
}

// TestMultiAppendNeedsBatchStore is the mutant of the capability: a store
// that cannot append atomically (no store.BatchAppender) gets no
// MULTIAPPEND, and a second message is a syntax error.
func TestMultiAppendNeedsBatchStore(t *testing.T) {
	ts := newTestServer(t, func(cfg *Config) { cfg.Store = quotalessStore{cfg.Store} })
	c := ts.dial()
	c.login()
	assert.NotContains(t, c.ok("C1", "CAPABILITY")[0], "MULTIAPPEND")
	c.send("A1 APPEND INBOX {5+}\r\nhello {5+}\r\nworld\r\n")
	_, done := c.until("A1")
	assert.Equal(t, "A1 BAD Unexpected extra arguments", done)
	appendMessage(t, c, "INBOX", "")
}

// piecemealStore is a mutant store whose AppendBatch appends the messages
// one by one and stops at the first error, leaving the earlier ones stored.
type piecemealStore struct{ store.Store }

type piecemealUser struct{ store.User }

func (s piecemealStore) Authenticate(ctx context.Context, name, pw string) (store.User, error) {
	u, err := s.Store.Authenticate(ctx, name, pw)
	if err != nil {
		return nil, err
	}
	return piecemealUser{u}, nil
}

func (u piecemealUser) AppendBatch(ctx context.Context, mailbox string, msgs []store.NewMessage) ([]store.AppendResult, error) {
	var out []store.AppendResult
	for _, m := range msgs {
		r, err := u.Append(ctx, mailbox, m)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// TestMultiAppendAtomicityMutant shows that the all-or-nothing check of
// TestMultiAppendAllOrNothing catches a batch that is not atomic: with the
// piecemeal store the refused APPEND leaves messages behind.
func TestMultiAppendAtomicityMutant(t *testing.T) {
	ts := newTestServer(t)
	setQuota(t, ts, store.Quota{Messages: 2})
	ts.srv.cfg.Store = piecemealStore{ts.srv.cfg.Store}
	ts.srv.cfg.Authenticator = ts.srv.cfg.Store
	c := ts.dial()
	c.login()
	c.send("E1 APPEND INBOX {5+}\r\nhello {5+}\r\nthere {5+}\r\nworld\r\n")
	_, done := c.until("E1")
	assert.True(t, strings.HasPrefix(done, "E1 NO [OVERQUOTA] "), done)
	assert.Len(t, storedMessages(t, ts, "INBOX"), 2, "the mutant left the first two messages")
}
