package store

import (
	"math"
	"slices"
	"strconv"
	"strings"
)

// UIDRange is an inclusive range of UIDs. A handler translates the IMAP "*"
// to the mailbox's largest UID before calling the store (RFC 9051 section
// 6.4.8: "n:*" always includes the last message); Stop may be
// math.MaxUint32 to mean "no upper bound".
type UIDRange struct {
	Start, Stop uint32
}

// UIDSet is a set of UIDs as ranges. The zero value is the empty set. Store
// methods accept unnormalised sets (unordered, overlapping, reversed ranges).
type UIDSet []UIDRange

// AllUIDs returns the set of every possible UID.
func AllUIDs() UIDSet { return UIDSet{{Start: 1, Stop: math.MaxUint32}} }

// UIDSetOf returns the set of the given UIDs, normalised.
func UIDSetOf(uids ...uint32) UIDSet {
	s := make(UIDSet, 0, len(uids))
	for _, u := range uids {
		s = append(s, UIDRange{u, u})
	}
	return s.Normalize()
}

// Normalize returns an equivalent set whose ranges ascend, do not overlap or
// touch, and have Start <= Stop. UID 0 is dropped (it is not a valid UID).
func (s UIDSet) Normalize() UIDSet {
	out := make(UIDSet, 0, len(s))
	for _, r := range s {
		if r.Start > r.Stop {
			r.Start, r.Stop = r.Stop, r.Start
		}
		if r.Start == 0 {
			if r.Stop == 0 {
				continue
			}
			r.Start = 1
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b UIDRange) int {
		if a.Start != b.Start {
			if a.Start < b.Start {
				return -1
			}
			return 1
		}
		return 0
	})
	merged := out[:0]
	for _, r := range out {
		if n := len(merged); n > 0 && (merged[n-1].Stop == math.MaxUint32 || r.Start <= merged[n-1].Stop+1) {
			merged[n-1].Stop = max(merged[n-1].Stop, r.Stop)
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

// Contains reports whether uid is in s.
func (s UIDSet) Contains(uid uint32) bool {
	for _, r := range s {
		lo, hi := min(r.Start, r.Stop), max(r.Start, r.Stop)
		if uid >= lo && uid <= hi {
			return true
		}
	}
	return false
}

// Count returns how many UIDs s holds after normalisation.
func (s UIDSet) Count() uint64 {
	var n uint64
	for _, r := range s.Normalize() {
		n += uint64(r.Stop-r.Start) + 1
	}
	return n
}

// Expand returns the UIDs of s in ascending order. Use it only on sets known
// to be small (for example those returned by a store).
func (s UIDSet) Expand() []uint32 {
	var out []uint32
	for _, r := range s.Normalize() {
		for u := uint64(r.Start); u <= uint64(r.Stop); u++ {
			out = append(out, uint32(u))
		}
	}
	return out
}

// String formats s in IMAP sequence-set syntax, with "*" for an unbounded
// Stop, or "" for the empty set.
func (s UIDSet) String() string {
	var b strings.Builder
	for i, r := range s.Normalize() {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(uint64(r.Start), 10))
		if r.Stop != r.Start {
			b.WriteByte(':')
			if r.Stop == math.MaxUint32 {
				b.WriteByte('*')
			} else {
				b.WriteString(strconv.FormatUint(uint64(r.Stop), 10))
			}
		}
	}
	return b.String()
}
