package interop_test

import (
	"slices"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pushLatency bounds how long a change made by one session may take to
// reach another session idling on the same mailbox.
const pushLatency = time.Second

// pushEvent is one unsolicited response seen by the idling client.
type pushEvent struct {
	kind  string      // "exists", "fetch" or "expunge"
	num   uint32      // EXISTS count, FETCH or EXPUNGE sequence number
	flags []imap.Flag // FETCH only
}

// TestConcurrentClientsIdle runs two go-imap clients on one mailbox: one
// idles and must be told of the other's APPEND (EXISTS), STORE (FETCH
// FLAGS) and EXPUNGE (EXPUNGE) within pushLatency each.
func TestConcurrentClientsIdle(t *testing.T) {
	srv := startServer(t, "")
	srv.appendDirect(t, "INBOX", seedMessage)
	srv.appendDirect(t, "INBOX", "Subject: second\r\n\r\nsecond\r\n")

	events := make(chan pushEvent, 64)
	idler := dialClient(t, srv.addr, &imapclient.Options{
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
	})
	writer := dialClient(t, srv.addr, nil)

	sel, err := idler.Select("INBOX", nil).Wait()
	require.NoError(t, err)
	require.Equal(t, uint32(2), sel.NumMessages)
	_, err = writer.Select("INBOX", nil).Wait()
	require.NoError(t, err)

	idle, err := idler.Idle()
	require.NoError(t, err)
	// The IDLE command is sent; give the server a moment to enter IDLE so
	// that the changes below are pushed, not reported on completion.
	time.Sleep(100 * time.Millisecond)

	// expect waits up to pushLatency for an event matching ok, skipping
	// other events (e.g. the FETCH FLAGS that may accompany an APPEND).
	// start is when the change was sent.
	expect := func(what string, start time.Time, ok func(pushEvent) bool) {
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

	// APPEND by the other session: * 3 EXISTS.
	body := "From: writer@example.org\r\nSubject: concurrent\r\n\r\nappended while the other idles\r\n"
	start := time.Now()
	app := writer.Append("INBOX", int64(len(body)), nil)
	_, err = app.Write([]byte(body))
	require.NoError(t, err)
	require.NoError(t, app.Close())
	_, err = app.Wait()
	require.NoError(t, err)
	expect("EXISTS 3", start, func(ev pushEvent) bool { return ev.kind == "exists" && ev.num == 3 })

	// STORE by the other session: * 1 FETCH (FLAGS (\Flagged ...)).
	start = time.Now()
	require.NoError(t, writer.Store(imap.SeqSetNum(1), &imap.StoreFlags{
		Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagFlagged},
	}, nil).Close())
	expect("FETCH 1 FLAGS with \\Flagged", start, func(ev pushEvent) bool {
		return ev.kind == "fetch" && ev.num == 1 && slices.Contains(ev.flags, imap.FlagFlagged)
	})

	// EXPUNGE by the other session of message 2: * 2 EXPUNGE.
	start = time.Now()
	require.NoError(t, writer.Store(imap.SeqSetNum(2), &imap.StoreFlags{
		Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted},
	}, nil).Close())
	expect("FETCH 2 FLAGS with \\Deleted", start, func(ev pushEvent) bool {
		return ev.kind == "fetch" && ev.num == 2 && slices.Contains(ev.flags, imap.FlagDeleted)
	})
	start = time.Now()
	expunged, err := writer.Expunge().Collect()
	require.NoError(t, err)
	assert.Equal(t, []uint32{2}, expunged)
	expect("EXPUNGE 2", start, func(ev pushEvent) bool { return ev.kind == "expunge" && ev.num == 2 })

	require.NoError(t, idle.Close())
	require.NoError(t, idle.Wait())

	// Both sessions agree on the mailbox afterwards.
	for _, c := range []*imapclient.Client{idler, writer} {
		msgs, err := c.Fetch(imap.SeqSetNum(1, 2), &imap.FetchOptions{UID: true, Flags: true}).Collect()
		require.NoError(t, err)
		require.Len(t, msgs, 2)
		assert.Equal(t, imap.UID(1), msgs[0].UID)
		assert.Contains(t, msgs[0].Flags, imap.FlagFlagged)
		assert.Equal(t, imap.UID(3), msgs[1].UID)
	}
	require.NoError(t, writer.Logout().Wait())
	require.NoError(t, idler.Logout().Wait())
	// Nothing unexpected was pushed after the expunge, e.g. a stale EXISTS.
	for {
		select {
		case ev := <-events:
			assert.NotEqual(t, "expunge", ev.kind, "extra EXPUNGE pushed: %+v", ev)
		default:
			return
		}
	}
}
