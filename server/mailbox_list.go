package server

import (
	"slices"
	"strings"

	"github.com/imapfsm/imapfsm/server/store"
)

// listEntry is one candidate name of a LIST or LSUB.
type listEntry struct {
	name string
	// info describes the mailbox; nil if the name does not exist (a
	// subscription outliving its mailbox, or an implied superior).
	info       *store.MailboxInfo
	subscribed bool
	// hasChildren reports an existing mailbox below the name.
	hasChildren bool
	// descendant reports a descendant that satisfies the selection
	// criteria but does not match any pattern (RFC 5258 3, RECURSIVEMATCH;
	// RFC 9051 6.3.9 for implied superiors with "%").
	descendant bool
}

// listEntries gathers the names a LIST or LSUB returns for the expanded
// patterns, sorted by name. Candidates are the existing mailboxes, with
// withSubs the subscribed names (existing or not), and every superior of
// these. A candidate is returned when it matches a pattern and either
// satisfies selected or, with implied set, has a descendant that satisfies
// selected but matches no pattern (RFC 5258 3 RECURSIVEMATCH, and the "%"
// rule of RFC 9051 6.3.9 / RFC 3501 6.3.9).
func (c *conn) listEntries(patterns []string, withSubs bool, selected func(*listEntry) bool, implied bool) ([]*listEntry, error) {
	boxes, err := c.user.ListMailboxes(c.ctx)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]*listEntry, len(boxes))
	add := func(name string) *listEntry {
		e := byName[name]
		if e == nil {
			e = &listEntry{name: name}
			byName[name] = e
		}
		return e
	}
	for i := range boxes {
		e := add(boxes[i].Name)
		e.info = &boxes[i]
		e.subscribed = boxes[i].Subscribed
	}
	if withSubs {
		subs, err := c.user.Subscriptions(c.ctx)
		if err != nil {
			return nil, err
		}
		for _, s := range subs {
			add(s).subscribed = true
		}
	}
	// Superiors of every candidate, and the existing-children flag.
	for _, name := range sortedKeys(byName) {
		exists := byName[name].info != nil
		for _, sup := range store.Superiors(name) {
			e := add(sup)
			if exists {
				e.hasChildren = true
			}
		}
	}
	matches := func(name string) bool {
		for _, p := range patterns {
			if matchPattern(p, name) {
				return true
			}
		}
		return false
	}
	names := sortedKeys(byName)
	matched := make(map[string]bool, len(names))
	for _, name := range names {
		matched[name] = matches(name)
	}
	if implied {
		for _, name := range names {
			if e := byName[name]; !matched[name] && selected(e) {
				for _, sup := range store.Superiors(name) {
					byName[sup].descendant = true
				}
			}
		}
	}
	var out []*listEntry
	for _, name := range names {
		e := byName[name]
		if matched[name] && (selected(e) || (implied && e.descendant)) {
			out = append(out, e)
		}
	}
	return out, nil
}

// sortedKeys returns the keys of m in byte order.
func sortedKeys(m map[string]*listEntry) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// listAttributes returns the name attributes of a LIST response
// (RFC 9051 7.3.1, RFC 6154 2): \NonExistent (extended LIST) or \Noselect
// for a name that does not exist, \Noselect for a placeholder,
// \HasChildren / \HasNoChildren (RFC 3348, always returned since CHILDREN
// is advertised) and, with specialUse, the special-use attribute.
func listAttributes(le *listEntry, extended, specialUse bool) []string {
	var attrs []string
	if le.info == nil {
		if extended {
			attrs = append(attrs, `\NonExistent`)
		} else {
			attrs = append(attrs, `\Noselect`)
		}
		if le.hasChildren {
			attrs = append(attrs, `\HasChildren`)
		}
		return attrs
	}
	attr := le.info.Attr
	if !specialUse {
		attr &^= store.SpecialUseMask
	}
	return append(attrs, attr.Strings()...)
}

// matchPattern reports whether name matches a LIST pattern (RFC 9051
// 6.3.9): "*" matches zero or more characters, "%" matches zero or more
// characters other than the hierarchy separator, and every other
// character matches itself. Matching works on UTF-8 bytes, which is exact
// because the literal parts of the pattern are whole characters. It runs
// in O(len(pattern) * len(name)) time whatever the wildcards, so a hostile
// pattern cannot make it backtrack exponentially.
func matchPattern(pattern, name string) bool {
	p := compactWildcards(pattern)
	literals := 0
	for i := 0; i < len(p); i++ {
		if p[i] != '*' && p[i] != '%' {
			literals++
		}
	}
	if literals > len(name) {
		return false
	}
	// cur[j] reports whether the pattern read so far matches name[:j].
	cur := make([]bool, len(name)+1)
	next := make([]bool, len(name)+1)
	cur[0] = true
	for i := 0; i < len(p); i++ {
		pc := p[i]
		for j := 0; j <= len(name); j++ {
			switch pc {
			case '*':
				next[j] = cur[j] || (j > 0 && next[j-1])
			case '%':
				next[j] = cur[j] || (j > 0 && next[j-1] && name[j-1] != store.Separator)
			default:
				next[j] = j > 0 && cur[j-1] && name[j-1] == pc
			}
		}
		cur, next = next, cur
	}
	return cur[len(name)]
}

// compactWildcards replaces each run of wildcards by the one wildcard it
// is equivalent to: "*" if the run contains one, otherwise "%".
func compactWildcards(p string) string {
	if !strings.Contains(p, "**") && !strings.Contains(p, "*%") && !strings.Contains(p, "%*") && !strings.Contains(p, "%%") {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); {
		if p[i] != '*' && p[i] != '%' {
			b.WriteByte(p[i])
			i++
			continue
		}
		star := false
		for ; i < len(p) && (p[i] == '*' || p[i] == '%'); i++ {
			star = star || p[i] == '*'
		}
		if star {
			b.WriteByte('*')
		} else {
			b.WriteByte('%')
		}
	}
	return b.String()
}
