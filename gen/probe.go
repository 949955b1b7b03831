package gen

import (
	"fmt"
	"strconv"
	"strings"
)

// A quirk's probe block says how to provoke the quirk on a live server and
// what a server answers in each mode. A tool that probes a server (imapd
// probe) reaches the state `reach` over a fresh session, sends the lines of
// `send` in one write, and checks the answer against `lenient` and
// `strict`, each a list of expectations:
//
//	held STATUS         the tag the reached state holds (IDLE's) completes with STATUS
//	N STATUS [CODE]     line N of send (1-based) completes with STATUS (and CODE)
//	N none              line N gets no tagged completion
//	untagged STATUS     an untagged STATUS response arrives
//	no-untagged WORD    no untagged response of type WORD (e.g. EXISTS) arrives
//	silent              nothing at all arrives in answer to the lines
//	in-order            the lines' completions arrive in the order they were sent
//	keepalive           an untagged OK arrives while idling (needs a wait)
//	lsub-special-use    LSUB shows the special-use attributes LIST shows
//
// STATUS is OK, NO or BAD. `mailbox` picks the mailbox a selected or idle
// state opens: main (the one the prober names) or scratch (one the prober
// creates and removes). `requires` lists capabilities the probe needs; an
// entry "A|B" is satisfied by either. `wait: true` marks a probe that must
// wait for the server (keepalive), which a prober runs only when asked.

type rawProbe struct {
	Pos      Pos
	Reach    Str   `yaml:"reach"`
	Mailbox  Str   `yaml:"mailbox"`
	Send     Names `yaml:"send"`
	Requires Names `yaml:"requires"`
	Wait     Bool  `yaml:"wait"`
	Lenient  Names `yaml:"lenient"`
	Strict   Names `yaml:"strict"`
}

// Probe is a verified probe block of a quirk.
type Probe struct {
	// Reach is the state to reach before sending (an index into
	// Model.States); it reads commands or IDLE continuations.
	Reach int
	// Scratch is true when the state's mailbox is one the prober creates.
	Scratch bool
	// Send holds the client lines, with placeholders for the prober to
	// fill in ({tag}, {mailbox}, {scratch}, {sep}, {user+}, {password+}).
	Send []string
	// Requires lists capabilities; each entry holds alternatives.
	Requires [][]string
	// Wait is true when the probe needs to wait for the server.
	Wait bool
	// Expect holds the expectations of each mode: 0 lenient, 1 strict.
	Expect [2][]Expectation
}

// SameInBothModes reports whether both modes expect the same answer, so
// that a server's answer cannot tell the modes apart.
func (p *Probe) SameInBothModes() bool {
	if len(p.Expect[0]) != len(p.Expect[1]) {
		return false
	}
	for i := range p.Expect[0] {
		if p.Expect[0][i] != p.Expect[1][i] {
			return false
		}
	}
	return true
}

// ExpectKind is what an Expectation checks.
type ExpectKind int

// The expectation kinds of a probe (see the probe block's grammar).
const (
	ExpectHeld ExpectKind = iota
	ExpectLine
	ExpectLineNone
	ExpectUntagged
	ExpectNoUntagged
	ExpectSilent
	ExpectInOrder
	ExpectKeepalive
	ExpectLsubSpecialUse
)

// Expectation is one parsed expectation of a probe.
type Expectation struct {
	Kind ExpectKind
	// Line is the 1-based line of Send for ExpectLine and ExpectLineNone.
	Line int
	// Status is OK, NO or BAD; Code an optional response code; Word the
	// untagged response type of ExpectNoUntagged.
	Status, Code, Word string
	// Text is the expectation as written in the spec.
	Text string
}

func (e Expectation) String() string { return e.Text }

