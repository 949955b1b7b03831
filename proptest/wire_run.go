package proptest

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/imapfsm/imapfsm/fsm"
)

// WireTarget is a live server that one wire sequence runs against, with a
// store of its own.
type WireTarget interface {
	// Dial opens a client connection; the greeting is still unread.
	Dial() (net.Conn, error)
	// Close shuts the server down. It fails when the server does not stop
	// or leaves goroutines behind.
	Close() error
}

// WireFactory starts a fresh server whose quirk modes are modes, with the
// account WireUser/WirePassword and an empty INBOX.
type WireFactory func(modes fsm.Modes) (WireTarget, error)

// The account the generated sequences log in with.
const (
	WireUser     = "user"
	WirePassword = "secret"
)

// WireOptions tell the runner what it needs to know about the server's
// configuration.
type WireOptions struct {
	// Timeout bounds the wait for each expected response; a response that
	// does not come within it counts as never sent.
	Timeout time.Duration
	// MaxBadBeforeAuth and MaxBad are the server's limits of BAD replies
	// in a row (server.Config.MaxBadCommandsBeforeAuth and MaxBadCommands):
	// the runner expects the error-limit BYE exactly when they are reached.
	MaxBadBeforeAuth, MaxBad int
	// Autologout, Keepalive and CommandTimeout are the server's timers
	// (server.Config.AutologoutTimeout, which the runner expects to equal
	// LoginTimeout, IdleKeepalive and CommandTimeout). Zero means the
	// server's are too long to wait for: <sleep> steps and partial lines
	// are then not sent.
	Autologout, Keepalive, CommandTimeout time.Duration
	// MaxLine is the server's line limit (Limits.MaxLine) and MaxCommand
	// the longest line it skips after answering it as too long (MaxLine,
	// CRLF and Limits.MaxSkip; a longer one also ends with
	// command-too-large); zero means no line is long enough to reach them.
	MaxLine, MaxCommand int
	// MaxLiteral, MaxAppendLiteral and MaxSkip are the server's literal
	// limits (imapwire.Limits): the generator writes literals over them,
	// and the runner expects command-too-large after the answer of a line
	// announcing a non-synchronising literal larger than MaxSkip. Zero
	// means unknown: no such literal is written.
	MaxLiteral, MaxAppendLiteral, MaxSkip int
	// TLS, when not nil, is the client's configuration for the handshake
	// after STARTTLS; without it the server is expected to have no TLS.
	TLS *tls.Config
	// Facts are the facts the server's connections open with: the spec's
	// engine-given facts (tls on an implicit-TLS listener, plaintext-auth
	// when the server allows credentials without TLS).
	Facts fsm.Facts
	// Shutdown says that the target is a WireShutdowner: sequences may
	// shut the server down in the middle of a session.
	Shutdown bool
}

// WireClock is a target whose server's timers run on a clock the runner
// advances (server.Config.Clock): a <sleep> step or a partial line then
// moves that clock past the timer instead of waiting for it.
type WireClock interface {
	Advance(d time.Duration)
}

// advanceClock moves the target's clock by total in small steps, giving
// the server a moment of real time at each so that a timer it arms late
// still fires within total.
func (w *WireSession) advanceClock(clk WireClock, total time.Duration) {
	step := max(total/25, time.Millisecond)
	time.Sleep(2 * time.Millisecond)
	for t := time.Duration(0); t < total; t += step {
		clk.Advance(step)
		time.Sleep(time.Millisecond)
	}
}

// WireShutdowner is a target whose server can be shut down while a session
// runs; Close must still work after.
type WireShutdowner interface {
	Shutdown() error
}

// WireRecord is what one step of a wire sequence did.
type WireRecord struct {
	// Index is the step's 0-based position; steps the runner adds at the
	// end (ending IDLE, the final NOOP) have Synthetic set.
	Index     int
	Step      WireStep
	Synthetic bool
	// Input is the spec's input the step was read as, Tag its tag.
	Input    fsm.Input
	Tag      string
	From, To fsm.State
	// Responses are the server's responses read during the step.
	Responses []string
	// Notes say what the spec decided.
	Notes []string
	// Skipped is set when the step was not run: an earlier step failed.
	Skipped    bool
	Violations []Violation
}

// ackedAppend is an APPEND the server acknowledged with APPENDUID.
type ackedAppend struct {
	step        int
	mailbox     string
	uidValidity uint32
	uid         uint32
	body        string
	// gone is set once a later command may legitimately have removed the
	// message (EXPUNGE, MOVE, CLOSE, DELETE of its mailbox).
	gone bool
}

// errTimeout marks an event the server did not send in time.
var errTimeout = errors.New("no response in time")

// WireSession runs one wire sequence against a live server and checks, after
// every step, what the server sent against the spec's decision for the step
// in the model's state: the tagged completion of every tag, exactly once and
// in order, with the spec's reply text where the spec rejects the line; a
// continuation request where the handler may continue; the untagged reply of
// a notify; BYE and the end of the stream where the spec closes. The model
// follows the server: a handler's outcome is read from the wire (OK → ok, NO
// → no, BAD → bad, + → continue) and chooses the next state, so the next
// step is checked against the state the server should now be in.
type WireSession struct {
	ref      *Reference
	modes    fsm.Modes
	opts     WireOptions
	coverage *Coverage

	// raw is the client's end of the connection, conn what it talks
	// over: raw, or TLS on top of it after STARTTLS.
	raw        net.Conn
	connMu     sync.Mutex
	conn       net.Conn
	events     *eventStream
	writes     chan string
	writerDone chan struct{}

	state  fsm.State
	facts  fsm.Facts
	ledger *Ledger
	tags   map[string]TagID
	// inflight holds the tags of steps written but not yet read back.
	inflight map[string]bool
	// unread holds responses read ahead of their turn, returned by next
	// in arrival order.
	unread []wireEvent
	bad    int
	authed bool
	closed bool
	broken bool

	target WireTarget
	// down is set once the server was shut down: nothing is verified
	// over a fresh connection after.
	down bool

	records  []WireRecord
	rec      *WireRecord
	selected string
	appends  []ackedAppend
	// rejections are the responses the spec uses to reject commands.
	rejections []fsm.Response
}

