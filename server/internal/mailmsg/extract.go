package mailmsg

import (
	"bytes"
	"fmt"
	"io"

	message "github.com/emersion/go-message"
)

// binaryBufferLimit is the encoded part size up to which ExtractBinary
// decodes into memory; larger parts are decoded twice, streaming, once to
// learn the decoded size and once to deliver it.
const binaryBufferLimit = 1 << 20

// ExtractSection returns the octets that a FETCH BODY[section]<partial>
// item carries (RFC 9051 6.4.5), with their count: the whole message for
// an empty section, HEADER and TEXT of the message or of a message/rfc822
// part, HEADER.FIELDS[.NOT] with the matching fields in their original form
// and the blank line, the body of a numbered part, or its MIME header.
// A part that does not exist yields no octets, as does a partial range
// that starts past the end. raw must hold size octets, the message that st
// was analysed from. Most sections are read straight from raw when the
// returned reader is read; only HEADER.FIELDS[.NOT] is built in memory.
func ExtractSection(raw io.ReaderAt, size int64, st *Structure, sec Section) (io.Reader, int64, error) {
	sp, err := sectionSpan(raw, size, st, sec)
	if err != nil {
		return nil, 0, err
	}
	if sp.inMem {
		b := applyPartialBytes(sp.mem, sec.Partial)
		return bytes.NewReader(b), int64(len(b)), nil
	}
	start, end := clampRange(sp.start, sp.end, size)
	start, end = applyPartial(start, end, sec.Partial)
	return io.NewSectionReader(raw, start, end-start), end - start, nil
}

// clampRange keeps [start, end) inside [0, size).
func clampRange(start, end, size int64) (int64, int64) {
	end = min(end, size)
	start = min(max(start, 0), end)
	return start, end
}

// applyPartial narrows [start, end) to <origin.length> (RFC 9051 6.4.5): an
// origin past the end gives an empty range, a length past the end is cut.
func applyPartial(start, end int64, p *Partial) (int64, int64) {
	if p == nil {
		return start, end
	}
	n := end - start
	if p.Origin >= n {
		return end, end
	}
	s := start + p.Origin
	return s, s + min(p.Length, n-p.Origin)
}

func applyPartialBytes(b []byte, p *Partial) []byte {
	s, e := applyPartial(0, int64(len(b)), p)
	return b[s:e]
}

// ExtractBinary returns the octets of a FETCH BINARY[section]<partial> item
// (RFC 3516 4.2) with their count: the body of the named part with its
// content transfer encoding removed. sec must have no specifier. An empty
// part path selects the whole message, and a multipart or message part,
// whose body cannot be encoded (RFC 2045 6.4), is returned as it is. A part
// that does not exist yields no octets. An encoding other than 7bit, 8bit,
// binary, base64 and quoted-printable gives an error wrapping
// [ErrUnknownCTE]; damaged encoded data gives a decoding error.
func ExtractBinary(raw io.ReaderAt, size int64, st *Structure, sec Section) (io.Reader, int64, error) {
	if sec.Specifier != SpecifierNone {
		return nil, 0, fmt.Errorf("%w: BINARY takes part numbers only", ErrBadSection)
	}
	p, whole, err := binaryTarget(st, sec.Part)
	if err != nil {
		return nil, 0, err
	}
	if whole || p == nil || identityEncoding(p.Encoding) || p.Type == "multipart" || p.IsMessage() {
		return ExtractSection(raw, size, st, Section{Part: sec.Part, Partial: sec.Partial})
	}
	start, end := clampRange(p.BodyStart, p.BodyEnd, size)
	if end-start <= binaryBufferLimit {
		dec, err := decodingReader(p.Encoding, io.NewSectionReader(raw, start, end-start))
		if err != nil {
			return nil, 0, err
		}
		b, err := io.ReadAll(dec)
		if err != nil {
			return nil, 0, fmt.Errorf("mailmsg: decoding %s: %w", p.Encoding, err)
		}
		b = applyPartialBytes(b, sec.Partial)
		return bytes.NewReader(b), int64(len(b)), nil
	}
	n, err := decodedSize(raw, p.Encoding, start, end)
	if err != nil {
		return nil, 0, err
	}
	ps, pe := applyPartial(0, n, sec.Partial)
	dec, err := decodingReader(p.Encoding, io.NewSectionReader(raw, start, end-start))
	if err != nil {
		return nil, 0, err
	}
	if _, err := io.CopyN(io.Discard, dec, ps); err != nil {
		return nil, 0, fmt.Errorf("mailmsg: decoding %s: %w", p.Encoding, err)
	}
	return io.LimitReader(dec, pe-ps), pe - ps, nil
}

// BinarySize returns the size of a part after its content transfer
// encoding is removed, for BINARY.SIZE[section] (RFC 3516 4.2). part is the
// part path; an empty path is the whole message. Errors are those of
// ExtractBinary.
func BinarySize(raw io.ReaderAt, size int64, st *Structure, part []int) (int64, error) {
	p, whole, err := binaryTarget(st, part)
	if err != nil {
		return 0, err
	}
	switch {
	case whole:
		return size, nil
	case p == nil:
		return 0, nil
	case identityEncoding(p.Encoding) || p.Type == "multipart" || p.IsMessage():
		s, e := clampRange(p.BodyStart, p.BodyEnd, size)
		return e - s, nil
	}
	s, e := clampRange(p.BodyStart, p.BodyEnd, size)
	return decodedSize(raw, p.Encoding, s, e)
}

// binaryTarget resolves the part path of a BINARY item.
func binaryTarget(st *Structure, path []int) (p *Part, whole bool, err error) {
	if st == nil || st.Root == nil {
		return nil, false, fmt.Errorf("mailmsg: nil structure")
	}
	if len(path) == 0 {
		return nil, true, nil
	}
	return resolvePart(st.Root, path), false, nil
}

// decodedSize decodes raw[start:end] and counts the octets.
func decodedSize(raw io.ReaderAt, enc string, start, end int64) (int64, error) {
	dec, err := decodingReader(enc, io.NewSectionReader(raw, start, end-start))
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(io.Discard, dec)
	if err != nil {
		return 0, fmt.Errorf("mailmsg: decoding %s: %w", enc, err)
	}
	return n, nil
}

// decodingReader removes a content transfer encoding (RFC 2045 6) with
// go-message. The header handed to go-message carries nothing but the
// encoding, so no charset conversion takes place.
func decodingReader(enc string, r io.Reader) (io.Reader, error) {
	var h message.Header
	h.Set("Content-Transfer-Encoding", enc)
	e, err := message.New(h, r)
	if err != nil {
		if message.IsUnknownEncoding(err) {
			return nil, fmt.Errorf("%w: %q", ErrUnknownCTE, enc)
		}
		return nil, err
	}
	return e.Body, nil
}
