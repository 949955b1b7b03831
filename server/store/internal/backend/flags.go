package backend

import "github.com/imapfsm/imapfsm/server/store"

// FlagStore carries out one [store.MessageWriter.StoreFlags] request,
// message by message, and builds its result. A backend creates one per
// transaction attempt, passes every message of the UID set to Apply in
// ascending UID order, writes back the flags of the messages Apply reports
// changed, logs Changed and returns Result.
type FlagStore struct {
	req     store.FlagChange
	change  store.FlagSet
	res     store.StoreResult
	skipped []uint32
	changed []uint32
}

// NewFlagStore starts the request req, whose flags the caller has parsed
// into change with [store.ParseFlags] before touching storage.
func NewFlagStore(req store.FlagChange, change store.FlagSet) *FlagStore {
	return &FlagStore{req: req, change: change}
}

// Apply decides the request for the message uid, which has the flags old
// at MODSEQ modseq, and returns its new flags and whether they differ from
// old. A message changed after the request's UnchangedSince (RFC 7162) is
// left alone and reported in [store.StoreResult.Modified]; every other one
// is reported in [store.StoreResult.Updated]. All messages the request
// changes share one new MODSEQ, which Apply allocates by calling
// nextModSeq once, at the first change; the caller gives a changed message
// that MODSEQ ([FlagStore.ModSeq]).
func (f *FlagStore) Apply(uid uint32, modseq uint64, old store.FlagSet, nextModSeq func() uint64) (store.FlagSet, bool) {
	if f.req.UnchangedSince != 0 && modseq > f.req.UnchangedSince {
		f.skipped = append(f.skipped, uid)
		return old, false
	}
	nf := old.Apply(f.req.Op, f.change)
	up := store.FlagUpdate{UID: uid, Flags: nf.Strings(), ModSeq: modseq}
	changed := !nf.Equal(old)
	if changed {
		if f.res.ModSeq == 0 {
			f.res.ModSeq = nextModSeq()
		}
		up.ModSeq, up.Changed = f.res.ModSeq, true
		f.changed = append(f.changed, uid)
	}
	f.res.Updated = append(f.res.Updated, up)
	return nf, changed
}

// ModSeq returns the MODSEQ of the request's changes, or 0 while nothing
// changed.
func (f *FlagStore) ModSeq() uint64 { return f.res.ModSeq }

// Changed returns the UIDs whose flags changed, in the order applied.
func (f *FlagStore) Changed() []uint32 { return f.changed }

// Result returns the outcome of the request over the messages applied.
func (f *FlagStore) Result() store.StoreResult {
	res := f.res
	res.Modified = Ranges(f.skipped)
	return res
}
