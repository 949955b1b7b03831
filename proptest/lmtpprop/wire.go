package lmtpprop

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"net"
	"strings"
	"time"

	"github.com/imapfsm/imapfsm/server/lmtp"
	"github.com/imapfsm/imapfsm/server/lmtp/lmtpfsm"
	"github.com/imapfsm/imapfsm/server/store"
)

// Accounts are the accounts of the wire-level store; other local parts are
// refused at RCPT.
var Accounts = []string{"alice", "bob"}

// maxErrors mirrors the LMTP server's limit of refused commands (server/lmtp
// closes the session with the error-limit input when it is reached).
const maxErrors = 20

// maxCommandLength is the server's default command line limit.
const maxCommandLength = lmtp.DefaultMaxCommandLength

// Ending is how a wire session ends.
type Ending int

// The endings of a wire session.
const (
	EndQuit     Ending = iota // QUIT (after the final dot in a data state)
	EndTimeout                // wait for the server's timeout
	EndShutdown               // the server shuts down while the session waits for a command
	EndDrop                   // the client closes the connection
)

// WireTarget is the server a wire session runs against.
type WireTarget struct {
	Store store.Store
	// Middle, when set, sits between client and server (mutants).
	Middle func(client net.Conn) net.Conn
	// Timeout is the server's read and data timeout for sessions that end
	// by waiting for it.
	Timeout time.Duration
	Spool   string
}

// WireSession is one session against a live lmtp.Server: it turns intents
// (an input and the outcome to aim at) into the bytes a client sends,
// classifies them as the server must, predicts the decision from the
// Reference, reads the replies and checks them.
type WireSession struct {
	Ref    *Reference
	Modes  lmtpfsm.Modes
	Cov    *Coverage
	Rand   *rand.Rand
	Ending Ending

	srv    *lmtp.Server
	conn   net.Conn
	br     *bufio.Reader
	state  lmtpfsm.State
	rcpts  []string // accepted recipients' accounts, in RCPT order
	errors int
	closed bool
	msgs   int
	// Stored is what the session expects in the store: message marker →
	// account → copies.
	Stored map[string]map[string]int
	marker string
	// Log lists what was sent and received, for failures.
	Log []string
	// last and prev are the last two replies read.
	last, prev string
}

// unexpected reports a reply that is not the one expected: a repeat of the
// reply before it is a command answered twice, anything else a reply that
// differs from the spec's.
func (w *WireSession) unexpected(r string, format string, args ...any) error {
	if r == w.prev {
		return w.fail(PropOneReply, "the reply %q came twice", r)
	}
	return w.fail(PropMatchesSpec, format, args...)
}

// WireError is a broken wire property.
type WireError struct {
	Property Property
	Msg      string
}

func (e *WireError) Error() string { return e.Property.String() + ": " + e.Msg }

func (w *WireSession) fail(p Property, format string, args ...any) error {
	return &WireError{Property: p, Msg: fmt.Sprintf("in %s: ", w.state) + fmt.Sprintf(format, args...)}
}

// Start opens a server on target's store with the session's modes and
// reads the greeting.
func (w *WireSession) Start(target WireTarget, id string) error {
	timeout := 30 * time.Second
	if w.Ending == EndTimeout {
		timeout = target.Timeout
	}
	modes := w.Modes
	srv, err := lmtp.New(lmtp.Config{Store: target.Store, Hostname: "mx.test", Logger: slog.New(slog.DiscardHandler),
		Modes: &modes, ReadTimeout: timeout, DataTimeout: timeout, SpoolDir: target.Spool})
	if err != nil {
		return err
	}
	w.srv = srv
	client, server := net.Pipe()
	srv.ServeConn(server)
	if target.Middle != nil {
		client = target.Middle(client)
	}
	w.conn = client
	w.br = bufio.NewReaderSize(client, 1<<16)
	w.state = w.Ref.Initial()
	w.Stored = map[string]map[string]int{}
	w.marker = id
	r, err := w.reply()
	if err != nil {
		return err
	}
	if !strings.HasPrefix(r, "220 ") {
		return w.fail(PropMatchesSpec, "greeting %q", r)
	}
	return nil
}

// Close ends the session and stops its server.
func (w *WireSession) Close() {
	if w.conn != nil {
		w.conn.Close()
	}
	if w.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = w.srv.Shutdown(ctx)
	}
}

// reply reads one reply, multi-line replies joined with "\n".
func (w *WireSession) reply() (string, error) {
	_ = w.conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	var lines []string
	for {
		l, err := w.br.ReadString('\n')
		if err != nil {
			return "", w.fail(PropOneReply, "no reply (%v) after %q", err, lines)
		}
		if !strings.HasSuffix(l, "\r\n") {
			return "", w.fail(PropMatchesSpec, "reply line %q does not end with CRLF", l)
		}
		l = strings.TrimSuffix(l, "\r\n")
		lines = append(lines, l)
		if len(l) < 4 || l[3] != '-' {
			r := strings.Join(lines, "\n")
			w.Log = append(w.Log, "S: "+r)
			w.prev, w.last = w.last, r
			return r, nil
		}
	}
}

