package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/argon2"

	"github.com/imapfsm/imapfsm/server/store"
)

// Analyzer is the structure analyser stores under test must be configured
// with: it returns "sha256:" followed by the hex digest of the body.
func Analyzer(r io.Reader) ([]byte, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return nil, err
	}
	return []byte("sha256:" + hex.EncodeToString(h.Sum(nil))), nil
}

// Opener opens a fresh, empty store for one test. The store is closed by
// the suite.
type Opener func(t *testing.T) store.Store

// Run runs the whole conformance suite against stores returned by open.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Accounts", testAccounts},
		{"AuthenticateTypedError", testAuthenticate},
		{"ImportedHashes", testImportedHashes},
		{"DefaultMailboxes", testDefaultMailboxes},
		{"CreateMailbox", testCreateMailbox},
		{"MailboxNames", testMailboxNames},
		{"DeleteMailbox", testDeleteMailbox},
		{"RenameMailbox", testRenameMailbox},
		{"RenameInbox", testRenameInbox},
		{"Subscriptions", testSubscriptions},
		{"AppendFetch", testAppendFetch},
		{"FetchStreaming", testFetchStreaming},
		{"FetchCallbackMayWrite", testFetchCallbackMayWrite},
		{"UIDsNeverReused", testUIDsNeverReused},
		{"UIDValidityOnRecreate", testUIDValidityOnRecreate},
		{"StoreFlags", testStoreFlags},
		{"UnchangedSince", testUnchangedSince},
		{"CopyMove", testCopyMove},
		{"CopyMoveSameMailbox", testCopyMoveSameMailbox},
		{"Expunge", testExpunge},
		{"ChangeLog", testChangeLog},
		{"ExpungeTombstones", testExpungeTombstones},
		{"Notifier", testNotifier},
		{"AccountEvents", testAccountEvents},
		{"Origins", testOrigins},
		{"Isolation", testIsolation},
		{"DeleteUser", testDeleteUser},
		{"ConcurrentWriters", testConcurrentWriters},
		{"ViewMatchesMessages", testViewMatchesMessages},
		{"ClaimRecent", testClaimRecent},
		{"AppendBatch", testAppendBatch},
		{"AppendBatchConcurrent", testAppendBatchConcurrent},
		{"QuotaUsage", testQuotaUsage},
		{"QuotaEnforced", testQuotaEnforced},
		{"QuotaConcurrent", testQuotaConcurrent},
		{"DeletedSize", testDeletedSize},
		{"Metadata", testMetadata},
		{"MetadataLimits", testMetadataLimits},
		{"MetadataConcurrent", testMetadataConcurrent},
		{"ContentIDs", testContentIDs},
		{"SaveDate", testSaveDate},
		{"Replace", testReplace},
		{"FetchHeader", testFetchHeader},
		{"SearchFlags", testSearchFlags},
		{"FirstFlagMatch", testFirstFlagMatch},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			closed := false
			t.Cleanup(func() {
				if !closed {
					_ = s.Close()
				}
			})
			if tc.name == "Closed" {
				closed = true
			}
			tc.fn(t, s)
		})
	}
}

// ReopenFactory prepares one storage location and returns a function that
// opens it; each call after the previous store was closed must see the same
// data.
type ReopenFactory func(t *testing.T) Opener

// RunReopen checks persistence across close and reopen: data, UIDVALIDITY,
// MODSEQ, \Recent claims and that UIDs are never reused.
func RunReopen(t *testing.T, factory ReopenFactory) {
	ctx := context.Background()
	open := factory(t)
	s := open(t)
	u := newUser(t, s, "persist")
	id := mailboxID(t, u, store.Inbox)
	var uids []uint32
	for i := range 5 {
		uids = append(uids, appendMsg(t, u, store.Inbox, fmt.Sprintf("message %d", i), `\Seen`).UID)
	}
	_, err := u.StoreFlags(ctx, id, store.UIDSetOf(uids[3:]...), store.FlagChange{Op: store.FlagsAdd, Flags: []string{`\Deleted`}})
	require.NoError(t, err)
	_, err = u.Expunge(ctx, id, nil)
	require.NoError(t, err)
	// \Recent claims survive a clean close: UIDs 1 and 2 were claimed
	// while the mailbox did not change afterwards.
	first, err := u.ClaimRecent(ctx, id, 3)
	require.NoError(t, err)
	require.Equal(t, uint32(1), first)
	before, err := u.View(ctx, id)
	require.NoError(t, err)
	require.Equal(t, uint32(1), before.Recent, "UID 3 is left")
	_, err = u.CreateMailbox(ctx, "Keep/Nested", 0)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s = open(t)
	defer s.Close()
	u, err = s.Authenticate(ctx, "persist", "pw-persist")
	require.NoError(t, err)
	after, err := u.View(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, before.UIDs, after.UIDs)
	assert.Equal(t, before.UIDValidity, after.UIDValidity)
	assert.Equal(t, before.HighestModSeq, after.HighestModSeq)
	assert.Equal(t, uint32(6), after.UIDNext)
	assert.Equal(t, uint32(1), after.Recent, "claims are kept across reopen")
	first, err = u.ClaimRecent(ctx, id, 3)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, first, uint32(3), "a claim is never given twice")
	res := appendMsg(t, u, store.Inbox, "after reopen")
	assert.Equal(t, uint32(6), res.UID, "UIDs of expunged messages must not be reused after reopen")
	assert.Greater(t, res.ModSeq, before.HighestModSeq)
	assert.Equal(t, "message 1", readBody(t, u, id, uids[1]))
	_, err = u.Mailbox(ctx, "Keep/Nested")
	assert.NoError(t, err)
}

// BoundedOpener opens a fresh, empty store that keeps at most maxChanges
// change-log entries per mailbox. The store is closed by the suite.
type BoundedOpener func(t *testing.T, maxChanges int) store.Store

// RunChangeLogBound checks the bound on the change log that QRESYNC
// relies on (RFC 7162 3.2.5.2): the newest entries, expunges included, stay
// readable, and a read from before the oldest kept entry fails with
// [store.ErrChangesTruncated] instead of silently missing expunges.
func RunChangeLogBound(t *testing.T, open BoundedOpener) {
	ctx := context.Background()
	s := open(t, 3)
	t.Cleanup(func() { _ = s.Close() })
	u := newUser(t, s, "bounded")
	id := mailboxID(t, u, store.Inbox)
	for i := range 4 {
		appendMsg(t, u, store.Inbox, fmt.Sprintf("message %d", i), `\Deleted`)
	}
	beforeExpunge := status(t, u, store.Inbox).HighestModSeq
	gone, err := u.Expunge(ctx, id, store.UIDSetOf(2))
	require.NoError(t, err)
	require.Equal(t, []uint32{2}, gone)
	changes := func(since uint64) ([]store.Change, error) {
		var got []store.Change
		err := u.ChangesSince(ctx, id, since, func(c store.Change) error {
			got = append(got, c)
			return nil
		})
		return got, err
	}
	got, err := changes(beforeExpunge)
	require.NoError(t, err)
	require.Len(t, got, 1)
	expunged := status(t, u, store.Inbox).HighestModSeq
	assert.Equal(t, store.Change{ModSeq: expunged, Kind: store.ChangeExpunge, UIDs: store.UIDSetOf(2)}, got[0])

	for _, f := range []string{"a", "b", "c"} {
		_, err := u.StoreFlags(ctx, id, store.UIDSetOf(1), store.FlagChange{Op: store.FlagsAdd, Flags: []string{f}})
		require.NoError(t, err)
	}
	_, err = changes(beforeExpunge)
	assert.ErrorIs(t, err, store.ErrChangesTruncated, "the expunge left the log")
	got, err = changes(expunged)
	require.NoError(t, err)
	assert.Len(t, got, 3, "the three flag changes are kept")
	top := status(t, u, store.Inbox).HighestModSeq

	gone, err = u.Expunge(ctx, id, nil)
	require.NoError(t, err)
	require.Equal(t, []uint32{1, 3, 4}, gone)
	got, err = changes(top)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, store.Change{ModSeq: status(t, u, store.Inbox).HighestModSeq, Kind: store.ChangeExpunge, UIDs: store.UIDSetOf(1, 3, 4)}, got[0])
}

// ---- helpers ----

func newUser(t *testing.T, s store.Store, name string) store.User {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, s.CreateUser(ctx, name, "pw-"+name))
	u, err := s.Authenticate(ctx, name, "pw-"+name)
	require.NoError(t, err)
	return u
}

func mailboxID(t *testing.T, u store.User, name string) store.MailboxID {
	t.Helper()
	mi, err := u.Mailbox(context.Background(), name)
	require.NoError(t, err)
	return mi.ID
}

