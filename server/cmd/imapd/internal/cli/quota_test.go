package cli

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUserQuota checks "imapd user quota": printing limits and usage,
// setting each limit alone, removing one with 0, and deliver refusing a
// message to a full account with EX_CANTCREAT.
func TestUserQuota(t *testing.T) {
	dir := t.TempDir()
	addUser(t, dir, "alice", "pw")
	show := func() string {
		t.Helper()
		r := run(t, "", "user", "quota", "--data", dir, "alice")
		require.Equal(t, 0, r.code, r.stderr)
		return r.stdout
	}
	assert.Equal(t, "storage:  0 bytes used, limit none\nmessages: 0 used, limit none\n", show())

	r := run(t, "", "user", "quota", "--data", dir, "--storage", "500M", "--messages", "1000", "alice")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Empty(t, r.stdout)
	assert.Equal(t, "storage:  0 bytes used, limit 500M (524288000 bytes)\nmessages: 0 used, limit 1000\n", show())

	r = run(t, "", "user", "quota", "--data", dir, "alice", "--messages", "0")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "storage:  0 bytes used, limit 500M (524288000 bytes)\nmessages: 0 used, limit none\n", show(),
		"a flag not given keeps its limit; 0 removes one")

	msg := "Subject: q\r\n\r\nq\r\n"
	r = run(t, "", "user", "quota", "--data", dir, "--messages", "1", "--storage", "0", "alice")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, 0, run(t, msg, "deliver", "--data", dir, "alice").code)
	assert.Equal(t, "storage:  17 bytes used, limit none\nmessages: 1 used, limit 1\n", show())
	requireOneLineError(t, run(t, msg, "deliver", "--data", dir, "alice"), ExitCantCreat, "mailbox full")
	assert.Len(t, mailboxMessages(t, dir, "alice", "INBOX"), 1)

	requireOneLineError(t, run(t, "", "user", "quota", "--data", dir, "nobody"), ExitFailure, `no account "nobody"`)
	for _, bad := range [][]string{{"--storage", "5X"}, {"--storage", "-1"}, {"--messages", "-1"}, {"--messages", "1k"}} {
		args := append([]string{"user", "quota", "--data", dir}, bad...)
		requireOneLineError(t, run(t, "", append(args, "alice")...), ExitUsage, bad[0])
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "1048576": 1 << 20, "500M": 500 << 20, "2G": 2 << 30, "2g": 2 << 30, "100K": 100 << 10,
		"1T": 1 << 40, "10MB": 10 << 20, "10MiB": 10 << 20, "7B": 7,
	} {
		got, err := parseSize(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "M", "-5M", "1.5G", "5X", "9999999999T"} {
		_, err := parseSize(in)
		assert.Error(t, err, in)
	}
	for n, want := range map[int64]string{0: "0", 1023: "1023", 1024: "1K", 1536: "1536", 500 << 20: "500M", 2 << 30: "2G"} {
		assert.Equal(t, want, formatSize(n))
	}
}
