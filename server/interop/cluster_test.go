package interop_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/store/pgstore/pgtest"
)

// This file runs imapd as a cluster: several "imapd serve --store URL"
// processes sharing one PostgreSQL database, each on its own loopback
// port, as README's "Running a cluster" describes.

// TestCluster starts one PostgreSQL server (IMAPFSM_TEST_POSTGRES, or a
// throwaway cluster) and builds imapd once for its subtests, each of which
// runs its nodes on a fresh schema. Without PostgreSQL it is skipped, or
// fails under CI=true.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns PostgreSQL and imapd nodes")
	}
	pgServer := pgtest.StartForTest(t)
	bin := buildImapd(t)
	t.Run("PushAcrossNodes", func(t *testing.T) { testClusterPushAcrossNodes(t, pgServer, bin) })
	t.Run("NotifyAcrossNodes", func(t *testing.T) { testClusterNotifyAcrossNodes(t, pgServer, bin) })
	t.Run("KillNode", func(t *testing.T) { testClusterKillNode(t, pgServer, bin) })
	t.Run("AppendThroughput", func(t *testing.T) { testClusterAppendThroughput(t, pgServer, bin) })
}

// pushRecorder returns client options whose unilateral data handlers send
// EXISTS, FETCH and EXPUNGE responses to the returned channel.
func pushRecorder() (*imapclient.Options, <-chan pushEvent) {
	events := make(chan pushEvent, 64)
	return &imapclient.Options{
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					events <- pushEvent{kind: "exists", num: *d.NumMessages}
				}
			},
			Fetch: func(msg *imapclient.FetchMessageData) {
				buf, err := msg.Collect()
				if err != nil {
					return
				}
				events <- pushEvent{kind: "fetch", num: buf.SeqNum, flags: buf.Flags}
			},
			Expunge: func(seq uint32) {
				events <- pushEvent{kind: "expunge", num: seq}
			},
		},
	}, events
}

// expectPush waits until pushLatency after start for an event matching ok,
// skipping others.
func expectPush(t *testing.T, events <-chan pushEvent, what string, start time.Time, ok func(pushEvent) bool) {
	t.Helper()
	deadline := time.After(pushLatency - time.Since(start))
	var seen []pushEvent
	for {
		select {
		case ev := <-events:
			if ok(ev) {
				t.Logf("%s seen within %v of the change", what, time.Since(start).Round(time.Millisecond))
				return
			}
			seen = append(seen, ev)
		case <-deadline:
			t.Fatalf("%s not pushed within %v; saw %+v", what, pushLatency, seen)
		}
	}
}

// appendVia appends body to INBOX through c and returns its UID.
func appendVia(t *testing.T, c *imapclient.Client, body string, flags ...imap.Flag) imap.UID {
	t.Helper()
	app := c.Append("INBOX", int64(len(body)), &imap.AppendOptions{Flags: flags})
	_, err := app.Write([]byte(body))
	require.NoError(t, err)
	require.NoError(t, app.Close())
	data, err := app.Wait()
	require.NoError(t, err)
	require.NotZero(t, data.UID, "APPEND without APPENDUID")
	return data.UID
}

// mailboxUIDs returns the UIDs and flags of every message in the selected
// mailbox of c, in sequence order.
func mailboxUIDs(t *testing.T, c *imapclient.Client) ([]imap.UID, [][]imap.Flag) {
	t.Helper()
	msgs, err := c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true}).Collect()
	require.NoError(t, err)
	var uids []imap.UID
	var flags [][]imap.Flag
	for _, m := range msgs {
		uids = append(uids, m.UID)
		flags = append(flags, m.Flags)
	}
	return uids, flags
}

