package server

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imapfsm/imapfsm/fsm"
	"github.com/imapfsm/imapfsm/server/imapwire"
	"github.com/imapfsm/imapfsm/server/store"
)

// conn is one client session: the engine that reads lines, classifies them
// into fsm inputs, asks fsm.Step for the decision and carries it out. It is
// the only place where decisions are executed; handlers know their command,
// never the session's state.
type conn struct {
	srv *Server
	// raw is the accepted connection; nc is what the session talks over
	// (raw itself, or a TLS connection on top of it after STARTTLS).
	raw net.Conn
	nc  net.Conn
	log *slog.Logger
	rd  *sessionReader // applies the read deadlines; the decoder reads it
	// maxCommand is maxCommandBytes of the configured limits.
	maxCommand int64
	dec        *imapwire.Decoder
	ctx        context.Context
	stop       context.CancelFunc

	wmu sync.Mutex // guards enc, out, wtry, bg and writes to nc
	enc *imapwire.Encoder
	// out is what enc writes to: sessionWriter, or deflateWriter on top
	// of it once COMPRESS DEFLATE is active. Bytes written past the
	// encoder (pre-encoded IDLE pushes) go to out too.
	out io.Writer
	// wtry makes sessionWriter hand a write that would block to a
	// goroutine (a push from a mailbox hub, see runPush); bg is closed when
	// that goroutine is done, and stalled is true meanwhile.
	wtry    bool
	bg      chan struct{}
	stalled atomic.Bool
	idle    idlePush

	state fsm.State
	// facts are the session facts of the spec (TLS active, plaintext
	// credentials allowed, compression on): set from the listener and
	// the configuration when the connection opens, then changed only by
	// the effects of the machine's decisions.
	facts    fsm.Facts
	modes    fsm.Modes
	tls      bool // the connection is a *tls.Conn (I/O only; decisions read facts)
	closing  atomic.Bool
	heldTag  string // tag held by IDLE or AUTHENTICATE
	badCount int

	ipKey    string // remote address as the per-address limits count it
	counted  string // account counted against MaxConnectionsPerUser
	user     store.User
	username string
	utf8     bool            // ENABLE UTF8=ACCEPT
	enabled  map[string]bool // ENABLEd extensions; nil until the first
	// condstoreNew is set when the current command enabled CONDSTORE
	// with a mailbox selected; see announceCondstore.
	condstoreNew bool
	mailbox      *selectedMailbox
	// ntf is the NOTIFY set and its queue (RFC 5465), session data;
	// nil until the first NOTIFY SET.
	ntf   *notifyState
	sasl  *saslExchange
	after func() // runs after the current completion is written
	ended func() // runs once when the session has ended (set by the server)

	// trace is the protocol trace (Config.TraceDir), or nil.
	trace *tracer
}

func newConn(s *Server, nc net.Conn) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{
		srv:   s,
		raw:   nc,
		nc:    nc,
		ctx:   ctx,
		stop:  cancel,
		state: fsm.InitialState,
		modes: s.cfg.Modes,
		log:   s.log.With("remote", nc.RemoteAddr().String()),
	}
	_, c.tls = nc.(*tls.Conn)
	c.facts = openingFacts(c.tls, s.cfg.AllowInsecureAuth)
	if s.cfg.TraceDir != "" {
		t, err := newTracer(s.cfg.TraceDir, nc.RemoteAddr())
		if err != nil {
			c.log.Warn("no protocol trace for this connection", "err", err)
		} else {
			c.trace = t
			c.nc = traceConn{Conn: nc, t: t}
		}
	}
	c.rd = &sessionReader{c: c, waiting: true}
	c.dec = imapwire.NewDecoder(c.rd, s.cfg.Limits)
	c.maxCommand = maxCommandBytes(c.dec.Limits(), &s.cfg) // defaults for fields left zero
	c.dec.SetContinuationFunc(func(imapwire.LiteralInfo) error {
		c.wmu.Lock()
		defer c.wmu.Unlock()
		c.enc.Continuation("Ready for literal data")
		return c.flushLocked()
	})
	c.out = sessionWriter{c}
	c.enc = imapwire.NewEncoder(c.out)
	return c
}