// RunWire runs steps against target under modes (which must be the
// target's) and returns the session with its records and violations.
// coverage may be nil.
func RunWire(ref *Reference, target WireTarget, modes fsm.Modes, steps []WireStep, opts WireOptions, coverage *Coverage) *WireSession {
	w := &WireSession{
		ref: ref, modes: modes, opts: opts, coverage: coverage,
		state: ref.Initial(), facts: opts.Facts, ledger: NewLedger(), tags: map[string]TagID{}, inflight: map[string]bool{},
		rejections: ref.rejectionReplies(),
	}
	if w.opts.Timeout <= 0 {
		w.opts.Timeout = 2 * time.Second
	}
	w.run(target, steps)
	return w
}

// rejectionReplies lists every response the spec rejects a command with.
func (r *Reference) rejectionReplies() []fsm.Response {
	seen := map[fsm.Response]bool{}
	var out []fsm.Response
	for _, s := range r.States() {
		for _, in := range r.Inputs() {
			if !r.Tagged(in) {
				continue
			}
			for _, m := range []fsm.Modes{fsm.NewModes(fsm.Lenient), fsm.NewModes(fsm.Strict)} {
				for f := fsm.Facts(0); f <= allFacts; f++ {
					d := r.Step(s, f, in, m)
					if d.Action == fsm.ActionReject && d.Reply != fsm.ResponseNone && !seen[d.Reply] {
						seen[d.Reply] = true
						out = append(out, d.Reply)
					}
				}
			}
		}
	}
	return out
}

// Records lists what every step did.
func (w *WireSession) Records() []WireRecord { return w.records }

// Violations lists every violation.
func (w *WireSession) Violations() []Violation {
	var out []Violation
	for _, r := range w.records {
		out = append(out, r.Violations...)
	}
	return out
}

// State is the model's state after the last step.
func (w *WireSession) State() fsm.State { return w.state }

func (w *WireSession) run(target WireTarget, steps []WireStep) {
	w.target = target
	conn, err := target.Dial()
	w.begin(WireStep{}, true)
	if err != nil {
		w.violate(ServerSound, "dial: %v", err)
		w.end()
		return
	}
	w.conn, w.raw = conn, conn
	w.events = newEventStream(conn)
	w.writes = make(chan string, 1024)
	w.writerDone = make(chan struct{})
	go w.writer()
	greeting := wireEvent{err: errTimeout}
	select {
	case ev, ok := <-w.events.ch:
		if ok {
			greeting = ev
			w.rec.Responses = append(w.rec.Responses, ev.String())
		}
	case <-time.After(w.opts.Timeout):
	}
	if greeting.tag != "*" || greeting.status != "OK" {
		w.violate(ServerSound, "the greeting is %q, not an untagged OK", greeting.String())
	}
	w.end()
	if !w.broken {
		w.records = w.records[:0]
	}

	// A batch is a step and the pipelined steps after it. A client may
	// pipeline everything but the bytes after a synchronising literal,
	// which it must hold back until the server asks for them, so a step
	// with one ends a batch and is sent on its own.
	// Directives, partial lines and lines cut in a literal are not bytes
	// to pipeline. A client must not pipeline after STARTTLS (RFC 9051
	// 6.2.1), but the generator does it on purpose: the server must
	// discard those bytes.
	barrier := func(st WireStep) bool {
		if st.Directive != "" || st.partial() {
			return true
		}
		l := scanWireLine(st.Data)
		return l.syncLiterals > 0 || l.short
	}
	starttls := func(st WireStep) bool {
		_, name, _ := splitCommand(scanWireLine(st.Data).text)
		return name == "STARTTLS"
	}
	// A client must not send anything after COMPRESS before its result
	// either (RFC 4978 3): what follows an OK is compressed. COMPRESS is
	// written on its own.
	compress := func(st WireStep) bool {
		_, name, _ := splitCommand(scanWireLine(st.Data).text)
		return name == "COMPRESS"
	}
	for i := 0; i < len(steps); {
		j := i + 1
		// Bytes may follow STARTTLS in its write (an injection the
		// server must discard), but STARTTLS starts its own write, so
		// that the runner knows the state it is read in.
		for j < len(steps) && steps[j].Pipelined && !barrier(steps[j-1]) && !barrier(steps[j]) && !starttls(steps[j]) &&
			!compress(steps[j-1]) && !compress(steps[j]) {
			j++
		}
		batch := steps[i:j]
		pipelined := len(batch) > 1
		if pipelined && !w.broken && !w.closed && w.ref.Reads(w.state) != fsm.ReadsNone {
			if in, tag := w.ref.ClassifyWire(w.ref.Reads(w.state), batch[0]); in == fsm.InputStarttls && w.opts.TLS != nil {
				// The bytes after the OK are the server's side of
				// the handshake: stop reading responses there
				// before the batch goes out.
				w.events.stopAfter(tag)
			}
			var all strings.Builder
			for _, st := range batch {
				all.WriteString(st.Data)
				if tag, _, ok := splitCommand(scanWireLine(st.Data).text); ok {
					w.inflight[tag] = true
				}
			}
			w.write(all.String())
		}
		for _, st := range batch {
			w.step(st, !pipelined, false)
		}
		i = j
	}
	w.finish()
	w.hangUp()
	w.verifyAppends(target)
}

// writer writes the client's bytes in order, so that the runner can read
// responses while a pipelined batch is still being written.
func (w *WireSession) writer() {
	defer close(w.writerDone)
	failed := false
	for b := range w.writes {
		if failed {
			continue
		}
		w.connMu.Lock()
		conn := w.conn
		w.connMu.Unlock()
		if _, err := conn.Write([]byte(b)); err != nil {
			failed = true
		}
	}
}

func (w *WireSession) write(b string) { w.writes <- b }

// hangUp closes the client's side and waits for the reader and the writer.
// hangUpNow closes the client's connection in the middle of the sequence:
// the session is over, and open tags are exempt as after a close.
func (w *WireSession) hangUpNow() {
	w.closed = true
	w.ledger.Close()
	w.connMu.Lock()
	defer w.connMu.Unlock()
	w.raw.Close()
}

func (w *WireSession) hangUp() {
	if w.conn == nil {
		return
	}
	close(w.writes)
	w.raw.Close()
	<-w.writerDone
	for range w.events.ch {
	}
	<-w.events.done
}

// begin starts the record of a step.
func (w *WireSession) begin(st WireStep, synthetic bool) {
	w.records = append(w.records, WireRecord{Index: len(w.records), Step: st, Synthetic: synthetic, From: w.state, To: w.state})
	w.rec = &w.records[len(w.records)-1]
}

