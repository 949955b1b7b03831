package server

import (
	"errors"

	"github.com/imapfsm/imapfsm/server/imapwire"
	"github.com/imapfsm/imapfsm/server/store"
)

// storeError maps store errors to NO responses with RFC 5530 codes.
func (c *conn) storeError(err error) result {
	switch {
	case errors.Is(err, store.ErrNoSuchMailbox):
		return no("NONEXISTENT", "No such mailbox")
	case errors.Is(err, store.ErrMailboxExists):
		return no("ALREADYEXISTS", "Mailbox already exists")
	case errors.Is(err, store.ErrInvalidMailboxName):
		return no("CANNOT", "Invalid mailbox name")
	case errors.Is(err, store.ErrNoselect):
		return no("CANNOT", "Mailbox is not selectable")
	case errors.Is(err, store.ErrHasChildren):
		return no("INUSE", "Mailbox has children")
	case errors.Is(err, store.ErrInboxDelete):
		return no("CANNOT", "INBOX cannot be deleted")
	case errors.Is(err, store.ErrInvalidSpecialUse):
		return no("USEATTR", "Unsupported special-use attribute")
	case errors.Is(err, store.ErrInvalidFlag):
		return bad("Invalid flag")
	case errors.Is(err, store.ErrNoSuchMessage):
		return no("NONEXISTENT", "No such message")
	case errors.Is(err, store.ErrTooBig):
		return no("TOOBIG", "Message too big")
	case errors.Is(err, store.ErrOverQuota):
		return no("OVERQUOTA", "Quota exceeded; nothing was stored")
	case errors.Is(err, store.ErrLimit):
		return no("LIMIT", "Limit exceeded")
	}
	c.log.Error("store error", "err", err)
	return no("SERVERBUG", "Internal error; the change was not made")
}

// errSyntax returns a syntax error found by a handler rather than by the
// wire layer; argError reports its reason in the BAD response.
func errSyntax(reason string) error {
	return &imapwire.Error{Kind: imapwire.KindSyntax, Reason: reason}
}

// fetchSyntaxError is a FETCH argument the grammar rejects; the handler
// answers BAD with its text.
type fetchSyntaxError string

func (e fetchSyntaxError) Error() string { return string(e) }

// fetchArgError answers an argument error of FETCH, STORE, SEARCH, SORT or
// THREAD: BAD with the text of a fetchSyntaxError, else as argError.
func fetchArgError(err error) result {
	var se fetchSyntaxError
	if errors.As(err, &se) {
		return bad(string(se))
	}
	return argError(err)
}
