package gen

import "strings"

// initialisms keep Go's spelling of common abbreviations in generated
// identifiers (OutcomeOK, not OutcomeOk). A spec adds its protocol's own
// in protocol.initialisms (UID for IMAP: InputUIDFetch).
var initialisms = map[string]string{
	"id": "ID", "ok": "OK", "tls": "TLS",
}

// GoName turns a spec name such as "uid-fetch" into a Go identifier part
// such as "UidFetch", spelling the common initialisms in capitals.
func GoName(name string) string { return goName(name, nil) }

// goName is GoName with a spec's own initialisms, keyed by lower case.
func goName(name string, extra map[string]string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(name, func(r rune) bool { return r == '-' || r == '_' || r == '.' || r == ' ' }) {
		if up, ok := extra[strings.ToLower(part)]; ok {
			b.WriteString(up)
			continue
		}
		if up, ok := initialisms[strings.ToLower(part)]; ok {
			b.WriteString(up)
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}
