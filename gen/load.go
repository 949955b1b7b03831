package gen

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// KnownResponseCodes are the response codes a spec response may carry:
// RFC 9051 7.1, RFC 5530, RFC 4315, RFC 7162, RFC 3516 and RFC 7889.
var KnownResponseCodes = []string{
	"ALERT", "ALREADYEXISTS", "APPENDUID", "AUTHENTICATIONFAILED", "AUTHORIZATIONFAILED",
	"BADCHARSET", "CANNOT", "CAPABILITY", "CLIENTBUG", "CLOSED", "CONTACTADMIN", "COPYUID",
	"CORRUPTION", "EXPIRED", "EXPUNGEISSUED", "HASCHILDREN", "HIGHESTMODSEQ", "INUSE", "LIMIT",
	"MODIFIED", "NOMODSEQ", "NONEXISTENT", "NOPERM", "OVERQUOTA", "PARSE", "PERMANENTFLAGS",
	"PRIVACYREQUIRED", "READ-ONLY", "READ-WRITE", "SERVERBUG", "TOOBIG", "TRYCREATE",
	"UIDNEXT", "UIDNOTSTICKY", "UIDVALIDITY", "UNAVAILABLE", "UNKNOWN-CTE",
}

var statuses = []string{"OK", "NO", "BAD", "BYE", "PREAUTH"}

// LoadFile reads and verifies the spec at path.
func LoadFile(path string) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Load(path, data)
}

// Load verifies a spec and resolves it into a Model. On failure the error is
// an *ErrorList holding every problem found, each as file:line:col.
func Load(file string, data []byte) (*Model, error) {
	errs := &ErrorList{File: file}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		msg = lineRe.ReplaceAllString(msg, "")
		errs.add(yamlErrorPos(err), msg)
		return nil, errs.err()
	}
	var raw rawSpec
	d := &decoder{errs: errs}
	d.decode(&root, reflectValue(&raw))
	sum := sha256.Sum256(data)
	c := &checker{raw: &raw, errs: errs, m: &Model{File: file, Digest: hex.EncodeToString(sum[:])}}
	c.run()
	if err := errs.err(); err != nil {
		return nil, err
	}
	return c.m, nil
}

var lineRe = regexp.MustCompile(`^line \d+: `)

// yamlErrorPos extracts "line N" from a yaml.v3 syntax error.
func yamlErrorPos(err error) Pos {
	var line int
	msg := err.Error()
	if i := strings.Index(msg, "line "); i >= 0 {
		fmt.Sscanf(msg[i:], "line %d", &line)
	}
	return Pos{Line: line, Col: 1}
}

type namespaceKind int

const (
	nsState namespaceKind = iota
	nsInput
	nsGroup
)

type checker struct {
	raw  *rawSpec
	errs *ErrorList
	m    *Model

	states, inputs, outcomes, responses, quirks map[string]int
	groups                                      map[string]int // index into raw.Groups
	groupCache                                  map[string]*groupVal
	usedResponses, usedQuirks                   map[int]bool
	ruleOf                                      [][]int // [state][input] -> rule index or -1
}

type groupVal struct {
	kind    namespaceKind // nsState or nsInput
	members []int
	busy    bool
	ok      bool
}

func (c *checker) run() {
	r := c.raw
	if !r.Version.Set() {
		c.errs.addf(Pos{}, "missing key \"version\"")
	} else if r.Version.V != "1" {
		c.errs.addf(r.Version.Pos, "unsupported version %q (this fsmgen reads version 1)", r.Version.V)
	}
	c.declare()
	c.resolveInitial()
	c.resolveRules()
	c.checkTotality()
	if c.errs.Len() == 0 {
		c.checkGraph()
	}
	c.checkUsage()
}

func oneOf(v string, set []string) int {
	for i, s := range set {
		if s == v {
			return i
		}
	}
	return -1
}

