package server

import (
	"time"

	"github.com/imapfsm/imapfsm/server/store"
)

// saveDate is the date the SAVEDBEFORE, SAVEDON and SAVEDSINCE search keys
// compare for msg (RFC 8514 4.3): its save date, when it was added to its
// mailbox by APPEND, COPY, MOVE, REPLACE or delivery. A message stored
// before the store kept save dates has none; RFC 8514 treats a save date
// the storage does not keep alike everywhere, and so does the server for
// such a message: FETCH SAVEDATE is NIL for it (4.2), SAVEDATESUPPORTED
// does not match it (4.3), and the SAVED* keys use its internal date
// instead (4.3), which this function returns.
func saveDate(msg *store.Message) time.Time {
	if msg.SaveDate.IsZero() {
		return msg.InternalDate
	}
	return msg.SaveDate
}
