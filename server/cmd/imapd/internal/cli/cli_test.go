package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/boltstore"
	"github.com/imapfsm/imapfsm/server/store/mailio"
)

func TestMain(m *testing.M) {
	// A locked store should fail fast in tests.
	lockTimeout = 300 * time.Millisecond
	bcryptCost = 4 // the minimum; hashing dominates test time otherwise
	goleak.VerifyTestMain(m)
}

type result struct {
	code           int
	stdout, stderr string
}

// run executes imapd with args and stdin and a bounded context.
func run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	code := Run(ctx, args, Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb})
	return result{code, out.String(), errb.String()}
}

// requireOneLineError checks the convention that a failing command prints
// exactly one line on standard error.
func requireOneLineError(t *testing.T, r result, code int, contains string) {
	t.Helper()
	require.Equal(t, code, r.code, "stderr: %s", r.stderr)
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	require.Len(t, lines, 1, "stderr: %q", r.stderr)
	assert.True(t, strings.HasPrefix(lines[0], "imapd: "), lines[0])
	assert.Contains(t, lines[0], contains)
}

// withStore opens the store in dir for inspection after a command ran.
func withStore(t *testing.T, dir string, fn func(st *boltstore.Store)) {
	t.Helper()
	st, err := boltstore.Open(dir, boltstore.Options{})
	require.NoError(t, err)
	defer func() { require.NoError(t, st.Close()) }()
	fn(st)
}

type storedMessage struct {
	flags []string
	body  string
	date  time.Time
	saved time.Time // the save date (RFC 8514)
}

// assertSavedBetween checks that every message got a save date between
// from and to: when it was stored, not its internal date.
func assertSavedBetween(t *testing.T, msgs []storedMessage, from, to time.Time) {
	t.Helper()
	for i, m := range msgs {
		assert.False(t, m.saved.IsZero(), "message %d has no save date", i+1)
		assert.False(t, m.saved.Before(from) || m.saved.After(to), "message %d saved at %v, not within the run", i+1, m.saved)
	}
}

func mailboxMessages(t *testing.T, dir, user, mailbox string) []storedMessage {
	t.Helper()
	var out []storedMessage
	withStore(t, dir, func(st *boltstore.Store) {
		ctx := context.Background()
		u, err := st.OpenUser(ctx, user)
		require.NoError(t, err)
		info, err := u.Mailbox(ctx, mailbox)
		require.NoError(t, err)
		view, err := u.View(ctx, info.ID)
		require.NoError(t, err)
		if len(view.UIDs) == 0 {
			return
		}
		var msgs []*store.Message
		set := store.UIDSet{{Start: view.UIDs[0], Stop: view.UIDs[len(view.UIDs)-1]}}
		require.NoError(t, u.Fetch(ctx, info.ID, set, store.FetchOptions{}, func(m *store.Message) error {
			msgs = append(msgs, m.Clone())
			return nil
		}))
		for _, m := range msgs {
			b, err := readBody(ctx, u, info.ID, m.UID)
			require.NoError(t, err)
			out = append(out, storedMessage{flags: m.Flags, body: string(b), date: m.InternalDate, saved: m.SaveDate})
		}
	})
	return out
}

