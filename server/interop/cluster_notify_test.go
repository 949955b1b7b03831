package interop_test

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testClusterNotifyAcrossNodes: a session on node A with a NOTIFY set
// (RFC 5465) is told of a mailbox created through node B (LIST) and of a
// message appended there (STATUS), between commands: account events
// travel between nodes like message changes. Its own changes are not
// notified back, the other node's are.
func testClusterNotifyAcrossNodes(t *testing.T, pgServer, bin string) {
	storeURL := clusterStore(t, pgServer)
	addStoreUser(t, bin, storeURL, testUser, testPassword)
	nodeA := spawnNode(t, bin, storeURL)
	nodeB := spawnNode(t, bin, storeURL)

	nc, err := net.DialTimeout("tcp", nodeA.addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	require.NoError(t, nc.SetDeadline(time.Now().Add(30*time.Second)))
	r := bufio.NewReader(nc)
	line := func() string {
		l, err := r.ReadString('\n')
		require.NoError(t, err)
		return strings.TrimRight(l, "\r\n")
	}
	// run sends a command and returns its untagged responses.
	run := func(tag, cmd string) (untagged []string) {
		_, err := nc.Write([]byte(tag + " " + cmd + "\r\n"))
		require.NoError(t, err)
		for {
			l := line()
			if strings.HasPrefix(l, tag+" ") {
				require.True(t, strings.HasPrefix(l, tag+" OK"), l)
				return untagged
			}
			untagged = append(untagged, l)
		}
	}
	require.True(t, strings.HasPrefix(line(), "* OK"))
	run("a1", "LOGIN "+testUser+" "+testPassword)
	run("a2", "NOTIFY SET (personal (MessageNew MessageExpunge MailboxName))")

	writer := dialClient(t, nodeB.addr, nil)
	start := time.Now()
	require.NoError(t, writer.Create("Cross", nil).Wait())
	require.Equal(t, `* LIST (\HasNoChildren) "/" Cross`, line())
	t.Logf("LIST seen within %v of the CREATE on the other node", time.Since(start).Round(time.Millisecond))
	app := writer.Append("Cross", int64(len(seedMessage)), nil)
	_, err = app.Write([]byte(seedMessage))
	require.NoError(t, err)
	require.NoError(t, app.Close())
	_, err = app.Wait()
	require.NoError(t, err)
	require.Regexp(t, `^\* STATUS Cross \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+\)$`, line())

	// The session's own APPEND through node A is not notified back to it
	// (RFC 5465 5), the next one through node B is: a change carries the
	// session that made it, and node B's session is not node A's.
	_, err = nc.Write([]byte(fmt.Sprintf("a3 APPEND Cross {%d}\r\n", len(seedMessage))))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(line(), "+"))
	_, err = nc.Write([]byte(seedMessage + "\r\n"))
	require.NoError(t, err)
	var own []string
	for l := line(); !strings.HasPrefix(l, "a3 "); l = line() {
		own = append(own, l)
	}
	own = append(own, run("a4", "NOOP")...)
	require.Empty(t, own, "the session's own APPEND is not notified")
	app = writer.Append("Cross", int64(len(seedMessage)), nil)
	_, err = app.Write([]byte(seedMessage))
	require.NoError(t, err)
	require.NoError(t, app.Close())
	_, err = app.Wait()
	require.NoError(t, err)
	require.Regexp(t, `^\* STATUS Cross \(MESSAGES 3 UIDNEXT 4 UIDVALIDITY \d+\)$`, line())
}