func (c *checker) declare() {
	r := c.raw
	c.states = map[string]int{}
	c.inputs = map[string]int{}
	c.outcomes = map[string]int{}
	c.responses = map[string]int{}
	c.quirks = map[string]int{}
	c.groups = map[string]int{}
	c.groupCache = map[string]*groupVal{}
	c.usedResponses = map[int]bool{}
	c.usedQuirks = map[int]bool{}

	if len(r.States) == 0 {
		c.errs.addf(Pos{}, "no states declared")
	}
	if len(r.Inputs) == 0 {
		c.errs.addf(Pos{}, "no inputs declared")
	}
	if len(r.Outcomes) == 0 {
		c.errs.addf(Pos{}, "no outcomes declared")
	}
	for _, o := range r.Outcomes {
		c.outcomes[o.Key.V] = len(c.m.Outcomes)
		c.m.Outcomes = append(c.m.Outcomes, Outcome{Name: o.Key.V, Doc: o.Val.Doc.V})
	}
	taken := map[string]string{}
	claim := func(k Str, what string) bool {
		if k.V == "stay" || k.V == "origin" || k.V == "otherwise" {
			c.errs.addf(k.Pos, "%q is reserved and cannot name a %s", k.V, what)
			return false
		}
		if prev, ok := taken[k.V]; ok {
			c.errs.addf(k.Pos, "%s %q has the same name as a %s", what, k.V, prev)
			return false
		}
		taken[k.V] = what
		return true
	}
	for _, s := range r.States {
		claim(s.Key, "state")
		st := State{Name: s.Key.V, Doc: s.Val.Doc.V, Ref: s.Val.Ref.V, Pos: s.Key.Pos, Origin: -1,
			HoldsTag: s.Val.HoldsTag.V, Terminal: s.Val.Terminal.V, Authenticated: s.Val.Authenticated.V}
		switch i := oneOf(s.Val.Reads.V, readsNames); {
		case !s.Val.Reads.Set():
			c.errs.addf(s.Key.Pos, "state %q: missing \"reads\" (one of %s)", s.Key.V, strings.Join(readsNames, ", "))
		case i < 0:
			c.errs.addf(s.Val.Reads.Pos, "state %q: reads %q is not one of %s", s.Key.V, s.Val.Reads.V, strings.Join(readsNames, ", "))
		default:
			st.Reads = Reads(i)
		}
		c.states[s.Key.V] = len(c.m.States)
		c.m.States = append(c.m.States, st)
	}
	for i, s := range r.States {
		if !s.Val.Origin.Set() {
			if c.m.States[i].Reads == ReadsIdle {
				c.errs.addf(s.Key.Pos, "state %q reads IDLE continuations but declares no origin to return to", s.Key.V)
			}
			continue
		}
		o, ok := c.states[s.Val.Origin.V]
		if !ok {
			c.errs.addf(s.Val.Origin.Pos, "state %q: origin %q is not a declared state", s.Key.V, s.Val.Origin.V)
			continue
		}
		c.m.States[i].Origin = o
		if c.m.States[i].Authenticated != c.m.States[o].Authenticated {
			c.errs.addf(s.Key.Pos, "state %q: authenticated must match its origin %q (IDLE does not log in or out)", s.Key.V, s.Val.Origin.V)
		}
	}
	for _, in := range r.Inputs {
		claim(in.Key, "input")
		x := Input{Name: in.Key.V, Wire: in.Val.Wire.V, Doc: in.Val.Doc.V, Ref: in.Val.Ref.V, Pos: in.Key.Pos}
		switch k := oneOf(in.Val.Kind.V, kindNames); {
		case !in.Val.Kind.Set():
			c.errs.addf(in.Key.Pos, "input %q: missing \"kind\" (one of %s)", in.Key.V, strings.Join(kindNames, ", "))
		case k < 0:
			c.errs.addf(in.Val.Kind.Pos, "input %q: kind %q is not one of %s", in.Key.V, in.Val.Kind.V, strings.Join(kindNames, ", "))
		default:
			x.Kind = InputKind(k)
		}
		if in.Val.Wire.Set() && x.Kind != KindCommand {
			c.errs.addf(in.Val.Wire.Pos, "input %q: only command inputs have a wire name", in.Key.V)
		}
		x.Tagged = x.Kind == KindCommand || in.Val.Tagged.V
		if in.Val.Tagged.V && x.Kind != KindLine {
			c.errs.addf(in.Val.Tagged.Pos, "input %q: only line inputs are declared tagged (a command always is)", in.Key.V)
		}
		if len(in.Val.Outcomes) == 0 {
			for _, name := range []string{"ok", "no", "bad"} {
				if o, ok := c.outcomes[name]; ok {
					x.Outcomes = append(x.Outcomes, o)
				}
			}
		}
		for _, o := range in.Val.Outcomes {
			oi, ok := c.outcomes[o.V]
			if !ok {
				c.errs.addf(o.Pos, "input %q: outcome %q is not declared", in.Key.V, o.V)
				continue
			}
			x.Outcomes = append(x.Outcomes, oi)
		}
		c.inputs[in.Key.V] = len(c.m.Inputs)
		c.m.Inputs = append(c.m.Inputs, x)
	}
	wires := map[string]Pos{}
	catchAll := 0
	defer func() {
		if catchAll == 0 && len(c.m.Inputs) > 0 {
			c.errs.addf(Pos{}, "no catch-all command input: declare one command input without \"wire\" for unknown commands")
		}
	}()
	for i, in := range c.m.Inputs {
		if in.Kind != KindCommand {
			continue
		}
		if in.Wire == "" {
			catchAll++
			if catchAll > 1 {
				c.errs.addf(in.Pos, "input %q: only one command input may omit \"wire\" (it stands for every unknown command)", in.Name)
			}
			continue
		}
		if in.Wire != strings.ToUpper(in.Wire) {
			c.errs.addf(r.Inputs[i].Val.Wire.Pos, "input %q: wire name %q must be upper case", in.Name, in.Wire)
		}
		if p, dup := wires[in.Wire]; dup {
			c.errs.addf(r.Inputs[i].Val.Wire.Pos, "input %q: wire name %q already used at line %d", in.Name, in.Wire, p.Line)
		}
		wires[in.Wire] = r.Inputs[i].Val.Wire.Pos
	}
	for i, g := range r.Groups {
		if claim(g.Key, "group") {
			c.groups[g.Key.V] = i
		}
	}
	c.m.Responses = []Response{{Name: "none"}}
	for _, rs := range r.Responses {
		x := Response{Name: rs.Key.V, Status: rs.Val.Status.V, Code: rs.Val.Code.V, Text: rs.Val.Text.V}
		if oneOf(x.Status, statuses) < 0 {
			c.errs.addf(orPos(rs.Val.Status.Pos, rs.Key.Pos), "response %q: status %q is not one of %s", rs.Key.V, x.Status, strings.Join(statuses, ", "))
		}
		if rs.Val.Code.Set() && oneOf(x.Code, KnownResponseCodes) < 0 {
			c.errs.addf(rs.Val.Code.Pos, "response %q: unknown response code %q", rs.Key.V, x.Code)
		}
		if !rs.Val.Text.Set() || strings.TrimSpace(x.Text) == "" {
			c.errs.addf(rs.Key.Pos, "response %q: missing \"text\" (a reason a person can read)", rs.Key.V)
		}
		if strings.ContainsAny(x.Text, "\r\n") {
			c.errs.addf(rs.Val.Text.Pos, "response %q: text must be one line", rs.Key.V)
		}
		c.responses[rs.Key.V] = len(c.m.Responses)
		c.m.Responses = append(c.m.Responses, x)
	}
	c.m.Quirks = []Quirk{{Name: "none"}}
	for _, q := range r.Quirks {
		x := Quirk{Name: q.Key.V, Scope: q.Val.Scope.V, Who: q.Val.Who.V, Source: q.Val.Source.V, Doc: q.Val.Doc.V}
		if oneOf(x.Scope, []string{"session", "data"}) < 0 {
			c.errs.addf(orPos(q.Val.Scope.Pos, q.Key.Pos), "quirk %q: scope must be session or data", q.Key.V)
		}
		if !q.Val.Source.Set() {
			c.errs.addf(q.Key.Pos, "quirk %q: missing \"source\" (where the behaviour was reported)", q.Key.V)
		}
		for mode, b := range []*rawBehaviour{q.Val.Lenient, q.Val.Strict} {
			name := []string{"lenient", "strict"}[mode]
			if b == nil {
				c.errs.addf(q.Key.Pos, "quirk %q: missing the %s behaviour", q.Key.V, name)
				continue
			}
			if !b.Tolerate.Pos.IsZero() {
				x.Tolerate[mode] = b.Tolerate.V
			} else {
				c.errs.addf(b.Pos, "quirk %q: %s behaviour needs \"tolerate: true|false\"", q.Key.V, name)
			}
			if !b.Doc.Set() {
				c.errs.addf(b.Pos, "quirk %q: %s behaviour needs a \"doc\"", q.Key.V, name)
			}
			x.Behaviour[mode] = b.Doc.V
		}
		c.quirks[q.Key.V] = len(c.m.Quirks)
		c.m.Quirks = append(c.m.Quirks, x)
	}
	if len(c.m.Quirks) > 64 {
		c.errs.addf(Pos{}, "at most 63 quirks are supported, found %d", len(c.m.Quirks)-1)
	}
	if r.DefaultMode.Set() {
		switch r.DefaultMode.V {
		case "lenient":
		case "strict":
			c.m.DefaultStrict = true
		default:
			c.errs.addf(r.DefaultMode.Pos, "default-mode must be lenient or strict, found %q", r.DefaultMode.V)
		}
	}
}

