package imapc

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Violation is a kind of protocol error the Checker finds: a response that
// contradicts what the session was told before.
type Violation int

// The violations a Checker counts.
const (
	// FlagUnannounced: a FETCH FLAGS list names a flag (other than
	// \Recent) that no FLAGS response of the selected mailbox listed
	// (RFC 9051 7.3.5, RFC 3501 7.2.6: a new keyword is announced first).
	FlagUnannounced Violation = iota
	// FlagTwice: a FETCH FLAGS list names a flag twice.
	FlagTwice
	// SeqOutOfRange: FETCH or EXPUNGE names a message number outside
	// 1..the session's message count, or a SEARCH result does.
	SeqOutOfRange
	// ExistsShrank: EXISTS announced fewer messages than the session
	// knows without EXPUNGE responses in between (RFC 9051 7.4.1).
	ExistsShrank
	// ExpungeDuringCommand: EXPUNGE arrived while a FETCH, STORE or
	// SEARCH (not their UID forms) was running (RFC 9051 7.5.1).
	ExpungeDuringCommand
	// UIDOrder: a FETCH reported a UID out of ascending order, another
	// UID for a message whose UID it knew, or a UID expunged before.
	UIDOrder
	// TagOrder: a tagged completion for a tag that is not the oldest
	// outstanding one, or for no tag sent.
	TagOrder
	numViolations
)

var violationNames = [numViolations]string{
	"flag-unannounced", "flag-twice", "seq-out-of-range", "exists-shrank",
	"expunge-during-command", "uid-order", "tag-order",
}

// String returns the violation's name as reported.
func (v Violation) String() string {
	if v < 0 || v >= numViolations {
		return "Violation(" + strconv.Itoa(int(v)) + ")"
	}
	return violationNames[v]
}

// Violations lists every kind of violation in report order.
func Violations() []Violation {
	out := make([]Violation, numViolations)
	for i := range out {
		out[i] = Violation(i)
	}
	return out
}

// maxExamples bounds the examples kept per violation kind.
const maxExamples = 3

// Tally counts violations of many connections; it is safe for concurrent
// use.
type Tally struct {
	counts   [numViolations]atomic.Uint64
	mu       sync.Mutex
	examples [numViolations][]string
}

// Count returns how many violations of kind v were found.
func (t *Tally) Count(v Violation) uint64 { return t.counts[v].Load() }

// Total returns the number of violations of every kind.
func (t *Tally) Total() uint64 {
	var n uint64
	for i := range t.counts {
		n += t.counts[i].Load()
	}
	return n
}

// Examples returns the first few violations of kind v, described.
func (t *Tally) Examples(v Violation) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.examples[v])
}

func (t *Tally) add(v Violation, text string) {
	t.counts[v].Add(1)
	t.mu.Lock()
	if len(t.examples[v]) < maxExamples {
		t.examples[v] = append(t.examples[v], text)
	}
	t.mu.Unlock()
}

// Checker validates every response of one connection against what the
// session was told before: flags announced by FLAGS before a FETCH uses
// them, message numbers within the count that EXISTS and EXPUNGE
// responses imply, EXISTS never going down, no EXPUNGE during FETCH, STORE
// or SEARCH, UIDs ascending with message numbers and never reused, and
// tagged completions in the order the commands were sent. It counts what it
// finds in a Tally and lets the session go on. Conn feeds it (see
// Conn.SetChecker); it is safe for concurrent use, so that one goroutine
// may write commands while another reads responses.
type Checker struct {
	mu    sync.Mutex
	tally *Tally
	// outstanding holds the tags sent and not completed, oldest first,
	// with their commands.
	outstanding []sentCommand
	selected    bool
	// announced holds the upper-case flags of the last FLAGS response;
	// nil until one came.
	announced map[string]bool
	// uids holds the UID of each message number, 0 while unknown.
	uids     []uint32
	expunged map[uint32]bool
}

type sentCommand struct {
	tag, verb string
	// noExpunge is set for FETCH, STORE and SEARCH; search for SEARCH
	// with message numbers.
	noExpunge, search bool
}

// NewChecker returns a checker that counts into tally.
func NewChecker(tally *Tally) *Checker {
	return &Checker{tally: tally, expunged: map[uint32]bool{}}
}

func (k *Checker) violate(v Violation, format string, args ...any) {
	k.tally.add(v, fmt.Sprintf(format, args...))
}

// Sent records a command sent with tag; SELECT and EXAMINE start a new
// view of the mailbox.
func (k *Checker) Sent(tag, cmd string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	verb, rest, _ := strings.Cut(cmd, " ")
	verb = strings.ToUpper(verb)
	if verb == "UID" {
		sub, _, _ := strings.Cut(rest, " ")
		verb = "UID " + strings.ToUpper(sub)
	}
	switch verb {
	case "SELECT", "EXAMINE":
		k.selected, k.announced, k.uids = true, nil, nil
		clear(k.expunged)
	case "CLOSE", "UNSELECT", "LOGOUT":
		k.selected = false
	}
	noExpunge := verb == "FETCH" || verb == "STORE" || verb == "SEARCH"
	k.outstanding = append(k.outstanding, sentCommand{tag: tag, verb: verb, noExpunge: noExpunge, search: verb == "SEARCH"})
}

// running returns the oldest outstanding command, if any.
func (k *Checker) running() (sentCommand, bool) {
	if len(k.outstanding) == 0 {
		return sentCommand{}, false
	}
	return k.outstanding[0], true
}

