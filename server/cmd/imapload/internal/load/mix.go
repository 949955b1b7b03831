package load

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/imapfsm/imapfsm/server/cmd/imapload/internal/imapc"
)

// Mix is a named workload.
type Mix struct {
	// Name selects the mix on the command line.
	Name string
	// Summary describes what each client does, for --help.
	Summary string
	// Commands are the operations the mix measures, in report order.
	Commands []Command
	// Headline is the command whose rate is the mix's figure; for the
	// imaptest mix it is zero and the figure is the total of all commands.
	Headline Command

	prepare func(r *run) error
	run     func(r *run) ([]*worker, error)
}

// Mixes lists every mix, the default first.
func Mixes() []*Mix {
	return []*Mix{imaptestMix, loginMix, appendMix, appendSpreadMix, statusMix, idleMix, keywordsMix}
}

// MixByName returns the named mix, or nil.
func MixByName(name string) *Mix {
	for _, m := range Mixes() {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// HeadlineRate returns the mix's figure in operations per second: the
// headline command's rate, or the total rate for the imaptest mix.
func (m *Mix) HeadlineRate(r *Result) float64 {
	if m.Headline == 0 {
		return r.TotalRate()
	}
	return r.Rate(m.Headline)
}

var loginMix = &Mix{
	Name:     "login",
	Summary:  "connect, LOGIN, LOGOUT, again (figure: LOGIN/s)",
	Commands: []Command{Connect, Login, Logout},
	Headline: Login,
	run: func(r *run) ([]*worker, error) {
		return r.clients(func(w *worker) error {
			var c *imapc.Conn
			if err := w.op(Connect, func() (err error) { c, err = w.r.dial(); return err }); err != nil {
				return err
			}
			w.conn = c
			if err := w.op(Login, func() error { _, err := c.Login(w.r.cfg.User, w.r.cfg.Password); return err }); err != nil {
				return err
			}
			w.conn = nil
			return w.op(Logout, c.Logout)
		}), nil
	},
}

var imaptestMix = &Mix{
	Name: "imaptest",
	Summary: "imaptest-like: LOGIN, SELECT, then per iteration FETCH 1:* (UID FLAGS), APPEND, " +
		"UID FETCH of the new message (body compared byte for byte), UID STORE +FLAGS (\\Deleted), EXPUNGE; " +
		"LOGOUT and a new session every --session-iterations (figure: all commands/s)",
	Commands: []Command{Connect, Login, Select, Fetch, Append, Store, Expunge, Logout},
	prepare:  seedMailbox,
	run: func(r *run) ([]*worker, error) {
		return r.clients(func(w *worker) error {
			s, err := w.session()
			if err != nil {
				return err
			}
			if err := s.fetchAll(); err != nil {
				return err
			}
			msg := w.r.message()
			uid, err := s.append(msg)
			if err != nil {
				return err
			}
			if err := s.fetchBody(uid, msg); err != nil {
				return err
			}
			if err := s.storeDeleted(uid); err != nil {
				return err
			}
			if err := s.expunge(); err != nil {
				return err
			}
			if s.iters++; s.iters >= w.r.cfg.SessionIterations {
				w.close()
				w.sess = nil
			}
			return nil
		}), nil
	},
}

var appendMix = &Mix{
	Name:     "append",
	Summary:  "APPEND only, every client into the one mailbox it has selected (figure: APPEND/s)",
	Commands: []Command{Append},
	Headline: Append,
	run: func(r *run) ([]*worker, error) {
		return r.clients(func(w *worker) error {
			s, err := w.sessionUnmeasured()
			if err != nil {
				return err
			}
			_, err = s.append(w.r.message())
			return err
		}), nil
	},
}

var statusMix = &Mix{
	Name:     "status",
	Summary:  "STATUS INBOX (MESSAGES UIDNEXT UNSEEN) then NOOP, on one authenticated session per client (figure: commands/s)",
	Commands: []Command{Status, Noop},
	prepare:  seedMailbox,
	run: func(r *run) ([]*worker, error) {
		return r.clients(func(w *worker) error {
			s, err := w.sessionUnmeasured()
			if err != nil {
				return err
			}
			if err := s.status(); err != nil {
				return err
			}
			return w.op(Noop, func() error { _, err := s.c.Expect("NOOP"); return err })
		}), nil
	},
}

// clients runs cfg.Clients workers, each repeating iter until the run
// ends; a failed iteration drops the worker's connection and session.
func (r *run) clients(iter func(w *worker) error) []*worker {
	workers := make([]*worker, r.cfg.Clients)
	r.begin()
	var wg sync.WaitGroup
	for i := range workers {
		w := r.newWorker()
		workers[i] = w
		wg.Go(func() {
			for r.claim() {
				if err := iter(w); err != nil {
					w.sess = nil
					w.drop(err)
					continue
				}
				r.iterations.Add(1)
			}
			w.close()
		})
	}
	wg.Wait()
	return workers
}

// appendSpreadMix is appendMix with a mailbox per client: client i selects
// and appends to "<mailbox>-<i>", created when missing, so that the
// writers do not share one mailbox.
var appendSpreadMix = &Mix{
	Name:     "append-spread",
	Summary:  "APPEND only, each client into a mailbox of its own, <mailbox>-<n> (figure: APPEND/s)",
	Commands: []Command{Append},
	Headline: Append,
	run: func(r *run) ([]*worker, error) {
		var next atomic.Int32
		return r.clients(func(w *worker) error {
			if w.mailbox == "" {
				name := fmt.Sprintf("%s-%d", r.cfg.Mailbox, next.Add(1))
				if err := r.ensureMailbox(name); err != nil {
					return err
				}
				w.mailbox = name
			}
			s, err := w.sessionUnmeasured()
			if err != nil {
				return err
			}
			_, err = s.append(w.r.message())
			return err
		}), nil
	},
}

// ensureMailbox creates mailbox name unless it exists.
func (r *run) ensureMailbox(name string) error {
	c, err := r.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Login(r.cfg.User, r.cfg.Password); err != nil {
		return err
	}
	res, err := c.Command("STATUS " + imapc.Quote(name) + " (MESSAGES)")
	if err != nil {
		return err
	}
	if res.Status != "OK" {
		if _, err := c.Expect("CREATE " + imapc.Quote(name)); err != nil {
			return fmt.Errorf("create %s: %w", name, err)
		}
	}
	return c.Logout()
}

// session is a logged-in client with the mailbox selected.
type session struct {
	w      *worker
	c      *imapc.Conn
	exists uint32
	iters  int
}

// session returns the worker's session, opening one with measured
// CONNECT, LOGIN and SELECT when there is none.
func (w *worker) session() (*session, error) {
	if w.sess != nil {
		return w.sess, nil
	}
	var c *imapc.Conn
	if err := w.op(Connect, func() (err error) { c, err = w.r.dial(); return err }); err != nil {
		return nil, err
	}
	w.conn = c
	if err := w.op(Login, func() error { _, err := c.Login(w.r.cfg.User, w.r.cfg.Password); return err }); err != nil {
		return nil, err
	}
	s := &session{w: w, c: c}
	if err := w.op(Select, s.selectMailbox); err != nil {
		return nil, err
	}
	w.sess = s
	return s, nil
}

// sessionUnmeasured is session for mixes that measure other commands: the
// session's setup is not part of the figures.
func (w *worker) sessionUnmeasured() (*session, error) {
	if w.sess != nil {
		return w.sess, nil
	}
	c, err := w.r.dial()
	if err != nil {
		return nil, err
	}
	w.conn = c
	if _, err := c.Login(w.r.cfg.User, w.r.cfg.Password); err != nil {
		return nil, err
	}
	s := &session{w: w, c: c}
	if err := s.selectMailbox(); err != nil {
		return nil, err
	}
	w.sess = s
	return s, nil
}

// track applies the EXISTS and EXPUNGE responses in us to s.exists.
func (s *session) track(us []imapc.Response) {
	for i := range us {
		n, kw, ok := us[i].Number()
		if !ok {
			continue
		}
		switch kw {
		case "EXISTS":
			s.exists = n
		case "EXPUNGE":
			if s.exists > 0 {
				s.exists--
			}
		}
	}
}

func (s *session) selectMailbox() error {
	res, err := s.c.Expect("SELECT " + imapc.Quote(s.w.target()))
	if err != nil {
		return err
	}
	return verifySelect(res, &s.exists)
}

// verifySelect checks a SELECT completion: an EXISTS response and
// READ-WRITE access. It stores the message count in exists.
func verifySelect(res *imapc.Result, exists *uint32) error {
	found := false
	for i := range res.Untagged {
		if n, kw, ok := res.Untagged[i].Number(); ok && kw == "EXISTS" {
			*exists, found = n, true
		}
	}
	if !found {
		return imapc.Verifyf("SELECT: no EXISTS response")
	}
	if !strings.HasPrefix(strings.ToUpper(res.Text), "[READ-WRITE]") {
		return imapc.Verifyf("SELECT: want [READ-WRITE], got %q", res.Text)
	}
	return nil
}

var fetchFlagsRE = regexp.MustCompile(`^\* (\d+) FETCH \((.*)\)$`)

// fetchAll fetches UID and FLAGS of every message and checks that each
// message known before the command was answered, each once.
func (s *session) fetchAll() error {
	if s.exists == 0 {
		return nil
	}
	return s.w.op(Fetch, func() error {
		before := s.exists
		res, err := s.c.Expect("FETCH 1:* (UID FLAGS)")
		if err != nil {
			return err
		}
		s.track(res.Untagged)
		// Messages another session expunged may go unanswered (RFC 2180
		// 4.1); the seeded ones are never expunged.
		return verifyFetchAll(res.Untagged, min(before, s.w.r.seeded), max(before, s.exists))
	})
}

// verifyFetchAll checks the FETCH responses to FETCH 1:* (UID FLAGS): each
// has FLAGS, no sequence number exceeds atMost, and at least atLeast
// distinct messages were answered with their UID. A message may be reported
// twice: a flag change by another session comes unsolicited, with or
// without the UID.
func verifyFetchAll(us []imapc.Response, atLeast, atMost uint32) error {
	seen := map[uint32]bool{}
	for i := range us {
		m := fetchFlagsRE.FindStringSubmatch(us[i].Line)
		if m == nil {
			continue
		}
		seq, _ := strconv.ParseUint(m[1], 10, 32)
		if seq == 0 || uint32(seq) > atMost {
			return imapc.Verifyf("FETCH: sequence number %d outside 1:%d", seq, atMost)
		}
		if !strings.Contains(m[2], "FLAGS (") {
			return imapc.Verifyf("FETCH: want FLAGS in %q", us[i].Line)
		}
		if !containsWord(m[2], "UID") {
			continue // an unsolicited flag update, which need not carry the UID
		}
		seen[uint32(seq)] = true
	}
	if uint32(len(seen)) < atLeast {
		return imapc.Verifyf("FETCH 1:*: %d messages answered, want at least %d", len(seen), atLeast)
	}
	return nil
}

// append appends msg and returns its UID from APPENDUID.
func (s *session) append(msg []byte) (uint32, error) {
	var uid uint32
	err := s.w.op(Append, func() error {
		res, err := s.c.Append(s.w.target(), `(\Seen)`, msg)
		if err != nil {
			return err
		}
		s.track(res.Untagged)
		var ok bool
		if uid, ok = imapc.AppendUID(res.Text); !ok {
			return imapc.Verifyf("APPEND: no APPENDUID in %q", res.Text)
		}
		return nil
	})
	return uid, err
}

// fetchBody fetches message uid and compares its body with want.
func (s *session) fetchBody(uid uint32, want []byte) error {
	return s.w.op(Fetch, func() error {
		res, err := s.c.Expect(fmt.Sprintf("UID FETCH %d (UID BODY.PEEK[])", uid))
		if err != nil {
			return err
		}
		s.track(res.Untagged)
		return verifyBody(res.Untagged, uid, want)
	})
}

// verifyBody checks that exactly one FETCH response for uid carries want
// as its literal.
func verifyBody(us []imapc.Response, uid uint32, want []byte) error {
	tag := fmt.Sprintf("UID %d ", uid)
	found := 0
	for i := range us {
		if _, kw, ok := us[i].Number(); !ok || kw != "FETCH" || !strings.Contains(us[i].Line, tag) {
			continue
		}
		found++
		if len(us[i].Literals) != 1 {
			return imapc.Verifyf("UID FETCH %d: want one literal, got %d", uid, len(us[i].Literals))
		}
		if !bytes.Equal(us[i].Literals[0], want) {
			return imapc.Verifyf("UID FETCH %d: body of %d bytes differs from the %d appended", uid, len(us[i].Literals[0]), len(want))
		}
	}
	if found != 1 {
		return imapc.Verifyf("UID FETCH %d: %d responses for the message, want 1", uid, found)
	}
	return nil
}

// storeDeleted flags message uid \Deleted and checks the FETCH response.
func (s *session) storeDeleted(uid uint32) error {
	return s.w.op(Store, func() error {
		res, err := s.c.Expect(fmt.Sprintf(`UID STORE %d +FLAGS (\Deleted)`, uid))
		if err != nil {
			return err
		}
		s.track(res.Untagged)
		return verifyStored(res.Untagged, uid)
	})
}

// verifyStored checks that a FETCH response reports \Deleted for uid. The
// FETCH may be missing when the response also expunges messages: another
// session's EXPUNGE may have removed the message right after the STORE.
func verifyStored(us []imapc.Response, uid uint32) error {
	tag := fmt.Sprintf("UID %d", uid)
	expunged := false
	for i := range us {
		if _, kw, ok := us[i].Number(); ok && kw == "EXPUNGE" {
			expunged = true
		}
		if _, kw, ok := us[i].Number(); ok && kw == "FETCH" && containsWord(us[i].Line, tag) {
			if strings.Contains(us[i].Line, `\Deleted`) {
				return nil
			}
			return imapc.Verifyf("UID STORE %d: flags without \\Deleted: %q", uid, us[i].Line)
		}
	}
	if expunged {
		return nil
	}
	return imapc.Verifyf("UID STORE %d: no FETCH response for the message", uid)
}

// containsWord reports whether s contains w followed by a delimiter.
func containsWord(s, w string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], w)
		if j < 0 {
			return false
		}
		end := i + j + len(w)
		if end == len(s) || s[end] == ' ' || s[end] == ')' {
			return true
		}
		i = end
	}
}

