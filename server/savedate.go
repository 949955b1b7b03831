package server

import (
	"time"

	"github.com/imapfsm/imapfsm/server/store"
)

// saveDate is the save date of msg (RFC 8514): when it was added to its
// mailbox by APPEND, COPY, MOVE or delivery. Every mailbox keeps save
// dates, so the SAVEDATE FETCH item is never NIL and SAVEDATESUPPORTED
// matches every message; a message stored before the store kept them has
// none, and its internal date, the best the server knows of when it
// arrived, stands in for it (in FETCH SAVEDATE and SAVEDBEFORE, SAVEDON,
// SAVEDSINCE alike).
func saveDate(msg *store.Message) time.Time {
	if msg.SaveDate.IsZero() {
		return msg.InternalDate
	}
	return msg.SaveDate
}
