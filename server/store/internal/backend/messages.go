package backend

import (
	"errors"
	"io"
	"strings"
	"time"

	"github.com/imapfsm/imapfsm/server/store"
)

// errNilBody rejects a [store.NewMessage] without a body, a caller's bug.
var errNilBody = errors.New("store: nil message body")

// NewMessage is a [store.NewMessage] whose arguments have been checked.
type NewMessage struct {
	// Flags are the message's normalised flags.
	Flags store.FlagSet
	// Date is the internal date: the caller's, or the append time if the
	// caller gave none.
	Date time.Time
}

// CheckNewMessage checks one message of [store.MessageWriter.Append] (or
// [store.BatchAppender.AppendBatch]) before anything is stored: its flags
// must pass [store.ParseFlags] and it must have a body. A zero
// InternalDate becomes now.
func CheckNewMessage(msg store.NewMessage, now time.Time) (NewMessage, error) {
	flags, err := store.ParseFlags(msg.Flags)
	if err != nil {
		return NewMessage{}, err
	}
	date := msg.InternalDate
	if date.IsZero() {
		date = now
	}
	if msg.Body == nil {
		return NewMessage{}, errNilBody
	}
	return NewMessage{Flags: flags, Date: date}, nil
}

// CopyBody copies a message body from r to w and returns its size. A body
// longer than maxSize bytes fails with [store.ErrTooBig] once maxSize+1
// bytes were copied; r is not read further.
func CopyBody(w io.Writer, r io.Reader, maxSize int64) (int64, error) {
	n, err := io.Copy(w, io.LimitReader(r, maxSize+1))
	if err == nil && n > maxSize {
		err = store.ErrTooBig
	}
	return n, err
}

// Analyze runs the store's [store.Analyzer] a (nil for none) over a message
// body and returns the structure blob to store with the message. A message
// the analyser cannot handle is still accepted, since mail must never be
// refused for being malformed: its blob is then nil, and the server
// computes the structure on demand. A successful analysis yields a non-nil
// blob, even an empty one.
func Analyze(a store.Analyzer, r io.Reader) []byte {
	if a == nil {
		return nil
	}
	blob, err := a(r)
	if err != nil {
		return nil
	}
	if blob == nil {
		blob = []byte{}
	}
	return blob
}

// AddKeywords returns have, a mailbox's list of known keywords, extended by
// those of kws it does not contain yet (compared case-insensitively, the
// first spelling wins). A list that would exceed limit keywords fails with
// [store.ErrLimit].
func AddKeywords(have, kws []string, limit int) ([]string, error) {
	for _, k := range kws {
		known := false
		for _, h := range have {
			if strings.EqualFold(h, k) {
				known = true
				break
			}
		}
		if known {
			continue
		}
		if len(have) >= limit {
			return have, store.ErrLimit
		}
		have = append(have, k)
	}
	return have, nil
}

// Ranges compresses ascending UIDs into a UID set without sorting; nil
// yields nil.
func Ranges(uids []uint32) store.UIDSet {
	var s store.UIDSet
	for _, u := range uids {
		if n := len(s); n > 0 && s[n-1].Stop+1 == u {
			s[n-1].Stop = u
			continue
		}
		s = append(s, store.UIDRange{Start: u, Stop: u})
	}
	return s
}

// ExpungeSet returns the UIDs a [store.MessageWriter.Expunge] with uids
// considers: every UID for nil (EXPUNGE, CLOSE), else uids normalised (UID
// EXPUNGE), so an empty non-nil set considers none. Of these, only the
// messages flagged \Deleted are expunged.
func ExpungeSet(uids store.UIDSet) store.UIDSet {
	if uids == nil {
		return store.AllUIDs()
	}
	return uids.Normalize()
}
