package proptest

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/imapfsm/imapfsm/fsm"
	"github.com/imapfsm/imapfsm/gen"
)

// specMutant is a defect written into the spec itself: an edit of the YAML
// tree of spec/imap.yaml. The generator's verifier (gen.Load) rejects some of
// them; the others load, and the properties, run against the loaded model's
// table and checked against the unedited spec, must catch them.
type specMutant struct {
	name string
	edit func(t *testing.T, ed *specEditor)
	// rejected is a fragment of the verifier's error when it rejects the
	// mutant; empty when the verifier accepts it.
	rejected string
	// catches is the property that must catch an accepted mutant, in
	// global mode global.
	catches Property
	global  fsm.Mode
}

func specMutants() []specMutant {
	return []specMutant{{
		name: "a1-wildduck-idle-tag-never-completed",
		edit: func(t *testing.T, ed *specEditor) {
			ed.del(ed.block("idle-tagged-command", "strict"), "pending")
		},
		rejected: "would leave the held tag unanswered",
	}, {
		// The command's tag gets an untagged BAD instead of a tagged one.
		name: "a2-wildduck-command-answered-untagged",
		edit: func(t *testing.T, ed *specEditor) {
			ed.set(ed.block("idle-tagged-command", "strict"), "do", scalar("notify"))
		},
		rejected: "unanswered in state",
	}, {
		name: "b-failed-select-stays-selected",
		edit: func(t *testing.T, ed *specEditor) {
			ed.set(ed.get(ed.rule("select"), "next"), "no", scalar("stay"))
		},
		catches: MatchesSpec,
	}, {
		name: "c1-done-keeps-idling",
		edit: func(t *testing.T, ed *specEditor) {
			ed.del(ed.rule("done"), "pending")
			ed.set(ed.rule("done"), "next", scalar("stay"))
		},
		catches: IdleOrigin,
	}, {
		name: "c1-done-keeps-idling-with-pending",
		edit: func(t *testing.T, ed *specEditor) {
			ed.set(ed.rule("done"), "next", scalar("stay"))
		},
		rejected: "the state still holds it",
	}, {
		// Every rule that ends IDLE leaves idle-selected out, and a new
		// rule ignores those inputs there: only closing the connection
		// leaves the state. The verifier rejects it (the ignored commands'
		// tags go unanswered, and the state is stranded); the machine-level
		// mutant of the same defect is caught by the liveness property.
		name: "c2-idle-selected-stranded",
		edit: func(t *testing.T, ed *specEditor) {
			for _, id := range []string{"done", "done-variant", "idle-tagged-command", "idle-garbage", "idle-line-too-long"} {
				ed.set(ed.rule(id), "in", seqOf(ed.without(ed.oracleRule(id).States, "idle-selected")...))
			}
			var on []string
			for _, id := range []string{"done", "done-variant", "idle-tagged-command", "idle-garbage", "idle-line-too-long"} {
				on = append(on, ed.oracleRule(id).Inputs...)
			}
			ed.addRule("stranded", []string{"idle-selected"}, on)
		},
		rejected: "unanswered in state",
	}, {
		name: "d-terminal-left-by-login",
		edit: func(t *testing.T, ed *specEditor) {
			ed.set(ed.rule("absorbing"), "on", seqOf(ed.without(ed.oracleRule("absorbing").Inputs, "login")...))
			ed.set(ed.rule("login"), "in", seqOf(append(ed.oracleRule("login").States, "logged-out")...))
			// Where login does not apply (no TLS, no plaintext) logged-out
			// still ignores LOGIN.
			ed.addRule("absorbing-login", []string{"logged-out"}, []string{"login"})
			rules := ed.get(ed.root.Content[0], "rules")
			when := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
			ed.set(when, "tls", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "false"})
			ed.set(when, "plaintext-auth", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "false"})
			ed.set(rules.Content[len(rules.Content)-1], "when", when)
		},
		rejected: "is not absorbing",
	}, {
		name: "e-sasl-tag-answered-twice",
		edit: func(t *testing.T, ed *specEditor) {
			ed.set(ed.rule("sasl-response"), "pending", scalar("sasl-cancelled"))
		},
		rejected: "would answer it twice",
	}, {
		name: "f-undeclared-state",
		edit: func(t *testing.T, ed *specEditor) {
			ed.set(ed.get(ed.rule("select"), "next"), "ok", scalar("nowhere"))
		},
		rejected: "is not declared",
	}, {
		// A garbage line whose tag could be read ends IDLE, but its
		// own tag is never answered.
		name: "g-tagged-garbage-ignored-in-idle",
		edit: func(t *testing.T, ed *specEditor) {
			r := ed.rule("idle-garbage-tagged")
			ed.set(r, "do", scalar("ignore"))
			ed.del(r, "reply")
		},
		rejected: `leaves the tag of line "unparsable-tagged" unanswered`,
	}, {
		// The handshake ends, but the session forgets that TLS is
		// active: a second STARTTLS would run, and credentials would be
		// refused where plaintext is not allowed.
		name: "h1-tls-ready-forgets-tls",
		edit: func(t *testing.T, ed *specEditor) {
			ed.del(ed.rule("tls-ready"), "effect")
		},
		catches: MatchesSpec,
	}, {
		// Credentials refused only without TLS, whatever the server
		// allows: the condition overlaps the login rules' when
		// plaintext-auth is true.
		name: "h2-privacy-required-ignores-plaintext-auth",
		edit: func(t *testing.T, ed *specEditor) {
			when := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
			ed.set(when, "tls", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "false"})
			ed.set(ed.rule("privacy-required"), "when", when)
		},
		rejected: "is not deterministic",
	}, {
		// COMPRESS succeeds, but the session forgets that compression
		// is on: a second COMPRESS would run again (and restart the
		// streams) instead of NO [COMPRESSIONACTIVE].
		name: "i-compress-forgets-compression",
		edit: func(t *testing.T, ed *specEditor) {
			ed.del(ed.rule("compress"), "effect")
		},
		catches: MatchesSpec,
	}}
}

