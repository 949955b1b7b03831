package probe

import (
	"fmt"
	"strings"

	"github.com/imapfsm/imapfsm/gen"
)

// classify compares what the server answered with what each mode of the
// spec answers.
func (sc *scenario) classify(ob *observed) Result {
	var fails [2]string
	for mode := range fails {
		for _, e := range sc.p.Expect[mode] {
			if why := ob.check(e); why != "" {
				fails[mode] = fmt.Sprintf("%s: %s", e.Text, why)
				break
			}
		}
	}
	seen := ob.summary()
	switch {
	case sc.p.SameInBothModes():
		if fails[0] == "" {
			return sc.result(Both, seen)
		}
		return sc.result(Other, fmt.Sprintf("%s (expected %s)", seen, fails[0]))
	case fails[0] == "" && fails[1] != "":
		return sc.result(Lenient, seen)
	case fails[1] == "" && fails[0] != "":
		return sc.result(Strict, seen)
	case fails[0] == "" && fails[1] == "":
		return sc.result(Both, seen)
	}
	return sc.result(Other, fmt.Sprintf("%s (lenient expects %s; strict expects %s)", seen, fails[0], fails[1]))
}

// check returns why the observation does not meet e, or "".
func (ob *observed) check(e gen.Expectation) string {
	switch e.Kind {
	case gen.ExpectHeld:
		if ob.held == nil {
			return "the IDLE tag was not answered"
		}
		if ob.held.Status != e.Status {
			return "the IDLE tag got " + ob.held.Status
		}
	case gen.ExpectLine:
		cs := ob.completions[e.Line-1]
		if len(cs) == 0 {
			return fmt.Sprintf("line %d was not answered", e.Line)
		}
		if cs[0].Status != e.Status {
			return fmt.Sprintf("line %d got %s", e.Line, cs[0].Status)
		}
		if e.Code != "" && cs[0].Code != e.Code {
			return fmt.Sprintf("line %d has no [%s]", e.Line, e.Code)
		}
	case gen.ExpectLineNone:
		if len(ob.completions[e.Line-1]) > 0 {
			return fmt.Sprintf("line %d got %s", e.Line, ob.completions[e.Line-1][0].Status)
		}
	case gen.ExpectUntagged:
		for _, r := range ob.answers {
			if r.Tag == "*" && r.Status == e.Status {
				return ""
			}
		}
		return "no untagged " + e.Status
	case gen.ExpectNoUntagged:
		for _, r := range ob.answers {
			if r.Tag == "*" && r.Kind == e.Word {
				return "got " + r.Line
			}
		}
	case gen.ExpectSilent:
		if len(ob.answers) > 0 {
			return "got " + ob.answers[0].Line
		}
	case gen.ExpectInOrder:
		for i := 1; i < len(ob.order); i++ {
			if ob.order[i] < ob.order[i-1] {
				return fmt.Sprintf("line %d was answered before line %d", ob.order[i]+1, ob.order[i-1]+1)
			}
		}
	case gen.ExpectKeepalive:
		if !ob.keepalive {
			return "no untagged OK while idling"
		}
	case gen.ExpectLsubSpecialUse:
		return ob.lsubSpecialUse()
	}
	return ""
}

// specialUse are the RFC 6154 mailbox attributes.
var specialUse = map[string]bool{`\ALL`: true, `\ARCHIVE`: true, `\DRAFTS`: true, `\FLAGGED`: true, `\JUNK`: true, `\SENT`: true, `\TRASH`: true}

// lsubSpecialUse checks that every subscribed mailbox that LIST shows
// with a special-use attribute has that attribute in LSUB too.
func (ob *observed) lsubSpecialUse() string {
	list := map[string][]string{}
	lsub := map[string]map[string]bool{}
	for _, r := range ob.answers {
		if r.Tag != "*" || (r.Kind != "LIST" && r.Kind != "LSUB") {
			continue
		}
		attrs, name := mailboxAttrs(r.Rest)
		if r.Kind == "LSUB" {
			lsub[name] = map[string]bool{}
			for _, a := range attrs {
				lsub[name][a] = true
			}
			continue
		}
		subscribed := false
		var uses []string
		for _, a := range attrs {
			subscribed = subscribed || a == `\SUBSCRIBED`
			if specialUse[a] {
				uses = append(uses, a)
			}
		}
		if subscribed && len(uses) > 0 {
			list[name] = uses
		}
	}
	for name, uses := range list {
		for _, u := range uses {
			if !lsub[name][u] {
				return fmt.Sprintf("LSUB shows %s without %s", name, u)
			}
		}
	}
	return ""
}

// mailboxAttrs splits a LIST or LSUB response's text into its upper-case
// attributes and its mailbox name (as sent).
func mailboxAttrs(rest string) ([]string, string) {
	open, closing := strings.IndexByte(rest, '('), strings.IndexByte(rest, ')')
	if open < 0 || closing < open {
		return nil, ""
	}
	attrs := strings.Fields(strings.ToUpper(rest[open+1 : closing]))
	tail := strings.TrimSpace(rest[closing+1:])
	// Skip the delimiter: a quoted character or NIL.
	if strings.HasPrefix(tail, `"\`) && len(tail) >= 4 {
		tail = tail[4:]
	} else if strings.HasPrefix(tail, `"`) && len(tail) >= 3 {
		tail = tail[3:]
	} else {
		tail = strings.TrimPrefix(tail, "NIL")
	}
	return attrs, strings.Trim(strings.TrimSpace(tail), `"`)
}

// summary describes the answers in the expectations' words, for the
// report's evidence column.
func (ob *observed) summary() string {
	var parts []string
	if ob.held != nil {
		parts = append(parts, "held "+statusCode(*ob.held))
	}
	for i, cs := range ob.completions {
		if len(cs) > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", i+1, statusCode(cs[0])))
		} else if ob.pending[i] {
			parts = append(parts, fmt.Sprintf("%d none", i+1))
		}
	}
	for _, r := range ob.answers {
		if r.Tag == "*" && (r.Status == "BAD" || r.Status == "NO") {
			parts = append(parts, "untagged "+statusCode(r))
		}
	}
	if ob.keepalive {
		parts = append(parts, "keepalive")
	}
	if len(ob.answers) == 0 {
		parts = append(parts, "silent")
	}
	return strings.Join(parts, ", ")
}

func statusCode(r response) string {
	if r.Code != "" {
		return r.Status + " [" + r.Code + "]"
	}
	return r.Status
}