func appendMsg(t *testing.T, u store.User, mbox, body string, flags ...string) store.AppendResult {
	t.Helper()
	res, err := u.Append(context.Background(), mbox, store.NewMessage{Flags: flags, Body: strings.NewReader(body)})
	require.NoError(t, err)
	return res
}

func readBody(t *testing.T, u store.User, id store.MailboxID, uid uint32) string {
	t.Helper()
	b, err := u.OpenBody(context.Background(), id, uid)
	require.NoError(t, err)
	defer b.Close()
	data, err := io.ReadAll(b)
	require.NoError(t, err)
	assert.Equal(t, int64(len(data)), b.Size())
	return string(data)
}

func fetchAll(t *testing.T, u store.User, id store.MailboxID, opts store.FetchOptions) []*store.Message {
	t.Helper()
	var out []*store.Message
	require.NoError(t, u.Fetch(context.Background(), id, store.AllUIDs(), opts, func(m *store.Message) error {
		out = append(out, m.Clone())
		return nil
	}))
	return out
}

func names(list []store.MailboxInfo) []string {
	out := make([]string, 0, len(list))
	for _, m := range list {
		out = append(out, m.Name)
	}
	return out
}

func find(list []store.MailboxInfo, name string) (store.MailboxInfo, bool) {
	for _, m := range list {
		if m.Name == name {
			return m, true
		}
	}
	return store.MailboxInfo{}, false
}

func status(t *testing.T, u store.User, name string) store.MailboxStatus {
	t.Helper()
	st, err := u.Status(context.Background(), name)
	require.NoError(t, err)
	return st
}

func argon2idHash(pw string) string {
	salt := []byte("storetest-salt!!")
	key := argon2.IDKey([]byte(pw), salt, 1, 64, 1, 32)
	return fmt.Sprintf("$argon2id$v=19$m=64,t=1,p=1$%s$%s",
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// ---- accounts ----

func testAccounts(t *testing.T, s store.Store) {
	ctx := context.Background()
	require.NoError(t, s.CreateUser(ctx, "bob", "secret"))
	require.NoError(t, s.CreateUser(ctx, "alice@example.org", "secret2"))
	assert.ErrorIs(t, s.CreateUser(ctx, "bob", "other"), store.ErrUserExists)
	for _, bad := range []string{"", "a b", "x\r\ny", "nul\x00"} {
		assert.ErrorIs(t, s.CreateUser(ctx, bad, "pw"), store.ErrInvalidUserName, "%q", bad)
	}
	assert.ErrorIs(t, s.CreateUser(ctx, "carol", ""), store.ErrInvalidPassword)
	users, err := s.ListUsers(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"alice@example.org", "bob"}, users)

	require.NoError(t, s.SetPassword(ctx, "bob", "new-secret"))
	_, err = s.Authenticate(ctx, "bob", "secret")
	assert.ErrorIs(t, err, store.ErrAuthFailed)
	u, err := s.Authenticate(ctx, "bob", "new-secret")
	require.NoError(t, err)
	assert.Equal(t, "bob", u.Name())
	assert.ErrorIs(t, s.SetPassword(ctx, "nobody", "x"), store.ErrNoSuchUser)

	_, err = s.OpenUser(ctx, "alice@example.org")
	assert.NoError(t, err)
	_, err = s.OpenUser(ctx, "nobody")
	assert.ErrorIs(t, err, store.ErrNoSuchUser)

	require.NoError(t, s.DeleteUser(ctx, "bob"))
	assert.ErrorIs(t, s.DeleteUser(ctx, "bob"), store.ErrNoSuchUser)
	_, err = s.Authenticate(ctx, "bob", "new-secret")
	assert.ErrorIs(t, err, store.ErrAuthFailed)
	_, err = u.ListMailboxes(ctx)
	assert.ErrorIs(t, err, store.ErrNoSuchUser, "a handle of a deleted account must stop working")
	users, err = s.ListUsers(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"alice@example.org"}, users)
}

func testAuthenticate(t *testing.T, s store.Store) {
	ctx := context.Background()
	require.NoError(t, s.CreateUser(ctx, "dave", "correct horse"))
	tests := []struct {
		user, pw string
		ok       bool
	}{
		{"dave", "correct horse", true},
		{"dave", "Correct horse", false},
		{"dave", "", false},
		{"dave", strings.Repeat("x", 200), false},
		{"Dave", "correct horse", false},
		{"nobody", "correct horse", false},
		{"", "", false},
	}
	for _, tc := range tests {
		u, err := s.Authenticate(ctx, tc.user, tc.pw)
		if tc.ok {
			require.NoError(t, err)
			assert.Equal(t, tc.user, u.Name())
			continue
		}
		assert.ErrorIs(t, err, store.ErrAuthFailed, "%q/%q", tc.user, tc.pw)
		assert.NotErrorIs(t, err, store.ErrNoSuchUser, "must not reveal whether the user exists")
		assert.Nil(t, u)
	}
	// Same time class: an unknown user must not be answered much faster
	// than a wrong password (it is checked against a dummy hash). The
	// fastest of several tries filters scheduling noise.
	fastest := func(user string) time.Duration {
		best := time.Duration(1 << 62)
		for range 5 {
			start := time.Now()
			_, _ = s.Authenticate(ctx, user, "wrong password")
			best = min(best, time.Since(start))
		}
		return best
	}
	unknown, wrong := fastest("nobody"), fastest("dave")
	assert.Greater(t, unknown*5, wrong, "unknown user %v vs wrong password %v", unknown, wrong)
}

func testImportedHashes(t *testing.T, s store.Store) {
	ctx := context.Background()
	require.NoError(t, s.CreateUserWithHash(ctx, "imported", argon2idHash("migrated")))
	_, err := s.Authenticate(ctx, "imported", "migrated")
	assert.NoError(t, err)
	_, err = s.Authenticate(ctx, "imported", "wrong")
	assert.ErrorIs(t, err, store.ErrAuthFailed)
	// A bcrypt hash of "pw" at cost 4 produced by another system.
	require.NoError(t, s.CreateUserWithHash(ctx, "bc", "$2a$04$SgJcfM8dlJhA.jKoNYs3O.3mp.UQyUbqU0g7hGlpvuhWX1TxNqsrS"))
	for _, bad := range []string{"plain", "{SHA}abc", "$argon2id$v=19$m=1,t=1,p=1$x$y", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"} {
		assert.ErrorIs(t, s.CreateUserWithHash(ctx, "x", bad), store.ErrInvalidPassword, bad)
	}
}

func testDefaultMailboxes(t *testing.T, s store.Store) {
	u := newUser(t, s, "eve")
	list, err := u.ListMailboxes(context.Background())
	require.NoError(t, err)
	want := map[string]store.MailboxAttr{
		"INBOX": 0, "Drafts": store.AttrDrafts, "Sent": store.AttrSent, "Junk": store.AttrJunk,
		"Trash": store.AttrTrash, "Archive": store.AttrArchive,
	}
	require.Len(t, list, len(want))
	ids := map[store.MailboxID]bool{}
	for _, m := range list {
		attr, ok := want[m.Name]
		require.True(t, ok, m.Name)
		assert.Equal(t, attr, m.Attr&store.SpecialUseMask, m.Name)
		assert.True(t, m.Attr&store.AttrHasNoChildren != 0, m.Name)
		assert.True(t, m.Subscribed, m.Name)
		assert.NotZero(t, m.UIDValidity)
		ids[m.ID] = true
	}
	assert.Len(t, ids, len(want), "mailbox IDs must be distinct")
	st := status(t, u, "inbox")
	assert.Equal(t, store.MailboxStatus{ID: st.ID, Name: "INBOX", UIDNext: 1, UIDValidity: st.UIDValidity, HighestModSeq: st.HighestModSeq}, st)
	assert.NotZero(t, st.HighestModSeq)
}

// ---- mailboxes ----