func specText(r lmtpfsm.Response) string {
	return fmt.Sprintf("%d %s %s", r.Code(), r.Enhanced(), r.Text())
}

// line is one line the client writes, with its ending.
type line struct {
	text  string
	crlf  bool
	input lmtpfsm.Input // what the runner means it to be, for logs
}

// render turns an intent into the lines of one write. The outcome is an
// aim: the server decides, and the runner follows its reply.
func (w *WireSession) render(st Step) []line {
	r := w.Rand
	pick := func(xs ...string) string { return xs[r.Intn(len(xs))] }
	cmd := func(s string) []line { return []line{{text: s, crlf: true, input: st.Input}} }
	ok := st.Outcome == lmtpfsm.OutcomeOK || st.Outcome == lmtpfsm.OutcomeContinue
	switch st.Input {
	case lmtpfsm.InputLHLO:
		if ok {
			return cmd(pick("LHLO client.test", "lhlo client.test"))
		}
		return cmd("LHLO")
	case lmtpfsm.InputHelo:
		if ok {
			return cmd(pick("EHLO client.test", "HELO client.test"))
		}
		return cmd("EHLO")
	case lmtpfsm.InputMail:
		if ok {
			if w.Modes.Tolerates(lmtpfsm.QuirkMailFromSpace) {
				return cmd(pick("MAIL FROM:<a@b.test>", "MAIL FROM:<>", "mail from: <a@b.test>", "MAIL FROM:<a@b.test> BODY=8BITMIME"))
			}
			return cmd(pick("MAIL FROM:<a@b.test>", "MAIL FROM:<>", "MAIL FROM:<a@b.test> SIZE=100"))
		}
		if !w.Modes.Tolerates(lmtpfsm.QuirkMailFromSpace) && r.Intn(2) == 0 {
			return cmd("MAIL FROM: <a@b.test>")
		}
		return cmd(pick("MAIL FROM:a@b.test", "MAIL TO:<a@b.test>", "MAIL FROM:<a@b.test> SIZE=99999999999", "MAIL FROM:<a@b.test> FOO=1"))
	case lmtpfsm.InputRcpt:
		if ok {
			return cmd("RCPT TO:<" + pick(Accounts...) + ">")
		}
		return cmd(pick("RCPT TO:<nobody>", "RCPT TO:<>", "RCPT TO:alice"))
	case lmtpfsm.InputData:
		if ok {
			return cmd("DATA")
		}
		return cmd("DATA now")
	case lmtpfsm.InputDataPipelined:
		if ok {
			return append([]line{{text: "DATA", crlf: true, input: st.Input}}, w.message()...)
		}
		return []line{{text: "DATA now", crlf: true, input: st.Input}, {text: "NOOP", crlf: true, input: lmtpfsm.InputNoop}}
	case lmtpfsm.InputRset:
		return cmd("RSET")
	case lmtpfsm.InputNoop:
		return cmd(pick("NOOP", "noop"))
	case lmtpfsm.InputQuit:
		return cmd("QUIT")
	case lmtpfsm.InputVrfy:
		if ok {
			return cmd("VRFY alice")
		}
		return cmd("VRFY")
	case lmtpfsm.InputNotImplemented:
		return cmd(pick("EXPN list", "HELP", "STARTTLS", "BDAT 10 LAST", "AUTH PLAIN"))
	case lmtpfsm.InputUnknownCommand:
		return cmd(pick("FROB", "", "Subject: hello", "XYZZY now"))
	case lmtpfsm.InputLineTooLong:
		return cmd("NOOP " + strings.Repeat("x", maxCommandLength))
	case lmtpfsm.InputBareLFLine:
		return []line{{text: pick("NOOP", "RSET"), input: st.Input}}
	case lmtpfsm.InputDataEnd:
		return w.message()
	case lmtpfsm.InputErrorLimit:
		var out []line
		for i := w.errors; i < maxErrors; i++ {
			out = append(out, line{text: "FROB", crlf: true, input: lmtpfsm.InputUnknownCommand})
		}
		return out
	}
	return nil
}

// message is a message with a unique marker, dot-stuffed, ended by the
// final dot.
func (w *WireSession) message() []line {
	w.msgs++
	m := fmt.Sprintf("%s-%d", w.marker, w.msgs)
	out := []line{
		{text: "Subject: wire " + m, crlf: true},
		{text: "X-Marker: " + m, crlf: true},
		{text: "", crlf: true},
		{text: "..a line starting with a dot", crlf: true},
		{text: "body", crlf: w.Rand.Intn(4) != 0 || !w.Modes.Tolerates(lmtpfsm.QuirkBareLF)},
		{text: ".", crlf: true, input: lmtpfsm.InputDataEnd},
	}
	return out
}