func addUser(t *testing.T, dir, name, password string) {
	t.Helper()
	r := run(t, password+"\n", "user", "add", "--data", dir, name)
	require.Equal(t, 0, r.code, r.stderr)
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args     []string
		contains string
	}{
		{nil, "no command"},
		{[]string{"frobnicate"}, "unknown command"},
		{[]string{"user"}, "subcommand"},
		{[]string{"user", "rename", "--data", dir, "x"}, "unknown subcommand"},
		{[]string{"user", "add", "--data", dir}, "want 1 argument"},
		{[]string{"user", "add", "x"}, "--data is required"},
		{[]string{"user", "add", "--data", dir, "--bogus", "x"}, "flag provided but not defined"},
		{[]string{"user", "add", "--data", dir, "bad name"}, "invalid user name"},
		{[]string{"deliver", "--data", dir}, "want 1 argument"},
		{[]string{"import", "--data", dir, "u"}, "exactly one of --mbox"},
		{[]string{"export", "--data", dir, "u"}, "--mailbox and --mbox are required"},
		{[]string{"serve", "--data", dir}, "--listen"},
		{[]string{"serve", "--data", dir, "--listen", "0.0.0.0:0", "--insecure-auth"}, "loopback"},
		{[]string{"serve", "--data", dir, "--listen", ":0", "--insecure-auth"}, "loopback"},
		{[]string{"serve", "--data", dir, "--listen", "127.0.0.1:0", "--tls-listen", "[::]:0", "--tls-cert", "c", "--tls-key", "k", "--insecure-auth"}, "loopback"},
		{[]string{"serve", "--data", dir, "--tls-listen", "127.0.0.1:0"}, "--tls-cert"},
		{[]string{"serve", "--data", dir, "--listen", "127.0.0.1:0", "--tls-cert", "c"}, "go together"},
		{[]string{"serve", "--data", dir, "--listen", "127.0.0.1:0", "--strictness", "pedantic"}, "--strictness"},
		{[]string{"serve", "--data", dir, "--listen", "127.0.0.1:0", "--quirk", "no-such-quirk=strict"}, "unknown quirk"},
		{[]string{"serve", "--data", dir, "--listen", "127.0.0.1:0", "--quirk", "stray-done=maybe"}, "not strict or lenient"},
		{[]string{"serve", "--data", dir, "--listen", "127.0.0.1:0", "--log-level", "loud"}, "--log-level"},
		{[]string{"demo", "--data", dir, "--listen", "0.0.0.0:1143"}, "loopback"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			requireOneLineError(t, run(t, "", tc.args...), ExitUsage, tc.contains)
		})
	}
	// Usage errors must not create the data directory's store.
	_, err := os.Stat(filepath.Join(dir, "mail.db"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestHelpEverySubcommand(t *testing.T) {
	for _, args := range [][]string{
		{"help"}, {"serve", "--help"}, {"demo", "--help"}, {"user", "--help"}, {"user", "add", "--help"},
		{"deliver", "--help"}, {"import", "--help"}, {"export", "--help"}, {"probe", "--help"}, {"replay", "--help"},
	} {
		r := run(t, "", args...)
		require.Equal(t, 0, r.code, "%v: %s", args, r.stderr)
		assert.Equal(t, 1, strings.Count(r.stdout, "Usage: imapd"), "%v prints its usage once", args)
		if args[0] != "help" && args[0] != "user" && args[0] != "probe" && args[0] != "replay" {
			assert.Contains(t, r.stdout, "-data", args)
		}
	}
	r := run(t, "", "serve", "--help")
	for _, f := range []string{"-listen", "-tls-listen", "-tls-cert", "-tls-key", "-insecure-auth", "-strictness", "-quirk", "-metrics", "-log-level", "idle-tagged-command"} {
		assert.Contains(t, r.stdout, f)
	}
}

func TestUserLifecycle(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()

	addUser(t, dir, "alice", "first secret")
	addUser(t, dir, "bob", "pw")
	requireOneLineError(t, run(t, "x\n", "user", "add", "--data", dir, "alice"), ExitFailure, "already exists")
	requireOneLineError(t, run(t, "", "user", "add", "--data", dir, "carol"), ExitFailure, "empty password")
	requireOneLineError(t, run(t, "\r\n", "user", "add", "--data", dir, "carol"), ExitFailure, "empty password")

	r := run(t, "", "user", "list", "--data", dir)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "alice\nbob\n", r.stdout)

	withStore(t, dir, func(st *boltstore.Store) {
		_, err := st.Authenticate(ctx, "alice", "first secret")
		require.NoError(t, err, "the password is the whole first line, spaces included")
	})

	// Only the first line counts; CRLF is stripped.
	r = run(t, "second\r\nignored\n", "user", "passwd", "--data", dir, "alice")
	require.Equal(t, 0, r.code, r.stderr)
	withStore(t, dir, func(st *boltstore.Store) {
		_, err := st.Authenticate(ctx, "alice", "second")
		require.NoError(t, err)
		_, err = st.Authenticate(ctx, "alice", "first secret")
		require.ErrorIs(t, err, store.ErrAuthFailed)
	})
	requireOneLineError(t, run(t, "", "user", "passwd", "--data", dir, "alice"), ExitFailure, "empty password")
	requireOneLineError(t, run(t, "x\n", "user", "passwd", "--data", dir, "nobody"), ExitFailure, `no account "nobody"`)

	r = run(t, "", "user", "del", "--data", dir, "alice")
	require.Equal(t, 0, r.code, r.stderr)
	requireOneLineError(t, run(t, "", "user", "del", "--data", dir, "alice"), ExitFailure, `no account "alice"`)
	r = run(t, "", "user", "list", "--data", dir)
	assert.Equal(t, "bob\n", r.stdout)
}

func TestDeliverExitCodes(t *testing.T) {
	dir := t.TempDir()
	addUser(t, dir, "alice", "pw")
	msg := "From sender@example.org Mon Jan  1 00:00:00 2024\nFrom: a@example.org\nSubject: hello\n\nline one\nline two\n"

	from := time.Now()
	r := run(t, msg, "deliver", "--data", dir, "alice")
	require.Equal(t, ExitOK, r.code, r.stderr)
	got := mailboxMessages(t, dir, "alice", "INBOX")
	require.Len(t, got, 1)
	assertSavedBetween(t, got, from, time.Now())
	assert.Equal(t, "From: a@example.org\r\nSubject: hello\r\n\r\nline one\r\nline two\r\n", got[0].body,
		"the mbox From line is dropped and LF becomes CRLF")

	// A missing mailbox falls back to INBOX; an existing one is used.
	r = run(t, "Subject: x\r\n\r\nx\r\n", "deliver", "--data", dir, "--mailbox", "NoSuchFolder", "alice")
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Contains(t, r.stderr, "INBOX")
	assert.Len(t, mailboxMessages(t, dir, "alice", "INBOX"), 2)
	r = run(t, "Subject: y\r\n\r\ny\r\n", "deliver", "--data", dir, "alice", "--mailbox", "Archive")
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Len(t, mailboxMessages(t, dir, "alice", "Archive"), 1)

	requireOneLineError(t, run(t, msg, "deliver", "--data", dir, "nobody"), ExitNoUser, `no account "nobody"`)
	requireOneLineError(t, run(t, "", "deliver", "--data", dir, "alice"), ExitDataErr, "empty")
	requireOneLineError(t, run(t, "this is not a message\n", "deliver", "--data", dir, "alice"), ExitDataErr, "header")
	requireOneLineError(t, run(t, "From x Mon Jan  1 00:00:00 2024\n", "deliver", "--data", dir, "alice"), ExitDataErr, "no content")
	requireOneLineError(t, run(t, msg, "deliver", "--data", dir, "--mailbox", "a//b", "alice"), ExitUsage, "invalid mailbox")

	// The store is locked by another process (here: this one): temporary.
	st, err := boltstore.Open(dir, boltstore.Options{})
	require.NoError(t, err)
	requireOneLineError(t, run(t, msg, "deliver", "--data", dir, "alice"), ExitTempFail, "locked by another process")
	require.NoError(t, st.Close())

	// A data directory that cannot be created is a temporary failure too.
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	requireOneLineError(t, run(t, msg, "deliver", "--data", filepath.Join(file, "sub"), "alice"), ExitTempFail, "open store")

	assert.Len(t, mailboxMessages(t, dir, "alice", "INBOX"), 2, "failed deliveries store nothing")
}

const testMbox = `From alice@example.org Tue Mar  5 10:00:00 2024
From: alice@example.org
Subject: first
Status: RO

Hello.
>From the quoted line.

From bob@example.org Wed Mar  6 11:30:00 2024
From: bob@example.org
Subject: second
X-Status: AF
X-Keywords: $Label1 project

Second body.

From carol@example.org Thu Mar  7 12:00:00 2024
From: carol@example.org
Subject: third

Third body.

`

func TestImportMbox(t *testing.T) {
	dir := t.TempDir()
	addUser(t, dir, "alice", "pw")
	file := filepath.Join(t.TempDir(), "in.mbox")
	require.NoError(t, os.WriteFile(file, []byte(testMbox), 0o600))

	from := time.Now()
	r := run(t, "", "import", "--data", dir, "--mbox", file, "--mailbox", "Old/2024", "--progress", "1", "alice")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "imported 3 messages")
	assert.Contains(t, r.stderr, "Old/2024: 3 messages", "progress lines")

	got := mailboxMessages(t, dir, "alice", "Old/2024")
	require.Len(t, got, 3)
	assertSavedBetween(t, got, from, time.Now())
	assert.Equal(t, "From: alice@example.org\r\nSubject: first\r\n\r\nHello.\r\nFrom the quoted line.\r\n", got[0].body)
	assert.Equal(t, []string{`\Seen`}, got[0].flags)
	assert.ElementsMatch(t, []string{`\Answered`, `\Flagged`, "$Label1", "project"}, got[1].flags)
	assert.Empty(t, got[2].flags)
	assert.Equal(t, time.Date(2024, 3, 5, 10, 0, 0, 0, time.UTC), got[0].date.UTC())

	requireOneLineError(t, run(t, "", "import", "--data", dir, "--mbox", file, "nobody"), ExitFailure, `no account "nobody"`)
	requireOneLineError(t, run(t, "", "import", "--data", dir, "--mbox", filepath.Join(dir, "missing"), "alice"), ExitFailure, "no such file")
}