func testCreateMailbox(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "frank")
	mi, err := u.CreateMailbox(ctx, "Work/Projects/2026", 0)
	require.NoError(t, err)
	assert.Equal(t, "Work/Projects/2026", mi.Name)
	assert.False(t, mi.Subscribed)
	list, err := u.ListMailboxes(ctx)
	require.NoError(t, err)
	for _, n := range []string{"Work", "Work/Projects"} {
		m, ok := find(list, n)
		require.True(t, ok, "superior %s must be created", n)
		assert.True(t, m.Attr&store.AttrHasChildren != 0)
		assert.Zero(t, m.Attr&store.AttrNoselect, "superiors are ordinary mailboxes")
	}
	leaf, _ := find(list, "Work/Projects/2026")
	assert.True(t, leaf.Attr&store.AttrHasNoChildren != 0)
	assert.True(t, slices.IsSorted(names(list)))

	_, err = u.CreateMailbox(ctx, "Work", 0)
	assert.ErrorIs(t, err, store.ErrMailboxExists)
	_, err = u.CreateMailbox(ctx, "inbox", 0)
	assert.ErrorIs(t, err, store.ErrMailboxExists)

	mi, err = u.CreateMailbox(ctx, "All Mail", store.AttrAll)
	require.NoError(t, err)
	assert.Equal(t, store.AttrAll, mi.Attr&store.SpecialUseMask)
	_, err = u.CreateMailbox(ctx, "Bad", store.AttrNoselect)
	assert.ErrorIs(t, err, store.ErrInvalidSpecialUse)

	_, err = u.CreateMailbox(ctx, "INBOX/Sub", 0)
	require.NoError(t, err)
	_, err = u.Mailbox(ctx, "inbox/Sub")
	assert.NoError(t, err, "the INBOX prefix is case-insensitive")
	_, err = u.Mailbox(ctx, "work")
	assert.ErrorIs(t, err, store.ErrNoSuchMailbox, "other names are case-sensitive")
}

func testMailboxNames(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "gina")
	tests := []struct {
		name string
		ok   bool
	}{
		{"..", true},
		{"../x", true},
		{"&AGE-", true},
		{"Café/Ünïcødé", true},
		{"a.b/c.d", true},
		{"", false},
		{"/", false},
		{"/abs", false},
		{"trail/", false},
		{"a//b", false},
		{"nul\x00x", false},
		{"cr\rx", false},
		{"lf\nx", false},
		{"star*", false},
		{"per%cent", false},
		{"bad\xffutf8", false},
		{strings.Repeat("n", 5000), false},
	}
	for _, tc := range tests {
		_, err := u.CreateMailbox(ctx, tc.name, 0)
		if tc.ok {
			assert.NoError(t, err, "%q", tc.name)
			_, err = u.Mailbox(ctx, tc.name)
			assert.NoError(t, err, "%q", tc.name)
		} else {
			assert.ErrorIs(t, err, store.ErrInvalidMailboxName, "%q", tc.name)
		}
	}
	for _, bad := range []string{"", "a//b", "x\x00"} {
		_, err := u.Status(ctx, bad)
		assert.ErrorIs(t, err, store.ErrInvalidMailboxName)
		_, err = u.Append(ctx, bad, store.NewMessage{Body: strings.NewReader("x")})
		assert.ErrorIs(t, err, store.ErrInvalidMailboxName)
	}
}

func testDeleteMailbox(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "hank")
	assert.ErrorIs(t, u.DeleteMailbox(ctx, "INBOX"), store.ErrInboxDelete)
	assert.ErrorIs(t, u.DeleteMailbox(ctx, "inbox"), store.ErrInboxDelete)
	assert.ErrorIs(t, u.DeleteMailbox(ctx, "nope"), store.ErrNoSuchMailbox)

	_, err := u.CreateMailbox(ctx, "P/C", 0)
	require.NoError(t, err)
	parent := mailboxID(t, u, "P")
	appendMsg(t, u, "P", "in parent")
	require.NoError(t, u.SetSubscribed(ctx, "P", true))

	// Deleting a mailbox with inferiors leaves a \Noselect placeholder.
	require.NoError(t, u.DeleteMailbox(ctx, "P"))
	list, err := u.ListMailboxes(ctx)
	require.NoError(t, err)
	p, ok := find(list, "P")
	require.True(t, ok)
	assert.True(t, p.Attr&store.AttrNoselect != 0)
	assert.True(t, p.Attr&store.AttrHasChildren != 0)
	_, err = u.View(ctx, parent)
	assert.ErrorIs(t, err, store.ErrNoSuchMailbox, "the old mailbox ID must be gone")
	_, err = u.View(ctx, p.ID)
	assert.ErrorIs(t, err, store.ErrNoselect)
	_, err = u.Append(ctx, "P", store.NewMessage{Body: strings.NewReader("x")})
	assert.ErrorIs(t, err, store.ErrNoselect)
	assert.ErrorIs(t, u.DeleteMailbox(ctx, "P"), store.ErrHasChildren)

	// Leaf deletion, then the \Noselect parent without children goes too.
	require.NoError(t, u.DeleteMailbox(ctx, "P/C"))
	require.NoError(t, u.DeleteMailbox(ctx, "P"))
	_, err = u.Mailbox(ctx, "P")
	assert.ErrorIs(t, err, store.ErrNoSuchMailbox)
	subs, err := u.Subscriptions(ctx)
	require.NoError(t, err)
	assert.Contains(t, subs, "P", "subscriptions survive deletion (RFC 9051 6.3.7)")

	// Re-creating a \Noselect name makes it selectable.
	_, err = u.CreateMailbox(ctx, "Q/R", 0)
	require.NoError(t, err)
	require.NoError(t, u.DeleteMailbox(ctx, "Q"))
	mi, err := u.CreateMailbox(ctx, "Q", 0)
	require.NoError(t, err)
	assert.Zero(t, mi.Attr&store.AttrNoselect)
	_, err = u.View(ctx, mi.ID)
	assert.NoError(t, err)
}

func testRenameMailbox(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "ivan")
	_, err := u.CreateMailbox(ctx, "A/B/C", 0)
	require.NoError(t, err)
	_, err = u.CreateMailbox(ctx, "AB", 0)
	require.NoError(t, err)
	require.NoError(t, u.SetSubscribed(ctx, "A/B", true))
	before, err := u.Mailbox(ctx, "A/B")
	require.NoError(t, err)
	r := appendMsg(t, u, "A/B", "kept across rename")

	require.NoError(t, u.RenameMailbox(ctx, "A", "X/Y"))
	list, err := u.ListMailboxes(ctx)
	require.NoError(t, err)
	got := names(list)
	for _, n := range []string{"X", "X/Y", "X/Y/B", "X/Y/B/C", "AB"} {
		assert.Contains(t, got, n)
	}
	for _, n := range []string{"A", "A/B", "A/B/C"} {
		assert.NotContains(t, got, n)
	}
	after, err := u.Mailbox(ctx, "X/Y/B")
	require.NoError(t, err)
	assert.Equal(t, before.ID, after.ID, "rename keeps the mailbox identity")
	assert.Equal(t, before.UIDValidity, after.UIDValidity)
	assert.True(t, after.Subscribed, "subscription follows the rename")
	assert.Equal(t, "kept across rename", readBody(t, u, after.ID, r.UID))

	assert.ErrorIs(t, u.RenameMailbox(ctx, "AB", "X/Y"), store.ErrMailboxExists)
	assert.ErrorIs(t, u.RenameMailbox(ctx, "nope", "Z"), store.ErrNoSuchMailbox)
	assert.ErrorIs(t, u.RenameMailbox(ctx, "X", "X/Sub"), store.ErrInvalidMailboxName)
	assert.ErrorIs(t, u.RenameMailbox(ctx, "AB", "AB"), store.ErrMailboxExists)
	assert.ErrorIs(t, u.RenameMailbox(ctx, "AB", "bad//name"), store.ErrInvalidMailboxName)
	// A failed rename changes nothing.
	_, err = u.Mailbox(ctx, "AB")
	assert.NoError(t, err)

	// A rename may not push an inferior past the depth limit: the result
	// could be neither selected, nor renamed back, nor deleted.
	deepest := "D" + strings.Repeat("/d", store.MaxMailboxDepth-1)
	_, err = u.CreateMailbox(ctx, deepest, 0)
	require.NoError(t, err)
	assert.ErrorIs(t, u.RenameMailbox(ctx, "D", "E/F"), store.ErrInvalidMailboxName)
	_, err = u.Mailbox(ctx, deepest)
	assert.NoError(t, err, "a failed rename changes nothing")
	require.NoError(t, u.RenameMailbox(ctx, "D", "G"), "the same depth is fine")
	_, err = u.Mailbox(ctx, "G"+deepest[1:])
	assert.NoError(t, err)
}

func testRenameInbox(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "judy")
	inbox := mailboxID(t, u, store.Inbox)
	_, err := u.CreateMailbox(ctx, "INBOX/Child", 0)
	require.NoError(t, err)
	for i := range 3 {
		appendMsg(t, u, store.Inbox, fmt.Sprintf("inbox %d", i), `\Flagged`)
	}
	inboxBefore := status(t, u, store.Inbox)
	require.NoError(t, u.RenameMailbox(ctx, "INBOX", "Old/Inbox"))

	st := status(t, u, store.Inbox)
	assert.Equal(t, inbox, st.ID, "INBOX stays")
	assert.Zero(t, st.Messages)
	assert.Equal(t, inboxBefore.UIDNext, st.UIDNext, "INBOX UIDs continue")
	_, err = u.Mailbox(ctx, "INBOX/Child")
	assert.NoError(t, err, "inferiors of INBOX are unaffected")
	old := status(t, u, "Old/Inbox")
	assert.Equal(t, uint32(3), old.Messages)
	msgs := fetchAll(t, u, old.ID, store.FetchOptions{})
	require.Len(t, msgs, 3)
	assert.Equal(t, "inbox 2", readBody(t, u, old.ID, msgs[2].UID))
	assert.Contains(t, msgs[0].Flags, `\Flagged`)
	assert.ErrorIs(t, u.RenameMailbox(ctx, "INBOX", "Old/Inbox"), store.ErrMailboxExists)
}

