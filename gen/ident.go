package gen

import "strings"

// initialisms keep Go's spelling of well-known abbreviations in generated
// identifiers (InputUIDFetch, not InputUidFetch).
var initialisms = map[string]string{
	"id": "ID", "uid": "UID", "tls": "TLS", "sasl": "SASL", "ok": "OK",
	"imap": "IMAP", "utf8": "UTF8", "utf7": "UTF7",
	"lmtp": "LMTP", "smtp": "SMTP", "lhlo": "LHLO", "lf": "LF",
}

// GoName turns a spec name such as "uid-fetch" into a Go identifier part
// such as "UIDFetch".
func GoName(name string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(name, func(r rune) bool { return r == '-' || r == '_' || r == '.' || r == ' ' }) {
		if up, ok := initialisms[strings.ToLower(part)]; ok {
			b.WriteString(up)
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}
