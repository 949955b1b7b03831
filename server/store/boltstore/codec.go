package boltstore

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/imapfsm/imapfsm/server/store"
)

// Bucket and key names of the on-disk layout (see the package doc).
var (
	bucketMeta    = []byte("meta")
	bucketUsers   = []byte("users")
	bucketAccts   = []byte("accts")
	bucketMboxes  = []byte("mboxes")
	bucketBlobs   = []byte("blobs")
	bucketTrash   = []byte("trash")
	bucketInline  = []byte("inline")
	bucketMB      = []byte("mb")
	bucketNames   = []byte("names")
	bucketSubs    = []byte("subs")
	bucketMsg     = []byte("msg")
	bucketStruct  = []byte("st")
	bucketUIDIdx  = []byte("uidx")
	bucketDeleted = []byte("del")
	bucketLog     = []byte("log")

	keyVersion     = []byte("version")
	keyUIDValidity = []byte("uidvalidity")
	keyBlobFloor   = []byte("blobfloor")
	keyNextContent = []byte("nextcontent")
)

// formatVersion is the on-disk format version written at creation. Version
// 2 added inline bodies (bucket inline); a version 1 store is upgraded on
// open by creating the bucket, and its content files stay readable. The
// version keeps an older binary, which would not find inline bodies, from
// opening a version 2 store.
const formatVersion = 2

// errCorrupt reports a record that does not decode.
var errCorrupt = errors.New("boltstore: corrupt record")

func u64key(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func u32key(v uint32) []byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return b[:]
}

func keyU32(k []byte) uint32 { return binary.BigEndian.Uint32(k) }
func keyU64(k []byte) uint64 { return binary.BigEndian.Uint64(k) }

// userRec is the record of an account in the users bucket.
type userRec struct {
	ID      uint64    `json:"id"`
	Hash    string    `json:"hash"`
	Created time.Time `json:"created"`
}

// mailboxRec is the record of a mailbox in an account's mb bucket. It holds
// the STATUS counters, maintained by every change.
type mailboxRec struct {
	ID          uint64            `json:"id"`
	Name        string            `json:"name"`
	Attr        store.MailboxAttr `json:"attr"`
	UIDValidity uint32            `json:"uidvalidity"`
	UIDNext     uint32            `json:"uidnext"`
	ModSeq      uint64            `json:"modseq"`
	Messages    uint32            `json:"messages"`
	Unseen      uint32            `json:"unseen"`
	Deleted     uint32            `json:"deleted"`
	Size        int64             `json:"size"`
	LogCount    int               `json:"logcount"`
	LogFloor    uint64            `json:"logfloor"`
	Keywords    []string          `json:"keywords,omitempty"`
	// RecentFrom is the first UID no session has claimed as \Recent
	// (store.MessageWriter.ClaimRecent); 0 in records written before it
	// existed, which means 1.
	RecentFrom uint32 `json:"recentfrom,omitempty"`
}

// firstRecent returns the first UID not claimed as \Recent.
func (r *mailboxRec) firstRecent() uint32 { return max(r.RecentFrom, 1) }

func (r *mailboxRec) status() store.MailboxStatus {
	return store.MailboxStatus{
		ID: store.MailboxID(r.ID), Name: r.Name, Messages: r.Messages, UIDNext: r.UIDNext,
		UIDValidity: r.UIDValidity, Unseen: r.Unseen, Deleted: r.Deleted, Size: r.Size,
		HighestModSeq: r.ModSeq,
	}
}

func decodeJSON(v []byte, dst any) error {
	if err := json.Unmarshal(v, dst); err != nil {
		return fmt.Errorf("%w: %v", errCorrupt, err)
	}
	return nil
}

// msgRec is the per-message record, binary encoded for compactness:
//
//	version(1) content(8) size(8) date(8, unix ns) modseq(8) sysflags(1)
//	nkeywords(uvarint) { len(uvarint) bytes }* { tag(1) field }*
//
// Optional fields follow the keywords, each after a tag byte: tag 1 is the
// save date (8, unix ns; RFC 8514). A record written before save dates were
// kept ends after its keywords and decodes with SaveDate 0; a decoder stops
// at the first tag it does not know, so that older programs still read
// newer records.
type msgRec struct {
	Content  uint64
	Size     int64
	Date     int64
	ModSeq   uint64
	Flags    store.FlagSet
	SaveDate int64 // 0 when unknown
}

// msgTagSaveDate is the tag of msgRec.SaveDate in the encoded record.
const msgTagSaveDate = 1

const msgRecVersion = 1

