// Package oracle reads a session spec (spec/imap.yaml, spec/lmtp.yaml) on its
// own and says what the spec decides for a state, an input and a mode. The
// spec's protocol block gives it the ways of reading, the input kinds, the
// attribute that means held and the default outcomes.
//
// It shares no code with the generator in gen/: it decodes the YAML into its
// own structs, expands groups, and resolves `stay`, `origin`, `otherwise`,
// the lenient/strict blocks of quirk rules, and the session facts (a rule's
// `when` condition and its `effect`) itself. The property tests compare
// the generated machine against it, so a generator bug that mistranslates the
// spec shows up as a disagreement instead of being copied into the reference.
//
// The oracle interprets the spec; it does not judge it. Whether the decisions
// it reads are sound (every tag answered, IDLE returning to its origin, ...)
// is what the properties check.
package oracle

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Mode selects the behaviour of a quirk rule.
type Mode int

// The two modes, numbered as the spec lists them.
const (
	Lenient Mode = iota
	Strict
)

// String returns the mode's name as the spec writes it.
func (m Mode) String() string {
	if m == Strict {
		return "strict"
	}
	return "lenient"
}

// Actions are the values of a rule's `do`, in the order the spec's vocabulary
// lists them.
var Actions = []string{"execute", "reject", "ignore", "notify", "close", "redispatch"}

// The action names the properties need to tell apart.
const (
	ActionExecute    = "execute"
	ActionRedispatch = "redispatch"
	ActionClose      = "close"
)

// Spec is the spec as the oracle reads it. Slices keep the spec's order.
type Spec struct {
	Initial     string
	DefaultMode Mode
	// Reads and Kinds are the protocol's ways of reading lines and input
	// kinds, in spec order.
	Reads, Kinds []string
	States       []State
	Inputs       []Input
	Outcomes     []string
	Responses    []Response
	Quirks       []Quirk
	// Facts are the session facts, in spec order.
	Facts []Fact
	Rules []Rule

	stateIdx map[string]int
	inputIdx map[string]int
	// cands[state][input] lists the rules that decide the cell, each with
	// its decision in each mode; exactly one applies under any facts.
	cands [][][]candidate
}

// candidate is one rule deciding a state × input under its condition.
type candidate struct {
	rule int
	cell Cell
}

// Fact is a declared session fact.
type Fact struct {
	Name string
	// Engine is true when the engine gives the value when a connection
	// opens (`initial: engine`); otherwise the fact starts false.
	Engine bool
}

// Facts is a valuation of the facts: the names of those that are true. A
// fact it does not name is false.
type Facts map[string]bool

// State is a declared session state.
type State struct {
	Name string
	// Reads is how the next client line is classified: command, idle, sasl
	// or none.
	Reads    string
	HoldsTag bool
	Terminal bool
	// Origin is the state an IDLE state returns to, or "".
	Origin string
}

// Input is a declared input.
type Input struct {
	Name string
	// Kind is command, line, idle, sasl or event.
	Kind string
	// Wire is the command name as clients send it, or "".
	Wire string
	// Wires lists every name of the command, Wire first.
	Wires []string
	// Outcomes lists what a handler of this input can report.
	Outcomes []string
	// Tagged is true when the input's line carries a tag to answer: a
	// command, or a line input declared `tagged: true`.
	Tagged bool
}

// Response is a declared reply.
type Response struct {
	Name, Status, Code, Enhanced, Text string
}

// Quirk is a declared client quirk.
type Quirk struct {
	Name  string
	Scope string
	// Default is the quirk's own default mode ("lenient", "strict") or "".
	Default string
	// Tolerate is indexed by Mode.
	Tolerate [2]bool
}

// Rule is a declared rule with its groups expanded.
type Rule struct {
	ID     string
	Quirk  string
	States []string
	Inputs []string
	// Split is true when the rule has lenient and strict blocks.
	Split bool
	// When is the rule's condition: the rule decides when the facts match
	// one of the mappings entirely. Empty: whatever the facts.
	When []map[string]bool
}

// Applies reports whether the rule decides under facts f.
func (r Rule) Applies(f Facts) bool {
	if len(r.When) == 0 {
		return true
	}
	for _, term := range r.When {
		holds := true
		for name, want := range term {
			if f[name] != want {
				holds = false
			}
		}
		if holds {
			return true
		}
	}
	return false
}