func orPos(p, fallback Pos) Pos {
	if p.IsZero() {
		return fallback
	}
	return p
}

func (c *checker) resolveInitial() {
	r := c.raw
	if !r.Initial.Set() {
		c.errs.addf(Pos{}, "missing key \"initial\"")
		return
	}
	i, ok := c.states[r.Initial.V]
	if !ok {
		c.errs.addf(r.Initial.Pos, "initial state %q is not declared", r.Initial.V)
		return
	}
	if c.m.States[i].Terminal {
		c.errs.addf(r.Initial.Pos, "initial state %q is terminal", r.Initial.V)
	}
	c.m.Initial = i
}

// expand resolves names (states or inputs, possibly through groups) into
// indexes, reporting names that do not resolve or are of the wrong kind.
func (c *checker) expand(names Names, want namespaceKind, field string) []int {
	var out []int
	seen := map[int]bool{}
	for _, n := range names {
		for _, i := range c.expandOne(n, want, field) {
			if !seen[i] {
				seen[i] = true
				out = append(out, i)
			}
		}
	}
	return out
}

func (c *checker) expandOne(n Str, want namespaceKind, field string) []int {
	what := map[namespaceKind]string{nsState: "state", nsInput: "input"}[want]
	if want == nsState {
		if i, ok := c.states[n.V]; ok {
			return []int{i}
		}
		if _, ok := c.inputs[n.V]; ok {
			c.errs.addf(n.Pos, "%s: %q is an input, expected a state or a group of states", field, n.V)
			return nil
		}
	} else {
		if i, ok := c.inputs[n.V]; ok {
			return []int{i}
		}
		if _, ok := c.states[n.V]; ok {
			c.errs.addf(n.Pos, "%s: %q is a state, expected an input or a group of inputs", field, n.V)
			return nil
		}
	}
	gi, ok := c.groups[n.V]
	if !ok {
		c.errs.addf(n.Pos, "%s: %q is not a declared %s or group", field, n.V, what)
		return nil
	}
	g := c.group(gi)
	if g == nil || !g.ok {
		return nil
	}
	if g.kind != want {
		c.errs.addf(n.Pos, "%s: group %q holds %ss, expected %ss", field, n.V,
			map[namespaceKind]string{nsState: "state", nsInput: "input"}[g.kind], what)
		return nil
	}
	return g.members
}

