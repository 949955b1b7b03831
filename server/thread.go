package server

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// The threading algorithms of THREAD (RFC 5256 4): ORDEREDSUBJECT and
// REFERENCES. They work on threadMsg values and know nothing of sessions.

// threadMsg is one message as the threading algorithms see it.
type threadMsg struct {
	num     uint32    // what the response shows: sequence number or UID
	seq     uint32    // position in the mailbox, the last tie-breaker
	date    time.Time // sent date, or the internal date without one
	subject string    // collated base subject
	isReply bool      // the subject had a reply or forward mark
	id      string    // Message-ID without brackets, "" if none
	refs    []string  // References (or In-Reply-To), oldest first
}

// threadNode is a message, or a dummy standing for a message the
// mailbox does not hold, with its replies.
type threadNode struct {
	msg      *threadMsg // nil for a dummy
	parent   *threadNode
	children []*threadNode
}

// first returns the message that represents a node when sorting and
// grouping: its own, or for a dummy that of its first child.
func (n *threadNode) first() *threadMsg {
	for n != nil {
		if n.msg != nil {
			return n.msg
		}
		if len(n.children) == 0 {
			return nil
		}
		n = n.children[0]
	}
	return nil
}

// earlier orders messages by sent date, then by mailbox position.
func earlier(a, b *threadMsg) int {
	if c := a.date.Compare(b.date); c != 0 {
		return c
	}
	return int(a.seq) - int(b.seq)
}

func compareNodes(a, b *threadNode) int {
	fa, fb := a.first(), b.first()
	switch {
	case fa == nil && fb == nil:
		return 0
	case fa == nil:
		return 1
	case fb == nil:
		return -1
	}
	return earlier(fa, fb)
}

// sortTree sorts every set of siblings by sent date, depth first.
func sortTree(nodes []*threadNode) {
	for _, n := range nodes {
		sortTree(n.children)
	}
	slices.SortStableFunc(nodes, compareNodes)
}

// threadOrderedSubject groups messages by base subject; the earliest
// message of a group is the parent of all the others (RFC 5256 4,
// ORDEREDSUBJECT).
func threadOrderedSubject(msgs []*threadMsg) []*threadNode {
	sorted := slices.Clone(msgs)
	slices.SortStableFunc(sorted, func(a, b *threadMsg) int {
		if c := strings.Compare(a.subject, b.subject); c != 0 {
			return c
		}
		return earlier(a, b)
	})
	var roots []*threadNode
	var cur *threadNode
	for _, m := range sorted {
		n := &threadNode{msg: m}
		if cur != nil && cur.msg.subject == m.subject {
			n.parent = cur
			cur.children = append(cur.children, n)
			continue
		}
		cur = n
		roots = append(roots, n)
	}
	slices.SortStableFunc(roots, compareNodes)
	return roots
}

// threadReferences links messages by Message-ID and References, prunes
// the dummies, and groups the threads by base subject (RFC 5256 4,
// REFERENCES).
func threadReferences(msgs []*threadMsg) []*threadNode {
	byID := map[string]*threadNode{}
	container := func(id string) *threadNode {
		n := byID[id]
		if n == nil {
			n = &threadNode{}
			byID[id] = n
		}
		return n
	}
	unique := 0
	selves := make([]*threadNode, len(msgs))
	for i, m := range msgs {
		// (1.A) A message without a Message-ID, or with one already
		// taken by another message, gets an identifier of its own.
		id := m.id
		if id == "" || (byID[id] != nil && byID[id].msg != nil) {
			unique++
			id = "\x00unique-" + strconv.Itoa(unique)
		}
		self := container(id)
		self.msg = m
		selves[i] = self
		// (1.B) Link the References chain, each to the next, unless one
		// already has a parent or the link would make a loop.
		var prev *threadNode
		for _, ref := range m.refs {
			n := container(ref)
			if prev != nil && n.parent == nil && n != prev && !ancestorOf(n, prev) {
				link(prev, n)
			}
			prev = n
		}
		// (1.C) The message's parent is the last reference, replacing
		// any parent it had, unless that would make a loop.
		if prev != nil && (prev == self || ancestorOf(self, prev)) {
			prev = nil
		}
		if self.parent != nil {
			unlink(self)
		}
		if prev != nil {
			link(prev, self)
		}
	}
	// (2) The root set: containers without a parent, in a stable order.
	var roots []*threadNode
	seen := map[*threadNode]bool{}
	addRoot := func(n *threadNode) {
		for n.parent != nil {
			n = n.parent
		}
		if !seen[n] {
			seen[n] = true
			roots = append(roots, n)
		}
	}
	for _, n := range selves {
		addRoot(n)
	}
	// (3) Prune dummies.
	roots = prune(roots, true)
	// (4) Sort the root set by sent date.
	sortTree(roots)
	// (5) Group the root set by base subject.
	roots = groupBySubject(roots)
	// (6) Sort every set of siblings by sent date.
	sortTree(roots)
	return roots
}

