package mailmsg

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Specifier is the text part of a FETCH section specification (RFC 9051
// 6.4.5 BODY[<section>]).
type Specifier string

// Section specifiers.
const (
	// SpecifierNone selects a whole message or the body of a numbered part.
	SpecifierNone Specifier = ""
	// SpecifierHeader selects a message header, blank line included.
	SpecifierHeader Specifier = "HEADER"
	// SpecifierHeaderFields selects the header fields named in the list.
	SpecifierHeaderFields Specifier = "HEADER.FIELDS"
	// SpecifierHeaderFieldsNot selects the header fields not named.
	SpecifierHeaderFieldsNot Specifier = "HEADER.FIELDS.NOT"
	// SpecifierText selects a message body, without its header.
	SpecifierText Specifier = "TEXT"
	// SpecifierMIME selects the MIME header of a numbered part.
	SpecifierMIME Specifier = "MIME"
)

// Partial is the <origin.length> suffix of a FETCH BODY or BINARY item.
type Partial struct {
	Origin int64
	Length int64
}

// Section is a parsed FETCH section (RFC 9051 6.4.5): a part path, a
// specifier, the header field list of HEADER.FIELDS and HEADER.FIELDS.NOT,
// and an optional partial range.
type Section struct {
	// Part is the part path, e.g. [1 2] for "1.2"; empty for the message.
	Part []int
	// Specifier is the text specifier, upper-case.
	Specifier Specifier
	// Fields are the header field names of HEADER.FIELDS[.NOT], as given.
	Fields []string
	// Partial is the requested octet range, or nil for all of it.
	Partial *Partial
}

// ErrBadSection is returned (wrapped) for a section specification that
// does not follow the RFC 9051 grammar.
var ErrBadSection = errors.New("mailmsg: bad section specification")

// ErrUnknownCTE is returned (wrapped) by ExtractBinary and BinarySize for a
// part whose content transfer encoding the server cannot decode; the
// server answers NO [UNKNOWN-CTE] (RFC 3516 4.3, RFC 9051 7.1).
var ErrUnknownCTE = errors.New("mailmsg: unknown content transfer encoding")

// RFC822Section returns the section equivalent to the RFC822 data item
// (BODY[]).
func RFC822Section() Section { return Section{} }

// RFC822HeaderSection returns the section equivalent to RFC822.HEADER
// (BODY.PEEK[HEADER]).
func RFC822HeaderSection() Section { return Section{Specifier: SpecifierHeader} }

// RFC822TextSection returns the section equivalent to RFC822.TEXT
// (BODY[TEXT]).
func RFC822TextSection() Section { return Section{Specifier: SpecifierText} }

// ParseSection parses the wire text that follows "BODY[" (or "BODY.PEEK[",
// "BINARY[", "BINARY.PEEK[" and "BINARY.SIZE["): the section, the closing
// bracket and an optional "<origin.length>". For example
// `1.2.HEADER.FIELDS (Subject From)]<0.100>`. It returns the section and
// the input that follows it.
func ParseSection(s string) (Section, string, error) {
	var sec Section
	i := 0
	bad := func(why string) (Section, string, error) {
		return Section{}, s, fmt.Errorf("%w: %s at %d", ErrBadSection, why, i)
	}
	// section-part = nz-number *("." nz-number)
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		n, err := strconv.ParseUint(s[i:j], 10, 31)
		if err != nil || n == 0 {
			return bad("bad part number")
		}
		sec.Part = append(sec.Part, int(n))
		i = j
		if i < len(s) && s[i] == '.' {
			i++
			if i >= len(s) || s[i] < '0' || s[i] > '9' {
				break // a specifier follows
			}
			continue
		}
		break
	}
	if len(sec.Part) > 0 && i > 0 && s[i-1] != '.' && (i >= len(s) || s[i] != ']') {
		return bad("expected '.' or ']'")
	}
	if i < len(s) && s[i] != ']' {
		j := i
		for j < len(s) && (s[j] == '.' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= 'a' && s[j] <= 'z') {
			j++
		}
		sec.Specifier = Specifier(strings.ToUpper(s[i:j]))
		switch sec.Specifier {
		case SpecifierHeader, SpecifierText:
		case SpecifierMIME:
			if len(sec.Part) == 0 {
				return bad("MIME needs a part number")
			}
		case SpecifierHeaderFields, SpecifierHeaderFieldsNot:
			if j >= len(s) || s[j] != ' ' {
				i = j
				return bad("expected header list")
			}
			fields, n, err := parseHeaderList(s[j+1:])
			if err != nil {
				i = j + 1
				return bad(err.Error())
			}
			sec.Fields = fields
			j += 1 + n
		default:
			return bad("unknown section specifier")
		}
		i = j
	} else if i > 0 && s[i-1] == '.' {
		return bad("trailing '.'")
	}
	if i >= len(s) || s[i] != ']' {
		return bad("expected ']'")
	}
	i++
	if i < len(s) && s[i] == '<' {
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			return bad("unterminated partial")
		}
		spec := s[i+1 : i+j]
		dot := strings.IndexByte(spec, '.')
		if dot < 0 {
			return bad("partial needs origin.length")
		}
		origin, err1 := strconv.ParseUint(spec[:dot], 10, 32)
		length, err2 := strconv.ParseUint(spec[dot+1:], 10, 32)
		if err1 != nil || err2 != nil || length == 0 {
			return bad("bad partial")
		}
		sec.Partial = &Partial{Origin: int64(origin), Length: int64(length)}
		i += j + 1
	}
	return sec, s[i:], nil
}

