package pgstore

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/store"
)

// chanOnly hides LocalNotifier's SubscribeFunc: a notifier that only
// offers channels.
type chanOnly struct{ n *store.LocalNotifier }

func (c chanOnly) Subscribe(user string, mailbox store.MailboxID) (<-chan store.Notification, func()) {
	return c.n.Subscribe(user, mailbox)
}
func (c chanOnly) Publish(n store.Notification) { c.n.Publish(n) }

// TestTrackingSubscribeFunc: SubscribeFunc calls fn for every
// notification of the account (AccountEvents), through the wrapped
// notifier's own SubscribeFunc or, where it has none, from a channel; the
// subscription counts as watched until it is cancelled.
func TestTrackingSubscribeFunc(t *testing.T) {
	for name, inner := range map[string]store.Notifier{
		"func":    store.NewLocalNotifier(),
		"channel": chanOnly{store.NewLocalNotifier()},
	} {
		t.Run(name, func(t *testing.T) {
			n := newTrackingNotifier(inner)
			var mu sync.Mutex
			var got []store.Notification
			cancel := n.SubscribeFunc("u", store.AccountEvents, func(note store.Notification) {
				mu.Lock()
				got = append(got, note)
				mu.Unlock()
			})
			ev := store.Notification{User: "u", Mailbox: store.AccountEvents, Event: store.MailboxRenamed, Name: "b", OldName: "a"}
			n.Publish(ev)
			require.Eventually(t, func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(got) == 1
			}, 5*time.Second, time.Millisecond)
			assert.Equal(t, ev, got[0])
			if name == "func" {
				assert.Equal(t, []watchKey{{"u", store.AccountEvents}}, n.watched())
			}
			cancel()
			cancel() // idempotent
			assert.Empty(t, n.watched())
			n.Publish(ev)
			time.Sleep(20 * time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			assert.Len(t, got, 1, "nothing after cancel")
		})
	}
}

// TestPayloadCarriesAccountEvents: an account event survives the trip
// through the NOTIFY payload to the other nodes.
func TestPayloadCarriesAccountEvents(t *testing.T) {
	ev := store.Notification{User: "u", Mailbox: store.AccountEvents, Event: store.MailboxRenamed, Name: "new", OldName: "old"}
	p, err := decodePayload(encodePayload("node", ev))
	require.NoError(t, err)
	assert.Equal(t, payload{Node: "node", User: "u", Event: uint8(store.MailboxRenamed), Name: "new", OldName: "old"}, p)
	md := store.Notification{User: "u", Mailbox: store.AccountEvents, Event: store.MetadataChanged, Name: "INBOX", Entry: "/private/comment"}
	p, err = decodePayload(encodePayload("node", md))
	require.NoError(t, err)
	assert.Equal(t, "/private/comment", p.Entry)
}

// TestPayloadCarriesOrigin: every field of a notification, its Origin
// included, survives the trip to the other nodes, so that the session that
// caused a change is known there too; a notification without one arrives
// without one.
func TestPayloadCarriesOrigin(t *testing.T) {
	for _, n := range []store.Notification{
		{User: "u", Mailbox: 7, HighestModSeq: 42, Origin: store.NewOrigin()},
		{User: "u", Mailbox: store.AccountEvents, Event: store.MailboxCreated, Name: "x", Origin: store.Origin(1<<64 - 1)},
		{User: "u", Mailbox: 7, HighestModSeq: 43},
	} {
		p, err := decodePayload(encodePayload("node", n))
		require.NoError(t, err)
		assert.Equal(t, n, p.notification())
	}
}