// Decision is what the spec says to do for one state, input and mode.
type Decision struct {
	Rule   string
	Quirk  string
	Action string
	// Reply and Pending are response names, or "".
	Reply   string
	Pending string
	// Next maps an outcome to the next state. For execute it has an entry for
	// every outcome the input can produce; for the other actions the handler
	// does not run and every declared outcome maps to the same state.
	Next map[string]string
	// Effects maps an outcome to the facts the decision sets (name to new
	// value), like Next; outcomes without an effect have no entry.
	Effects map[string]map[string]bool
}

// Equal reports whether d and e decide the same.
func (d Decision) Equal(e Decision) bool {
	if len(d.Effects) != len(e.Effects) {
		return false
	}
	for o, set := range d.Effects {
		other, ok := e.Effects[o]
		if !ok || len(set) != len(other) {
			return false
		}
		for f, v := range set {
			if w, ok := other[f]; !ok || w != v {
				return false
			}
		}
	}
	return d.Rule == e.Rule && d.Quirk == e.Quirk && d.Action == e.Action &&
		d.Reply == e.Reply && d.Pending == e.Pending && mapsEqual(d.Next, e.Next)
}

// After returns the facts after the decision when the handler reports
// outcome o.
func (d Decision) After(f Facts, o string) Facts {
	out := Facts{}
	for k, v := range f {
		if v {
			out[k] = true
		}
	}
	for k, v := range d.Effects[o] {
		if v {
			out[k] = true
		} else {
			delete(out, k)
		}
	}
	return out
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Cell is what the spec decides for one state × input in both modes.
type Cell struct {
	// Quirk is the quirk whose mode selects the decision, or "".
	Quirk string
	// ByMode is indexed by Mode.
	ByMode [2]Decision
}

// Split reports whether the decision depends on the mode.
func (c Cell) Split() bool { return !c.ByMode[Lenient].Equal(c.ByMode[Strict]) }

// Parse reads a spec. It reports every problem it finds that keeps it from
// deciding some state × input: unknown names, group cycles, a state × input
// decided by no rule or by two, a next state it cannot resolve.
func Parse(data []byte) (*Spec, error) {
	var raw rawSpec
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("decode spec: %w", err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("decode spec: %w", err)
	}
	order := sectionOrder(&root)
	p := &parser{raw: &raw, order: order, s: &Spec{}}
	p.run()
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return p.s, nil
}

// sectionOrder returns, per top-level mapping section, its keys in file order.
func sectionOrder(root *yaml.Node) map[string][]string {
	out := map[string][]string{}
	doc := root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		doc = doc.Content[0]
	}
	if doc.Kind != yaml.MappingNode {
		return out
	}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		key, val := doc.Content[i].Value, doc.Content[i+1]
		if val.Kind != yaml.MappingNode {
			continue
		}
		for j := 0; j+1 < len(val.Content); j += 2 {
			out[key] = append(out[key], val.Content[j].Value)
			// One level down too, for the protocol's reads and kinds.
			if sub := val.Content[j+1]; sub.Kind == yaml.MappingNode {
				for k := 0; k+1 < len(sub.Content); k += 2 {
					out[key+"."+val.Content[j].Value] = append(out[key+"."+val.Content[j].Value], sub.Content[k].Value)
				}
			}
		}
	}
	return out
}

type parser struct {
	raw   *rawSpec
	order map[string][]string
	s     *Spec
	errs  []error
	// groups caches expanded groups; a nil entry marks one being expanded.
	groups map[string][]string
}

func (p *parser) errorf(format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf(format, args...))
}

