package mailmsg

import (
	"io"
	"strconv"
	"strings"
)

// maxQuotedLen is the longest value sent as a quoted string; longer values
// are sent as literals.
const maxQuotedLen = 1024

// appendIMAPString appends s as an IMAP string (RFC 9051 4.3): a quoted
// string with '"' and '\' escaped, or a synchronising-free literal
// "{n}\r\n" followed by the octets when s holds CR, LF, NUL or 8-bit
// octets, which a quoted string cannot carry, or is long.
func appendIMAPString(b []byte, s string) []byte {
	if needsLiteral(s) {
		b = append(b, '{')
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, '}', '\r', '\n')
		return append(b, s...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// appendNString appends s as an nstring: NIL when s is empty.
func appendNString(b []byte, s string) []byte {
	if s == "" {
		return append(b, "NIL"...)
	}
	return appendIMAPString(b, s)
}

func needsLiteral(s string) bool {
	if len(s) > maxQuotedLen {
		return true
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\r' || c == '\n' || c == 0 || c >= 0x80 {
			return true
		}
	}
	return false
}

// WriteEnvelope writes env as the ENVELOPE FETCH data item value (RFC 9051
// 7.5.2): a parenthesised list of date, subject, from, sender, reply-to,
// to, cc, bcc, in-reply-to and message-id. As RFC 9051 requires, a missing
// or empty Sender or Reply-To is sent as the From list.
func WriteEnvelope(w io.Writer, env *Envelope) error {
	_, err := w.Write(appendEnvelopeWire(nil, env))
	return err
}

func appendEnvelopeWire(b []byte, env *Envelope) []byte {
	if env == nil {
		env = &Envelope{}
	}
	sender, replyTo := env.Sender, env.ReplyTo
	if len(sender) == 0 {
		sender = env.From
	}
	if len(replyTo) == 0 {
		replyTo = env.From
	}
	b = append(b, '(')
	b = appendNString(b, env.Date)
	b = append(b, ' ')
	b = appendNString(b, env.Subject)
	for _, l := range [][]Address{env.From, sender, replyTo, env.To, env.Cc, env.Bcc} {
		b = append(b, ' ')
		b = appendAddressList(b, l)
	}
	b = append(b, ' ')
	b = appendNString(b, env.InReplyTo)
	b = append(b, ' ')
	b = appendNString(b, env.MessageID)
	return append(b, ')')
}

// appendAddressList appends an envelope address list: NIL when empty, else
// "(" 1*address ")" where an address is (name adl mailbox host); a group
// is opened by (NIL NIL "group" NIL) and closed by (NIL NIL NIL NIL).
func appendAddressList(b []byte, l []Address) []byte {
	if len(l) == 0 {
		return append(b, "NIL"...)
	}
	b = append(b, '(')
	for _, a := range l {
		switch a.Kind {
		case AddressGroupStart:
			b = append(b, "(NIL NIL "...)
			b = appendIMAPString(b, a.Name)
			b = append(b, " NIL)"...)
		case AddressGroupEnd:
			b = append(b, "(NIL NIL NIL NIL)"...)
		default:
			b = append(b, '(')
			b = appendNString(b, a.Name)
			b = append(b, ' ')
			b = appendNString(b, a.ADL)
			b = append(b, ' ')
			// Mailbox and host stay strings even when empty: a NIL host
			// would mark group syntax.
			b = appendIMAPString(b, a.Mailbox)
			b = append(b, ' ')
			b = appendIMAPString(b, a.Host)
			b = append(b, ')')
		}
	}
	return append(b, ')')
}

// WriteBodyStructure writes the MIME structure of st in IMAP body syntax
// (RFC 9051 7.5.2): the value of the BODY data item when extended is false,
// and of BODYSTRUCTURE, which adds the extension data (MD5, disposition,
// language and location of single parts; parameters, disposition, language
// and location of multiparts), when it is true.
func WriteBodyStructure(w io.Writer, st *Structure, extended bool) error {
	root := &Part{}
	if st != nil && st.Root != nil {
		root = st.Root
	}
	_, err := w.Write(appendBody(nil, root, extended))
	return err
}

// appendBody appends one body (RFC 9051 9 body).
func appendBody(b []byte, p *Part, extended bool) []byte {
	b = append(b, '(')
	if p.IsMultipart() {
		// body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]
		for _, c := range p.Children {
			b = appendBody(b, c, extended)
		}
		b = append(b, ' ')
		b = appendIMAPString(b, strings.ToUpper(p.Subtype))
		if extended {
			b = append(b, ' ')
			b = appendParamList(b, p.Params)
			b = appendExtTail(b, p)
		}
		return append(b, ')')
	}
	typ, sub := p.Type, p.Subtype
	if typ == "" || sub == "" || p.Type == "multipart" {
		typ, sub = "text", "plain"
	}
	b = appendIMAPString(b, strings.ToUpper(typ))
	b = append(b, ' ')
	b = appendIMAPString(b, strings.ToUpper(sub))
	// body-fields = body-fld-param SP body-fld-id SP body-fld-desc SP
	//               body-fld-enc SP body-fld-octets
	b = append(b, ' ')
	b = appendParamList(b, p.Params)
	b = append(b, ' ')
	b = appendNString(b, p.ID)
	b = append(b, ' ')
	b = appendNString(b, p.Description)
	b = append(b, ' ')
	enc := p.Encoding
	if enc == "" {
		enc = "7bit"
	}
	b = appendIMAPString(b, strings.ToUpper(enc))
	b = append(b, ' ')
	b = strconv.AppendInt(b, p.Size, 10)
	switch {
	case p.IsMessage():
		// body-type-msg: ... SP envelope SP body SP body-fld-lines
		b = append(b, ' ')
		b = appendEnvelopeWire(b, p.Envelope)
		b = append(b, ' ')
		b = appendBody(b, p.Message, extended)
		b = append(b, ' ')
		b = strconv.AppendInt(b, p.Lines, 10)
	case typ == "text":
		b = append(b, ' ')
		b = strconv.AppendInt(b, p.Lines, 10)
	}
	if extended {
		// body-ext-1part = body-fld-md5 [SP body-fld-dsp [SP body-fld-lang
		//                  [SP body-fld-loc]]]
		b = append(b, ' ')
		b = appendNString(b, p.MD5)
		b = appendExtTail(b, p)
	}
	return append(b, ')')
}

// appendExtTail appends the disposition, language and location extension
// fields shared by single-part and multipart bodies.
func appendExtTail(b []byte, p *Part) []byte {
	b = append(b, ' ')
	if p.Disposition == "" {
		b = append(b, "NIL"...)
	} else {
		// body-fld-dsp = "(" string SP body-fld-param ")" / nil
		b = append(b, '(')
		b = appendIMAPString(b, strings.ToUpper(p.Disposition))
		b = append(b, ' ')
		b = appendParamList(b, p.DispositionParams)
		b = append(b, ')')
	}
	b = append(b, ' ')
	// body-fld-lang = nstring / "(" string *(SP string) ")"
	switch len(p.Language) {
	case 0:
		b = append(b, "NIL"...)
	case 1:
		b = appendIMAPString(b, p.Language[0])
	default:
		b = append(b, '(')
		for i, l := range p.Language {
			if i > 0 {
				b = append(b, ' ')
			}
			b = appendIMAPString(b, l)
		}
		b = append(b, ')')
	}
	b = append(b, ' ')
	return appendNString(b, p.Location)
}

// appendParamList appends body-fld-param: NIL or a list of upper-case
// attribute names and their values.
func appendParamList(b []byte, ps []Param) []byte {
	if len(ps) == 0 {
		return append(b, "NIL"...)
	}
	b = append(b, '(')
	for i, p := range ps {
		if i > 0 {
			b = append(b, ' ')
		}
		b = appendIMAPString(b, strings.ToUpper(p.Name))
		b = append(b, ' ')
		b = appendIMAPString(b, p.Value)
	}
	return append(b, ')')
}
