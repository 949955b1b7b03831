package server

import (
	"errors"
	"strings"

	"github.com/imapfsm/imapfsm/server/imapwire"
	"github.com/imapfsm/imapfsm/server/store"
)

// cmdCreate implements CREATE (RFC 9051 6.3.4) with the USE create
// parameter of CREATE-SPECIAL-USE (RFC 6154 3):
//
//	CREATE mailbox [SP "(" create-param *(SP create-param) ")"]
//
// A name ending in the hierarchy separator declares that the client intends
// to create names below it (RFC 9051 6.3.4); the separator is dropped and
// the name itself is created. That is the protocol, not the
// trailing-separator quirk, so the name is read without the quirk's
// accounting.
func cmdCreate(c *conn, cmd *command) result {
	a := cmd.args
	if err := a.SP(); err != nil {
		return argError(err)
	}
	name, err := a.Mailbox()
	if err != nil {
		return newNameError(err)
	}
	if len(name) > 1 && strings.HasSuffix(name, "/") && !strings.HasSuffix(name, "//") {
		name = strings.TrimSuffix(name, "/")
	}
	var uses []string
	if !a.AtEnd() {
		if err := a.SP(); err != nil {
			return argError(err)
		}
		if uses, err = createParams(a); err != nil {
			return argError(err)
		}
	}
	if err := a.End(); err != nil {
		return argError(err)
	}
	// The store keeps at most one special use per mailbox; a request for
	// several cannot be honoured and must not create the mailbox
	// (RFC 6154 3: NO with USEATTR).
	var use store.MailboxAttr
	for _, u := range uses {
		attr, err := store.ParseSpecialUse(u)
		if err != nil {
			return c.storeError(err)
		}
		if use != 0 && use != attr {
			return no("USEATTR", "Only one special-use attribute per mailbox is supported")
		}
		use = attr
	}
	info, err := c.user.CreateMailbox(c.ctx, name, use)
	if err != nil {
		return c.storeError(err)
	}
	return okCode("MAILBOXID ("+mailboxObjectID(info.ID)+")", "CREATE completed") // RFC 8474 4.1
}

// createParams reads the create parameter list of RFC 4466 2.2, of which
// only USE (RFC 6154 3) is known:
//
//	create-params = "(" create-param *(SP create-param) ")"
//	create-param  = "USE" SP "(" [use-attr *(SP use-attr)] ")"
//
// It returns the use-attrs as sent. An unknown parameter is a syntax error
// (RFC 4466 2.2: the server MUST reject it with BAD).
func createParams(a *imapwire.ArgReader) ([]string, error) {
	var uses []string
	err := a.List(func() error {
		kw, err := a.Keyword()
		if err != nil {
			return err
		}
		if kw != "USE" {
			return errSyntax("Unknown CREATE parameter " + kw)
		}
		if err := a.SP(); err != nil {
			return err
		}
		return a.List(func() error {
			f, err := a.Flag()
			if err == nil {
				uses = append(uses, f)
			}
			return err
		})
	})
	return uses, err
}

// cmdDelete implements DELETE (RFC 9051 6.3.5). INBOX cannot be deleted; a
// mailbox with inferiors keeps its name as \Noselect. Both rules live in
// the store.
func cmdDelete(c *conn, cmd *command) result {
	name, res, done := oneMailboxArg(c, cmd)
	if done {
		return res
	}
	if err := c.user.DeleteMailbox(c.ctx, name); err != nil {
		return c.storeError(err)
	}
	return ok("DELETE completed")
}

// cmdRename implements RENAME (RFC 9051 6.3.6): the mailbox and all its
// inferiors get the new name; renaming INBOX moves its messages to the new
// mailbox and leaves INBOX empty (the store's rule).
func cmdRename(c *conn, cmd *command) result {
	a := cmd.args
	if err := a.SP(); err != nil {
		return argError(err)
	}
	from, err := c.mailboxArg(a)
	if err != nil {
		return argError(err)
	}
	if err := a.SP(); err != nil {
		return argError(err)
	}
	to, err := c.mailboxArg(a)
	if err != nil {
		return newNameError(err)
	}
	if err := a.End(); err != nil {
		return argError(err)
	}
	if err := c.user.RenameMailbox(c.ctx, from, to); err != nil {
		return c.storeError(err)
	}
	return ok("RENAME completed")
}

// cmdSubscribe implements SUBSCRIBE (RFC 9051 6.3.7). The mailbox must
// exist; the subscription outlives a later deletion.
func cmdSubscribe(c *conn, cmd *command) result {
	name, res, done := oneMailboxArg(c, cmd)
	if done {
		return res
	}
	if err := c.user.SetSubscribed(c.ctx, name, true); err != nil {
		return c.storeError(err)
	}
	return ok("SUBSCRIBE completed")
}

// cmdUnsubscribe implements UNSUBSCRIBE (RFC 9051 6.3.8). The name need
// not exist, so that subscriptions of deleted mailboxes can be removed.
func cmdUnsubscribe(c *conn, cmd *command) result {
	name, res, done := oneMailboxArg(c, cmd)
	if done {
		return res
	}
	if err := c.user.SetSubscribed(c.ctx, name, false); err != nil {
		return c.storeError(err)
	}
	return ok("UNSUBSCRIBE completed")
}

// newNameError answers an error reading the name of a mailbox to be
// created (CREATE, RENAME's new name): a name that does not decode cannot
// be given to a mailbox, NO [CANNOT] (RFC 5530 3); other errors as
// argError.
func newNameError(err error) result {
	var nameErr *imapwire.MailboxNameError
	if errors.As(err, &nameErr) {
		return no("CANNOT", "Invalid mailbox name: "+nameErr.Reason)
	}
	return argError(err)
}
