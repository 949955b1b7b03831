package proptest

import "fmt"

// TagID identifies one tagged line of a session by its position, so that a
// client reusing a tag string does not confuse the ledger.
type TagID int

// NoTag is the absent tag.
const NoTag TagID = -1

// Ledger keeps the tag obligations of one session: every tagged command line
// the session reads must get exactly one completion (OK, NO or BAD). A
// completion comes from the command's handler, from a rejection, or, for a
// tag a state holds (IDLE, AUTHENTICATE), from a decision's Pending or from
// the handler of the continuation that ends the exchange. Closing the
// connection is the only way to leave a tag unanswered.
//
// The ledger knows nothing about decisions: the model-level session feeds it
// from decisions, a wire-level runner from the tagged responses it reads.
type Ledger struct {
	tags []tagEntry
	held TagID
}

type tagEntry struct {
	label       string
	completions []string
	// settled is set once the tag needs no further completion: completed,
	// exempted by a close, or already reported as left open.
	settled bool
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger { return &Ledger{held: NoTag} }

// Clone returns an independent copy.
func (l *Ledger) Clone() *Ledger {
	c := &Ledger{held: l.held, tags: make([]tagEntry, len(l.tags))}
	for i, t := range l.tags {
		t.completions = append([]string(nil), t.completions...)
		c.tags[i] = t
	}
	return c
}

// Open records a tagged line that now waits for its completion.
func (l *Ledger) Open(label string) TagID {
	l.tags = append(l.tags, tagEntry{label: label})
	return TagID(len(l.tags) - 1)
}

// Label is the tag as the client sent it.
func (l *Ledger) Label(id TagID) string {
	if id < 0 || int(id) >= len(l.tags) {
		return "(no tag)"
	}
	return l.tags[id].label
}

// Held is the tag a state holds, or NoTag.
func (l *Ledger) Held() TagID { return l.held }

// Completions lists how tag id was completed so far.
func (l *Ledger) Completions(id TagID) []string { return l.tags[id].completions }

// Complete records a completion of tag id, by names what sent it. Completing
// a held tag releases it. A second completion of the same tag is an error.
func (l *Ledger) Complete(id TagID, by string) error {
	if id < 0 || int(id) >= len(l.tags) {
		return fmt.Errorf("%s completes no open tag", by)
	}
	t := &l.tags[id]
	t.completions = append(t.completions, by)
	if l.held == id {
		l.held = NoTag
	}
	if len(t.completions) > 1 {
		return fmt.Errorf("tag %s completed twice: %s", t.label, joinAnd(t.completions))
	}
	t.settled = true
	return nil
}

// Hold records that the state now holds tag id, whose command waits for
// continuation lines. Only one tag can be held.
func (l *Ledger) Hold(id TagID) error {
	if l.held != NoTag && l.held != id {
		prev := l.tags[l.held].label
		l.held = id
		return fmt.Errorf("tag %s is held while tag %s is still held", l.tags[id].label, prev)
	}
	l.held = id
	return nil
}

// Close exempts every open tag: the connection is closing.
func (l *Ledger) Close() {
	l.held = NoTag
	for i := range l.tags {
		l.tags[i].settled = true
	}
}

// Settle checks the obligations at the end of a step that did not close the
// connection: tag current (the step's own tag, or NoTag) must be completed or
// held, and a tag is held exactly when the new state holds one.
func (l *Ledger) Settle(current TagID, stateHoldsTag bool, state string) []error {
	var errs []error
	if current != NoTag && !l.tags[current].settled && l.held != current {
		errs = append(errs, fmt.Errorf("tag %s got no completion", l.tags[current].label))
		l.tags[current].settled = true
	}
	switch {
	case stateHoldsTag && l.held == NoTag:
		errs = append(errs, fmt.Errorf("%s holds a tag, but no command is waiting for its completion", state))
	case !stateHoldsTag && l.held != NoTag:
		errs = append(errs, fmt.Errorf("tag %s left open: the session moved to %s, which holds no tag", l.tags[l.held].label, state))
		l.tags[l.held].settled = true
		l.held = NoTag
	}
	return errs
}

func joinAnd(xs []string) string {
	switch len(xs) {
	case 0:
		return ""
	case 1:
		return xs[0]
	}
	out := xs[0]
	for _, x := range xs[1 : len(xs)-1] {
		out += ", " + x
	}
	return out + " and " + xs[len(xs)-1]
}
