package gen

import "strings"

// declareFacts reads the spec's facts: booleans the engine keeps beside the
// state, which rule conditions read and rule effects change.
func (c *checker) declareFacts() {
	c.facts = map[string]int{}
	if len(c.raw.Facts) > MaxFacts {
		c.errs.addf(c.raw.Facts[MaxFacts].Key.Pos, "at most %d facts are supported (the verifier checks every valuation), found %d", MaxFacts, len(c.raw.Facts))
	}
	for i, e := range c.raw.Facts {
		if i >= MaxFacts {
			break
		}
		f := Fact{Name: e.Key.V, Doc: e.Val.Doc.V, Pos: e.Key.Pos}
		if strings.TrimSpace(f.Doc) == "" {
			c.errs.addf(e.Key.Pos, "fact %q: missing \"doc\" (what the fact means)", f.Name)
		}
		switch e.Val.Initial.V {
		case "false":
		case "engine":
			f.Engine = true
		default:
			if e.Val.Initial.Set() {
				c.errs.addf(e.Val.Initial.Pos, "fact %q: initial must be false or engine, found %q", f.Name, e.Val.Initial.V)
			} else {
				c.errs.addf(e.Key.Pos, "fact %q: missing \"initial\" (false, or engine: the engine gives the value when the connection opens)", f.Name)
			}
		}
		c.facts[f.Name] = len(c.m.Facts)
		c.m.Facts = append(c.m.Facts, f)
	}
	c.factRead = make([]bool, len(c.raw.Facts))
}

// fact resolves a fact name to its bit, or reports it and returns 0.
func (c *checker) fact(rule, field string, k Str) uint {
	i, ok := c.facts[k.V]
	if !ok {
		c.errs.addf(k.Pos, "rule %q: %s: %q is not a declared fact", rule, field, k.V)
		return 0
	}
	return 1 << i
}

// when resolves a rule's condition; nil means the rule has none.
func (c *checker) when(rule string, w *rawWhen) []Cond {
	if w == nil {
		return nil
	}
	out := []Cond{}
	for _, t := range w.Terms {
		if len(t) == 0 {
			c.errs.addf(w.Pos, "rule %q: when: an empty condition always holds; leave \"when\" out", rule)
			continue
		}
		var cond Cond
		for _, e := range t {
			bit := c.fact(rule, "when", e.Key)
			if bit == 0 {
				// The rule then decides under every valuation, and
				// its overlaps are not reported twice.
				c.brokenWhen[len(c.m.Rules)] = true
				continue
			}
			c.factRead[c.facts[e.Key.V]] = true
			cond.Mask |= bit
			if e.Val.V {
				cond.Want |= bit
			}
		}
		out = append(out, cond)
	}
	return out
}

// condMask is the set of facts a condition reads.
func condMask(when []Cond) uint {
	var m uint
	for _, c := range when {
		m |= c.Mask
	}
	return m
}

// effectOf resolves `fact: value` pairs.
func (c *checker) effectOf(rule string, pairs Entries[Bool]) Effect {
	var e Effect
	for _, p := range pairs {
		bit := c.fact(rule, "effect", p.Key)
		if p.Val.V {
			e.Set |= bit
		} else {
			e.Clear |= bit
		}
	}
	return e
}

// effect fills d.Effects from a rule's effect: the same for every outcome,
// or, for execute, per outcome (`otherwise` covers the outcomes not named).
func (c *checker) effect(rule string, raw *rawEffect, d Decision) {
	if raw.ByOutcome == nil {
		e := c.effectOf(rule, raw.All)
		for o := range d.Effects {
			d.Effects[o] = e
		}
		return
	}
	if d.Action != ActExecute {
		c.errs.addf(raw.Pos, "rule %q: only execute has per-outcome effects; give fact: value pairs", rule)
	}
	given := make([]bool, len(d.Effects))
	var other *Effect
	for _, e := range raw.ByOutcome {
		eff := c.effectOf(rule, e.Val)
		if e.Key.V == "otherwise" {
			other = &eff
			continue
		}
		o, ok := c.outcomes[e.Key.V]
		if !ok {
			c.errs.addf(e.Key.Pos, "rule %q: effect: %q is not a declared outcome", rule, e.Key.V)
			continue
		}
		given[o] = true
		d.Effects[o] = eff
	}
	for o := range given {
		if !given[o] && other != nil {
			d.Effects[o] = *other
		}
	}
}
