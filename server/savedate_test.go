package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/imapwire"
	"github.com/imapfsm/imapfsm/server/internal/mailmsg"
	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/pgstore"
	"github.com/imapfsm/imapfsm/server/store/pgstore/pgtest"
)

// imapDate formats t as a search date (RFC 9051 9 date-text).
func imapDate(t time.Time) string { return t.Format("2-Jan-2006") }

// TestSaveDate checks RFC 8514: FETCH SAVEDATE is when the message entered
// the mailbox (not its internal date), COPY gives the copy a new one, and
// SAVEDBEFORE, SAVEDSINCE and SAVEDATESUPPORTED search on it.
func TestSaveDate(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	assert.Contains(t, strings.Fields(c.ok("C1", "CAPABILITY")[0]), "SAVEDATE")
	appendMessage(t, c, "INBOX", `"17-Jul-1996 02:44:25 -0700"`)
	c.ok("S1", "SELECT INBOX")
	lines := c.ok("F1", "FETCH 1 (INTERNALDATE SAVEDATE)")
	require.Len(t, lines, 1)
	assert.Contains(t, lines[0], `INTERNALDATE "17-Jul-1996 09:44:25 +0000"`)
	saved := stored(t, ts, "INBOX")[0].SaveDate
	require.WithinDuration(t, time.Now(), saved, time.Minute)
	want := string(imapwire.AppendDateTime(nil, saved))
	assert.Contains(t, lines[0], `SAVEDATE "`+want+`"`)

	yesterday := imapDate(time.Now().AddDate(0, 0, -2))
	assert.Equal(t, []string{"* SEARCH 1"}, c.ok("Q1", "SEARCH BEFORE 1-Jan-2000"))
	assert.Equal(t, []string{"* SEARCH"}, c.ok("Q2", "SEARCH SAVEDBEFORE 1-Jan-2000"), "the save date, not the internal date")
	assert.Equal(t, []string{"* SEARCH 1"}, c.ok("Q3", "SEARCH SAVEDSINCE "+yesterday))
	assert.Equal(t, []string{"* SEARCH"}, c.ok("Q4", "SEARCH SAVEDBEFORE "+yesterday))
	assert.Equal(t, []string{"* SEARCH"}, c.ok("Q5", "SEARCH SAVEDON 17-Jul-1996"))
	assert.Equal(t, []string{"* SEARCH 1"}, c.ok("Q6", "SEARCH SAVEDATESUPPORTED"))
	_, done := c.cmd("Q7", "SEARCH SAVEDON")
	assert.True(t, strings.HasPrefix(done, "Q7 BAD "), done)

	time.Sleep(1100 * time.Millisecond) // a new save date shows in whole seconds
	c.ok("K1", "COPY 1 Archive")
	copied := stored(t, ts, "Archive")[0]
	assert.True(t, copied.SaveDate.After(saved), "the copy was saved later")
	assert.True(t, copied.InternalDate.Equal(stored(t, ts, "INBOX")[0].InternalDate), "and keeps the internal date")
	c.ok("S2", "SELECT Archive")
	lines = c.ok("F2", "FETCH 1 SAVEDATE")
	assert.Equal(t, fmt.Sprintf(`* 1 FETCH (SAVEDATE "%s")`, imapwire.AppendDateTime(nil, copied.SaveDate)), lines[0])
}

// stored reads the messages of a mailbox of demo from the store.
func stored(t *testing.T, ts *testServer, mailbox string) []*store.Message {
	t.Helper()
	return storedMessages(t, ts, mailbox)
}

// undatedStore hides the save dates of its messages with UIDs up to upTo,
// as a store does for messages stored before it kept them.
type undatedStore struct {
	store.Store
	upTo uint32
}

type undatedUser struct {
	store.User
	upTo uint32
}

func (s undatedStore) Authenticate(ctx context.Context, name, pw string) (store.User, error) {
	u, err := s.Store.Authenticate(ctx, name, pw)
	if err != nil {
		return nil, err
	}
	return undatedUser{u, s.upTo}, nil
}

