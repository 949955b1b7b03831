package store

import (
	"bytes"
	"io"
	"slices"
	"time"
)

// Separator is the mailbox hierarchy separator.
const Separator = '/'

// Inbox is the canonical name of the INBOX mailbox.
const Inbox = "INBOX"

// MailboxID identifies a mailbox for its whole lifetime. It is never reused,
// survives renames, and differs after a delete and re-create.
type MailboxID uint64

// MailboxAttr is a set of mailbox attributes (RFC 9051 section 7.3.1,
// RFC 6154 special use).
type MailboxAttr uint16

// Mailbox attributes. The special-use attributes are stored; HasChildren and
// HasNoChildren are computed when listing.
const (
	AttrNoselect MailboxAttr = 1 << iota
	AttrHasChildren
	AttrHasNoChildren
	AttrAll
	AttrArchive
	AttrDrafts
	AttrFlagged
	AttrJunk
	AttrSent
	AttrTrash
)

// SpecialUseMask selects the RFC 6154 special-use attributes.
const SpecialUseMask = AttrAll | AttrArchive | AttrDrafts | AttrFlagged | AttrJunk | AttrSent | AttrTrash

var attrNames = []struct {
	a    MailboxAttr
	name string
}{
	{AttrNoselect, `\Noselect`},
	{AttrHasChildren, `\HasChildren`},
	{AttrHasNoChildren, `\HasNoChildren`},
	{AttrAll, `\All`},
	{AttrArchive, `\Archive`},
	{AttrDrafts, `\Drafts`},
	{AttrFlagged, `\Flagged`},
	{AttrJunk, `\Junk`},
	{AttrSent, `\Sent`},
	{AttrTrash, `\Trash`},
}