func (m *msgRec) encode() []byte {
	n := 34 + binary.MaxVarintLen32
	for _, k := range m.Flags.Keywords {
		n += binary.MaxVarintLen32 + len(k)
	}
	b := make([]byte, 34, n)
	b[0] = msgRecVersion
	binary.BigEndian.PutUint64(b[1:], m.Content)
	binary.BigEndian.PutUint64(b[9:], uint64(m.Size))
	binary.BigEndian.PutUint64(b[17:], uint64(m.Date))
	binary.BigEndian.PutUint64(b[25:], m.ModSeq)
	b[33] = byte(m.Flags.System)
	b = binary.AppendUvarint(b, uint64(len(m.Flags.Keywords)))
	for _, k := range m.Flags.Keywords {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
	}
	if m.SaveDate != 0 {
		b = append(b, msgTagSaveDate)
		b = binary.BigEndian.AppendUint64(b, uint64(m.SaveDate))
	}
	return b
}

func decodeMsg(b []byte, m *msgRec) error {
	if len(b) < 35 || b[0] != msgRecVersion {
		return errCorrupt
	}
	m.Content = binary.BigEndian.Uint64(b[1:])
	m.Size = int64(binary.BigEndian.Uint64(b[9:]))
	m.Date = int64(binary.BigEndian.Uint64(b[17:]))
	m.ModSeq = binary.BigEndian.Uint64(b[25:])
	m.Flags.System = store.SystemFlag(b[33])
	rest := b[34:]
	n, l := binary.Uvarint(rest)
	if l <= 0 || n > uint64(len(rest)) {
		return errCorrupt
	}
	rest = rest[l:]
	m.Flags.Keywords = nil
	if n > 0 {
		m.Flags.Keywords = make([]string, 0, n)
	}
	for range n {
		kl, l := binary.Uvarint(rest)
		if l <= 0 || kl > uint64(len(rest)-l) {
			return errCorrupt
		}
		m.Flags.Keywords = append(m.Flags.Keywords, string(rest[l:l+int(kl)]))
		rest = rest[l+int(kl):]
	}
	m.SaveDate = 0
	for len(rest) > 0 && rest[0] == msgTagSaveDate {
		if len(rest) < 9 {
			return errCorrupt
		}
		m.SaveDate = int64(binary.BigEndian.Uint64(rest[1:]))
		rest = rest[9:]
	}
	return nil
}

// decodeMsgSystem returns only the system flags and modseq of an encoded
// message, without allocating.
func decodeMsgQuick(b []byte) (sys store.SystemFlag, modseq uint64, ok bool) {
	if len(b) < 35 || b[0] != msgRecVersion {
		return 0, 0, false
	}
	return store.SystemFlag(b[33]), binary.BigEndian.Uint64(b[25:]), true
}

// encodeChange encodes a change-log value: kind(1) nranges(uvarint)
// {start(uvarint) length-1(uvarint)}*.
func encodeChange(kind store.ChangeKind, uids store.UIDSet) []byte {
	b := make([]byte, 1, 1+binary.MaxVarintLen32*(1+2*len(uids)))
	b[0] = byte(kind)
	b = binary.AppendUvarint(b, uint64(len(uids)))
	for _, r := range uids {
		b = binary.AppendUvarint(b, uint64(r.Start))
		b = binary.AppendUvarint(b, uint64(r.Stop-r.Start))
	}
	return b
}

func decodeChange(modseq uint64, b []byte) (store.Change, error) {
	c := store.Change{ModSeq: modseq}
	if len(b) < 2 {
		return c, errCorrupt
	}
	c.Kind = store.ChangeKind(b[0])
	rest := b[1:]
	n, l := binary.Uvarint(rest)
	if l <= 0 || n > uint64(len(rest)) {
		return c, errCorrupt
	}
	rest = rest[l:]
	c.UIDs = make(store.UIDSet, 0, n)
	for range n {
		s, l1 := binary.Uvarint(rest)
		if l1 <= 0 {
			return c, errCorrupt
		}
		d, l2 := binary.Uvarint(rest[l1:])
		if l2 <= 0 || s+d > 0xffffffff {
			return c, errCorrupt
		}
		c.UIDs = append(c.UIDs, store.UIDRange{Start: uint32(s), Stop: uint32(s + d)})
		rest = rest[l1+l2:]
	}
	return c, nil
}

// encodeRefs / decodeRefs encode the reference count of a content file.
func encodeRefs(n uint32) []byte { return u32key(n) }

func decodeRefs(b []byte) uint32 {
	if len(b) != 4 {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}
