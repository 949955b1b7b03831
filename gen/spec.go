package gen

// The raw spec: what the YAML file says, with positions, before names are
// resolved. Field tags are the YAML keys; any other key is an error.

type rawSpec struct {
	Version     Str                  `yaml:"version"`
	Initial     Str                  `yaml:"initial"`
	DefaultMode Str                  `yaml:"default-mode"`
	States      Entries[rawState]    `yaml:"states"`
	Outcomes    Entries[rawOutcome]  `yaml:"outcomes"`
	Inputs      Entries[rawInput]    `yaml:"inputs"`
	Groups      Entries[Names]       `yaml:"groups"`
	Responses   Entries[rawResponse] `yaml:"responses"`
	Quirks      Entries[rawQuirk]    `yaml:"quirks"`
	Rules       []rawRule            `yaml:"rules"`
}

type rawState struct {
	Pos      Pos
	Doc      Str  `yaml:"doc"`
	Ref      Str  `yaml:"ref"`
	Reads    Str  `yaml:"reads"`
	HoldsTag Bool `yaml:"holds-tag"`
	Origin   Str  `yaml:"origin"`
	Terminal Bool `yaml:"terminal"`
	// Authenticated marks the states in which a user is logged in.
	Authenticated Bool `yaml:"authenticated"`
}

type rawOutcome struct {
	Pos Pos
	Doc Str `yaml:"doc"`
}

type rawInput struct {
	Pos      Pos
	Kind     Str   `yaml:"kind"`
	Wire     Str   `yaml:"wire"`
	Doc      Str   `yaml:"doc"`
	Ref      Str   `yaml:"ref"`
	Outcomes Names `yaml:"outcomes"`
	// Tagged marks a line input that carries a tag to answer (a command
	// line always does).
	Tagged Bool `yaml:"tagged"`
}

type rawResponse struct {
	Pos    Pos
	Status Str `yaml:"status"`
	Code   Str `yaml:"code"`
	Text   Str `yaml:"text"`
}

type rawQuirk struct {
	Pos     Pos
	Scope   Str           `yaml:"scope"`
	Who     Str           `yaml:"who"`
	Source  Str           `yaml:"source"`
	Doc     Str           `yaml:"doc"`
	Lenient *rawBehaviour `yaml:"lenient"`
	Strict  *rawBehaviour `yaml:"strict"`
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
	Lenient *rawAction `yaml:"lenient"`
	Strict  *rawAction `yaml:"strict"`
}

// rawAction is what a rule does in one mode.
type rawAction struct {
	Pos     Pos
	Do      Str      `yaml:"do"`
	Reply   Str      `yaml:"reply"`
	Pending Str      `yaml:"pending"`
	Next    *rawNext `yaml:"next"`
}

// rawNext is `next: state` or `next: {outcome: state, otherwise: state}`.
type rawNext struct {
	Pos   Pos
	State Str
	Map   Entries[Str]
}
