package mailmsg

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Blob layout: the two magic bytes, one format version byte, then the
// structure in a varint-based encoding (see appendPart). Any change to the
// layout or to what Analyze computes must bump FormatVersion, so that the
// store can spot old blobs and analyse the message again.
const (
	blobMagic0 = 'M'
	blobMagic1 = 'S'
	// FormatVersion is the version of the blob format written by Analyze.
	// Version 2 adds the preview text (RFC 8970) after the MIME tree;
	// Decode still reads version 1 blobs, which have none.
	FormatVersion = 2
)

// ErrStaleBlob is returned (wrapped) by Decode for a blob written by
// another version of the analyser; the caller should run Analyze again on
// the raw message.
var ErrStaleBlob = errors.New("mailmsg: structure blob has another format version")

// ErrCorruptBlob is returned (wrapped) by Decode for a blob that cannot be
// decoded.
var ErrCorruptBlob = errors.New("mailmsg: corrupt structure blob")

// Decode turns a blob written by [Analyze] back into a [Structure]. It
// returns an error wrapping [ErrStaleBlob] when the blob comes from another
// format version and one wrapping [ErrCorruptBlob] when it is damaged.
func Decode(blob []byte) (*Structure, error) {
	if len(blob) < 3 || blob[0] != blobMagic0 || blob[1] != blobMagic1 {
		return nil, fmt.Errorf("%w: bad magic", ErrCorruptBlob)
	}
	version := blob[2]
	if version != 1 && version != FormatVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrStaleBlob, blob[2], FormatVersion)
	}
	d := &decoder{b: blob[3:]}
	st := &Structure{}
	st.Size = d.readInt()
	d.envelope(&st.Envelope)
	st.Root = d.part(0)
	if version >= 2 && d.err == nil {
		st.HasPreview = d.readByte() == 1
		st.Preview = d.readString()
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	if d.err == nil {
		d.checkPart(st.Root, 0, st.Size)
	}
	if d.err != nil {
		return nil, d.err
	}
	return st, nil
}

// encodeStructure serialises st into a blob.
func encodeStructure(st *Structure) []byte {
	b := make([]byte, 0, 256)
	b = append(b, blobMagic0, blobMagic1, FormatVersion)
	b = binary.AppendUvarint(b, uint64(st.Size))
	b = appendEnvelope(b, &st.Envelope)
	b = appendPart(b, st.Root)
	has := byte(0)
	if st.HasPreview {
		has = 1
	}
	return appendBlobString(append(b, has), st.Preview)
}

func appendBlobString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendParams(b []byte, ps []Param) []byte {
	b = binary.AppendUvarint(b, uint64(len(ps)))
	for _, p := range ps {
		b = appendBlobString(b, p.Name)
		b = appendBlobString(b, p.Value)
	}
	return b
}

func appendAddresses(b []byte, as []Address) []byte {
	b = binary.AppendUvarint(b, uint64(len(as)))
	for _, a := range as {
		b = append(b, byte(a.Kind))
		b = appendBlobString(b, a.Name)
		b = appendBlobString(b, a.ADL)
		b = appendBlobString(b, a.Mailbox)
		b = appendBlobString(b, a.Host)
	}
	return b
}

func appendEnvelope(b []byte, e *Envelope) []byte {
	b = appendBlobString(b, e.Date)
	b = appendBlobString(b, e.Subject)
	for _, l := range [][]Address{e.From, e.Sender, e.ReplyTo, e.To, e.Cc, e.Bcc} {
		b = appendAddresses(b, l)
	}
	b = appendBlobString(b, e.InReplyTo)
	return appendBlobString(b, e.MessageID)
}

// appendPart writes a part: media type and fields, offsets as deltas
// (header start, header length, body length), then the children and the
// encapsulated message, if any.
func appendPart(b []byte, p *Part) []byte {
	b = appendBlobString(b, p.Type)
	b = appendBlobString(b, p.Subtype)
	b = appendParams(b, p.Params)
	b = appendBlobString(b, p.ID)
	b = appendBlobString(b, p.Description)
	b = appendBlobString(b, p.Encoding)
	b = binary.AppendUvarint(b, uint64(p.Lines))
	b = appendBlobString(b, p.MD5)
	b = appendBlobString(b, p.Disposition)
	b = appendParams(b, p.DispositionParams)
	b = binary.AppendUvarint(b, uint64(len(p.Language)))
	for _, l := range p.Language {
		b = appendBlobString(b, l)
	}
	b = appendBlobString(b, p.Location)
	b = binary.AppendUvarint(b, uint64(p.HeaderStart))
	b = binary.AppendUvarint(b, uint64(p.BodyStart-p.HeaderStart))
	b = binary.AppendUvarint(b, uint64(p.BodyEnd-p.BodyStart))
	b = binary.AppendUvarint(b, uint64(len(p.Children)))
	for _, c := range p.Children {
		b = appendPart(b, c)
	}
	if p.Message != nil && p.Envelope != nil {
		b = append(b, 1)
		b = appendEnvelope(b, p.Envelope)
		b = appendPart(b, p.Message)
	} else {
		b = append(b, 0)
	}
	return b
}

