package mailio

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readAllMbox(t *testing.T, data string, opts Options) []*Message {
	t.Helper()
	var out []*Message
	require.NoError(t, ReadMbox(strings.NewReader(data), opts, func(m *Message) error {
		out = append(out, m)
		return nil
	}))
	return out
}

func TestReadMbox(t *testing.T) {
	data := "preamble ignored\n" +
		"From alice@example.org Thu Feb 29 13:14:15 2024\n" +
		"Subject: one\n" +
		"Status: RO\n" +
		"X-Status: AF\n" +
		"X-Keywords: $Label1, work\n" +
		"\n" +
		">From the start\n" +
		"From unquoted mid-paragraph stays\n" +
		">From quoted once\n" +
		">>From quoted twice\n" +
		"> From not quoting\n" +
		"\n" +
		"From MAILER-DAEMON Mon Jan  1 00:00:00 2024\n" +
		"Subject: two\n" +
		"\n" +
		"last line without newline"
	msgs := readAllMbox(t, data, Options{})
	require.Len(t, msgs, 2)
	assert.Equal(t, "Subject: one\r\n\r\nFrom the start\r\nFrom unquoted mid-paragraph stays\r\nFrom quoted once\r\n>From quoted twice\r\n> From not quoting\r\n", string(msgs[0].Body))
	assert.Equal(t, []string{`\Seen`, `\Answered`, `\Flagged`, `$Label1`, `work`}, msgs[0].Flags)
	assert.True(t, msgs[0].InternalDate.Equal(time.Date(2024, 2, 29, 13, 14, 15, 0, time.UTC)))
	assert.Equal(t, "Subject: two\r\n\r\nlast line without newline", string(msgs[1].Body))
	assert.Nil(t, msgs[1].Flags)
	assert.Equal(t, 1, msgs[1].InternalDate.Day())
}

func TestReadMboxEdgeCases(t *testing.T) {
	tests := []struct {
		name  string
		data  string
		count int
		first string
	}{
		{"empty", "", 0, ""},
		{"no separator", "Subject: x\n\nbody\n", 0, ""},
		{"crlf input", "From x Thu Feb 29 13:14:15 2024\r\nA: b\r\n\r\nc\r\n\r\n", 1, "A: b\r\n\r\nc\r\n"},
		{"bad date", "From x yesterday\nA: b\n\n", 1, "A: b\r\n"},
		{"folded status", "From x Thu Feb 29 13:14:15 2024\nX-Keywords: a,\n b\nA: c\n\n", 1, "A: c\r\n"},
		{"long line", "From x Thu Feb 29 13:14:15 2024\n" + strings.Repeat("y", 100000) + "\n\n", 1, strings.Repeat("y", 100000) + "\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msgs := readAllMbox(t, tc.data, Options{})
			require.Len(t, msgs, tc.count)
			if tc.count > 0 {
				assert.Equal(t, tc.first, string(msgs[0].Body))
			}
		})
	}
	msgs := readAllMbox(t, "From x Thu Feb 29 13:14:15 2024\nX-Keywords: a,\n b\nA: c\n\n", Options{})
	assert.Equal(t, []string{"a", "b"}, msgs[0].Flags)
}

func TestReadMboxLimitsAndErrors(t *testing.T) {
	data := "From x Thu Feb 29 13:14:15 2024\n" + strings.Repeat("z", 200) + "\n"
	err := ReadMbox(strings.NewReader(data), Options{MaxMessageSize: 100}, func(*Message) error { return nil })
	assert.ErrorIs(t, err, ErrTooBig)
	stop := errors.New("stop")
	err = ReadMbox(strings.NewReader(data+data), Options{}, func(*Message) error { return stop })
	assert.ErrorIs(t, err, stop)
}

func TestMboxRoundTrip(t *testing.T) {
	in := []*Message{
		{Flags: []string{`\Seen`, `\Deleted`, `\Draft`, `$Forwarded`}, InternalDate: time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC),
			Body: []byte("Subject: a\r\n\r\nFrom here\r\n>From there\r\n>>>From everywhere\r\nFrom\r\n")},
		{InternalDate: time.Date(2021, 1, 2, 3, 4, 5, 0, time.UTC), Body: []byte("Subject: b\r\n\r\nno flags\r\n")},
		{Flags: []string{`\Flagged`}, InternalDate: time.Date(2022, 12, 31, 23, 59, 59, 0, time.UTC), Body: []byte("Subject: c\r\n\r\n")},
	}
	var buf bytes.Buffer
	var progress []int
	w := NewMboxWriter(&buf, Options{Progress: func(n int, _ int64) { progress = append(progress, n) }})
	for _, m := range in {
		require.NoError(t, w.Write(m))
	}
	require.NoError(t, w.Flush())
	assert.Equal(t, []int{1, 2, 3}, progress)
	assert.Contains(t, buf.String(), "\n>From here\n>>From there\n>>>>From everywhere\nFrom\n")
	assert.NotContains(t, buf.String(), "\r")

	var total int64
	out := readAllMbox(t, buf.String(), Options{Progress: func(_ int, b int64) { total = b }})
	require.Len(t, out, len(in))
	for i := range in {
		assert.Equal(t, string(in[i].Body), string(out[i].Body), i)
		assert.ElementsMatch(t, in[i].Flags, out[i].Flags, i)
		assert.True(t, in[i].InternalDate.Equal(out[i].InternalDate), i)
	}
	assert.Equal(t, int64(len(in[0].Body)+len(in[1].Body)+len(in[2].Body)), total)
}