// clock is the time source of the session's timers.
func (c *conn) clock() Clock {
	if clk := c.srv.cfg.Clock; clk != nil {
		return clk
	}
	return systemClock{}
}

// shutdown asks the session to say BYE and close at the next command
// boundary, interrupting a read that waits for a command (not one that
// receives a command already started, see sessionReader).
func (c *conn) shutdown() {
	c.closing.Store(true)
	c.rd.interrupt()
}

// command is one classified client line.
type command struct {
	tag   string
	name  string // upper-case command name, "UID FETCH" joined
	input fsm.Input
	line  imapwire.Line
	args  *imapwire.ArgReader
	raw   []byte // the line for continuation inputs (SASL responses)
	// reason explains why a line could not be parsed; it is appended to
	// the spec's reply text.
	reason string
}

// result is what a handler reports. The engine writes the tagged completion
// from it, so that every tag gets exactly one.
type result struct {
	outcome fsm.Outcome
	code    string
	text    string
}

func ok(text string) result           { return result{outcome: fsm.OutcomeOK, text: text} }
func okCode(code, text string) result { return result{outcome: fsm.OutcomeOK, code: code, text: text} }
func no(code, text string) result     { return result{outcome: fsm.OutcomeNo, code: code, text: text} }
func bad(text string) result          { return result{outcome: fsm.OutcomeBad, text: text} }
func badCode(code, text string) result {
	return result{outcome: fsm.OutcomeBad, code: code, text: text}
}
func continued() result { return result{outcome: fsm.OutcomeContinue} }

// argError turns an argument parsing error into a BAD result with the
// decoder's reason. A mailbox name that does not decode is no syntax error:
// it names no mailbox, and gets NO [NONEXISTENT].
func argError(err error) result {
	if errors.Is(err, errTrailingSeparator) {
		return no("NONEXISTENT", "No such mailbox (the name ends with the separator)")
	}
	var nameErr *imapwire.MailboxNameError
	if errors.As(err, &nameErr) {
		// No mailbox can have a name that does not decode (RFC 3501
		// 5.1.3), so it does not exist.
		return no("NONEXISTENT", "No such mailbox: "+nameErr.Reason)
	}
	var tooBig *imapwire.LiteralTooLargeError
	if errors.As(err, &tooBig) {
		return badCode("TOOBIG", tooBigText(tooBig))
	}
	if errors.Is(err, errCommandTooLarge) {
		return badCode("TOOBIG", "Command too large; closing")
	}
	// A fetch attribute's grammar error, wherever a command embeds fetch
	// attributes (FETCH, NOTIFY's MessageNew), carries its own reason.
	var se fetchSyntaxError
	if errors.As(err, &se) {
		return bad(string(se))
	}
	return bad(imapwire.Reason(err))
}

// tooBigText is the reply text for a literal over its limit; one too large
// to skip also says that the connection closes (the engine's next read
// fails and the machine's command-too-large event says BYE).
func tooBigText(e *imapwire.LiteralTooLargeError) string {
	if e.Closing {
		return e.Reason() + "; closing"
	}
	return e.Reason()
}

// errParked is returned by readAndDispatch when the session waits for its
// next line in a goroutine of its own (see waitParked).
var errParked = errors.New("server: session parked")

// serve greets the client and runs the session. It returns when the
// session ends or parks; ended runs once, when it ends.
func (c *conn) serve() {
	c.log.Debug("connection opened", "tls", c.tls)
	c.wmu.Lock()
	c.enc.StatusResponse("", imapwire.StatusOK, "CAPABILITY "+c.capabilities(c.state.Authenticated()), c.srv.cfg.Greeting)
	err := c.flushLocked()
	c.wmu.Unlock()
	if err != nil {
		c.end(err)
		return
	}
	c.loop()
}

// loop reads and dispatches until the session ends, or until it parks: an
// idling session waits for its next line in a fresh goroutine and this one
// returns.
func (c *conn) loop() {
	for !c.state.Terminal() {
		err := c.readAndDispatch()
		if err == errParked {
			go c.waitParked()
			return
		}
		if err != nil {
			c.end(err)
			return
		}
	}
	c.end(nil)
}

