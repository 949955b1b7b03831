package gen

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// KnownResponseCodes are the response codes a spec response may carry:
// RFC 9051 7.1, RFC 5530, RFC 4315, RFC 7162, RFC 3516, RFC 7889 and RFC 4978.
var KnownResponseCodes = []string{
	"ALERT", "ALREADYEXISTS", "APPENDUID", "AUTHENTICATIONFAILED", "AUTHORIZATIONFAILED",
	"BADCHARSET", "CANNOT", "CAPABILITY", "CLIENTBUG", "CLOSED", "CONTACTADMIN", "COPYUID",
	"COMPRESSIONACTIVE", "CORRUPTION", "EXPIRED", "EXPUNGEISSUED", "HASCHILDREN", "HIGHESTMODSEQ", "INUSE", "LIMIT",
	"MODIFIED", "NOMODSEQ", "NONEXISTENT", "NOPERM", "OVERQUOTA", "PARSE", "PERMANENTFLAGS",
	"PRIVACYREQUIRED", "READ-ONLY", "READ-WRITE", "SERVERBUG", "TOOBIG", "TRYCREATE",
	"UIDNEXT", "UIDNOTSTICKY", "UIDVALIDITY", "UNAVAILABLE", "UNKNOWN-CTE",
}

var statuses = []string{"OK", "NO", "BAD", "BYE", "PREAUTH"}

var (
	smtpCodeRe     = regexp.MustCompile(`^[2-5][0-5][0-9]$`)
	smtpEnhancedRe = regexp.MustCompile(`^[245]\.[0-9]{1,3}\.[0-9]{1,3}$`)
)

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
	ruleOf                                      [][][]int         // [state][valuation][input] -> rule index or -1
	taken                                       map[string]string // state, input and group names -> what they name
	facts                                       map[string]int
	factRead                                    []bool       // per fact: a rule's condition reads it
	ruleReads                                   []uint       // per rule: the facts its condition reads
	brokenWhen                                  map[int]bool // rules whose condition names an unknown fact

	// The protocol's vocabulary (see protocol.go).
	readsNames, kindNames, attrNames, actionList []string
	attrs                                        map[string]int // attribute name -> index+1; 0 reserved
	declaredAction                               []bool
	defaultOutcomes                              []int
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
	if r.Protocol == nil {
		// Every other check is stated in the protocol's words.
		c.errs.addf(Pos{}, "missing key \"protocol\" (the spec's vocabulary: name, replies, reads, kinds, attributes, actions)")
		return
	}
	c.declareProtocol()
	c.declare()
	c.declareFacts()
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

// declare reads the spec's declarations by kind: outcomes, states,
// inputs, groups, responses, quirks and the default mode.
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
	c.taken = map[string]string{}

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
	c.resolveDefaultOutcomes()
	c.declareStates()
	c.declareInputs()
	for i, g := range r.Groups {
		if c.claim(g.Key, "group") {
			c.groups[g.Key.V] = i
		}
	}
	c.declareResponses()
	c.declareQuirks()
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

// claim reserves a name for a state, an input or a group: the three share
// one namespace, and stay, origin and otherwise are reserved.
func (c *checker) claim(k Str, what string) bool {
	if k.V == "stay" || k.V == "origin" || k.V == "otherwise" {
		c.errs.addf(k.Pos, "%q is reserved and cannot name a %s", k.V, what)
		return false
	}
	if prev, ok := c.taken[k.V]; ok {
		c.errs.addf(k.Pos, "%s %q has the same name as a %s", what, k.V, prev)
		return false
	}
	c.taken[k.V] = what
	return true
}

