package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/imapfsm/imapfsm/server/store"
)

func runDeliver(ctx context.Context, args []string, env Env) error {
	fs := newFlags("deliver", "deliver --data DIR [--mailbox NAME] USER < message",
		`Stores one RFC 5322 message read from standard input in a mailbox of USER,
for use as a local delivery agent. A leading mbox "From " line is dropped and
bare LF line endings become CRLF. If --mailbox does not exist the message
goes to INBOX instead.

Exit status: 0 stored, 65 unusable input (empty, no header, too big),
67 unknown user, 75 temporary failure (retry later), 2 usage error.`, env.Stdout)
	data := dataFlag(fs, "")
	mailbox := fs.String("mailbox", store.Inbox, "mailbox to store the message in")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, "USER"); err != nil {
		return err
	}
	if err := needData(fs, *data); err != nil {
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
	if err := checkMessageStart(in); err != nil {
		return withCode(ExitDataErr, fmt.Errorf("deliver: %w", err))
	}

	st, err := openStore(*data)
	if err != nil {
		return withCode(ExitTempFail, fmt.Errorf("deliver: %w", err))
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
	case errors.Is(err, store.ErrNoSuchUser):
		return withCode(ExitNoUser, fmt.Errorf("deliver: no account %q", user))
	}
	return withCode(ExitTempFail, fmt.Errorf("deliver: %w", err))
}

// checkMessageStart drops a leading mbox "From " line and checks that what
// follows starts with a header field, so that garbage and empty input are
// refused before anything is stored.
func checkMessageStart(r *bufio.Reader) error {
	head, _ := r.Peek(5)
	if len(head) == 0 {
		return errors.New("empty message on standard input")
	}
	if bytes.Equal(head, []byte("From ")) {
		if _, err := r.ReadSlice('\n'); err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return errors.New("message has an mbox From line but no content")
		}
	}
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