// Do writes the lines of one intent in one write and follows them: each
// line is classified as the server must (by the predicted state's way of
// reading), decided by the spec, and its replies are read and checked.
func (w *WireSession) Do(st Step) error {
	lines := w.render(st)
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.text)
		if l.crlf {
			b.WriteString("\r\n")
		} else {
			b.WriteString("\n")
		}
	}
	w.Log = append(w.Log, fmt.Sprintf("C: %q (%s)", b.String(), st))
	_ = w.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	done := make(chan error, 1)
	go func() { _, err := io.WriteString(w.conn, b.String()); done <- err }()
	for i, l := range lines {
		if w.closed {
			break
		}
		if w.Ref.ReadsData(w.state) {
			if l.text == "." {
				if err := w.decide(lmtpfsm.InputDataEnd, l); err != nil {
					return err
				}
			}
			continue
		}
		in := w.classify(l, i < len(lines)-1)
		if err := w.decide(in, l); err != nil {
			return err
		}
	}
	if w.closed {
		return nil
	}
	if err := <-done; err != nil {
		return w.fail(PropOneReply, "write: %v", err)
	}
	return nil
}

// classify mirrors the server's classification of a command line.
func (w *WireSession) classify(l line, more bool) lmtpfsm.Input {
	if len(l.text)+2 > maxCommandLength {
		return lmtpfsm.InputLineTooLong
	}
	if !l.crlf && !w.Modes.Tolerates(lmtpfsm.QuirkBareLF) {
		return lmtpfsm.InputBareLFLine
	}
	verb, _, _ := strings.Cut(l.text, " ")
	upper := strings.ToUpper(verb)
	if upper != verb && !w.Modes.Tolerates(lmtpfsm.QuirkLowerCaseCommands) {
		return lmtpfsm.InputUnknownCommand
	}
	in, _ := lmtpfsm.CommandInput(upper)
	if in == lmtpfsm.InputData && more {
		in = lmtpfsm.InputDataPipelined
	}
	return in
}

// success is how each handler's success reply starts, so that a reply to
// another command is not taken for it.
var success = map[lmtpfsm.Input]string{
	lmtpfsm.InputLHLO:          "250-mx.test\n250-PIPELINING",
	lmtpfsm.InputHelo:          "250-mx.test\n250-PIPELINING",
	lmtpfsm.InputMail:          "250 2.1.0 ",
	lmtpfsm.InputRcpt:          "250 2.1.5 ",
	lmtpfsm.InputData:          "354 ",
	lmtpfsm.InputDataPipelined: "354 ",
	lmtpfsm.InputRset:          "250 2.0.0 OK",
	lmtpfsm.InputNoop:          "250 2.0.0 OK",
	lmtpfsm.InputVrfy:          "252 2.5.0 ",
	lmtpfsm.InputQuit:          "221 2.0.0 ",
}

// counted are the reply codes of refusals the server counts towards its
// error limit: the machine's rejections and the handlers' syntax errors.
var counted = map[string]bool{"500": true, "501": true, "502": true, "503": true, "555": true}

// decide applies the spec's decision for in and checks the replies.
func (w *WireSession) decide(in lmtpfsm.Input, l line) error {
	from := w.state
	d := w.Ref.Step(from, in, w.Modes)
	outcome := lmtpfsm.OutcomeOK
	switch d.Action {
	case lmtpfsm.ActionExecute:
		if in == lmtpfsm.InputDataEnd {
			if err := w.perRecipient(); err != nil {
				return err
			}
			break
		}
		r, err := w.reply()
		if err != nil {
			return err
		}
		for x := lmtpfsm.Response(1); x < lmtpfsm.NumResponses; x++ {
			if r == specText(x) {
				return w.unexpected(r, "%s ran its handler, but the server answered %q, the spec's %s", in, r, x)
			}
		}
		switch {
		case strings.HasPrefix(r, "354 "):
			outcome = lmtpfsm.OutcomeContinue
		case strings.HasPrefix(r, "2"):
		default:
			outcome = lmtpfsm.OutcomeNo
		}
		if want, ok := success[in]; ok && outcome != lmtpfsm.OutcomeNo && !strings.HasPrefix(r, want) {
			return w.unexpected(r, "%s was accepted with %q; its handler answers %q", in, r, want)
		}
		if counted[r[:3]] {
			w.errors++
		}
		valid := false
		for _, o := range w.Ref.Outcomes(in) {
			valid = valid || o == outcome
		}
		if !valid {
			return w.unexpected(r, "%s answered %q, an outcome (%s) the spec does not give it", in, r, outcome)
		}
		if in == lmtpfsm.InputRcpt && outcome == lmtpfsm.OutcomeOK {
			addr := strings.TrimSuffix(strings.TrimPrefix(l.text, "RCPT TO:<"), ">")
			w.rcpts = append(w.rcpts, addr)
		}
	case lmtpfsm.ActionReject, lmtpfsm.ActionClose:
		if d.Reply != lmtpfsm.ResponseNone {
			r, err := w.reply()
			if err != nil {
				return err
			}
			if r != specText(d.Reply) {
				return w.unexpected(r, "%s: the spec says %q, the server answered %q", in, specText(d.Reply), r)
			}
		}
		if d.Action == lmtpfsm.ActionReject {
			w.errors++
		}
	}
	if w.Cov != nil {
		w.Cov.Record(from, in, w.Modes, outcome)
	}
	w.state = d.engineNext(outcome)
	if !w.state.Transaction() {
		w.rcpts = nil
	}
	if d.Action == lmtpfsm.ActionClose || w.Ref.Terminal(w.state) {
		return w.expectEOF()
	}
	if w.errors >= maxErrors && w.Ref.ReadsCommands(w.state) {
		return w.decide(lmtpfsm.InputErrorLimit, line{})
	}
	return nil
}

