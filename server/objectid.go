package server

import (
	"strconv"

	"github.com/imapfsm/imapfsm/server/store"
)

// Object identifiers (RFC 8474, OBJECTID): MAILBOXID names a mailbox for
// its whole life (RENAME keeps it, DELETE and CREATE give a new one);
// EMAILID names a message's content, which COPY and MOVE keep; THREADID is
// NIL, as the server does not keep threads (RFC 8474 5.2 allows it). Both
// come from identifiers the store never reuses, with a letter in front so
// that the two kinds never look alike: objectid = 1*255(ALPHA / DIGIT /
// "_" / "-").

// mailboxObjectID is the MAILBOXID of a mailbox.
func mailboxObjectID(id store.MailboxID) string {
	return "M" + strconv.FormatUint(uint64(id), 10)
}

// emailObjectID is the EMAILID of a message.
func emailObjectID(msg *store.Message) string {
	return "E" + strconv.FormatUint(msg.ContentID, 10)
}
