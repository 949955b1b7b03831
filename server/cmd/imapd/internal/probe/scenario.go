package probe

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/imapfsm/imapfsm/gen"
)

// scenario is the probe of one quirk over a fresh session.
type scenario struct {
	o   *Options
	env *environment
	m   *gen.Model
	q   gen.Quirk
	p   *gen.Probe
	log *transcript
	c   *client
}

// observed is what the server answered to the probe's lines.
type observed struct {
	// tags[i] is the tag of send line i ("" when it has none); pending
	// says which lines are commands whose tag must be answered.
	tags    []string
	pending []bool
	// completions[i] are the completions of line i's tag, in order.
	completions [][]response
	// order lists line indexes in the order their completions arrived.
	order []int
	// answers are all responses read in answer to the lines, before the
	// probe ended IDLE itself or sent its fence.
	answers []response
	// held is the completion of the held IDLE tag if the lines brought it
	// (not the probe's own DONE); heldCount counts every completion.
	held      *response
	heldCount int
	// keepalive is true when an untagged OK arrived during the wait.
	keepalive bool
}

func (sc *scenario) result(v Verdict, evidence string) Result {
	return Result{Quirk: sc.q.Name, Who: sc.q.Who, Verdict: v, Evidence: evidence, Transcript: sc.log.lines}
}

func (sc *scenario) run() Result {
	sc.log = &transcript{secrets: []string{sc.o.Password}}
	// An IDLE state is reached through its origin, then IDLE.
	state := sc.m.States[sc.p.Reach]
	reach := state
	idle := state.Origin >= 0
	if idle {
		reach = sc.m.States[state.Origin]
	}
	c, err := dial(sc.o, sc.log, "p")
	if err != nil {
		return sc.result(Broken, "cannot connect: "+err.Error())
	}
	sc.c = c
	defer c.close()
	if err := c.capabilities(); err != nil {
		return sc.result(Broken, "CAPABILITY: "+err.Error())
	}
	if sc.attribute(reach, "authenticated") {
		if err := c.login(sc.o.User, sc.o.Password); err != nil {
			return sc.result(Broken, err.Error())
		}
	}
	if missing := sc.missingCapability(); missing != "" {
		return sc.result(Skipped, "the server does not advertise "+missing)
	}
	if sc.p.Wait && sc.o.IdleWait <= 0 {
		return sc.result(Skipped, "needs a wait for the server: run with --idle-wait longer than its keepalive interval")
	}
	mailbox := sc.o.Mailbox
	if sc.p.Scratch {
		mailbox = sc.env.scratch
	}
	switch reach.Name {
	case "not-authenticated", "authenticated":
	case "selected":
		if _, err := c.command("SELECT " + quote(mailbox)); err != nil {
			return sc.result(Other, "cannot reach the state: SELECT: "+err.Error())
		}
	case "selected-read-only":
		if _, err := c.command("EXAMINE " + quote(mailbox)); err != nil {
			return sc.result(Other, "cannot reach the state: EXAMINE: "+err.Error())
		}
	default:
		return sc.result(Skipped, fmt.Sprintf("the prober cannot reach state %q", reach.Name))
	}
	heldTag := ""
	if idle {
		heldTag = c.nextTag()
		if err := c.write(heldTag + " IDLE\r\n"); err != nil {
			return sc.result(Broken, "IDLE: "+err.Error())
		}
		r, err := c.read(time.Now().Add(sc.o.Timeout))
		for err == nil && r.Tag == "*" {
			r, err = c.read(time.Now().Add(sc.o.Timeout))
		}
		if err != nil {
			return sc.result(Broken, "IDLE: "+err.Error())
		}
		if r.Tag != "+" {
			return sc.result(Other, "cannot reach the state: IDLE answered "+r.Line)
		}
	}
	ob, err := sc.exchange(mailbox, heldTag)
	if err != nil {
		return sc.result(Broken, err.Error())
	}
	if reason := ob.broken(heldTag); reason != "" {
		return sc.result(Broken, reason)
	}
	return sc.classify(ob)
}

// attribute reports the value of a state attribute the spec declares.
func (sc *scenario) attribute(s gen.State, name string) bool {
	for i, a := range sc.m.Protocol.Attributes {
		if a.Name == name && i < len(s.Attrs) {
			return s.Attrs[i]
		}
	}
	return false
}

// missingCapability names a required capability the server lacks.
func (sc *scenario) missingCapability() string {
	for _, alts := range sc.p.Requires {
		ok := false
		for _, a := range alts {
			ok = ok || sc.c.caps[strings.ToUpper(a)]
		}
		if !ok {
			return strings.Join(alts, " or ")
		}
	}
	return ""
}