func testSubscriptions(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "kim")
	_, err := u.CreateMailbox(ctx, "Lists/go", 0)
	require.NoError(t, err)
	require.NoError(t, u.SetSubscribed(ctx, "Lists/go", true))
	assert.ErrorIs(t, u.SetSubscribed(ctx, "Missing", true), store.ErrNoSuchMailbox)
	require.NoError(t, u.SetSubscribed(ctx, "Junk", false))
	require.NoError(t, u.SetSubscribed(ctx, "never-subscribed", false))
	subs, err := u.Subscriptions(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"Archive", "Drafts", "INBOX", "Lists/go", "Sent", "Trash"}, subs)
	mi, err := u.Mailbox(ctx, "Lists/go")
	require.NoError(t, err)
	assert.True(t, mi.Subscribed)
	mi, err = u.Mailbox(ctx, "Junk")
	require.NoError(t, err)
	assert.False(t, mi.Subscribed)
}

// ---- messages ----

func testAppendFetch(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "leo")
	id := mailboxID(t, u, store.Inbox)
	date := time.Date(2024, 2, 29, 13, 14, 15, 0, time.FixedZone("x", 3600))
	bodies := []string{
		"From: a@example.org\r\nSubject: one\r\n\r\nhello\r\n",
		"Subject: binary\r\n\r\n\x00\x01\xff\r\n",
		"",
	}
	var results []store.AppendResult
	for i, b := range bodies {
		res, err := u.Append(ctx, "INBOX", store.NewMessage{
			Flags: []string{`\Seen`, `$Label1`}, InternalDate: date.Add(time.Duration(i) * time.Hour), Body: strings.NewReader(b),
		})
		require.NoError(t, err)
		results = append(results, res)
	}
	st := status(t, u, store.Inbox)
	for i, r := range results {
		assert.Equal(t, id, r.Mailbox)
		assert.Equal(t, st.UIDValidity, r.UIDValidity)
		assert.Equal(t, uint32(i+1), r.UID)
		if i > 0 {
			assert.Greater(t, r.ModSeq, results[i-1].ModSeq)
		}
	}
	assert.Equal(t, uint32(3), st.Messages)
	assert.Equal(t, uint32(4), st.UIDNext)
	assert.Zero(t, st.Unseen)
	assert.Equal(t, int64(len(bodies[0])+len(bodies[1])), st.Size)
	assert.Equal(t, results[2].ModSeq, st.HighestModSeq)

	msgs := fetchAll(t, u, id, store.FetchOptions{Structure: true})
	require.Len(t, msgs, 3)
	for i, m := range msgs {
		assert.Equal(t, results[i].UID, m.UID)
		assert.Equal(t, int64(len(bodies[i])), m.Size)
		assert.True(t, m.InternalDate.Equal(date.Add(time.Duration(i)*time.Hour)))
		assert.Equal(t, []string{`\Seen`, `$Label1`}, m.Flags)
		assert.Equal(t, results[i].ModSeq, m.ModSeq)
		want, _ := Analyzer(strings.NewReader(bodies[i]))
		assert.Equal(t, string(want), string(m.Structure))
		assert.Equal(t, bodies[i], readBody(t, u, id, m.UID))
	}
	noStruct := fetchAll(t, u, id, store.FetchOptions{})
	assert.Nil(t, noStruct[0].Structure)

	b, err := u.OpenBody(ctx, id, 1)
	require.NoError(t, err)
	buf := make([]byte, 7)
	_, err = b.ReadAt(buf, 20)
	require.NoError(t, err)
	assert.Equal(t, bodies[0][20:27], string(buf))
	_, err = b.Seek(6, io.SeekStart)
	require.NoError(t, err)
	rest, err := io.ReadAll(b)
	require.NoError(t, err)
	assert.Equal(t, bodies[0][6:], string(rest))
	require.NoError(t, b.Close())

	_, err = u.OpenBody(ctx, id, 99)
	assert.ErrorIs(t, err, store.ErrNoSuchMessage)
	_, err = u.Append(ctx, "INBOX", store.NewMessage{Flags: []string{`\Recent`}, Body: strings.NewReader("x")})
	assert.ErrorIs(t, err, store.ErrInvalidFlag)
	_, err = u.Append(ctx, "Nope", store.NewMessage{Body: strings.NewReader("x")})
	assert.ErrorIs(t, err, store.ErrNoSuchMailbox)
	assert.Equal(t, uint32(4), status(t, u, store.Inbox).UIDNext, "failed appends allocate no UID")

	var subset []uint32
	require.NoError(t, u.Fetch(ctx, id, store.UIDSet{{Start: 3, Stop: 2}, {Start: 7, Stop: 9}}, store.FetchOptions{}, func(m *store.Message) error {
		subset = append(subset, m.UID)
		return nil
	}))
	assert.Equal(t, []uint32{2, 3}, subset)
	stop := fmt.Errorf("stop")
	n := 0
	err = u.Fetch(ctx, id, store.AllUIDs(), store.FetchOptions{}, func(*store.Message) error { n++; return stop })
	assert.ErrorIs(t, err, stop)
	assert.Equal(t, 1, n)
	var changed []uint32
	require.NoError(t, u.Fetch(ctx, id, store.AllUIDs(), store.FetchOptions{ChangedSince: results[1].ModSeq}, func(m *store.Message) error {
		changed = append(changed, m.UID)
		return nil
	}))
	assert.Equal(t, []uint32{3}, changed)
}

// appendConcurrently appends n small messages using workers goroutines.
func appendConcurrently(t *testing.T, u store.User, mbox string, n, workers int, flags ...string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	for range workers {
		wg.Go(func() {
			for i := range next {
				_, err := u.Append(context.Background(), mbox, store.NewMessage{Flags: flags, Body: strings.NewReader(fmt.Sprintf("msg %d", i))})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func testFetchStreaming(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "mia")
	const n = 1300 // more than one internal read chunk of any sensible size
	appendConcurrently(t, u, store.Inbox, n, 16)
	id := mailboxID(t, u, store.Inbox)
	v, err := u.View(ctx, id)
	require.NoError(t, err)
	require.Len(t, v.UIDs, n)
	assert.True(t, slices.IsSorted(v.UIDs))
	assert.Equal(t, uint32(1), v.UIDs[0])
	assert.Equal(t, uint32(n), v.UIDs[n-1])
	var got []uint32
	require.NoError(t, u.Fetch(ctx, id, store.UIDSet{{Start: 1, Stop: 700}, {Start: 650, Stop: 1250}, {Start: 1290, Stop: 5000}}, store.FetchOptions{}, func(m *store.Message) error {
		got = append(got, m.UID)
		return nil
	}))
	want := append(slices.Collect(func(yield func(uint32) bool) {
		for u := uint32(1); u <= 1250; u++ {
			if !yield(u) {
				return
			}
		}
	}), 1290, 1291, 1292, 1293, 1294, 1295, 1296, 1297, 1298, 1299, 1300)
	assert.Equal(t, want, got)
}

// testFetchCallbackMayWrite checks that a Fetch callback can write to the
// store (FETCH BODY[] sets \Seen as it goes) without deadlock.
func testFetchCallbackMayWrite(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "max")
	id := mailboxID(t, u, store.Inbox)
	for i := range 3 {
		appendMsg(t, u, store.Inbox, fmt.Sprint(i))
	}
	done := make(chan error, 1)
	go func() {
		done <- u.Fetch(ctx, id, store.AllUIDs(), store.FetchOptions{}, func(m *store.Message) error {
			_, err := u.StoreFlags(ctx, id, store.UIDSetOf(m.UID), store.FlagChange{Op: store.FlagsAdd, Flags: []string{`\Seen`}})
			return err
		})
	}()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Fetch callback writing to the store deadlocked")
	}
	assert.Zero(t, status(t, u, store.Inbox).Unseen)
}

func testUIDsNeverReused(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "nina")
	id := mailboxID(t, u, store.Inbox)
	for i := range 3 {
		appendMsg(t, u, store.Inbox, fmt.Sprint(i), `\Deleted`)
	}
	expunged, err := u.Expunge(ctx, id, nil)
	require.NoError(t, err)
	assert.Equal(t, []uint32{1, 2, 3}, expunged)
	assert.Equal(t, uint32(4), appendMsg(t, u, store.Inbox, "next").UID)
	_, err = u.CreateMailbox(ctx, "Box", 0)
	require.NoError(t, err)
	last := uint32(0)
	for i := range 5 {
		r := appendMsg(t, u, "Box", fmt.Sprint(i))
		assert.Greater(t, r.UID, last)
		last = r.UID
	}
}

func testUIDValidityOnRecreate(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "otto")
	seen := map[uint32]bool{}
	ids := map[store.MailboxID]bool{}
	for range 3 {
		mi, err := u.CreateMailbox(ctx, "Temp", 0)
		require.NoError(t, err)
		assert.False(t, seen[mi.UIDValidity], "UIDVALIDITY must change on re-create")
		assert.False(t, ids[mi.ID], "mailbox IDs are never reused")
		seen[mi.UIDValidity], ids[mi.ID] = true, true
		r := appendMsg(t, u, "Temp", "x")
		assert.Equal(t, mi.UIDValidity, r.UIDValidity)
		require.NoError(t, u.DeleteMailbox(ctx, "Temp"))
		_, err = u.View(ctx, mi.ID)
		assert.ErrorIs(t, err, store.ErrNoSuchMailbox)
	}
}

