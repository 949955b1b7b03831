package backend

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/password"
)

func TestGate(t *testing.T) {
	var g Gate
	require.NoError(t, g.Enter(context.Background()))
	g.Leave()

	done, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, g.Enter(done), context.Canceled)

	// Close waits for a running operation before it releases.
	require.NoError(t, g.Enter(context.Background()))
	released := make(chan struct{})
	closed := make(chan error, 1)
	go func() {
		closed <- g.Close(func() error { close(released); return errors.New("release failed") })
	}()
	select {
	case <-released:
		t.Fatal("Close released the store while an operation was running")
	case <-time.After(20 * time.Millisecond):
	}
	g.Leave()
	assert.EqualError(t, <-closed, "release failed", "Close returns release's error")

	assert.ErrorIs(t, g.Enter(context.Background()), store.ErrClosed)
	assert.ErrorIs(t, g.Close(func() error {
		t.Error("release ran twice")
		return nil
	}), store.ErrClosed)
}

func TestAccountChecks(t *testing.T) {
	h, err := password.New(bcrypt.MinCost)
	require.NoError(t, err)

	hash, err := NewAccountHash(h, "bob", "secret")
	require.NoError(t, err)
	require.NoError(t, CheckLogin(h, hash, true, "secret"))
	_, err = NewAccountHash(h, "a b", "secret")
	assert.ErrorIs(t, err, store.ErrInvalidUserName)
	_, err = NewAccountHash(h, "bob", "")
	assert.ErrorIs(t, err, store.ErrInvalidPassword)
	_, err = HashPassword(h, strings.Repeat("x", password.MaxLen+1))
	assert.ErrorIs(t, err, store.ErrInvalidPassword)

	require.NoError(t, CheckImportedAccount("bob", hash))
	assert.ErrorIs(t, CheckImportedAccount("", hash), store.ErrInvalidUserName)
	assert.ErrorIs(t, CheckImportedAccount("bob", "plain"), store.ErrInvalidPassword)

	assert.Equal(t, store.ErrAuthFailed, CheckLogin(h, hash, true, "wrong"))
	assert.Equal(t, store.ErrAuthFailed, CheckLogin(h, "", false, "secret"))
	err = CheckLogin(h, "$argon2id$v=19$m=4294967295,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", true, "pw")
	assert.ErrorIs(t, err, store.ErrAuthFailed, "an unusable stored hash fails the login too")
}

func TestMailboxNameChecks(t *testing.T) {
	const maxLen = 16

	name, err := CreateName("inbox/Sub", store.AttrArchive, maxLen)
	require.NoError(t, err)
	assert.Equal(t, "INBOX/Sub", name)
	_, err = CreateName("a", store.AttrNoselect, maxLen)
	assert.ErrorIs(t, err, store.ErrInvalidSpecialUse)
	_, err = CreateName("a//b", 0, maxLen)
	assert.ErrorIs(t, err, store.ErrInvalidMailboxName)
	_, err = CreateName(strings.Repeat("n", maxLen+1), 0, maxLen)
	assert.ErrorIs(t, err, store.ErrInvalidMailboxName)

	name, err = DeleteName("Trash", maxLen)
	require.NoError(t, err)
	assert.Equal(t, "Trash", name)
	_, err = DeleteName("iNbOx", maxLen)
	assert.ErrorIs(t, err, store.ErrInboxDelete)
	_, err = DeleteName("", maxLen)
	assert.ErrorIs(t, err, store.ErrInvalidMailboxName)

	from, to, err := RenameNames("inbox", "Old/Inbox", maxLen)
	require.NoError(t, err)
	assert.Equal(t, []string{"INBOX", "Old/Inbox"}, []string{from, to})
	_, _, err = RenameNames("A", "A", maxLen)
	assert.ErrorIs(t, err, store.ErrMailboxExists)
	_, _, err = RenameNames("A", "A/B", maxLen)
	assert.ErrorIs(t, err, store.ErrInvalidMailboxName)
	_, _, err = RenameNames("A", "bad*", maxLen)
	assert.ErrorIs(t, err, store.ErrInvalidMailboxName)
	_, _, err = RenameNames("", "B", maxLen)
	assert.ErrorIs(t, err, store.ErrInvalidMailboxName)
	from, to, err = RenameNames("A", "AB", maxLen)
	require.NoError(t, err, "a sibling sharing a prefix is not an inferior")
	assert.Equal(t, []string{"A", "AB"}, []string{from, to})

	renamed, err := RenamedName("A/B/C", "A", "X/Y", maxLen)
	require.NoError(t, err)
	assert.Equal(t, "X/Y/B/C", renamed)
	renamed, err = RenamedName("A", "A", "Z", maxLen)
	require.NoError(t, err)
	assert.Equal(t, "Z", renamed)
	_, err = RenamedName("A/long-inferior", "A", "XYZ", maxLen)
	assert.ErrorIs(t, err, store.ErrInvalidMailboxName)
	deep := "A" + strings.Repeat("/x", store.MaxMailboxDepth-1)
	_, err = RenamedName(deep, "A", "B", 1000)
	require.NoError(t, err, "as deep as before")
	_, err = RenamedName(deep, "A", "B/C", 1000)
	assert.ErrorIs(t, err, store.ErrInvalidMailboxName, "one level too deep")
}

