package mailmsg

import (
	"io"
	"net/textproto"
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// The sort keys of SORT and THREAD (RFC 5256, RFC 5957), computed from a
// message's structure. Strings are compared after Collate.

// Collate maps s to its key under the i;unicode-casemap collation (RFC
// 5051 2): each character is replaced by its titlecase mapping, then the
// string is normalised to Unicode Normalization Form KD. Two strings
// collate equal when their keys are byte-equal; keys order by code point.
func Collate(s string) string {
	title := strings.Map(func(r rune) rune { return unicode.ToTitle(r) }, s)
	return norm.NFKD.String(title)
}

// Subject returns the Subject header field with its RFC 2047 encoded-words
// decoded.
func Subject(st *Structure) string {
	if st == nil {
		return ""
	}
	return decodeHeaderValue(st.Envelope.Subject)
}

var (
	// subjTrailer is RFC 5256's subj-trailer, "(fwd)" or white space at
	// the end.
	subjTrailer = regexp.MustCompile(`(?i)(\(fwd\)|[ \t])$`)
	// subjBlob is a [...] block: "[" *BLOBCHAR "]" *WSP.
	subjBlob = `\[[^\[\]]*\][ \t]*`
	// subjLeader is RFC 5256's subj-leader: blobs and a re/fw/fwd with its
	// optional blob and colon.
	subjLeader    = regexp.MustCompile(`(?i)^((` + subjBlob + `)*(re|fwd?)[ \t]*(` + subjBlob + `)?:)`)
	subjLeadBlob  = regexp.MustCompile(`^` + subjBlob)
	subjFwdHeader = regexp.MustCompile(`(?i)^\[fwd:(.*)\]$`)
	subjSpace     = regexp.MustCompile(`[ \t]+`)
)

// BaseSubject extracts the base subject of a decoded subject (RFC 5256
// 2.1) and reports whether the extraction found the marks of a reply or a
// forward (a leader such as "Re:", a trailing "(fwd)", or "[fwd: ...]"),
// which THREAD uses. The base subject is returned unfolded but not
// collated.
func BaseSubject(subject string) (base string, isReply bool) {
	// (1) Tabs and runs of white space become one space; leading and
	// trailing white space goes.
	s := strings.TrimSpace(subjSpace.ReplaceAllString(subject, " "))
	for {
		// (2) Remove subj-trailer repeatedly.
		for {
			t := subjTrailer.ReplaceAllString(s, "")
			if t == s {
				break
			}
			if strings.HasSuffix(strings.ToLower(s), "(fwd)") {
				isReply = true
			}
			s = t
		}
		// (3)-(5) Remove subj-leader and subj-blob repeatedly, a blob only
		// when something remains after it.
		for {
			before := s
			if m := subjLeader.FindString(s); m != "" {
				s = strings.TrimLeft(s[len(m):], " \t")
				isReply = true
			}
			if m := subjLeadBlob.FindString(s); m != "" && len(m) < len(s) {
				s = s[len(m):]
			}
			if s == before {
				break
			}
		}
		// (6) A subject of the form "[fwd:" subj-middle "]" is unwrapped
		// and the extraction starts again at (2).
		if m := subjFwdHeader.FindStringSubmatch(s); m != nil {
			s = strings.TrimSpace(m[1])
			isReply = true
			continue
		}
		return s, isReply
	}
}

// SortAddress is the key of SORT FROM, TO and CC (RFC 5256 3): the
// mailbox (local part) of the first address, or "" without one.
func SortAddress(list []Address) string {
	for _, a := range list {
		if a.Kind == AddressMailbox {
			return a.Mailbox
		}
	}
	return ""
}

// DisplayAddress is the key of SORT DISPLAYFROM and DISPLAYTO (RFC 5957
// 3): the decoded display name of the first address, else its addr-spec,
// else "".
func DisplayAddress(list []Address) string {
	for _, a := range list {
		if a.Kind != AddressMailbox {
			continue
		}
		if name := strings.TrimSpace(decodeHeaderValue(a.Name)); name != "" {
			return name
		}
		if a.Host == "" {
			return a.Mailbox
		}
		return a.Mailbox + "@" + a.Host
	}
	return ""
}

// ThreadIDs are the header fields THREAD=REFERENCES links messages by.
type ThreadIDs struct {
	// MessageID is the message's own identifier, without angle brackets;
	// "" when the message has none.
	MessageID string
	// References lists the identifiers of the References field, oldest
	// first; when it has none, the first identifier of In-Reply-To.
	References []string
}

var msgIDPattern = regexp.MustCompile(`<([^<>\s]+)>`)

// MessageIDs reads the identifiers of a message's header for THREAD
// (RFC 5256 4, steps 1.A and 1.B). raw is the whole message.
func MessageIDs(raw io.ReaderAt, st *Structure) (ThreadIDs, error) {
	var ids ThreadIDs
	if st == nil {
		return ids, nil
	}
	if m := msgIDPattern.FindStringSubmatch(st.Envelope.MessageID); m != nil {
		ids.MessageID = m[1]
	}
	h, err := topHeader(raw, st)
	if err != nil {
		return ids, err
	}
	for _, m := range msgIDPattern.FindAllStringSubmatch(strings.Join(h.Values("References"), " "), -1) {
		ids.References = append(ids.References, m[1])
	}
	if len(ids.References) == 0 {
		if m := msgIDPattern.FindStringSubmatch(st.Envelope.InReplyTo); m != nil {
			ids.References = []string{m[1]}
		}
	}
	return ids, nil
}

// topHeader parses the header of the message itself.
func topHeader(raw io.ReaderAt, st *Structure) (textproto.MIMEHeader, error) {
	p := st.Root
	n := p.BodyStart - p.HeaderStart
	if n <= 0 {
		return textproto.MIMEHeader{}, nil
	}
	buf := make([]byte, n)
	if _, err := raw.ReadAt(buf, p.HeaderStart); err != nil && err != io.EOF {
		return nil, err
	}
	h := parseHeaderBlock(buf)
	out := textproto.MIMEHeader{}
	for _, f := range []string{"References", "In-Reply-To"} {
		if vs := h.Values(f); len(vs) > 0 {
			out[f] = vs
		}
	}
	return out, nil
}
