package mailmsg

import "strings"

// This file tokenises RFC 5322 3.4 address lists. go-message's address
// parser decodes display names and flattens groups, but the IMAP envelope
// must carry display names as they appear on the wire and must show group
// syntax (RFC 9051 7.5.2), so the envelope needs its own small parser.

// addrToken kinds. Specials are represented by the character itself.
const (
	tokAtom    = 'a' // run of atext and '.'-free characters
	tokQuoted  = 'q' // quoted-string, unescaped
	tokComment = 'c' // comment, unescaped, without parentheses
	tokLiteral = 'd' // domain-literal, with brackets
)

type addrToken struct {
	kind  byte
	text  string
	space bool // white space (or a comment) precedes the token
}

// isAddrSpecial reports whether c is an RFC 5322 special that ends an
// atom. '.' is included so that dot-atoms split into parts.
func isAddrSpecial(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', ':', ';', '@', '\\', ',', '.', '"', ' ', '\t', '\r', '\n':
		return true
	}
	return false
}

// tokenizeAddresses splits an unfolded address-list value into tokens.
// Unterminated quoted strings, comments and literals run to the end.
func tokenizeAddresses(s string) []addrToken {
	var toks []addrToken
	space := false
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			space = true
			i++
		case c == '"':
			var b strings.Builder
			i++
			for i < len(s) && s[i] != '"' {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				if s[i] != '\r' && s[i] != '\n' {
					b.WriteByte(s[i])
				}
				i++
			}
			i++
			toks = append(toks, addrToken{kind: tokQuoted, text: b.String(), space: space})
			space = false
		case c == '(':
			var b strings.Builder
			depth := 1
			i++
			for i < len(s) && depth > 0 {
				switch s[i] {
				case '\\':
					if i+1 < len(s) {
						i++
					}
					b.WriteByte(s[i])
				case '(':
					depth++
					b.WriteByte('(')
				case ')':
					depth--
					if depth > 0 {
						b.WriteByte(')')
					}
				default:
					b.WriteByte(s[i])
				}
				i++
			}
			toks = append(toks, addrToken{kind: tokComment, text: strings.TrimSpace(b.String()), space: space})
			space = true
		case c == '[':
			j := strings.IndexByte(s[i:], ']')
			end := len(s)
			if j >= 0 {
				end = i + j + 1
			}
			toks = append(toks, addrToken{kind: tokLiteral, text: s[i:end], space: space})
			space = false
			i = end
		case isAddrSpecial(c):
			if c != '\\' && c != ')' && c != ']' {
				toks = append(toks, addrToken{kind: c, text: string(c), space: space})
			}
			space = false
			i++
		default:
			j := i
			for j < len(s) && !isAddrSpecial(s[j]) {
				j++
			}
			toks = append(toks, addrToken{kind: tokAtom, text: s[i:j], space: space})
			space = false
			i = j
		}
	}
	return toks
}

// parseAddressList parses an address-list or mailbox-list header value
// into envelope addresses (RFC 5322 3.4, RFC 9051 7.5.2). It never fails:
// unparseable pieces are skipped.
func parseAddressList(v string) []Address {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	p := addrParser{toks: tokenizeAddresses(v)}
	var out []Address
	for p.i < len(p.toks) {
		switch p.toks[p.i].kind {
		case ',', ';', '>':
			p.i++
		default:
			out = p.item(out, false)
		}
	}
	return out
}

type addrParser struct {
	toks []addrToken
	i    int
}

