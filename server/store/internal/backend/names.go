package backend

import (
	"fmt"

	"github.com/imapfsm/imapfsm/server/store"
)

// CreateName checks the arguments of [store.MailboxAdmin.CreateMailbox] and
// returns the canonical name to create. name must pass
// [store.NormalizeMailboxName] with the store's limit maxLen, and
// specialUse must be zero or RFC 6154 attributes within
// [store.SpecialUseMask], else the error wraps [store.ErrInvalidSpecialUse].
func CreateName(name string, specialUse store.MailboxAttr, maxLen int) (string, error) {
	name, err := store.NormalizeMailboxName(name, maxLen)
	if err != nil {
		return "", err
	}
	if specialUse&^store.SpecialUseMask != 0 {
		return "", store.ErrInvalidSpecialUse
	}
	return name, nil
}

// DeleteName checks the argument of [store.MailboxAdmin.DeleteMailbox] and
// returns the canonical name to delete. INBOX, in any case, cannot be
// deleted ([store.ErrInboxDelete]).
func DeleteName(name string, maxLen int) (string, error) {
	name, err := store.NormalizeMailboxName(name, maxLen)
	if err != nil {
		return "", err
	}
	if name == store.Inbox {
		return "", store.ErrInboxDelete
	}
	return name, nil
}

// RenameNames checks the arguments of [store.MailboxAdmin.RenameMailbox]
// and returns both names in canonical form. Renaming a mailbox onto itself
// fails with [store.ErrMailboxExists], and renaming it below itself with
// [store.ErrInvalidMailboxName].
func RenameNames(from, to string, maxLen int) (string, string, error) {
	from, err := store.NormalizeMailboxName(from, maxLen)
	if err != nil {
		return "", "", err
	}
	if to, err = store.NormalizeMailboxName(to, maxLen); err != nil {
		return "", "", err
	}
	if from == to {
		return "", "", store.ErrMailboxExists
	}
	if store.IsInferior(to, from) {
		return "", "", fmt.Errorf("%w: cannot move a mailbox below itself", store.ErrInvalidMailboxName)
	}
	return from, to, nil
}

// RenamedName returns the name that name, which is from or one of its
// inferiors, takes when from is renamed to to. The rename fails with
// [store.ErrInvalidMailboxName] if that name would not be valid (see
// [store.NormalizeMailboxName]): longer than maxLen bytes or deeper than
// [store.MaxMailboxDepth] levels, so that no rename leaves a mailbox
// behind that no command could name.
func RenamedName(name, from, to string, maxLen int) (string, error) {
	renamed := to + name[len(from):]
	if _, err := store.NormalizeMailboxName(renamed, maxLen); err != nil {
		return "", fmt.Errorf("renamed inferior: %w", err)
	}
	return renamed, nil
}