func testStoreFlags(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "pat")
	id := mailboxID(t, u, store.Inbox)
	for i := range 4 {
		appendMsg(t, u, store.Inbox, fmt.Sprint(i))
	}
	st0 := status(t, u, store.Inbox)
	assert.Equal(t, uint32(4), st0.Unseen)

	res, err := u.StoreFlags(ctx, id, store.UIDSet{{Start: 1, Stop: 2}, {Start: 9, Stop: 10}}, store.FlagChange{Op: store.FlagsAdd, Flags: []string{`\seen`, `\Deleted`, `Work`}})
	require.NoError(t, err)
	require.Len(t, res.Updated, 2)
	assert.Greater(t, res.ModSeq, st0.HighestModSeq)
	for _, up := range res.Updated {
		assert.True(t, up.Changed)
		assert.Equal(t, res.ModSeq, up.ModSeq)
		assert.Equal(t, []string{`\Seen`, `\Deleted`, `Work`}, up.Flags)
	}
	st := status(t, u, store.Inbox)
	assert.Equal(t, uint32(2), st.Unseen)
	assert.Equal(t, uint32(2), st.Deleted)
	assert.Equal(t, res.ModSeq, st.HighestModSeq)
	v, err := u.View(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, []string{"Work"}, v.Keywords)

	// No-op store: nothing changes, no new modseq.
	res2, err := u.StoreFlags(ctx, id, store.UIDSetOf(1), store.FlagChange{Op: store.FlagsAdd, Flags: []string{`\Seen`}})
	require.NoError(t, err)
	assert.Zero(t, res2.ModSeq)
	require.Len(t, res2.Updated, 1)
	assert.False(t, res2.Updated[0].Changed)
	assert.Equal(t, res.ModSeq, res2.Updated[0].ModSeq)

	res3, err := u.StoreFlags(ctx, id, store.UIDSetOf(1), store.FlagChange{Op: store.FlagsRemove, Flags: []string{`\Deleted`, `work`}})
	require.NoError(t, err)
	assert.Equal(t, []string{`\Seen`}, res3.Updated[0].Flags)
	res4, err := u.StoreFlags(ctx, id, store.UIDSetOf(2, 3), store.FlagChange{Op: store.FlagsSet, Flags: []string{`\Answered`}})
	require.NoError(t, err)
	assert.Equal(t, []string{`\Answered`}, res4.Updated[0].Flags)
	assert.Equal(t, []string{`\Answered`}, res4.Updated[1].Flags)
	st = status(t, u, store.Inbox)
	assert.Equal(t, uint32(3), st.Unseen)
	assert.Equal(t, uint32(0), st.Deleted)

	_, err = u.StoreFlags(ctx, id, store.AllUIDs(), store.FlagChange{Op: store.FlagsAdd, Flags: []string{`\Recent`}})
	assert.ErrorIs(t, err, store.ErrInvalidFlag)
	msgs := fetchAll(t, u, id, store.FetchOptions{})
	assert.Equal(t, []string{`\Seen`}, msgs[0].Flags)
	assert.Equal(t, []string{}, msgs[3].Flags)
	assert.Equal(t, res4.ModSeq, msgs[1].ModSeq)
}

func testUnchangedSince(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "quinn")
	id := mailboxID(t, u, store.Inbox)
	a := appendMsg(t, u, store.Inbox, "a")
	b := appendMsg(t, u, store.Inbox, "b")
	// Touch b so its modseq is newer than a's.
	rb, err := u.StoreFlags(ctx, id, store.UIDSetOf(b.UID), store.FlagChange{Op: store.FlagsAdd, Flags: []string{`$x`}})
	require.NoError(t, err)
	res, err := u.StoreFlags(ctx, id, store.AllUIDs(), store.FlagChange{Op: store.FlagsAdd, Flags: []string{`\Flagged`}, UnchangedSince: b.ModSeq})
	require.NoError(t, err)
	assert.Equal(t, store.UIDSetOf(b.UID), res.Modified)
	require.Len(t, res.Updated, 1)
	assert.Equal(t, a.UID, res.Updated[0].UID)
	assert.Greater(t, res.ModSeq, rb.ModSeq)
	msgs := fetchAll(t, u, id, store.FetchOptions{})
	assert.Equal(t, []string{`\Flagged`}, msgs[0].Flags)
	assert.Equal(t, []string{`$x`}, msgs[1].Flags)
}

func testCopyMove(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "rita")
	src := mailboxID(t, u, store.Inbox)
	for i := range 5 {
		appendMsg(t, u, store.Inbox, fmt.Sprintf("body %d", i), `\Flagged`)
	}
	arch, err := u.Mailbox(ctx, "Archive")
	require.NoError(t, err)
	appendMsg(t, u, "Archive", "already there")

	cp, err := u.Copy(ctx, src, store.UIDSet{{Start: 2, Stop: 3}, {Start: 5, Stop: 100}}, "Archive")
	require.NoError(t, err)
	assert.Equal(t, arch.ID, cp.DestID)
	assert.Equal(t, arch.UIDValidity, cp.DestUIDValidity)
	assert.Equal(t, []uint32{2, 3, 5}, cp.SourceUIDs)
	assert.Equal(t, []uint32{2, 3, 4}, cp.DestUIDs)
	for i, du := range cp.DestUIDs {
		assert.Equal(t, fmt.Sprintf("body %d", cp.SourceUIDs[i]-1), readBody(t, u, arch.ID, du))
	}
	assert.Equal(t, uint32(5), status(t, u, store.Inbox).Messages)
	ast := status(t, u, "Archive")
	assert.Equal(t, uint32(4), ast.Messages)
	assert.Equal(t, uint32(4), ast.Unseen)
	dmsgs := fetchAll(t, u, arch.ID, store.FetchOptions{Structure: true})
	assert.Equal(t, []string{`\Flagged`}, dmsgs[1].Flags, "copy preserves flags")
	want, _ := Analyzer(strings.NewReader("body 1"))
	assert.Equal(t, string(want), string(dmsgs[1].Structure), "copy preserves the structure blob")

	mv, err := u.Move(ctx, src, store.UIDSetOf(1, 3), "Trash")
	require.NoError(t, err)
	assert.Equal(t, []uint32{1, 3}, mv.SourceUIDs)
	assert.Equal(t, []uint32{1, 2}, mv.DestUIDs)
	v, err := u.View(ctx, src)
	require.NoError(t, err)
	assert.Equal(t, []uint32{2, 4, 5}, v.UIDs)
	assert.Equal(t, "body 2", readBody(t, u, mv.DestID, 2))
	_, err = u.OpenBody(ctx, src, 3)
	assert.ErrorIs(t, err, store.ErrNoSuchMessage)
	assert.Equal(t, uint32(2), status(t, u, "Trash").Messages)

	empty, err := u.Copy(ctx, src, store.UIDSetOf(77), "Archive")
	require.NoError(t, err)
	assert.Empty(t, empty.DestUIDs)
	_, err = u.Copy(ctx, src, store.AllUIDs(), "Missing")
	assert.ErrorIs(t, err, store.ErrNoSuchMailbox)
	_, err = u.Move(ctx, src, store.AllUIDs(), "Missing")
	assert.ErrorIs(t, err, store.ErrNoSuchMailbox)
	assert.Equal(t, uint32(3), status(t, u, store.Inbox).Messages, "a failed move changes nothing")

	// Expunging the original keeps the copy readable (shared content).
	_, err = u.StoreFlags(ctx, src, store.UIDSetOf(2), store.FlagChange{Op: store.FlagsAdd, Flags: []string{`\Deleted`}})
	require.NoError(t, err)
	_, err = u.Expunge(ctx, src, nil)
	require.NoError(t, err)
	assert.Equal(t, "body 1", readBody(t, u, arch.ID, 2))
}