func (w *WireSession) end() { w.rec.To = w.state }

func (w *WireSession) note(format string, args ...any) {
	w.rec.Notes = append(w.rec.Notes, fmt.Sprintf(format, args...))
}

// violate records a violation and stops the run: after the first wrong
// response the model and the server no longer agree on anything.
func (w *WireSession) violate(p Property, format string, args ...any) {
	w.rec.Violations = append(w.rec.Violations, Violation{Property: p, Step: w.rec.Index, Message: fmt.Sprintf(format, args...)})
	w.broken = true
}

// maxRecordedResponses bounds the responses a record keeps.
const maxRecordedResponses = 12

// next returns the next response that matters to the machine: a tagged
// response, a continuation request, an untagged BAD, an untagged BYE when
// wantBye, or the end of the stream. Other untagged data is noted and
// skipped. BAD replies are counted as the server counts them for its
// error limit.
func (w *WireSession) next(wantBye bool) wireEvent {
	if len(w.unread) > 0 {
		ev := w.unread[0]
		w.unread = w.unread[1:]
		return ev
	}
	timer := time.NewTimer(w.opts.Timeout)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-w.events.ch:
			if !ok {
				return wireEvent{eof: true, err: errors.New("stream closed")}
			}
			if len(w.rec.Responses) < maxRecordedResponses {
				w.rec.Responses = append(w.rec.Responses, ev.String())
			}
			switch {
			case ev.status == "BAD":
				w.bad++
			case (ev.status == "OK" || ev.status == "NO") && ev.tag != "*":
				w.bad = 0
			}
			if ev.codeName() == "SERVERBUG" {
				w.violate(ServerSound, "the server reports an internal error: %s", ev.line)
			}
			switch {
			case ev.eof, ev.continuation(), ev.tag != "*":
				return ev
			case ev.status == "BAD", ev.status == "BYE" && wantBye:
				return ev
			}
		case <-timer.C:
			return wireEvent{err: errTimeout}
		}
	}
}

// step runs one step: it writes the step's bytes when chunked (waiting for
// the continuation request of each synchronising literal, as a polite
// client does), classifies the line in the model's state, and checks what
// the server answers against the spec's decisions.
func (w *WireSession) step(st WireStep, chunked, synthetic bool) {
	w.begin(st, synthetic)
	defer w.end()
	if w.broken {
		w.rec.Skipped = true
		return
	}
	if st.Directive != "" {
		w.directive(st)
		return
	}
	reads := w.ref.Reads(w.state)
	if w.closed || reads == fsm.ReadsNone {
		// Bytes pipelined after STARTTLS are discarded with the
		// plaintext buffer, never run (the CVE-2011-0411 class).
		if w.closed {
			w.note("not read: the connection is closed")
		} else {
			w.note("not read: the session is in %s", w.state)
		}
		if tag, _, ok := splitCommand(scanWireLine(st.Data).text); ok {
			delete(w.inflight, tag)
		}
		return
	}
	if st.partial() {
		w.partialLine(st)
		return
	}
	l := scanWireLine(st.Data)
	tooLarge := false
	if n, sync, ok := literalAt(l.text); ok && !sync && w.opts.MaxSkip > 0 && n > w.opts.MaxSkip {
		// Too large to skip: after the line's answer the server
		// closes, without reading the payload.
		tooLarge = true
	}
	if l.short && !tooLarge {
		// A disconnect in the middle of a literal: nothing more is
		// decided; the server must end the session cleanly.
		if !st.Pipelined || chunked {
			w.write(st.Data)
		}
		w.note("the client hangs up in the middle of a literal")
		w.hangUpNow()
		return
	}
	in, tag := w.ref.ClassifyWire(reads, st)
	if w.opts.MaxLine > 0 && len(l.text) > w.opts.MaxLine {
		// The server answers the line as soon as it passes the limit,
		// reading only its tag from its head, and skips the rest; one
		// that goes on beyond what it skips also ends the session.
		in, tag = w.ref.lineTooLong(reads, l.text, w.opts.MaxLine)
		tooLarge = w.opts.MaxCommand > 0 && len(st.Data) > w.opts.MaxCommand
	}
	if in == fsm.InputStarttls && w.opts.TLS != nil {
		// The bytes after the OK are the server's side of the handshake.
		w.events.stopAfter(tag)
	}
	if in == fsm.InputCompress {
		// The bytes after the OK are compressed.
		w.events.stopAfter(tag)
	}
	compressed := false
	w.rec.Input, w.rec.Tag = in, tag
	current := NoTag
	if w.ref.Tagged(in) {
		current = w.ledger.Open(tag)
		w.tags[tag] = current
	}
	delete(w.inflight, tag)
	if chunked {
		w.write(l.chunks[0])
	}
	var ahead []wireEvent
literals:
	for k := 0; k < l.syncLiterals; k++ {
		for {
			ev := w.next(false)
			if ev.continuation() {
				break
			}
			ahead = append(ahead, ev)
			heldFirst := current != NoTag && w.ledger.Held() != NoTag && ev.tag != tag && ev.tag == w.ledger.Label(w.ledger.Held())
			if ev.eof || ev.err != nil || !heldFirst {
				// The server may answer the command before its
				// literal (RFC 9051 7.5); the client then does not
				// send it, and the answer is the command's.
				w.note("answered before literal %d: the client does not send it", k+1)
				break literals
			}
			// The completion of a held tag (IDLE ended by this
			// command) comes before the continuation request.
		}
		if chunked && k+1 < len(l.chunks) {
			w.write(l.chunks[k+1])
		}
	}
	w.unread = append(ahead, w.unread...)

	state, facts := w.state, w.facts
	for depth := 0; ; depth++ {
		if depth > maxRedispatch {
			w.violate(ValidState, "%s is redispatched more than %d times", in, maxRedispatch)
			return
		}
		d := w.ref.Step(state, facts, in, w.modes)
		outcome := w.ref.DefaultOutcome(in)
		held := w.ledger.Held()
		if d.Pending != fsm.ResponseNone && held != NoTag {
			if !w.expectStatus(w.next(false), w.ledger.Label(held), d.Pending) {
				return
			}
			w.complete(held, d.Pending.Status()+" (pending)")
		}
		switch d.Action {
		case fsm.ActionExecute:
			o, ok := w.expectHandler(in, current, tag, l)
			if !ok {
				return
			}
			outcome = o
			compressed = in == fsm.InputCompress && o == fsm.OutcomeOK
		case fsm.ActionReject:
			replyTag := tag
			if replyTag == "" {
				replyTag = "*"
			}
			if !w.expectStatus(w.next(false), replyTag, d.Reply) {
				return
			}
			if current != NoTag {
				w.complete(current, d.Reply.Status()+" (reject)")
			}
		case fsm.ActionNotify:
			if !w.expectStatus(w.next(false), "*", d.Reply) {
				return
			}
		case fsm.ActionClose:
			w.expectClose(d)
		}
		if w.broken {
			return
		}
		if w.coverage != nil {
			w.coverage.Record(state, facts, in, w.modes, outcome)
		}
		next := d.engineNext(outcome)
		note := fmt.Sprintf("%s: %s %s", state, d.Rule, d.Action)
		if d.Action == fsm.ActionExecute {
			note += " → " + outcome.String()
		}
		w.note("%s → %s", note, next)
		state, facts = next, d.engineFacts(facts, outcome)
		if d.Action != fsm.ActionRedispatch {
			break
		}
	}
	w.state, w.facts = state, facts
	if in == fsm.InputCompress {
		if compressed {
			w.startDeflate()
		} else {
			w.events.stopTag.Store(nil)
		}
	}
	if w.closed {
		return
	}
	for _, err := range w.ledger.Settle(current, w.ref.HoldsTag(state), state.String()) {
		w.violate(TagCompletion, "%v", err)
	}
	w.checkErrorLimit()
	if tooLarge && !w.closed && !w.broken {
		w.tooLarge()
	}
}

