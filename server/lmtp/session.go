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

// Replies used in more than one place.
var (
	replyOK           = reply{250, "2.0.0", "OK"}
	replyBadSequence  = reply{503, "5.5.1", "Bad sequence of commands"}
	replyShuttingDown = reply{421, "4.3.2", "Service shutting down, try again later"}
	replyTimeout      = reply{421, "4.4.2", "Idle timeout, closing connection"}
	replyTempFail     = reply{451, "4.3.0", "Temporary failure, try again later"}
)

// recipient is an accepted RCPT TO.
type recipient struct {
	addr    string // as the client wrote it, for replies and logs
	user    store.User
	mailbox string
}

// session is one LMTP connection.
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

	helo   string
	inMail bool // a MAIL command started a transaction
	from   string
	rcpts  []recipient
	errors int
}

func newSession(s *Server, nc net.Conn) *session {
	bufSize := max(s.cfg.MaxCommandLength, s.cfg.MaxLineLength) + 2
	remote := remoteName(nc)
	return &session{
		s:      s,
		cfg:    &s.cfg,
		conn:   nc,
		br:     bufio.NewReaderSize(nc, bufSize),
		bw:     bufio.NewWriterSize(nc, 4096),
		log:    s.log.With("lmtp_remote", remote),
		remote: remote,
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
	ss.log.Debug("lmtp session started")
	ss.writeReply(reply{220, "", ss.cfg.Hostname + " LMTP imapfsm ready"})
	for {
		line, err := ss.readCommand()
		switch {
		case err == nil:
			if !ss.handle(line) {
				_ = ss.flush()
				ss.log.Debug("lmtp session ended")
				return
			}
		case errors.Is(err, errLineTooLong):
			if !ss.refuse(reply{500, "5.5.2", "Line too long"}) {
				_ = ss.flush()
				return
			}
		case errors.Is(err, errStopping):
			ss.writeReply(replyShuttingDown)
			_ = ss.flush()
			return
		case isTimeout(err):
			ss.log.Info("lmtp session timed out")
			ss.writeReply(replyTimeout)
			_ = ss.flush()
			return
		default:
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				ss.log.Debug("lmtp read failed", "err", err)
			}
			return
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// readCommand flushes the pending replies when the client has sent nothing
// more (RFC 2920 section 3: replies to a pipelined group may be held back
// until the server would block), then reads one command line.
func (ss *session) readCommand() (string, error) {
	if ss.br.Buffered() == 0 {
		if err := ss.flush(); err != nil {
			return "", err
		}
	}
	ss.mu.Lock()
	if ss.stopping {
		ss.mu.Unlock()
		return "", errStopping
	}
	ss.idle = true
	_ = ss.conn.SetReadDeadline(time.Now().Add(ss.cfg.ReadTimeout))
	ss.mu.Unlock()

	line, err := ss.readLine(ss.cfg.MaxCommandLength)

	ss.mu.Lock()
	ss.idle = false
	stopping := ss.stopping
	ss.mu.Unlock()
	if err != nil && stopping && isTimeout(err) {
		return "", errStopping
	}
	return line, err
}

// readLine reads a line of at most max octets including its line ending
// and returns it without CRLF (a bare LF is accepted). A longer line is
// consumed and reported as errLineTooLong.
func (ss *session) readLine(max int) (string, error) {
	line, err := ss.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) || (err == nil && len(line) > max) {
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = ss.br.ReadSlice('\n')
		}
		if err != nil {
			return "", err
		}
		return "", errLineTooLong
	}
	if err != nil {
		return "", err
	}
	s := string(line[:len(line)-1])
	return strings.TrimSuffix(s, "\r"), nil
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

// refuse answers a command that was not accepted and counts it; after too
// many it closes the session with 421 and returns false.
func (ss *session) refuse(r reply) bool {
	ss.writeReply(r)
	ss.errors++
	if ss.errors >= maxErrors {
		ss.log.Info("lmtp session closed after too many errors", "errors", ss.errors)
		ss.writeReply(reply{421, "4.7.0", "Too many errors, closing connection"})
		return false
	}
	return true
}

func (ss *session) reset() {
	ss.inMail = false
	ss.from = ""
	ss.rcpts = nil
}

// handle runs one command; it returns false when the session must end.
func (ss *session) handle(line string) bool {
	verb, arg, _ := strings.Cut(line, " ")
	arg = strings.TrimSpace(arg)
	switch strings.ToUpper(verb) {
	case "LHLO":
		return ss.cmdLHLO(arg)
	case "MAIL":
		return ss.cmdMAIL(arg)
	case "RCPT":
		return ss.cmdRCPT(arg)
	case "DATA":
		return ss.cmdDATA(arg)
	case "RSET":
		ss.reset()
		ss.writeReply(replyOK)
	case "NOOP":
		ss.writeReply(replyOK)
	case "QUIT":
		ss.writeReply(reply{221, "2.0.0", ss.cfg.Hostname + " closing connection"})
		return false
	case "VRFY":
		if arg == "" {
			return ss.refuse(reply{501, "5.5.4", "Syntax: VRFY <address>"})
		}
		// RFC 5321 section 3.5.3: 252 when the server will not verify.
		ss.writeReply(reply{252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery"})
	case "HELO", "EHLO":
		// RFC 2033 section 4.1: an LMTP session opens with LHLO.
		return ss.refuse(reply{500, "5.5.1", "This is an LMTP server: use LHLO"})
	case "EXPN", "HELP", "TURN", "ETRN", "BDAT", "STARTTLS", "AUTH", "SEND", "SOML", "SAML":
		return ss.refuse(reply{502, "5.5.1", "Command not implemented"})
	default:
		return ss.refuse(reply{500, "5.5.1", "Command unrecognized"})
	}
	return true
}

// cmdLHLO answers LHLO (RFC 2033 section 4.1) with the extensions.
func (ss *session) cmdLHLO(arg string) bool {
	if arg == "" || strings.ContainsAny(arg, " \t") {
		return ss.refuse(reply{501, "5.5.4", "Syntax: LHLO <domain>"})
	}
	ss.reset()
	ss.helo = arg
	fmt.Fprintf(ss.bw, "250-%s\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 SIZE %d\r\n",
		ss.cfg.Hostname, ss.cfg.MaxMessageSize)
	return true
}

// cmdMAIL starts a transaction (RFC 5321 section 4.1.1.2) with the SIZE
// (RFC 1870) and BODY (RFC 6152) parameters.
func (ss *session) cmdMAIL(arg string) bool {
	if ss.helo == "" {
		return ss.refuse(reply{503, "5.5.1", "Send LHLO first"})
	}
	if ss.inMail {
		return ss.refuse(reply{503, "5.5.1", "Nested MAIL command"})
	}
	rest, ok := cutPrefixFold(arg, "FROM:")
	if !ok {
		return ss.refuse(reply{501, "5.5.4", "Syntax: MAIL FROM:<address>"})
	}
	inner, params, err := splitPath(strings.TrimLeft(rest, " "))
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
				return true
			}
		case "BODY":
			if v := strings.ToUpper(p[1]); v != "7BIT" && v != "8BITMIME" {
				return ss.refuse(reply{501, "5.5.4", "BODY must be 7BIT or 8BITMIME"})
			}
		default:
			return ss.refuse(reply{555, "5.5.4", "Unsupported MAIL parameter " + p[0]})
		}
	}
	ss.inMail = true
	ss.from = from
	ss.writeReply(reply{250, "2.1.0", "Sender <" + from + "> OK"})
	return true
}

// cmdRCPT adds a recipient (RFC 5321 section 4.1.1.3); RFC 2033 section 4.2
// wants unknown accounts refused here rather than after DATA.
func (ss *session) cmdRCPT(arg string) bool {
	if !ss.inMail {
		return ss.refuse(reply{503, "5.5.1", "Need MAIL command first"})
	}
	rest, ok := cutPrefixFold(arg, "TO:")
	if !ok {
		return ss.refuse(reply{501, "5.5.4", "Syntax: RCPT TO:<address>"})
	}
	inner, params, err := splitPath(strings.TrimLeft(rest, " "))
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
		return true
	}
	user, detail, err := ss.s.resolve(local)
	switch {
	case errors.Is(err, store.ErrNoSuchUser):
		ss.log.Info("lmtp recipient refused: no such account", "rcpt", addr)
		ss.writeReply(reply{550, "5.1.1", "<" + addr + "> No such user"})
		return true
	case err != nil:
		ss.log.Error("lmtp recipient lookup failed", "rcpt", addr, "err", err)
		ss.writeReply(replyTempFail)
		return true
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
			return true
		}
		if mailbox == store.Inbox && explicitMailbox != "" && !strings.EqualFold(explicitMailbox, store.Inbox) {
			ss.log.Warn("lmtp mailbox does not exist, delivering to INBOX", "rcpt", addr, "mailbox", explicitMailbox)
		}
	}
	ss.rcpts = append(ss.rcpts, recipient{addr: addr, user: user, mailbox: mailbox})
	ss.writeReply(reply{250, "2.1.5", "<" + addr + "> OK"})
	return true
}