// waitParked is the goroutine of an idling session (one that may wait for
// hours): it starts with the smallest stack, waits for the client's next
// bytes in the decoder's small array, and then goes on with the session.
// The goroutine that parked the session had grown its stack on earlier
// commands; a fresh one keeps an idle session to a few kilobytes.
func (c *conn) waitParked() {
	c.dec.Wait()
	if err := c.readLine(true); err != nil {
		c.end(err)
		return
	}
	c.loop()
}

// end closes the session after err (nil, io.EOF and a closed connection
// are the normal ends) and tells the server.
func (c *conn) end(err error) {
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		c.log.Debug("connection ended", "err", err)
	} else if err == nil {
		c.log.Debug("connection closed") // c.log names the user once logged in
	}
	c.closeMailbox()
	c.stopNotify()
	c.nc.Close()
	c.raw.Close()
	if c.trace != nil {
		c.trace.close()
	}
	c.stop()
	if c.ended != nil {
		c.ended()
	}
}

// readAndDispatch reads one line (or the event that interrupted the read)
// and carries out the machine's decision for it.
func (c *conn) readAndDispatch() error {
	// The machine says whether the autologout timer applies in this state
	// (never while idling), which timer it is (the state's timer class:
	// the login or the autologout timeout) and whether the keepalive
	// timer runs. Where autologout applies, so does the per-command
	// deadline once the command's first byte has arrived
	// (Config.CommandTimeout).
	var deadline time.Time
	timed := fsm.Step(c.state, c.facts, fsm.InputAutologout, c.modes).Action == fsm.ActionClose
	if timed {
		deadline = c.clock().Now().Add(c.inactivityTimeout())
	}
	// Skip what is left of the previous command (the payload of a
	// rejected command's non-synchronising literal) under that command's
	// deadline, so that its bytes do not count as the start of the next
	// command when the timers are told apart.
	if err := c.dec.Discard(); err != nil {
		return c.readFailed(err)
	}
	c.rd.beginCommand(deadline, timed, c.dec.Buffered() > 0)
	if c.closing.Load() {
		c.dispatch(fsm.InputShutdown, &command{})
		return nil
	}
	// While idling, changes and keepalives are pushed. With a NOTIFY set
	// (session data, RFC 5465), the events it asks for are sent whenever
	// untagged responses may be: between commands too. A set exists only
	// in the states where NOTIFY runs, all of which allow that, so no
	// state decision depends on it.
	pushing := fsm.Step(c.state, c.facts, fsm.InputKeepalive, c.modes).Action == fsm.ActionNotify
	notifying := c.notifyActive()
	if notifying {
		c.deliverNotifications()
	}
	if pushing || notifying {
		c.armIdle(pushing)
		if pushing && c.dec.Buffered() == 0 {
			return errParked
		}
	}
	return c.readLine(pushing || notifying)
}

// readLine reads the next line and dispatches it; pushing says that the
// session was armed for pushes while it waited.
func (c *conn) readLine(pushing bool) error {
	line, err := c.dec.ReadLine()
	if pushing {
		c.disarmIdle()
	}
	var cmd *command
	switch {
	case err == nil:
		cmd = c.classify(line)
	case !c.closing.Load() && (errors.Is(err, imapwire.ErrLineTooLong) || errors.Is(err, imapwire.ErrNULByte)):
		cmd = c.classifyUnreadable(line, err)
	default:
		return c.readFailed(err)
	}
	c.dispatch(cmd.input, cmd)
	return nil
}

