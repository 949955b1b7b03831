package server

import (
	"errors"
	"io"

	"github.com/imapfsm/imapfsm/server/internal/mailmsg"
	"github.com/imapfsm/imapfsm/server/store"
)

// fetchBatch is how many messages FETCH, SORT and THREAD read
// from the store at a time, so that no store read stays open while
// responses are written to a slow client and memory stays bounded for
// large sets.
const fetchBatch = 128

// searchBatch is how many messages SEARCH reads from the store at a time.
// It writes nothing while it reads, so its batches are larger than
// FETCH's: each costs a store query or two (on pgstore, a round trip to
// the database each), whatever its size, and holds only metadata, the
// structure blob and at most the header block of each message.
const searchBatch = 512

// messageStructure decodes the cached structure blob, or analyses the body
// when the store holds none.
func messageStructure(msg *store.Message, body store.Body) (*mailmsg.Structure, error) {
	if len(msg.Structure) > 0 {
		return mailmsg.Decode(msg.Structure)
	}
	if body == nil {
		return nil, errors.New("no structure and no body")
	}
	blob, err := mailmsg.Analyze(io.NewSectionReader(body, 0, body.Size()))
	if err != nil {
		return nil, err
	}
	return mailmsg.Decode(blob)
}
