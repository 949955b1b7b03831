package oracle

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// The raw structs mirror the YAML keys. Decoding rejects unknown keys, so a
// key the oracle does not understand cannot silently change a decision.

type rawSpec struct {
	Version     int                    `yaml:"version"`
	Protocol    rawProtocol            `yaml:"protocol"`
	Initial     string                 `yaml:"initial"`
	DefaultMode string                 `yaml:"default-mode"`
	States      map[string]rawState    `yaml:"states"`
	Outcomes    map[string]rawDoc      `yaml:"outcomes"`
	Inputs      map[string]rawInput    `yaml:"inputs"`
	Groups      map[string][]string    `yaml:"groups"`
	Responses   map[string]rawResponse `yaml:"responses"`
	Quirks      map[string]rawQuirk    `yaml:"quirks"`
	Facts       map[string]rawFact     `yaml:"facts"`
	Rules       []rawRule              `yaml:"rules"`
}

// rawFact is a session fact: `initial` is false or engine.
type rawFact struct {
	Doc     string `yaml:"doc"`
	Initial string `yaml:"initial"`
}

// rawWhen is a rule's condition: a mapping of fact to value, or a list of
// such mappings; the rule decides when any mapping holds entirely.
type rawWhen []map[string]bool

// UnmarshalYAML accepts a mapping or a list of mappings.
func (w *rawWhen) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind == yaml.MappingNode {
		var one map[string]bool
		if err := node.Decode(&one); err != nil {
			return err
		}
		*w = rawWhen{one}
		return nil
	}
	var many []map[string]bool
	if err := node.Decode(&many); err != nil {
		return err
	}
	if len(many) == 0 {
		return fmt.Errorf("line %d: when: an empty list", node.Line)
	}
	*w = many
	return nil
}

// rawEffect is what a rule does to facts: fact → value for every outcome
// (All), or outcome → (fact → value) (ByOutcome, `otherwise` for the rest).
type rawEffect struct {
	All       map[string]bool
	ByOutcome map[string]map[string]bool
}

// UnmarshalYAML tells the two forms apart by their values.
func (e *rawEffect) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: effect must be a mapping", node.Line)
	}
	if err := node.Decode(&e.All); err == nil {
		return nil
	}
	e.All = nil
	return node.Decode(&e.ByOutcome)
}

type rawDoc struct {
	Doc string `yaml:"doc"`
}

// rawProtocol is the spec's vocabulary. The oracle needs the names of the
// ways of reading and of the input kinds, which attribute means held, and
// the default outcomes; the rest only documents the generated package.
type rawProtocol struct {
	Name            string                  `yaml:"name"`
	Doc             string                  `yaml:"doc"`
	Package         string                  `yaml:"package"`
	Dir             string                  `yaml:"dir"`
	Replies         string                  `yaml:"replies"`
	Reads           map[string]rawReads     `yaml:"reads"`
	Kinds           map[string]string       `yaml:"kinds"`
	Attributes      map[string]rawAttribute `yaml:"attributes"`
	Actions         map[string]string       `yaml:"actions"`
	DefaultOutcomes []string                `yaml:"default-outcomes"`
	Initialisms     []string                `yaml:"initialisms"`
}

type rawReads struct {
	Doc      string `yaml:"doc"`
	Commands bool   `yaml:"commands"`
	Origin   bool   `yaml:"origin"`
}

type rawAttribute struct {
	Doc         string `yaml:"doc"`
	Means       string `yaml:"means"`
	MatchOrigin bool   `yaml:"match-origin"`
	// Values name the values of an attribute that is not a boolean.
	Values map[string]string `yaml:"values"`
}

type rawState struct {
	Doc      string `yaml:"doc"`
	Ref      string `yaml:"ref"`
	Reads    string `yaml:"reads"`
	Origin   string `yaml:"origin"`
	Terminal bool   `yaml:"terminal"`
	// Attrs holds the protocol's state attributes (holds-tag,
	// authenticated, timer, ...): true or false, or one of an attribute's
	// values. The oracle reads the one that means held and checks that
	// the others are declared and have a value of the right kind.
	Attrs map[string]any `yaml:",inline"`
}