// lineTooLong is the input an over-long line is in a state that reads
// lines as reads: line-too-long-tagged when its head starts with a tag and
// a space (not in SASL, where a line is a response), else line-too-long.
func (r *Reference) lineTooLong(reads fsm.Reads, text string, maxLine int) (fsm.Input, string) {
	if tag := headTag(text, min(wireHeadSize, maxLine)); tag != "" && reads != fsm.ReadsSASL {
		return r.mustInput(lineTooLongTagged), tag
	}
	return r.mustInput(lineTooLongInput), ""
}

// tooLarge expects the command-too-large event after an over-long line
// that went on beyond what the server skips.
func (w *WireSession) tooLarge() {
	in := w.ref.mustInput(commandTooLargeInput)
	d := w.ref.Step(w.state, w.facts, in, w.modes)
	switch d.Action {
	case fsm.ActionClose:
		w.expectClose(d)
	case fsm.ActionNotify:
		w.expectStatus(w.next(false), "*", d.Reply)
	}
	if w.broken {
		return
	}
	w.note("the line or its literal is too large to skip")
	w.event(in, d)
}

// checkErrorLimit expects the error-limit BYE when the BAD replies in a
// row reached the server's limit, as the engine checks after every input.
func (w *WireSession) checkErrorLimit() {
	limit := w.opts.MaxBadBeforeAuth
	if w.authed {
		limit = w.opts.MaxBad
	}
	if limit <= 0 || w.bad < limit || w.ref.Terminal(w.state) {
		return
	}
	w.bad = 0
	in, ok := w.ref.InputByName("error-limit")
	if !ok {
		return
	}
	d := w.ref.Step(w.state, w.facts, in, w.modes)
	if d.Action == fsm.ActionClose {
		w.expectClose(d)
	}
	if w.broken {
		return
	}
	if w.coverage != nil {
		w.coverage.Record(w.state, w.facts, in, w.modes, fsm.OutcomeOK)
	}
	w.note("%d BAD replies in a row: %s × error-limit: %s %s → %s", limit, w.state, d.Rule, d.Action, d.engineNext(fsm.OutcomeOK))
	w.state, w.facts = d.engineNext(fsm.OutcomeOK), d.engineFacts(w.facts, fsm.OutcomeOK)
}

// expectClose expects the decision's BYE and then the end of the stream.
func (w *WireSession) expectClose(d Decision) {
	if d.Reply != fsm.ResponseNone && !w.expectStatus(w.next(true), "*", d.Reply) {
		return
	}
	if ev := w.next(false); !ev.eof {
		w.violate(TerminalAbsorbing, "the spec closes the connection (rule %s), but the server goes on: %s", d.Rule, w.describe(ev))
		return
	}
	w.closed = true
	w.ledger.Close()
}

// describe names an event in a violation message.
func (w *WireSession) describe(ev wireEvent) string {
	switch {
	case errors.Is(ev.err, errTimeout):
		return fmt.Sprintf("nothing within %v", w.opts.Timeout)
	case ev.eof:
		return "the end of the connection"
	}
	return strconv.Quote(ev.line)
}

// expectStatus checks that ev is resp with tag. A response for another tag
// is a tag-completion violation (twice, out of order or unknown), any other
// difference a matches-spec one.
func (w *WireSession) expectStatus(ev wireEvent, tag string, resp fsm.Response) bool {
	want := resp.Status()
	if resp.Code() != "" {
		want += " [" + resp.Code() + "]"
	}
	want = fmt.Sprintf("%s %s %s", tag, want, resp.Text())
	switch {
	case errors.Is(ev.err, errTimeout) && tag != "*":
		w.violate(TagCompletion, "tag %s got no completion (%s expected, %s)", tag, strconv.Quote(want), w.describe(ev))
		return false
	case ev.eof:
		w.violate(ServerSound, "the connection ended while %q was expected", want)
		return false
	case ev.tag != tag && !(strings.EqualFold(ev.tag, tag) && tag == "DONE"):
		if !ev.continuation() && ev.tag != "*" && ev.tag != "" {
			w.wrongTag(ev, tag)
			return false
		}
		if ev.continuation() && tag != "*" {
			// The server went on to the next command (IDLE again,
			// a literal) with tag still open.
			w.violate(TagCompletion, "tag %s got no completion before %q (%s expected)", tag, ev.line, strconv.Quote(want))
			return false
		}
	case ev.matches(resp):
		return true
	}
	w.violate(MatchesSpec, "%s: expected %q (%s), got %s", w.rec.From, want, resp, w.describe(ev))
	return false
}