func (p *parser) run() {
	r, s := p.raw, p.s
	if r.Version != 1 {
		p.errorf("version %d: the oracle reads version 1", r.Version)
	}
	switch r.DefaultMode {
	case "", "lenient":
		s.DefaultMode = Lenient
	case "strict":
		s.DefaultMode = Strict
	default:
		p.errorf("default-mode %q is neither lenient nor strict", r.DefaultMode)
	}
	s.Outcomes = p.order["outcomes"]
	s.Reads = p.order["protocol.reads"]
	s.Kinds = p.order["protocol.kinds"]
	held := ""
	for name, a := range r.Protocol.Attributes {
		if a.Means == "held" {
			held = name
		}
	}
	s.stateIdx = map[string]int{}
	for _, name := range p.order["states"] {
		rs := r.States[name]
		if !slices.Contains(s.Reads, rs.Reads) {
			p.errorf("state %q: reads %q is not one of %s", name, rs.Reads, strings.Join(s.Reads, ", "))
		}
		for a, v := range rs.Attrs {
			attr, ok := r.Protocol.Attributes[a]
			if !ok {
				p.errorf("state %q: %q is neither a state key nor an attribute of the protocol", name, a)
				continue
			}
			switch v := v.(type) {
			case bool:
				if len(attr.Values) > 0 {
					p.errorf("state %q: %s takes one of its values, not %v", name, a, v)
				}
			case string:
				if _, ok := attr.Values[v]; !ok {
					p.errorf("state %q: %s %q is not one of its values", name, a, v)
				}
			default:
				p.errorf("state %q: %s must be true, false or a value", name, a)
			}
		}
		for a, attr := range r.Protocol.Attributes {
			if _, given := rs.Attrs[a]; len(attr.Values) > 0 && !given {
				p.errorf("state %q: missing %s", name, a)
			}
		}
		s.stateIdx[name] = len(s.States)
		s.States = append(s.States, State{Name: name, Reads: rs.Reads, HoldsTag: held != "" && rs.Attrs[held] == true, Terminal: rs.Terminal, Origin: rs.Origin})
	}
	for _, st := range s.States {
		if _, ok := s.stateIdx[st.Origin]; st.Origin != "" && !ok {
			p.errorf("state %q: origin %q is not a state", st.Name, st.Origin)
		}
	}
	if _, ok := s.stateIdx[r.Initial]; !ok {
		p.errorf("initial state %q is not a state", r.Initial)
	}
	s.Initial = r.Initial
	s.inputIdx = map[string]int{}
	for _, name := range p.order["inputs"] {
		ri := r.Inputs[name]
		if !slices.Contains(s.Kinds, ri.Kind) {
			p.errorf("input %q: kind %q is not one of %s", name, ri.Kind, strings.Join(s.Kinds, ", "))
		}
		if ri.Tagged && ri.Kind == "command" {
			p.errorf("input %q: a command always carries its tag; tagged is for other kinds", name)
		}
		outs := ri.Outcomes
		if len(outs) == 0 {
			// An input that lists no outcomes has the protocol's default
			// outcomes, or every outcome when it declares none.
			outs = r.Protocol.DefaultOutcomes
			if len(outs) == 0 {
				outs = s.Outcomes
			}
		}
		for _, o := range outs {
			if !slices.Contains(s.Outcomes, o) {
				p.errorf("input %q: outcome %q is not declared", name, o)
			}
		}
		s.inputIdx[name] = len(s.Inputs)
		in := Input{Name: name, Kind: ri.Kind, Wires: slices.Clone([]string(ri.Wire)), Outcomes: slices.Clone(outs), Tagged: ri.Kind == "command" || ri.Tagged}
		if len(in.Wires) > 0 {
			in.Wire = in.Wires[0]
		}
		s.Inputs = append(s.Inputs, in)
	}
	for _, name := range p.order["responses"] {
		rr := r.Responses[name]
		s.Responses = append(s.Responses, Response{Name: name, Status: rr.Status, Code: rr.Code, Enhanced: rr.Enhanced, Text: rr.Text})
	}
	for _, name := range p.order["quirks"] {
		rq := r.Quirks[name]
		q := Quirk{Name: name, Scope: rq.Scope, Default: rq.Default}
		if rq.Lenient != nil {
			q.Tolerate[Lenient] = rq.Lenient.Tolerate
		}
		if rq.Strict != nil {
			q.Tolerate[Strict] = rq.Strict.Tolerate
		}
		s.Quirks = append(s.Quirks, q)
	}
	for _, name := range p.order["facts"] {
		rf := r.Facts[name]
		switch rf.Initial {
		case "false", "engine":
		default:
			p.errorf("fact %q: initial %q is neither false nor engine", name, rf.Initial)
		}
		s.Facts = append(s.Facts, Fact{Name: name, Engine: rf.Initial == "engine"})
	}
	p.groups = map[string][]string{}
	p.rules()
}

