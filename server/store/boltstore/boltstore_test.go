package boltstore

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/crypto/bcrypt"

	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/storetest"
)

func TestMain(m *testing.M) {
	if crashChild() {
		return
	}
	goleak.VerifyTestMain(m)
}

func testOptions() Options {
	return Options{Options: store.Options{BcryptCost: bcrypt.MinCost, Analyzer: storetest.Analyzer}}
}

func openTest(t *testing.T, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	require.NoError(t, err)
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openTest(t, t.TempDir(), testOptions())
	})
}

func TestChangeLogBound(t *testing.T) {
	storetest.RunChangeLogBound(t, func(t *testing.T, maxChanges int) store.Store {
		opts := testOptions()
		opts.MaxChangeLog = maxChanges
		return openTest(t, t.TempDir(), opts)
	})
}

func TestReopen(t *testing.T) {
	storetest.RunReopen(t, func(t *testing.T) storetest.Opener {
		dir := t.TempDir()
		return func(t *testing.T) store.Store { return openTest(t, dir, testOptions()) }
	})
}

func TestNewMessageChecks(t *testing.T) {
	storetest.RunNewMessageChecks(t, func(t *testing.T, maxMessageSize int64) store.Store {
		opts := testOptions()
		opts.MaxMessageSize = maxMessageSize
		return openTest(t, t.TempDir(), opts)
	})
}