func testCopyMoveSameMailbox(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "sam")
	id := mailboxID(t, u, store.Inbox)
	appendMsg(t, u, store.Inbox, "one")
	appendMsg(t, u, store.Inbox, "two")
	cp, err := u.Copy(ctx, id, store.AllUIDs(), store.Inbox)
	require.NoError(t, err)
	assert.Equal(t, []uint32{3, 4}, cp.DestUIDs)
	mv, err := u.Move(ctx, id, store.UIDSetOf(1), "inbox")
	require.NoError(t, err)
	assert.Equal(t, []uint32{5}, mv.DestUIDs)
	v, err := u.View(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, []uint32{2, 3, 4, 5}, v.UIDs)
	assert.Equal(t, uint32(4), v.Messages)
	assert.Equal(t, "one", readBody(t, u, id, 5))
	assert.Equal(t, "one", readBody(t, u, id, 3))
}

func testExpunge(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "tom")
	id := mailboxID(t, u, store.Inbox)
	for i := range 6 {
		flags := []string{}
		if i%2 == 0 {
			flags = append(flags, `\Deleted`)
		}
		appendMsg(t, u, store.Inbox, fmt.Sprint(i), flags...)
	}
	assert.Equal(t, uint32(3), status(t, u, store.Inbox).Deleted)
	got, err := u.Expunge(ctx, id, store.UIDSetOf(3, 4))
	require.NoError(t, err)
	assert.Equal(t, []uint32{3}, got, "UID EXPUNGE removes only \\Deleted messages in the set")
	got, err = u.Expunge(ctx, id, store.UIDSet{})
	require.NoError(t, err)
	assert.Empty(t, got, "an empty set expunges nothing")
	before := status(t, u, store.Inbox)
	got, err = u.Expunge(ctx, id, nil)
	require.NoError(t, err)
	assert.Equal(t, []uint32{1, 5}, got)
	st := status(t, u, store.Inbox)
	assert.Equal(t, uint32(3), st.Messages)
	assert.Zero(t, st.Deleted)
	assert.Equal(t, int64(3), st.Size)
	assert.Greater(t, st.HighestModSeq, before.HighestModSeq)
	got, err = u.Expunge(ctx, id, nil)
	require.NoError(t, err)
	assert.Empty(t, got)
	assert.Equal(t, st.HighestModSeq, status(t, u, store.Inbox).HighestModSeq, "a no-op expunge does not bump MODSEQ")
	v, err := u.View(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, []uint32{2, 4, 6}, v.UIDs)
}

func testChangeLog(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "uma")
	id := mailboxID(t, u, store.Inbox)
	start := status(t, u, store.Inbox).HighestModSeq
	a1 := appendMsg(t, u, store.Inbox, "1")
	a2 := appendMsg(t, u, store.Inbox, "2")
	f, err := u.StoreFlags(ctx, id, store.UIDSetOf(1, 2), store.FlagChange{Op: store.FlagsAdd, Flags: []string{`\Deleted`}})
	require.NoError(t, err)
	_, err = u.Expunge(ctx, id, store.UIDSetOf(1))
	require.NoError(t, err)
	cp, err := u.Copy(ctx, id, store.UIDSetOf(2), "Archive")
	require.NoError(t, err)
	mv, err := u.Move(ctx, id, store.UIDSetOf(2), "Trash")
	require.NoError(t, err)
	_ = cp
	_ = mv

	var got []store.Change
	require.NoError(t, u.ChangesSince(ctx, id, start, func(c store.Change) error {
		got = append(got, c)
		return nil
	}))
	require.Len(t, got, 5)
	kinds := []store.ChangeKind{store.ChangeAppend, store.ChangeAppend, store.ChangeFlags, store.ChangeExpunge, store.ChangeExpunge}
	uids := []store.UIDSet{store.UIDSetOf(1), store.UIDSetOf(2), store.UIDSetOf(1, 2), store.UIDSetOf(1), store.UIDSetOf(2)}
	for i, c := range got {
		assert.Equal(t, kinds[i], c.Kind, i)
		assert.Equal(t, uids[i], c.UIDs, i)
		if i > 0 {
			assert.Greater(t, c.ModSeq, got[i-1].ModSeq)
		}
	}
	assert.Equal(t, a1.ModSeq, got[0].ModSeq)
	assert.Equal(t, a2.ModSeq, got[1].ModSeq)
	assert.Equal(t, f.ModSeq, got[2].ModSeq)
	assert.Equal(t, status(t, u, store.Inbox).HighestModSeq, got[4].ModSeq)

	var tail []store.Change
	require.NoError(t, u.ChangesSince(ctx, id, f.ModSeq, func(c store.Change) error {
		tail = append(tail, c)
		return nil
	}))
	assert.Len(t, tail, 2)
	arch := mailboxID(t, u, "Archive")
	var archLog []store.Change
	require.NoError(t, u.ChangesSince(ctx, arch, 0, func(c store.Change) error {
		archLog = append(archLog, c)
		return nil
	}))
	require.Len(t, archLog, 1)
	assert.Equal(t, store.ChangeAppend, archLog[0].Kind)
	assert.Equal(t, store.ChangeExpunge.String(), "expunge")
}

// testExpungeTombstones checks what QRESYNC reads from the change log
// (RFC 7162 3.2.5.1, 3.2.6): each expunge that removes something is one
// entry with exactly the removed UIDs, at a new MODSEQ above every
// surviving message's and equal to the mailbox's new HIGHESTMODSEQ; an
// expunge that removes nothing leaves no entry.
func testExpungeTombstones(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "tomb")
	id := mailboxID(t, u, store.Inbox)
	for i := range 6 {
		appendMsg(t, u, store.Inbox, fmt.Sprintf("message %d", i))
	}
	_, err := u.StoreFlags(ctx, id, store.UIDSetOf(2, 3, 5, 6), store.FlagChange{Op: store.FlagsAdd, Flags: []string{`\Deleted`}})
	require.NoError(t, err)
	start := status(t, u, store.Inbox).HighestModSeq

	gone, err := u.Expunge(ctx, id, store.UIDSetOf(1, 2, 3, 5))
	require.NoError(t, err)
	require.Equal(t, []uint32{2, 3, 5}, gone)
	first := status(t, u, store.Inbox).HighestModSeq
	_, err = u.Expunge(ctx, id, store.UIDSetOf(1, 4))
	require.NoError(t, err)
	assert.Equal(t, first, status(t, u, store.Inbox).HighestModSeq, "nothing removed, nothing logged")
	mv, err := u.Move(ctx, id, store.UIDSetOf(4), "Trash")
	require.NoError(t, err)
	require.Equal(t, []uint32{4}, mv.SourceUIDs)
	gone, err = u.Expunge(ctx, id, nil)
	require.NoError(t, err)
	require.Equal(t, []uint32{6}, gone)
	last := status(t, u, store.Inbox).HighestModSeq

	var got []store.Change
	require.NoError(t, u.ChangesSince(ctx, id, start, func(c store.Change) error {
		got = append(got, c)
		return nil
	}))
	require.Len(t, got, 3)
	assert.Equal(t, store.Change{ModSeq: first, Kind: store.ChangeExpunge, UIDs: store.UIDSetOf(2, 3, 5)}, got[0])
	assert.Equal(t, store.ChangeExpunge, got[1].Kind)
	assert.Equal(t, store.UIDSetOf(4), got[1].UIDs)
	assert.Equal(t, store.Change{ModSeq: last, Kind: store.ChangeExpunge, UIDs: store.UIDSetOf(6)}, got[2])
	assert.Less(t, got[0].ModSeq, got[1].ModSeq)
	assert.Less(t, got[1].ModSeq, got[2].ModSeq)
	require.NoError(t, u.Fetch(ctx, id, store.AllUIDs(), store.FetchOptions{}, func(m *store.Message) error {
		assert.Less(t, m.ModSeq, first, "UID %d", m.UID)
		return nil
	}))

	var tail []store.Change
	require.NoError(t, u.ChangesSince(ctx, id, got[1].ModSeq, func(c store.Change) error {
		tail = append(tail, c)
		return nil
	}))
	assert.Equal(t, got[2:], tail, "a read from a MODSEQ leaves out the earlier expunges")
}

