package lmtp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/imapfsm/imapfsm/server/lmtp/lmtpfsm"
	"github.com/imapfsm/imapfsm/server/store"
)

var (
	errLineTooLong = errors.New("line too long")
	errStopping    = errors.New("server shutting down")
)

// reply is one SMTP reply: a code (RFC 5321 section 4.2), an enhanced
// status code (RFC 3463; empty for 220 and 354) and a text.
type reply struct {
	code int
	enh  string
	text string
}

// specReply is a reply the machine decided, as spec/lmtp.yaml declares it.
func specReply(r lmtpfsm.Response) reply {
	return reply{r.Code(), r.Enhanced(), r.Text()}
}

// Replies used in more than one place.
var (
	replyOK           = reply{250, "2.0.0", "OK"}
	replyShuttingDown = specReply(lmtpfsm.ResponseShutdown)
	replyTempFail     = reply{451, "4.3.0", "Temporary failure, try again later"}
)

// recipient is an accepted RCPT TO.
type recipient struct {
	addr    string // as the client wrote it, for replies and logs
	user    store.User
	mailbox string
}

// session is one LMTP connection. Every state decision is the generated
// machine's (lmtpfsm.Step): the session reads what the state's Reads says,
// classifies it into an input, and applies the decision; handlers know
// their command, not the session's state.
type session struct {
	s      *Server
	cfg    *Config
	conn   net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	log    *slog.Logger
	remote string

	mu       sync.Mutex // guards idle and stopping
	idle     bool       // waiting for a command
	stopping bool       // Shutdown asked the session to end

	state  lmtpfsm.State
	modes  lmtpfsm.Modes
	errors int

	helo string
	// The envelope, kept while the state is in a transaction.
	from  string
	rcpts []recipient
	// The message of the DATA command the state holds.
	msgID   string
	trace   string
	limit   int64
	sp      *spool
	failure *reply // why the message cannot be stored, once read
}

func newSession(s *Server, nc net.Conn) *session {
	bufSize := max(s.cfg.MaxCommandLength, s.cfg.MaxLineLength) + 2
	remote := remoteName(nc)
	modes := lmtpfsm.DefaultModes()
	if s.cfg.Modes != nil {
		modes = *s.cfg.Modes
	}
	return &session{
		s:      s,
		cfg:    &s.cfg,
		conn:   nc,
		br:     bufio.NewReaderSize(nc, bufSize),
		bw:     bufio.NewWriterSize(nc, 4096),
		log:    s.log.With("lmtp_remote", remote),
		remote: remote,
		state:  lmtpfsm.InitialState,
		modes:  modes,
	}
}

// interrupt asks the session to end: at once when it waits for a command,
// after the current command otherwise.
func (ss *session) interrupt() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.stopping = true
	if ss.idle {
		_ = ss.conn.SetReadDeadline(time.Unix(1, 0))
	}
}

func (ss *session) serve() {
	defer ss.conn.Close()
	defer ss.dropMessage()
	ss.log.Debug("lmtp session started")
	ss.writeReply(reply{220, "", ss.cfg.Hostname + " LMTP imapfsm ready"})
	for !ss.state.Terminal() {
		in, arg, err := ss.next()
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				ss.log.Debug("lmtp read failed", "state", ss.state, "err", err)
			}
			return
		}
		ss.step(in, arg)
		if ss.errors >= maxErrors && !ss.state.Terminal() {
			ss.log.Info("lmtp session closed after too many errors", "errors", ss.errors)
			ss.step(lmtpfsm.InputErrorLimit, "")
		}
	}
	_ = ss.flush()
	ss.log.Debug("lmtp session ended")
}