// readFailed turns an error from reading the client into the machine's
// event for it (shutdown, a timeout, a command too large to skip) and
// dispatches it; other errors end the session.
func (c *conn) readFailed(err error) error {
	var ne net.Error
	switch {
	case c.closing.Load():
		c.dispatch(fsm.InputShutdown, &command{})
		return nil
	case errors.As(err, &ne) && ne.Timeout():
		// The inactivity timeout, or the per-command deadline of a
		// command that arrives too slowly.
		c.srv.metrics.timeouts.Add(1)
		if c.rd.commandStarted() {
			c.dispatch(fsm.InputCommandTimeout, &command{})
		} else {
			c.dispatch(fsm.InputAutologout, &command{})
		}
		return nil
	case errors.As(err, new(*errCompressedStream)):
		// The client's DEFLATE stream is corrupt (COMPRESS, RFC
		// 4978): nothing more can be read, but the server's
		// direction still works for the BYE.
		c.log.Warn("closing: " + err.Error())
		c.dispatch(fsm.InputCorruptStream, &command{})
		return nil
	case errors.Is(err, errCommandTooLarge), errors.Is(err, imapwire.ErrDesync):
		// A literal or line too large to skip, or a command beyond
		// every limit: closing is cheaper than skipping (RFC 7888
		// section 4).
		c.log.Warn("closing: command too large", "reason", imapwire.Reason(err))
		c.dispatch(fsm.InputCommandTooLarge, &command{})
		return nil
	}
	return err
}

// dispatch asks the machine what to do with input and does it. It is the
// single place where decisions are executed.
func (c *conn) dispatch(in fsm.Input, cmd *command) {
	if c.trace != nil && in.Kind() == fsm.KindEvent {
		c.trace.note("event " + in.String())
	}
	for {
		d := fsm.Step(c.state, c.facts, in, c.modes)
		c.srv.metrics.commands[in].Add(1)
		if d.Quirk != fsm.QuirkNone {
			c.noteQuirk(d.Quirk, "rule", d.Rule.String(), "state", c.state.String(), "input", in.String(), "tag", cmd.tag)
		}
		if d.Pending != fsm.ResponseNone {
			c.reply(c.heldTag, d.Pending)
			c.heldTag = ""
		}
		switch d.Action {
		case fsm.ActionExecute:
			c.execute(d, in, cmd)
		case fsm.ActionReject:
			tag := cmd.tag
			if in.Kind() == fsm.KindSASL {
				tag = "" // the held tag is not this line's to answer
			}
			c.replyWith(tag, d.Reply, cmd.reason)
			c.move(d, fsm.OutcomeOK)
		case fsm.ActionNotify:
			c.reply("", d.Reply)
			c.move(d, fsm.OutcomeOK)
		case fsm.ActionClose:
			if d.Reply != fsm.ResponseNone {
				c.reply("", d.Reply)
			}
			c.move(d, fsm.OutcomeOK)
		case fsm.ActionRedispatch:
			c.move(d, fsm.OutcomeOK)
			continue
		default: // fsm.ActionIgnore
			c.move(d, fsm.OutcomeOK)
		}
		c.checkBadLimit()
		return
	}
}

// move carries out a decision's transition for outcome o: the next state
// and the facts after the rule's effect.
func (c *conn) move(d fsm.Decision, o fsm.Outcome) {
	c.state, c.facts = d.Next(o), d.Facts(o)
}

// openingFacts are the facts a connection opens with, which the spec
// leaves to the engine (fsm.EngineFacts): whether the listener is
// implicit TLS, and whether the configuration allows credentials without
// TLS.
func openingFacts(tls, plaintextAuth bool) fsm.Facts {
	return fsm.Facts(0).With(fsm.FactTLS, tls).With(fsm.FactPlaintextAuth, plaintextAuth)
}

// wouldExecute reports whether the machine would run the handler of in now,
// under the session's facts: what the capability list advertises
// (STARTTLS, AUTH=PLAIN or LOGINDISABLED) follows from it.
func (c *conn) wouldExecute(in fsm.Input) bool {
	return fsm.Step(c.state, c.facts, in, c.modes).Action == fsm.ActionExecute
}

// execute runs the input's handler and completes its tag.
func (c *conn) execute(d fsm.Decision, in fsm.Input, cmd *command) {
	h := c.srv.handlers[in]
	var res result
	if h == nil {
		res = bad("Command not implemented")
	} else {
		res = c.run(h, cmd)
	}
	if !in.Produces(res.outcome) {
		c.log.Error("handler reported an outcome its input cannot produce", "input", in.String(), "outcome", res.outcome.String())
		res = result{outcome: fsm.OutcomeBad, code: "SERVERBUG", text: "Internal error"}
	}
	if res.outcome == fsm.OutcomeContinue {
		if cmd.tag != "" {
			c.heldTag = cmd.tag
		}
	} else {
		c.announceCondstore()
		c.complete(cmd.tag, res)
		if cmd.tag == c.heldTag {
			c.heldTag = ""
		}
	}
	c.move(d, res.outcome)
	if after := c.after; after != nil {
		c.after = nil
		after()
	}
}