// ancestorOf reports whether a is n or one of n's ancestors.
func ancestorOf(a, n *threadNode) bool {
	for ; n != nil; n = n.parent {
		if n == a {
			return true
		}
	}
	return false
}

func link(parent, child *threadNode) {
	child.parent = parent
	parent.children = append(parent.children, child)
}

func unlink(n *threadNode) {
	p := n.parent
	p.children = slices.DeleteFunc(p.children, func(c *threadNode) bool { return c == n })
	n.parent = nil
}

// prune removes dummies without children and replaces dummies with
// children by those children, except that a dummy at the root level
// with more than one child stays (RFC 5256 4, step 3).
func prune(nodes []*threadNode, root bool) []*threadNode {
	var out []*threadNode
	for _, n := range nodes {
		n.children = prune(n.children, false)
		switch {
		case n.msg == nil && len(n.children) == 0:
			continue
		case n.msg == nil && (!root || len(n.children) == 1):
			for _, c := range n.children {
				c.parent = n.parent
			}
			out = append(out, n.children...)
		default:
			out = append(out, n)
		}
	}
	return out
}

// groupBySubject merges root threads whose base subjects are equal
// (RFC 5256 4, step 5).
func groupBySubject(roots []*threadNode) []*threadNode {
	table := map[string]*threadNode{}
	subjectOf := func(n *threadNode) *threadMsg { return n.first() }
	for _, n := range roots {
		m := subjectOf(n)
		if m == nil || m.subject == "" {
			continue
		}
		old := table[m.subject]
		if old == nil || (n.msg == nil && old.msg != nil) ||
			(old.msg != nil && n.msg != nil && old.msg.isReply && !n.msg.isReply) {
			table[m.subject] = n
		}
	}
	removed := map[*threadNode]bool{}
	for _, n := range roots {
		m := subjectOf(n)
		if m == nil || m.subject == "" {
			continue
		}
		t := table[m.subject]
		if t == nil || t == n || removed[n] {
			continue
		}
		switch {
		case t.msg == nil && n.msg == nil:
			for _, c := range n.children {
				link(t, c)
			}
			n.children = nil
			removed[n] = true
		case t.msg == nil && n.msg != nil:
			link(t, n)
			removed[n] = true
		case t.msg != nil && n.msg == nil:
			// The dummy keeps the subject: the message joins it.
			removed[t] = true
			link(n, t)
			table[m.subject] = n
		case !t.msg.isReply && n.msg.isReply:
			link(t, n)
			removed[n] = true
		case t.msg.isReply && !n.msg.isReply:
			removed[t] = true
			link(n, t)
			table[m.subject] = n
		default:
			// Both replies, or neither: siblings under a new dummy.
			d := &threadNode{}
			removed[t], removed[n] = true, true
			link(d, t)
			link(d, n)
			table[m.subject] = d
			roots = append(roots, d)
		}
	}
	out := roots[:0:0]
	for _, n := range roots {
		if !removed[n] {
			out = append(out, n)
		}
	}
	return out
}

// appendThreads renders threads as RFC 5256's thread-list: a chain of
// single replies is "(1 2 3)", several replies are nested "(1 (2)(3))".
func appendThreads(b []byte, roots []*threadNode) []byte {
	for _, n := range roots {
		b = append(b, '(')
		b = appendMembers(b, n)
		b = append(b, ')')
	}
	return b
}

func appendMembers(b []byte, n *threadNode) []byte {
	for {
		if n.msg != nil {
			b = strconv.AppendUint(b, uint64(n.msg.num), 10)
		}
		switch len(n.children) {
		case 0:
			return b
		case 1:
			if n.msg != nil {
				b = append(b, ' ')
			}
			n = n.children[0]
			continue
		}
		if n.msg != nil {
			b = append(b, ' ')
		}
		return appendThreads(b, n.children)
	}
}
