package lmtp

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"syscall"

	"github.com/imapfsm/imapfsm/server/store"
)

// resolve maps a recipient's local part to an account handle and the
// detail ("lists" of "alice+lists"). The whole local part is tried first,
// so that an account whose name contains the delimiter stays reachable.
func (s *Server) resolve(local string) (store.User, string, error) {
	u, err := s.openAccount(local)
	if err == nil || !errors.Is(err, store.ErrNoSuchUser) || s.cfg.DetailDelimiter == "" {
		return u, "", err
	}
	base, detail, ok := strings.Cut(local, s.cfg.DetailDelimiter)
	if !ok || base == "" {
		return nil, "", err
	}
	u, err = s.openAccount(base)
	return u, detail, err
}

func (s *Server) openAccount(local string) (store.User, error) {
	name, err := s.cfg.Lookup(s.ctx, local)
	if err != nil {
		return nil, err
	}
	if store.ValidateUserName(name) != nil {
		return nil, store.ErrNoSuchUser
	}
	return s.cfg.Store.OpenUser(s.ctx, name)
}

// pickMailbox returns the selectable mailbox of u named name, matched
// exactly or else case-insensitively when only one mailbox matches, and
// INBOX when there is none.
func (s *Server) pickMailbox(u store.User, name string) (string, error) {
	n, err := store.NormalizeMailboxName(name, 0)
	if err != nil {
		return store.Inbox, nil
	}
	info, err := u.Mailbox(s.ctx, n)
	if err == nil {
		if info.Attr&store.AttrNoselect != 0 {
			return store.Inbox, nil
		}
		return info.Name, nil
	}
	if !errors.Is(err, store.ErrNoSuchMailbox) {
		return "", err
	}
	list, err := u.ListMailboxes(s.ctx)
	if err != nil {
		return "", err
	}
	match, matches := "", 0
	for _, mb := range list {
		if mb.Attr&store.AttrNoselect == 0 && strings.EqualFold(mb.Name, n) {
			match = mb.Name
			matches++
		}
	}
	if matches == 1 {
		return match, nil
	}
	return store.Inbox, nil
}

// deliver appends the spooled message once per distinct account and
// mailbox, several at a time so that they share the store's commits, and
// returns one reply per recipient in RCPT order.
func (ss *session) deliver(id string, sp *spool, trace string) []reply {
	type target struct {
		user    store.User
		mailbox string
		rcpt    string
		r       reply
	}
	var targets []*target
	byKey := map[string]*target{}
	of := make([]*target, len(ss.rcpts))
	for i, rc := range ss.rcpts {
		key := rc.user.Name() + "\x00" + rc.mailbox
		t := byKey[key]
		if t == nil {
			t = &target{user: rc.user, mailbox: rc.mailbox, rcpt: rc.addr}
			byKey[key] = t
			targets = append(targets, t)
		}
		of[i] = t
	}
	sem := make(chan struct{}, appendParallelism)
	var wg sync.WaitGroup
	for _, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			t.r = ss.appendOne(id, sp, trace, t.user, t.mailbox, t.rcpt)
		}()
	}
	wg.Wait()
	out := make([]reply, len(ss.rcpts))
	for i, t := range of {
		out[i] = t.r
		if t.r.code == 250 {
			out[i].text = "<" + ss.rcpts[i].addr + "> " + t.r.text
		}
	}
	return out
}

// appendOne stores the message for one account. A mailbox that vanished
// since RCPT falls back to INBOX.
func (ss *session) appendOne(id string, sp *spool, trace string, u store.User, mailbox, rcpt string) reply {
	appendTo := func(mb string) (store.AppendResult, error) {
		body := io.MultiReader(strings.NewReader(trace), sp.reader())
		return u.Append(ss.s.ctx, mb, store.NewMessage{Body: body})
	}
	res, err := appendTo(mailbox)
	if mailbox != store.Inbox && (errors.Is(err, store.ErrNoSuchMailbox) || errors.Is(err, store.ErrNoselect)) {
		ss.log.Warn("lmtp mailbox vanished, delivering to INBOX", "id", id, "rcpt", rcpt, "mailbox", mailbox)
		mailbox = store.Inbox
		res, err = appendTo(mailbox)
	}
	size := int64(len(trace)) + sp.size
	if err == nil {
		ss.log.Info("lmtp delivered", "id", id, "from", ss.from, "rcpt", rcpt, "user", u.Name(),
			"mailbox", mailbox, "uid", res.UID, "size", size)
		return reply{250, "2.0.0", "Message stored"}
	}
	r := appendFailure(err)
	lv := ss.log.Warn
	if r.code == 451 {
		lv = ss.log.Error
	}
	lv("lmtp delivery failed", "id", id, "rcpt", rcpt, "user", u.Name(), "mailbox", mailbox, "size", size,
		"reply", r.code, "err", err)
	return r
}

// appendFailure maps a store error to the reply for the recipient.
func appendFailure(err error) reply {
	switch {
	case errors.Is(err, store.ErrTooBig):
		return reply{552, "5.3.4", "Message too big for the mailbox"}
	case errors.Is(err, store.ErrOverQuota):
		// RFC 3463 5.2.2: mailbox full, a permanent failure for this
		// message (RFC 5321 552), as the account stays full until its
		// owner deletes mail.
		return reply{552, "5.2.2", "Mailbox full"}
	case errors.Is(err, store.ErrNoSuchUser):
		return reply{550, "5.1.1", "No such user"}
	case isNoSpace(err):
		return reply{452, "4.3.1", "Insufficient system storage"}
	case errors.Is(err, store.ErrClosed), errors.Is(err, context.Canceled):
		return replyShuttingDown.withCode(451)
	}
	return replyTempFail
}

func (r reply) withCode(code int) reply {
	r.code = code
	return r
}

func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