// parseHeaderList parses header-list = "(" header-fld-name *(SP
// header-fld-name) ")" where a name is an astring, and returns the names
// and the number of bytes consumed.
func parseHeaderList(s string) ([]string, int, error) {
	if len(s) == 0 || s[0] != '(' {
		return nil, 0, errors.New("expected '('")
	}
	var names []string
	i := 1
	for {
		if i >= len(s) {
			return nil, 0, errors.New("unterminated header list")
		}
		if s[i] == ')' && len(names) > 0 {
			return names, i + 1, nil
		}
		if len(names) > 0 {
			if s[i] != ' ' {
				return nil, 0, errors.New("expected ' '")
			}
			i++
		}
		name, n, err := parseAString(s[i:])
		if err != nil {
			return nil, 0, err
		}
		if name == "" {
			return nil, 0, errors.New("empty header field name")
		}
		names = append(names, name)
		i += n
	}
}

// parseAString parses an astring (RFC 9051 9): an atom of ASTRING-CHARs,
// a quoted string or a literal.
func parseAString(s string) (string, int, error) {
	if s == "" {
		return "", 0, errors.New("expected astring")
	}
	switch s[0] {
	case '"':
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
				if i >= len(s) {
					return "", 0, errors.New("unterminated quoted string")
				}
				b.WriteByte(s[i])
			case '"':
				return b.String(), i + 1, nil
			case '\r', '\n':
				return "", 0, errors.New("line break in quoted string")
			default:
				b.WriteByte(s[i])
			}
		}
		return "", 0, errors.New("unterminated quoted string")
	case '{':
		end := strings.Index(s, "}\r\n")
		if end < 0 {
			return "", 0, errors.New("bad literal")
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(s[1:end], "+"), 10, 31)
		start := end + 3
		if err != nil || uint64(len(s)-start) < n {
			return "", 0, errors.New("bad literal")
		}
		return s[start : start+int(n)], start + int(n), nil
	}
	i := 0
	for i < len(s) && isAStringChar(s[i]) {
		i++
	}
	return s[:i], i, nil
}

// isAStringChar reports whether c is an ASTRING-CHAR (RFC 9051 9).
func isAStringChar(c byte) bool {
	if c <= 0x20 || c >= 0x7f {
		return false
	}
	switch c {
	case '(', ')', '{', '%', '*', '"', '\\':
		return false
	}
	return true
}

// String returns the section text as it goes between the brackets of a
// FETCH response item, e.g. `1.2.HEADER.FIELDS (Subject From)`. The
// partial range is not included: the response carries only its origin.
func (s Section) String() string {
	var b []byte
	for i, n := range s.Part {
		if i > 0 {
			b = append(b, '.')
		}
		b = strconv.AppendInt(b, int64(n), 10)
	}
	if s.Specifier != SpecifierNone {
		if len(s.Part) > 0 {
			b = append(b, '.')
		}
		b = append(b, s.Specifier...)
	}
	if s.Specifier == SpecifierHeaderFields || s.Specifier == SpecifierHeaderFieldsNot {
		b = append(b, " ("...)
		for i, f := range s.Fields {
			if i > 0 {
				b = append(b, ' ')
			}
			if isAtomText(f) {
				b = append(b, f...)
			} else {
				b = appendIMAPString(b, f)
			}
		}
		b = append(b, ')')
	}
	return string(b)
}

func isAtomText(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAStringChar(s[i]) || s[i] == ']' {
			return false
		}
	}
	return true
}