// wrongTag reports a tagged response that is not the one expected.
func (w *WireSession) wrongTag(ev wireEvent, want string) {
	id, known := w.tags[ev.tag]
	switch {
	case w.inflight[ev.tag]:
		w.violate(TagCompletion, "tags answered out of order: %q arrived while %s still waits for its completion", ev.line, want)
	case known:
		if err := w.ledger.Complete(id, ev.status+" (wire)"); err != nil {
			w.violate(TagCompletion, "%v: %q", err, ev.line)
		} else {
			w.violate(TagCompletion, "%q arrived while %s waits for its completion", ev.line, want)
		}
	default:
		w.violate(TagCompletion, "%q answers no tag the client sent (%s expected)", ev.line, want)
	}
}

// complete records a completion in the ledger.
func (w *WireSession) complete(id TagID, by string) {
	if err := w.ledger.Complete(id, by); err != nil {
		w.violate(TagCompletion, "%v", err)
	}
}

// expectHandler reads the result of an executed input: a continuation
// request, when the input's handler can continue, or the tagged completion
// of the line's tag (or, for a SASL response, of the held AUTHENTICATE
// tag). It returns the outcome read from the wire.
func (w *WireSession) expectHandler(in fsm.Input, current TagID, tag string, l wireLine) (fsm.Outcome, bool) {
	ev := w.next(false)
	if ev.continuation() {
		if !w.ref.Produces(in, fsm.OutcomeContinue) {
			w.violate(MatchesSpec, "%s: a continuation request for %s, whose handler cannot continue", w.rec.From, in)
			return 0, false
		}
		if current != NoTag {
			if err := w.ledger.Hold(current); err != nil {
				w.violate(TagCompletion, "%v", err)
			}
		}
		return fsm.OutcomeContinue, true
	}
	owner := current
	if owner == NoTag {
		owner, tag = w.ledger.Held(), w.ledger.Label(w.ledger.Held())
	}
	if owner == NoTag {
		w.violate(MatchesSpec, "%s: the spec runs %s, which has no tag to complete", w.rec.From, in)
		return 0, false
	}
	if ev.tag != tag || ev.status == "" {
		if errors.Is(ev.err, errTimeout) || ev.eof || ev.tag == "*" {
			w.violate(TagCompletion, "tag %s got no completion: %s", tag, w.describe(ev))
		} else {
			w.wrongTag(ev, tag)
		}
		return 0, false
	}
	var o fsm.Outcome
	switch ev.status {
	case "OK":
		o = fsm.OutcomeOK
	case "NO":
		o = fsm.OutcomeNo
	case "BAD":
		o = fsm.OutcomeBad
	default:
		w.violate(TagCompletion, "%q completes tag %s with %s, which is no tagged completion", ev.line, tag, ev.status)
		return 0, false
	}
	if !w.ref.Produces(in, o) {
		w.violate(MatchesSpec, "%q: a handler of %s cannot report %s", ev.line, in, o)
		return 0, false
	}
	for _, r := range w.rejections {
		if ev.matches(r) {
			w.violate(MatchesSpec, "%s: the spec runs %s here, but the server rejects it: %q (%s)", w.rec.From, in, ev.line, r)
			return 0, false
		}
	}
	w.complete(owner, ev.status+" (handler)")
	w.track(in, o, ev, l)
	return o, true
}

// track follows what the session did to the data: logins, the selected
// mailbox, acknowledged APPENDs and the commands that may remove them.
func (w *WireSession) track(in fsm.Input, o fsm.Outcome, ev wireEvent, l wireLine) {
	name := in.String()
	if o == fsm.OutcomeOK && (in == fsm.InputLogin || in == fsm.InputAuthenticate || name == saslResponseName) {
		w.authed = true
	}
	arg := func(n int) string { return astringArg(l.text, n) }
	switch {
	case in == fsm.InputAppend && o == fsm.OutcomeOK:
		f := strings.Fields(ev.code)
		if len(f) == 3 && f[0] == "APPENDUID" && len(l.literals) > 0 {
			v, err1 := strconv.ParseUint(f[1], 10, 32)
			u, err2 := strconv.ParseUint(f[2], 10, 32)
			if err1 == nil && err2 == nil {
				w.appends = append(w.appends, ackedAppend{step: w.rec.Index, mailbox: arg(0), uidValidity: uint32(v), uid: uint32(u), body: l.literals[len(l.literals)-1]})
			}
		}
	case in == fsm.InputSelect || in == fsm.InputExamine:
		w.selected = ""
		if o == fsm.OutcomeOK {
			w.selected = arg(0)
		}
	case (in == fsm.InputClose || in == fsm.InputUnselect) && o == fsm.OutcomeOK:
		if in == fsm.InputClose {
			w.mayRemove(w.selected)
		}
		w.selected = ""
	case in == fsm.InputExpunge || in == fsm.InputUIDExpunge || in == fsm.InputMove || in == fsm.InputUIDMove:
		w.mayRemove(w.selected)
	case in == fsm.InputDelete || in == fsm.InputRename:
		w.mayRemove(arg(0))
	}
}

// mayRemove marks the acknowledged APPENDs to mailbox as possibly removed.
func (w *WireSession) mayRemove(mailbox string) {
	for i := range w.appends {
		if strings.EqualFold(w.appends[i].mailbox, mailbox) || mailbox == "" {
			w.appends[i].gone = true
		}
	}
}

// finish ends a session that is still open the way a client does: it ends
// IDLE or a SASL exchange, then sends a NOOP, whose completion shows that
// nothing is left unanswered (or answered twice) before it.
func (w *WireSession) finish() {
	if w.broken || w.closed {
		return
	}
	switch w.ref.Reads(w.state) {
	case fsm.ReadsNone:
		if !w.ref.Terminal(w.state) {
			w.step(WireStep{Directive: DirectiveHandshake}, true, true)
		}
	}
	switch w.ref.Reads(w.state) {
	case fsm.ReadsIdle:
		w.step(WireStep{Data: "DONE\r\n"}, true, true)
	case fsm.ReadsSASL:
		w.step(WireStep{Data: "*\r\n"}, true, true)
	}
	if !w.broken && !w.closed && w.ref.Reads(w.state) == fsm.ReadsCommand {
		w.step(WireStep{Data: "Z0 NOOP\r\n"}, true, true)
	}
}

