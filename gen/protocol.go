package gen

import (
	"regexp"
	"strings"
)

var goIdentRe = regexp.MustCompile(`^[a-z][a-z0-9]*$`)

// declareProtocol reads the spec's protocol block: the vocabulary the rest
// of the spec is checked against. It fills the checker's name lists even
// when the block is broken, so that later checks report what they can.
func (c *checker) declareProtocol() {
	p := &c.m.Protocol
	p.Held = -1
	c.attrs = map[string]int{}
	c.declaredAction = make([]bool, len(actionNames))
	rp := c.raw.Protocol
	at := rp.Pos
	p.Name, p.Doc, p.Package, p.Dir = rp.Name.V, rp.Doc.V, rp.Package.V, rp.Dir.V
	if strings.TrimSpace(p.Name) == "" {
		c.errs.addf(at, "protocol: missing \"name\" (the protocol's name in generated documentation)")
	}
	if rp.Package.Set() && !goIdentRe.MatchString(p.Package) {
		c.errs.addf(rp.Package.Pos, "protocol: package %q is not a lower-case Go package name", p.Package)
	}
	switch i := oneOf(rp.Replies.V, repliesNames); {
	case !rp.Replies.Set():
		c.errs.addf(at, "protocol: missing \"replies\" (one of %s)", strings.Join(repliesNames, ", "))
	case i < 0:
		c.errs.addf(rp.Replies.Pos, "protocol: replies %q is not one of %s", rp.Replies.V, strings.Join(repliesNames, ", "))
	default:
		p.Replies = Replies(i)
	}
	p.Command, p.CommandKind = -1, -1
	for i, e := range rp.Reads {
		c.readsNames = append(c.readsNames, e.Key.V)
		p.Reads = append(p.Reads, ReadsTerm{Term: Term{Name: e.Key.V, Doc: e.Val.Doc.V}, Commands: e.Val.Commands.V, Origin: e.Val.Origin.V})
		if e.Key.V == "command" {
			p.Command = i
			p.Reads[i].Commands = true
		}
	}
	for i, e := range rp.Kinds {
		c.kindNames = append(c.kindNames, e.Key.V)
		p.Kinds = append(p.Kinds, Term{Name: e.Key.V, Doc: e.Val.V})
		if e.Key.V == "command" {
			p.CommandKind = i
		}
	}
	if p.Command < 0 {
		c.errs.addf(at, "protocol: reads must declare \"command\", the way a state reads the next command")
	}
	if p.CommandKind < 0 {
		c.errs.addf(at, "protocol: kinds must declare \"command\", the kind of command lines")
	}
	if p.Command < 0 {
		p.Command = 0
		if len(p.Reads) == 0 {
			p.Reads = []ReadsTerm{{Term: Term{Name: "command"}, Commands: true}}
			c.readsNames = []string{"command"}
		}
	}
	if p.CommandKind < 0 {
		p.CommandKind = 0
		if len(p.Kinds) == 0 {
			p.Kinds = []Term{{Name: "command"}}
			c.kindNames = []string{"command"}
		}
	}
	for _, e := range rp.Attributes {
		if oneOf(e.Key.V, []string{"doc", "ref", "reads", "origin", "terminal"}) >= 0 {
			c.errs.addf(e.Key.Pos, "protocol: attribute %q has the name of a state key", e.Key.V)
			continue
		}
		a := Attribute{Term: Term{Name: e.Key.V, Doc: e.Val.Doc.V}, MatchOrigin: e.Val.MatchOrigin.V}
		for _, v := range e.Val.Values {
			if !goIdentRe.MatchString(strings.ReplaceAll(v.Key.V, "-", "")) {
				c.errs.addf(v.Key.Pos, "protocol: attribute %q: value %q must be a lower-case name", e.Key.V, v.Key.V)
			}
			a.Values = append(a.Values, Term{Name: v.Key.V, Doc: v.Val.V})
		}
		if len(a.Values) > 0 && e.Val.Means.Set() {
			c.errs.addf(e.Val.Means.Pos, "protocol: attribute %q: an attribute with values cannot mean held", e.Key.V)
		}
		switch {
		case !e.Val.Means.Set():
		case e.Val.Means.V != "held":
			c.errs.addf(e.Val.Means.Pos, "protocol: attribute %q: means %q is not one the verifier knows (held)", e.Key.V, e.Val.Means.V)
		case p.Held >= 0:
			c.errs.addf(e.Val.Means.Pos, "protocol: attribute %q: only one attribute can mean held", e.Key.V)
		default:
			a.Held = true
			p.Held = len(p.Attributes)
		}
		c.attrs[e.Key.V] = len(p.Attributes) + 1
		c.attrNames = append(c.attrNames, e.Key.V)
		p.Attributes = append(p.Attributes, a)
	}
	for _, e := range rp.Actions {
		act := oneOf(e.Key.V, actionNames)
		if act < 0 {
			c.errs.addf(e.Key.Pos, "protocol: action %q is not one the verifier knows (%s)", e.Key.V, strings.Join(actionNames, ", "))
			continue
		}
		c.declaredAction[act] = true
		c.actionList = append(c.actionList, e.Key.V)
		p.Actions = append(p.Actions, ActionTerm{Action: Action(act), Doc: e.Val.V})
	}
	for _, w := range rp.Initialisms {
		if w.V == "" || w.V != strings.ToUpper(w.V) || strings.ContainsAny(w.V, " -_.") {
			c.errs.addf(w.Pos, "protocol: initialism %q must be one upper-case word", w.V)
			continue
		}
		p.Initialisms = append(p.Initialisms, w.V)
	}
	if len(p.Actions) == 0 {
		c.errs.addf(at, "protocol: missing \"actions\" (the actions the rules use, from %s)", strings.Join(actionNames, ", "))
	}
}

