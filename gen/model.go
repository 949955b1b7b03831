package gen

// Model is a verified spec with every name resolved to an index. The
// generators read only the Model; Load builds it or reports every problem.
type Model struct {
	// File is the spec's path as given to Load; errors and the generated
	// header name it.
	File string
	// Digest is the SHA-256 of the spec bytes, in hex.
	Digest        string
	Initial       int
	DefaultStrict bool
	States        []State
	Inputs        []Input
	Outcomes      []Outcome
	// Responses[0] is the absent response.
	Responses []Response
	// Quirks[0] is the absent quirk.
	Quirks []Quirk
	Rules  []Rule
	// Table[state][input] holds the decision in each mode.
	Table [][]Cell
}

// Reads says how a state classifies the next client line.
type Reads int

// The ways a state reads client lines.
const (
	ReadsNone Reads = iota
	ReadsCommand
	ReadsIdle
	ReadsSASL
)

var readsNames = []string{"none", "command", "idle", "sasl"}

func (r Reads) String() string { return readsNames[r] }

// InputKind classifies inputs by where they come from.
type InputKind int

// The input kinds.
const (
	KindCommand InputKind = iota
	KindLine
	KindIdle
	KindSASL
	KindEvent
)

var kindNames = []string{"command", "line", "idle", "sasl", "event"}

func (k InputKind) String() string { return kindNames[k] }

// Action is what a decision does with the input.
type Action int

// The actions, in the order the generated code numbers them.
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
	Reads    Reads
	HoldsTag bool
	Terminal bool
	// Authenticated is true where a user is logged in: the engine applies
	// the autologout timer and the post-login limits there.
	Authenticated bool
	// Origin is the state an IDLE state returns to, or -1.
	Origin int
	Pos    Pos
}

// Input is one declared input.
type Input struct {
	Name     string
	Kind     InputKind
	Wire     string
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
	Name, Status, Code, Text string
}

// Quirk is one declared client quirk.
type Quirk struct {
	Name, Scope, Who, Source, Doc string
	// Tolerate and Behaviour are indexed by mode: 0 lenient, 1 strict.
	Tolerate  [2]bool
	Behaviour [2]string
}

// Rule is one declared rule.
type Rule struct {
	ID, Doc, Ref string
	Quirk        int
	Pos          Pos
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
