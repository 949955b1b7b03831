package interop_test

import (
	"context"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/store"
)

const seedMessage = "From: Alice Example <alice@example.org>\r\n" +
	"To: demo@example.org\r\n" +
	"Subject: seeded\r\n" +
	"Date: Tue, 05 Mar 2024 10:00:00 +0000\r\n" +
	"Message-ID: <seed@example.org>\r\n" +
	"\r\n" +
	"Seeded through the store.\r\n"

// dialClient connects a go-imap client, logs in and closes it at the end.
func dialClient(t *testing.T, addr string, opts *imapclient.Options) *imapclient.Client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	// Bound every exchange; the deadline is pushed back by each test step.
	require.NoError(t, nc.SetDeadline(time.Now().Add(30*time.Second)))
	c := imapclient.New(nc, opts)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.WaitGreeting())
	require.NoError(t, c.Login(testUser, testPassword).Wait())
	return c
}

func TestGoIMAPClient(t *testing.T) {
	srv := startServer(t, "")
	srv.appendDirect(t, "INBOX", seedMessage, `\Flagged`)
	c := dialClient(t, srv.addr, nil)

	t.Run("capabilities", func(t *testing.T) {
		caps, err := c.Capability().Wait()
		require.NoError(t, err)
		assert.True(t, caps.Has(imap.CapIMAP4rev2) || caps.Has(imap.CapIMAP4rev1), "%v", caps)
		assert.True(t, caps.Has(imap.CapIdle))
	})

	t.Run("list", func(t *testing.T) {
		boxes, err := c.List("", "*", nil).Collect()
		skipIfNotYet(t, "LIST", err)
		require.NoError(t, err)
		var names []string
		for _, b := range boxes {
			names = append(names, b.Mailbox)
			assert.Equal(t, '/', b.Delim)
		}
		assert.Subset(t, names, []string{"INBOX", "Drafts", "Sent", "Trash"})
	})

	t.Run("create", func(t *testing.T) {
		err := c.Create("Projects/Go", nil).Wait()
		skipIfNotYet(t, "CREATE", err)
		require.NoError(t, err)
		boxes, err := c.List("", "Projects*", nil).Collect()
		skipIfNotYet(t, "LIST", err)
		require.NoError(t, err)
		var names []string
		for _, b := range boxes {
			names = append(names, b.Mailbox)
		}
		assert.Contains(t, names, "Projects/Go")
		err = c.Create("Projects/Go", nil).Wait()
		var ie *imap.Error
		require.ErrorAs(t, err, &ie, "creating an existing mailbox fails")
		assert.Equal(t, imap.StatusResponseTypeNo, ie.Type)
	})

	t.Run("append", func(t *testing.T) {
		body := "From: bob@example.org\r\nSubject: appended\r\n\r\nAppended over IMAP.\r\n"
		cmd := c.Append("INBOX", int64(len(body)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}})
		_, err := cmd.Write([]byte(body))
		require.NoError(t, err)
		require.NoError(t, cmd.Close())
		data, err := cmd.Wait()
		skipIfNotYet(t, "APPEND", err)
		require.NoError(t, err)
		if data.UID != 0 {
			assert.Equal(t, imap.UID(2), data.UID)
		}
	})

	t.Run("select and fetch", func(t *testing.T) {
		sel, err := c.Select("INBOX", nil).Wait()
		skipIfNotYet(t, "SELECT", err)
		require.NoError(t, err)
		require.GreaterOrEqual(t, sel.NumMessages, uint32(1))
		assert.NotZero(t, sel.UIDValidity)

		msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{
			Flags:       true,
			Envelope:    true,
			UID:         true,
			RFC822Size:  true,
			BodySection: []*imap.FetchItemBodySection{{Peek: true}},
		}).Collect()
		skipIfNotYet(t, "FETCH", err)
		require.NoError(t, err)
		require.Len(t, msgs, 1)
		m := msgs[0]
		assert.Equal(t, imap.UID(1), m.UID)
		assert.Contains(t, m.Flags, imap.FlagFlagged)
		assert.NotContains(t, m.Flags, imap.FlagSeen, "BODY.PEEK must not set \\Seen")
		require.NotNil(t, m.Envelope)
		assert.Equal(t, "seeded", m.Envelope.Subject)
		assert.Equal(t, "<seed@example.org>", "<"+m.Envelope.MessageID+">")
		require.Len(t, m.Envelope.From, 1)
		assert.Equal(t, "Alice Example", m.Envelope.From[0].Name)
		assert.Equal(t, "alice@example.org", m.Envelope.From[0].Addr())
		assert.Equal(t, int64(len(seedMessage)), m.RFC822Size)
		require.Len(t, m.BodySection, 1)
		assert.Equal(t, seedMessage, string(m.BodySection[0].Bytes))
	})

	t.Run("idle", func(t *testing.T) {
		// A second connection selects INBOX and idles; a message stored
		// meanwhile must be announced with EXISTS.
		var mu sync.Mutex
		var exists []uint32
		pushed := make(chan struct{}, 8)
		idler := dialClient(t, srv.addr, &imapclient.Options{
			UnilateralDataHandler: &imapclient.UnilateralDataHandler{
				Mailbox: func(d *imapclient.UnilateralDataMailbox) {
					if d.NumMessages != nil {
						mu.Lock()
						exists = append(exists, *d.NumMessages)
						mu.Unlock()
						pushed <- struct{}{}
					}
				},
			},
		})
		sel, err := idler.Select("INBOX", nil).Wait()
		skipIfNotYet(t, "SELECT", err)
		require.NoError(t, err)
		before := sel.NumMessages

		idle, err := idler.Idle()
		require.NoError(t, err)
		// Let the server enter IDLE before the change.
		time.Sleep(100 * time.Millisecond)
		srv.appendDirect(t, "INBOX", "Subject: pushed\r\n\r\nwhile idling\r\n")
		select {
		case <-pushed:
		case <-time.After(10 * time.Second):
			t.Fatal("no EXISTS pushed during IDLE")
		}
		require.NoError(t, idle.Close())
		require.NoError(t, idle.Wait())
		mu.Lock()
		assert.True(t, slices.Contains(exists, before+1), "EXISTS %v, want %d", exists, before+1)
		mu.Unlock()

		// The session works normally after IDLE.
		require.NoError(t, idler.Noop().Wait())
	})

	t.Run("logout", func(t *testing.T) {
		err := c.Logout().Wait()
		if err != nil && !strings.Contains(err.Error(), "closed") {
			require.NoError(t, err)
		}
	})
}

