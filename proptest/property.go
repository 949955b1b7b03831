package proptest

import (
	"fmt"
	"strings"
)

// Property names one invariant the session checks. See the package
// documentation for what each one means.
type Property uint8

// The properties.
const (
	// ValidState: every state the machine moves to is declared, every
	// action is one of fsm's, and redispatch settles.
	ValidState Property = iota
	// TerminalAbsorbing: nothing leaves a terminal state, and closing the
	// connection ends in one.
	TerminalAbsorbing
	// TagCompletion: every tagged line gets exactly one completion.
	TagCompletion
	// IdleOrigin: IDLE starts from and ends in its origin state, and an IDLE
	// continuation line always ends it.
	IdleOrigin
	// MatchesSpec: every decision equals the one the oracle reads in the
	// spec text.
	MatchesSpec
	// Liveness: from every reachable state the session can get back to a
	// state that reads commands, holding no tag, without closing the
	// connection, and it can always be ended. Checked by exploration.
	Liveness
	// ServerSound (wire level): the server never reports an internal error
	// (a recovered panic answers BAD [SERVERBUG]), never drops a connection
	// the spec keeps open, and leaves no goroutine behind after Shutdown.
	ServerSound
	// Durable (wire level): every APPEND acknowledged with APPENDUID reads
	// back byte for byte at the end, unless a later command may have
	// removed it.
	Durable
	// SessionsAgree (wire level, several sessions): after a NOOP every
	// session of a mailbox sees the same UIDs and flags, and each session's
	// EXISTS and EXPUNGE responses are consistent with its own numbering.
	SessionsAgree
	numProperties
)

var propertyNames = [numProperties]string{
	"valid-state", "terminal-absorbing", "tag-completion", "idle-origin", "matches-spec", "liveness",
	"server-sound", "durable", "sessions-agree",
}

// String returns the property's name.
func (p Property) String() string {
	if p < numProperties {
		return propertyNames[p]
	}
	return fmt.Sprintf("Property(%d)", p)
}

// ParseProperty looks a property up by name.
func ParseProperty(name string) (Property, bool) {
	for i, n := range propertyNames {
		if n == name {
			return Property(i), true
		}
	}
	return 0, false
}

// Properties is a set of properties.
type Properties uint16

// AllProperties is the set of every property.
const AllProperties = Properties(1<<numProperties - 1)

// Only returns the set of ps.
func Only(ps ...Property) Properties {
	var s Properties
	for _, p := range ps {
		s |= 1 << p
	}
	return s
}

// Has reports whether p is in the set.
func (s Properties) Has(p Property) bool { return s&(1<<p) != 0 }

// Without returns the set without ps.
func (s Properties) Without(ps ...Property) Properties { return s &^ Only(ps...) }

// List returns the properties of the set in order.
func (s Properties) List() []Property {
	var out []Property
	for p := Property(0); p < numProperties; p++ {
		if s.Has(p) {
			out = append(out, p)
		}
	}
	return out
}

// String lists the names of the set.
func (s Properties) String() string {
	var names []string
	for _, p := range s.List() {
		names = append(names, p.String())
	}
	return strings.Join(names, ",")
}

// Violation is one property failing at one step of a sequence.
type Violation struct {
	Property Property
	// Step is the 0-based index of the step in its sequence.
	Step    int
	Message string
}

// String formats the violation for logs and sequence-file comments.
func (v Violation) String() string {
	return fmt.Sprintf("%s: step %d: %s", v.Property, v.Step+1, v.Message)
}
