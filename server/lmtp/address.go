package lmtp

import (
	"errors"
	"strings"
)

var (
	errNoBrackets = errors.New("address must be enclosed in <>")
	errBadAddress = errors.New("malformed address")
)

// splitPath takes the "<...>" path at the start of s (RFC 5321 section
// 4.1.2: Reverse-path / Forward-path) and returns what is inside the angle
// brackets and the parameters after it. A '>' inside a quoted local part
// does not end the path.
func splitPath(s string) (inner, params string, err error) {
	if !strings.HasPrefix(s, "<") {
		return "", "", errNoBrackets
	}
	inQuote, escaped := false, false
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			escaped = false
		case inQuote && c == '\\':
			escaped = true
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c == '>':
			rest := s[i+1:]
			if rest != "" && rest[0] != ' ' {
				return "", "", errBadAddress
			}
			return s[1:i], strings.TrimLeft(rest, " "), nil
		}
	}
	return "", "", errNoBrackets
}

// parseMailbox splits a path's content into its local part (unquoted) and
// domain. A source route ("@a,@b:user@d", RFC 5321 section 4.1.2, obsolete
// but still legal) is dropped. A missing domain is accepted, as RFC 5321
// section 4.1.1.3 requires for "<Postmaster>". The local part is split at
// the last '@', so that account names which are themselves addresses can be
// written without quoting.
func parseMailbox(inner string) (local, domain string, err error) {
	if strings.HasPrefix(inner, "@") {
		_, after, ok := strings.Cut(inner, ":")
		if !ok {
			return "", "", errBadAddress
		}
		inner = after
	}
	if strings.HasPrefix(inner, `"`) {
		var b strings.Builder
		i := 1
		for ; i < len(inner); i++ {
			c := inner[i]
			if c == '\\' && i+1 < len(inner) {
				i++
				b.WriteByte(inner[i])
				continue
			}
			if c == '"' {
				break
			}
			b.WriteByte(c)
		}
		if i >= len(inner) {
			return "", "", errBadAddress
		}
		local = b.String()
		rest := inner[i+1:]
		switch {
		case rest == "":
		case strings.HasPrefix(rest, "@") && len(rest) > 1:
			domain = rest[1:]
		default:
			return "", "", errBadAddress
		}
	} else {
		at := strings.LastIndexByte(inner, '@')
		if at < 0 {
			local = inner
		} else {
			local, domain = inner[:at], inner[at+1:]
			if domain == "" {
				return "", "", errBadAddress
			}
		}
		if strings.ContainsAny(local, `"\`) {
			return "", "", errBadAddress
		}
	}
	if local == "" || hasControlOrSpace(domain) || strings.ContainsAny(domain, "@\"\\") {
		return "", "", errBadAddress
	}
	for i := 0; i < len(local); i++ {
		if c := local[i]; c < ' ' || c == 0x7f {
			return "", "", errBadAddress
		}
	}
	if strings.IndexByte(inner, '"') < 0 && hasControlOrSpace(local) {
		return "", "", errBadAddress
	}
	return local, domain, nil
}

func hasControlOrSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f {
			return true
		}
	}
	return false
}

// parseParams splits "KEY=VALUE KEY2" (RFC 5321 section 4.1.2,
// Mail-parameters) into upper-cased keywords and their values.
func parseParams(s string) ([][2]string, error) {
	var out [][2]string
	for _, f := range strings.Fields(s) {
		k, v, hasValue := strings.Cut(f, "=")
		if k == "" || (hasValue && v == "") {
			return nil, errors.New("malformed parameter")
		}
		for i := 0; i < len(k); i++ {
			c := k[i]
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' && i > 0) {
				return nil, errors.New("malformed parameter keyword")
			}
		}
		out = append(out, [2]string{strings.ToUpper(k), v})
	}
	return out, nil
}

// DecodeXtext decodes RFC 3461 section 4 xtext: printable ASCII except '+'
// and '=', with "+XX" (two upper-case hex digits) for any other octet.
func DecodeXtext(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			if i+2 >= len(s) {
				return "", errors.New("truncated xtext escape")
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return "", errors.New("malformed xtext escape")
			}
			b.WriteByte(hi<<4 | lo)
			i += 2
		case c < '!' || c > '~' || c == '=':
			return "", errors.New("invalid character in xtext")
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// EncodeXtext encodes s as RFC 3461 xtext.
func EncodeXtext(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '!' || c > '~' || c == '+' || c == '=' {
			b.WriteByte('+')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