// TestSpecMutants writes each defect into the spec and shows who catches
// it: the generator's verifier, or, for the defects the verifier accepts,
// the properties run against the accepted model.
func TestSpecMutants(t *testing.T) {
	ref := loadReference(t)
	data, err := os.ReadFile(SpecPath)
	require.NoError(t, err)
	var summary []string
	for i, mu := range specMutants() {
		t.Run(mu.name, func(t *testing.T) {
			ed := newSpecEditor(t, data, ref)
			mu.edit(t, ed)
			model, err := gen.Load("spec/imap.yaml ("+mu.name+")", ed.bytes())
			if mu.rejected != "" {
				require.Error(t, err, "the verifier accepts %s", mu.name)
				assert.Contains(t, err.Error(), mu.rejected)
				t.Logf("rejected by the verifier:\n%s", err)
				summary = append(summary, mu.name+": rejected by the verifier")
				return
			}
			require.NoError(t, err, "the verifier rejects %s; the mutant no longer shows what it is meant to", mu.name)
			m, err := NewTableMachine(model)
			require.NoError(t, err)
			if mu.catches == Liveness {
				x := Explore(m, ref, fsm.NewModes(mu.global), AllProperties, nil)
				var found Properties
				for _, f := range x.Findings {
					found |= Only(f.Violation.Property)
				}
				require.True(t, found.Has(Liveness), "exploration finds %s, not liveness", found)
				summary = append(summary, mu.name+": accepted by the verifier, caught by "+found.String()+" (exploration)")
				return
			}
			cfg := &Config{Name: "spec-" + mu.name, Machine: m, Reference: ref, Checks: AllProperties, Global: mu.global}
			rep := cfg.Check(params(int64(metaSeed+i), defaultCases))
			require.False(t, rep.Passed(), "accepted by the verifier and not caught by the properties")
			require.NotNil(t, rep.Counterexample)
			assert.True(t, rep.Counterexample.Properties().Has(mu.catches), "caught by %s, not by %s", rep.Counterexample.Properties(), mu.catches)
			t.Logf("accepted by the verifier; shrunk counterexample:\n%s", rep.Counterexample.Format(ref))
			summary = append(summary, mu.name+": accepted by the verifier, caught by "+rep.Counterexample.Properties().String())
		})
	}
	t.Logf("spec mutants:\n%s", strings.Join(summary, "\n"))
}

// specEditor edits the YAML tree of a spec.
type specEditor struct {
	t    *testing.T
	root *yaml.Node
	ref  *Reference
}

func newSpecEditor(t *testing.T, data []byte, ref *Reference) *specEditor {
	var root yaml.Node
	require.NoError(t, yaml.Unmarshal(data, &root))
	return &specEditor{t: t, root: &root, ref: ref}
}

func (ed *specEditor) bytes() []byte {
	out, err := yaml.Marshal(ed.root)
	require.NoError(ed.t, err)
	return out
}

// rule returns the mapping of the rule with id.
func (ed *specEditor) rule(id string) *yaml.Node {
	rules := ed.get(ed.root.Content[0], "rules")
	for _, r := range rules.Content {
		if idNode := ed.lookup(r, "id"); idNode != nil && idNode.Value == id {
			return r
		}
	}
	ed.t.Fatalf("the spec has no rule %q; update this mutant", id)
	return nil
}

// block returns a rule's lenient or strict block.
func (ed *specEditor) block(id, mode string) *yaml.Node { return ed.get(ed.rule(id), mode) }

// oracleRule returns a rule as the oracle expanded it.
func (ed *specEditor) oracleRule(id string) oracleRule {
	for _, r := range ed.ref.Spec().Rules {
		if r.ID == id {
			return oracleRule{States: slices.Clone(r.States), Inputs: slices.Clone(r.Inputs)}
		}
	}
	ed.t.Fatalf("the spec has no rule %q; update this mutant", id)
	return oracleRule{}
}

type oracleRule struct{ States, Inputs []string }

func (ed *specEditor) without(names []string, drop string) []string {
	require.Contains(ed.t, names, drop)
	return slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == drop })
}

// addRule appends a rule that ignores inputs in states.
func (ed *specEditor) addRule(id string, states, inputs []string) {
	rules := ed.get(ed.root.Content[0], "rules")
	r := &yaml.Node{Kind: yaml.MappingNode}
	ed.set(r, "id", scalar(id))
	ed.set(r, "in", seqOf(states...))
	ed.set(r, "on", seqOf(inputs...))
	ed.set(r, "do", scalar("ignore"))
	rules.Content = append(rules.Content, r)
}

func (ed *specEditor) lookup(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func (ed *specEditor) get(m *yaml.Node, key string) *yaml.Node {
	v := ed.lookup(m, key)
	if v == nil {
		ed.t.Fatalf("the spec has no key %q here (line %d); update this mutant", key, m.Line)
	}
	return v
}

func (ed *specEditor) set(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, scalar(key), v)
}

func (ed *specEditor) del(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
	ed.t.Fatalf("the spec has no key %q here (line %d); update this mutant", key, m.Line)
}

func scalar(v string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v}
}

func seqOf(vs ...string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, v := range vs {
		n.Content = append(n.Content, scalar(v))
	}
	return n
}
