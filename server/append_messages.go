package server

import (
	"errors"
	"strconv"
	"time"

	"github.com/imapfsm/imapfsm/server/imapwire"
	"github.com/imapfsm/imapfsm/server/store"
)

// The messages of APPEND (cmd_append.go) and REPLACE (cmd_replace.go):
// reading an append-message into the spool and storing what was spooled.

// multiAppend reports whether the session's store can append several
// messages at once, all or none (store.BatchAppender): only then is
// MULTIAPPEND advertised and more than one message accepted.
func (c *conn) multiAppend() bool {
	_, ok := c.user.(store.BatchAppender)
	return ok
}

// receiveAppendMessage reads one append-message, "SP [flag-list SP]
// [date-time SP] (literal / "UTF8" SP "(" literal8 ")")", into sp.
// Before the first message's literal is read it checks that mailbox can
// take messages, so that a client sending a synchronising literal does
// not upload a message that cannot be stored (RFC 9051 6.3.12: TRYCREATE
// if the mailbox does not exist). verb names the command in the reply to a message that is no literal.
// On failure it returns the command's result and false; the engine then
// discards the rest of the command.
func (c *conn) receiveAppendMessage(a *imapwire.ArgReader, sp *appendSpool, mailbox, verb string) (result, bool) {
	if err := a.SP(); err != nil {
		return argError(err), false
	}
	var flags []string
	var date time.Time
	var err error
	if b, _ := a.Peek(); b == '(' {
		if flags, err = a.FlagList(); err != nil {
			return argError(err), false
		}
		if err := a.SP(); err != nil {
			return argError(err), false
		}
	}
	if b, _ := a.Peek(); b == '"' {
		if date, err = a.DateTime(); err != nil {
			return argError(err), false
		}
		if err := a.SP(); err != nil {
			return argError(err), false
		}
	}
	// Flags are checked before the message is sent for the same reason
	// as the mailbox below (\Recent may not be set, RFC 9051 6.3.12).
	if _, err := store.ParseFlags(flags); err != nil {
		return c.storeError(err), false
	}
	// The UTF8 data extension of UTF8=ACCEPT (RFC 6855 section 4),
	// "UTF8" SP "(" literal8 ")", wraps a message whose header may hold
	// UTF-8; the message itself is stored as for a plain literal.
	utf8Data := false
	if b, _ := a.Peek(); b == 'U' || b == 'u' {
		kw, err := a.Keyword()
		if err != nil {
			return argError(err), false
		}
		if kw != "UTF8" {
			return bad(verb + " needs the message as a literal"), false
		}
		if err := a.SP(); err != nil {
			return argError(err), false
		}
		if err := a.Expect('('); err != nil {
			return argError(err), false
		}
		utf8Data = true
	}
	info, isLiteral := a.PeekLiteral()
	if !isLiteral {
		if err := a.Err(); err != nil {
			return argError(err), false
		}
		return bad(verb + " needs the message as a literal"), false
	}
	n := len(sp.msgs)
	if n == 0 {
		mb, err := c.user.Mailbox(c.ctx, mailbox)
		if err != nil {
			if errors.Is(err, store.ErrNoSuchMailbox) {
				return no("TRYCREATE", "No such mailbox; create it first"), false
			}
			return c.storeError(err), false
		}
		if mb.Attr&store.AttrNoselect != 0 {
			return c.storeError(store.ErrNoselect), false
		}
	}
	cfg := &c.srv.cfg
	switch {
	case info.Size == 0:
		return no("", "Message "+strconv.Itoa(n+1)+" is empty; APPEND cancelled, nothing was stored"), false
	case n >= cfg.MaxAppendMessages:
		return no("LIMIT", "More than "+strconv.Itoa(cfg.MaxAppendMessages)+" messages in one APPEND; nothing was stored"), false
	case info.Size <= c.dec.Limits().MaxAppendLiteral && sp.total+info.Size > cfg.MaxAppendSize:
		return no("TOOBIG", "The messages of one APPEND exceed "+strconv.FormatInt(cfg.MaxAppendSize, 10)+
			" bytes together; nothing was stored"), false
	}
	lit, err := a.AppendLiteral()
	if err != nil {
		var tooBig *imapwire.LiteralTooLargeError
		if errors.As(err, &tooBig) {
			return no("TOOBIG", tooBigText(tooBig)), false
		}
		return argError(err), false
	}
	if err := sp.add(flags, date, lit, lit.Size()); err != nil {
		if errors.Is(err, errSpool) {
			c.log.Error("cannot spool an APPEND message", "err", err)
			return no("UNAVAILABLE", "Cannot receive the message now; nothing was stored"), false
		}
		// The connection failed mid-literal.
		return argError(err), false
	}
	if utf8Data {
		if err := a.Expect(')'); err != nil {
			return argError(err), false
		}
	}
	return result{}, true
}

// storeSpooled stores the messages of sp in mailbox in one operation: Append
// for one, AppendBatch for more (all or none).
func (c *conn) storeSpooled(mailbox string, sp *appendSpool) ([]store.AppendResult, result, bool) {
	msgs := sp.messages()
	var results []store.AppendResult
	var err error
	if len(msgs) == 1 {
		var r store.AppendResult
		if r, err = c.user.Append(c.ctx, mailbox, msgs[0]); err == nil {
			results = []store.AppendResult{r}
		}
	} else {
		results, err = c.user.(store.BatchAppender).AppendBatch(c.ctx, mailbox, msgs)
	}
	if err != nil {
		if errors.Is(err, store.ErrNoSuchMailbox) {
			return nil, no("TRYCREATE", "No such mailbox; create it first"), false
		}
		return nil, c.storeError(err), false
	}
	return results, result{}, true
}

// appendUID formats the APPENDUID response code (RFC 4315 3): the
// UIDVALIDITY and the UID of the appended message, or the UID set of the
// messages of a MULTIAPPEND, which a store assigns in order.
func appendUID(res []store.AppendResult) string {
	uids := make([]uint32, len(res))
	for i, r := range res {
		uids[i] = r.UID
	}
	return "APPENDUID " + strconv.FormatUint(uint64(res[0].UIDValidity), 10) + " " + store.UIDSetOf(uids...).String()
}
