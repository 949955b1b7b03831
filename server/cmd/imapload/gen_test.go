package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/store/mailio"
)

// TestGen checks that gen writes the asked number of messages of about
// the asked size, with the documented flags, as an mbox and a maildir.
func TestGen(t *testing.T) {
	dir := t.TempDir()
	mbox := filepath.Join(dir, "x.mbox")
	var out, errb bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"gen", "--mbox", mbox, "--messages", "30", "--size", "900"}, &out, &errb), errb.String())
	f, err := os.Open(mbox)
	require.NoError(t, err)
	defer f.Close()
	var msgs []*mailio.Message
	require.NoError(t, mailio.ReadMbox(f, mailio.Options{}, func(m *mailio.Message) error {
		msgs = append(msgs, m)
		return nil
	}))
	require.Len(t, msgs, 30)
	for i, m := range msgs {
		assert.InDelta(t, 900, len(m.Body), 60, "message %d", i)
		assert.Equal(t, i%3 == 0, contains(m.Flags, `\Seen`), "message %d", i)
		assert.Equal(t, i%5 == 0, contains(m.Flags, `\Flagged`), "message %d", i)
	}

	md := filepath.Join(dir, "md")
	require.Equal(t, 0, run(context.Background(), []string{"gen", "--maildir", md, "--messages", "7"}, &out, &errb), errb.String())
	n := 0
	require.NoError(t, mailio.ReadMaildir(md, mailio.Options{}, func(*mailio.Message) error { n++; return nil }))
	assert.Equal(t, 7, n)

	assert.Equal(t, 2, run(context.Background(), []string{"gen"}, &out, &errb), "neither --mbox nor --maildir")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