// testClusterPushAcrossNodes runs two imapd nodes on one PostgreSQL store.
// A client selected on INBOX and idling on node A must be told of an
// APPEND (EXISTS) and a flag change (FETCH FLAGS) made through node B
// within pushLatency, and of an EXPUNGE made through node B: pushed while
// it idles, and at the next command (never between commands) while it
// does not.
func testClusterPushAcrossNodes(t *testing.T, pgServer, bin string) {
	storeURL := clusterStore(t, pgServer)
	addStoreUser(t, bin, storeURL, testUser, testPassword)
	nodeA := spawnNode(t, bin, storeURL)
	nodeB := spawnNode(t, bin, storeURL)
	require.NotEqual(t, nodeA.addr, nodeB.addr)

	writer := dialClient(t, nodeB.addr, nil)
	_, err := writer.Select("INBOX", nil).Wait()
	require.NoError(t, err)
	appendVia(t, writer, seedMessage)
	appendVia(t, writer, "Subject: second\r\n\r\nsecond\r\n")

	opts, events := pushRecorder()
	idler := dialClient(t, nodeA.addr, opts)
	sel, err := idler.Select("INBOX", nil).Wait()
	require.NoError(t, err)
	require.Equal(t, uint32(2), sel.NumMessages, "node A does not see node B's messages")

	idle, err := idler.Idle()
	require.NoError(t, err)
	// Give node A a moment to enter IDLE so that the changes below are
	// pushed, not reported on completion.
	time.Sleep(100 * time.Millisecond)

	// APPEND through B: * 3 EXISTS on A.
	start := time.Now()
	uid3 := appendVia(t, writer, "From: writer@example.org\r\nSubject: other node\r\n\r\nappended through node B\r\n")
	expectPush(t, events, "EXISTS 3", start, func(ev pushEvent) bool { return ev.kind == "exists" && ev.num == 3 })

	// STORE through B: * 1 FETCH (FLAGS (\Flagged)) on A.
	start = time.Now()
	require.NoError(t, writer.Store(imap.SeqSetNum(1), &imap.StoreFlags{
		Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagFlagged},
	}, nil).Close())
	expectPush(t, events, "FETCH 1 FLAGS with \\Flagged", start, func(ev pushEvent) bool {
		return ev.kind == "fetch" && ev.num == 1 && slices.Contains(ev.flags, imap.FlagFlagged)
	})

	// EXPUNGE through B while A idles: * 2 EXPUNGE pushed to A.
	require.NoError(t, writer.Store(imap.SeqSetNum(2), &imap.StoreFlags{
		Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted},
	}, nil).Close())
	start = time.Now()
	expunged, err := writer.Expunge().Collect()
	require.NoError(t, err)
	require.Equal(t, []uint32{2}, expunged)
	expectPush(t, events, "EXPUNGE 2", start, func(ev pushEvent) bool { return ev.kind == "expunge" && ev.num == 2 })

	require.NoError(t, idle.Close())
	require.NoError(t, idle.Wait())
	drain := func() []pushEvent {
		var evs []pushEvent
		for {
			select {
			case ev := <-events:
				evs = append(evs, ev)
			default:
				return evs
			}
		}
	}
	drain()

	// EXPUNGE through B while A runs no command: A must not be told until
	// its next command (RFC 9051 section 7.5.1), then it is.
	require.NoError(t, writer.Store(imap.UIDSetNum(uid3), &imap.StoreFlags{
		Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted},
	}, nil).Close())
	_, err = writer.Expunge().Collect()
	require.NoError(t, err)
	time.Sleep(300 * time.Millisecond)
	for _, ev := range drain() {
		require.NotEqual(t, "expunge", ev.kind, "EXPUNGE sent while no command was in progress: %+v", ev)
	}
	start = time.Now()
	require.NoError(t, idler.Noop().Wait())
	require.Contains(t, drain(), pushEvent{kind: "expunge", num: 2}, "NOOP on node A did not report node B's EXPUNGE")
	t.Logf("EXPUNGE 2 reported by NOOP within %v", time.Since(start).Round(time.Millisecond))

	// And the other way round: an APPEND through A reaches B's NOOP.
	uid4 := appendVia(t, idler, "Subject: from A\r\n\r\nappended through node A\r\n")
	require.NoError(t, writer.Noop().Wait())

	// Both nodes agree on the mailbox.
	for _, c := range []*imapclient.Client{idler, writer} {
		uids, flags := mailboxUIDs(t, c)
		require.Equal(t, []imap.UID{1, uid4}, uids)
		assert.Contains(t, flags[0], imap.FlagFlagged)
	}
	require.Greater(t, uid4, uid3, "UIDs must not be reused across nodes")
	require.NoError(t, writer.Logout().Wait())
	require.NoError(t, idler.Logout().Wait())
	nodeA.stop()
	nodeB.stop()
}