// expand fills in a probe line's placeholders and returns the raw bytes to
// send and the line's tag.
func (sc *scenario) expand(line, mailbox string) (raw, tag string) {
	esc := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	lit := func(s string) string { return fmt.Sprintf("{%d+}\r\n%s", len(s), s) }
	if strings.HasPrefix(line, "{tag}") {
		tag = sc.c.nextTag()
	}
	raw = strings.NewReplacer(
		"{tag}", tag,
		"{mailbox}", esc.Replace(mailbox),
		"{scratch}", esc.Replace(sc.env.scratch),
		"{sep}", esc.Replace(sc.env.sep),
		"{user+}", lit(sc.o.User),
		"{password+}", lit(sc.o.Password),
	).Replace(line)
	if tag == "" {
		tag, _, _ = strings.Cut(raw, " ")
	}
	return raw, tag
}

// exchange sends the probe's lines in one write and reads the answers; it
// then ends IDLE if the lines did not, and sends a fence (NOOP) whose
// completion marks the end of the answers.
func (sc *scenario) exchange(mailbox, heldTag string) (*observed, error) {
	ob := &observed{}
	var b strings.Builder
	for _, l := range sc.p.Send {
		raw, tag := sc.expand(l, mailbox)
		b.WriteString(raw + "\r\n")
		ob.tags = append(ob.tags, tag)
		ob.pending = append(ob.pending, strings.HasPrefix(l, "{tag}"))
		ob.completions = append(ob.completions, nil)
	}
	if b.Len() > 0 {
		if err := sc.c.write(b.String()); err != nil {
			return nil, fmt.Errorf("write: %w", err)
		}
	}
	heldOpen, probeDone := heldTag != "", false
	// take files one response read before the fence's completion.
	take := func(r response) {
		if heldTag != "" && r.Tag == heldTag && r.Status != "" {
			ob.heldCount++
			heldOpen = false
			if probeDone {
				return // the completion of the probe's own DONE
			}
			rr := r
			ob.held = &rr
		}
		ob.answers = append(ob.answers, r)
		for i, t := range ob.tags {
			if t != "" && r.Tag == t && r.Status != "" {
				ob.completions[i] = append(ob.completions[i], r)
				ob.order = append(ob.order, i)
			}
		}
	}
	settled := func() bool {
		if heldOpen {
			return false
		}
		for i, p := range ob.pending {
			if p && len(ob.completions[i]) == 0 {
				return false
			}
		}
		return true
	}
	// Read until every command line and the held tag are answered, or
	// the timeout passes; a probe that waits for the server reads until
	// an untagged OK or the end of the wait.
	wait := sc.o.Timeout
	if sc.p.Wait {
		wait = sc.o.IdleWait
	}
	deadline := time.Now().Add(wait)
	for sc.p.Wait || !settled() {
		r, err := sc.c.read(deadline)
		if errors.Is(err, errTimeout) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("the connection ended before the lines were answered (%v)", err)
		}
		take(r)
		if r.Status == "BYE" {
			return nil, fmt.Errorf("the server closed the session: %s", r.Line)
		}
		if sc.p.Wait && r.Tag == "*" && r.Status == "OK" {
			ob.keepalive = true
			break
		}
	}
	if heldOpen {
		sc.log.note("the probe ends IDLE itself")
		probeDone = true
		if err := sc.c.write("DONE\r\n"); err != nil {
			return nil, err
		}
	}
	fence := sc.c.nextTag()
	if err := sc.c.write(fence + " NOOP\r\n"); err != nil {
		return nil, err
	}
	deadline = time.Now().Add(sc.o.Timeout)
	for {
		r, err := sc.c.read(deadline)
		if errors.Is(err, errTimeout) {
			return nil, fmt.Errorf("the session is out of step: the fence NOOP %s got no answer within %s", fence, sc.o.Timeout)
		}
		if err != nil {
			return nil, fmt.Errorf("the connection ended (%v)", err)
		}
		if r.Tag == fence {
			if r.Status != "OK" {
				return nil, fmt.Errorf("the session is out of step: the fence NOOP got %s", r.Line)
			}
			break
		}
		take(r)
		if r.Status == "BYE" {
			return nil, fmt.Errorf("the server closed the session: %s", r.Line)
		}
	}
	if heldOpen {
		return nil, fmt.Errorf("the IDLE tag %s was never answered, even after DONE", heldTag)
	}
	return ob, nil
}

// broken names the first tag-level defect of an exchange, or "".
func (ob *observed) broken(heldTag string) string {
	for i, p := range ob.pending {
		switch n := len(ob.completions[i]); {
		case p && n == 0:
			return fmt.Sprintf("tag %s (line %d) was never answered; the session is out of step", ob.tags[i], i+1)
		case n > 1:
			return fmt.Sprintf("tag %s (line %d) was answered %d times", ob.tags[i], i+1, n)
		}
	}
	if ob.heldCount > 1 {
		return fmt.Sprintf("the IDLE tag %s was answered twice", heldTag)
	}
	return ""
}
