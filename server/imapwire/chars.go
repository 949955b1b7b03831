package imapwire

// Character classes of the IMAP formal syntax (RFC 9051 section 9,
// RFC 3501 section 9).
const (
	classAtom    = 1 << iota // ATOM-CHAR: CHAR except atom-specials
	classAString             // ASTRING-CHAR: ATOM-CHAR / resp-specials
	classTag                 // tag char: ASTRING-CHAR except "+"
	classSeq                 // characters of a sequence-set: DIGIT ":" "," "*" "$"
)

// charClasses is a read-only lookup table indexed by byte value.
var charClasses = func() (t [256]uint8) {
	for c := 0x01; c <= 0x7f; c++ {
		switch {
		case c < 0x20 || c == 0x7f: // CTL
		case c == '(' || c == ')' || c == '{' || c == ' ':
		case c == '%' || c == '*': // list-wildcards
		case c == '"' || c == '\\': // quoted-specials
		case c == ']': // resp-specials
			t[c] = classAString | classTag
		default:
			t[c] = classAtom | classAString
			if c != '+' {
				t[c] |= classTag
			}
		}
	}
	for _, c := range []byte("0123456789:,*$") {
		t[c] |= classSeq
	}
	return t
}()

// isAtomChar reports whether c is an ATOM-CHAR.
func isAtomChar(c byte) bool { return charClasses[c]&classAtom != 0 }

// isAStringChar reports whether c is an ASTRING-CHAR.
func isAStringChar(c byte) bool { return charClasses[c]&classAString != 0 }

// isTagChar reports whether c may appear in a tag.
func isTagChar(c byte) bool { return charClasses[c]&classTag != 0 }

// isSeqChar reports whether c may appear in a sequence-set.
func isSeqChar(c byte) bool { return charClasses[c]&classSeq != 0 }

// upperASCII returns s with ASCII letters upper-cased. It does not allocate
// when s is already upper case.
func upperASCII(s []byte) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'a' <= c && c <= 'z' {
			b := make([]byte, len(s))
			copy(b, s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'a' <= c && c <= 'z' {
					b[j] = c - ('a' - 'A')
				}
			}
			return string(b)
		}
	}
	return string(s)
}
