package replay

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/fsm"
	"github.com/imapfsm/imapfsm/server"
	"github.com/imapfsm/imapfsm/server/internal/mailmsg"
	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/boltstore"
)

// TestServerTraceReplays records a session with Config.TraceDir, checks
// that the trace hides the password and the message, and replays it
// through the machine in the server's mode without a difference.
func TestServerTraceReplays(t *testing.T) {
	for _, mode := range []fsm.Mode{fsm.Lenient, fsm.Strict} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			st, err := boltstore.Open(t.TempDir(), boltstore.Options{Options: store.Options{Analyzer: mailmsg.Analyze, BcryptCost: 4}})
			require.NoError(t, err)
			defer st.Close()
			require.NoError(t, st.CreateUser(context.Background(), "alice", "sup3rsecret"))
			srv, err := server.New(server.Config{Store: st, AllowInsecureAuth: true, TraceDir: dir,
				Modes: fsm.NewModes(mode), Logger: slog.New(slog.DiscardHandler)})
			require.NoError(t, err)
			l, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			go srv.Serve(l)

			conn, err := net.Dial("tcp", l.Addr().String())
			require.NoError(t, err)
			r := bufio.NewReader(conn)
			readUntil := func(prefix string) {
				t.Helper()
				conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				for {
					line, err := r.ReadString('\n')
					require.NoError(t, err)
					if strings.HasPrefix(line, prefix) {
						return
					}
				}
			}
			send := func(s string) { fmt.Fprint(conn, s) }
			readUntil("* OK")
			send("a1 LOGIN {5+}\r\nalice {11+}\r\nsup3rsecret\r\n")
			readUntil("a1 ")
			body := "Subject: hush\r\n\r\nthe-private-body\r\n"
			send(fmt.Sprintf("a2 APPEND INBOX {%d+}\r\n%s\r\n", len(body), body))
			readUntil("a2 ")
			send("a3 SELECT INBOX\r\n")
			readUntil("a3 ")
			send("a4 FETCH 1 BODY[]\r\n")
			readUntil("a4 ")
			send("DONE\r\n\r\na5 IDLE\r\n")
			readUntil("+ ")
			send("a6 NOOP\r\n")
			readUntil("a6 ")
			send("a7 AUTHENTICATE PLAIN AGFsaWNlAHN1cDNyc2VjcmV0\r\n")
			readUntil("a7 ")
			send("a8 LOGOUT\r\n")
			readUntil("a8 ")
			conn.Close()
			require.NoError(t, srv.Shutdown(context.Background()))

			files, err := filepath.Glob(filepath.Join(dir, "*.trace"))
			require.NoError(t, err)
			require.Len(t, files, 1)
			info, err := os.Stat(files[0])
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
			raw, err := os.ReadFile(files[0])
			require.NoError(t, err)
			trace := string(raw)
			assert.NotContains(t, trace, "sup3rsecret")
			assert.NotContains(t, trace, "AGFsaWNlAHN1cDNyc2VjcmV0")
			assert.NotContains(t, trace, "the-private-body")
			assert.Contains(t, trace, "C: a1 LOGIN <redacted> {5+}")
			assert.Contains(t, trace, fmt.Sprintf("<literal %d bytes redacted>", len(body)))
			assert.Contains(t, trace, "C: a6 NOOP")

			entries, err := Parse(strings.NewReader(trace))
			require.NoError(t, err)
			steps := Replay(entries, fsm.NewModes(mode))
			for _, s := range steps {
				assert.Empty(t, s.Differs, "line %d %q: %s → %s by %s\n%s", s.LineNo, s.Client, s.Before, s.After, s.Rule, trace)
			}
			assert.Equal(t, "logged-out", steps[len(steps)-1].After)
			assert.GreaterOrEqual(t, len(steps), 9)
		})
	}
}
