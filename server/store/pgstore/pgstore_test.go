package pgstore_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/pgstore"
	"github.com/imapfsm/imapfsm/server/store/pgstore/pgtest"
	"github.com/imapfsm/imapfsm/server/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// testOptions are the options of every store under test: cheap password
// hashes and the conformance suite's analyzer.
func testOptions(schema string) pgstore.Options {
	return pgstore.Options{Options: store.Options{BcryptCost: 4, Analyzer: storetest.Analyzer}, Schema: schema}
}

// openFresh opens a store on a fresh schema; it is closed with the test.
func openFresh(t *testing.T) (*pgstore.Store, string, string) {
	t.Helper()
	url, schema := pgtest.Schema(t)
	s, err := pgstore.Open(context.Background(), url, testOptions(schema))
	require.NoError(t, err)
	return s, url, schema
}

// TestConformance runs the conformance suite; every test also checks that
// View never had to rebuild UID runs, which only a write path that failed
// to maintain them makes necessary.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, _, _ := openFresh(t)
		t.Cleanup(func() { assert.Zero(t, s.RunsRepairs(), "UID runs rebuilt: a write path did not maintain them") })
		return s
	})
}

func TestChangeLogBound(t *testing.T) {
	storetest.RunChangeLogBound(t, func(t *testing.T, maxChanges int) store.Store {
		url, schema := pgtest.Schema(t)
		opts := testOptions(schema)
		opts.MaxChangeLog = maxChanges
		s, err := pgstore.Open(context.Background(), url, opts)
		require.NoError(t, err)
		return s
	})
}

func TestReopen(t *testing.T) {
	storetest.RunReopen(t, func(t *testing.T) storetest.Opener {
		url, schema := pgtest.Schema(t)
		return func(t *testing.T) store.Store {
			s, err := pgstore.Open(context.Background(), url, testOptions(schema))
			require.NoError(t, err)
			return s
		}
	})
}

func TestNewMessageChecks(t *testing.T) {
	storetest.RunNewMessageChecks(t, func(t *testing.T, maxMessageSize int64) store.Store {
		url, schema := pgtest.Schema(t)
		opts := testOptions(schema)
		opts.MaxMessageSize = maxMessageSize
		s, err := pgstore.Open(context.Background(), url, opts)
		require.NoError(t, err)
		return s
	})
}