// ParseExpectation parses one expectation of a probe block.
func ParseExpectation(s string) (Expectation, error) {
	f := strings.Fields(s)
	e := Expectation{Text: strings.Join(f, " ")}
	status := func(v string) error {
		if oneOf(v, []string{"OK", "NO", "BAD"}) < 0 {
			return fmt.Errorf("%q: status must be OK, NO or BAD", v)
		}
		e.Status = v
		return nil
	}
	if len(f) == 0 {
		return e, fmt.Errorf("empty expectation")
	}
	switch f[0] {
	case "silent", "in-order", "keepalive", "lsub-special-use":
		if len(f) != 1 {
			return e, fmt.Errorf("%q takes no argument", f[0])
		}
		e.Kind = map[string]ExpectKind{"silent": ExpectSilent, "in-order": ExpectInOrder,
			"keepalive": ExpectKeepalive, "lsub-special-use": ExpectLsubSpecialUse}[f[0]]
		return e, nil
	case "held", "untagged":
		if len(f) != 2 {
			return e, fmt.Errorf("%q takes a status: %s OK|NO|BAD", f[0], f[0])
		}
		e.Kind = ExpectHeld
		if f[0] == "untagged" {
			e.Kind = ExpectUntagged
		}
		return e, status(f[1])
	case "no-untagged":
		if len(f) != 2 {
			return e, fmt.Errorf("no-untagged takes a response type, e.g. no-untagged EXISTS")
		}
		e.Kind, e.Word = ExpectNoUntagged, strings.ToUpper(f[1])
		return e, nil
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n < 1 {
		return e, fmt.Errorf("unknown expectation %q (want held, N, untagged, no-untagged, silent, in-order, keepalive or lsub-special-use)", f[0])
	}
	e.Line = n
	switch {
	case len(f) == 2 && f[1] == "none":
		e.Kind = ExpectLineNone
		return e, nil
	case len(f) == 2 || len(f) == 3:
		e.Kind = ExpectLine
		if len(f) == 3 {
			e.Code = strings.Trim(f[2], "[]")
		}
		return e, status(f[1])
	}
	return e, fmt.Errorf("line expectation: want \"N STATUS [CODE]\" or \"N none\"")
}

// probe verifies a quirk's probe block and resolves its state.
func (c *checker) probe(quirk string, rp *rawProbe) *Probe {
	p := &Probe{Reach: -1}
	if !rp.Reach.Set() {
		c.errs.addf(rp.Pos, "quirk %q: probe needs \"reach\" (the state to reach first)", quirk)
	} else if s, ok := c.states[rp.Reach.V]; !ok {
		c.errs.addf(rp.Reach.Pos, "quirk %q: probe reaches undeclared state %q", quirk, rp.Reach.V)
	} else if r := c.m.States[s].Reads; r < 0 || r >= len(c.m.Protocol.Reads) ||
		(r != c.m.Protocol.Command && !c.m.Protocol.Reads[r].Commands) {
		c.errs.addf(rp.Reach.Pos, "quirk %q: probe state %q must read lines that can be commands", quirk, rp.Reach.V)
	} else {
		p.Reach = s
	}
	switch rp.Mailbox.V {
	case "", "main":
	case "scratch":
		p.Scratch = true
	default:
		c.errs.addf(rp.Mailbox.Pos, "quirk %q: probe mailbox must be main or scratch", quirk)
	}
	for _, l := range rp.Send {
		if strings.ContainsAny(l.V, "\r\n") {
			c.errs.addf(l.Pos, "quirk %q: a probe line is one line (literals are placeholders such as {user+})", quirk)
		}
		p.Send = append(p.Send, l.V)
	}
	for _, r := range rp.Requires {
		p.Requires = append(p.Requires, strings.Split(r.V, "|"))
	}
	p.Wait = rp.Wait.V
	for mode, list := range []Names{rp.Lenient, rp.Strict} {
		name := []string{"lenient", "strict"}[mode]
		if len(list) == 0 {
			c.errs.addf(rp.Pos, "quirk %q: probe needs the %s expectations", quirk, name)
		}
		for _, s := range list {
			e, err := ParseExpectation(s.V)
			if err != nil {
				c.errs.addf(s.Pos, "quirk %q: probe %s: %v", quirk, name, err)
				continue
			}
			if e.Line > len(p.Send) {
				c.errs.addf(s.Pos, "quirk %q: probe %s: line %d, but send has %d line(s)", quirk, name, e.Line, len(p.Send))
			}
			if e.Kind == ExpectKeepalive && !p.Wait {
				c.errs.addf(s.Pos, "quirk %q: probe %s: keepalive needs \"wait: true\"", quirk, name)
			}
			p.Expect[mode] = append(p.Expect[mode], e)
		}
	}
	return p
}
