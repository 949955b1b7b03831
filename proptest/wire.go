package proptest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/imapfsm/imapfsm/fsm"
)

// A wire sequence file (testdata/wire-*.seq) is a replayable session with a
// live server: the exact bytes a client sends, one step per line, e.g.
//
//	# Apple Mail ends IDLE with a tagged command; then a bare-LF DONE.
//	mode strict
//	quirk idle-done-variants lenient
//	A1 LOGIN user secret
//	A2 SELECT INBOX
//	8.569 IDLE
//	8.570 STATUS INBOX (MESSAGES)
//	| A3 NOOP
//	"A4 APPEND INBOX {5+}\r\nhello\r\n"
//	"DONE\n"
//
// The grammar, line by line:
//
//	# ...                      a comment (only at the start of a line)
//	mode lenient|strict|both   the global quirk mode, as in model sequence
//	                           files; without it the file is replayed in both
//	quirk NAME lenient|strict  a per-quirk override
//	"..."                      a Go string literal: the exact bytes of one
//	                           step (a line with its literals and terminator)
//	| STEP                     STEP is written in the same write as the step
//	                           before it (pipelining)
//	<sleep>                    a pause long enough for the server's timers
//	                           to fire; the model says which event it
//	                           expects (autologout, or keepalives while
//	                           idling)
//	<handshake>                in tls-handshake (after STARTTLS OK): the
//	                           client runs the TLS handshake (tls-ready)
//	<handshake garbage>        in tls-handshake: the client sends bytes that
//	                           are no TLS record (tls-failed)
//	<shutdown>                 the server is shut down while the session
//	                           waits for a line (shutdown)
//	<corrupt>                  after COMPRESS DEFLATE: the client sends
//	                           bytes that are no DEFLATE (corrupt-stream)
//	anything else              one line, sent followed by CRLF
//
// A quoted step without a line feed is a partial line: the client sends it
// and stops, so the server's per-command deadline runs out
// (command-timeout). A quoted step that ends inside a non-synchronising
// literal (fewer bytes than announced) is a disconnect in the middle of the literal: the client
// sends it and closes the connection; nothing is decided after it, and the
// server must end the session cleanly. But a line announcing a
// non-synchronising literal beyond what the server skips
// (WireOptions.MaxSkip) is answered and then ends with command-too-large,
// whatever part of the payload follows. A line over the server's line limit is line-too-long,
// one beyond its command bound command-too-large (WireOptions.MaxLine,
// MaxCommand); such lines carry no literals.
//
// A step is what the session engine reads as one input: a command line with
// its literals, a DONE, a SASL response, an empty line or garbage. Which
// input of the spec it is depends on the state the session is in when the
// line arrives (a DONE outside IDLE is a stray DONE), so the runner
// classifies each step against the model's state as it goes.

// WireStep is one step of a wire sequence.
type WireStep struct {
	// Data is the exact bytes: one line, its literals, and the line ending.
	Data string
	// Pipelined is set when the step is written together with the step
	// before it, without waiting for that step's responses.
	Pipelined bool
	// Directive, when set, makes the step an action of the client rather
	// than bytes: DirectiveSleep, DirectiveHandshake,
	// DirectiveBadHandshake, DirectiveShutdown or DirectiveCorrupt. Data
	// is then empty.
	Directive string
}

// The directives of wire sequences.
const (
	DirectiveSleep        = "sleep"
	DirectiveHandshake    = "handshake"
	DirectiveBadHandshake = "handshake garbage"
	DirectiveShutdown     = "shutdown"
	DirectiveCorrupt      = "corrupt"
)

// directiveOf reads a directive line, "<sleep>" and so on.
func directiveOf(line string) (string, bool) {
	for _, d := range []string{DirectiveSleep, DirectiveHandshake, DirectiveBadHandshake, DirectiveShutdown, DirectiveCorrupt} {
		if line == "<"+d+">" {
			return d, true
		}
	}
	return "", false
}

// partial reports whether the step is a partial line: bytes without a line
// feed, after which the client stops.
func (st WireStep) partial() bool {
	return st.Directive == "" && st.Data != "" && !strings.Contains(st.Data, "\n")
}

// WireSequence is a parsed wire sequence file, or one to print.
type WireSequence struct {
	Global    fsm.Mode
	BothModes bool
	Overrides []Override
	Steps     []WireStep
}

