package server

import (
	"slices"

	"github.com/imapfsm/imapfsm/server/store"
)

// checkStatusItems refuses the STATUS item DELETED-STORAGE (RFC 9208
// 4.1.4) as unknown when the store cannot compute it (store.DeletedSizer);
// both bundled stores can, and it comes with QUOTA=RES-STORAGE.
func (c *conn) checkStatusItems(items []string) error {
	if slices.Contains(items, "DELETED-STORAGE") {
		if _, ok := c.user.(store.DeletedSizer); !ok {
			return errSyntax("Unknown STATUS item DELETED-STORAGE")
		}
	}
	return nil
}

// deletedStorage fills st.DeletedSize, in bytes like SIZE, when items ask
// for DELETED-STORAGE: what an EXPUNGE of the mailbox would free.
func (c *conn) deletedStorage(name string, st *store.MailboxStatus, items []string) error {
	if !slices.Contains(items, "DELETED-STORAGE") {
		return nil
	}
	ds, ok := c.user.(store.DeletedSizer)
	if !ok {
		return errSyntax("Unknown STATUS item DELETED-STORAGE")
	}
	n, err := ds.DeletedSize(c.ctx, name)
	st.DeletedSize = n
	return err
}