// cmdDATA receives the message and answers once per accepted recipient
// (RFC 2033 section 4.2).
func (ss *session) cmdDATA(arg string) bool {
	if !ss.inMail {
		return ss.refuse(reply{503, "5.5.1", "Need MAIL command first"})
	}
	if len(ss.rcpts) == 0 {
		// RFC 2033 section 4.2: DATA fails with 503 without a valid RCPT.
		return ss.refuse(reply{503, "5.5.1", "No valid recipients"})
	}
	if arg != "" {
		return ss.refuse(reply{501, "5.5.4", "Syntax: DATA"})
	}
	id := ss.s.newTransactionID()
	trace := ""
	if ss.cfg.TraceHeaders {
		trace = ss.traceFields(id)
	}
	limit := ss.cfg.MaxMessageSize - int64(len(trace))
	ss.writeReply(reply{354, "", "Start mail input; end with <CRLF>.<CRLF>"})
	if err := ss.flush(); err != nil {
		return false
	}
	sp := newSpool(ss.cfg.SpoolDir, memorySpool)
	defer sp.Close()
	failure, err := ss.readData(sp, limit)
	if err != nil {
		if isTimeout(err) {
			ss.log.Info("lmtp message data timed out", "id", id)
			ss.writeReply(replyTimeout)
		} else {
			ss.log.Info("lmtp connection lost during message data", "id", id, "err", err)
		}
		return false
	}
	if failure == nil {
		if err := sp.finish(); err != nil {
			failure = ss.spoolFailure(id, err)
		}
	}
	if failure != nil {
		for range ss.rcpts {
			ss.writeReply(*failure)
		}
	} else {
		for _, r := range ss.deliver(id, sp, trace) {
			ss.writeReply(r)
		}
	}
	ss.reset()
	return true
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
// endings into CRLF and writes it to sp. A message over limit or with an
// overlong line is read to its end and discarded; the returned reply then
// tells the recipients why. An error means the connection is unusable.
func (ss *session) readData(sp *spool, limit int64) (*reply, error) {
	_ = ss.conn.SetReadDeadline(time.Now().Add(ss.cfg.DataTimeout))
	var (
		failure     *reply
		atLineStart = true
		lineLen     int
		lastByte    byte
	)
	write := func(p []byte) {
		if failure != nil {
			return
		}
		if sp.size+int64(len(p)) > limit {
			failure = &reply{552, "5.3.4", fmt.Sprintf("Message size exceeds fixed maximum message size (%d)", ss.cfg.MaxMessageSize)}
			return
		}
		if _, err := sp.Write(p); err != nil {
			failure = ss.spoolFailure("", err)
		}
	}
	for {
		chunk, err := ss.br.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
		complete := err == nil
		if atLineStart {
			if complete && (string(chunk) == ".\r\n" || string(chunk) == ".\n") {
				return failure, nil
			}
			if len(chunk) > 0 && chunk[0] == '.' {
				chunk = chunk[1:]
			}
		}
		lineLen += len(chunk)
		if lineLen > ss.cfg.MaxLineLength && failure == nil {
			failure = &reply{554, "5.6.0", fmt.Sprintf("Message has a line longer than %d octets", ss.cfg.MaxLineLength)}
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