// next reads what the state expects (a command line, or message data up to
// its final dot) and classifies it into an input with its argument. An
// error means the connection is gone.
func (ss *session) next() (lmtpfsm.Input, string, error) {
	if ss.state.Reads() == lmtpfsm.ReadsData {
		// The client waits for 354 before it sends the data.
		if err := ss.flush(); err != nil {
			return 0, "", err
		}
		err := ss.readData()
		switch {
		case err == nil:
			return lmtpfsm.InputDataEnd, "", nil
		case isTimeout(err):
			ss.log.Info("lmtp message data timed out", "id", ss.msgID)
			return lmtpfsm.InputTimeout, "", nil
		}
		ss.log.Info("lmtp connection lost during message data", "id", ss.msgID, "err", err)
		return 0, "", err
	}
	line, crlf, err := ss.readCommand()
	switch {
	case err == nil:
	case errors.Is(err, errLineTooLong):
		return lmtpfsm.InputLineTooLong, "", nil
	case errors.Is(err, errStopping):
		return lmtpfsm.InputShutdown, "", nil
	case isTimeout(err):
		ss.log.Info("lmtp session timed out")
		return lmtpfsm.InputTimeout, "", nil
	default:
		return 0, "", err
	}
	if !crlf && !ss.modes.Tolerates(lmtpfsm.QuirkBareLF) {
		return lmtpfsm.InputBareLFLine, "", nil
	}
	in, arg := ss.classify(line)
	return in, arg, nil
}

// classify maps a command line to its input and argument. DATA with bytes
// already behind it is told apart: the client did not wait for the reply.
func (ss *session) classify(line string) (lmtpfsm.Input, string) {
	verb, arg, _ := strings.Cut(line, " ")
	upper := strings.ToUpper(verb)
	if upper != verb && !ss.modes.Tolerates(lmtpfsm.QuirkLowerCaseCommands) {
		return lmtpfsm.InputUnknownCommand, ""
	}
	in, _ := lmtpfsm.CommandInput(upper)
	if in == lmtpfsm.InputData && ss.br.Buffered() > 0 {
		in = lmtpfsm.InputDataPipelined
	}
	return in, strings.TrimSpace(arg)
}

// step asks the machine what to do with in and does it.
func (ss *session) step(in lmtpfsm.Input, arg string) {
	d := lmtpfsm.Step(ss.state, in, ss.modes)
	if d.Quirk != lmtpfsm.QuirkNone {
		ss.log.Debug("lmtp client quirk", "quirk", d.Quirk, "mode", ss.modes.Of(d.Quirk), "rule", d.Rule)
	}
	next := d.Next(lmtpfsm.OutcomeOK)
	switch d.Action {
	case lmtpfsm.ActionExecute:
		next = d.Next(ss.run(in, arg))
	case lmtpfsm.ActionReject:
		ss.writeReply(specReply(d.Reply))
		ss.errors++
	case lmtpfsm.ActionClose:
		if d.Reply != lmtpfsm.ResponseNone {
			ss.writeReply(specReply(d.Reply))
		}
	case lmtpfsm.ActionIgnore:
	}
	ss.moveTo(next)
}

// moveTo enters state next; leaving the transaction forgets the envelope,
// and a state that holds no DATA command keeps no message.
func (ss *session) moveTo(next lmtpfsm.State) {
	ss.state = next
	if !next.Transaction() {
		ss.from, ss.rcpts = "", nil
	}
	if !next.HoldsCommand() {
		ss.dropMessage()
	}
}

