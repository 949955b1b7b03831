package oracle

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// The raw structs mirror the YAML keys. Decoding rejects unknown keys, so a
// key the oracle does not understand cannot silently change a decision.

type rawSpec struct {
	Version     int                    `yaml:"version"`
	Initial     string                 `yaml:"initial"`
	DefaultMode string                 `yaml:"default-mode"`
	States      map[string]rawState    `yaml:"states"`
	Outcomes    map[string]rawDoc      `yaml:"outcomes"`
	Inputs      map[string]rawInput    `yaml:"inputs"`
	Groups      map[string][]string    `yaml:"groups"`
	Responses   map[string]rawResponse `yaml:"responses"`
	Quirks      map[string]rawQuirk    `yaml:"quirks"`
	Rules       []rawRule              `yaml:"rules"`
}

type rawDoc struct {
	Doc string `yaml:"doc"`
}

type rawState struct {
	Doc      string `yaml:"doc"`
	Ref      string `yaml:"ref"`
	Reads    string `yaml:"reads"`
	HoldsTag bool   `yaml:"holds-tag"`
	// Authenticated only selects timers and limits in the engine; the
	// oracle reads it to accept the spec and ignores it.
	Authenticated bool   `yaml:"authenticated"`
	Origin        string `yaml:"origin"`
	Terminal      bool   `yaml:"terminal"`
}

type rawInput struct {
	Kind     string   `yaml:"kind"`
	Wire     string   `yaml:"wire"`
	Doc      string   `yaml:"doc"`
	Ref      string   `yaml:"ref"`
	Outcomes []string `yaml:"outcomes"`
	Tagged   bool     `yaml:"tagged"`
}

type rawResponse struct {
	Status string `yaml:"status"`
	Code   string `yaml:"code"`
	Text   string `yaml:"text"`
}

type rawQuirk struct {
	Scope   string        `yaml:"scope"`
	Who     string        `yaml:"who"`
	Source  string        `yaml:"source"`
	Doc     string        `yaml:"doc"`
	Lenient *rawTolerance `yaml:"lenient"`
	Strict  *rawTolerance `yaml:"strict"`
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
	Lenient *rawBehaviour `yaml:"lenient"`
	Strict  *rawBehaviour `yaml:"strict"`
}

// rawBehaviour is what a rule does (in one mode).
type rawBehaviour struct {
	Do      string   `yaml:"do"`
	Reply   string   `yaml:"reply"`
	Pending string   `yaml:"pending"`
	Next    *rawNext `yaml:"next"`
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