func testNotifier(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "vic")
	id := mailboxID(t, u, store.Inbox)
	other, err := s.OpenUser(ctx, "vic")
	require.NoError(t, err)
	ch, cancel := s.Notifier().Subscribe("vic", id)
	defer cancel()
	trash := mailboxID(t, u, "Trash")
	chTrash, cancelTrash := s.Notifier().Subscribe("vic", trash)
	defer cancelTrash()

	wait := func(ch <-chan store.Notification) store.Notification {
		t.Helper()
		select {
		case n := <-ch:
			return n
		case <-time.After(5 * time.Second):
			t.Fatal("no notification")
		}
		return store.Notification{}
	}
	r := appendMsg(t, other, store.Inbox, "hello")
	n := wait(ch)
	assert.Equal(t, store.Notification{User: "vic", Mailbox: id, HighestModSeq: r.ModSeq}, n)

	res, err := other.StoreFlags(ctx, id, store.AllUIDs(), store.FlagChange{Op: store.FlagsAdd, Flags: []string{`\Seen`}})
	require.NoError(t, err)
	assert.Equal(t, res.ModSeq, wait(ch).HighestModSeq)

	_, err = other.Move(ctx, id, store.AllUIDs(), "Trash")
	require.NoError(t, err)
	assert.Equal(t, status(t, u, store.Inbox).HighestModSeq, wait(ch).HighestModSeq)
	assert.Equal(t, status(t, u, "Trash").HighestModSeq, wait(chTrash).HighestModSeq)

	// A notification is never sent for another user's mailbox of the same ID.
	require.NoError(t, s.CreateUser(ctx, "walt", "pw"))
	w, err := s.OpenUser(ctx, "walt")
	require.NoError(t, err)
	appendMsg(t, w, store.Inbox, "walt's")
	select {
	case n := <-ch:
		t.Fatalf("unexpected %v", n)
	case <-time.After(50 * time.Millisecond):
	}
}

// testAccountEvents checks that a subscription to store.AccountEvents
// receives the changes of every mailbox of the user and the account
// events (RFC 5465 MailboxName and SubscriptionChange), one per renamed
// mailbox and one per superior created on the way, and nothing of another
// user.
func testAccountEvents(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "xena")
	fn, ok := s.Notifier().(interface {
		SubscribeFunc(string, store.MailboxID, func(store.Notification)) func()
	})
	if !ok {
		t.Skip("the notifier cannot call functions")
	}
	var mu sync.Mutex
	var events []store.Notification
	var changed []store.MailboxID
	cancel := fn.SubscribeFunc("xena", store.AccountEvents, func(n store.Notification) {
		mu.Lock()
		defer mu.Unlock()
		if n.Event != 0 {
			events = append(events, n)
		} else if n.Mailbox != store.AccountEvents {
			changed = append(changed, n.Mailbox)
		}
	})
	defer cancel()
	other := newUser(t, s, "yves")
	_, err := other.CreateMailbox(ctx, "Theirs", 0)
	require.NoError(t, err)

	_, err = u.CreateMailbox(ctx, "Ev", 0)
	require.NoError(t, err)
	_, err = u.CreateMailbox(ctx, "Ev/Child", 0)
	require.NoError(t, err)
	require.NoError(t, u.SetSubscribed(ctx, "Ev", true))
	require.NoError(t, u.RenameMailbox(ctx, "Ev", "Moved"))
	require.NoError(t, u.SetSubscribed(ctx, "Moved", false))
	require.NoError(t, u.DeleteMailbox(ctx, "Moved/Child"))
	_, err = u.CreateMailbox(ctx, "Deep/Er", 0)
	require.NoError(t, err)
	mdu, metadata := u.(store.MetadataUser)
	if metadata {
		require.NoError(t, mdu.SetMetadata(ctx, "Deep/Er", []store.MetadataEntry{
			{Name: "/private/comment", Value: []byte("x")}, {Name: "/shared/comment"},
		}, store.MetadataLimits{}))
		require.NoError(t, mdu.SetMetadata(ctx, "", []store.MetadataEntry{{Name: "/shared/admin", Value: []byte("y")}}, store.MetadataLimits{}))
	}
	appendMsg(t, u, store.Inbox, "hello")
	inbox := mailboxID(t, u, store.Inbox)

	ev := func(e store.MailboxEvent, name, old string) store.Notification {
		return store.Notification{User: "xena", Mailbox: store.AccountEvents, Event: e, Name: name, OldName: old}
	}
	want := []store.Notification{
		ev(store.MailboxCreated, "Ev", ""),
		ev(store.MailboxCreated, "Ev/Child", ""),
		ev(store.MailboxSubscribed, "Ev", ""),
		ev(store.MailboxRenamed, "Moved", "Ev"),
		ev(store.MailboxRenamed, "Moved/Child", "Ev/Child"),
		ev(store.MailboxUnsubscribed, "Moved", ""),
		ev(store.MailboxDeleted, "Moved/Child", ""),
		ev(store.MailboxCreated, "Deep", ""), // a superior created on the way
		ev(store.MailboxCreated, "Deep/Er", ""),
	}
	if metadata {
		meta := func(mailbox, entry string) store.Notification {
			n := ev(store.MetadataChanged, mailbox, "")
			n.Entry = entry
			return n
		}
		want = append(want, meta("Deep/Er", "/private/comment"), meta("Deep/Er", "/shared/comment"), meta("", "/shared/admin"))
	}
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(events) >= len(want) && slices.Contains(changed, inbox)
	}, 5*time.Second, 5*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, want, events)
}

func testIsolation(t *testing.T, s store.Store) {
	ctx := context.Background()
	alice := newUser(t, s, "alice")
	bob := newUser(t, s, "bob")
	aliceInbox := mailboxID(t, alice, store.Inbox)
	secret := appendMsg(t, alice, store.Inbox, "alice's secret")
	tricky := []string{"..", "../bob", "../bob/INBOX", "bob", "alice/INBOX", "&AGE-", "&AGE-/x", "INBOX/../../bob"}
	for _, n := range tricky {
		_, err := alice.CreateMailbox(ctx, n, 0)
		require.NoError(t, err, n)
		appendMsg(t, alice, n, "alice in "+n)
	}
	for _, n := range []string{"/", "%", "*", "../*", "bob/%"} {
		_, err := alice.CreateMailbox(ctx, n, 0)
		assert.ErrorIs(t, err, store.ErrInvalidMailboxName, n)
	}
	list, err := bob.ListMailboxes(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"}, names(list))
	for _, n := range tricky {
		_, err := bob.Status(ctx, n)
		assert.ErrorIs(t, err, store.ErrNoSuchMailbox, n)
		_, err = bob.Append(ctx, n, store.NewMessage{Body: strings.NewReader("x")})
		assert.ErrorIs(t, err, store.ErrNoSuchMailbox, n)
	}
	bobInbox := mailboxID(t, bob, store.Inbox)
	assert.Zero(t, status(t, bob, store.Inbox).Messages)

	// Alice's mailbox ID is meaningless in Bob's account.
	_, err = bob.View(ctx, aliceInbox)
	assert.ErrorIs(t, err, store.ErrNoSuchMailbox)
	err = bob.Fetch(ctx, aliceInbox, store.AllUIDs(), store.FetchOptions{}, func(*store.Message) error { return nil })
	assert.ErrorIs(t, err, store.ErrNoSuchMailbox)
	_, err = bob.OpenBody(ctx, aliceInbox, secret.UID)
	assert.ErrorIs(t, err, store.ErrNoSuchMailbox)
	_, err = bob.StoreFlags(ctx, aliceInbox, store.AllUIDs(), store.FlagChange{Op: store.FlagsAdd, Flags: []string{`\Deleted`}})
	assert.ErrorIs(t, err, store.ErrNoSuchMailbox)
	_, err = bob.Expunge(ctx, aliceInbox, nil)
	assert.ErrorIs(t, err, store.ErrNoSuchMailbox)
	_, err = bob.Copy(ctx, aliceInbox, store.AllUIDs(), "INBOX")
	assert.ErrorIs(t, err, store.ErrNoSuchMailbox)
	_, err = bob.Move(ctx, aliceInbox, store.AllUIDs(), "INBOX")
	assert.ErrorIs(t, err, store.ErrNoSuchMailbox)
	err = bob.ChangesSince(ctx, aliceInbox, 0, func(store.Change) error { return nil })
	assert.ErrorIs(t, err, store.ErrNoSuchMailbox)
	_, err = alice.View(ctx, bobInbox)
	assert.ErrorIs(t, err, store.ErrNoSuchMailbox)
	assert.ErrorIs(t, bob.RenameMailbox(ctx, "../bob", "stolen"), store.ErrNoSuchMailbox)
	assert.ErrorIs(t, bob.DeleteMailbox(ctx, "alice/INBOX"), store.ErrNoSuchMailbox)

	assert.Equal(t, "alice's secret", readBody(t, alice, aliceInbox, secret.UID))
	assert.Equal(t, uint32(1), status(t, alice, store.Inbox).Messages)
	// Same-named mailboxes in two accounts are independent.
	_, err = bob.CreateMailbox(ctx, "../bob", 0)
	require.NoError(t, err)
	assert.Zero(t, status(t, bob, "../bob").Messages)
	assert.Equal(t, uint32(1), status(t, alice, "../bob").Messages)
}

func testDeleteUser(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "xena")
	id := mailboxID(t, u, store.Inbox)
	appendMsg(t, u, store.Inbox, "bye")
	keep := newUser(t, s, "yuri")
	appendMsg(t, keep, store.Inbox, "stay")
	require.NoError(t, s.DeleteUser(ctx, "xena"))
	_, err := u.View(ctx, id)
	assert.ErrorIs(t, err, store.ErrNoSuchUser)
	_, err = u.Append(ctx, store.Inbox, store.NewMessage{Body: strings.NewReader("x")})
	assert.ErrorIs(t, err, store.ErrNoSuchUser)
	// Re-creating the name yields a fresh account; old handles stay dead.
	u2 := newUser(t, s, "xena")
	assert.Zero(t, status(t, u2, store.Inbox).Messages)
	_, err = u.View(ctx, id)
	assert.ErrorIs(t, err, store.ErrNoSuchUser)
	assert.Equal(t, "stay", readBody(t, keep, mailboxID(t, keep, store.Inbox), 1))
}

