package pgstore_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/boltstore"
	"github.com/imapfsm/imapfsm/server/store/pgstore"
	"github.com/imapfsm/imapfsm/server/store/pgstore/pgtest"
)

// benchClients is the number of concurrent appending clients.
const benchClients = 10

// BenchmarkAppend10 measures durable 4 KiB appends by 10 concurrent
// clients, on pgstore and, for comparison in the same run, on the embedded
// boltstore: all clients appending to one mailbox (writers of one mailbox
// serialise on its row lock, one WAL flush each) and each client to its
// own account (commits overlap and share WAL flushes).
func BenchmarkAppend10(b *testing.B) {
	for _, accounts := range []int{1, benchClients} {
		b.Run(fmt.Sprintf("pgstore/accounts=%d", accounts), func(b *testing.B) {
			url, schema := pgtest.Schema(b)
			s, err := pgstore.Open(context.Background(), url, pgstore.Options{
				Options: store.Options{BcryptCost: 4}, Schema: schema, MaxConns: benchClients + 2, Logger: slog.New(slog.DiscardHandler)})
			require.NoError(b, err)
			defer s.Close()
			benchAppend(b, s, accounts)
		})
		b.Run(fmt.Sprintf("boltstore/accounts=%d", accounts), func(b *testing.B) {
			s, err := boltstore.Open(b.TempDir(), boltstore.Options{Options: store.Options{BcryptCost: 4}})
			require.NoError(b, err)
			defer s.Close()
			benchAppend(b, s, accounts)
		})
	}
}

func benchAppend(b *testing.B, s store.Store, accounts int) {
	ctx := context.Background()
	users := make([]store.User, accounts)
	for i := range users {
		name := fmt.Sprintf("bench%d", i)
		require.NoError(b, s.CreateUser(ctx, name, "pw"))
		var err error
		users[i], err = s.OpenUser(ctx, name)
		require.NoError(b, err)
	}
	body := bytes.Repeat([]byte("0123456789abcdef"), 256)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, benchClients)
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	start := time.Now()
	for c := range benchClients {
		u := users[c%accounts]
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if _, err := u.Append(ctx, store.Inbox, store.NewMessage{Body: bytes.NewReader(body)}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	close(errs)
	for err := range errs {
		require.NoError(b, err)
	}
}
