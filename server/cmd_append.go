package server

import (
	"errors"
	"strconv"
	"time"

	"github.com/imapfsm/imapfsm/server/imapwire"
	"github.com/imapfsm/imapfsm/server/store"
)

// cmdAppend implements APPEND (RFC 9051 6.3.12) with MULTIAPPEND
// (RFC 3502, in the syntax of RFC 4466):
//
//	append         = "APPEND" SP mailbox 1*append-message
//	append-message = [SP flag-list] [SP date-time] SP literal
//
// Each message literal (synchronising, LITERAL+ non-synchronising per
// RFC 7888, or literal8 per RFC 3516) is received into an appendSpool;
// once the command has arrived completely and well formed, the messages
// are stored in one store operation (store.BatchAppender for more than
// one), so that all are stored or none: a later message with bad syntax,
// over a limit, or over quota leaves nothing behind. The tagged OK carries
// APPENDUID with the UIDs of all of them (RFC 4315 3). A missing mailbox
// gets NO [TRYCREATE] before the client is invited to send the first
// message; a literal over APPENDLIMIT gets NO [TOOBIG] (RFC 7889), so does
// a command whose messages exceed Config.MaxAppendSize together, and one
// with more than Config.MaxAppendMessages messages gets NO [LIMIT]. A
// zero-length message cancels the command (RFC 3502 6.3.11): NO, nothing
// stored.
func cmdAppend(c *conn, cmd *command) result {
	a := cmd.args
	if err := a.SP(); err != nil {
		return argError(err)
	}
	name, err := c.mailboxArg(a)
	if err != nil {
		return argError(err)
	}
	sp := c.newAppendSpool()
	defer sp.close()
	multi := c.multiAppend()
	for {
		if res, ok := c.receiveAppendMessage(a, sp, name); !ok {
			return res
		}
		if !multi || a.AtEnd() {
			break
		}
	}
	if err := a.End(); err != nil {
		return argError(err)
	}
	results, res, ok := c.storeSpooled(name, sp)
	if !ok {
		return res
	}
	if m := c.mailbox; m != nil && m.id == results[0].Mailbox {
		c.sendUpdates(true)
	}
	return okCode(appendUID(results), "APPEND completed")
}

// multiAppend reports whether the session's store can append several
// messages at once, all or none (store.BatchAppender): only then is
// MULTIAPPEND advertised and more than one message accepted.
func (c *conn) multiAppend() bool {
	_, ok := c.user.(store.BatchAppender)
	return ok
}

// receiveAppendMessage reads one append-message, "SP [flag-list SP]
// [date-time SP] literal", into sp. Before the first message's literal
// is read it checks that mailbox can take messages, so that a client
// sending a synchronising literal does not upload a message that cannot
// be stored (RFC 9051 6.3.12: TRYCREATE if the mailbox does not exist).
// On failure it returns the command's result and false; the engine then
// discards the rest of the command.
func (c *conn) receiveAppendMessage(a *imapwire.ArgReader, sp *appendSpool, mailbox string) (result, bool) {
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
	info, isLiteral := a.PeekLiteral()
	if !isLiteral {
		if err := a.Err(); err != nil {
			return argError(err), false
		}
		return bad("APPEND needs the message as a literal"), false
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