func TestImportMaildirKeepsFlags(t *testing.T) {
	dir := t.TempDir()
	addUser(t, dir, "alice", "pw")
	md := t.TempDir()
	for _, sub := range []string{"cur", "new", "tmp", ".Lists.Go/cur"} {
		require.NoError(t, os.MkdirAll(filepath.Join(md, sub), 0o700))
	}
	write := func(path, subject string) {
		require.NoError(t, os.WriteFile(filepath.Join(md, path), []byte("Subject: "+subject+"\n\nbody\n"), 0o600))
	}
	write("new/1700000001.M1.host", "unread")
	write("cur/1700000002.M2.host:2,FS", "flagged seen")
	write("cur/1700000003.M3.host:2,RT", "answered deleted")
	write("tmp/1700000004.M4.host", "in progress")
	write(".Lists.Go/cur/1700000005.M5.host:2,S", "sub-folder")

	r := run(t, "", "import", "--data", dir, "--maildir", md, "--folders", "alice")
	require.Equal(t, 0, r.code, r.stderr)

	inbox := mailboxMessages(t, dir, "alice", "INBOX")
	require.Len(t, inbox, 3, "tmp/ is not imported")
	bySubject := map[string][]string{}
	for _, m := range inbox {
		subj := strings.TrimSuffix(strings.SplitN(m.body, "\r\n", 2)[0], "")
		bySubject[strings.TrimPrefix(subj, "Subject: ")] = m.flags
		assert.True(t, strings.HasSuffix(m.body, "\r\n\r\nbody\r\n"), "CRLF: %q", m.body)
	}
	assert.Empty(t, bySubject["unread"])
	assert.ElementsMatch(t, []string{`\Flagged`, `\Seen`}, bySubject["flagged seen"])
	assert.ElementsMatch(t, []string{`\Answered`, `\Deleted`}, bySubject["answered deleted"])

	sub := mailboxMessages(t, dir, "alice", "Lists/Go")
	require.Len(t, sub, 1)
	assert.Equal(t, []string{`\Seen`}, sub[0].flags)

	requireOneLineError(t, run(t, "", "import", "--data", dir, "--maildir", t.TempDir(), "alice"), ExitFailure, "not a maildir")
}

