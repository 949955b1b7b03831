package gen

import "go.yaml.in/yaml/v3"

// The raw spec: what the YAML file says, with positions, before names are
// resolved. Field tags are the YAML keys; any other key is an error.

type rawSpec struct {
	Version     Str                  `yaml:"version"`
	Protocol    *rawProtocol         `yaml:"protocol"`
	Initial     Str                  `yaml:"initial"`
	DefaultMode Str                  `yaml:"default-mode"`
	States      Entries[rawState]    `yaml:"states"`
	Outcomes    Entries[rawOutcome]  `yaml:"outcomes"`
	Inputs      Entries[rawInput]    `yaml:"inputs"`
	Groups      Entries[Names]       `yaml:"groups"`
	Responses   Entries[rawResponse] `yaml:"responses"`
	Quirks      Entries[rawQuirk]    `yaml:"quirks"`
	Facts       Entries[rawFact]     `yaml:"facts"`
	Rules       []rawRule            `yaml:"rules"`
}

// rawFact declares a session fact: a boolean the engine keeps beside the
// state, read by rule conditions (`when`) and changed by rule effects.
type rawFact struct {
	Pos Pos
	Doc Str `yaml:"doc"`
	// Initial is how the fact's value starts when a connection opens:
	// "false", or "engine" (the engine gives it, from the listener or the
	// configuration).
	Initial Str `yaml:"initial"`
}

// rawWhen is a rule's condition on facts: a mapping of fact to value (all
// must hold), or a list of such mappings (any must hold).
type rawWhen struct {
	Pos   Pos
	Terms []Entries[Bool]
}

// rawEffect is what a rule does to facts: a mapping of fact to the value it
// sets, or, for execute, a mapping of outcome (or otherwise) to such a
// mapping.
type rawEffect struct {
	Pos       Pos
	All       Entries[Bool]
	ByOutcome Entries[Entries[Bool]]
}

// rawProtocol is the spec's vocabulary: what its states can read, its
// input kinds, its state attributes, the actions its rules use, the form of
// its replies and where the generated package goes.
type rawProtocol struct {
	Pos             Pos
	Name            Str                   `yaml:"name"`
	Doc             Str                   `yaml:"doc"`
	Package         Str                   `yaml:"package"`
	Dir             Str                   `yaml:"dir"`
	Replies         Str                   `yaml:"replies"`
	Reads           Entries[rawReads]     `yaml:"reads"`
	Kinds           Entries[Str]          `yaml:"kinds"`
	Attributes      Entries[rawAttribute] `yaml:"attributes"`
	Actions         Entries[Str]          `yaml:"actions"`
	DefaultOutcomes Names                 `yaml:"default-outcomes"`
	Initialisms     Names                 `yaml:"initialisms"`
}

// rawReads declares one way a state reads client lines.
type rawReads struct {
	Pos      Pos
	Doc      Str  `yaml:"doc"`
	Commands Bool `yaml:"commands"`
	Origin   Bool `yaml:"origin"`
}

// rawAttribute declares a boolean state attribute.
type rawAttribute struct {
	Pos         Pos
	Doc         Str  `yaml:"doc"`
	Means       Str  `yaml:"means"`
	MatchOrigin Bool `yaml:"match-origin"`
	// Values, when given, make the attribute take one of these named
	// values (name: doc) instead of true or false.
	Values Entries[Str] `yaml:"values"`
}

// rawState is a state: the fixed keys below, and a boolean for any of the
// attributes the protocol declares (decoded into Attrs).
type rawState struct {
	Pos      Pos
	Doc      Str            `yaml:"doc"`
	Ref      Str            `yaml:"ref"`
	Reads    Str            `yaml:"reads"`
	Origin   Str            `yaml:"origin"`
	Terminal Bool           `yaml:"terminal"`
	Attrs    []rawAttrValue `yaml:"-"`
}

// rawAttrValue is a key of a state that is not one of its fixed keys: an
// attribute, once the checker has found it among the protocol's.
type rawAttrValue struct {
	Key  Str
	Node *yaml.Node
}

type rawOutcome struct {
	Pos Pos
	Doc Str `yaml:"doc"`
}

type rawInput struct {
	Pos      Pos
	Kind     Str   `yaml:"kind"`
	Wire     Names `yaml:"wire"`
	Doc      Str   `yaml:"doc"`
	Ref      Str   `yaml:"ref"`
	Outcomes Names `yaml:"outcomes"`
	// Tagged marks a line input that carries a tag to answer (a command
	// line always does).
	Tagged Bool `yaml:"tagged"`
}

type rawResponse struct {
	Pos      Pos
	Status   Str `yaml:"status"`
	Code     Str `yaml:"code"`
	Enhanced Str `yaml:"enhanced"`
	Text     Str `yaml:"text"`
}

type rawQuirk struct {
	Pos     Pos
	Scope   Str           `yaml:"scope"`
	Default Str           `yaml:"default"`
	Who     Str           `yaml:"who"`
	Source  Str           `yaml:"source"`
	Doc     Str           `yaml:"doc"`
	Lenient *rawBehaviour `yaml:"lenient"`
	Strict  *rawBehaviour `yaml:"strict"`
	Probe   *rawProbe     `yaml:"probe"`
}

type rawBehaviour struct {
	Pos      Pos
	Tolerate Bool `yaml:"tolerate"`
	Doc      Str  `yaml:"doc"`
}

type rawRule struct {
	Pos     Pos
	ID      Str        `yaml:"id"`
	Doc     Str        `yaml:"doc"`
	Ref     Str        `yaml:"ref"`
	In      Names      `yaml:"in"`
	On      Names      `yaml:"on"`
	Quirk   Str        `yaml:"quirk"`
	Do      Str        `yaml:"do"`
	Reply   Str        `yaml:"reply"`
	Pending Str        `yaml:"pending"`
	Next    *rawNext   `yaml:"next"`
	When    *rawWhen   `yaml:"when"`
	Effect  *rawEffect `yaml:"effect"`
	Lenient *rawAction `yaml:"lenient"`
	Strict  *rawAction `yaml:"strict"`
}

// rawAction is what a rule does in one mode.
type rawAction struct {
	Pos     Pos
	Do      Str        `yaml:"do"`
	Reply   Str        `yaml:"reply"`
	Pending Str        `yaml:"pending"`
	Next    *rawNext   `yaml:"next"`
	Effect  *rawEffect `yaml:"effect"`
}

// rawNext is `next: state` or `next: {outcome: state, otherwise: state}`.
type rawNext struct {
	Pos   Pos
	State Str
	Map   Entries[Str]
}