// run executes the handler of in; it writes the reply and reports the
// outcome the machine's next state depends on.
func (ss *session) run(in lmtpfsm.Input, arg string) lmtpfsm.Outcome {
	switch in {
	case lmtpfsm.InputLHLO, lmtpfsm.InputHelo:
		return ss.cmdLHLO(arg)
	case lmtpfsm.InputMail:
		return ss.cmdMAIL(arg)
	case lmtpfsm.InputRcpt:
		return ss.cmdRCPT(arg)
	case lmtpfsm.InputData, lmtpfsm.InputDataPipelined:
		return ss.cmdDATA(arg)
	case lmtpfsm.InputDataEnd:
		ss.finishMessage()
		return lmtpfsm.OutcomeOK
	case lmtpfsm.InputRset, lmtpfsm.InputNoop:
		ss.writeReply(replyOK)
		return lmtpfsm.OutcomeOK
	case lmtpfsm.InputQuit:
		ss.writeReply(reply{221, "2.0.0", ss.cfg.Hostname + " closing connection"})
		return lmtpfsm.OutcomeOK
	case lmtpfsm.InputVrfy:
		if arg == "" {
			return ss.refuse(reply{501, "5.5.4", "Syntax: VRFY <address>"})
		}
		// RFC 5321 section 3.5.3: 252 when the server will not verify.
		ss.writeReply(reply{252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery"})
		return lmtpfsm.OutcomeOK
	}
	// The spec executes no other input; answer anyway, so that a spec
	// edited without a handler still answers every command.
	ss.log.Error("lmtp: the machine executes an input without a handler", "input", in, "state", ss.state)
	ss.writeReply(reply{451, "4.3.0", "Temporary failure, try again later"})
	return lmtpfsm.OutcomeNo
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// readCommand flushes the pending replies when the client has sent nothing
// more (RFC 2920 section 3: replies to a pipelined group may be held back
// until the server would block), then reads one command line.
func (ss *session) readCommand() (string, bool, error) {
	if ss.br.Buffered() == 0 {
		if err := ss.flush(); err != nil {
			return "", false, err
		}
	}
	ss.mu.Lock()
	if ss.stopping {
		ss.mu.Unlock()
		return "", false, errStopping
	}
	ss.idle = true
	_ = ss.conn.SetReadDeadline(time.Now().Add(ss.cfg.ReadTimeout))
	ss.mu.Unlock()

	line, crlf, err := ss.readLine(ss.cfg.MaxCommandLength)

	ss.mu.Lock()
	ss.idle = false
	stopping := ss.stopping
	ss.mu.Unlock()
	if err != nil && stopping && isTimeout(err) {
		return "", false, errStopping
	}
	return line, crlf, err
}

// readLine reads a line of at most max octets including its line ending
// and returns it without its line ending, and whether that was CRLF (a
// bare LF also ends a line). A longer line is consumed and reported as
// errLineTooLong.
func (ss *session) readLine(max int) (string, bool, error) {
	line, err := ss.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) || (err == nil && len(line) > max) {
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = ss.br.ReadSlice('\n')
		}
		if err != nil {
			return "", false, err
		}
		return "", false, errLineTooLong
	}
	if err != nil {
		return "", false, err
	}
	s := string(line[:len(line)-1])
	crlf := strings.HasSuffix(s, "\r")
	return strings.TrimSuffix(s, "\r"), crlf, nil
}

func (ss *session) writeReply(r reply) {
	if r.enh != "" {
		fmt.Fprintf(ss.bw, "%d %s %s\r\n", r.code, r.enh, r.text)
	} else {
		fmt.Fprintf(ss.bw, "%d %s\r\n", r.code, r.text)
	}
}

func (ss *session) flush() error {
	if ss.bw.Buffered() == 0 {
		return nil
	}
	_ = ss.conn.SetWriteDeadline(time.Now().Add(ss.cfg.WriteTimeout))
	return ss.bw.Flush()
}

// refuse answers a command its handler refused for its arguments and
// counts the error; the session ends when the machine decides on the
// error-limit input.
func (ss *session) refuse(r reply) lmtpfsm.Outcome {
	ss.writeReply(r)
	ss.errors++
	return lmtpfsm.OutcomeNo
}

// cmdLHLO answers LHLO (RFC 2033 section 4.1) with the extensions; it also
// answers HELO and EHLO where the machine tolerates them.
func (ss *session) cmdLHLO(arg string) lmtpfsm.Outcome {
	if arg == "" || strings.ContainsAny(arg, " \t") {
		return ss.refuse(reply{501, "5.5.4", "Syntax: LHLO <domain>"})
	}
	ss.helo = arg
	fmt.Fprintf(ss.bw, "250-%s\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 SIZE %d\r\n",
		ss.cfg.Hostname, ss.cfg.MaxMessageSize)
	return lmtpfsm.OutcomeOK
}

// path takes the address after "FROM:" or "TO:". A space before it is the
// mail-from-space quirk (RFC 5321 section 4.1.2 allows none).
func (ss *session) path(rest string) (string, bool) {
	trimmed := strings.TrimLeft(rest, " ")
	return trimmed, trimmed == rest || ss.modes.Tolerates(lmtpfsm.QuirkMailFromSpace)
}

// cmdMAIL starts a transaction (RFC 5321 section 4.1.1.2) with the SIZE
// (RFC 1870) and BODY (RFC 6152) parameters.
func (ss *session) cmdMAIL(arg string) lmtpfsm.Outcome {
	rest, ok := cutPrefixFold(arg, "FROM:")
	if !ok {
		return ss.refuse(reply{501, "5.5.4", "Syntax: MAIL FROM:<address>"})
	}
	rest, ok = ss.path(rest)
	if !ok {
		return ss.refuse(reply{501, "5.5.4", "Syntax: MAIL FROM:<address>, with no space after the colon"})
	}
	inner, params, err := splitPath(rest)
	if err != nil {
		return ss.refuse(reply{501, "5.1.7", "Bad sender address syntax"})
	}
	from := ""
	if inner != "" {
		local, domain, err := parseMailbox(inner)
		if err != nil {
			return ss.refuse(reply{501, "5.1.7", "Bad sender address syntax"})
		}
		from = FormatAddress(local, domain)
	}
	ps, err := parseParams(params)
	if err != nil {
		return ss.refuse(reply{501, "5.5.4", "Malformed MAIL parameters"})
	}
	for _, p := range ps {
		switch p[0] {
		case "SIZE":
			n, err := strconv.ParseInt(p[1], 10, 64)
			if err != nil || n < 0 {
				return ss.refuse(reply{501, "5.5.4", "Malformed SIZE parameter"})
			}
			if n > ss.cfg.MaxMessageSize {
				ss.writeReply(reply{552, "5.3.4", fmt.Sprintf("Message size exceeds fixed maximum message size (%d)", ss.cfg.MaxMessageSize)})
				return lmtpfsm.OutcomeNo
			}
		case "BODY":
			if v := strings.ToUpper(p[1]); v != "7BIT" && v != "8BITMIME" {
				return ss.refuse(reply{501, "5.5.4", "BODY must be 7BIT or 8BITMIME"})
			}
		default:
			return ss.refuse(reply{555, "5.5.4", "Unsupported MAIL parameter " + p[0]})
		}
	}
	ss.from = from
	ss.writeReply(reply{250, "2.1.0", "Sender <" + from + "> OK"})
	return lmtpfsm.OutcomeOK
}

// cmdRCPT adds a recipient (RFC 5321 section 4.1.1.3); RFC 2033 section 4.2
// wants unknown accounts refused here rather than after DATA.
func (ss *session) cmdRCPT(arg string) lmtpfsm.Outcome {
	rest, ok := cutPrefixFold(arg, "TO:")
	if !ok {
		return ss.refuse(reply{501, "5.5.4", "Syntax: RCPT TO:<address>"})
	}
	rest, ok = ss.path(rest)
	if !ok {
		return ss.refuse(reply{501, "5.5.4", "Syntax: RCPT TO:<address>, with no space after the colon"})
	}
	inner, params, err := splitPath(rest)
	if err != nil || inner == "" {
		return ss.refuse(reply{501, "5.1.3", "Bad recipient address syntax"})
	}
	local, domain, err := parseMailbox(inner)
	if err != nil {
		return ss.refuse(reply{501, "5.1.3", "Bad recipient address syntax"})
	}
	addr := FormatAddress(local, domain)
	ps, err := parseParams(params)
	if err != nil {
		return ss.refuse(reply{501, "5.5.4", "Malformed RCPT parameters"})
	}
	explicitMailbox := ""
	for _, p := range ps {
		if p[0] != "MAILBOX" || !ss.cfg.MailboxParam {
			return ss.refuse(reply{555, "5.5.4", "Unsupported RCPT parameter " + p[0]})
		}
		if explicitMailbox, err = DecodeXtext(p[1]); err != nil || explicitMailbox == "" {
			return ss.refuse(reply{501, "5.5.4", "Malformed MAILBOX parameter"})
		}
	}
	if len(ss.rcpts) >= ss.cfg.MaxRecipients {
		ss.writeReply(reply{452, "4.5.3", "Too many recipients"})
		return lmtpfsm.OutcomeNo
	}
	user, detail, err := ss.s.resolve(local)
	switch {
	case errors.Is(err, store.ErrNoSuchUser):
		ss.log.Info("lmtp recipient refused: no such account", "rcpt", addr)
		ss.writeReply(reply{550, "5.1.1", "<" + addr + "> No such user"})
		return lmtpfsm.OutcomeNo
	case err != nil:
		ss.log.Error("lmtp recipient lookup failed", "rcpt", addr, "err", err)
		ss.writeReply(replyTempFail)
		return lmtpfsm.OutcomeNo
	}
	mailbox := store.Inbox
	want := explicitMailbox
	if want == "" && ss.cfg.DetailMailbox {
		want = detail
	}
	if want != "" {
		if mailbox, err = ss.s.pickMailbox(user, want); err != nil {
			ss.log.Error("lmtp mailbox lookup failed", "rcpt", addr, "mailbox", want, "err", err)
			ss.writeReply(replyTempFail)
			return lmtpfsm.OutcomeNo
		}
		if mailbox == store.Inbox && explicitMailbox != "" && !strings.EqualFold(explicitMailbox, store.Inbox) {
			ss.log.Warn("lmtp mailbox does not exist, delivering to INBOX", "rcpt", addr, "mailbox", explicitMailbox)
		}
	}
	ss.rcpts = append(ss.rcpts, recipient{addr: addr, user: user, mailbox: mailbox})
	ss.writeReply(reply{250, "2.1.5", "<" + addr + "> OK"})
	return lmtpfsm.OutcomeOK
}

// cmdDATA answers 354 and prepares the spool for the message data, which
// the session reads in the state the machine moves to.
func (ss *session) cmdDATA(arg string) lmtpfsm.Outcome {
	if arg != "" {
		return ss.refuse(reply{501, "5.5.4", "Syntax: DATA"})
	}
	ss.msgID = ss.s.newTransactionID()
	ss.trace = ""
	if ss.cfg.TraceHeaders {
		ss.trace = ss.traceFields(ss.msgID)
	}
	ss.limit = ss.cfg.MaxMessageSize - int64(len(ss.trace))
	ss.sp = newSpool(ss.cfg.SpoolDir, memorySpool)
	ss.failure = nil
	ss.writeReply(reply{354, "", "Start mail input; end with <CRLF>.<CRLF>"})
	return lmtpfsm.OutcomeContinue
}

// finishMessage stores the message read for the held DATA command and
// answers once per accepted recipient, in RCPT order (RFC 2033 section
// 4.2).
func (ss *session) finishMessage() {
	failure := ss.failure
	if failure == nil {
		if err := ss.sp.finish(); err != nil {
			failure = ss.spoolFailure(ss.msgID, err)
		}
	}
	if failure != nil {
		for range ss.rcpts {
			ss.writeReply(*failure)
		}
		return
	}
	for _, r := range ss.deliver(ss.msgID, ss.sp, ss.trace) {
		ss.writeReply(r)
	}
}

// dropMessage releases the spool of a message.
func (ss *session) dropMessage() {
	if ss.sp != nil {
		_ = ss.sp.Close()
		ss.sp = nil
	}
	ss.failure = nil
}

func (ss *session) spoolFailure(id string, err error) *reply {
	ss.log.Error("lmtp spooling message data failed", "id", id, "err", err)
	if isNoSpace(err) {
		return &reply{452, "4.3.1", "Insufficient system storage"}
	}
	return &replyTempFail
}

// readData reads message data up to the line holding a single dot,
// removes the dot-stuffing (RFC 5321 section 4.5.2), turns bare LF line
// endings into CRLF (or, where the bare-lf quirk is not tolerated, refuses
// the message) and writes it to the spool of the held DATA command; without
// one (the discard state) it drops the data. A message over the limit or
// with an overlong line is read to its end and not stored; ss.failure then
// tells the recipients why. An error means the connection is unusable or
// the data timed out.
func (ss *session) readData() error {
	_ = ss.conn.SetReadDeadline(time.Now().Add(ss.cfg.DataTimeout))
	var (
		sp          = ss.sp
		atLineStart = true
		lineLen     int
		lastByte    byte
	)
	fail := func(r *reply) {
		if ss.failure == nil && sp != nil {
			ss.failure = r
		}
	}
	write := func(p []byte) {
		if ss.failure != nil || sp == nil {
			return
		}
		if sp.size+int64(len(p)) > ss.limit {
			fail(&reply{552, "5.3.4", fmt.Sprintf("Message size exceeds fixed maximum message size (%d)", ss.cfg.MaxMessageSize)})
			return
		}
		if _, err := sp.Write(p); err != nil {
			fail(ss.spoolFailure("", err))
		}
	}
	for {
		chunk, err := ss.br.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return err
		}
		complete := err == nil
		if atLineStart {
			if complete && (string(chunk) == ".\r\n" || string(chunk) == ".\n") {
				return nil
			}
			if len(chunk) > 0 && chunk[0] == '.' {
				chunk = chunk[1:]
			}
		}
		lineLen += len(chunk)
		if lineLen > ss.cfg.MaxLineLength {
			fail(&reply{554, "5.6.0", fmt.Sprintf("Message has a line longer than %d octets", ss.cfg.MaxLineLength)})
		}
		if !complete {
			write(chunk)
			if len(chunk) > 0 {
				lastByte = chunk[len(chunk)-1]
			}
			atLineStart = false
			continue
		}
		// chunk ends with LF; make the line ending CRLF.
		body := chunk[:len(chunk)-1]
		cr := len(body) > 0 && body[len(body)-1] == '\r' || len(body) == 0 && lastByte == '\r' && !atLineStart
		write(body)
		if cr {
			write([]byte{'\n'})
		} else {
			if !ss.modes.Tolerates(lmtpfsm.QuirkBareLF) {
				fail(&reply{554, "5.6.0", "Message has a line ended by a bare LF; lines end with CRLF (RFC 5321 section 2.3.8)"})
			}
			write([]byte{'\r', '\n'})
		}
		atLineStart, lineLen, lastByte = true, 0, '\n'
	}
}

