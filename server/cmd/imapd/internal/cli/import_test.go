package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// checkImported checks that got holds the generated messages first..first+
// len(got)-1 of writeSmallMbox/writeSmallMaildir, in order, with their
// bodies (CRLF), flags and dates.
func checkImported(t *testing.T, got []storedMessage, first int, mbox bool) {
	t.Helper()
	base := time.Date(2024, 3, 7, 12, 0, 0, 0, time.UTC)
	for j, m := range got {
		i := first + j
		want := strings.ReplaceAll(smallMessage(i), "\n", "\r\n")
		require.Equal(t, want, m.body, "message %d", i)
		var flags []string
		if i%3 == 0 {
			flags = append(flags, `\Seen`)
		}
		if i%5 == 0 {
			flags = append(flags, `\Flagged`)
		}
		assert.ElementsMatch(t, flags, m.flags, "message %d", i)
		date := base.Add(time.Duration(i) * time.Second)
		if mbox {
			date = time.Date(2024, 3, 7, 12, (i/60)%60, i%60, 0, time.UTC)
		}
		assert.True(t, date.Equal(m.date), "message %d: date %v, want %v", i, m.date, date)
	}
}

// TestImportManyBatches imports more messages than fit in one batch, from
// an mbox and from a maildir, and checks every one: readable, in source
// order, flags and internal date kept.
func TestImportManyBatches(t *testing.T) {
	const n = 2*importBatchMessages + 100
	src := t.TempDir()
	mbox := filepath.Join(src, "in.mbox")
	writeSmallMbox(t, mbox, n)
	maildir := filepath.Join(src, "md")
	writeSmallMaildir(t, maildir, n)

	dir := t.TempDir()
	addUser(t, dir, "alice", "pw")
	r := run(t, "", "import", "--data", dir, "--mbox", mbox, "--mailbox", "M", "alice")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, fmt.Sprintf(`^imported %d messages \(.*\) into M in [0-9.]+ s, [0-9]+ msgs/s\n$`, n), r.stdout)
	got := mailboxMessages(t, dir, "alice", "M")
	require.Len(t, got, n)
	checkImported(t, got, 0, true)

	r = run(t, "", "import", "--data", dir, "--maildir", maildir, "--mailbox", "D", "alice")
	require.Equal(t, 0, r.code, r.stderr)
	got = mailboxMessages(t, dir, "alice", "D")
	require.Len(t, got, n)
	checkImported(t, got, 0, false)

	out := filepath.Join(src, "out.mbox")
	r = run(t, "", "export", "--data", dir, "--mailbox", "M", "--mbox", out, "alice")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, fmt.Sprintf(`exported %d messages \(.*\) from M to .* in [0-9.]+ s, [0-9]+ msgs/s\n$`, n), r.stderr)
}

// TestImportInterrupted interrupts an import after its first batch is
// stored. The contract: the messages the error reports as stored are
// exactly the first ones of the source, durable and complete; nothing after
// them is stored (the batch in progress is all or nothing); and running
// again with the --skip the error names completes the import without
// duplicates.
func TestImportInterrupted(t *testing.T) {
	const n = 3*importBatchMessages + 10
	mbox := filepath.Join(t.TempDir(), "in.mbox")
	writeSmallMbox(t, mbox, n)
	dir := t.TempDir()
	addUser(t, dir, "alice", "pw")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	importStoredHook = func(stored int) {
		if stored == importBatchMessages {
			cancel()
		}
	}
	defer func() { importStoredHook = nil }()
	var out, errb strings.Builder
	code := Run(ctx, []string{"import", "--data", dir, "--mbox", mbox, "alice"}, Env{Stdout: &out, Stderr: &errb})
	importStoredHook = nil
	require.Equal(t, ExitFailure, code)
	m := regexp.MustCompile(`interrupted: (\d+) messages stored; run again with --skip (\d+) `).FindStringSubmatch(errb.String())
	require.NotNil(t, m, errb.String())
	stored, _ := strconv.Atoi(m[1])
	skip, _ := strconv.Atoi(m[2])
	require.Equal(t, stored, skip)
	require.GreaterOrEqual(t, stored, importBatchMessages)
	require.Less(t, stored, n, "the import stopped early")
	assert.Zero(t, stored%importBatchMessages, "whole batches only")

	got := mailboxMessages(t, dir, "alice", "INBOX")
	require.Len(t, got, stored, "exactly the reported messages are stored")
	checkImported(t, got, 0, true)

	r := run(t, "", "import", "--data", dir, "--mbox", mbox, "--skip", strconv.Itoa(skip), "alice")
	require.Equal(t, 0, r.code, r.stderr)
	got = mailboxMessages(t, dir, "alice", "INBOX")
	require.Len(t, got, n)
	checkImported(t, got, 0, true)
}
