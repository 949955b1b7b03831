package imapwire

import (
	"iter"
	"slices"
	"strconv"
	"strings"
)

const (
	maxUint32   = 1<<32 - 1
	maxNumber64 = 1<<63 - 1
)

// SeqRange is an inclusive range of message sequence numbers or UIDs. The
// value 0 stands for "*", the largest number in use (RFC 9051 section 9,
// seq-number). A single number n is the range n:n. Ranges built by
// ParseSeqSet have Start <= Stop, where "*" counts as the largest value.
type SeqRange struct {
	// Start is the first number of the range (0 for "*").
	Start uint32
	// Stop is the last number of the range (0 for "*").
	Stop uint32
}

// star is the SeqRange value of "*".
const star = 0

// resolve replaces "*" by max and orders the bounds (RFC 9051 section 9:
// "2:4" and "4:2" are equivalent, and "*" in a range stands for max).
func (r SeqRange) resolve(max uint32) (lo, hi uint32) {
	lo, hi = r.Start, r.Stop
	if lo == star {
		lo = max
	}
	if hi == star {
		hi = max
	}
	if lo > hi {
		lo, hi = hi, lo
	}
	return lo, hi
}

// SeqSet is a parsed sequence-set (RFC 9051 section 9), or the saved search
// result "$" (RFC 5182). Its size is proportional to the text, never to the
// number of messages it denotes.
type SeqSet struct {
	// Ranges lists the ranges in the order the client sent them.
	Ranges []SeqRange
	// Saved is true for "$", the result of the last SEARCH ... SAVE
	// (RFC 5182 section 2.1); Ranges is then empty.
	Saved bool
}

// ParseSeqSet parses a sequence-set such as "1:5,7,9:*", "*" or "$".
// Numbers must be non-zero and at most 4294967295 (nz-number); errors are
// syntax errors with a reason suitable for a BAD response.
func ParseSeqSet(s string) (SeqSet, error) {
	if s == "" {
		return SeqSet{}, syntaxErr("Empty sequence set")
	}
	if s == "$" {
		return SeqSet{Saved: true}, nil
	}
	set := SeqSet{Ranges: make([]SeqRange, 0, strings.Count(s, ",")+1)}
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, ":")
		a, err := parseSeqNumber(lo)
		if err != nil {
			return SeqSet{}, err
		}
		b := a
		if isRange {
			if b, err = parseSeqNumber(hi); err != nil {
				return SeqSet{}, err
			}
		}
		// Normalise reversed ranges; "*" is the largest value.
		if a == star || (b != star && a > b) {
			a, b = b, a
		}
		set.Ranges = append(set.Ranges, SeqRange{Start: a, Stop: b})
	}
	return set, nil
}

// parseSeqNumber parses seq-number = nz-number / "*".
func parseSeqNumber(s string) (uint32, error) {
	switch s {
	case "":
		return 0, syntaxErr("Empty element in sequence set")
	case "*":
		return star, nil
	case "$":
		return 0, syntaxErr("'$' must be the whole sequence set")
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, syntaxErrf("Invalid character %q in sequence set", c)
		}
		v = v*10 + uint64(c-'0')
		if v > maxUint32 {
			return 0, syntaxErr("Sequence number out of range (max 4294967295)")
		}
	}
	if v == 0 {
		return 0, syntaxErr("Sequence number must be non-zero")
	}
	return uint32(v), nil
}

// String formats the set in IMAP syntax.
func (s SeqSet) String() string {
	if s.Saved {
		return "$"
	}
	var b []byte
	for i, r := range s.Ranges {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendSeqNumber(b, r.Start)
		if r.Start != r.Stop {
			b = append(b, ':')
			b = appendSeqNumber(b, r.Stop)
		}
	}
	return string(b)
}

// appendSeqNumber formats one seq-number.
func appendSeqNumber(b []byte, n uint32) []byte {
	if n == star {
		return append(b, '*')
	}
	return strconv.AppendUint(b, uint64(n), 10)
}

// Contains reports whether n is in the set when the largest number in use is
// max (the message count or the highest UID). It is false for a "$" set,
// which only the session can resolve.
func (s SeqSet) Contains(n, max uint32) bool {
	if n == 0 {
		return false
	}
	for _, r := range s.Ranges {
		if lo, hi := r.resolve(max); lo <= n && n <= hi {
			return true
		}
	}
	return false
}

// Resolve returns the set's ranges with "*" replaced by max, clipped to
// 1..max, sorted and merged so that no number appears twice. It costs time
// proportional to the number of ranges, not to the numbers they contain.
// For UIDs the clipping is the RFC semantics (UIDs that do not exist are
// ignored); for message sequence numbers, where a number above max is an
// error, check Exceeds first. A "$" set resolves to nothing.
func (s SeqSet) Resolve(max uint32) []SeqRange {
	if max == 0 || len(s.Ranges) == 0 {
		return nil
	}
	out := make([]SeqRange, 0, len(s.Ranges))
	for _, r := range s.Ranges {
		lo, hi := r.resolve(max)
		hi = min(hi, max)
		if lo > hi {
			continue
		}
		out = append(out, SeqRange{Start: lo, Stop: hi})
	}
	slices.SortFunc(out, func(a, b SeqRange) int {
		switch {
		case a.Start < b.Start:
			return -1
		case a.Start > b.Start:
			return 1
		}
		return 0
	})
	merged := out[:0]
	for _, r := range out {
		if n := len(merged); n > 0 && uint64(r.Start) <= uint64(merged[n-1].Stop)+1 {
			merged[n-1].Stop = max32(merged[n-1].Stop, r.Stop)
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

// max32 returns the larger of a and b.
func max32(a, b uint32) uint32 {
	if a > b {
		return a
	}
	return b
}

// All iterates over the numbers in the set in ascending order, each once,
// with "*" meaning max and numbers above max left out. A set like
// "1:4294967295" is iterated lazily; nothing proportional to its size is
// allocated.
func (s SeqSet) All(max uint32) iter.Seq[uint32] {
	ranges := s.Resolve(max)
	return func(yield func(uint32) bool) {
		for _, r := range ranges {
			for n := r.Start; ; n++ {
				if !yield(n) {
					return
				}
				if n == r.Stop {
					break
				}
			}
		}
	}
}

// Count returns how many distinct numbers of 1..max the set contains.
func (s SeqSet) Count(max uint32) uint64 {
	var n uint64
	for _, r := range s.Resolve(max) {
		n += uint64(r.Stop-r.Start) + 1
	}
	return n
}

// Exceeds reports whether the set names an explicit number greater than max
// ("*" never exceeds). Message sequence numbers beyond the mailbox size are
// invalid (RFC 9051 section 9, seq-number), unlike UIDs.
func (s SeqSet) Exceeds(max uint32) bool {
	for _, r := range s.Ranges {
		if r.Start > max || r.Stop > max {
			return true
		}
	}
	return false
}

// Dynamic reports whether the set uses "*" (its meaning changes as messages
// arrive).
func (s SeqSet) Dynamic() bool {
	for _, r := range s.Ranges {
		if r.Start == star || r.Stop == star {
			return true
		}
	}
	return false
}
