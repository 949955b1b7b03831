// Package backend holds what the store backends (boltstore, pgstore) share
// beyond the storage API itself: the argument checks of the store
// interfaces, which must reject the same input with the same error in every
// backend, and small pieces of bookkeeping that do not depend on how a
// backend lays out its data.
//
// Each helper states one rule of the [store] contract; a backend calls it at
// the point where the rule applies, typically before it touches storage, so
// that a rule changes in one place for every backend. The package is
// internal: it is not part of the storage API.
package backend