func (p *parser) hasFact(name string) bool {
	return slices.ContainsFunc(p.s.Facts, func(f Fact) bool { return f.Name == name })
}

// Valuations lists every valuation of the facts (2^len(Facts) of them), the
// all-false one first.
func (s *Spec) Valuations() []Facts {
	out := []Facts{}
	for v := 0; v < 1<<len(s.Facts); v++ {
		f := Facts{}
		for i, x := range s.Facts {
			if v&(1<<i) != 0 {
				f[x.Name] = true
			}
		}
		out = append(out, f)
	}
	return out
}

// OpeningValuations lists the valuations a connection can open with: any
// value of the engine-given facts, the others false.
func (s *Spec) OpeningValuations() []Facts {
	var out []Facts
	for _, f := range s.Valuations() {
		ok := true
		for _, x := range s.Facts {
			if f[x.Name] && !x.Engine {
				ok = false
			}
		}
		if ok {
			out = append(out, f)
		}
	}
	return out
}

// factsText writes a valuation for an error message.
func (s *Spec) factsText(f Facts) string {
	var parts []string
	for _, x := range s.Facts {
		parts = append(parts, fmt.Sprintf("%s=%v", x.Name, f[x.Name]))
	}
	return strings.Join(parts, " ")
}

func (p *parser) hasResponse(name string) bool {
	return slices.ContainsFunc(p.s.Responses, func(r Response) bool { return r.Name == name })
}

func (p *parser) hasQuirk(name string) bool {
	return slices.ContainsFunc(p.s.Quirks, func(q Quirk) bool { return q.Name == name })
}