func TestExportRoundTrip(t *testing.T) {
	dir := t.TempDir()
	addUser(t, dir, "alice", "pw")
	in := filepath.Join(t.TempDir(), "in.mbox")
	require.NoError(t, os.WriteFile(in, []byte(testMbox), 0o600))
	require.Equal(t, 0, run(t, "", "import", "--data", dir, "--mbox", in, "--mailbox", "Archive", "alice").code)

	out := filepath.Join(t.TempDir(), "out.mbox")
	r := run(t, "", "export", "--data", dir, "--mailbox", "Archive", "--mbox", out, "alice")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "exported 3 messages")

	read := func(path string) []*mailio.Message {
		f, err := os.Open(path)
		require.NoError(t, err)
		defer f.Close()
		var msgs []*mailio.Message
		require.NoError(t, mailio.ReadMbox(f, mailio.Options{}, func(m *mailio.Message) error {
			msgs = append(msgs, m)
			return nil
		}))
		return msgs
	}
	want, got := read(in), read(out)
	require.Len(t, got, len(want))
	for i := range want {
		assert.Equal(t, string(want[i].Body), string(got[i].Body), "message %d", i)
		assert.ElementsMatch(t, want[i].Flags, got[i].Flags, "message %d", i)
		assert.True(t, want[i].InternalDate.Equal(got[i].InternalDate), "message %d date", i)
	}

	// Importing the export again yields the same messages, saved anew.
	require.Equal(t, 0, run(t, "", "import", "--data", dir, "--mbox", out, "--mailbox", "Again", "alice").code)
	a, b := mailboxMessages(t, dir, "alice", "Archive"), mailboxMessages(t, dir, "alice", "Again")
	require.Len(t, b, len(a))
	for i := range a {
		assert.True(t, b[i].saved.After(a[i].saved), "message %d is saved again", i)
		a[i].saved, b[i].saved = time.Time{}, time.Time{}
	}
	assert.Equal(t, a, b)

	requireOneLineError(t, run(t, "", "export", "--data", dir, "--mailbox", "Nope", "--mbox", out, "alice"), ExitFailure, `no mailbox "Nope"`)
}