// declareStates reads the states with their attributes and origins.
func (c *checker) declareStates() {
	r := c.raw
	for _, s := range r.States {
		c.claim(s.Key, "state")
		st := State{Name: s.Key.V, Doc: s.Val.Doc.V, Ref: s.Val.Ref.V, Pos: s.Key.Pos, Origin: -1,
			Terminal: s.Val.Terminal.V, Reads: c.m.Protocol.Command}
		c.stateAttrs(s, &st)
		readsNames := c.readsNames
		switch i := oneOf(s.Val.Reads.V, readsNames); {
		case !s.Val.Reads.Set():
			c.errs.addf(s.Key.Pos, "state %q: missing \"reads\" (one of %s)", s.Key.V, strings.Join(readsNames, ", "))
		case i < 0:
			c.errs.addf(s.Val.Reads.Pos, "state %q: reads %q is not one of %s", s.Key.V, s.Val.Reads.V, strings.Join(readsNames, ", "))
		default:
			st.Reads = i
		}
		c.states[s.Key.V] = len(c.m.States)
		c.m.States = append(c.m.States, st)
	}
	for i, s := range r.States {
		if !s.Val.Origin.Set() {
			if c.m.Protocol.Reads[c.m.States[i].Reads].Origin {
				c.errs.addf(s.Key.Pos, "state %q reads %s lines but declares no origin to return to", s.Key.V, c.m.ReadsName(i))
			}
			continue
		}
		o, ok := c.states[s.Val.Origin.V]
		if !ok {
			c.errs.addf(s.Val.Origin.Pos, "state %q: origin %q is not a declared state", s.Key.V, s.Val.Origin.V)
			continue
		}
		c.m.States[i].Origin = o
		for ai, a := range c.m.Protocol.Attributes {
			st, os := c.m.States[i], c.m.States[o]
			if a.MatchOrigin && (st.Attrs[ai] != os.Attrs[ai] || st.Values[ai] != os.Values[ai]) {
				c.errs.addf(s.Key.Pos, "state %q: %s must match its origin %q (the protocol declares it match-origin)", s.Key.V, a.Name, s.Val.Origin.V)
			}
		}
	}
}

// stateAttrs reads the values a state gives the protocol's attributes: true
// or false for a boolean attribute (false when left out), one of the
// declared values for an attribute with values (required).
func (c *checker) stateAttrs(s Entry[rawState], st *State) {
	attrs := c.m.Protocol.Attributes
	st.Attrs, st.Values = make([]bool, len(attrs)), make([]int, len(attrs))
	for i := range st.Values {
		st.Values[i] = -1
	}
	for _, a := range s.Val.Attrs {
		ai := c.attrs[a.Key.V]
		if ai == 0 {
			c.errs.addf(a.Key.Pos, "state %q: unknown key %q (known keys: doc, ref, reads, origin, terminal, and the protocol's attributes: %s)", s.Key.V, a.Key.V, strings.Join(c.attrNames, ", "))
			continue
		}
		attr := attrs[ai-1]
		if len(attr.Values) > 0 {
			var v Str
			(&decoder{errs: c.errs}).decode(a.Node, reflect.ValueOf(&v).Elem())
			st.Values[ai-1] = slices.IndexFunc(attr.Values, func(t Term) bool { return t.Name == v.V })
			if v.Set() && st.Values[ai-1] < 0 {
				c.errs.addf(v.Pos, "state %q: %s %q is not one of %s", s.Key.V, attr.Name, v.V, strings.Join(attr.ValueNames(), ", "))
			}
			continue
		}
		var v Bool
		(&decoder{errs: c.errs}).decode(a.Node, reflect.ValueOf(&v).Elem())
		st.Attrs[ai-1] = v.V
		if ai-1 == c.m.Protocol.Held {
			st.Held = v.V
		}
	}
	for ai, attr := range attrs {
		if len(attr.Values) > 0 && st.Values[ai] < 0 && !slices.ContainsFunc(s.Val.Attrs, func(a rawAttrValue) bool { return a.Key.V == attr.Name }) {
			c.errs.addf(s.Key.Pos, "state %q: missing %q (one of %s)", s.Key.V, attr.Name, strings.Join(attr.ValueNames(), ", "))
		}
	}
}