func writeFile(t *testing.T, path, data string, mtime time.Time) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
	require.NoError(t, os.WriteFile(path, []byte(data), 0o600))
	require.NoError(t, os.Chtimes(path, mtime, mtime))
}

func TestMaildirFlags(t *testing.T) {
	kw := []string{"$Label1", "", "work"}
	tests := []struct {
		name string
		want []string
	}{
		{"1700000000.M1P1.host:2,FRS", []string{`\Flagged`, `\Answered`, `\Seen`}},
		{"1700000000.M1P1.host:2,DT", []string{`\Draft`, `\Deleted`}},
		{"1700000000.M1P1.host:2,P", nil},
		{"1700000000.M1P1.host:2,Sac", []string{`\Seen`, "$Label1", "work"}},
		{"1700000000.M1P1.host:2,b", nil},
		{"1700000000.M1P1.host!2,S", []string{`\Seen`}},
		{"1700000000.M1P1.host", nil},
		{"1700000000.M1P1.host:2,", nil},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, MaildirFlags(tc.name, kw), tc.name)
	}
}

func TestReadMaildir(t *testing.T) {
	root := t.TempDir()
	d1 := time.Date(2023, 3, 4, 5, 6, 7, 0, time.UTC)
	writeFile(t, filepath.Join(root, "cur", "1000.A.host:2,S"), "Subject: seen\r\n\r\nx\r\n", d1)
	writeFile(t, filepath.Join(root, "cur", "1001.B.host:2,FTa"), "Subject: flagged\r\n\r\ny\r\n", d1.Add(time.Hour))
	writeFile(t, filepath.Join(root, "new", "1002.C.host"), "Subject: new\r\n\r\nz\r\n", d1.Add(2*time.Hour))
	writeFile(t, filepath.Join(root, "tmp", "1003.D.host"), "partial", d1)
	writeFile(t, filepath.Join(root, "dovecot-keywords"), "0 Important\n1 $Other\nbroken line\n", d1)
	writeFile(t, filepath.Join(root, ".Lists.go", "cur", "2000.E.host:2,"), "Subject: list\r\n\r\n", d1)
	writeFile(t, filepath.Join(root, ".Sent", "new", "2001.F.host"), "Subject: sent\r\n\r\n", d1)
	require.NoError(t, os.MkdirAll(filepath.Join(root, ".NotAMaildir"), 0o700))

	folders, err := ListMaildirFolders(root)
	require.NoError(t, err)
	assert.Equal(t, []MaildirFolder{
		{Name: "INBOX", Path: root},
		{Name: "Lists/go", Path: filepath.Join(root, ".Lists.go")},
		{Name: "Sent", Path: filepath.Join(root, ".Sent")},
	}, folders)

	var msgs []*Message
	var lastCount int
	require.NoError(t, ReadMaildir(root, Options{Progress: func(n int, _ int64) { lastCount = n }}, func(m *Message) error {
		msgs = append(msgs, m)
		return nil
	}))
	require.Len(t, msgs, 3)
	assert.Equal(t, 3, lastCount)
	assert.Equal(t, "Subject: new\r\n\r\nz\r\n", string(msgs[0].Body))
	assert.Nil(t, msgs[0].Flags, "new/ messages are unseen")
	assert.Equal(t, []string{`\Seen`}, msgs[1].Flags)
	assert.True(t, msgs[1].InternalDate.Equal(d1))
	assert.Equal(t, []string{`\Flagged`, `\Deleted`, "Important"}, msgs[2].Flags)

	err = ReadMaildir(root, Options{MaxMessageSize: 5}, func(*Message) error { return nil })
	assert.ErrorIs(t, err, ErrTooBig)
	_, err = ListMaildirFolders(filepath.Join(root, "missing"))
	assert.Error(t, err)
}
