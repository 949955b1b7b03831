package mailmsg

import "strings"

// Param is one parameter of a Content-Type or Content-Disposition header
// field (RFC 2045 5.1, RFC 2183 2). Name is lower-case; Value is the value
// after RFC 2231 continuations and charset encodings have been resolved.
type Param struct {
	Name  string
	Value string
}

// AddressKind tells what an [Address] in an envelope address list stands
// for.
type AddressKind uint8

const (
	// AddressMailbox is an ordinary mailbox (RFC 5322 3.4).
	AddressMailbox AddressKind = iota
	// AddressGroupStart opens a group (RFC 5322 3.4 group). Its Name holds
	// the group's display name; on the wire it is written as
	// (NIL NIL "name" NIL) as RFC 9051 7.5.2 requires.
	AddressGroupStart
	// AddressGroupEnd closes the innermost open group and is written as
	// (NIL NIL NIL NIL).
	AddressGroupEnd
)

// Address is one element of an envelope address list (RFC 9051 7.5.2,
// ENVELOPE). Strings are kept as they appear in the header: a display name
// made of RFC 2047 encoded-words is not decoded; quoted strings are
// unquoted.
type Address struct {
	Kind AddressKind
	// Name is the display name (empty: NIL). For AddressGroupStart it is
	// the group name.
	Name string
	// ADL is the obsolete source route (RFC 5322 4.4 obs-route) without
	// its trailing colon, e.g. "@relay1,@relay2" (empty: NIL).
	ADL string
	// Mailbox is the local part of the address.
	Mailbox string
	// Host is the domain of the address; empty when the header gave none.
	Host string
}

// Envelope holds the header fields that make up the IMAP ENVELOPE
// structure (RFC 9051 7.5.2). String values are the unfolded header values
// as they appear on the wire, with RFC 2047 encoded-words left encoded. An
// empty string stands for an absent field and is sent as NIL.
type Envelope struct {
	Date      string
	Subject   string
	From      []Address
	Sender    []Address
	ReplyTo   []Address
	To        []Address
	Cc        []Address
	Bcc       []Address
	InReplyTo string
	MessageID string
}

// Part is one MIME entity (RFC 2045 2.4) of a message: the message itself,
// a body part of a multipart entity, or the message encapsulated in a
// message/rfc822 part.
//
// Offsets are byte offsets into the raw message. The entity's header spans
// [HeaderStart, BodyStart) and includes the blank line that ends it; its
// body spans [BodyStart, BodyEnd). For a body part of a multipart entity,
// BodyEnd excludes the line break that precedes the next boundary
// delimiter, which belongs to the delimiter (RFC 2046 5.1.1).
type Part struct {
	// Type and Subtype are the lower-case media type (RFC 2045 5.1).
	Type    string
	Subtype string
	// Params are the Content-Type parameters, sorted by name.
	Params []Param
	// ID is the Content-ID header value (RFC 2045 7); empty when absent.
	ID string
	// Description is the raw Content-Description value (RFC 2045 8).
	Description string
	// Encoding is the lower-case Content-Transfer-Encoding (RFC 2045 6.1),
	// "7bit" when the header is absent.
	Encoding string
	// Size is the body size in octets, BodyEnd - BodyStart.
	Size int64
	// Lines is the number of lines of the body. It is meaningful for text/*
	// and message/rfc822 parts, the ones whose BODYSTRUCTURE carries it.
	Lines int64
	// MD5 is the Content-MD5 header value (RFC 1864); empty when absent.
	MD5 string
	// Disposition is the lower-case Content-Disposition type (RFC 2183),
	// empty when absent; DispositionParams are its parameters.
	Disposition       string
	DispositionParams []Param
	// Language lists the Content-Language tags (RFC 3282).
	Language []string
	// Location is the Content-Location value (RFC 2557).
	Location string

	HeaderStart int64
	BodyStart   int64
	BodyEnd     int64

	// Children are the body parts of a multipart entity, in order.
	Children []*Part
	// Envelope and Message describe the message encapsulated by a
	// message/rfc822 (or message/global) part. They are nil when the part
	// is not such a part or its body could not be parsed as a message, for
	// instance because it has a base64 transfer encoding.
	Envelope *Envelope
	Message  *Part
}

// Structure is the analysed form of a stored message: its envelope and its
// MIME tree.
type Structure struct {
	// Size is the size of the raw message in octets.
	Size int64
	// Envelope is the envelope of the message.
	Envelope Envelope
	// Root is the message itself: its header starts at offset 0 and its
	// body runs to the end of the message.
	Root *Part
	// Preview is the message's preview text (RFC 8970, see [Preview]),
	// computed when the message was analysed; HasPreview is false when it
	// was not (a blob of format version 1, or an analyser that could not
	// read the message twice), and a reader computes it when needed.
	Preview    string
	HasPreview bool
}

// BodyOffset returns the offset at which the top-level body starts, just
// after the blank line that ends the message header.
func (s *Structure) BodyOffset() int64 {
	if s == nil || s.Root == nil {
		return 0
	}
	return s.Root.BodyStart
}

// IsMultipart reports whether p is a multipart entity with body parts.
func (p *Part) IsMultipart() bool {
	return p.Type == "multipart" && len(p.Children) > 0
}

// IsMessage reports whether p is a message/rfc822 or message/global part
// whose encapsulated message was analysed.
func (p *Part) IsMessage() bool {
	return p.Message != nil && p.Envelope != nil
}

// IsText reports whether p has a text/* media type.
func (p *Part) IsText() bool {
	return p.Type == "text"
}

// Param returns the value of the Content-Type parameter name (matched
// case-insensitively) and whether it is present.
func (p *Part) Param(name string) (string, bool) {
	for _, prm := range p.Params {
		if strings.EqualFold(prm.Name, name) {
			return prm.Value, true
		}
	}
	return "", false
}

// walk calls fn for p and every part below it, depth first and in order,
// descending into encapsulated messages. It stops early when fn returns
// false, and reports whether the walk ran to the end.
func (p *Part) walk(fn func(*Part) bool) bool {
	if !fn(p) {
		return false
	}
	for _, c := range p.Children {
		if !c.walk(fn) {
			return false
		}
	}
	if p.Message != nil {
		return p.Message.walk(fn)
	}
	return true
}