// item parses one mailbox or group and appends it to out.
func (p *addrParser) item(out []Address, inGroup bool) []Address {
	start := p.i
	j := start
	for j < len(p.toks) {
		k := p.toks[j].kind
		if k == ',' || k == ';' || k == '<' || k == ':' || k == '>' {
			break
		}
		j++
	}
	words := p.toks[start:j]
	var next byte
	if j < len(p.toks) {
		next = p.toks[j].kind
	}
	switch {
	case next == ':' && !inGroup:
		p.i = j + 1
		out = append(out, Address{Kind: AddressGroupStart, Name: phrase(words)})
		for p.i < len(p.toks) && p.toks[p.i].kind != ';' {
			switch p.toks[p.i].kind {
			case ',', '>', ':':
				p.i++
			default:
				out = p.item(out, true)
			}
		}
		p.i++ // the ';'
		return append(out, Address{Kind: AddressGroupEnd})
	case next == '<':
		name := phrase(words)
		k := j + 1
		for k < len(p.toks) && p.toks[k].kind != '>' {
			k++
		}
		a := angleAddr(p.toks[j+1 : k])
		a.Name = name
		if a.Name == "" {
			a.Name = trailingComment(p.toks, k+1)
		}
		p.i = k + 1
		// Skip whatever follows up to the next separator.
		for p.i < len(p.toks) {
			if kk := p.toks[p.i].kind; kk == ',' || kk == ';' {
				break
			}
			p.i++
		}
		return append(out, a)
	default:
		p.i = j
		if next == ':' || next == '>' {
			p.i = j + 1 // stray special inside a group
		}
		if a, ok := bareAddrSpec(words); ok {
			return append(out, a)
		}
		return out
	}
}

// phrase joins the words of a display name (RFC 5322 3.2.5), keeping
// encoded-words and other atoms as they are and unquoting quoted strings.
// Comments are dropped.
func phrase(words []addrToken) string {
	var b strings.Builder
	for _, w := range words {
		if w.kind == tokComment {
			continue
		}
		if w.space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w.text)
	}
	return strings.TrimSpace(b.String())
}

// angleAddr parses the inside of an angle-addr: an optional obsolete route
// followed by an addr-spec (RFC 5322 3.4, 4.4).
func angleAddr(toks []addrToken) Address {
	a := Address{Kind: AddressMailbox}
	if i := indexKind(toks, ':'); i >= 0 && len(toks) > 0 && firstNonComment(toks) == '@' {
		var b strings.Builder
		for _, t := range toks[:i] {
			if t.kind != tokComment {
				b.WriteString(t.text)
			}
		}
		a.ADL = b.String()
		toks = toks[i+1:]
	}
	a.Mailbox, a.Host = splitAddrSpec(toks)
	return a
}

// bareAddrSpec parses an addr-spec written without angle brackets, taking
// a comment as the display name ("user@host (Name)").
func bareAddrSpec(words []addrToken) (Address, bool) {
	mbox, host := splitAddrSpec(words)
	if mbox == "" && host == "" {
		return Address{}, false
	}
	a := Address{Kind: AddressMailbox, Mailbox: mbox, Host: host}
	for _, w := range words {
		if w.kind == tokComment && w.text != "" {
			a.Name = w.text
			break
		}
	}
	return a, true
}

// splitAddrSpec splits an addr-spec into local part and domain at the last
// '@', ignoring comments and white space.
func splitAddrSpec(toks []addrToken) (local, domain string) {
	at := -1
	for i, t := range toks {
		if t.kind == '@' {
			at = i
		}
	}
	join := func(ts []addrToken) string {
		var b strings.Builder
		for _, t := range ts {
			if t.kind != tokComment {
				b.WriteString(t.text)
			}
		}
		return b.String()
	}
	if at < 0 {
		return join(toks), ""
	}
	return join(toks[:at]), join(toks[at+1:])
}

func indexKind(toks []addrToken, kind byte) int {
	for i, t := range toks {
		if t.kind == kind {
			return i
		}
	}
	return -1
}

func firstNonComment(toks []addrToken) byte {
	for _, t := range toks {
		if t.kind != tokComment {
			return t.kind
		}
	}
	return 0
}

// trailingComment returns the text of a comment right after position i, a
// common way of giving a name ("<user@host> (Name)").
func trailingComment(toks []addrToken, i int) string {
	if i < len(toks) && toks[i].kind == tokComment {
		return toks[i].text
	}
	return ""
}
