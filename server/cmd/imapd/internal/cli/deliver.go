package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"time"

	bberrors "go.etcd.io/bbolt/errors"

	"github.com/imapfsm/imapfsm/server/internal/mailmsg"
	"github.com/imapfsm/imapfsm/server/lmtp"
	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/boltstore"
)

func runDeliver(ctx context.Context, args []string, env Env) error {
	fs := newFlags("deliver", "deliver (--data DIR | --store URL) [--mailbox NAME] USER < message",
		`Stores one RFC 5322 message read from standard input in a mailbox of USER,
for use as a local delivery agent. A leading mbox "From " line is dropped and
bare LF line endings become CRLF. If --mailbox does not exist the message
goes to INBOX instead. While "imapd serve" runs on --data (and holds the
store's lock), the message is handed to it through DIR/lmtp.sock.

Exit status: 0 stored, 65 unusable input (empty, no header, too big),
67 unknown user, 75 temporary failure (retry later), 2 usage error.`, env.Stdout)
	data := dataFlag(fs, "")
	storeURL := storeFlag(fs)
	mailbox := fs.String("mailbox", store.Inbox, "mailbox to store the message in")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, "USER"); err != nil {
		return err
	}
	if err := needStore(fs, *data, *storeURL); err != nil {
		return err
	}
	user := pos[0]
	if store.ValidateUserName(user) != nil {
		return withCode(ExitNoUser, fmt.Errorf("deliver: no account %q", user))
	}
	mbox, err := store.NormalizeMailboxName(*mailbox, 0)
	if err != nil {
		return usageErr("deliver: invalid mailbox name %q", *mailbox)
	}

	in := bufio.NewReaderSize(env.Stdin, 64<<10)
	sender, err := checkMessageStart(in)
	if err != nil {
		return withCode(ExitDataErr, fmt.Errorf("deliver: %w", err))
	}

	var st store.Store
	if *storeURL != "" {
		// PostgreSQL serves any number of processes at once.
		if st, err = openStoreAt(ctx, "", *storeURL, nil); err != nil {
			return withCode(ExitTempFail, fmt.Errorf("deliver: %w", err))
		}
	} else {
		// A running server holds the store's lock: wait for it only
		// briefly, then hand the message to the server over its LMTP
		// socket.
		var done bool
		if st, done, err = openOrHandOver(ctx, *data, user, mbox, sender, in); done || err != nil {
			return err
		}
	}
	defer st.Close()
	u, err := st.OpenUser(ctx, user)
	if errors.Is(err, store.ErrNoSuchUser) {
		return withCode(ExitNoUser, fmt.Errorf("deliver: no account %q", user))
	}
	if err != nil {
		return withCode(ExitTempFail, fmt.Errorf("deliver: %w", err))
	}
	if mbox != store.Inbox {
		if _, err := u.Mailbox(ctx, mbox); errors.Is(err, store.ErrNoSuchMailbox) {
			slog.New(slog.NewTextHandler(env.Stderr, nil)).Warn("mailbox does not exist, delivering to INBOX", "user", user, "mailbox", mbox)
			mbox = store.Inbox
		} else if err != nil {
			return withCode(ExitTempFail, fmt.Errorf("deliver: %w", err))
		}
	}
	_, err = u.Append(ctx, mbox, store.NewMessage{Body: newCRLFReader(in)})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrTooBig):
		return withCode(ExitDataErr, fmt.Errorf("deliver: message exceeds the store's size limit"))
	case errors.Is(err, store.ErrOverQuota):
		return withCode(ExitCantCreat, fmt.Errorf("deliver: mailbox full: account %q is over its quota", user))
	case errors.Is(err, store.ErrNoSuchUser):
		return withCode(ExitNoUser, fmt.Errorf("deliver: no account %q", user))
	}
	return withCode(ExitTempFail, fmt.Errorf("deliver: %w", err))
}

// openOrHandOver opens the embedded store in dir for deliver. When a
// running server holds it, the message is delivered through the server's
// LMTP socket instead and done is true (err then carries the exit status).
func openOrHandOver(ctx context.Context, dir, user, mbox, sender string, in *bufio.Reader) (_ store.Store, done bool, err error) {
	st, err := openStoreTimeout(dir, deliverLockProbe())
	if errors.Is(err, bberrors.ErrTimeout) {
		sock := filepath.Join(dir, lmtpSocketName)
		lerr := deliverLMTP(ctx, sock, user, mbox, sender, newCRLFReader(in))
		if !errors.Is(lerr, errLMTPUnavailable) {
			return nil, true, lerr
		}
		// No server answers: another command holds the lock; wait for it.
		st, err = openStoreTimeout(dir, lockTimeout)
		if errors.Is(err, bberrors.ErrTimeout) {
			return nil, true, withCode(ExitTempFail, fmt.Errorf("deliver: the store in %s is locked by another process and %v", dir, lerr))
		}
	}
	if err != nil {
		return nil, true, withCode(ExitTempFail, fmt.Errorf("deliver: open store in %s: %w", dir, err))
	}
	return st, false, nil
}