// group resolves group gi once, detecting cycles and mixed groups.
func (c *checker) group(gi int) *groupVal {
	e := c.raw.Groups[gi]
	if g, ok := c.groupCache[e.Key.V]; ok {
		if g.busy {
			c.errs.addf(e.Key.Pos, "group %q contains itself", e.Key.V)
			return nil
		}
		return g
	}
	g := &groupVal{busy: true, kind: -1}
	c.groupCache[e.Key.V] = g
	seen := map[int]bool{}
	ok := true
	setKind := func(k namespaceKind, at Pos) bool {
		if g.kind == -1 {
			g.kind = k
			return true
		}
		if g.kind != k {
			c.errs.addf(at, "group %q mixes states and inputs", e.Key.V)
			ok = false
			return false
		}
		return true
	}
	add := func(i int) {
		if !seen[i] {
			seen[i] = true
			g.members = append(g.members, i)
		}
	}
	if len(e.Val) == 0 {
		c.errs.addf(e.Key.Pos, "group %q is empty", e.Key.V)
		ok = false
	}
	for _, n := range e.Val {
		if i, is := c.states[n.V]; is {
			if setKind(nsState, n.Pos) {
				add(i)
			}
			continue
		}
		if i, is := c.inputs[n.V]; is {
			if setKind(nsInput, n.Pos) {
				add(i)
			}
			continue
		}
		sub, is := c.groups[n.V]
		if !is {
			c.errs.addf(n.Pos, "group %q: %q is not a declared state, input or group", e.Key.V, n.V)
			ok = false
			continue
		}
		sg := c.group(sub)
		if sg == nil || !sg.ok {
			ok = false
			continue
		}
		if setKind(sg.kind, n.Pos) {
			for _, i := range sg.members {
				add(i)
			}
		}
	}
	g.busy = false
	g.ok = ok
	return g
}