// verifyAppends reads every acknowledged APPEND that no later command may
// have removed back over a fresh connection and compares the bytes.
func (w *WireSession) verifyAppends(target WireTarget) {
	var check []ackedAppend
	for _, a := range w.appends {
		if !a.gone {
			check = append(check, a)
		}
	}
	if len(check) == 0 || w.broken {
		return
	}
	if w.down {
		w.note("the server was shut down: the acknowledged APPENDs are not read back")
		return
	}
	w.begin(WireStep{Data: "(verify acknowledged APPENDs)\r\n"}, true)
	defer w.end()
	c, err := dialWireClient(target, w.opts.Timeout)
	if err != nil {
		w.violate(ServerSound, "verify: %v", err)
		return
	}
	defer c.close()
	if _, done := c.cmd("V1 LOGIN " + WireUser + " " + WirePassword); done.status != "OK" {
		w.violate(ServerSound, "verify: LOGIN: %s", done.String())
		return
	}
	byMailbox := map[string][]ackedAppend{}
	var order []string
	for _, a := range check {
		if _, ok := byMailbox[a.mailbox]; !ok {
			order = append(order, a.mailbox)
		}
		byMailbox[a.mailbox] = append(byMailbox[a.mailbox], a)
	}
	for i, mbox := range order {
		as := byMailbox[mbox]
		untagged, done := c.cmd(fmt.Sprintf("V%d EXAMINE %s", 2*i+2, strconv.Quote(mbox)))
		if done.status != "OK" {
			w.violate(Durable, "APPEND acknowledged with APPENDUID %d %d (step %d), but its mailbox %s cannot be opened: %s", as[0].uidValidity, as[0].uid, as[0].step+1, mbox, done.String())
			return
		}
		for _, ev := range untagged {
			if ev.codeName() == "UIDVALIDITY" && ev.code != "UIDVALIDITY "+strconv.FormatUint(uint64(as[0].uidValidity), 10) {
				w.violate(Durable, "%s has %s, but the APPEND of step %d was acknowledged with UIDVALIDITY %d", mbox, ev.code, as[0].step+1, as[0].uidValidity)
				return
			}
		}
		uids := make([]string, len(as))
		for k, a := range as {
			uids[k] = strconv.FormatUint(uint64(a.uid), 10)
		}
		untagged, done = c.cmd(fmt.Sprintf("V%d UID FETCH %s BODY.PEEK[]", 2*i+3, strings.Join(uids, ",")))
		if done.status != "OK" {
			w.violate(Durable, "UID FETCH of the acknowledged APPENDs in %s fails: %s", mbox, done.String())
			return
		}
		got := map[uint32]string{}
		for _, ev := range untagged {
			if _, uid, _, body, ok := fetchItems(ev); ok && uid != 0 && body != nil {
				got[uid] = *body
			}
		}
		for _, a := range as {
			body, ok := got[a.uid]
			switch {
			case !ok:
				w.violate(Durable, "the APPEND of step %d, acknowledged with APPENDUID %d %d in %s, is gone", a.step+1, a.uidValidity, a.uid, mbox)
			case body != a.body:
				w.violate(Durable, "the APPEND of step %d (UID %d in %s) reads back different bytes: %s", a.step+1, a.uid, mbox, bytesEqualDiff(a.body, body))
			}
		}
	}
	c.cmd("V0 LOGOUT")
}

// wireClient is a simple synchronous client: one command at a time.
type wireClient struct {
	conn    net.Conn
	events  *eventStream
	timeout time.Duration
}

// dialWireClient connects and reads the greeting.
func dialWireClient(target WireTarget, timeout time.Duration) (*wireClient, error) {
	conn, err := target.Dial()
	if err != nil {
		return nil, err
	}
	c := &wireClient{conn: conn, events: newEventStream(conn), timeout: timeout}
	if g := c.read(); g.status != "OK" {
		c.close()
		return nil, fmt.Errorf("greeting %s", g.String())
	}
	return c, nil
}

// read returns the next response, or a timeout event.
func (c *wireClient) read() wireEvent {
	select {
	case ev, ok := <-c.events.ch:
		if !ok {
			return wireEvent{eof: true}
		}
		return ev
	case <-time.After(c.timeout):
		return wireEvent{err: errTimeout, line: "(timeout)"}
	}
}

// send writes raw bytes without waiting.
func (c *wireClient) send(data string) error {
	c.conn.SetWriteDeadline(time.Now().Add(c.timeout))
	_, err := c.conn.Write([]byte(data))
	return err
}

// cmd sends one line and returns the untagged responses and the
// completion; a timeout or the end of the stream comes back as done.
func (c *wireClient) cmd(line string) (untagged []wireEvent, done wireEvent) {
	tag, _, _ := strings.Cut(line, " ")
	if err := c.send(line + "\r\n"); err != nil {
		return nil, wireEvent{eof: true, err: err, line: err.Error()}
	}
	return c.until(tag)
}

// until reads responses up to the completion of tag.
func (c *wireClient) until(tag string) (untagged []wireEvent, done wireEvent) {
	for {
		ev := c.read()
		if ev.eof || ev.err != nil || ev.tag == tag {
			return untagged, ev
		}
		untagged = append(untagged, ev)
	}
}

// close hangs up and waits for the reader.
func (c *wireClient) close() {
	c.conn.Close()
	for range c.events.ch {
	}
	<-c.events.done
}

// The spec names of the inputs the engine raises for what a client does
// without sending a complete line.
const (
	lineTooLongInput     = "line-too-long"
	lineTooLongTagged    = "line-too-long-tagged"
	commandTooLargeInput = "command-too-large"
	commandTimeoutInput  = "command-timeout"
	autologoutInput      = "autologout"
	keepaliveInput       = "keepalive"
	tlsReadyInput        = "tls-ready"
	tlsFailedInput       = "tls-failed"
	shutdownInput        = "shutdown"
	corruptStreamInput   = "corrupt-stream"
)

// mustInput returns the input the spec declares as name.
func (r *Reference) mustInput(name string) fsm.Input {
	in, ok := r.InputByName(name)
	if !ok {
		panic("the spec declares no input " + name)
	}
	return in
}

// event applies the decision for an event the engine raises in the model's
// state: it records coverage, notes the decision and moves on. The caller
// has checked what the server sent.
func (w *WireSession) event(in fsm.Input, d Decision) {
	if w.coverage != nil {
		w.coverage.Record(w.state, w.facts, in, w.modes, w.ref.DefaultOutcome(in))
	}
	next := d.engineNext(w.ref.DefaultOutcome(in))
	w.note("%s × %s: %s %s → %s", w.state, in, d.Rule, d.Action, next)
	w.rec.Input = in
	w.state, w.facts = next, d.engineFacts(w.facts, w.ref.DefaultOutcome(in))
}