// testClusterKillNode loads node B with clients that append (and change
// flags), kills it with SIGKILL, restarts it on the same store and reads
// the mailbox through node A, which stayed up: every acknowledged APPEND
// (APPENDUID) is there byte for byte under its UID, and the restarted node
// serves again.
func testClusterKillNode(t *testing.T, pgServer, bin string) {
	storeURL := clusterStore(t, pgServer)
	addStoreUser(t, bin, storeURL, testUser, testPassword)
	nodeA := spawnNode(t, bin, storeURL)
	nodeB := spawnNode(t, bin, storeURL)

	// A client of node A stays selected through the kill.
	watcher := dialClient(t, nodeA.addr, nil)
	_, err := watcher.Select("INBOX", nil).Wait()
	require.NoError(t, err)

	log := newCrashLog()
	for round := range 2 {
		var wg sync.WaitGroup
		for w := range crashWorkers {
			wg.Go(func() {
				crashWorker(nodeB.addr, fmt.Sprintf("crash-%d-%d", round, w), uint64(round*100+w), log)
			})
		}
		log.mu.Lock()
		before := len(log.acked)
		log.mu.Unlock()
		// Kill once every client had a few APPENDs acknowledged.
		require.Eventually(t, func() bool {
			log.mu.Lock()
			defer log.mu.Unlock()
			return len(log.acked) >= before+4*crashWorkers || len(log.failures) > 0
		}, 20*time.Second, 5*time.Millisecond, "APPENDs through node B not acknowledged in round %d", round)
		time.Sleep(time.Duration(100+200*round) * time.Millisecond)
		nodeB.kill()
		wg.Wait()
		log.mu.Lock()
		acked := len(log.acked)
		log.mu.Unlock()
		t.Logf("round %d: %d APPENDs acknowledged by node B before SIGKILL", round, acked-before)

		verifyCrashState(t, nodeA.addr, log)
		nodeB = spawnNode(t, bin, storeURL)
	}

	// The restarted node B serves, and node A's session is told.
	require.NoError(t, watcher.Noop().Wait())
	before := watcher.Mailbox().NumMessages
	c := dialClient(t, nodeB.addr, nil)
	uid := appendVia(t, c, "Subject: after restart\r\n\r\nthrough the restarted node B\r\n")
	log.mu.Lock()
	for acked := range log.acked {
		require.Greater(t, uid, acked, "UID reused after the restart")
	}
	log.mu.Unlock()
	require.Eventually(t, func() bool {
		if err := watcher.Noop().Wait(); err != nil {
			return false
		}
		return watcher.Mailbox().NumMessages == before+1
	}, 5*time.Second, 50*time.Millisecond, "node A's session did not see the APPEND through the restarted node B")
	require.NoError(t, c.Logout().Wait())
	require.NoError(t, watcher.Logout().Wait())
	nodeA.stop()
	nodeB.stop()
}

// benchMessage returns a 4 KiB message with a unique Message-ID.
func benchMessage(id string) string {
	const size = 4 << 10
	var b strings.Builder
	fmt.Fprintf(&b, "From: load@example.org\r\nTo: demo@example.org\r\nSubject: load %s\r\nMessage-ID: <%s@example.org>\r\n\r\n", id, id)
	line := strings.Repeat("x", 62) + "\r\n"
	for b.Len()+len(line) <= size-2 {
		b.WriteString(line)
	}
	b.WriteString(strings.Repeat("y", size-2-b.Len()) + "\r\n")
	return b.String()
}

// loginClients logs n go-imap clients in as the test account on addr,
// concurrently (bcrypt makes each LOGIN cost tens of ms of CPU); they are
// closed when the test ends.
func loginClients(t *testing.T, addr string, n int) []*imapclient.Client {
	t.Helper()
	cs := make([]*imapclient.Client, n)
	t.Cleanup(func() {
		for _, c := range cs {
			if c != nil {
				c.Close()
			}
		}
	})
	require.NoError(t, inParallel(n, func(i int) error {
		nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return err
		}
		if err := nc.SetDeadline(time.Now().Add(2 * time.Minute)); err != nil {
			nc.Close()
			return err
		}
		cs[i] = imapclient.New(nc, nil)
		if err := cs[i].WaitGreeting(); err != nil {
			return err
		}
		return cs[i].Login(testUser, testPassword).Wait()
	}))
	return cs
}