func (c *checker) response(s Str, rule string, field string) int {
	if !s.Set() {
		return 0
	}
	i, ok := c.responses[s.V]
	if !ok {
		c.errs.addf(s.Pos, "rule %q: %s %q is not a declared response", rule, field, s.V)
		return 0
	}
	c.usedResponses[i] = true
	return i
}

func (c *checker) resolveRules() {
	nS, nI := len(c.m.States), len(c.m.Inputs)
	c.m.Table = make([][]Cell, nS)
	c.ruleOf = make([][]int, nS)
	for s := range c.m.Table {
		c.m.Table[s] = make([]Cell, nI)
		c.ruleOf[s] = make([]int, nI)
		for i := range c.ruleOf[s] {
			c.ruleOf[s][i] = -1
		}
	}
	ids := map[string]Pos{}
	for ri, rr := range c.raw.Rules {
		id := rr.ID.V
		if !rr.ID.Set() || id == "" {
			c.errs.addf(rr.Pos, "rule #%d: missing \"id\"", ri+1)
			id = fmt.Sprintf("#%d", ri+1)
		} else if p, dup := ids[id]; dup {
			c.errs.addf(rr.ID.Pos, "rule id %q already used at line %d", id, p.Line)
		} else {
			ids[id] = rr.ID.Pos
		}
		rule := Rule{ID: id, Doc: rr.Doc.V, Ref: rr.Ref.V, Pos: rr.Pos}
		if rr.Quirk.Set() {
			q, ok := c.quirks[rr.Quirk.V]
			switch {
			case !ok:
				c.errs.addf(rr.Quirk.Pos, "rule %q: quirk %q is not declared", id, rr.Quirk.V)
			case c.m.Quirks[q].Scope != "session":
				c.errs.addf(rr.Quirk.Pos, "rule %q: quirk %q has scope %s; only session quirks drive rules", id, rr.Quirk.V, c.m.Quirks[q].Scope)
			default:
				rule.Quirk = q
				c.usedQuirks[q] = true
			}
		}
		c.m.Rules = append(c.m.Rules, rule)
		if len(rr.In) == 0 {
			c.errs.addf(rr.Pos, "rule %q: missing \"in\" (the states it applies to)", id)
		}
		if len(rr.On) == 0 {
			c.errs.addf(rr.Pos, "rule %q: missing \"on\" (the inputs it applies to)", id)
		}
		states := c.expand(rr.In, nsState, "rule "+quote(id)+": in")
		inputs := c.expand(rr.On, nsInput, "rule "+quote(id)+": on")

		var modes [2]*rawAction
		top := &rawAction{Pos: rr.Pos, Do: rr.Do, Reply: rr.Reply, Pending: rr.Pending, Next: rr.Next}
		split := rr.Lenient != nil || rr.Strict != nil
		if split {
			if rr.Do.Set() || rr.Reply.Set() || rr.Pending.Set() || rr.Next != nil {
				c.errs.addf(rr.Pos, "rule %q: with lenient/strict blocks, do, reply, pending and next belong inside them", id)
			}
			if rr.Lenient == nil || rr.Strict == nil {
				c.errs.addf(rr.Pos, "rule %q: a rule that depends on the mode needs both a lenient and a strict block", id)
				continue
			}
			if !rr.Quirk.Set() {
				c.errs.addf(rr.Pos, "rule %q: a rule that depends on the mode must name the quirk it implements", id)
			}
			modes = [2]*rawAction{rr.Lenient, rr.Strict}
		} else {
			modes = [2]*rawAction{top, top}
		}
		var decs [2][]Decision // per mode, per state (index in states)
		for m := 0; m < 2; m++ {
			if m == 1 && !split {
				decs[1] = decs[0]
				break
			}
			decs[m] = make([]Decision, len(states))
			for si, s := range states {
				decs[m][si] = c.action(id, ri, rule.Quirk, modes[m], s, inputs)
			}
		}
		var overlaps []string
		var against = map[int]bool{}
		for si, s := range states {
			for _, in := range inputs {
				if prev := c.ruleOf[s][in]; prev >= 0 {
					if len(overlaps) < 6 {
						overlaps = append(overlaps, c.m.States[s].Name+" × "+c.m.Inputs[in].Name)
					}
					against[prev] = true
					continue
				}
				c.ruleOf[s][in] = ri
				for m := 0; m < 2; m++ {
					d := decs[m][si]
					// A stay/origin per input: fix Next for this input.
					c.m.Table[s][in][m] = d
				}
			}
		}
		if len(overlaps) > 0 {
			var prevIDs []string
			for p := range against {
				prevIDs = append(prevIDs, quote(c.m.Rules[p].ID))
			}
			sort.Strings(prevIDs)
			c.errs.addf(orPos(rr.On[0].Pos, rr.Pos), "rule %q is not deterministic: it decides %s, already decided by rule %s",
				id, strings.Join(overlaps, ", "), strings.Join(prevIDs, ", "))
		}
	}
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

var actionNamesList = actionNames

// action resolves one mode's action of a rule for state s.
func (c *checker) action(id string, ri, quirk int, a *rawAction, s int, inputs []int) Decision {
	d := Decision{Rule: ri, Quirk: quirk, Next: make([]int, len(c.m.Outcomes))}
	for i := range d.Next {
		d.Next[i] = s
	}
	if len(d.Next) == 0 {
		return d // "no outcomes declared" is already reported
	}
	if !a.Do.Set() {
		c.errs.addf(a.Pos, "rule %q: missing \"do\" (one of %s)", id, strings.Join(actionNamesList, ", "))
		return d
	}
	act := oneOf(a.Do.V, actionNamesList)
	if act < 0 {
		c.errs.addf(a.Do.Pos, "rule %q: do %q is not one of %s", id, a.Do.V, strings.Join(actionNamesList, ", "))
		return d
	}
	d.Action = Action(act)
	st := c.m.States[s]
	d.Reply = c.response(a.Reply, id, "reply")
	d.Pending = c.response(a.Pending, id, "pending")
	switch d.Action {
	case ActReject, ActNotify:
		if d.Reply == 0 && !a.Reply.Set() {
			c.errs.addf(a.Do.Pos, "rule %q: %s needs a \"reply\"", id, a.Do.V)
		}
	case ActIgnore, ActRedispatch, ActExecute:
		if a.Reply.Set() {
			c.errs.addf(a.Reply.Pos, "rule %q: %s sends no reply; remove \"reply\"", id, a.Do.V)
		}
	case ActClose:
		if d.Reply != 0 && c.m.Responses[d.Reply].Status != "BYE" {
			c.errs.addf(a.Reply.Pos, "rule %q: close must reply with a BYE response", id)
		}
	}
	if a.Pending.Set() && d.Action == ActExecute {
		c.errs.addf(a.Pending.Pos, "rule %q: execute runs a handler that completes the tag itself; pending would answer it twice", id)
	}
	if a.Pending.Set() && !st.HoldsTag {
		c.errs.addf(a.Pending.Pos, "rule %q: pending completes a held tag, but state %q holds none", id, st.Name)
	}
	resolveState := func(v Str) int {
		switch v.V {
		case "stay":
			return s
		case "origin":
			if st.Origin < 0 {
				c.errs.addf(v.Pos, "rule %q: next is origin, but state %q has no origin", id, st.Name)
				return s
			}
			return st.Origin
		}
		i, ok := c.states[v.V]
		if !ok {
			c.errs.addf(v.Pos, "rule %q: next state %q is not declared", id, v.V)
			return s
		}
		return i
	}
	if a.Next != nil {
		if a.Next.State.Set() {
			t := resolveState(a.Next.State)
			for i := range d.Next {
				d.Next[i] = t
			}
		} else {
			if d.Action != ActExecute {
				c.errs.addf(a.Next.Pos, "rule %q: only execute has per-outcome next states; give one state", id)
			}
			given := make([]bool, len(c.m.Outcomes))
			other := -1
			for _, e := range a.Next.Map {
				t := resolveState(e.Val)
				if e.Key.V == "otherwise" {
					other = t
					continue
				}
				o, ok := c.outcomes[e.Key.V]
				if !ok {
					c.errs.addf(e.Key.Pos, "rule %q: next: %q is not a declared outcome", id, e.Key.V)
					continue
				}
				given[o] = true
				d.Next[o] = t
			}
			for o := range given {
				if !given[o] {
					if other >= 0 {
						d.Next[o] = other
					} else {
						for _, in := range inputs {
							if contains(c.m.Inputs[in].Outcomes, o) {
								c.errs.addf(a.Next.Pos, "rule %q: input %q can end with outcome %q, but next gives no state for it", id, c.m.Inputs[in].Name, c.m.Outcomes[o].Name)
								break
							}
						}
					}
				}
			}
		}
	} else if d.Action == ActExecute {
		c.errs.addf(a.Do.Pos, "rule %q: execute needs \"next\" (the state for each outcome)", id)
	}
	switch d.Action {
	case ActClose:
		if !c.m.States[d.Next[0]].Terminal {
			c.errs.addf(a.Do.Pos, "rule %q: close must lead to a terminal state", id)
		}
	case ActRedispatch:
		if a.Next == nil {
			c.errs.addf(a.Do.Pos, "rule %q: redispatch needs \"next\", the state that decides the input again", id)
		} else if c.m.States[d.Next[0]].Reads != ReadsCommand {
			c.errs.addf(a.Next.Pos, "rule %q: redispatch must lead to a state that reads commands", id)
		} else if d.Next[0] == s {
			c.errs.addf(a.Next.Pos, "rule %q: redispatch to the same state would loop", id)
		}
	}
	// A command line, and a line declared tagged, carries its own tag:
	// where commands are read (as commands, or instead of DONE while
	// idling) the decision must answer it, by running the handler,
	// rejecting it, deciding it again elsewhere, or closing the connection.
	if st.Reads == ReadsCommand || st.Reads == ReadsIdle {
		switch d.Action {
		case ActIgnore, ActNotify:
			for _, in := range inputs {
				if c.m.Inputs[in].Tagged {
					c.errs.addf(a.Do.Pos, "rule %q: %s leaves the tag of %s %q unanswered in state %q; use execute, reject, redispatch or close", id, a.Do.V, c.m.Inputs[in].Kind, c.m.Inputs[in].Name, st.Name)
					break
				}
			}
		}
	}
	// A held tag must be completed exactly once: a decision that leaves a
	// tag-holding state for one that holds none completes it with pending,
	// unless the handler runs (and completes it) or the connection closes.
	if st.HoldsTag && d.Action != ActExecute && d.Action != ActClose {
		leaves := !c.m.States[d.Next[0]].HoldsTag
		switch {
		case leaves && d.Pending == 0:
			c.errs.addf(a.Do.Pos, "rule %q: leaving %q for %q would leave the held tag unanswered; add \"pending\"", id, st.Name, c.m.States[d.Next[0]].Name)
		case !leaves && d.Pending != 0:
			c.errs.addf(a.Pending.Pos, "rule %q: pending completes the held tag, but the state still holds it", id)
		}
	}
	return d
}

func contains(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func (c *checker) checkTotality() {
	for s, st := range c.m.States {
		var missing []string
		for in := range c.m.Inputs {
			if c.ruleOf[s][in] < 0 {
				missing = append(missing, c.m.Inputs[in].Name)
			}
		}
		if len(missing) > 0 {
			c.errs.addf(st.Pos, "state %q is not total: no rule decides %s", st.Name, strings.Join(missing, ", "))
		}
	}
}

// checkGraph verifies reachability, terminal states and the absence of traps.
func (c *checker) checkGraph() {
	n := len(c.m.States)
	succ := make([]map[int]bool, n)
	for s := range succ {
		succ[s] = map[int]bool{}
		for in := range c.m.Inputs {
			for m := 0; m < 2; m++ {
				for _, t := range c.m.NextStates(c.m.Table[s][in][m], in) {
					succ[s][t] = true
				}
			}
		}
	}
	reach := bfs(c.m.Initial, succ)
	for s, st := range c.m.States {
		if !reach[s] {
			c.errs.addf(st.Pos, "state %q is unreachable from the initial state %q", st.Name, c.m.States[c.m.Initial].Name)
		}
	}
	haveTerminal := false
	for s, st := range c.m.States {
		if !st.Terminal {
			continue
		}
		haveTerminal = true
		for t := range succ[s] {
			if t != s {
				c.errs.addf(st.Pos, "terminal state %q is not absorbing: it can move to %q", st.Name, c.m.States[t].Name)
				break
			}
		}
	}
	if !haveTerminal {
		c.errs.addf(Pos{}, "no terminal state declared (mark the logout state with terminal: true)")
		return
	}
	for s, st := range c.m.States {
		if st.Terminal || !reach[s] {
			continue
		}
		r := bfs(s, succ)
		ok := false
		for t := range r {
			if c.m.States[t].Terminal {
				ok = true
				break
			}
		}
		if !ok {
			c.errs.addf(st.Pos, "state %q is a trap: no sequence of inputs leads from it to a terminal state", st.Name)
		}
	}
	c.checkStranded(reach)
}

// checkStranded verifies that from every live state the session can get
// back to reading commands with no tag held, without closing the
// connection: a state whose only way out is a disconnect strands clients.
func (c *checker) checkStranded(reach map[int]bool) {
	n := len(c.m.States)
	succ := make([]map[int]bool, n)
	for s := range succ {
		succ[s] = map[int]bool{}
		for in := range c.m.Inputs {
			for m := 0; m < 2; m++ {
				d := c.m.Table[s][in][m]
				if d.Action == ActClose {
					continue
				}
				for _, t := range c.m.NextStates(d, in) {
					succ[s][t] = true
				}
			}
		}
	}
	for s, st := range c.m.States {
		if st.Terminal || !reach[s] {
			continue
		}
		home := false
		for t := range bfs(s, succ) {
			if c.m.States[t].Reads == ReadsCommand && !c.m.States[t].HoldsTag {
				home = true
				break
			}
		}
		if !home {
			c.errs.addf(st.Pos, "state %q is stranded: no input leads from it back to reading commands without closing the connection", st.Name)
		}
	}
}

func bfs(from int, succ []map[int]bool) map[int]bool {
	seen := map[int]bool{from: true}
	q := []int{from}
	for len(q) > 0 {
		s := q[0]
		q = q[1:]
		next := make([]int, 0, len(succ[s]))
		for t := range succ[s] {
			next = append(next, t)
		}
		sort.Ints(next)
		for _, t := range next {
			if !seen[t] {
				seen[t] = true
				q = append(q, t)
			}
		}
	}
	return seen
}

func (c *checker) checkUsage() {
	for i, q := range c.raw.Quirks {
		qi := i + 1
		if c.m.Quirks[qi].Scope == "session" && !c.usedQuirks[qi] {
			c.errs.addf(q.Key.Pos, "quirk %q has scope session but no rule implements it", q.Key.V)
		}
	}
	for i, rs := range c.raw.Responses {
		if !c.usedResponses[i+1] {
			c.errs.addf(rs.Key.Pos, "response %q is declared but no rule uses it", rs.Key.V)
		}
	}
	for i, g := range c.raw.Groups {
		_ = i
		if _, ok := c.groupCache[g.Key.V]; !ok {
			c.errs.addf(g.Key.Pos, "group %q is declared but never used", g.Key.V)
		}
	}
}