// Received checks one response and applies it to the session's view.
func (k *Checker) Received(r *Response) {
	k.mu.Lock()
	defer k.mu.Unlock()
	line := r.Line
	if r.Continuation() {
		return
	}
	if !r.Untagged() {
		k.completed(line)
		return
	}
	rest := line[2:]
	upper := strings.ToUpper(rest)
	switch {
	case strings.HasPrefix(upper, "FLAGS ("):
		k.announced = map[string]bool{}
		for _, f := range strings.Fields(strings.Trim(rest[len("FLAGS "):], "()")) {
			k.announced[strings.ToUpper(f)] = true
		}
		return
	case strings.HasPrefix(upper, "SEARCH"):
		if cmd, ok := k.running(); ok && cmd.search {
			for _, f := range strings.Fields(rest[len("SEARCH"):]) {
				if n, err := strconv.ParseUint(f, 10, 32); err == nil && (n == 0 || n > uint64(len(k.uids))) {
					k.violate(SeqOutOfRange, "%q: message %d of %d", line, n, len(k.uids))
					break
				}
			}
		}
		return
	}
	if !k.selected {
		return
	}
	n, kw, ok := r.Number()
	if !ok {
		return
	}
	switch kw {
	case "EXISTS":
		if n < uint32(len(k.uids)) {
			k.violate(ExistsShrank, "%q after %d messages", line, len(k.uids))
			k.uids = k.uids[:n]
			return
		}
		for uint32(len(k.uids)) < n {
			k.uids = append(k.uids, 0)
		}
	case "EXPUNGE":
		if cmd, ok := k.running(); ok && cmd.noExpunge {
			k.violate(ExpungeDuringCommand, "%q during %s", line, cmd.verb)
		}
		if n == 0 || n > uint32(len(k.uids)) {
			k.violate(SeqOutOfRange, "%q: the session knows %d messages", line, len(k.uids))
			return
		}
		if uid := k.uids[n-1]; uid != 0 {
			k.expunged[uid] = true
		}
		k.uids = slices.Delete(k.uids, int(n-1), int(n))
	case "FETCH":
		k.fetch(line, n)
	}
}

// fetch checks "* n FETCH (...)".
func (k *Checker) fetch(line string, n uint32) {
	if n == 0 || n > uint32(len(k.uids)) {
		k.violate(SeqOutOfRange, "%q: the session knows %d messages", line, len(k.uids))
		return
	}
	_, items, _ := strings.Cut(line, "(")
	uid, hasUID, flags, hasFlags := fetchUIDFlags(items)
	if hasUID {
		k.checkUID(line, n, uid)
		k.uids[n-1] = uid
	}
	if !hasFlags {
		return
	}
	seen := make(map[string]bool, len(flags))
	for _, f := range flags {
		u := strings.ToUpper(f)
		if seen[u] {
			k.violate(FlagTwice, "%q lists %s twice", line, f)
		}
		seen[u] = true
		if u != `\RECENT` && !k.announced[u] {
			k.violate(FlagUnannounced, "%q uses %s, which no FLAGS response announced", line, f)
		}
	}
}

// checkUID checks the UID a FETCH reports for message n.
func (k *Checker) checkUID(line string, n, uid uint32) {
	if known := k.uids[n-1]; known != 0 && known != uid {
		k.violate(UIDOrder, "%q: message %d had UID %d", line, n, known)
		return
	}
	if k.expunged[uid] {
		k.violate(UIDOrder, "%q: UID %d was expunged before", line, uid)
		return
	}
	for i := int(n) - 2; i >= 0; i-- {
		if u := k.uids[i]; u != 0 {
			if u >= uid {
				k.violate(UIDOrder, "%q: message %d has UID %d, not below %d", line, i+1, u, uid)
				return
			}
			break
		}
	}
	for i := int(n); i < len(k.uids); i++ {
		if u := k.uids[i]; u != 0 {
			if u <= uid {
				k.violate(UIDOrder, "%q: message %d has UID %d, not above %d", line, i+1, u, uid)
			}
			return
		}
	}
}

// completed checks a tagged completion against the outstanding tags.
func (k *Checker) completed(line string) {
	tag, _, _ := strings.Cut(line, " ")
	i := slices.IndexFunc(k.outstanding, func(c sentCommand) bool { return c.tag == tag })
	switch {
	case i < 0:
		k.violate(TagOrder, "%q: no command with tag %s is outstanding", line, tag)
		return
	case i > 0:
		k.violate(TagOrder, "%q completes %s before %s", line, tag, k.outstanding[0].tag)
	}
	k.outstanding = slices.Delete(k.outstanding, 0, i+1)
}

// fetchUIDFlags reads UID and FLAGS from the data items of a FETCH
// response (literals elided).
func fetchUIDFlags(items string) (uid uint32, hasUID bool, flags []string, hasFlags bool) {
	s := strings.TrimSuffix(items, ")")
	for s != "" {
		var name, value string
		name, s = nextValue(strings.TrimLeft(s, " "))
		value, s = nextValue(s)
		switch strings.ToUpper(name) {
		case "UID":
			if v, err := strconv.ParseUint(value, 10, 32); err == nil {
				uid, hasUID = uint32(v), true
			}
		case "FLAGS":
			flags, hasFlags = strings.Fields(strings.Trim(value, "()")), true
		}
	}
	return uid, hasUID, flags, hasFlags
}

// nextValue splits one value (an atom, a quoted string, a literal
// announcement or a parenthesized or bracketed list) off s.
func nextValue(s string) (value, rest string) {
	depth, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '(' || c == '[':
			depth++
		case c == ')' || c == ']':
			depth--
		case c == ' ' && depth == 0:
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}
