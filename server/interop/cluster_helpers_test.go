package interop_test

import (
	"bufio"
	"io"
	"net/url"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/store/pgstore/pgtest"
)

// clusterStore returns a --store URL for a fresh, empty schema on the
// PostgreSQL server at server; the schema is dropped when the test ends.
func clusterStore(t *testing.T, server string) string {
	t.Helper()
	server, schema := pgtest.SchemaOn(t, server)
	u, err := url.Parse(server)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// addStoreUser creates an account in the PostgreSQL store through
// "imapd user add --store".
func addStoreUser(t *testing.T, bin, storeURL, name, password string) {
	t.Helper()
	runImapdCmd(t, bin, password+"\n", "user", "add", "--store", storeURL, name)
}

// spawnNode starts "imapd serve --store URL" (one cluster node) on a free
// loopback port and waits until it listens. Like spawnImapd, the process is
// killed at the end of the test if still alive.
func spawnNode(t *testing.T, bin, storeURL string) *imapdProc {
	t.Helper()
	return spawnImapdArgs(t, bin, "serve", "--store", storeURL, "--listen", "127.0.0.1:0", "--insecure-auth")
}

// spawnImapdArgs starts imapd with args, which must make it serve and log
// its listening address, and waits until it listens.
func spawnImapdArgs(t *testing.T, bin string, args ...string) *imapdProc {
	t.Helper()
	p := &imapdProc{t: t, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	stderr, err := p.cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start())
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.logs.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addrc <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	select {
	case p.addr = <-addrc:
		return p
	case <-p.exited:
		t.Fatalf("imapd exited before listening (%v); logs:\n%s", p.err, p.logText())
	case <-time.After(30 * time.Second):
		t.Fatalf("imapd did not start listening; logs:\n%s", p.logText())
	}
	return nil
}