// declareInputs reads the inputs: kind, wire names, tagged, outcomes; and
// checks that wire names are unique and one command input is the
// catch-all.
func (c *checker) declareInputs() {
	r := c.raw
	for _, in := range r.Inputs {
		c.claim(in.Key, "input")
		x := Input{Name: in.Key.V, Doc: in.Val.Doc.V, Ref: in.Val.Ref.V, Pos: in.Key.Pos, Kind: c.m.Protocol.CommandKind}
		for _, w := range in.Val.Wire {
			x.Wires = append(x.Wires, w.V)
		}
		if len(x.Wires) > 0 {
			x.Wire = x.Wires[0]
		}
		kindNames := c.kindNames
		switch k := oneOf(in.Val.Kind.V, kindNames); {
		case !in.Val.Kind.Set():
			c.errs.addf(in.Key.Pos, "input %q: missing \"kind\" (one of %s)", in.Key.V, strings.Join(kindNames, ", "))
		case k < 0:
			c.errs.addf(in.Val.Kind.Pos, "input %q: kind %q is not one of %s", in.Key.V, in.Val.Kind.V, strings.Join(kindNames, ", "))
		default:
			x.Kind = k
		}
		if len(in.Val.Wire) > 0 && x.Kind != c.m.Protocol.CommandKind {
			c.errs.addf(in.Val.Wire[0].Pos, "input %q: only command inputs have a wire name", in.Key.V)
		}
		x.Tagged = x.Kind == c.m.Protocol.CommandKind || in.Val.Tagged.V
		if in.Val.Tagged.V && x.Kind == c.m.Protocol.CommandKind {
			c.errs.addf(in.Val.Tagged.Pos, "input %q: a command input always carries its tag; declare tagged only on other kinds", in.Key.V)
		}
		if len(in.Val.Outcomes) == 0 {
			x.Outcomes = append(x.Outcomes, c.defaultOutcomes...)
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
		if in.Kind != c.m.Protocol.CommandKind {
			continue
		}
		if in.Wire == "" {
			catchAll++
			if catchAll > 1 {
				c.errs.addf(in.Pos, "input %q: only one command input may omit \"wire\" (it stands for every unknown command)", in.Name)
			}
			continue
		}
		for _, w := range r.Inputs[i].Val.Wire {
			if w.V != strings.ToUpper(w.V) || w.V == "" {
				c.errs.addf(w.Pos, "input %q: wire name %q must be upper case", in.Name, w.V)
			}
			if p, dup := wires[w.V]; dup {
				c.errs.addf(w.Pos, "input %q: wire name %q already used at line %d", in.Name, w.V, p.Line)
			}
			wires[w.V] = w.Pos
		}
	}
}

// declareResponses reads the responses, in the protocol's reply form.
func (c *checker) declareResponses() {
	r := c.raw
	c.m.Responses = []Response{{Name: "none"}}
	for _, rs := range r.Responses {
		x := Response{Name: rs.Key.V, Status: rs.Val.Status.V, Code: rs.Val.Code.V, Enhanced: rs.Val.Enhanced.V, Text: rs.Val.Text.V}
		c.checkReplyForm(rs)
		if !rs.Val.Text.Set() || strings.TrimSpace(x.Text) == "" {
			c.errs.addf(rs.Key.Pos, "response %q: missing \"text\" (a reason a person can read)", rs.Key.V)
		}
		if strings.ContainsAny(x.Text, "\r\n") {
			c.errs.addf(rs.Val.Text.Pos, "response %q: text must be one line", rs.Key.V)
		}
		c.responses[rs.Key.V] = len(c.m.Responses)
		c.m.Responses = append(c.m.Responses, x)
	}
}

// declareQuirks reads the quirks with their behaviours and probes.
func (c *checker) declareQuirks() {
	r := c.raw
	c.m.Quirks = []Quirk{{Name: "none"}}
	for _, q := range r.Quirks {
		x := Quirk{Name: q.Key.V, Scope: q.Val.Scope.V, Who: q.Val.Who.V, Source: q.Val.Source.V, Doc: q.Val.Doc.V, Default: -1}
		if q.Val.Default.Set() {
			if x.Default = oneOf(q.Val.Default.V, []string{"lenient", "strict"}); x.Default < 0 {
				c.errs.addf(q.Val.Default.Pos, "quirk %q: default must be lenient or strict, found %q", q.Key.V, q.Val.Default.V)
			}
		}
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
		if q.Val.Probe != nil {
			x.Probe = c.probe(q.Key.V, q.Val.Probe)
		}
		c.quirks[q.Key.V] = len(c.m.Quirks)
		c.m.Quirks = append(c.m.Quirks, x)
	}
	if len(c.m.Quirks) > 64 {
		c.errs.addf(Pos{}, "at most 63 quirks are supported, found %d", len(c.m.Quirks)-1)
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
	nS, nV, nI := len(c.m.States), c.m.Valuations(), len(c.m.Inputs)
	c.m.Table = make([][][]Cell, nS)
	c.ruleOf = make([][][]int, nS)
	for s := range c.m.Table {
		c.m.Table[s] = make([][]Cell, nV)
		c.ruleOf[s] = make([][]int, nV)
		for v := range c.m.Table[s] {
			c.m.Table[s][v] = make([]Cell, nI)
			c.ruleOf[s][v] = make([]int, nI)
			for i := range c.ruleOf[s][v] {
				c.ruleOf[s][v][i] = -1
			}
		}
	}
	ids := map[string]Pos{}
	c.brokenWhen = map[int]bool{}
	for ri, rr := range c.raw.Rules {
		c.resolveRule(ri, rr, ids)
	}
}

// resolveRule resolves one rule: its id, quirk and condition, its
// decision per mode for each of its states, and the cells it decides
// (reporting the cells another rule decides already under the same facts).
func (c *checker) resolveRule(ri int, rr rawRule, ids map[string]Pos) {
	nV := c.m.Valuations()
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
	rule.When = c.when(id, rr.When)
	c.m.Rules = append(c.m.Rules, rule)
	c.ruleReads = append(c.ruleReads, condMask(rule.When))
	if len(rr.In) == 0 {
		c.errs.addf(rr.Pos, "rule %q: missing \"in\" (the states it applies to)", id)
	}
	if len(rr.On) == 0 {
		c.errs.addf(rr.Pos, "rule %q: missing \"on\" (the inputs it applies to)", id)
	}
	states := c.expand(rr.In, nsState, "rule "+quote(id)+": in")
	inputs := c.expand(rr.On, nsInput, "rule "+quote(id)+": on")

	var modes [2]*rawAction
	top := &rawAction{Pos: rr.Pos, Do: rr.Do, Reply: rr.Reply, Pending: rr.Pending, Next: rr.Next, Effect: rr.Effect}
	split := rr.Lenient != nil || rr.Strict != nil
	if split {
		if rr.Do.Set() || rr.Reply.Set() || rr.Pending.Set() || rr.Next != nil || rr.Effect != nil {
			c.errs.addf(rr.Pos, "rule %q: with lenient/strict blocks, do, reply, pending, next and effect belong inside them", id)
		}
		if rr.Lenient == nil || rr.Strict == nil {
			c.errs.addf(rr.Pos, "rule %q: a rule that depends on the mode needs both a lenient and a strict block", id)
			return
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
	seenOverlap := map[string]bool{}
	var against = map[int]bool{}
	for si, s := range states {
		for v := 0; v < nV; v++ {
			if !rule.Applies(uint(v)) {
				continue
			}
			for _, in := range inputs {
				if prev := c.ruleOf[s][v][in]; prev >= 0 {
					if c.brokenWhen[ri] || c.brokenWhen[prev] {
						continue
					}
					what := c.m.States[s].Name + " × " + c.m.Inputs[in].Name
					if mask := c.ruleReads[ri] | c.ruleReads[prev]; mask != 0 {
						what += " when " + c.m.CondText(Cond{Mask: mask, Want: uint(v) & mask})
					}
					if len(overlaps) < 6 && !seenOverlap[what] {
						seenOverlap[what] = true
						overlaps = append(overlaps, what)
					}
					against[prev] = true
					continue
				}
				c.ruleOf[s][v][in] = ri
				for m := 0; m < 2; m++ {
					c.m.Table[s][v][in][m] = decs[m][si]
				}
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

func quote(s string) string { return fmt.Sprintf("%q", s) }

var actionNamesList = actionNames

// action resolves one mode's action of a rule for state s.
func (c *checker) action(id string, ri, quirk int, a *rawAction, s int, inputs []int) Decision {
	d := Decision{Rule: ri, Quirk: quirk, Next: make([]int, len(c.m.Outcomes)), Effects: make([]Effect, len(c.m.Outcomes))}
	for i := range d.Next {
		d.Next[i] = s
	}
	if len(d.Next) == 0 {
		return d // "no outcomes declared" is already reported
	}
	if !a.Do.Set() {
		c.errs.addf(a.Pos, "rule %q: missing \"do\" (one of %s)", id, strings.Join(c.actionList, ", "))
		return d
	}
	act := oneOf(a.Do.V, actionNamesList)
	if act < 0 || !c.declaredAction[act] {
		c.errs.addf(a.Do.Pos, "rule %q: do %q is not one of %s", id, a.Do.V, strings.Join(c.actionList, ", "))
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
		if d.Reply != 0 && !c.closingReply(c.m.Responses[d.Reply]) {
			c.errs.addf(a.Reply.Pos, "rule %q: close must reply with %s", id, c.closingReplyName())
		}
	}
	if d.Action == ActReject && d.Reply != 0 && !c.refusalReply(c.m.Responses[d.Reply]) {
		c.errs.addf(a.Reply.Pos, "rule %q: reject must answer with a refusal (a 4xx or 5xx reply)", id)
	}
	if a.Pending.Set() && d.Action == ActExecute {
		c.errs.addf(a.Pending.Pos, "rule %q: execute runs a handler that completes the tag itself; pending would answer it twice", id)
	}
	if a.Pending.Set() && !st.Held {
		c.errs.addf(a.Pending.Pos, "rule %q: pending completes a held command, but state %q holds none", id, st.Name)
	}
	c.nextStates(id, a, s, inputs, d)
	if a.Effect != nil {
		c.effect(id, a.Effect, d)
	}
	switch d.Action {
	case ActClose:
		if !c.m.States[d.Next[0]].Terminal {
			c.errs.addf(a.Do.Pos, "rule %q: close must lead to a terminal state", id)
		}
	case ActRedispatch:
		if a.Next == nil {
			c.errs.addf(a.Do.Pos, "rule %q: redispatch needs \"next\", the state that decides the input again", id)
		} else if c.m.States[d.Next[0]].Reads != c.m.Protocol.Command {
			c.errs.addf(a.Next.Pos, "rule %q: redispatch must lead to a state that reads commands", id)
		} else if d.Next[0] == s {
			c.errs.addf(a.Next.Pos, "rule %q: redispatch to the same state would loop", id)
		}
	}
	c.checkAnswers(id, a, s, inputs, d)
	return d
}

// nextStates fills d.Next from a rule's next: one state, `stay`, `origin`,
// or per outcome with `otherwise` (execute only); an execute without next,
// or an outcome an input can end with and no state for it, is reported.
func (c *checker) nextStates(id string, a *rawAction, s int, inputs []int, d Decision) {
	st := c.m.States[s]
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
}

// checkAnswers checks that the decision answers what it must: the tag of a
// tagged line where commands are read, and the held tag when it leaves
// the state that holds it.
func (c *checker) checkAnswers(id string, a *rawAction, s int, inputs []int, d Decision) {
	st := c.m.States[s]
	// A command line, and a line declared tagged, carries its own tag:
	// where commands are read (as commands, or instead of DONE while
	// idling) the decision must answer it, by running the handler,
	// rejecting it, deciding it again elsewhere, or closing the connection.
	if c.m.ReadsCommands(s) {
		switch d.Action {
		case ActIgnore, ActNotify:
			for _, in := range inputs {
				if c.m.Inputs[in].Tagged {
					c.errs.addf(a.Do.Pos, "rule %q: %s leaves %s unanswered in state %q; use execute, reject, redispatch or close", id, a.Do.V, c.unanswered(in), st.Name)
					break
				}
			}
		}
	}
	// A held tag must be completed exactly once: a decision that leaves a
	// tag-holding state for one that holds none completes it with pending,
	// unless the handler runs (and completes it) or the connection closes.
	if st.Held && d.Action != ActExecute && d.Action != ActClose {
		leaves := !c.m.States[d.Next[0]].Held
		switch {
		case leaves && d.Pending == 0:
			c.errs.addf(a.Do.Pos, "rule %q: leaving %q for %q would leave the held %s unanswered; add \"pending\"", id, st.Name, c.m.States[d.Next[0]].Name, c.heldWord())
		case !leaves && d.Pending != 0:
			c.errs.addf(a.Pending.Pos, "rule %q: pending completes the held %s, but the state still holds it", id, c.heldWord())
		}
	}
}

func contains(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// checkTotality verifies that every state × input has a decision under
// every valuation of the facts. Every valuation, not only the reachable
// ones: the engine gives some facts any value when a connection opens, and
// a machine that is total everywhere does not depend on the reachability
// analysis being right (a combination that cannot happen costs one rule
// without a condition).
func (c *checker) checkTotality() {
	nV := c.m.Valuations()
	for s, st := range c.m.States {
		var missing []string
		for in := range c.m.Inputs {
			var gaps []uint
			var read uint // the facts the rules deciding s × in read
			for v := 0; v < nV; v++ {
				if r := c.ruleOf[s][v][in]; r < 0 {
					gaps = append(gaps, uint(v))
				} else {
					read |= c.ruleReads[r]
				}
			}
			switch {
			case len(gaps) == 0:
			case len(gaps) == nV:
				missing = append(missing, c.m.Inputs[in].Name)
			default:
				var conds []string
				seen := map[string]bool{}
				for _, v := range gaps {
					t := c.m.CondText(Cond{Mask: read, Want: v & read})
					if !seen[t] {
						seen[t] = true
						conds = append(conds, t)
					}
				}
				missing = append(missing, c.m.Inputs[in].Name+" when "+strings.Join(conds, " or "))
			}
		}
		if len(missing) > 0 {
			c.errs.addf(st.Pos, "state %q is not total: no rule decides %s", st.Name, strings.Join(missing, ", "))
		}
	}
}

// node is a state under a valuation of the facts: what the graph checks
// walk.
func (c *checker) node(s int, v uint) int { return s*c.m.Valuations() + int(v) }

// successors returns, per node, the nodes one decision leads to; with
// closing false it leaves out decisions that close the connection.
func (c *checker) successors(closing bool) []map[int]bool {
	nV := c.m.Valuations()
	succ := make([]map[int]bool, len(c.m.States)*nV)
	for s := range c.m.States {
		for v := 0; v < nV; v++ {
			n := c.node(s, uint(v))
			succ[n] = map[int]bool{}
			for in := range c.m.Inputs {
				for m := 0; m < 2; m++ {
					d := c.m.Table[s][v][in][m]
					if !closing && d.Action == ActClose {
						continue
					}
					outs := []int{0}
					if d.Action == ActExecute {
						outs = c.m.Inputs[in].Outcomes
					}
					for _, o := range outs {
						succ[n][c.node(d.Next[o], d.Effects[o].Apply(uint(v)))] = true
					}
				}
			}
		}
	}
	return succ
}

// whereText names the valuation of node n for an error message about its
// state, or "" when the spec declares no facts.
func (c *checker) whereText(n int) string {
	if len(c.m.Facts) == 0 {
		return ""
	}
	all := uint(c.m.Valuations() - 1)
	return " (with facts " + c.m.CondText(Cond{Mask: all, Want: uint(n % c.m.Valuations())}) + ")"
}

// checkGraph verifies reachability, terminal states and the absence of
// traps, over the nodes (state, valuation of the facts) the initial state
// reaches from every valuation a connection can open with.
func (c *checker) checkGraph() {
	nV := c.m.Valuations()
	succ := c.successors(true)
	reach := map[int]bool{}
	for _, v := range c.m.InitialValuations() {
		for n := range bfs(c.node(c.m.Initial, v), succ) {
			reach[n] = true
		}
	}
	for s, st := range c.m.States {
		reached := false
		for v := 0; v < nV; v++ {
			reached = reached || reach[c.node(s, uint(v))]
		}
		if !reached {
			c.errs.addf(st.Pos, "state %q is unreachable from the initial state %q", st.Name, c.m.States[c.m.Initial].Name)
		}
	}
	haveTerminal := false
	for s, st := range c.m.States {
		if !st.Terminal {
			continue
		}
		haveTerminal = true
	leaves:
		for v := 0; v < nV; v++ {
			for t := range succ[c.node(s, uint(v))] {
				if t/nV != s {
					c.errs.addf(st.Pos, "terminal state %q is not absorbing: it can move to %q", st.Name, c.m.States[t/nV].Name)
					break leaves
				}
			}
		}
	}
	if !haveTerminal {
		c.errs.addf(Pos{}, "no terminal state declared (mark the logout state with terminal: true)")
		return
	}
	for s, st := range c.m.States {
		for v := 0; v < nV; v++ {
			n := c.node(s, uint(v))
			if st.Terminal || !reach[n] {
				continue
			}
			ok := false
			for t := range bfs(n, succ) {
				if c.m.States[t/nV].Terminal {
					ok = true
					break
				}
			}
			if !ok {
				c.errs.addf(st.Pos, "state %q is a trap%s: no sequence of inputs leads from it to a terminal state", st.Name, c.whereText(n))
				break
			}
		}
	}
	c.checkStranded(reach)
}

// checkStranded verifies that from every live state the session can get
// back to reading commands with no tag held, without closing the
// connection: a state whose only way out is a disconnect strands clients.
func (c *checker) checkStranded(reach map[int]bool) {
	nV := c.m.Valuations()
	succ := c.successors(false)
	for s, st := range c.m.States {
		for v := 0; v < nV; v++ {
			n := c.node(s, uint(v))
			if st.Terminal || !reach[n] {
				continue
			}
			home := false
			for t := range bfs(n, succ) {
				if ts := c.m.States[t/nV]; ts.Reads == c.m.Protocol.Command && !ts.Held {
					home = true
					break
				}
			}
			if !home {
				c.errs.addf(st.Pos, "state %q is stranded%s: no input leads from it back to reading commands without closing the connection", st.Name, c.whereText(n))
				break
			}
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
	for i, f := range c.raw.Facts {
		if !c.factRead[i] {
			c.errs.addf(f.Key.Pos, "fact %q is declared but no rule's condition (when) reads it", f.Key.V)
		}
	}
	for i, g := range c.raw.Groups {
		_ = i
		if _, ok := c.groupCache[g.Key.V]; !ok {
			c.errs.addf(g.Key.Pos, "group %q is declared but never used", g.Key.V)
		}
	}
}
