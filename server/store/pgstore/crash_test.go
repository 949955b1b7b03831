package pgstore_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/pgstore"
	"github.com/imapfsm/imapfsm/server/store/pgstore/pgtest"
)

// crashChildEnv, when set to a schema name, makes TestCrashChild the child
// process of TestCrashKill9.
const crashChildEnv = "IMAPFSM_PGSTORE_CRASH_SCHEMA"

// TestCrashChild appends under load forever, printing "ack UID BODY" for
// every acknowledged append. It only runs as TestCrashKill9's child.
func TestCrashChild(t *testing.T) {
	schema := os.Getenv(crashChildEnv)
	if schema == "" {
		t.Skip("helper process of TestCrashKill9")
	}
	ctx := context.Background()
	s, err := pgstore.Open(ctx, pgtest.URL(t), testOptions(schema))
	require.NoError(t, err)
	u, err := s.OpenUser(ctx, "crash")
	require.NoError(t, err)
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				tag := fmt.Sprintf("w%d-m%d", w, i)
				body := tag + "-" + strings.Repeat("x", 2048)
				r, err := u.Append(ctx, store.Inbox, store.NewMessage{Body: strings.NewReader(body)})
				if err != nil {
					fmt.Fprintln(os.Stderr, "append:", err)
					return
				}
				mu.Lock()
				fmt.Fprintf(out, "ack %d %s\n", r.UID, tag)
				out.Flush()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// TestCrashKill9 kills (SIGKILL) a process appending with 8 writers and
// checks that every append it acknowledged is stored with its body, that
// no UID is reused afterwards and that the killed transactions left no
// orphan contents.
func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	ctx := context.Background()
	url, schema := pgtest.Schema(t)
	s, err := pgstore.Open(ctx, url, testOptions(schema))
	require.NoError(t, err)
	require.NoError(t, s.CreateUser(ctx, "crash", "pw"))
	require.NoError(t, s.Close())

	cmd := exec.Command(os.Args[0], "-test.run", "^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+schema, pgtest.EnvURL+"="+url)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	acked := map[uint32]string{}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "ack" {
			continue
		}
		uid, err := strconv.ParseUint(f[1], 10, 32)
		require.NoError(t, err)
		_, dup := acked[uint32(uid)]
		require.False(t, dup, "UID %d acknowledged twice", uid)
		acked[uint32(uid)] = f[2]
		if len(acked) == 300 {
			require.NoError(t, cmd.Process.Kill())
		}
	}
	_ = cmd.Wait()
	require.GreaterOrEqual(t, len(acked), 300, "child did not reach the kill point")

	s, err = pgstore.Open(ctx, url, testOptions(schema))
	require.NoError(t, err)
	defer s.Close()
	u, err := s.OpenUser(ctx, "crash")
	require.NoError(t, err)
	mi, err := u.Mailbox(ctx, store.Inbox)
	require.NoError(t, err)
	v, err := u.View(ctx, mi.ID)
	require.NoError(t, err)
	have := map[uint32]bool{}
	for _, uid := range v.UIDs {
		have[uid] = true
	}
	for uid, prefix := range acked {
		require.True(t, have[uid], "acknowledged UID %d lost", uid)
		b, err := u.OpenBody(ctx, mi.ID, uid)
		require.NoError(t, err)
		data, err := io.ReadAll(b)
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(string(data), prefix+"-"), "UID %d has the wrong body", uid)
	}
	t.Logf("%d appends acknowledged before kill -9, %d stored", len(acked), len(v.UIDs))
	assert.Equal(t, uint32(len(v.UIDs)), v.Messages)

	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var contents, messages int
	require.NoError(t, conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM `+pgx.Identifier{schema, "contents"}.Sanitize()+`),
		(SELECT count(*) FROM `+pgx.Identifier{schema, "messages"}.Sanitize()+`)`).Scan(&contents, &messages))
	assert.Equal(t, messages, contents, "killed transactions must leave no orphan contents")

	r, err := u.Append(ctx, store.Inbox, store.NewMessage{Body: strings.NewReader("after the crash")})
	require.NoError(t, err)
	assert.Equal(t, v.UIDNext, r.UID, "UIDs continue after the crash")
	assert.Greater(t, r.UID, v.UIDs[len(v.UIDs)-1])
}