func (s *session) expunge() error {
	return s.w.op(Expunge, func() error {
		res, err := s.c.Expect("EXPUNGE")
		if err != nil {
			return err
		}
		s.track(res.Untagged)
		return nil
	})
}

var statusRE = regexp.MustCompile(`(?i)^\* STATUS .* \((.*)\)$`)

func (s *session) status() error {
	return s.w.op(Status, func() error {
		res, err := s.c.Expect("STATUS " + imapc.Quote(s.w.r.cfg.Mailbox) + " (MESSAGES UIDNEXT UNSEEN)")
		if err != nil {
			return err
		}
		return verifyStatus(res.Untagged)
	})
}

// verifyStatus checks for one STATUS response with numeric MESSAGES,
// UIDNEXT and UNSEEN.
func verifyStatus(us []imapc.Response) error {
	for i := range us {
		m := statusRE.FindStringSubmatch(us[i].Line)
		if m == nil {
			continue
		}
		f := strings.Fields(m[1])
		if len(f)%2 != 0 {
			return imapc.Verifyf("STATUS: odd item list %q", m[1])
		}
		got := map[string]bool{}
		for j := 0; j < len(f); j += 2 {
			if _, err := strconv.ParseUint(f[j+1], 10, 32); err != nil {
				return imapc.Verifyf("STATUS: %s is not a number: %q", f[j], f[j+1])
			}
			got[strings.ToUpper(f[j])] = true
		}
		for _, k := range []string{"MESSAGES", "UIDNEXT", "UNSEEN"} {
			if !got[k] {
				return imapc.Verifyf("STATUS: no %s in %q", k, us[i].Line)
			}
		}
		return nil
	}
	return imapc.Verifyf("STATUS: no STATUS response")
}