// rawWire is `wire: NAME` or `wire: [NAME, ...]`.
type rawWire []string

// UnmarshalYAML accepts a name or a list of names.
func (w *rawWire) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind == yaml.ScalarNode {
		*w = rawWire{node.Value}
		return nil
	}
	var names []string
	if err := node.Decode(&names); err != nil {
		return err
	}
	*w = names
	return nil
}

type rawInput struct {
	Kind     string   `yaml:"kind"`
	Wire     rawWire  `yaml:"wire"`
	Doc      string   `yaml:"doc"`
	Ref      string   `yaml:"ref"`
	Outcomes []string `yaml:"outcomes"`
	Tagged   bool     `yaml:"tagged"`
}

type rawResponse struct {
	Status   string `yaml:"status"`
	Code     string `yaml:"code"`
	Enhanced string `yaml:"enhanced"`
	Text     string `yaml:"text"`
}

type rawQuirk struct {
	Scope   string        `yaml:"scope"`
	Default string        `yaml:"default"`
	Who     string        `yaml:"who"`
	Source  string        `yaml:"source"`
	Doc     string        `yaml:"doc"`
	Lenient *rawTolerance `yaml:"lenient"`
	Strict  *rawTolerance `yaml:"strict"`
	// Probe is how a prober provokes the quirk on a live server; it
	// decides nothing in the machine, so the oracle keeps it opaque.
	Probe yaml.Node `yaml:"probe"`
}

type rawTolerance struct {
	Tolerate bool   `yaml:"tolerate"`
	Doc      string `yaml:"doc"`
}

type rawRule struct {
	ID      string        `yaml:"id"`
	Doc     string        `yaml:"doc"`
	Ref     string        `yaml:"ref"`
	In      []string      `yaml:"in"`
	On      []string      `yaml:"on"`
	Quirk   string        `yaml:"quirk"`
	Do      string        `yaml:"do"`
	Reply   string        `yaml:"reply"`
	Pending string        `yaml:"pending"`
	Next    *rawNext      `yaml:"next"`
	When    rawWhen       `yaml:"when"`
	Effect  *rawEffect    `yaml:"effect"`
	Lenient *rawBehaviour `yaml:"lenient"`
	Strict  *rawBehaviour `yaml:"strict"`
}

// rawBehaviour is what a rule does (in one mode).
type rawBehaviour struct {
	Do      string     `yaml:"do"`
	Reply   string     `yaml:"reply"`
	Pending string     `yaml:"pending"`
	Next    *rawNext   `yaml:"next"`
	Effect  *rawEffect `yaml:"effect"`
}

// rawNext is `next: <state>` or `next: {<outcome>: <state>, otherwise: <state>}`.
type rawNext struct {
	State string
	// Map holds outcome/state pairs in file order; nil for the scalar form.
	Map [][2]string
}

func (n *rawNext) has(outcome string) bool {
	for _, kv := range n.Map {
		if kv[0] == outcome {
			return true
		}
	}
	return false
}

func (n *rawNext) get(outcome string) string {
	for _, kv := range n.Map {
		if kv[0] == outcome {
			return kv[1]
		}
	}
	return ""
}

// UnmarshalYAML accepts a scalar state or a mapping of outcomes to states.
func (n *rawNext) UnmarshalYAML(node *yaml.Node) error {
	switch node.Kind {
	case yaml.ScalarNode:
		n.State = node.Value
		return nil
	case yaml.MappingNode:
		n.Map = [][2]string{}
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, v := node.Content[i], node.Content[i+1]
			if v.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: next: the state for %q must be a name", v.Line, k.Value)
			}
			if n.has(k.Value) {
				return fmt.Errorf("line %d: next: %q given twice", k.Line, k.Value)
			}
			n.Map = append(n.Map, [2]string{k.Value, v.Value})
		}
		return nil
	}
	return fmt.Errorf("line %d: next must be a state or a map of outcomes to states", node.Line)
}
