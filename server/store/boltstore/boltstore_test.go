package boltstore

import (
	"testing"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
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

func TestSaveDateUnknown(t *testing.T) {
	storetest.RunSaveDateUnknown(t, func(t *testing.T) (store.Store, func(t *testing.T)) {
		s := openTest(t, t.TempDir(), testOptions())
		return s, func(t *testing.T) { forgetSaveDates(t, s) }
	})
}

// forgetSaveDates rewrites every message record of s without its save
// date, as records were written before save dates were kept.
func forgetSaveDates(t *testing.T, s *Store) {
	t.Helper()
	require.NoError(t, s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMboxes).ForEach(func(k, _ []byte) error {
			msgs := tx.Bucket(bucketMboxes).Bucket(k).Bucket(bucketMsg)
			var recs [][2][]byte
			err := msgs.ForEach(func(k, v []byte) error {
				var m msgRec
				if err := decodeMsg(v, &m); err != nil {
					return err
				}
				m.SaveDate = 0
				recs = append(recs, [2][]byte{clone(k), m.encode()})
				return nil
			})
			for _, r := range recs {
				if err == nil {
					err = msgs.Put(r[0], r[1])
				}
			}
			return err
		})
	}))
}