// traceFields returns the Return-Path and Received fields prepended to the
// message (RFC 5321 section 4.4; "with LMTP" is registered by RFC 3848).
func (ss *session) traceFields(id string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Return-Path: <%s>\r\n", ss.from)
	fmt.Fprintf(&b, "Received: from %s (%s)\r\n\tby %s (imapfsm) with LMTP id %s", ss.helo, ss.remote, ss.cfg.Hostname, id)
	if len(ss.rcpts) == 1 {
		fmt.Fprintf(&b, "\r\n\tfor <%s>", ss.rcpts[0].addr)
	}
	fmt.Fprintf(&b, ";\r\n\t%s\r\n", time.Now().Format(time.RFC1123Z))
	return b.String()
}

// FormatAddress returns the mailbox local@domain, quoting the local part
// when it is not a dot-atom (RFC 5321 section 4.1.2); without a domain it
// returns the local part alone.
func FormatAddress(local, domain string) string {
	if !isDotAtom(local) {
		local = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(local) + `"`
	}
	if domain == "" {
		return local
	}
	return local + "@" + domain
}

func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			continue // RFC 6531 UTF-8 local parts
		}
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-/=?^_`{|}~.", c) >= 0) {
			return false
		}
	}
	return true
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return "", false
	}
	return s[len(prefix):], true
}