func TestCheckNewMessage(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m, err := CheckNewMessage(store.NewMessage{Flags: []string{`\seen`, "$Work"}, Body: strings.NewReader("x")}, now)
	require.NoError(t, err)
	assert.Equal(t, store.FlagSet{System: store.FlagSeen, Keywords: []string{"$Work"}}, m.Flags)
	assert.Equal(t, now, m.Date, "no internal date: the append time")

	date := time.Date(2024, 2, 29, 13, 14, 15, 0, time.FixedZone("x", 3600))
	m, err = CheckNewMessage(store.NewMessage{InternalDate: date, Body: strings.NewReader("x")}, now)
	require.NoError(t, err)
	assert.Equal(t, date, m.Date)

	_, err = CheckNewMessage(store.NewMessage{Flags: []string{`\Recent`}, Body: strings.NewReader("x")}, now)
	assert.ErrorIs(t, err, store.ErrInvalidFlag)
	_, err = CheckNewMessage(store.NewMessage{}, now)
	assert.Error(t, err, "a message needs a body")
}

func TestCopyBody(t *testing.T) {
	var buf bytes.Buffer
	n, err := CopyBody(&buf, strings.NewReader("12345"), 5)
	require.NoError(t, err)
	assert.Equal(t, int64(5), n)
	assert.Equal(t, "12345", buf.String())

	buf.Reset()
	r := strings.NewReader("123456789")
	_, err = CopyBody(&buf, r, 5)
	assert.ErrorIs(t, err, store.ErrTooBig)
	assert.Equal(t, 3, r.Len(), "reading stops after the first byte over the limit")

	errRead := errors.New("read failed")
	_, err = CopyBody(&buf, io.MultiReader(strings.NewReader("1"), iotest.ErrReader(errRead)), 5)
	assert.ErrorIs(t, err, errRead)
}

func TestAnalyze(t *testing.T) {
	body := func() io.Reader { return strings.NewReader("Subject: x\r\n\r\nbody") }
	assert.Nil(t, Analyze(nil, body()), "no analyser, no blob")
	assert.Nil(t, Analyze(func(io.Reader) ([]byte, error) { return []byte("partial"), errors.New("malformed") }, body()),
		"a failed analysis stores no blob")
	blob := Analyze(func(io.Reader) ([]byte, error) { return nil, nil }, body())
	assert.NotNil(t, blob, "a successful analysis stores a blob, even an empty one")
	assert.Empty(t, blob)
	assert.Equal(t, []byte("Subject: x\r\n\r\nbody"), Analyze(io.ReadAll, body()))
}