func testConcurrentWriters(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "zed")
	id := mailboxID(t, u, store.Inbox)
	const workers, each = 8, 25
	var wg sync.WaitGroup
	var mu sync.Mutex
	var uids []uint32
	var modseqs []uint64
	errs := make(chan error, workers*each*3)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				r, err := u.Append(ctx, store.Inbox, store.NewMessage{Body: bytes.NewReader(fmt.Appendf(nil, "w%d-%d", w, i))})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				uids = append(uids, r.UID)
				modseqs = append(modseqs, r.ModSeq)
				mu.Unlock()
				if _, err := u.StoreFlags(ctx, id, store.UIDSetOf(r.UID), store.FlagChange{Op: store.FlagsAdd, Flags: []string{`\Seen`}}); err != nil {
					errs <- err
				}
				if i%5 == 0 {
					if _, err := u.View(ctx, id); err != nil {
						errs <- err
					}
				}
			}
		})
	}
	// A concurrent reader must always see a consistent view.
	wg.Go(func() {
		for range 20 {
			v, err := u.View(ctx, id)
			if err != nil {
				errs <- err
				return
			}
			if uint32(len(v.UIDs)) != v.Messages || !slices.IsSorted(v.UIDs) {
				errs <- fmt.Errorf("inconsistent view: %d uids, %d messages", len(v.UIDs), v.Messages)
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	slices.Sort(uids)
	assert.Len(t, slices.Compact(slices.Clone(uids)), workers*each, "UIDs must be unique")
	slices.Sort(modseqs)
	assert.Len(t, slices.Compact(modseqs), workers*each, "each append gets its own MODSEQ")
	st := status(t, u, store.Inbox)
	assert.Equal(t, uint32(workers*each), st.Messages)
	assert.Zero(t, st.Unseen)
	assert.Equal(t, uint32(workers*each+1), st.UIDNext)
	v, err := u.View(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, uids, v.UIDs)
}

func testClosed(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "cleo")
	require.NoError(t, s.Close())
	assert.ErrorIs(t, s.Close(), store.ErrClosed)
	_, err := s.ListUsers(ctx)
	assert.ErrorIs(t, err, store.ErrClosed)
	_, err = u.ListMailboxes(ctx)
	assert.ErrorIs(t, err, store.ErrClosed)
	_, err = u.Append(ctx, store.Inbox, store.NewMessage{Body: strings.NewReader("x")})
	assert.ErrorIs(t, err, store.ErrClosed)
}

// testClaimRecent: each message is claimed as \Recent by exactly one
// caller, the first whose claim reaches its UID, also when claims race;
// Status and View count the messages not claimed yet; claims change no
// MODSEQ.
func testClaimRecent(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "recent")
	id := mailboxID(t, u, "INBOX")
	for range 3 {
		appendMsg(t, u, "INBOX", "Subject: r\r\n\r\nx\r\n")
	}
	st := status(t, u, "INBOX")
	assert.Equal(t, uint32(3), st.Recent, "nothing claimed yet")
	v, err := u.View(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, uint32(3), v.Recent)

	first, err := u.ClaimRecent(ctx, id, 3) // UIDs 1 and 2
	require.NoError(t, err)
	assert.Equal(t, uint32(1), first)
	assert.Equal(t, uint32(1), status(t, u, "INBOX").Recent, "UID 3 is left")
	first, err = u.ClaimRecent(ctx, id, 3)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, first, uint32(3), "claimed already: nothing for the second caller")
	first, err = u.ClaimRecent(ctx, id, 2)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, first, uint32(2), "a claim never goes back")
	first, err = u.ClaimRecent(ctx, id, 4)
	require.NoError(t, err)
	assert.Equal(t, uint32(3), first)
	st2 := status(t, u, "INBOX")
	assert.Zero(t, st2.Recent)
	assert.Equal(t, st.HighestModSeq, st2.HighestModSeq, "claims change no MODSEQ")
	v, err = u.View(ctx, id)
	require.NoError(t, err)
	assert.Zero(t, v.Recent)

	// Racing claims with different bounds take disjoint ranges that
	// together cover every new message.
	for range 20 {
		appendMsg(t, u, "INBOX", "Subject: r\r\n\r\nx\r\n")
	}
	assert.Equal(t, uint32(20), status(t, u, "INBOX").Recent)
	owner := make([]int, 24) // index UID; 0: unclaimed
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 1; w <= 8; w++ {
		wg.Go(func() {
			upTo := uint32(4 + w*5/2) // 6 .. 24
			if w == 8 {
				upTo = 24
			}
			first, err := u.ClaimRecent(ctx, id, upTo)
			assert.NoError(t, err)
			mu.Lock()
			defer mu.Unlock()
			for uid := first; uid < upTo; uid++ {
				assert.Zero(t, owner[uid], "UID %d claimed twice", uid)
				owner[uid] = w
			}
		})
	}
	wg.Wait()
	for uid := 4; uid < 24; uid++ {
		assert.NotZero(t, owner[uid], "UID %d never claimed", uid)
	}
	assert.Zero(t, status(t, u, "INBOX").Recent)

	// A new mailbox's messages are recent; unknown mailboxes fail.
	_, err = u.CreateMailbox(ctx, "fresh", 0)
	require.NoError(t, err)
	appendMsg(t, u, "fresh", "Subject: r\r\n\r\nx\r\n")
	assert.Equal(t, uint32(1), status(t, u, "fresh").Recent)
	_, err = u.ClaimRecent(ctx, store.MailboxID(1<<40), 5)
	assert.ErrorIs(t, err, store.ErrNoSuchMailbox)
}

// testContentIDs: a message's ContentID survives COPY and MOVE (it is
// the basis of EMAILID, RFC 8474 5.1), and another APPEND, even of the
// same bytes, gets another one.
func testContentIDs(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "objectid")
	inbox := mailboxID(t, u, store.Inbox)
	_, err := u.CreateMailbox(ctx, "Other", 0)
	require.NoError(t, err)
	a := appendMsg(t, u, store.Inbox, "Subject: same\r\n\r\nbody\r\n")
	b := appendMsg(t, u, store.Inbox, "Subject: same\r\n\r\nbody\r\n")
	msgs := fetchAll(t, u, inbox, store.FetchOptions{})
	require.Len(t, msgs, 2)
	require.NotZero(t, msgs[0].ContentID)
	assert.NotEqual(t, msgs[0].ContentID, msgs[1].ContentID, "two APPENDs, two contents")
	_, err = u.Copy(ctx, inbox, store.UIDSetOf(a.UID), "Other")
	require.NoError(t, err)
	_, err = u.Move(ctx, inbox, store.UIDSetOf(b.UID), "Other")
	require.NoError(t, err)
	other := fetchAll(t, u, mailboxID(t, u, "Other"), store.FetchOptions{})
	require.Len(t, other, 2)
	assert.Equal(t, msgs[0].ContentID, other[0].ContentID, "COPY keeps the content")
	assert.Equal(t, msgs[1].ContentID, other[1].ContentID, "MOVE keeps the content")
}
