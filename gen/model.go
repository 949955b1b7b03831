package gen

import (
	"fmt"
	"strings"
)

// Model is a verified spec with every name resolved to an index. The
// generators read only the Model; Load builds it or reports every problem.
type Model struct {
	// File is the spec's path as given to Load; errors and the generated
	// header name it.
	File string
	// Digest is the SHA-256 of the spec bytes, in hex.
	Digest string
	// Protocol is the spec's vocabulary.
	Protocol      Protocol
	Initial       int
	DefaultStrict bool
	States        []State
	Inputs        []Input
	Outcomes      []Outcome
	// Responses[0] is the absent response.
	Responses []Response
	// Quirks[0] is the absent quirk.
	Quirks []Quirk
	// Facts are the session facts, in spec order; fact i is bit i of a
	// valuation (a uint whose bit i is the value of fact i).
	Facts []Fact
	Rules []Rule
	// Table[state][valuation][input] holds the decision in each mode,
	// for every valuation of the facts (one, 0, when the spec declares
	// none).
	Table [][][]Cell
}

// MaxFacts is the most facts a spec may declare: the verifier checks
// every valuation, 2^len(Facts) of them.
const MaxFacts = 8

// Fact is a session fact: a boolean the engine keeps beside the state (TLS
// is active, the server allows credentials without TLS, compression is on).
// Rule conditions read facts, rule effects change them, and the verifier
// checks totality and determinism under every valuation and reachability
// over (state, valuation).
type Fact struct {
	Name, Doc string
	// Engine is true when the engine gives the fact's value when the
	// connection opens (`initial: engine`); otherwise it starts false.
	Engine bool
	Pos    Pos
}

// Cond is one conjunction of a rule's condition: the facts whose bits are
// in Mask have the values of those bits in Want.
type Cond struct {
	Mask, Want uint
}

// Holds reports whether valuation v satisfies the conjunction.
func (c Cond) Holds(v uint) bool { return v&c.Mask == c.Want }

// Effect is what a decision does to the facts: the bits in Set become
// true, those in Clear false.
type Effect struct {
	Set, Clear uint
}

// Apply returns valuation v after the effect.
func (e Effect) Apply(v uint) uint { return v&^e.Clear | e.Set }

// Valuations is the number of valuations of the facts: 2^len(Facts).
func (m *Model) Valuations() int { return 1 << len(m.Facts) }

// InitialValuations lists the valuations a connection can open with: every
// value of the engine-given facts, every other fact false.
func (m *Model) InitialValuations() []uint {
	var engine uint
	for i, f := range m.Facts {
		if f.Engine {
			engine |= 1 << i
		}
	}
	var out []uint
	for v := uint(0); v < uint(m.Valuations()); v++ {
		if v&^engine == 0 {
			out = append(out, v)
		}
	}
	return out
}

