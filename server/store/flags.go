package store

import (
	"slices"
	"strings"
)

// SystemFlag is a bit set of the IMAP system flags a store persists.
// \Recent is not among them: IMAP4rev2 removed it.
type SystemFlag uint8

// System flags.
const (
	FlagSeen SystemFlag = 1 << iota
	FlagAnswered
	FlagFlagged
	FlagDeleted
	FlagDraft
)

var systemFlagNames = []struct {
	f    SystemFlag
	name string
}{
	{FlagSeen, `\Seen`},
	{FlagAnswered, `\Answered`},
	{FlagFlagged, `\Flagged`},
	{FlagDeleted, `\Deleted`},
	{FlagDraft, `\Draft`},
}

// MaxKeywordLen bounds the byte length of a keyword.
const MaxKeywordLen = 128

// FlagSet is the normalised flag state of a message: system flags as bits,
// keywords deduplicated case-insensitively (the first spelling wins) and
// sorted case-insensitively.
type FlagSet struct {
	System   SystemFlag
	Keywords []string
}

// ParseFlags validates and normalises IMAP flags. System flags are matched
// case-insensitively and stored in canonical spelling; keywords must be IMAP
// atoms (RFC 9051 flag-keyword) of at most [MaxKeywordLen] bytes; \Recent,
// \* and unknown backslash flags fail with [ErrInvalidFlag].
func ParseFlags(flags []string) (FlagSet, error) {
	var fs FlagSet
	for _, f := range flags {
		if strings.HasPrefix(f, `\`) {
			bit := systemFlag(f)
			if bit == 0 {
				return FlagSet{}, ErrInvalidFlag
			}
			fs.System |= bit
			continue
		}
		if !validKeyword(f) {
			return FlagSet{}, ErrInvalidFlag
		}
		fs.Keywords = append(fs.Keywords, f)
	}
	fs.Keywords = normaliseKeywords(fs.Keywords)
	return fs, nil
}

func systemFlag(f string) SystemFlag {
	for _, n := range systemFlagNames {
		if strings.EqualFold(n.name, f) {
			return n.f
		}
	}
	return 0
}

func validKeyword(k string) bool {
	if k == "" || len(k) > MaxKeywordLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			return false
		}
	}
	return true
}

func keywordLess(a, b string) int {
	return strings.Compare(strings.ToLower(a), strings.ToLower(b))
}

func normaliseKeywords(kw []string) []string {
	if len(kw) == 0 {
		return nil
	}
	slices.SortStableFunc(kw, keywordLess)
	return slices.CompactFunc(kw, strings.EqualFold)
}

// Has reports whether all bits of f are set.
func (s FlagSet) Has(f SystemFlag) bool { return s.System&f == f }

// HasKeyword reports whether keyword k is set (case-insensitive).
func (s FlagSet) HasKeyword(k string) bool {
	return slices.ContainsFunc(s.Keywords, func(x string) bool { return strings.EqualFold(x, k) })
}

// Strings returns the IMAP spelling: system flags first, then keywords.
func (s FlagSet) Strings() []string {
	out := make([]string, 0, 5+len(s.Keywords))
	for _, n := range systemFlagNames {
		if s.System&n.f != 0 {
			out = append(out, n.name)
		}
	}
	return append(out, s.Keywords...)
}

// Equal reports whether s and o hold the same flags.
func (s FlagSet) Equal(o FlagSet) bool {
	return s.System == o.System && slices.EqualFunc(s.Keywords, o.Keywords, strings.EqualFold)
}

// Apply returns the result of a STORE operation op with flags c on s. The
// spelling of a keyword already present is kept.
func (s FlagSet) Apply(op FlagOp, c FlagSet) FlagSet {
	switch op {
	case FlagsSet:
		return FlagSet{System: c.System, Keywords: slices.Clone(c.Keywords)}
	case FlagsAdd:
		kw := slices.Clone(s.Keywords)
		for _, k := range c.Keywords {
			if !s.HasKeyword(k) {
				kw = append(kw, k)
			}
		}
		return FlagSet{System: s.System | c.System, Keywords: normaliseKeywords(kw)}
	case FlagsRemove:
		var kw []string
		for _, k := range s.Keywords {
			if !c.HasKeyword(k) {
				kw = append(kw, k)
			}
		}
		return FlagSet{System: s.System &^ c.System, Keywords: kw}
	}
	return s
}