// deliverLockProbe is how long deliver waits for the store's lock before it
// tries the server's LMTP socket.
func deliverLockProbe() time.Duration {
	const probe = 250 * time.Millisecond
	if lockTimeout > 0 && lockTimeout < probe {
		return lockTimeout
	}
	return probe
}

// openStoreTimeout opens the embedded store in dir like openStore, waiting
// at most timeout (0: the store's default) for its file lock. A lock held
// by another process yields an error matching bberrors.ErrTimeout.
func openStoreTimeout(dir string, timeout time.Duration) (*boltstore.Store, error) {
	return boltstore.Open(dir, boltstore.Options{
		Options:     store.Options{Analyzer: mailmsg.Analyze, BcryptCost: bcryptCost},
		LockTimeout: timeout,
	})
}

// lmtpDeliverTimeout bounds each exchange with the server, including the
// wait for the store to make the message durable.
const lmtpDeliverTimeout = 2 * time.Minute

// deliverLMTP hands the message to a running server through its LMTP
// socket (RFC 2033), with the mailbox in the MAIL parameter the socket
// accepts. The result carries deliver's exit status. When the socket
// cannot be reached at all, the error matches errLMTPUnavailable and
// nothing was delivered.
func deliverLMTP(ctx context.Context, sock, user, mailbox, sender string, body io.Reader) error {
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return fmt.Errorf("the server's %w (%v)", errLMTPUnavailable, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	fail := func(step string, err error) error {
		var rep *lmtp.Reply
		if !errors.As(err, &rep) {
			return withCode(ExitTempFail, fmt.Errorf("deliver: through %s: %s: %w", sock, step, err))
		}
		code := ExitDataErr
		switch {
		case rep.Temporary():
			code = ExitTempFail
		case rep.Code == 550 || strings.HasPrefix(rep.Enhanced, "5.1."):
			code = ExitNoUser
		case rep.Code == 552 && rep.Enhanced == "5.2.2":
			return withCode(ExitCantCreat, fmt.Errorf("deliver: mailbox full: account %q is over its quota (%v)", user, rep))
		case rep.Code == 552:
			return withCode(ExitDataErr, fmt.Errorf("deliver: message exceeds the store's size limit (%v)", rep))
		}
		if code == ExitNoUser {
			return withCode(code, fmt.Errorf("deliver: no account %q (%v)", user, rep))
		}
		return withCode(code, fmt.Errorf("deliver: through %s: %s refused: %v", sock, step, rep))
	}
	c, err := lmtp.NewClient(conn, "localhost", lmtpDeliverTimeout)
	if err != nil {
		return fail("greeting", err)
	}
	if err := c.Mail(sender, 0); err != nil {
		return fail("MAIL", err)
	}
	var params []string
	if mailbox != store.Inbox {
		params = append(params, "MAILBOX="+lmtp.EncodeXtext(mailbox))
	}
	if err := c.Rcpt(lmtp.FormatAddress(user, "localhost"), params...); err != nil {
		return fail("RCPT", err)
	}
	res, err := c.Data(body)
	if err != nil {
		return fail("DATA", err)
	}
	if res[0] != nil {
		return fail("message", res[0])
	}
	_ = c.Quit()
	return nil
}

// checkMessageStart drops a leading mbox "From " line and checks that what
// follows starts with a header field, so that garbage and empty input are
// refused before anything is stored. It returns the envelope sender the
// "From " line names ("" without one, or for MAILER-DAEMON).
func checkMessageStart(r *bufio.Reader) (sender string, err error) {
	head, _ := r.Peek(5)
	if len(head) == 0 {
		return "", errors.New("empty message on standard input")
	}
	if bytes.Equal(head, []byte("From ")) {
		line, err := r.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return "", errors.New("message has an mbox From line but no content")
		}
		sender = fromLineSender(line)
	}
	return sender, checkHeaderStart(r)
}

// fromLineSender returns the address of an mbox "From addr date" line when
// it is usable as an SMTP reverse-path.
func fromLineSender(line []byte) string {
	f := strings.Fields(string(line))
	if len(f) < 2 || strings.EqualFold(f[1], "MAILER-DAEMON") || len(f[1]) > 254 {
		return ""
	}
	addr := f[1]
	local, domain, ok := strings.Cut(addr, "@")
	if !ok || local == "" || domain == "" || strings.ContainsAny(addr, "<>\"\\()[],;:") {
		return ""
	}
	return addr
}

func checkHeaderStart(r *bufio.Reader) error {
	line, err := r.Peek(r.Size())
	if len(line) == 0 {
		if err == nil || errors.Is(err, io.EOF) {
			return errors.New("message has an mbox From line but no content")
		}
		return fmt.Errorf("read standard input: %w", err)
	}
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return errors.New("input does not start with a header field (Name: value); not an RFC 5322 message")
	}
	for _, c := range line[:colon] {
		if c <= ' ' || c > '~' {
			return errors.New("input does not start with a valid header field name; not an RFC 5322 message")
		}
	}
	return nil
}
