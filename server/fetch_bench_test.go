package server

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/store"
)

// BenchmarkFetchAllFlags measures the flag resynchronisation every client
// does on a large mailbox: FETCH 1:* (UID FLAGS) over 5,000 messages,
// some with keywords.
func BenchmarkFetchAllFlags(b *testing.B) {
	ts := newTestServer(b)
	u, err := ts.srv.cfg.Store.OpenUser(context.Background(), "demo")
	require.NoError(b, err)
	ba := u.(store.BatchAppender)
	const n = 5000
	for i := 0; i < n; i += 500 {
		var msgs []store.NewMessage
		for j := i; j < i+500; j++ {
			flags := []string{`\Seen`}
			if j%3 == 0 {
				flags = append(flags, fmt.Sprintf("$kw%d", j%40))
			}
			msgs = append(msgs, store.NewMessage{Flags: flags, Body: strings.NewReader(fixturePlain)})
		}
		_, err := ba.AppendBatch(context.Background(), "INBOX", msgs)
		require.NoError(b, err)
	}
	c := ts.dial()
	c.login()
	c.ok("S", "SELECT INBOX")
	b.ResetTimer()
	for range b.N {
		lines := c.ok("F", "FETCH 1:* (UID FLAGS)")
		if len(lines) != n {
			b.Fatalf("%d lines", len(lines))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/message")
}