// resolveDefaultOutcomes resolves default-outcomes, the outcomes of an input
// that lists none; without them such an input can report every outcome.
func (c *checker) resolveDefaultOutcomes() {
	rp := c.raw.Protocol
	if len(rp.DefaultOutcomes) == 0 {
		for i := range c.m.Outcomes {
			c.defaultOutcomes = append(c.defaultOutcomes, i)
		}
		return
	}
	for _, n := range rp.DefaultOutcomes {
		o, ok := c.outcomes[n.V]
		if !ok {
			c.errs.addf(n.Pos, "protocol: default outcome %q is not declared", n.V)
			continue
		}
		c.defaultOutcomes = append(c.defaultOutcomes, o)
	}
}

// checkReplyForm checks a response against the protocol's reply form.
func (c *checker) checkReplyForm(rs Entry[rawResponse]) {
	v := rs.Val
	switch c.m.Protocol.Replies {
	case RepliesIMAP:
		if oneOf(v.Status.V, statuses) < 0 {
			c.errs.addf(orPos(v.Status.Pos, rs.Key.Pos), "response %q: status %q is not one of %s", rs.Key.V, v.Status.V, strings.Join(statuses, ", "))
		}
		if v.Code.Set() && oneOf(v.Code.V, KnownResponseCodes) < 0 {
			c.errs.addf(v.Code.Pos, "response %q: unknown response code %q", rs.Key.V, v.Code.V)
		}
		if v.Enhanced.Set() {
			c.errs.addf(v.Enhanced.Pos, "response %q: IMAP responses have no enhanced status code", rs.Key.V)
		}
	case RepliesSMTP:
		if v.Status.Set() {
			c.errs.addf(v.Status.Pos, "response %q: SMTP replies have a code, not a status", rs.Key.V)
		}
		if !smtpCodeRe.MatchString(v.Code.V) {
			c.errs.addf(orPos(v.Code.Pos, rs.Key.Pos), "response %q: code %q is not an SMTP reply code (three digits, 2xx to 5xx; RFC 5321 4.2)", rs.Key.V, v.Code.V)
		}
		switch {
		case !v.Enhanced.Set():
			c.errs.addf(rs.Key.Pos, "response %q: missing \"enhanced\" (the RFC 3463 status code, class.subject.detail)", rs.Key.V)
		case !smtpEnhancedRe.MatchString(v.Enhanced.V):
			c.errs.addf(v.Enhanced.Pos, "response %q: enhanced %q is not an RFC 3463 status code (2, 4 or 5, then .subject.detail)", rs.Key.V, v.Enhanced.V)
		case smtpCodeRe.MatchString(v.Code.V) && v.Enhanced.V[0] != v.Code.V[0]:
			c.errs.addf(v.Enhanced.Pos, "response %q: the class of %s differs from the reply code %s (RFC 3463 2)", rs.Key.V, v.Enhanced.V, v.Code.V)
		}
	}
}

// closingReply reports whether r may be sent when closing the connection:
// an IMAP BYE, or SMTP's 421 (RFC 5321 3.8).
func (c *checker) closingReply(r Response) bool {
	if c.m.Protocol.Replies == RepliesSMTP {
		return r.Code == "421"
	}
	return r.Status == "BYE"
}

func (c *checker) closingReplyName() string {
	if c.m.Protocol.Replies == RepliesSMTP {
		return "a 421 reply (RFC 5321 3.8)"
	}
	return "a BYE response"
}

// refusalReply reports whether r refuses a command. IMAP refusals are
// tagged NO or BAD, but a spec may answer a refused command OK with a
// response code, so only SMTP's reply classes are checked.
func (c *checker) refusalReply(r Response) bool {
	if c.m.Protocol.Replies == RepliesSMTP {
		return r.Code != "" && (r.Code[0] == '4' || r.Code[0] == '5')
	}
	return true
}

// unanswered names what an ignored command line leaves without an answer.
func (c *checker) unanswered(in int) string {
	if c.m.Protocol.Replies == RepliesSMTP {
		return "command " + quote(c.m.Inputs[in].Name) + " without its reply"
	}
	if !c.m.IsCommand(in) {
		return "the tag of " + c.m.KindName(in) + " " + quote(c.m.Inputs[in].Name)
	}
	return "the tag of command " + quote(c.m.Inputs[in].Name)
}

// heldWord is what a held state holds: a tag in IMAP, a command awaiting its
// reply in SMTP.
func (c *checker) heldWord() string {
	if c.m.Protocol.Replies == RepliesSMTP {
		return "command"
	}
	return "tag"
}
