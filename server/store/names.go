package store

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// DefaultMaxMailboxNameLen is the default limit on the byte length of a
// mailbox name.
const DefaultMaxMailboxNameLen = 1024

// MaxMailboxDepth bounds the number of hierarchy levels of a mailbox name.
const MaxMailboxDepth = 64

// MaxUserNameLen bounds the byte length of an account name.
const MaxUserNameLen = 255

// ValidateUserName checks an account name: non-empty, at most
// [MaxUserNameLen] bytes, valid UTF-8, and free of control characters and
// white space. Names are compared byte for byte; any case folding is the
// caller's policy.
func ValidateUserName(name string) error {
	if name == "" || len(name) > MaxUserNameLen || !utf8.ValidString(name) {
		return ErrInvalidUserName
	}
	for _, r := range name {
		if r <= ' ' || r == 0x7f || r == utf8.RuneError {
			return ErrInvalidUserName
		}
	}
	return nil
}

// NormalizeMailboxName validates a mailbox name and returns its canonical
// form: a first component equal to "INBOX" in any case becomes "INBOX".
//
// A valid name is non-empty valid UTF-8 of at most maxLen bytes (0 means
// [DefaultMaxMailboxNameLen]) with at most [MaxMailboxDepth] levels, has no
// empty component (so no leading, trailing or doubled separator), and
// contains no control characters (NUL, CR, LF, ...) and no LIST wildcards
// ('*', '%'), which would make the name impossible to list unambiguously.
// Components such as ".." or "." are ordinary names: the store never
// derives a file-system path from a mailbox name.
func NormalizeMailboxName(name string, maxLen int) (string, error) {
	if maxLen <= 0 {
		maxLen = DefaultMaxMailboxNameLen
	}
	if name == "" || len(name) > maxLen {
		return "", fmt.Errorf("%w: length %d", ErrInvalidMailboxName, len(name))
	}
	if !utf8.ValidString(name) {
		return "", fmt.Errorf("%w: not UTF-8", ErrInvalidMailboxName)
	}
	depth := 1
	prev := rune(Separator)
	for _, r := range name {
		switch {
		case r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError:
			return "", fmt.Errorf("%w: control character", ErrInvalidMailboxName)
		case r == '*' || r == '%':
			return "", fmt.Errorf("%w: wildcard character", ErrInvalidMailboxName)
		case r == Separator:
			if prev == Separator {
				return "", fmt.Errorf("%w: empty hierarchy level", ErrInvalidMailboxName)
			}
			depth++
		}
		prev = r
	}
	if prev == Separator {
		return "", fmt.Errorf("%w: empty hierarchy level", ErrInvalidMailboxName)
	}
	if depth > MaxMailboxDepth {
		return "", fmt.Errorf("%w: too deep", ErrInvalidMailboxName)
	}
	first, rest, found := strings.Cut(name, string(Separator))
	if first != Inbox && strings.EqualFold(first, Inbox) {
		if found {
			return Inbox + string(Separator) + rest, nil
		}
		return Inbox, nil
	}
	return name, nil
}

// Superiors returns the superior hierarchy names of a valid name, outermost
// first: "a/b/c" yields ["a", "a/b"].
func Superiors(name string) []string {
	var out []string
	for i := 0; i < len(name); i++ {
		if name[i] == Separator {
			out = append(out, name[:i])
		}
	}
	return out
}

// IsInferior reports whether name lies below parent in the hierarchy.
func IsInferior(name, parent string) bool {
	return len(name) > len(parent)+1 && name[len(parent)] == Separator && strings.HasPrefix(name, parent)
}

func equalFold(a, b string) bool { return strings.EqualFold(a, b) }