// directive carries out a step that is an action of the client.
func (w *WireSession) directive(st WireStep) {
	if w.closed {
		w.note("not run: the connection is closed")
		return
	}
	reads := w.ref.Reads(w.state)
	switch st.Directive {
	case DirectiveSleep:
		if reads == fsm.ReadsNone || w.opts.Autologout <= 0 {
			w.note("not run: no timer to wait for in %s", w.state)
			return
		}
		w.sleep()
	case DirectiveHandshake, DirectiveBadHandshake:
		if reads != fsm.ReadsNone || w.ref.Terminal(w.state) {
			w.note("not run: no handshake is due in %s", w.state)
			return
		}
		if w.opts.TLS == nil {
			w.violate(MatchesSpec, "the server accepted STARTTLS, but it has no TLS")
			return
		}
		w.handshake(st.Directive == DirectiveBadHandshake)
	case DirectiveShutdown:
		sd, ok := w.target.(WireShutdowner)
		if reads == fsm.ReadsNone || !ok {
			w.note("not run: no shutdown while the session is in %s", w.state)
			return
		}
		w.shutdown(sd)
	case DirectiveCorrupt:
		w.connMu.Lock()
		dc, ok := w.conn.(*wireDeflateConn)
		w.connMu.Unlock()
		if reads == fsm.ReadsNone || !ok {
			w.note("not run: the session is not compressed")
			return
		}
		w.corrupt(dc)
	}
}

// wireDeflateConn is the client's side of COMPRESS DEFLATE (RFC 4978):
// what it reads is decompressed, and each write is compressed and
// sync-flushed, as zlib-based clients do.
type wireDeflateConn struct {
	net.Conn // the connection under the compression: TCP, or TLS
	r        io.Reader
	fw       *flate.Writer
}

func (d *wireDeflateConn) Read(p []byte) (int, error) { return d.r.Read(p) }