// expand turns the names of a rule's `in` or `on` into states or inputs.
func (p *parser) expand(rule, field string, names []string, isMember func(string) bool) []string {
	var out []string
	for _, n := range names {
		for _, m := range p.expandName(n, nil) {
			if !isMember(m) {
				p.errorf("rule %q: %s: %q is not a %s", rule, field, m, map[string]string{"in": "state", "on": "input"}[field])
				continue
			}
			if !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
	}
	return out
}

// expandName expands a group recursively; other names stand for themselves.
func (p *parser) expandName(name string, path []string) []string {
	members, isGroup := p.raw.Groups[name]
	if !isGroup {
		return []string{name}
	}
	if done, ok := p.groups[name]; ok {
		if done == nil {
			p.errorf("group %q contains itself: %s", name, strings.Join(append(path, name), " → "))
			return nil
		}
		return done
	}
	p.groups[name] = nil
	out := []string{}
	for _, m := range members {
		for _, x := range p.expandName(m, append(path, name)) {
			if !slices.Contains(out, x) {
				out = append(out, x)
			}
		}
	}
	p.groups[name] = out
	return out
}

func (p *parser) rules() {
	s := p.s
	owner := make([][][]int, len(s.States))
	for i := range owner {
		owner[i] = make([][]int, len(s.Inputs))
	}
	behaviours := make([][2]*rawBehaviour, len(p.raw.Rules))
	for ri, rr := range p.raw.Rules {
		rule := Rule{ID: rr.ID, Quirk: rr.Quirk, When: rr.When}
		for _, term := range rr.When {
			if len(term) == 0 {
				p.errorf("rule %q: when: an empty condition", rr.ID)
			}
			for name := range term {
				if !p.hasFact(name) {
					p.errorf("rule %q: when: %q is not a declared fact", rr.ID, name)
				}
			}
		}
		if rr.Quirk != "" && !p.hasQuirk(rr.Quirk) {
			p.errorf("rule %q: quirk %q is not declared", rr.ID, rr.Quirk)
		}
		rule.States = p.expand(rr.ID, "in", rr.In, func(n string) bool { _, ok := s.stateIdx[n]; return ok })
		rule.Inputs = p.expand(rr.ID, "on", rr.On, func(n string) bool { _, ok := s.inputIdx[n]; return ok })
		top := &rawBehaviour{Do: rr.Do, Reply: rr.Reply, Pending: rr.Pending, Next: rr.Next, Effect: rr.Effect}
		switch {
		case rr.Lenient == nil && rr.Strict == nil:
			behaviours[ri] = [2]*rawBehaviour{top, top}
		case rr.Lenient == nil || rr.Strict == nil:
			p.errorf("rule %q: a mode-dependent rule needs both a lenient and a strict block", rr.ID)
			behaviours[ri] = [2]*rawBehaviour{top, top}
		default:
			if rr.Do != "" || rr.Reply != "" || rr.Pending != "" || rr.Next != nil || rr.Effect != nil {
				p.errorf("rule %q: do, reply, pending, next and effect belong inside its lenient and strict blocks", rr.ID)
			}
			if rr.Quirk == "" {
				p.errorf("rule %q: a mode-dependent rule must name its quirk", rr.ID)
			}
			rule.Split = true
			behaviours[ri] = [2]*rawBehaviour{rr.Lenient, rr.Strict}
		}
		for _, st := range rule.States {
			for _, in := range rule.Inputs {
				si, ii := s.stateIdx[st], s.inputIdx[in]
				owner[si][ii] = append(owner[si][ii], ri)
			}
		}
		s.Rules = append(s.Rules, rule)
	}
	// Under every valuation of the facts exactly one rule decides each
	// state × input.
	valuations := s.Valuations()
	s.cands = make([][][]candidate, len(s.States))
	for si, st := range s.States {
		s.cands[si] = make([][]candidate, len(s.Inputs))
		for ii, in := range s.Inputs {
			reported := false
			for _, f := range valuations {
				var deciding []string
				for _, ri := range owner[si][ii] {
					if s.Rules[ri].Applies(f) {
						deciding = append(deciding, fmt.Sprintf("rule %q", s.Rules[ri].ID))
					}
				}
				when := ""
				if len(s.Facts) > 0 {
					when = " when " + s.factsText(f)
				}
				switch {
				case reported:
				case len(deciding) == 0:
					p.errorf("%s × %s is decided by no rule%s", st.Name, in.Name, when)
					reported = true
				case len(deciding) > 1:
					p.errorf("%s × %s is decided by %s%s", st.Name, in.Name, strings.Join(deciding, " and by "), when)
					reported = true
				}
			}
			for _, ri := range owner[si][ii] {
				rule := s.Rules[ri]
				cell := Cell{Quirk: rule.Quirk}
				for m := Lenient; m <= Strict; m++ {
					cell.ByMode[m] = p.decide(rule, behaviours[ri][m], st, in)
				}
				s.cands[si][ii] = append(s.cands[si][ii], candidate{rule: ri, cell: cell})
			}
		}
	}
}

// decide resolves one behaviour of a rule for one state and input.
func (p *parser) decide(rule Rule, b *rawBehaviour, st State, in Input) Decision {
	d := Decision{Rule: rule.ID, Quirk: rule.Quirk, Action: b.Do, Reply: b.Reply, Pending: b.Pending, Next: map[string]string{}}
	where := fmt.Sprintf("rule %q (%s × %s)", rule.ID, st.Name, in.Name)
	if !slices.Contains(Actions, b.Do) {
		p.errorf("%s: do %q is not one of %s", where, b.Do, strings.Join(Actions, ", "))
	}
	for _, resp := range []string{b.Reply, b.Pending} {
		if resp != "" && !p.hasResponse(resp) {
			p.errorf("%s: response %q is not declared", where, resp)
		}
	}
	resolve := func(target string) string {
		switch target {
		case "stay":
			return st.Name
		case "origin":
			if st.Origin == "" {
				p.errorf("%s: next is origin, but %s has none", where, st.Name)
				return st.Name
			}
			return st.Origin
		}
		if _, ok := p.s.stateIdx[target]; !ok {
			p.errorf("%s: next state %q is not declared", where, target)
			return st.Name
		}
		return target
	}
	d.Effects = p.effects(where, b, in)
	if b.Do != ActionExecute {
		target := st.Name
		if b.Next != nil {
			if b.Next.Map != nil {
				p.errorf("%s: %s runs no handler, so next cannot depend on an outcome", where, b.Do)
			} else {
				target = resolve(b.Next.State)
			}
		}
		for _, o := range p.s.Outcomes {
			d.Next[o] = target
		}
		return d
	}
	if b.Next == nil {
		p.errorf("%s: execute needs next", where)
		return d
	}
	for _, o := range in.Outcomes {
		switch {
		case b.Next.Map == nil:
			d.Next[o] = resolve(b.Next.State)
		case b.Next.has(o):
			d.Next[o] = resolve(b.Next.get(o))
		case b.Next.has("otherwise"):
			d.Next[o] = resolve(b.Next.get("otherwise"))
		default:
			p.errorf("%s: the handler can end with %q, but next names no state for it", where, o)
		}
	}
	return d
}

// effects resolves a behaviour's effect on the facts per outcome: for every
// declared outcome when it gives fact values directly, for the outcomes it
// names (and `otherwise` for the input's other outcomes) when it is per
// outcome, which only execute may be.
func (p *parser) effects(where string, b *rawBehaviour, in Input) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	if b.Effect == nil {
		return out
	}
	check := func(set map[string]bool) map[string]bool {
		for name := range set {
			if !p.hasFact(name) {
				p.errorf("%s: effect: %q is not a declared fact", where, name)
			}
		}
		return set
	}
	if b.Effect.ByOutcome == nil {
		set := check(b.Effect.All)
		if len(set) > 0 {
			for _, o := range p.s.Outcomes {
				out[o] = set
			}
		}
		return out
	}
	if b.Do != ActionExecute {
		p.errorf("%s: %s runs no handler, so its effect cannot depend on an outcome", where, b.Do)
	}
	for o := range b.Effect.ByOutcome {
		if o != "otherwise" && !slices.Contains(p.s.Outcomes, o) {
			p.errorf("%s: effect: %q is not a declared outcome", where, o)
		}
	}
	for _, o := range in.Outcomes {
		set, ok := b.Effect.ByOutcome[o]
		if !ok {
			set = b.Effect.ByOutcome["otherwise"]
		}
		if len(check(set)) > 0 {
			out[o] = set
		}
	}
	return out
}