// NewWireSequence returns steps to run under modes.
func NewWireSequence(modes fsm.Modes, steps []WireStep) WireSequence {
	seq := NewSequence(modes, nil)
	return WireSequence{Global: seq.Global, Overrides: seq.Overrides, Steps: steps}
}

// ModesToReplay lists the quirk modes to replay the sequence in.
func (w WireSequence) ModesToReplay() []fsm.Modes {
	return Sequence{Global: w.Global, BothModes: w.BothModes, Overrides: w.Overrides}.ModesToReplay()
}

// FormatWireStep writes one step as a sequence-file line.
func FormatWireStep(st WireStep) string {
	line := strconv.Quote(st.Data)
	if body, ok := strings.CutSuffix(st.Data, "\r\n"); ok && plainLine(body) {
		line = body
	}
	if st.Directive != "" {
		line = "<" + st.Directive + ">"
	}
	if st.Pipelined {
		line = "| " + line
	}
	return line
}

// plainLine reports whether s can be written as itself: printable ASCII,
// not empty, no leading or trailing blank, and not mistaken for a comment,
// a directive or a quoted step.
func plainLine(s string) bool {
	if s == "" || strings.TrimSpace(s) != s {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	for _, p := range []string{"#", "\"", "| ", "mode ", "quirk "} {
		if strings.HasPrefix(s, p) {
			return false
		}
	}
	if _, ok := directiveOf(s); ok {
		return false
	}
	return s != "|"
}

// FormatWireSequence writes seq in the wire sequence-file syntax. header
// lines become comments at the top; notes, when given, are comment lines
// written under the step of the same index.
func FormatWireSequence(seq WireSequence, notes [][]string, header ...string) string {
	var b strings.Builder
	for _, h := range header {
		for _, l := range strings.Split(h, "\n") {
			b.WriteString(strings.TrimRight("# "+l, " ") + "\n")
		}
	}
	if seq.BothModes {
		b.WriteString("mode both\n")
	} else {
		fmt.Fprintf(&b, "mode %s\n", seq.Global)
	}
	for _, o := range seq.Overrides {
		fmt.Fprintf(&b, "quirk %s %s\n", o.Quirk, o.Mode)
	}
	for i, st := range seq.Steps {
		b.WriteString(FormatWireStep(st) + "\n")
		if i < len(notes) {
			for _, n := range notes[i] {
				b.WriteString(strings.TrimRight("#   "+n, " ") + "\n")
			}
		}
	}
	return b.String()
}

// ParseWireSequence reads a wire sequence file.
func ParseWireSequence(text string) (WireSequence, error) {
	seq := WireSequence{BothModes: true}
	var errs []error
	for n, raw := range strings.Split(text, "\n") {
		line := strings.TrimRight(raw, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		fields := strings.Fields(line)
		var err error
		switch fields[0] {
		case "mode":
			var s Sequence
			err = (*Reference)(nil).parseLine(&s, line)
			seq.Global, seq.BothModes = s.Global, s.BothModes
		case "quirk":
			var s Sequence
			if err = (*Reference)(nil).parseLine(&s, line); err == nil {
				seq.Overrides = append(seq.Overrides, s.Overrides...)
			}
		default:
			var st WireStep
			if rest, ok := strings.CutPrefix(line, "| "); ok {
				st.Pipelined, line = true, rest
			}
			if d, ok := directiveOf(line); ok {
				st.Directive = d
			} else if strings.HasPrefix(line, "\"") {
				st.Data, err = strconv.Unquote(line)
			} else {
				st.Data = line + "\r\n"
			}
			if err == nil {
				seq.Steps = append(seq.Steps, st)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", n+1, err))
		}
	}
	return seq, errors.Join(errs...)
}

// wireLine is what a client step looks like to the session engine's line
// reader: the first line's text, how it ended, and its literals.
type wireLine struct {
	// text is the first line without its terminator.
	text   string
	bareLF bool
	// literal is set when the line announces a literal; syncLiterals
	// counts the synchronising ones, each answered with a continuation
	// request before the client may send its bytes.
	literal      bool
	syncLiterals int
	// chunks split the step's bytes after each synchronising literal
	// announcement, where a polite client waits for the continuation.
	chunks []string
	// literals are the literal bodies, in order.
	literals []string
	// short is set when the step ends inside a non-synchronising
	// literal: fewer bytes follow than its announcement says.
	short bool
}

// scanWireLine splits a step's bytes the way an IMAP line reader does.
func scanWireLine(data string) wireLine {
	var l wireLine
	start, pos := 0, 0
	for k := 0; ; k++ {
		i := strings.IndexByte(data[pos:], '\n')
		if i < 0 {
			if k == 0 {
				l.text = strings.TrimSuffix(data, "\r")
			}
			break
		}
		line := data[pos : pos+i]
		bare := !strings.HasSuffix(line, "\r")
		line = strings.TrimSuffix(line, "\r")
		if k == 0 {
			l.text, l.bareLF = line, bare
		}
		n, sync, ok := literalAt(line)
		if !ok {
			break
		}
		l.literal = true
		pos += i + 1
		if sync {
			l.syncLiterals++
			l.chunks = append(l.chunks, data[start:pos])
			start = pos
		}
		if n > len(data)-pos {
			l.short = l.short || !sync
			n = len(data) - pos
		}
		l.literals = append(l.literals, data[pos:pos+n])
		pos += n
	}
	l.chunks = append(l.chunks, data[start:])
	return l
}

// literalAt parses a literal announcement ending a line: {n} or {n+}.
func literalAt(line string) (n int, sync, ok bool) {
	if !strings.HasSuffix(line, "}") {
		return 0, false, false
	}
	i := strings.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false, false
	}
	num := line[i+1 : len(line)-1]
	sync = true
	if s, plus := strings.CutSuffix(num, "+"); plus {
		num, sync = s, false
	}
	v, err := strconv.Atoi(num)
	if err != nil || v < 0 {
		return 0, false, false
	}
	return v, sync, true
}

// isTagChar reports whether b may appear in a tag: an ATOM-CHAR other than
// "+" (RFC 9051 9).
func isTagChar(b byte) bool {
	if b <= 0x20 || b >= 0x7f {
		return false
	}
	return !strings.ContainsRune(`(){%*"\]+`, rune(b))
}

// splitCommand reads the tag and command name of a command line; ok is false
// when the line has no valid tag followed by a command name. tag is the
// line's tag when it has one followed by a space or the line's end, as the
// server reads it, also when ok is false.
func splitCommand(text string) (tag, name string, ok bool) {
	i := 0
	for i < len(text) && isTagChar(text[i]) {
		i++
	}
	if i == 0 || (i < len(text) && text[i] != ' ') {
		return "", "", false
	}
	if i >= len(text) {
		return text, "", false
	}
	tag = text[:i]
	fields := strings.Fields(text[i+1:])
	if len(fields) == 0 || !isAtom(fields[0]) {
		return tag, "", false
	}
	name = strings.ToUpper(fields[0])
	if name == "UID" && len(fields) > 1 {
		name += " " + strings.ToUpper(fields[1])
	}
	return tag, name, true
}

func isAtom(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isTagChar(s[i]) && s[i] != '+' {
			return false
		}
	}
	return s != ""
}

// headTag reads the tag of a line the server cannot return whole (a NUL
// byte, or longer than its line limit) from its first head bytes: tag
// characters followed by a space, "" otherwise.
func headTag(text string, head int) string {
	text = text[:min(len(text), head)]
	i := 0
	for i < len(text) && isTagChar(text[i]) {
		i++
	}
	if i == 0 || i >= len(text) || text[i] != ' ' {
		return ""
	}
	return text[:i]
}

// wireHeadSize is how many leading bytes of an over-long line the server
// keeps to read its tag (imapwire's head), capped by its line limit.
const wireHeadSize = 128

// The spec names of the inputs a client line can be, besides commands.
const (
	strayDoneInput   = "stray-done"
	emptyLineInput   = "empty-line"
	unparsableInput  = "unparsable"
	unparsableTagged = "unparsable-tagged"
	doneVariantInput = "done-variant"
	saslResponseName = "sasl-response"
)

// ClassifyWire says which input of the spec a step is when it arrives in a
// state that reads lines as reads, following the inputs' documentation in
// the spec: in IDLE, DONE in any case ended by CRLF is done, with trailing
// blanks or a bare LF a done-variant; elsewhere a DONE is a stray DONE; an
// empty line is empty-line; a tag and a command name make the command's
// input (the catch-all for names the spec does not declare); anything else
// is unparsable, or unparsable-tagged when a tag followed by a space or the
// line's end starts it. A line with a NUL byte is never read as a command:
// it is unparsable-tagged when a tag and a space start it, else unparsable
// (in SASL too). In SASL every other line is a response, "*" cancels. tag
// is the line's tag as the server would echo it, "" for none.
func (r *Reference) ClassifyWire(reads fsm.Reads, st WireStep) (in fsm.Input, tag string) {
	l := scanWireLine(st.Data)
	named := func(name string) fsm.Input {
		in, ok := r.InputByName(name)
		if !ok {
			panic("the spec declares no input " + name)
		}
		return in
	}
	if strings.IndexByte(l.text, 0) >= 0 {
		if tag := headTag(l.text, len(l.text)); tag != "" && reads != fsm.ReadsSASL {
			return named(unparsableTagged), tag
		}
		return named(unparsableInput), ""
	}
	isDone := strings.EqualFold(strings.TrimRight(l.text, " \t"), "DONE") && !l.literal
	switch reads {
	case fsm.ReadsSASL:
		if l.text == "*" {
			return named(saslCancelInput), ""
		}
		return named(saslResponseName), ""
	case fsm.ReadsIdle:
		if isDone {
			if l.text == strings.TrimRight(l.text, " \t") && !l.bareLF {
				return named(doneInput), ""
			}
			return named(doneVariantInput), ""
		}
	default:
		if isDone {
			return named(strayDoneInput), "DONE"
		}
	}
	if l.text == "" && !l.literal {
		return named(emptyLineInput), ""
	}
	tag, name, ok := splitCommand(l.text)
	if !ok {
		if tag != "" {
			return named(unparsableTagged), tag
		}
		return named(unparsableInput), ""
	}
	return r.CommandByWire(name), tag
}

// wireEvent is one response from the server: a status response (tagged or
// untagged), a continuation request, other untagged data, or the end of the
// stream.
type wireEvent struct {
	// line is the response's first line, literals elided.
	line string
	// tag is the tag of a tagged response, "*" for untagged, "+" for a
	// continuation request.
	tag string
	// status is OK, NO, BAD, BYE or PREAUTH for status responses.
	status string
	// code is the response code without brackets, text the human text.
	code, text string
	// literals are the literal bodies of the response.
	literals []string
	// eof is set when the stream ended; err says how.
	eof bool
	err error
}

func (e wireEvent) String() string {
	if e.eof {
		return "(connection closed)"
	}
	return e.line
}

// continuation reports whether e is a continuation request.
func (e wireEvent) continuation() bool { return e.tag == "+" }

// codeName is the first word of the response code.
func (e wireEvent) codeName() string {
	name, _, _ := strings.Cut(e.code, " ")
	return name
}

// matches reports whether e is the spec's response r: same status, code and
// text, the text possibly followed by ": " and a detail.
func (e wireEvent) matches(r fsm.Response) bool {
	return e.status == r.Status() && e.codeName() == r.Code() &&
		(e.text == r.Text() || strings.HasPrefix(e.text, r.Text()+": "))
}

// readWireEvent reads one response, with its literals.
func readWireEvent(br *bufio.Reader) wireEvent {
	var ev wireEvent
	var first []byte
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if len(line) > 0 || first != nil {
				return wireEvent{eof: true, err: fmt.Errorf("response cut off: %q", string(first)+line)}
			}
			return wireEvent{eof: true, err: err}
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		first = append(first, line...)
		n, _, ok := literalAt(line)
		if !ok {
			break
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(br, buf); err != nil {
			return wireEvent{eof: true, err: fmt.Errorf("literal cut off: %w", err)}
		}
		ev.literals = append(ev.literals, string(buf))
	}
	ev.line = string(first)
	parseStatus(&ev)
	return ev
}

// parseStatus fills tag, status, code and text from the line.
func parseStatus(ev *wireEvent) {
	tag, rest, _ := strings.Cut(ev.line, " ")
	ev.tag = tag
	if tag == "+" {
		ev.text = rest
		return
	}
	word, text, _ := strings.Cut(rest, " ")
	switch strings.ToUpper(word) {
	case "OK", "NO", "BAD", "BYE", "PREAUTH":
		ev.status = strings.ToUpper(word)
	default:
		return
	}
	if strings.HasPrefix(text, "[") {
		if i := strings.IndexByte(text, ']'); i > 0 {
			ev.code = text[1:i]
			text = strings.TrimPrefix(text[i+1:], " ")
		}
	}
	ev.text = text
}

// eventStream reads responses from a connection in its own goroutine, so
// that a client can wait for them with a timeout while it writes.
type eventStream struct {
	ch   chan wireEvent
	done chan struct{}
	// stopTag, when set, stops the reading after a tagged OK with this tag
	// (STARTTLS: the next bytes belong to the TLS handshake; COMPRESS:
	// they are compressed).
	stopTag atomic.Pointer[string]
	// rest is what the stream had read beyond that OK, valid once done
	// is closed.
	rest []byte
}

func newEventStream(r io.Reader) *eventStream {
	s := &eventStream{ch: make(chan wireEvent, 4096), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer close(s.ch)
		br := bufio.NewReader(r)
		for {
			ev := readWireEvent(br)
			s.ch <- ev
			if ev.eof {
				return
			}
			if t := s.stopTag.Load(); t != nil && ev.tag == *t && ev.status == "OK" {
				if n := br.Buffered(); n > 0 {
					b, _ := br.Peek(n)
					s.rest = bytes.Clone(b)
				}
				return
			}
		}
	}()
	return s
}

// stopAfter makes the stream stop reading after the tagged OK of tag.
func (s *eventStream) stopAfter(tag string) { s.stopTag.Store(&tag) }

// fetchItems extracts the UID and the first literal of an untagged FETCH
// response "* n FETCH (...)"; ok is false for other responses.
func fetchItems(ev wireEvent) (seq, uid uint32, flags []string, body *string, ok bool) {
	fields := strings.Fields(ev.line)
	if ev.tag != "*" || len(fields) < 3 || !strings.EqualFold(fields[2], "FETCH") {
		return 0, 0, nil, nil, false
	}
	n, err := strconv.ParseUint(fields[1], 10, 32)
	if err != nil {
		return 0, 0, nil, nil, false
	}
	line := ev.line
	if i := strings.Index(strings.ToUpper(line), "UID "); i >= 0 {
		v := line[i+4:]
		if j := strings.IndexAny(v, " )"); j >= 0 {
			v = v[:j]
		}
		if u, err := strconv.ParseUint(v, 10, 32); err == nil {
			uid = uint32(u)
		}
	}
	if i := strings.Index(strings.ToUpper(line), "FLAGS ("); i >= 0 {
		v := line[i+len("FLAGS ("):]
		if j := strings.IndexByte(v, ')'); j >= 0 {
			flags = strings.Fields(v[:j])
		}
	}
	if len(ev.literals) > 0 {
		body = &ev.literals[0]
	}
	return uint32(n), uid, flags, body, true
}

// untaggedCount reads "* n EXISTS" or "* n EXPUNGE"; kind is the upper-case
// keyword.
func untaggedCount(ev wireEvent) (n uint32, kind string, ok bool) {
	fields := strings.Fields(ev.line)
	if ev.tag != "*" || len(fields) != 3 {
		return 0, "", false
	}
	v, err := strconv.ParseUint(fields[1], 10, 32)
	if err != nil {
		return 0, "", false
	}
	return uint32(v), strings.ToUpper(fields[2]), true
}

// astringArg reads the n-th argument (0-based, after tag and command name)
// of a simple command line: atoms and quoted strings only.
func astringArg(text string, n int) string {
	_, name, _ := splitCommand(text)
	rest := text
	skip := 2 + strings.Count(name, " ")
	for k := 0; ; k++ {
		rest = strings.TrimLeft(rest, " ")
		if rest == "" {
			return ""
		}
		var arg string
		if rest[0] == '"' {
			end := 1
			for end < len(rest) && rest[end] != '"' {
				if rest[end] == '\\' {
					end++
				}
				end++
			}
			if s, err := strconv.Unquote(rest[:min(end+1, len(rest))]); err == nil {
				arg = s
			}
			rest = rest[min(end+1, len(rest)):]
		} else {
			i := strings.IndexByte(rest, ' ')
			if i < 0 {
				i = len(rest)
			}
			arg, rest = rest[:i], rest[i:]
		}
		if k == skip+n {
			return arg
		}
	}
}

// bytesEqualDiff describes how two bodies differ, for reports.
func bytesEqualDiff(want, got string) string {
	if want == got {
		return ""
	}
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	return fmt.Sprintf("%d bytes stored, %d returned, first difference at byte %d", len(want), len(got), i)
}