// CondText writes the facts of mask with their values in v as a `when`
// mapping, e.g. "{tls: false, plaintext-auth: true}".
func (m *Model) CondText(c Cond) string {
	var parts []string
	for i, f := range m.Facts {
		if c.Mask&(1<<i) != 0 {
			parts = append(parts, fmt.Sprintf("%s: %v", f.Name, c.Want&(1<<i) != 0))
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// WhenText writes a rule's condition as the spec would, or "" for a rule
// without one.
func (m *Model) WhenText(when []Cond) string {
	var parts []string
	for _, c := range when {
		parts = append(parts, m.CondText(c))
	}
	if len(parts) > 1 {
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return strings.Join(parts, "")
}

// EffectText writes an effect as a `fact: value` list, e.g.
// "compression: true", or "" for none.
func (m *Model) EffectText(e Effect) string {
	var parts []string
	for i, f := range m.Facts {
		switch {
		case e.Set&(1<<i) != 0:
			parts = append(parts, f.Name+": true")
		case e.Clear&(1<<i) != 0:
			parts = append(parts, f.Name+": false")
		}
	}
	return strings.Join(parts, ", ")
}

// Protocol is the spec's vocabulary, declared in its `protocol` block: the
// generator knows the verifier's concepts (reading commands, holding a
// command until it is completed, the actions and the two reply forms) and
// nothing of a particular protocol's words.
type Protocol struct {
	// Name names the protocol in generated documentation ("IMAP").
	Name string
	// Doc is the body of the generated package documentation.
	Doc string
	// Package and Dir are the generated package's name and directory
	// (slash-separated, relative to the module root); flags override them.
	Package, Dir string
	// Replies is the form of the spec's responses.
	Replies Replies
	// Reads lists the ways a state can read client lines; Kinds the kinds
	// of inputs; Attributes the boolean state attributes.
	Reads      []ReadsTerm
	Kinds      []Term
	Attributes []Attribute
	// Actions lists the actions the rules may use, in the spec's order,
	// with the spec's documentation of each.
	Actions []ActionTerm
	// Command is the index in Reads of the way of reading named command
	// (a state that reads the next command), and CommandKind the index in
	// Kinds of the kind named command.
	Command, CommandKind int
	// Held is the index in Attributes of the attribute that means held, or
	// -1 when the protocol has none.
	Held int
	// Initialisms are the protocol's abbreviations, spelled in capitals in
	// generated identifiers ("UID": InputUIDFetch).
	Initialisms []string
}

// Term is a declared name with its documentation.
type Term struct {
	Name, Doc string
}

// ReadsTerm is a way of reading client lines.
type ReadsTerm struct {
	Term
	// Commands is true when a line read this way can be a command, whose
	// reply the verifier requires.
	Commands bool
	// Origin is true when a state that reads this way must name the state
	// it returns to.
	Origin bool
}

// Attribute is a state attribute declared by the protocol: a boolean, or,
// with Values, one of a few named values (a class, such as the timer that
// applies in a state).
type Attribute struct {
	Term
	// Values are the attribute's values, in spec order, when it has
	// values; empty for a boolean attribute.
	Values []Term
	// Held marks the attribute of states in which a command waits for its
	// completion (`means: held`).
	Held bool
	// MatchOrigin requires a state with an origin to have the same value
	// as its origin.
	MatchOrigin bool
}

// ValueNames lists the names of the attribute's values.
func (a Attribute) ValueNames() []string {
	out := make([]string, len(a.Values))
	for i, v := range a.Values {
		out[i] = v.Name
	}
	return out
}

// ActionTerm is an action a spec declares, with its documentation.
type ActionTerm struct {
	Action Action
	Doc    string
}

// Replies is the form of a protocol's responses.
type Replies int

// The reply forms the generator knows.
const (
	// RepliesIMAP are IMAP status responses: a status (OK, NO, BAD, BYE,
	// PREAUTH), an optional response code from KnownResponseCodes and a
	// text; a command is answered by a tagged response.
	RepliesIMAP Replies = iota
	// RepliesSMTP are SMTP replies: a three-digit reply code (RFC 5321
	// 4.2), an enhanced status code (RFC 3463) and a text; every command
	// gets exactly one reply, and a held command (DATA in LMTP) one reply
	// per accepted recipient.
	RepliesSMTP
)

var repliesNames = []string{"imap", "smtp"}

func (r Replies) String() string { return repliesNames[r] }

// Action is what a decision does with the input.
type Action int

// The actions the verifier knows. A spec declares the ones it uses.
const (
	ActExecute Action = iota
	ActReject
	ActIgnore
	ActNotify
	ActClose
	ActRedispatch
)

var actionNames = []string{"execute", "reject", "ignore", "notify", "close", "redispatch"}

func (a Action) String() string { return actionNames[a] }

// State is one declared session state.
type State struct {
	Name     string
	Doc, Ref string
	// Reads indexes Protocol.Reads.
	Reads int
	// Held is true where a command waits for its completion (the
	// protocol's held attribute).
	Held     bool
	Terminal bool
	// Attrs holds the value of each boolean attribute of
	// Protocol.Attributes (false for attributes with values).
	Attrs []bool
	// Values holds, for each attribute with values, the index of the
	// state's value in Attribute.Values; -1 for boolean attributes.
	Values []int
	// Origin is the state a state returns to (an IDLE state to the state
	// IDLE started from), or -1.
	Origin int
	Pos    Pos
}

// Input is one declared input.
type Input struct {
	Name string
	// Kind indexes Protocol.Kinds.
	Kind int
	// Wire is the first of Wires, the command names clients send for
	// this input ("" for the catch-all command input and other kinds).
	Wire     string
	Wires    []string
	Doc, Ref string
	// Outcomes lists the outcomes a handler of this input can report.
	Outcomes []int
	// Tagged is true for inputs whose line carries a tag that the decision
	// must answer: every command, and line inputs declared `tagged`.
	Tagged bool
	Pos    Pos
}

// Outcome is one declared handler outcome.
type Outcome struct {
	Name string
	Doc  string
}

// Response is a declared reply.
type Response struct {
	// Status is an IMAP status; Code the IMAP response code or the SMTP
	// reply code; Enhanced the SMTP enhanced status code.
	Name, Status, Code, Enhanced, Text string
}

// Quirk is one declared client quirk.
type Quirk struct {
	Name, Scope, Who, Source, Doc string
	// Tolerate and Behaviour are indexed by mode: 0 lenient, 1 strict.
	Tolerate  [2]bool
	Behaviour [2]string
	// Probe says how to provoke the quirk on a live server and what a
	// server answers in each mode; nil when the quirk has no probe.
	Probe *Probe
	// Default is the quirk's mode in DefaultModes when the spec gives one
	// (0 lenient, 1 strict), else -1: the spec's default-mode.
	Default int
}

// Rule is one declared rule.
type Rule struct {
	ID, Doc, Ref string
	Quirk        int
	// When is the rule's condition on the facts, a disjunction of
	// conjunctions; nil means the rule applies whatever the facts.
	When []Cond
	Pos  Pos
}

// Applies reports whether the rule decides under valuation v.
func (r Rule) Applies(v uint) bool {
	if r.When == nil {
		return true
	}
	for _, c := range r.When {
		if c.Holds(v) {
			return true
		}
	}
	return false
}

// Decision is what the machine does for one state, input and mode.
type Decision struct {
	Rule    int
	Action  Action
	Reply   int
	Pending int
	Quirk   int
	// Next holds the next state per outcome index.
	Next []int
	// Effects holds the effect on the facts per outcome index.
	Effects []Effect
}

// Cell holds the decisions of one state × input: [0] lenient, [1] strict.
type Cell [2]Decision

// NextStates lists the distinct states a decision can lead to for the
// outcomes the input can produce.
func (m *Model) NextStates(d Decision, in int) []int {
	var out []int
	seen := map[int]bool{}
	outs := []int{0}
	if d.Action == ActExecute {
		outs = m.Inputs[in].Outcomes
	}
	for _, o := range outs {
		s := d.Next[o]
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// ReadsCommands reports whether state s reads lines that can be commands.
func (m *Model) ReadsCommands(s int) bool { return m.Protocol.Reads[m.States[s].Reads].Commands }

// IsCommand reports whether input in is a command.
func (m *Model) IsCommand(in int) bool { return m.Inputs[in].Kind == m.Protocol.CommandKind }

// ReadsName is the name of the way state s reads lines.
func (m *Model) ReadsName(s int) string { return m.Protocol.Reads[m.States[s].Reads].Name }

// KindName is the name of input in's kind.
func (m *Model) KindName(in int) string { return m.Protocol.Kinds[m.Inputs[in].Kind].Name }