// Strings returns the IMAP spelling of each attribute in a, in a fixed order.
func (a MailboxAttr) Strings() []string {
	var out []string
	for _, n := range attrNames {
		if a&n.a != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

// ParseSpecialUse converts an RFC 6154 attribute name (case-insensitive,
// with backslash) to its MailboxAttr. It fails with [ErrInvalidSpecialUse].
func ParseSpecialUse(s string) (MailboxAttr, error) {
	for _, n := range attrNames {
		if n.a&SpecialUseMask != 0 && equalFold(n.name, s) {
			return n.a, nil
		}
	}
	return 0, ErrInvalidSpecialUse
}

// DefaultMailbox is a mailbox every new account gets, subscribed.
type DefaultMailbox struct {
	Name string
	Attr MailboxAttr
}

// DefaultMailboxes returns the mailboxes every new account gets: INBOX and
// the RFC 6154 special-use mailboxes Drafts, Sent, Junk, Trash and Archive.
func DefaultMailboxes() []DefaultMailbox {
	return []DefaultMailbox{
		{Inbox, 0},
		{"Drafts", AttrDrafts},
		{"Sent", AttrSent},
		{"Junk", AttrJunk},
		{"Trash", AttrTrash},
		{"Archive", AttrArchive},
	}
}

// MailboxInfo describes one mailbox as LIST shows it.
type MailboxInfo struct {
	ID          MailboxID
	Name        string
	Attr        MailboxAttr
	Subscribed  bool
	UIDValidity uint32
}

// MailboxStatus holds the STATUS counters of a mailbox.
type MailboxStatus struct {
	ID       MailboxID
	Name     string
	Messages uint32
	// Recent counts the messages no session has claimed as \Recent yet
	// (see [MessageWriter.ClaimRecent]): STATUS RECENT of IMAP4rev1
	// (RFC 3501 6.3.10), and the RECENT of an EXAMINE.
	Recent        uint32
	UIDNext       uint32
	UIDValidity   uint32
	Unseen        uint32
	Deleted       uint32
	Size          int64
	HighestModSeq uint64
	// DeletedSize is the sum of the sizes of the messages flagged
	// \Deleted (STATUS DELETED-STORAGE). [MailboxAdmin.Status] leaves it
	// 0; callers that need it ask a [DeletedSizer].
	DeletedSize int64
}

// View is a consistent snapshot of a mailbox for SELECT/EXAMINE.
type View struct {
	MailboxStatus
	// UIDs lists the UIDs of all messages in ascending order; the message
	// sequence number of UIDs[i] is i+1.
	UIDs []uint32
	// Keywords lists the keywords in use in the mailbox, for the FLAGS and
	// PERMANENTFLAGS responses.
	Keywords []string
}

// Message is the metadata of one stored message.
type Message struct {
	UID          uint32
	Size         int64
	InternalDate time.Time
	// Flags holds system flags in canonical spelling (\Seen, \Answered,
	// \Flagged, \Deleted, \Draft) followed by keywords, in a stable order.
	Flags  []string
	ModSeq uint64
	// SaveDate is when the message was added to this mailbox (by APPEND,
	// COPY, MOVE, REPLACE or delivery; RFC 8514): a copy or a move gets a
	// new one, unlike the internal date. It is zero for a message the
	// store does not know it for (one stored before the store kept save
	// dates); the server then answers FETCH SAVEDATE with NIL. A flag
	// change never sets it.
	SaveDate time.Time
	// ContentID identifies the message's content in the store: COPY and
	// MOVE keep it, a new APPEND gets a new one, and it is never reused.
	// It is the basis of the message's EMAILID (RFC 8474).
	ContentID uint64
	// Structure is the blob the [Analyzer] returned at append time; nil
	// unless requested with [FetchOptions.Structure] or without analyzer.
	Structure []byte
	// Header is a prefix of the message's raw content holding at least
	// its whole header block: up to and including the empty line that
	// ends the header fields (RFC 5322 2.1), or the whole content when it
	// has no empty line (see [HeaderLen]). It is nil unless requested
	// with [FetchOptions.Header], and may be nil even then, for a message
	// whose content the store cannot read along with its metadata; the
	// caller then opens the body.
	Header []byte
}

// Clone returns a deep copy of m that may be retained.
func (m *Message) Clone() *Message {
	c := *m
	c.Flags = slices.Clone(m.Flags)
	c.Structure = slices.Clone(m.Structure)
	c.Header = slices.Clone(m.Header)
	return &c
}

// FetchOptions tunes [MessageReader.Fetch].
type FetchOptions struct {
	// Structure asks for [Message.Structure] to be filled.
	Structure bool
	// ChangedSince, if non-zero, restricts the result to messages whose
	// MODSEQ is greater (RFC 7162 CHANGEDSINCE).
	ChangedSince uint64
	// Header asks for [Message.Header] to be filled where the store can
	// read it with the metadata, without a read of its own per message
	// (SEARCH HEADER).
	Header bool
}

// HeaderLen returns the length of the prefix of a raw message that
// [Message.Header] holds: the bytes up to and including the first empty
// line (CRLF CRLF, or LF LF for a message stored with bare line feeds,
// whichever comes first), or len(raw) when there is none.
func HeaderLen(raw []byte) int {
	switch {
	case bytes.HasPrefix(raw, []byte("\r\n")):
		return 2 // no header fields
	case bytes.HasPrefix(raw, []byte("\n")):
		return 1
	}
	n := len(raw)
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		n = i + 4
	}
	if i := bytes.Index(raw[:n], []byte("\n\n")); i >= 0 {
		n = i + 2
	}
	return n
}

// NewMessage is the input of [MessageWriter.Append].
type NewMessage struct {
	// Flags are the initial flags; \Recent is rejected.
	Flags []string
	// InternalDate defaults to the current time when zero.
	InternalDate time.Time
	// Body is the raw RFC 5322 message; it is read to EOF.
	Body io.Reader
}

// AppendResult identifies an appended message (APPENDUID, RFC 4315).
type AppendResult struct {
	Mailbox     MailboxID
	UIDValidity uint32
	UID         uint32
	ModSeq      uint64
}

// FlagOp selects how [FlagChange.Flags] applies.
type FlagOp uint8

// Flag operations of STORE.
const (
	FlagsSet FlagOp = iota
	FlagsAdd
	FlagsRemove
)

// FlagChange is the input of [MessageWriter.StoreFlags].
type FlagChange struct {
	Op    FlagOp
	Flags []string
	// UnchangedSince, if non-zero, skips messages whose MODSEQ is greater
	// (RFC 7162 UNCHANGEDSINCE); their UIDs are returned in
	// [StoreResult.Modified].
	UnchangedSince uint64
}

// FlagUpdate is the state of one message after a STORE.
type FlagUpdate struct {
	UID    uint32
	Flags  []string
	ModSeq uint64
	// Changed reports whether this STORE actually changed the flags.
	Changed bool
}

// StoreResult is the outcome of [MessageWriter.StoreFlags].
type StoreResult struct {
	// Updated lists every existing message in the UID set that passed the
	// UNCHANGEDSINCE test, in ascending UID order, changed or not.
	Updated []FlagUpdate
	// Modified lists messages that failed the UNCHANGEDSINCE test.
	Modified UIDSet
	// ModSeq is the new HIGHESTMODSEQ if anything changed, else 0.
	ModSeq uint64
}

// CopyResult is the outcome of Copy and Move (COPYUID, RFC 4315).
type CopyResult struct {
	DestID          MailboxID
	DestUIDValidity uint32
	// SourceUIDs[i] was copied to DestUIDs[i]; both ascend.
	SourceUIDs []uint32
	DestUIDs   []uint32
}

// ChangeKind says what a change-log entry records.
type ChangeKind uint8

// Kinds of change-log entries.
const (
	ChangeAppend  ChangeKind = iota + 1 // messages added (APPEND, COPY, MOVE in)
	ChangeFlags                         // flags changed
	ChangeExpunge                       // messages removed (EXPUNGE, MOVE out)
)

// String returns a short lower-case name of k.
func (k ChangeKind) String() string {
	switch k {
	case ChangeAppend:
		return "append"
	case ChangeFlags:
		return "flags"
	case ChangeExpunge:
		return "expunge"
	}
	return "unknown"
}

// Change is one change-log entry: what happened to which UIDs at ModSeq.
type Change struct {
	ModSeq uint64
	Kind   ChangeKind
	UIDs   UIDSet
}

// Notification announces that a mailbox of a user changed. It carries no
// details of message changes: receivers read [MessageReader.ChangesSince].
//
// A notification with an Event is an account event (a mailbox created,
// deleted or renamed, a subscription changed): its Mailbox is
// [AccountEvents] and Name (and OldName) say which mailbox.
type Notification struct {
	User    string
	Mailbox MailboxID
	// HighestModSeq is the mailbox's HIGHESTMODSEQ after the change; 0 if
	// the mailbox was deleted or renamed away.
	HighestModSeq uint64
	// Event is the kind of an account event; zero for message changes.
	Event MailboxEvent
	// Name is the mailbox an account event concerns: the new name of a
	// renamed mailbox.
	Name string
	// OldName is the name a renamed mailbox had.
	OldName string
	// Entry is the metadata entry a MetadataChanged event concerns (its
	// Name is the mailbox, "" for a server entry).
	Entry string
	// Origin is the [Origin] of the call that made the change (see
	// [WithOrigin]); zero when unknown.
	Origin Origin
}

// AccountEvents is the mailbox ID under which the notifier delivers every
// notification of a user: a subscription to it receives the changes of
// all the user's mailboxes and the account events, which are published
// under it alone. No mailbox has this ID.
const AccountEvents MailboxID = 0

// MailboxEvent is the kind of an account event (RFC 5465).
type MailboxEvent uint8

// Account events.
const (
	MailboxCreated      MailboxEvent = iota + 1 // a mailbox was created
	MailboxDeleted                              // a mailbox was deleted
	MailboxRenamed                              // a mailbox was renamed (one event per renamed mailbox)
	MailboxSubscribed                           // a name was subscribed
	MailboxUnsubscribed                         // a name was unsubscribed
	MetadataChanged                             // a metadata entry was set or removed (RFC 5464)
)

// Notifier fans committed changes out to interested sessions.
type Notifier interface {
	// Subscribe registers interest in one mailbox of one user, or, with
	// [AccountEvents], in every notification of the user. The channel
	// receives coalesced notifications (at most one pending; a newer one
	// replaces it, and keeps its Origin only when both had the same one)
	// and is never closed by the notifier; cancel unregisters and must be
	// called exactly once.
	Subscribe(user string, mailbox MailboxID) (ch <-chan Notification, cancel func())

	// Publish announces a committed change. It never blocks on receivers.
	Publish(n Notification)
}