// inParallel runs f(0) ... f(n-1) concurrently and returns their errors.
func inParallel(n int, f func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = f(i) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// appendLoad lets every client append 4 KiB messages for d, client i to
// mailboxes[i % len(mailboxes)], and returns the acknowledged appends per
// second.
func appendLoad(t *testing.T, clients []*imapclient.Client, mailboxes []string, d time.Duration) float64 {
	t.Helper()
	var (
		mu    sync.Mutex
		total int
	)
	start := time.Now()
	stop := start.Add(d)
	err := inParallel(len(clients), func(i int) error {
		c, mbox := clients[i], mailboxes[i%len(mailboxes)]
		n := 0
		defer func() {
			mu.Lock()
			total += n
			mu.Unlock()
		}()
		for time.Now().Before(stop) {
			body := benchMessage(fmt.Sprintf("load-%d-%d-%d", start.UnixNano(), i, n))
			app := c.Append(mbox, int64(len(body)), nil)
			_, err := app.Write([]byte(body))
			if err == nil {
				err = app.Close()
			}
			if err == nil {
				_, err = app.Wait()
			}
			if err != nil {
				return fmt.Errorf("client %d APPEND to %s: %w", i, mbox, err)
			}
			n++
		}
		return nil
	})
	elapsed := time.Since(start)
	require.NoError(t, err)
	return float64(total) / elapsed.Seconds()
}

// testClusterAppendThroughput measures 4 KiB APPENDs by 10 concurrent
// clients per node, in the same run: two imapd nodes on one PostgreSQL
// store (20 clients), one node on it (10 clients), and one node on the
// embedded store (10 clients); once with every client on INBOX and once
// spread over ten mailboxes of the account. It logs msgs/s and the ratios,
// the figures in README's "Running a cluster". IMAPFSM_CLUSTER_LOAD_SECONDS
// sets the load time of each measurement (default 2).
func testClusterAppendThroughput(t *testing.T, pgServer, bin string) {
	d := 2 * time.Second
	if s := os.Getenv("IMAPFSM_CLUSTER_LOAD_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err, "IMAPFSM_CLUSTER_LOAD_SECONDS")
		d = time.Duration(n) * time.Second
	}
	const perNode = 10
	storeURL := clusterStore(t, pgServer)
	addStoreUser(t, bin, storeURL, testUser, testPassword)
	nodeA := spawnNode(t, bin, storeURL)
	nodeB := spawnNode(t, bin, storeURL)
	embedded := spawnImapd(t, bin, newImapdData(t, bin))

	onA := loginClients(t, nodeA.addr, perNode)
	onB := loginClients(t, nodeB.addr, perNode)
	onEmbedded := loginClients(t, embedded.addr, perNode)
	boxes := make([]string, perNode)
	for i := range boxes {
		boxes[i] = fmt.Sprintf("Load%02d", i)
		require.NoError(t, onA[0].Create(boxes[i], nil).Wait())
		require.NoError(t, onEmbedded[0].Create(boxes[i], nil).Wait())
	}

	for _, sc := range []struct {
		name      string
		mailboxes []string
	}{
		{"one mailbox", []string{"INBOX"}},
		{"ten mailboxes", boxes},
	} {
		pg2 := appendLoad(t, append(slices.Clone(onA), onB...), sc.mailboxes, d)
		pg1 := appendLoad(t, onA, sc.mailboxes, d)
		emb := appendLoad(t, onEmbedded, sc.mailboxes, d)
		t.Logf("%s: PostgreSQL 2 nodes x %d clients %.0f msgs/s, 1 node x %d clients %.0f msgs/s; "+
			"embedded 1 node x %d clients %.0f msgs/s; ratio to embedded: 2 nodes %.2f, 1 node %.2f",
			sc.name, perNode, pg2, perNode, pg1, perNode, emb, pg2/emb, pg1/emb)
		require.Positive(t, pg2)
		require.Positive(t, pg1)
		require.Positive(t, emb)
	}
	for _, c := range slices.Concat(onA, onB, onEmbedded) {
		require.NoError(t, c.Logout().Wait())
	}
	nodeA.stop()
	nodeB.stop()
	embedded.stop()
}