func TestAddKeywords(t *testing.T) {
	have, err := AddKeywords(nil, []string{"$Work", "$work", "Later"}, 3)
	require.NoError(t, err)
	assert.Equal(t, []string{"$Work", "Later"}, have, "case-insensitive, the first spelling wins")
	have, err = AddKeywords(have, []string{"LATER", "third"}, 3)
	require.NoError(t, err)
	assert.Equal(t, []string{"$Work", "Later", "third"}, have)
	have, err = AddKeywords(have, []string{"$WORK"}, 3)
	require.NoError(t, err, "a known keyword never hits the limit")
	assert.Len(t, have, 3)
	_, err = AddKeywords(have, []string{"fourth"}, 3)
	assert.ErrorIs(t, err, store.ErrLimit)
}

func TestRanges(t *testing.T) {
	assert.Equal(t, store.UIDSet{{Start: 1, Stop: 3}, {Start: 5, Stop: 5}, {Start: 7, Stop: 8}}, Ranges([]uint32{1, 2, 3, 5, 7, 8}))
	assert.Equal(t, store.UIDSet{{Start: 4294967295, Stop: 4294967295}}, Ranges([]uint32{4294967295}))
	assert.Nil(t, Ranges(nil))
}

func TestFlagStore(t *testing.T) {
	seen := store.FlagSet{System: store.FlagSeen}
	var bumps int
	next := func() uint64 { bumps++; return 10 }

	fs := NewFlagStore(store.FlagChange{Op: store.FlagsAdd, UnchangedSince: 5}, seen)
	nf, changed := fs.Apply(1, 3, store.FlagSet{}, next)
	assert.True(t, changed)
	assert.Equal(t, seen, nf)
	_, changed = fs.Apply(2, 4, seen, next)
	assert.False(t, changed, "already \\Seen")
	_, changed = fs.Apply(3, 6, store.FlagSet{}, next)
	assert.False(t, changed, "changed after UNCHANGEDSINCE")
	nf, changed = fs.Apply(4, 5, store.FlagSet{Keywords: []string{"k"}}, next)
	assert.True(t, changed)
	assert.Equal(t, store.FlagSet{System: store.FlagSeen, Keywords: []string{"k"}}, nf)

	assert.Equal(t, 1, bumps, "one MODSEQ for the whole request")
	assert.Equal(t, uint64(10), fs.ModSeq())
	assert.Equal(t, []uint32{1, 4}, fs.Changed())
	assert.Equal(t, store.StoreResult{
		Updated: []store.FlagUpdate{
			{UID: 1, Flags: []string{`\Seen`}, ModSeq: 10, Changed: true},
			{UID: 2, Flags: []string{`\Seen`}, ModSeq: 4},
			{UID: 4, Flags: []string{`\Seen`, "k"}, ModSeq: 10, Changed: true},
		},
		Modified: store.UIDSet{{Start: 3, Stop: 3}},
		ModSeq:   10,
	}, fs.Result())

	fs = NewFlagStore(store.FlagChange{Op: store.FlagsRemove}, seen)
	_, changed = fs.Apply(1, 99, store.FlagSet{}, next)
	assert.False(t, changed, "no UNCHANGEDSINCE: every message is updated")
	assert.Equal(t, store.StoreResult{Updated: []store.FlagUpdate{{UID: 1, Flags: []string{}, ModSeq: 99}}}, fs.Result())
	assert.Zero(t, fs.ModSeq())
	assert.Equal(t, 1, bumps)
}

func TestExpungeSet(t *testing.T) {
	assert.Equal(t, store.AllUIDs(), ExpungeSet(nil), "nil: every message flagged \\Deleted")
	assert.Empty(t, ExpungeSet(store.UIDSet{}), "an empty set: none")
	assert.Equal(t, store.UIDSet{{Start: 1, Stop: 4}}, ExpungeSet(store.UIDSet{{Start: 3, Stop: 4}, {Start: 2, Stop: 1}}))
}

func TestFinalMetadata(t *testing.T) {
	final, names := FinalMetadata([]store.MetadataEntry{
		{Name: "/private/b", Value: []byte("1")},
		{Name: "/private/a", Value: []byte("x")},
		{Name: "/private/b", Value: nil},
	})
	assert.Equal(t, []string{"/private/a", "/private/b"}, names, "each name once, sorted")
	assert.Equal(t, []byte("x"), final["/private/a"])
	v, ok := final["/private/b"]
	assert.True(t, ok)
	assert.Nil(t, v, "the last change of a name wins")
}
