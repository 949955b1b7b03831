package pgstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/storetest"
)

// TestSaveDateBeforeMigration: a message stored before the save_date
// column existed (NULL there after migration 5) reads with a zero save
// date, and new messages next to it get one.
func TestSaveDateBeforeMigration(t *testing.T) {
	ctx := context.Background()
	s, url, schema := openFresh(t)
	defer s.Close()
	require.NoError(t, s.CreateUser(ctx, "olga", "pw"))
	u, err := s.OpenUser(ctx, "olga")
	require.NoError(t, err)
	first, err := u.Append(ctx, store.Inbox, store.NewMessage{Body: strings.NewReader("Subject: old\r\n\r\n")})
	require.NoError(t, err)

	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `UPDATE `+pgx.Identifier{schema, "messages"}.Sanitize()+` SET save_date = NULL`)
	require.NoError(t, err)

	before := time.Now()
	_, err = u.Append(ctx, store.Inbox, store.NewMessage{Body: strings.NewReader("Subject: new\r\n\r\n")})
	require.NoError(t, err)
	var got []*store.Message
	require.NoError(t, u.Fetch(ctx, first.Mailbox, store.AllUIDs(), store.FetchOptions{}, func(m *store.Message) error {
		got = append(got, m.Clone())
		return nil
	}))
	require.Len(t, got, 2)
	assert.True(t, got[0].SaveDate.IsZero(), "a message from before the migration has no save date")
	assert.False(t, got[1].SaveDate.Before(before))
}

// TestSaveDateUnknown runs the conformance checks for messages without a
// save date on rows whose save_date is NULL, as migration 5 leaves the
// rows stored before it.
func TestSaveDateUnknown(t *testing.T) {
	storetest.RunSaveDateUnknown(t, func(t *testing.T) (store.Store, func(t *testing.T)) {
		s, url, schema := openFresh(t)
		return s, func(t *testing.T) {
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, url)
			require.NoError(t, err)
			defer conn.Close(ctx)
			_, err = conn.Exec(ctx, `UPDATE `+pgx.Identifier{schema, "messages"}.Sanitize()+` SET save_date = NULL`)
			require.NoError(t, err)
		}
	})
}
