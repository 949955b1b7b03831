package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/store"
)

// annotations returns u as a store.MetadataUser, skipping the test when
// the backend keeps no annotations.
func annotations(t *testing.T, u store.User) store.MetadataUser {
	t.Helper()
	mu, ok := u.(store.MetadataUser)
	if !ok {
		t.Skip("backend does not implement store.MetadataUser")
	}
	return mu
}

func entry(name, value string) store.MetadataEntry {
	return store.MetadataEntry{Name: name, Value: []byte(value)}
}

func removal(name string) store.MetadataEntry { return store.MetadataEntry{Name: name} }

func entries(t *testing.T, mu store.MetadataUser, mailbox string) map[string]string {
	t.Helper()
	list, err := mu.Metadata(context.Background(), mailbox)
	require.NoError(t, err)
	out := map[string]string{}
	for i, e := range list {
		if i > 0 {
			require.Less(t, list[i-1].Name, e.Name, "entries sorted by name")
		}
		require.NotNil(t, e.Value, "a stored entry has a value")
		out[e.Name] = string(e.Value)
	}
	return out
}

// testMetadata checks annotations: set, replace and remove; server entries
// apart from mailbox entries and mailboxes apart from each other and from
// other accounts; binary and empty values; a missing mailbox; and their
// life with the mailbox (kept by RENAME with inferiors, copied by a rename
// of INBOX, removed by DELETE even when the name stays \Noselect).
func testMetadata(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "annie")
	mu := annotations(t, u)
	other := annotations(t, newUser(t, s, "otto"))
	none := store.MetadataLimits{}

	assert.Empty(t, entries(t, mu, ""))
	assert.Empty(t, entries(t, mu, store.Inbox))

	require.NoError(t, mu.SetMetadata(ctx, "", []store.MetadataEntry{entry("/shared/comment", "server note")}, none))
	require.NoError(t, mu.SetMetadata(ctx, "inbox", []store.MetadataEntry{
		entry("/private/comment", "mine"), entry("/shared/comment", "ours"),
		entry("/private/vendor/x/bin", "a\x00b\r\n\xff"), entry("/private/empty", ""),
	}, none))
	assert.Equal(t, map[string]string{"/shared/comment": "server note"}, entries(t, mu, ""))
	assert.Equal(t, map[string]string{
		"/private/comment": "mine", "/shared/comment": "ours",
		"/private/vendor/x/bin": "a\x00b\r\n\xff", "/private/empty": "",
	}, entries(t, mu, store.Inbox))
	assert.Empty(t, entries(t, other, ""), "accounts are isolated")
	assert.Empty(t, entries(t, other, store.Inbox))

	// Replace, remove, remove what is not there, last change wins.
	require.NoError(t, mu.SetMetadata(ctx, store.Inbox, []store.MetadataEntry{
		entry("/private/comment", "new"), removal("/shared/comment"), removal("/shared/never"),
		entry("/private/twice", "first"), entry("/private/twice", "second"),
		entry("/private/gone", "x"), removal("/private/gone"),
	}, none))
	assert.Equal(t, map[string]string{
		"/private/comment": "new", "/private/twice": "second",
		"/private/vendor/x/bin": "a\x00b\r\n\xff", "/private/empty": "",
	}, entries(t, mu, store.Inbox))

	_, err := mu.Metadata(ctx, "Missing")
	require.ErrorIs(t, err, store.ErrNoSuchMailbox)
	err = mu.SetMetadata(ctx, "Missing", []store.MetadataEntry{entry("/private/comment", "x")}, none)
	require.ErrorIs(t, err, store.ErrNoSuchMailbox)

	// RENAME keeps the entries, also of inferiors.
	_, err = u.CreateMailbox(ctx, "Work/Old", 0)
	require.NoError(t, err)
	require.NoError(t, mu.SetMetadata(ctx, "Work", []store.MetadataEntry{entry("/shared/comment", "parent")}, none))
	require.NoError(t, mu.SetMetadata(ctx, "Work/Old", []store.MetadataEntry{entry("/shared/comment", "child")}, none))
	require.NoError(t, u.RenameMailbox(ctx, "Work", "Jobs"))
	assert.Equal(t, map[string]string{"/shared/comment": "parent"}, entries(t, mu, "Jobs"))
	assert.Equal(t, map[string]string{"/shared/comment": "child"}, entries(t, mu, "Jobs/Old"))

	// A mailbox created under the old name starts without them.
	_, err = u.CreateMailbox(ctx, "Work", 0)
	require.NoError(t, err)
	assert.Empty(t, entries(t, mu, "Work"))

	// DELETE removes them, also when the name stays \Noselect.
	require.NoError(t, u.DeleteMailbox(ctx, "Jobs"))
	assert.Empty(t, entries(t, mu, "Jobs"), "the \\Noselect placeholder has no entries")
	require.NoError(t, mu.SetMetadata(ctx, "Jobs", []store.MetadataEntry{entry("/shared/comment", "noselect")}, none),
		"a \\Noselect mailbox may have entries")
	require.NoError(t, u.DeleteMailbox(ctx, "Jobs/Old"))
	require.NoError(t, u.DeleteMailbox(ctx, "Work"))
	_, err = u.CreateMailbox(ctx, "Work", 0)
	require.NoError(t, err)
	assert.Empty(t, entries(t, mu, "Work"))

	// Renaming INBOX copies its entries; INBOX keeps them.
	before := entries(t, mu, store.Inbox)
	require.NoError(t, u.RenameMailbox(ctx, store.Inbox, "Old Inbox"))
	assert.Equal(t, before, entries(t, mu, "Old Inbox"))
	assert.Equal(t, before, entries(t, mu, store.Inbox))
	assert.Equal(t, map[string]string{"/shared/comment": "server note"}, entries(t, mu, ""))
}