// State returns the named state.
func (s *Spec) State(name string) (State, bool) {
	i, ok := s.stateIdx[name]
	if !ok {
		return State{}, false
	}
	return s.States[i], true
}

// Input returns the named input.
func (s *Spec) Input(name string) (Input, bool) {
	i, ok := s.inputIdx[name]
	if !ok {
		return Input{}, false
	}
	return s.Inputs[i], true
}

// Cell returns what the spec decides for state × input in both modes, with
// every fact false.
func (s *Spec) Cell(state, input string) (Cell, error) { return s.CellUnder(state, input, nil) }

// CellUnder returns what the spec decides for state × input in both modes
// when the facts are f.
func (s *Spec) CellUnder(state, input string, f Facts) (Cell, error) {
	si, ok := s.stateIdx[state]
	if !ok {
		return Cell{}, fmt.Errorf("no state %q in the spec", state)
	}
	ii, ok := s.inputIdx[input]
	if !ok {
		return Cell{}, fmt.Errorf("no input %q in the spec", input)
	}
	for _, c := range s.cands[si][ii] {
		if s.Rules[c.rule].Applies(f) {
			return c.cell, nil
		}
	}
	return Cell{}, fmt.Errorf("no rule decides %s × %s", state, input)
}

// FactsRead returns the facts the rules deciding state × input read: the cell
// depends on the facts exactly when this is not empty.
func (s *Spec) FactsRead(state, input string) []string {
	si, ii := s.stateIdx[state], s.inputIdx[input]
	var out []string
	for _, c := range s.cands[si][ii] {
		for _, term := range s.Rules[c.rule].When {
			for name := range term {
				if !slices.Contains(out, name) {
					out = append(out, name)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// Decide returns the decision for state × input, with every fact false,
// when the quirk that governs the cell is in mode m (the mode does not
// matter for rules without a quirk).
func (s *Spec) Decide(state, input string, m Mode) (Decision, error) {
	return s.DecideUnder(state, input, nil, m)
}

// DecideUnder is Decide when the facts are f.
func (s *Spec) DecideUnder(state, input string, f Facts, m Mode) (Decision, error) {
	c, err := s.CellUnder(state, input, f)
	if err != nil {
		return Decision{}, err
	}
	return c.ByMode[m], nil
}