// run calls a handler, turning a panic into a BAD [SERVERBUG] so that one
// broken handler cannot take the connection's tag accounting down with it.
func (c *conn) run(h handler, cmd *command) (res result) {
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("handler panic", "command", cmd.name, "panic", p)
			res = result{outcome: fsm.OutcomeBad, code: "SERVERBUG", text: "Internal error"}
		}
	}()
	return h(c, cmd)
}

// complete writes the tagged completion of a command.
func (c *conn) complete(tag string, res result) {
	st := imapwire.StatusOK
	switch res.outcome {
	case fsm.OutcomeNo:
		st = imapwire.StatusNO
	case fsm.OutcomeBad:
		st = imapwire.StatusBAD
	}
	if tag == "" {
		tag = "*"
	}
	c.status(tag, st, res.code, res.text)
}

// reply writes a response declared in the spec.
func (c *conn) reply(tag string, r fsm.Response) { c.replyWith(tag, r, "") }

// replyWith writes a response declared in the spec, with detail appended to
// its text.
func (c *conn) replyWith(tag string, r fsm.Response, detail string) {
	st := specStatus(r.Status())
	if tag == "" {
		tag = "*"
	}
	text := r.Text()
	if detail != "" {
		text += ": " + detail
	}
	c.status(tag, st, r.Code(), text)
}

func (c *conn) status(tag string, st imapwire.Status, code, text string) {
	if st == imapwire.StatusBAD {
		c.badCount++
		c.srv.metrics.badReplies.Add(1)
	} else if tag != "*" {
		c.badCount = 0
	}
	if tag == "*" {
		tag = ""
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.enc.StatusResponse(tag, st, code, text)
	c.flushLocked()
}

// inactivityTimeout is the configured duration of the state's timer class.
func (c *conn) inactivityTimeout() time.Duration {
	if c.state.Timer() == fsm.TimerAutologout {
		return c.srv.cfg.AutologoutTimeout
	}
	return c.srv.cfg.LoginTimeout
}

// badLimit is the configured count of invalid commands in a row of the
// state's limits class.
func (c *conn) badLimit() int {
	if c.state.Limits() == fsm.LimitsPostLogin {
		return c.srv.cfg.MaxBadCommands
	}
	return c.srv.cfg.MaxBadCommandsBeforeAuth
}

// checkBadLimit raises the error-limit input once the session has sent as
// many invalid commands in a row as its state's limits class allows.
func (c *conn) checkBadLimit() {
	limit := c.badLimit()
	if c.badCount >= limit && !c.state.Terminal() {
		c.badCount = 0
		c.log.Warn("closing: too many invalid commands", "limit", limit)
		c.dispatch(fsm.InputErrorLimit, &command{})
	}
}

// flushLocked flushes the encoder; c.wmu must be held. Each write to the
// network has its own deadline (sessionWriter). After any error (a client
// that did not read within Config.WriteTimeout, a broken connection, a
// response that could not be encoded) the connection is closed, which also
// ends the engine's blocked read, so the session ends.
func (c *conn) flushLocked() error {
	err := c.enc.Flush()
	if err != nil {
		c.raw.Close()
	}
	return err
}

// write runs fn with the encoder locked, then flushes.
func (c *conn) write(fn func(e *imapwire.Encoder)) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	fn(c.enc)
	return c.flushLocked()
}

// specStatus maps a spec response's status word to the wire status.
func specStatus(word string) imapwire.Status {
	switch word {
	case "NO":
		return imapwire.StatusNO
	case "BAD":
		return imapwire.StatusBAD
	case "BYE":
		return imapwire.StatusBYE
	case "PREAUTH":
		return imapwire.StatusPREAUTH
	}
	return imapwire.StatusOK
}