// TestGoIMAPClientQresync: go-imap v2 (this version) has no QRESYNC
// commands, so the QRESYNC wire exchanges are checked raw in
// TestCapabilitiesAreImplemented. Here: the client sees QRESYNC (and with it
// CONDSTORE) advertised, and its mailbox switches keep working with the
// CLOSED response code a SELECT of a selected session now carries.
func TestGoIMAPClientQresync(t *testing.T) {
	srv := startServer(t, "")
	srv.appendDirect(t, "INBOX", seedMessage, `\Flagged`)
	c := dialClient(t, srv.addr, nil)
	caps, err := c.Capability().Wait()
	require.NoError(t, err)
	assert.True(t, caps.Has(imap.CapQResync), "%v", caps)
	assert.True(t, caps.Has(imap.CapCondStore), "%v", caps)

	for _, name := range []string{"INBOX", "Trash", "INBOX"} {
		sel, err := c.Select(name, &imap.SelectOptions{CondStore: true}).Wait()
		require.NoError(t, err, name)
		assert.Positive(t, sel.HighestModSeq, name)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{UID: true, Flags: true}).Collect()
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	assert.Equal(t, []imap.Flag{imap.FlagFlagged}, msgs[0].Flags, "the responses after CLOSED are the new mailbox's")
}