// decoder reads a blob; the first error sticks and makes every later read
// return zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(msg string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrCorruptBlob, msg)
	}
	d.b = nil
}

func (d *decoder) readUint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) readInt() int64 {
	v := d.readUint()
	if v > 1<<62 {
		d.fail("number out of range")
		return 0
	}
	return int64(v)
}

// count reads a list length, which cannot exceed the bytes left since
// every element takes at least one byte.
func (d *decoder) count() int {
	v := d.readUint()
	if v > uint64(len(d.b)) {
		d.fail("list length out of range")
		return 0
	}
	return int(v)
}

func (d *decoder) readByte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) readString() string {
	n := d.readUint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.fail("string length out of range")
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) params() []Param {
	n := d.count()
	if n == 0 {
		return nil
	}
	ps := make([]Param, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		ps = append(ps, Param{Name: d.readString(), Value: d.readString()})
	}
	return ps
}

func (d *decoder) addresses() []Address {
	n := d.count()
	if n == 0 {
		return nil
	}
	as := make([]Address, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		k := AddressKind(d.readByte())
		if k > AddressGroupEnd {
			d.fail("bad address kind")
		}
		as = append(as, Address{Kind: k, Name: d.readString(), ADL: d.readString(), Mailbox: d.readString(), Host: d.readString()})
	}
	return as
}

func (d *decoder) envelope(e *Envelope) {
	e.Date = d.readString()
	e.Subject = d.readString()
	for _, l := range []*[]Address{&e.From, &e.Sender, &e.ReplyTo, &e.To, &e.Cc, &e.Bcc} {
		*l = d.addresses()
	}
	e.InReplyTo = d.readString()
	e.MessageID = d.readString()
}

func (d *decoder) part(depth int) *Part {
	if depth > 2*maxDepth+2 {
		d.fail("nesting too deep")
		return &Part{}
	}
	p := &Part{}
	p.Type = d.readString()
	p.Subtype = d.readString()
	p.Params = d.params()
	p.ID = d.readString()
	p.Description = d.readString()
	p.Encoding = d.readString()
	p.Lines = d.readInt()
	p.MD5 = d.readString()
	p.Disposition = d.readString()
	p.DispositionParams = d.params()
	if n := d.count(); n > 0 {
		p.Language = make([]string, 0, n)
		for i := 0; i < n && d.err == nil; i++ {
			p.Language = append(p.Language, d.readString())
		}
	}
	p.Location = d.readString()
	p.HeaderStart = d.readInt()
	p.BodyStart = p.HeaderStart + d.readInt()
	p.BodyEnd = p.BodyStart + d.readInt()
	p.Size = p.BodyEnd - p.BodyStart
	if n := d.count(); n > 0 {
		p.Children = make([]*Part, 0, n)
		for i := 0; i < n && d.err == nil; i++ {
			p.Children = append(p.Children, d.part(depth+1))
		}
	}
	switch d.readByte() {
	case 0:
	case 1:
		p.Envelope = &Envelope{}
		d.envelope(p.Envelope)
		p.Message = d.part(depth + 1)
	default:
		d.fail("bad message flag")
	}
	return p
}

// checkPart verifies that the offsets of p and its descendants nest inside
// [lo, hi], so that section extraction can trust them.
func (d *decoder) checkPart(p *Part, lo, hi int64) {
	if d.err != nil {
		return
	}
	if p.HeaderStart < lo || p.BodyStart < p.HeaderStart || p.BodyEnd < p.BodyStart || p.BodyEnd > hi {
		d.fail("part offsets out of range")
		return
	}
	for _, c := range p.Children {
		d.checkPart(c, p.BodyStart, p.BodyEnd)
	}
	if p.Message != nil {
		d.checkPart(p.Message, p.BodyStart, p.BodyEnd)
	}
}