// seedMailbox makes sure the mailbox holds cfg.Seed messages.
func seedMailbox(r *run) error {
	c, err := r.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Login(r.cfg.User, r.cfg.Password); err != nil {
		return err
	}
	res, err := c.Expect("SELECT " + imapc.Quote(r.cfg.Mailbox))
	if err != nil {
		return err
	}
	var exists uint32
	if err := verifySelect(res, &exists); err != nil {
		return err
	}
	for n := int(exists); n < r.cfg.Seed; n++ {
		if _, err := c.Append(r.cfg.Mailbox, "", r.message()); err != nil {
			return err
		}
	}
	r.seeded = uint32(r.cfg.Seed)
	return c.Logout()
}

// message returns a new RFC 5322 message of about cfg.MessageSize bytes
// with a unique Message-ID.
func (r *run) message() []byte {
	return buildMessage(r.msgSeq.Add(1), r.cfg.MessageSize)
}

// buildMessage returns message number n of size bytes (at least its
// header).
func buildMessage(n uint64, size int) []byte {
	var b bytes.Buffer
	b.Grow(size + 80)
	fmt.Fprintf(&b, "From: imapload <load@example.invalid>\r\nTo: bench <bench@example.invalid>\r\n"+
		"Subject: imapload message %d\r\nDate: Mon, 02 Jan 2006 15:04:05 +0000\r\n"+
		"Message-ID: <%d.imapload@example.invalid>\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n", n, n)
	const line = "The quick brown fox jumps over the lazy dog, measuring IMAP servers.\r\n"
	for b.Len()+len(line) <= size {
		b.WriteString(line)
	}
	for b.Len() < size-2 {
		b.WriteByte('.')
	}
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		b.WriteString("\r\n")
	}
	return b.Bytes()
}
