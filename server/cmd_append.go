package server

import (
	"errors"
	"io"
	"strconv"

	"github.com/imapfsm/imapfsm/server/imapwire"
	"github.com/imapfsm/imapfsm/server/store"
)

// cmdAppend implements APPEND (RFC 9051 6.3.12) of one message
// (MULTIAPPEND is not advertised):
//
//	append = "APPEND" SP mailbox [SP flag-list] [SP date-time] SP literal
//
// The message literal (synchronising, LITERAL+ non-synchronising per
// RFC 7888, or literal8 per RFC 3516) is streamed into the store without
// being buffered. The tagged OK carries APPENDUID (RFC 4315 3). A missing
// mailbox gets NO [TRYCREATE] before the client is invited to send the
// message; a literal over APPENDLIMIT gets NO [TOOBIG] (RFC 7889).
func cmdAppend(c *conn, cmd *command) result {
	a := cmd.args
	if err := a.SP(); err != nil {
		return argError(err)
	}
	name, err := c.mailboxArg(a)
	if err != nil {
		return argError(err)
	}
	if err := a.SP(); err != nil {
		return argError(err)
	}
	var msg store.NewMessage
	if b, _ := a.Peek(); b == '(' {
		if msg.Flags, err = a.FlagList(); err != nil {
			return argError(err)
		}
		if err := a.SP(); err != nil {
			return argError(err)
		}
	}
	if b, _ := a.Peek(); b == '"' {
		if msg.InternalDate, err = a.DateTime(); err != nil {
			return argError(err)
		}
		if err := a.SP(); err != nil {
			return argError(err)
		}
	}
	// Flags are checked before the message is sent for the same reason
	// as the mailbox below (\Recent may not be set, RFC 9051 6.3.12).
	if _, err := store.ParseFlags(msg.Flags); err != nil {
		return c.storeError(err)
	}
	if _, isLiteral := a.PeekLiteral(); !isLiteral {
		if err := a.Err(); err != nil {
			return argError(err)
		}
		return bad("APPEND needs the message as a literal")
	}
	// Refuse before the continuation request, so that a client sending a
	// synchronising literal does not upload a message that cannot be
	// stored (RFC 9051 6.3.12: TRYCREATE if the mailbox does not exist).
	info, err := c.user.Mailbox(c.ctx, name)
	if err != nil {
		if errors.Is(err, store.ErrNoSuchMailbox) {
			return no("TRYCREATE", "No such mailbox; create it first")
		}
		return c.storeError(err)
	}
	if info.Attr&store.AttrNoselect != 0 {
		return c.storeError(store.ErrNoselect)
	}
	lit, err := a.AppendLiteral()
	if err != nil {
		var tooBig *imapwire.LiteralTooLargeError
		if errors.As(err, &tooBig) {
			return no("TOOBIG", tooBigText(tooBig))
		}
		return argError(err)
	}
	body := &appendBody{lit: lit, args: a}
	msg.Body = body
	res, err := c.user.Append(c.ctx, name, msg)
	if body.err != nil {
		// The command was malformed after the message (or the
		// connection failed mid-literal): the store saw an error
		// instead of EOF and kept nothing.
		return argError(body.err)
	}
	if err != nil {
		if errors.Is(err, store.ErrNoSuchMailbox) {
			return no("TRYCREATE", "No such mailbox; create it first")
		}
		return c.storeError(err)
	}
	if !body.done {
		// The store accepted the message without reading it to the end,
		// which would desynchronise the stream; this is a store bug.
		c.log.Error("store did not read the whole APPEND literal", "mailbox", name)
		return no("SERVERBUG", "Internal error")
	}
	if m := c.mailbox; m != nil && m.id == res.Mailbox {
		c.sendUpdates(true)
	}
	return okCode(appendUID(res), "APPEND completed")
}

// appendUID formats the APPENDUID response code (RFC 4315 3).
func appendUID(res store.AppendResult) string {
	return "APPENDUID " + strconv.FormatUint(uint64(res.UIDValidity), 10) + " " + strconv.FormatUint(uint64(res.UID), 10)
}

// appendBody is the message the store reads: the literal's payload,
// followed by a check that the command ends right after it. Only if the
// command is well formed does the store see io.EOF and commit; otherwise
// it sees the error and stores nothing, so a malformed APPEND never
// leaves a message behind.
type appendBody struct {
	lit  *imapwire.LiteralReader
	args *imapwire.ArgReader
	// err is the argument or connection error that ended the body.
	err error
	// done is set once the payload and the end of the command were read.
	done bool
}

// Read implements io.Reader.
func (b *appendBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.done {
		return 0, io.EOF
	}
	n, err := b.lit.Read(p)
	if err == nil {
		return n, nil
	}
	if !errors.Is(err, io.EOF) {
		b.err = err
		return n, err
	}
	// RFC 9051 6.3.12 (and MULTIAPPEND not being advertised): the
	// command ends after the one message.
	if err := b.args.End(); err != nil {
		b.err = err
		return n, err
	}
	b.done = true
	return n, io.EOF
}
