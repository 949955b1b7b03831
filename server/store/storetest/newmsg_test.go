package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/boltstore"
)

// recorder is an assert.TestingT that keeps the failures reported to it.
type recorder struct{ failures []string }

func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

// laxStore hands out users whose Replace drops the message's flags, as a
// Replace with its own copy of the checks that forgot the flag check would
// store them.
type laxStore struct{ store.Store }

type laxUser struct{ store.User }

func (s laxStore) Authenticate(ctx context.Context, name, pw string) (store.User, error) {
	u, err := s.Store.Authenticate(ctx, name, pw)
	if err != nil {
		return nil, err
	}
	return laxUser{u}, nil
}

func (u laxUser) Replace(ctx context.Context, mailbox store.MailboxID, uid uint32, dest string, msg store.NewMessage) (store.AppendResult, error) {
	msg.Flags = nil
	return u.User.(store.Replacer).Replace(ctx, mailbox, uid, dest, msg)
}

// TestNewMessageRefusalsMutant: the checks of RunNewMessageChecks pass on
// a real store and catch a Replace that skips the flag check.
func TestNewMessageRefusalsMutant(t *testing.T) {
	open := func(t *testing.T) store.Store {
		s, err := boltstore.Open(t.TempDir(), boltstore.Options{Options: store.Options{BcryptCost: bcrypt.MinCost, MaxMessageSize: NewMessageLimit}})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	replace := newEntries[2]
	require.Equal(t, "Replace", replace.Name)

	var good recorder
	checkNewMessageRefusals(t, &good, open(t), replace)
	assert.Empty(t, good.failures)

	var lax recorder
	checkNewMessageRefusals(t, &lax, laxStore{open(t)}, replace)
	assert.NotEmpty(t, lax.failures, "the mutant's Replace stores messages with bad flags")
}