// testMetadataLimits checks the count and size limits per mailbox (and
// server entries) and per account: the exact limit is allowed, one more is
// refused with ErrMetadataTooMany and nothing of the command is stored,
// replacing within the limit and removing always succeed.
func testMetadataLimits(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "lima")
	mu := annotations(t, u)
	_, err := u.CreateMailbox(ctx, "Other", 0)
	require.NoError(t, err)

	lim := store.MetadataLimits{Entries: 3, Bytes: 10}
	require.NoError(t, mu.SetMetadata(ctx, store.Inbox, []store.MetadataEntry{
		entry("/private/a", "12"), entry("/private/b", "34"), entry("/private/c", "567890"),
	}, lim), "exactly at both limits")
	err = mu.SetMetadata(ctx, store.Inbox, []store.MetadataEntry{removal("/private/a"), entry("/private/d", "1"), entry("/private/e", "")}, lim)
	require.ErrorIs(t, err, store.ErrMetadataTooMany, "4 entries")
	err = mu.SetMetadata(ctx, store.Inbox, []store.MetadataEntry{entry("/private/a", "123")}, lim)
	require.ErrorIs(t, err, store.ErrMetadataTooMany, "11 bytes")
	assert.Equal(t, map[string]string{"/private/a": "12", "/private/b": "34", "/private/c": "567890"},
		entries(t, mu, store.Inbox), "nothing of a refused command is stored")
	require.NoError(t, mu.SetMetadata(ctx, store.Inbox, []store.MetadataEntry{removal("/private/a"), entry("/private/d", "ab")}, lim),
		"a replacement within the limits")
	// Other mailboxes and the server entries have limits of their own.
	require.NoError(t, mu.SetMetadata(ctx, "Other", []store.MetadataEntry{entry("/private/a", "1234567890")}, lim))
	require.NoError(t, mu.SetMetadata(ctx, "", []store.MetadataEntry{entry("/private/a", "1"), entry("/private/b", "2"), entry("/private/c", "3")}, lim))
	require.ErrorIs(t, mu.SetMetadata(ctx, "", []store.MetadataEntry{entry("/private/d", "4")}, lim), store.ErrMetadataTooMany)

	// Account limits count every mailbox and the server entries: 7
	// entries of 23 bytes so far.
	acct := store.MetadataLimits{AccountEntries: 8, AccountBytes: 30}
	require.ErrorIs(t, mu.SetMetadata(ctx, "Other", []store.MetadataEntry{entry("/private/b", "1"), entry("/private/c", "2")}, acct),
		store.ErrMetadataTooMany, "9 entries in the account")
	require.ErrorIs(t, mu.SetMetadata(ctx, "Other", []store.MetadataEntry{entry("/private/b", "12345678")}, acct),
		store.ErrMetadataTooMany, "31 bytes in the account")
	require.NoError(t, mu.SetMetadata(ctx, "Other", []store.MetadataEntry{entry("/private/b", "1234567")}, acct), "exactly 30 bytes")

	// Under a lowered limit removals and shrinking still succeed, growth
	// does not.
	low := store.MetadataLimits{Entries: 1, Bytes: 1, AccountEntries: 1, AccountBytes: 1}
	require.ErrorIs(t, mu.SetMetadata(ctx, store.Inbox, []store.MetadataEntry{entry("/private/z", "")}, low), store.ErrMetadataTooMany)
	require.NoError(t, mu.SetMetadata(ctx, store.Inbox, []store.MetadataEntry{removal("/private/b")}, low))
	require.NoError(t, mu.SetMetadata(ctx, store.Inbox, []store.MetadataEntry{entry("/private/c", "5")}, low))
	assert.Equal(t, map[string]string{"/private/c": "5", "/private/d": "ab"}, entries(t, mu, store.Inbox))
}

// testMetadataConcurrent checks that concurrent writers of one account
// never take it beyond its entry limit.
func testMetadataConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "conny")
	mu := annotations(t, u)
	lim := store.MetadataLimits{AccountEntries: 10}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5 {
				err := mu.SetMetadata(ctx, store.Inbox, []store.MetadataEntry{entry(fmt.Sprintf("/private/w%d/%d", w, i), "v")}, lim)
				if err != nil {
					assert.ErrorIs(t, err, store.ErrMetadataTooMany)
				}
			}
		}()
	}
	wg.Wait()
	assert.Len(t, entries(t, mu, store.Inbox), 10)
}