// TestGoIMAPClientQuota reads the account's quota with go-imap v2's
// GETQUOTAROOT and GETQUOTA, and sees APPEND refused beyond it.
func TestGoIMAPClientQuota(t *testing.T) {
	srv := startServer(t, "")
	srv.appendDirect(t, "INBOX", seedMessage)
	require.NoError(t, srv.store.SetQuota(context.Background(), testUser, store.Quota{Storage: 1 << 20, Messages: 1}))
	c := dialClient(t, srv.addr, nil)
	caps, err := c.Capability().Wait()
	require.NoError(t, err)
	for _, cp := range []imap.Cap{"QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE"} {
		assert.True(t, caps.Has(cp), "%s in %v", cp, caps)
	}
	want := imapclient.QuotaData{Root: "", Resources: map[imap.QuotaResourceType]imapclient.QuotaResourceData{
		imap.QuotaResourceStorage: {Usage: int64((len(seedMessage) + 1023) / 1024), Limit: 1024},
		imap.QuotaResourceMessage: {Usage: 1, Limit: 1},
	}}
	roots, err := c.GetQuotaRoot("INBOX").Wait()
	require.NoError(t, err)
	assert.Equal(t, []imapclient.QuotaData{want}, roots)
	got, err := c.GetQuota("").Wait()
	require.NoError(t, err)
	assert.Equal(t, want, *got)

	msg := "Subject: over\r\n\r\nover quota\r\n"
	ac := c.Append("INBOX", int64(len(msg)), nil)
	_, err = io.WriteString(ac, msg)
	require.NoError(t, err)
	require.NoError(t, ac.Close())
	_, err = ac.Wait()
	var ie *imap.Error
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, imap.StatusResponseType("NO"), ie.Type)
	assert.Equal(t, imap.ResponseCode("OVERQUOTA"), ie.Code)
}

// TestGoIMAPClientMetadata sets and reads annotations with go-imap v2's
// SETMETADATA and GETMETADATA (RFC 5464): server and mailbox entries, a
// multi-line value, removal with NIL, the DEPTH and MAXSIZE options (which
// go-imap sends after the mailbox, as the RFC's examples do), and the
// refusals of a missing mailbox.
func TestGoIMAPClientMetadata(t *testing.T) {
	srv := startServer(t, "")
	c := dialClient(t, srv.addr, nil)
	caps, err := c.Capability().Wait()
	require.NoError(t, err)
	assert.True(t, caps.Has(imap.CapMetadata), "METADATA in %v", caps)

	val := func(s string) *[]byte { b := []byte(s); return &b }
	require.NoError(t, c.SetMetadata("", map[string]*[]byte{"/shared/comment": val("Shared comment")}).Wait())
	require.NoError(t, c.SetMetadata("INBOX", map[string]*[]byte{
		"/private/comment":                val("My new comment across\r\ntwo lines."),
		"/private/filters/values/small":   val("SMALLER 5000"),
		"/private/filters/values/boss":    val(`FROM "boss@example.com"`),
		"/private/filters/values/boss/cc": val("deeper"),
	}).Wait())

	got, err := c.GetMetadata("", []string{"/shared/comment"}, nil).Wait()
	require.NoError(t, err)
	assert.Equal(t, "", got.Mailbox)
	assert.Equal(t, map[string]*[]byte{"/shared/comment": val("Shared comment")}, got.Entries)

	got, err = c.GetMetadata("INBOX", []string{"/private/comment"}, nil).Wait()
	require.NoError(t, err)
	assert.Equal(t, map[string]*[]byte{"/private/comment": val("My new comment across\r\ntwo lines.")}, got.Entries)

	got, err = c.GetMetadata("INBOX", []string{"/private/filters/values"}, &imapclient.GetMetadataOptions{Depth: imapclient.GetMetadataDepthOne}).Wait()
	require.NoError(t, err)
	assert.Equal(t, map[string]*[]byte{
		"/private/filters/values/small": val("SMALLER 5000"),
		"/private/filters/values/boss":  val(`FROM "boss@example.com"`),
	}, got.Entries)

	maxSize := uint32(12)
	got, err = c.GetMetadata("INBOX", []string{"/private/filters"}, &imapclient.GetMetadataOptions{
		Depth: imapclient.GetMetadataDepthInfinity, MaxSize: &maxSize}).Wait()
	require.NoError(t, err)
	assert.Equal(t, map[string]*[]byte{
		"/private/filters/values/small":   val("SMALLER 5000"),
		"/private/filters/values/boss/cc": val("deeper"),
	}, got.Entries, "values over MAXSIZE left out")

	require.NoError(t, c.SetMetadata("INBOX", map[string]*[]byte{"/private/comment": nil}).Wait())
	got, err = c.GetMetadata("INBOX", []string{"/private/comment"}, nil).Wait()
	require.NoError(t, err)
	assert.Equal(t, map[string]*[]byte{"/private/comment": nil}, got.Entries, "removed: NIL")

	err = c.SetMetadata("Missing", map[string]*[]byte{"/private/comment": val("x")}).Wait()
	var ie *imap.Error
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, imap.StatusResponseType("NO"), ie.Type)
	assert.Equal(t, imap.ResponseCode("NONEXISTENT"), ie.Code)
}