// resolvePart finds the part that a part path names (RFC 9051 6.4.5):
// numbers index the body parts of a multipart entity; a message that is
// not multipart has only part 1, its body; a number after a message/rfc822
// part addresses the encapsulated message. It returns nil for a part that
// does not exist.
func resolvePart(root *Part, path []int) *Part {
	cur, isMsgRoot := root, true
	for i, n := range path {
		var next *Part
		switch {
		case cur.IsMultipart():
			if n >= 1 && n <= len(cur.Children) {
				next = cur.Children[n-1]
			}
		case isMsgRoot && n == 1:
			next = cur
		}
		if next == nil {
			return nil
		}
		cur, isMsgRoot = next, false
		if i < len(path)-1 && cur.IsMessage() {
			cur, isMsgRoot = cur.Message, true
		}
	}
	return cur
}

// span is a byte range of the raw message, or bytes built in memory.
type span struct {
	start, end int64
	mem        []byte
	inMem      bool
}

// sectionSpan works out which bytes a section selects, before partial.
func sectionSpan(raw io.ReaderAt, size int64, st *Structure, sec Section) (span, error) {
	if st == nil || st.Root == nil {
		return span{}, errors.New("mailmsg: nil structure")
	}
	root := st.Root
	if len(sec.Part) == 0 {
		switch sec.Specifier {
		case SpecifierNone:
			return span{start: 0, end: size}, nil
		case SpecifierMIME:
			return span{}, fmt.Errorf("%w: MIME needs a part number", ErrBadSection)
		}
		return messageSpan(raw, root, sec)
	}
	p := resolvePart(root, sec.Part)
	if p == nil {
		return span{inMem: true}, nil
	}
	switch sec.Specifier {
	case SpecifierNone:
		return span{start: p.BodyStart, end: p.BodyEnd}, nil
	case SpecifierMIME:
		return span{start: p.HeaderStart, end: p.BodyStart}, nil
	}
	if !p.IsMessage() {
		// HEADER, TEXT and HEADER.FIELDS only apply to message/rfc822
		// parts; anything else does not exist.
		return span{inMem: true}, nil
	}
	return messageSpan(raw, p.Message, sec)
}

// messageSpan applies HEADER, HEADER.FIELDS[.NOT] or TEXT to the message
// whose root entity is m.
func messageSpan(raw io.ReaderAt, m *Part, sec Section) (span, error) {
	switch sec.Specifier {
	case SpecifierHeader:
		return span{start: m.HeaderStart, end: m.BodyStart}, nil
	case SpecifierText:
		return span{start: m.BodyStart, end: m.BodyEnd}, nil
	case SpecifierHeaderFields, SpecifierHeaderFieldsNot:
		hdr, err := readRange(raw, m.HeaderStart, m.BodyStart)
		if err != nil {
			return span{}, err
		}
		return span{mem: filterHeader(hdr, sec.Fields, sec.Specifier == SpecifierHeaderFieldsNot), inMem: true}, nil
	}
	return span{}, fmt.Errorf("%w: specifier %q", ErrBadSection, sec.Specifier)
}

// readRange reads raw[start:end].
func readRange(raw io.ReaderAt, start, end int64) ([]byte, error) {
	b := make([]byte, end-start)
	n, err := raw.ReadAt(b, start)
	if n == len(b) {
		return b, nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return nil, fmt.Errorf("mailmsg: reading message: %w", err)
}

// filterHeader returns the fields of a header block whose names are (or,
// with not set, are not) in names, in their original order and form,
// followed by the blank line (RFC 9051 6.4.5 HEADER.FIELDS).
func filterHeader(hdr []byte, names []string, not bool) []byte {
	var out []byte
	for _, f := range splitFields(hdr) {
		match := false
		for _, n := range names {
			if strings.EqualFold(f.name, n) {
				match = true
				break
			}
		}
		if match != not {
			out = append(out, f.raw...)
		}
	}
	return append(out, '\r', '\n')
}

// rawField is one header field in its original form: the first line and
// its folded continuation lines, line breaks included.
type rawField struct {
	name string
	raw  []byte
}

// splitFields cuts a header block into fields (RFC 5322 2.2), stopping at
// the blank line. Lines that do not start a field (no colon) and are not
// continuation lines are dropped.
func splitFields(hdr []byte) []rawField {
	var fields []rawField
	cur := -1 // index of the field that continuation lines extend
	for pos := 0; pos < len(hdr); {
		end := bytes.IndexByte(hdr[pos:], '\n') + 1
		if end == 0 {
			end = len(hdr) - pos
		}
		line := hdr[pos : pos+end]
		switch {
		case isBlankLine(line):
			return fields
		case line[0] == ' ' || line[0] == '\t':
			if cur >= 0 {
				f := &fields[cur]
				f.raw = hdr[pos-len(f.raw) : pos+end]
			}
		case validFieldLine(line):
			name := string(bytes.TrimRight(line[:bytes.IndexByte(line, ':')], " \t"))
			fields = append(fields, rawField{name: name, raw: line})
			cur = len(fields) - 1
		default:
			cur = -1
		}
		pos += end
	}
	return fields
}