// Write compresses p and sends it with a sync flush in one write, as
// zlib clients do.
func (d *wireDeflateConn) Write(p []byte) (int, error) {
	var b bytes.Buffer
	d.fw.Reset(&b)
	d.fw.Write(p)
	d.fw.Flush()
	if _, err := d.Conn.Write(b.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// startDeflate switches the client to DEFLATE after the tagged OK of
// COMPRESS: the event stream stopped after the OK, and what it had read
// beyond it is the start of the compressed stream. A session compressed
// already (a second COMPRESS that the spec lets run) starts both streams
// afresh on the connection underneath, as the server does.
func (w *WireSession) startDeflate() {
	<-w.events.done
	rest := w.events.rest
	w.connMu.Lock()
	base := w.conn
	if dc, ok := base.(*wireDeflateConn); ok {
		base = dc.Conn
	}
	fw, err := flate.NewWriter(base, flate.DefaultCompression)
	if err != nil {
		panic(err) // a constant, valid level
	}
	dc := &wireDeflateConn{Conn: base, r: flate.NewReader(io.MultiReader(bytes.NewReader(rest), base)), fw: fw}
	w.conn = dc
	w.connMu.Unlock()
	w.events = newEventStream(dc)
	w.note("the client compresses from here on, and decompresses what it reads")
}

// corrupt sends bytes that are no DEFLATE (a block of the reserved type,
// RFC 1951 3.2.3) under the client's compression: the machine's
// corrupt-stream decision must come (a BYE and the end of the stream).
func (w *WireSession) corrupt(dc *wireDeflateConn) {
	in := w.ref.mustInput(corruptStreamInput)
	d := w.ref.Step(w.state, w.facts, in, w.modes)
	w.connMu.Lock()
	_, err := dc.Conn.Write([]byte{0xff, 0xff, 0xff, 0xff})
	w.connMu.Unlock()
	if err != nil {
		w.violate(ServerSound, "writing to the server: %v", err)
		return
	}
	w.expectClose(d)
	if !w.broken {
		w.event(in, d)
	}
}

// shutdown shuts the server down while the session waits for a line: the
// machine's shutdown decision must come (a BYE and the end of the stream),
// and Shutdown must return.
func (w *WireSession) shutdown(sd WireShutdowner) {
	in := w.ref.mustInput(shutdownInput)
	d := w.ref.Step(w.state, w.facts, in, w.modes)
	errc := make(chan error, 1)
	go func() { errc <- sd.Shutdown() }()
	w.expectClose(d)
	err := <-errc
	w.down = true
	if w.broken {
		return
	}
	if err != nil {
		w.violate(ServerSound, "Shutdown: %v", err)
		return
	}
	w.event(in, d)
}

// sleep waits for the server's timers. Where the machine closes on
// autologout, the BYE must come (and the end of the stream); where it does
// not (IDLE), the client waits past the autologout timeout and the server
// must send keepalives where the machine notifies them, and nothing else.
func (w *WireSession) sleep() {
	wait := w.opts.Autologout + w.opts.Keepalive + 100*time.Millisecond
	if clk, ok := w.target.(WireClock); ok {
		w.advanceClock(clk, wait)
		wait = 200 * time.Millisecond // for what the timers sent
	}
	auto := w.ref.mustInput(autologoutInput)
	if d := w.ref.Step(w.state, w.facts, auto, w.modes); d.Action == fsm.ActionClose {
		w.expectClose(d)
		if !w.broken {
			w.event(auto, d)
		}
		return
	}
	keep := w.ref.mustInput(keepaliveInput)
	dk := w.ref.Step(w.state, w.facts, keep, w.modes)
	keepalives := 0
	check := func(ev wireEvent) {
		switch {
		case ev.tag == "*" && dk.Action == fsm.ActionNotify && ev.matches(dk.Reply):
			keepalives++
		default:
			w.violate(MatchesSpec, "while the client waits in %s, the server sends %s", w.state, w.describe(ev))
		}
	}
	for _, ev := range w.unread {
		check(ev)
	}
	w.unread = nil
	timer := time.NewTimer(wait)
	defer timer.Stop()
wait:
	for !w.broken {
		select {
		case ev, ok := <-w.events.ch:
			if !ok {
				ev = wireEvent{eof: true}
			}
			if len(w.rec.Responses) < maxRecordedResponses {
				w.rec.Responses = append(w.rec.Responses, ev.String())
			}
			check(ev)
		case <-timer.C:
			break wait
		}
	}
	if w.broken {
		return
	}
	if dk.Action == fsm.ActionNotify && keepalives == 0 {
		w.violate(MatchesSpec, "no keepalive (%s) in %v of %s", dk.Reply, w.opts.Autologout+w.opts.Keepalive, w.state)
		return
	}
	// The engine raises no autologout here (the machine ignores it): the
	// client saw that nothing closed the session.
	w.note("%s ignores autologout: no BYE in %v", w.state, w.opts.Autologout+w.opts.Keepalive)
	if keepalives > 0 {
		w.note("%d keepalives", keepalives)
		w.event(keep, dk)
	}
}

// partialLine sends the first bytes of a command and stops: where the
// machine closes on command-timeout, the BYE must come.
func (w *WireSession) partialLine(st WireStep) {
	in := w.ref.mustInput(commandTimeoutInput)
	d := w.ref.Step(w.state, w.facts, in, w.modes)
	if d.Action != fsm.ActionClose || w.opts.CommandTimeout <= 0 {
		w.note("not sent: command-timeout does not end %s here", w.state)
		return
	}
	w.write(st.Data)
	if clk, ok := w.target.(WireClock); ok {
		w.advanceClock(clk, w.opts.CommandTimeout+200*time.Millisecond)
	}
	w.expectClose(d)
	if !w.broken {
		w.event(in, d)
	}
}

// handshake runs the client's side of STARTTLS: a real TLS handshake, after
// which responses are read over TLS (tls-ready), or bytes that are no TLS
// record, after which the server must close the connection (tls-failed).
func (w *WireSession) handshake(garbage bool) {
	// The event stream stopped after the STARTTLS OK.
	<-w.events.done
	if garbage {
		in := w.ref.mustInput(tlsFailedInput)
		d := w.ref.Step(w.state, w.facts, in, w.modes)
		w.write("GARBAGE\r\n")
		w.raw.SetReadDeadline(time.Now().Add(w.opts.Timeout))
		_, err := io.Copy(io.Discard, w.raw)
		if d.Action == fsm.ActionClose && err != nil {
			w.violate(TerminalAbsorbing, "the TLS handshake failed and the spec closes the connection (rule %s), but the server keeps it open: %v", d.Rule, err)
			return
		}
		w.closed = true
		w.ledger.Close()
		w.event(in, d)
		return
	}
	in := w.ref.mustInput(tlsReadyInput)
	d := w.ref.Step(w.state, w.facts, in, w.modes)
	tc := tls.Client(w.raw, w.opts.TLS)
	ctx, cancel := context.WithTimeout(context.Background(), w.opts.Timeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		w.violate(ServerSound, "TLS handshake after STARTTLS OK: %v", err)
		return
	}
	w.connMu.Lock()
	w.conn = tc
	w.connMu.Unlock()
	w.events = newEventStream(tc)
	w.event(in, d)
}

// WireReachable reports whether a client can make the server decide t. A
// state that reads no line (tls-handshake, and logged-out, whose connection
// is closed) gets only the events of the handshake. Where lines are read,
// the state decides what a line is (ClassifyWire): DONE and its variants
// only in IDLE, a stray DONE only where commands are read, and in SASL every
// line is a response; commands, empty lines and garbage arrive everywhere
// else. A line over the limit is line-too-long wherever lines are read (in
// SASL too: the reader raises it before the line is classified). The
// engine raises a timer event only where the machine acts on it
// (autologout and command-timeout close, keepalive notifies), the
// error-limit, command-too-large and shutdown events in every state that
// reads.
func (r *Reference) WireReachable(t Transition) bool {
	s, in := t.State, t.Input
	reads := r.Reads(s)
	name := in.String()
	switch {
	case r.Terminal(s):
		return false
	case name == tlsReadyInput || name == tlsFailedInput:
		return reads == fsm.ReadsNone
	case reads == fsm.ReadsNone:
		return false
	}
	switch name {
	case lineTooLongInput, unparsableInput:
		return true // the line reader raises them whatever the state reads (a NUL byte for unparsable)
	case autologoutInput, commandTimeoutInput, keepaliveInput:
		modes := fsm.NewModes(fsm.Lenient)
		if t.Quirk != fsm.QuirkNone {
			modes = modes.With(t.Quirk, t.Mode)
		}
		// The timers' rules read no facts: any the state is reached with
		// will do.
		return r.Step(s, r.someFacts(s), in, modes).Action != fsm.ActionIgnore
	case strayDoneInput:
		return reads == fsm.ReadsCommand
	case doneInput, doneVariantInput:
		return reads == fsm.ReadsIdle
	}
	switch r.Kind(in) {
	case fsm.KindSASL:
		return reads == fsm.ReadsSASL
	case fsm.KindIdle:
		return reads == fsm.ReadsIdle
	case fsm.KindEvent:
		return true
	}
	return reads != fsm.ReadsSASL
}

// someFacts returns a valuation of the facts state s is reached with:
// DefaultFacts if it is one of them.
func (r *Reference) someFacts(s fsm.State) fsm.Facts {
	fs := r.ReachableFacts(s)
	if len(fs) == 0 || slices.Contains(fs, DefaultFacts) {
		return DefaultFacts
	}
	return fs[0]
}

// WireSummary reports coverage of all transitions and of the wire-reachable
// ones, e.g. "400/838 transitions (47.7%); 400/650 wire-reachable (61.5%)".
func (c *Coverage) WireSummary() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n, total, rn, rtotal int
	for _, t := range c.all {
		total++
		hit := c.hits[t] > 0
		if hit {
			n++
		}
		if c.ref.WireReachable(t) {
			rtotal++
			if hit {
				rn++
			}
		}
	}
	pct := func(a, b int) float64 {
		if b == 0 {
			return 100
		}
		return 100 * float64(a) / float64(b)
	}
	return fmt.Sprintf("%d/%d transitions (%.1f%%); %d/%d wire-reachable (%.1f%%)", n, total, pct(n, total), rn, rtotal, pct(rn, rtotal))
}

// WireMissingByState counts the wire-reachable transitions not exercised,
// per state.
func (c *Coverage) WireMissingByState() map[fsm.State]int {
	out := map[fsm.State]int{}
	for _, t := range c.Missing() {
		if c.ref.WireReachable(t) {
			out[t.State]++
		}
	}
	return out
}