func (u undatedUser) Fetch(ctx context.Context, mailbox store.MailboxID, uids store.UIDSet, opts store.FetchOptions, fn func(*store.Message) error) error {
	return u.User.Fetch(ctx, mailbox, uids, opts, func(m *store.Message) error {
		if m.UID <= u.upTo {
			m.SaveDate = time.Time{}
		}
		return fn(m)
	})
}

// TestSaveDateUnknown: a message without a save date (stored before the
// store kept them) answers as RFC 8514 has a store without save dates
// answer: FETCH SAVEDATE is NIL (4.2), SAVEDATESUPPORTED does not match it,
// and SAVEDBEFORE, SAVEDON and SAVEDSINCE compare its internal date (4.3).
// A message with a save date next to it keeps its own answers.
func TestSaveDateUnknown(t *testing.T) {
	ts := newTestServer(t, func(cfg *Config) { cfg.Store = undatedStore{cfg.Store, 1} })
	checkSaveDateUnknown(t, ts, func() {})
}

// TestSaveDateUnknownPG is TestSaveDateUnknown on pgstore, with the
// save_date of the first message NULL as migration 5 leaves older rows.
func TestSaveDateUnknownPG(t *testing.T) {
	ctx := context.Background()
	url, schema := pgtest.SchemaOn(t, pgtest.StartForTest(t))
	st, err := pgstore.Open(ctx, url, pgstore.Options{Options: store.Options{BcryptCost: 4, Analyzer: mailmsg.Analyze}, Schema: schema})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	require.NoError(t, st.CreateUser(ctx, "demo", "demo"))
	ts := newTestServer(t, func(cfg *Config) { cfg.Store = st })
	checkSaveDateUnknown(t, ts, func() {
		conn, err := pgx.Connect(ctx, url)
		require.NoError(t, err)
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, `UPDATE `+pgx.Identifier{schema, "messages"}.Sanitize()+` SET save_date = NULL WHERE uid = 1`)
		require.NoError(t, err)
	})
}

// checkSaveDateUnknown appends two messages of 1996 to INBOX, calls forget
// (which must leave the first without a save date) and checks the answers
// of TestSaveDateUnknown.
func checkSaveDateUnknown(t *testing.T, ts *testServer, forget func()) {
	c := ts.dial()
	c.login()
	appendMessage(t, c, "INBOX", `"17-Jul-1996 02:44:25 -0700"`)
	appendMessage(t, c, "INBOX", `"17-Jul-1996 02:44:25 -0700"`)
	forget()
	c.ok("S1", "SELECT INBOX")
	lines := c.ok("F1", "FETCH 1:2 (SAVEDATE)")
	require.Len(t, lines, 2)
	assert.Equal(t, `* 1 FETCH (SAVEDATE NIL)`, lines[0])
	saved := stored(t, ts, "INBOX")[1].SaveDate
	require.False(t, saved.IsZero())
	assert.Equal(t, fmt.Sprintf(`* 2 FETCH (SAVEDATE "%s")`, imapwire.AppendDateTime(nil, saved)), lines[1])
	assert.Equal(t, []string{"* SEARCH 1"}, c.ok("Q1", "SEARCH SAVEDON 17-Jul-1996"))
	assert.Equal(t, []string{"* SEARCH 1"}, c.ok("Q2", "SEARCH SAVEDBEFORE 1-Jan-2000"))
	assert.Equal(t, []string{"* SEARCH 2"}, c.ok("Q3", "SEARCH SAVEDSINCE "+imapDate(time.Now().AddDate(0, 0, -2))))
	assert.Equal(t, []string{"* SEARCH 2"}, c.ok("Q4", "SEARCH SAVEDATESUPPORTED"))
	assert.Equal(t, []string{"* SEARCH 1"}, c.ok("Q5", "SEARCH NOT SAVEDATESUPPORTED"))
	assert.Equal(t, []string{"* SEARCH 1 2"}, c.ok("Q6", "SEARCH OR SAVEDBEFORE 1-Jan-2000 SAVEDSINCE 1-Jan-2000"))
}