// perRecipient reads the replies to the end of the message: one per
// accepted recipient, in RCPT order, naming it when the message is stored.
func (w *WireSession) perRecipient() error {
	stored := map[string]bool{}
	for i, rc := range w.rcpts {
		r, err := w.reply()
		if err != nil {
			return &WireError{Property: PropPerRecipient, Msg: fmt.Sprintf("reply %d of %d to the end of the message: %v", i+1, len(w.rcpts), err)}
		}
		switch {
		case strings.HasPrefix(r, "250 2.0.0 <"+rc+"> "):
			stored[rc] = true
		case len(r) > 0 && (r[0] == '4' || r[0] == '5'):
		default:
			return &WireError{Property: PropPerRecipient, Msg: fmt.Sprintf("reply %d of %d to the end of the message is %q, expected 250 2.0.0 <%s> or a failure", i+1, len(w.rcpts), r, rc)}
		}
	}
	m := fmt.Sprintf("%s-%d", w.marker, w.msgs)
	for rc := range stored {
		if w.Stored[m] == nil {
			w.Stored[m] = map[string]int{}
		}
		w.Stored[m][rc] = 1 // once per account, however often it was a recipient
	}
	return nil
}

// expectEOF reads the rest of the stream: a closed session sends nothing
// more.
func (w *WireSession) expectEOF() error {
	w.closed = true
	_ = w.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	rest, err := io.ReadAll(w.br)
	if len(rest) > 0 {
		return w.fail(PropOneReply, "the server sent %q after the session ended", rest)
	}
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrClosedPipe) {
		return w.fail(PropOneReply, "the connection did not close: %v", err)
	}
	return nil
}

// End ends the session as w.Ending says and checks the end.
func (w *WireSession) End() error {
	if w.closed {
		return nil
	}
	switch w.Ending {
	case EndTimeout:
		return w.decide(lmtpfsm.InputTimeout, line{})
	case EndShutdown:
		if w.Ref.ReadsCommands(w.state) {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = w.srv.Shutdown(ctx)
			}()
			return w.decide(lmtpfsm.InputShutdown, line{})
		}
	case EndDrop:
		w.conn.Close()
		w.closed = true
		return nil
	}
	if w.Ref.ReadsData(w.state) {
		if err := w.Do(Step{Input: lmtpfsm.InputDataEnd, Outcome: lmtpfsm.OutcomeOK}); err != nil {
			return err
		}
	}
	if w.closed {
		return nil
	}
	return w.Do(Step{Input: lmtpfsm.InputQuit, Outcome: lmtpfsm.OutcomeOK})
}

// WireReachable lists the transitions a client can make happen: a line
// where the state reads commands, the end of the data where it reads data,
// a timeout anywhere live, shutdown and the error limit while commands are
// read. The rest (closed, data lines read as commands, ...) never occur.
func (r *Reference) WireReachable() []Transition {
	var out []Transition
	for _, t := range r.Transitions() {
		switch {
		case r.Terminal(t.State):
		case t.Input == lmtpfsm.InputTimeout:
			out = append(out, t)
		case r.ReadsData(t.State):
			if t.Input == lmtpfsm.InputDataEnd {
				out = append(out, t)
			}
		case r.ReadsCommands(t.State):
			if r.isLine(t.Input) || t.Input == lmtpfsm.InputShutdown || t.Input == lmtpfsm.InputErrorLimit {
				out = append(out, t)
			}
		}
	}
	return out
}
