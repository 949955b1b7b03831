package lmtp

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/boltstore"
)

// TestDeliveryOverQuota checks that a recipient whose account is full gets
// 552 5.2.2 and nothing stored, while the other recipients of the same
// message are served.
func TestDeliveryOverQuota(t *testing.T) {
	st := newStore(t, boltstore.Options{}, "alice", "bob")
	require.NoError(t, st.SetQuota(context.Background(), "alice", store.Quota{Messages: 1}))
	srv := newServer(t, Config{Store: st})
	c := pipe(t, srv)
	c.hello()
	for _, want := range []string{"250 2.0.0 <alice@x>", "552 5.2.2 "} {
		c.send("MAIL FROM:<>")
		c.expect("250 2.1.0 ")
		for _, r := range []string{"alice", "bob"} {
			c.send("RCPT TO:<" + r + "@x>")
			c.expect("250 2.1.5 ")
		}
		c.send("DATA")
		c.expect("354 ")
		c.send("Subject: quota", "", "body", ".")
		c.expect(want)
		c.expect("250 2.0.0 <bob@x>")
	}
	assert.Len(t, messages(t, st, "alice", "INBOX"), 1)
	assert.Len(t, messages(t, st, "bob", "INBOX"), 2)
}
