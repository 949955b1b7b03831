package imapwire

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Modified UTF-7 (RFC 3501 section 5.1.3) represents mailbox names in
// 7-bit form: printable US-ASCII characters except "&" stand for
// themselves, "&-" is "&", and any other run of characters is "&" + the
// modified base64 of its UTF-16BE encoding (alphabet of RFC 4648 with ","
// instead of "/", no padding) + "-".

// mbase64 is the modified base64 alphabet.
const mbase64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,"

// mbase64Value maps a byte to its 6-bit value, or 0xFF if invalid.
var mbase64Value = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xFF
	}
	for i := 0; i < len(mbase64); i++ {
		t[mbase64[i]] = byte(i)
	}
	return t
}()

// printable reports whether c is printable US-ASCII (0x20..0x7E), the
// characters that represent themselves in modified UTF-7.
func printable(c rune) bool { return c >= 0x20 && c <= 0x7E }

// EncodeMailbox encodes a UTF-8 mailbox name in modified UTF-7 (RFC 3501
// section 5.1.3). Invalid UTF-8 sequences are encoded as U+FFFD. A name of
// printable ASCII without "&" is returned unchanged, without allocating.
func EncodeMailbox(name string) string {
	clean := true
	for i := 0; i < len(name); i++ {
		if c := name[i]; c == '&' || !printable(rune(c)) {
			clean = false
			break
		}
	}
	if clean {
		return name
	}
	var b strings.Builder
	b.Grow(len(name) + 8)
	var units []uint16
	for i := 0; i < len(name); {
		r, size := utf8.DecodeRuneInString(name[i:])
		if printable(r) {
			if r == '&' {
				b.WriteString("&-")
			} else {
				b.WriteByte(byte(r))
			}
			i += size
			continue
		}
		units = units[:0]
		for i < len(name) {
			r, size = utf8.DecodeRuneInString(name[i:])
			if printable(r) {
				break
			}
			units = utf16.AppendRune(units, r)
			i += size
		}
		b.WriteByte('&')
		writeMBase64(&b, units)
		b.WriteByte('-')
	}
	return b.String()
}

// writeMBase64 writes the modified base64 of the UTF-16BE units.
func writeMBase64(b *strings.Builder, units []uint16) {
	var acc uint32
	bits := 0
	for _, u := range units {
		acc = acc<<16 | uint32(u)
		bits += 16
		for bits >= 6 {
			bits -= 6
			b.WriteByte(mbase64[(acc>>bits)&0x3F])
		}
	}
	if bits > 0 {
		b.WriteByte(mbase64[(acc<<(6-bits))&0x3F])
	}
}

// DecodeMailbox decodes a modified UTF-7 mailbox name (RFC 3501 section
// 5.1.3) to UTF-8. It is strict: it rejects bytes outside printable
// US-ASCII, an unterminated "&", invalid modified base64, non-zero padding
// bits, unpaired UTF-16 surrogates, encoded printable ASCII characters
// (which must represent themselves), an empty "&-" run other than the
// escape for "&", and two adjacent encoded runs (which a canonical encoder
// merges). Errors are syntax errors for a BAD response.
func DecodeMailbox(s string) (string, error) {
	if strings.IndexByte(s, '&') < 0 {
		for i := 0; i < len(s); i++ {
			if !printable(rune(s[i])) {
				return "", errMUTF7("Mailbox name contains a character that must be encoded")
			}
		}
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	prevEncodedEnd := -1
	for i := 0; i < len(s); {
		c := s[i]
		if !printable(rune(c)) {
			return "", errMUTF7("Mailbox name contains a character that must be encoded")
		}
		if c != '&' {
			b.WriteByte(c)
			i++
			continue
		}
		end := strings.IndexByte(s[i+1:], '-')
		if end < 0 {
			return "", errMUTF7("Unterminated '&' in mailbox name")
		}
		end += i + 1
		if end == i+1 {
			b.WriteByte('&')
			i = end + 1
			continue
		}
		if prevEncodedEnd == i {
			return "", errMUTF7("Adjacent encoded sequences in mailbox name")
		}
		if err := decodeMBase64(&b, s[i+1:end]); err != nil {
			return "", err
		}
		i = end + 1
		prevEncodedEnd = i
	}
	return b.String(), nil
}

// decodeMBase64 decodes one encoded run (between "&" and "-") and writes it
// as UTF-8.
func decodeMBase64(b *strings.Builder, enc string) error {
	var (
		acc        uint32
		bits       int
		high       rune // pending high surrogate, or 0
		decodedAny bool
	)
	for i := 0; i < len(enc); i++ {
		v := mbase64Value[enc[i]]
		if v == 0xFF {
			return errMUTF7("Invalid modified base64 in mailbox name")
		}
		acc = acc<<6 | uint32(v)
		bits += 6
		if bits < 16 {
			continue
		}
		bits -= 16
		u := rune(acc >> bits & 0xFFFF)
		acc &= 1<<bits - 1
		decodedAny = true
		switch {
		case high != 0:
			if !utf16.IsSurrogate(u) || u < 0xDC00 {
				return errMUTF7("Unpaired UTF-16 surrogate in mailbox name")
			}
			b.WriteRune(utf16.DecodeRune(high, u))
			high = 0
		case u >= 0xD800 && u < 0xDC00:
			high = u
		case u >= 0xDC00 && u < 0xE000:
			return errMUTF7("Unpaired UTF-16 surrogate in mailbox name")
		case printable(u):
			return errMUTF7("Mailbox name encodes a printable ASCII character")
		default:
			b.WriteRune(u)
		}
	}
	switch {
	case high != 0:
		return errMUTF7("Unpaired UTF-16 surrogate in mailbox name")
	case !decodedAny || bits >= 6 || acc != 0:
		return errMUTF7("Invalid modified base64 padding in mailbox name")
	}
	return nil
}

// errMUTF7 builds a syntax error for an invalid modified UTF-7 name.
func errMUTF7(reason string) error { return syntaxErr(reason) }
