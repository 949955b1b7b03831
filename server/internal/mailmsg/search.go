package mailmsg

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
)

// MatchHeader reports whether the message header has a field named field
// (case-insensitively) whose value, after RFC 2047 decoding, contains
// substring, compared with Unicode simple case folding (RFC 9051 6.4.4
// HEADER). An empty substring matches every message that has the field.
func MatchHeader(raw io.ReaderAt, st *Structure, field, substring string) (bool, error) {
	if st == nil || st.Root == nil {
		return false, errors.New("mailmsg: nil structure")
	}
	hdr, err := readRange(raw, st.Root.HeaderStart, st.Root.BodyStart)
	if err != nil {
		return false, err
	}
	h := parseHeaderBlock(hdr)
	values := h.Values(field)
	if len(values) == 0 {
		return false, nil
	}
	if substring == "" {
		return true, nil
	}
	m := newFoldMatcher(substring)
	for _, v := range values {
		if m.matchString(decodeHeaderValue(v)) {
			return true, nil
		}
	}
	return false, nil
}

// MatchAddress reports whether an envelope address list of the message
// contains substring (RFC 9051 6.4.4 FROM, TO, CC, BCC). field names the
// header: "from", "sender", "reply-to", "to", "cc" or "bcc", in any case.
// Each address is matched in the form `Name <mailbox@host>`, its display
// name RFC 2047 decoded; a group matches by its name. The comparison uses
// Unicode simple case folding. An empty substring matches when the list is
// not empty.
func MatchAddress(st *Structure, field, substring string) bool {
	if st == nil {
		return false
	}
	var list []Address
	switch strings.ToLower(field) {
	case "from":
		list = st.Envelope.From
	case "sender":
		list = st.Envelope.Sender
	case "reply-to":
		list = st.Envelope.ReplyTo
	case "to":
		list = st.Envelope.To
	case "cc":
		list = st.Envelope.Cc
	case "bcc":
		list = st.Envelope.Bcc
	}
	if len(list) == 0 {
		return false
	}
	if substring == "" {
		return true
	}
	m := newFoldMatcher(substring)
	for _, a := range list {
		if m.matchString(addressText(a)) {
			return true
		}
	}
	return false
}

// addressText renders an envelope address for matching.
func addressText(a Address) string {
	switch a.Kind {
	case AddressGroupStart:
		return decodeHeaderValue(a.Name)
	case AddressGroupEnd:
		return ""
	}
	spec := a.Mailbox
	if a.Host != "" {
		spec += "@" + a.Host
	}
	if a.Name == "" {
		return spec
	}
	return decodeHeaderValue(a.Name) + " <" + spec + ">"
}

// MatchBody reports whether the decoded text of the message body contains
// substring (RFC 9051 6.4.4 BODY). The text is that of every text/* part,
// with its content transfer encoding removed and its charset converted to
// UTF-8, and the header of every encapsulated message/rfc822 part. Each
// part is streamed from raw, so large bodies are never held in memory; a
// match does not span two parts. The comparison uses Unicode simple case
// folding. An empty substring matches every message.
func MatchBody(raw io.ReaderAt, st *Structure, substring string) (bool, error) {
	if st == nil || st.Root == nil {
		return false, errors.New("mailmsg: nil structure")
	}
	if substring == "" {
		return true, nil
	}
	return matchBody(raw, st, newFoldMatcher(substring))
}

// MatchText reports whether the message header or body contains substring
// (RFC 9051 6.4.4 TEXT): each header field is matched as "Name: value"
// with the value RFC 2047 decoded, then the body as in MatchBody.
func MatchText(raw io.ReaderAt, st *Structure, substring string) (bool, error) {
	if st == nil || st.Root == nil {
		return false, errors.New("mailmsg: nil structure")
	}
	if substring == "" {
		return true, nil
	}
	m := newFoldMatcher(substring)
	ok, err := matchHeaderText(raw, st.Root, m)
	if ok || err != nil {
		return ok, err
	}
	return matchBody(raw, st, m)
}

func matchBody(raw io.ReaderAt, st *Structure, m *foldMatcher) (bool, error) {
	var found bool
	var err error
	st.Root.walk(func(p *Part) bool {
		switch {
		case p.IsMessage():
			found, err = matchHeaderText(raw, p.Message, m)
		case p.IsText() && len(p.Children) == 0:
			found, err = matchPartText(raw, st.Size, p, m)
		}
		return !found && err == nil
	})
	return found, err
}

// matchHeaderText matches m against every field of the header of the
// message whose root entity is p.
func matchHeaderText(raw io.ReaderAt, p *Part, m *foldMatcher) (bool, error) {
	hdr, err := readRange(raw, p.HeaderStart, p.BodyStart)
	if err != nil {
		return false, err
	}
	h := parseHeaderBlock(hdr)
	fields := h.Fields()
	for fields.Next() {
		if m.matchString(fields.Key() + ": " + decodeHeaderValue(fields.Value())) {
			return true, nil
		}
	}
	return false, nil
}

// matchPartText streams the decoded text of one text/* part through m. A
// part with an unknown transfer encoding or charset is matched as it is
// stored; a decoding error ends the part's text where it happens. Only an
// error reading raw is returned.
func matchPartText(raw io.ReaderAt, size int64, p *Part, m *foldMatcher) (bool, error) {
	start, end := clampRange(p.BodyStart, p.BodyEnd, size)
	src := &errRecorder{r: io.NewSectionReader(raw, start, end-start)}
	var r io.Reader = src
	if dec, err := decodingReader(p.Encoding, r); err == nil {
		r = dec
	}
	if cs, ok := p.Param("charset"); ok && !isUTF8Compatible(cs) {
		if conv, err := charset.Reader(cs, r); err == nil {
			r = conv
		}
	}
	found, _ := m.matchReader(r)
	if src.err != nil {
		return false, fmt.Errorf("mailmsg: reading message: %w", src.err)
	}
	return found, nil
}

// isUTF8Compatible reports whether text in charset cs can be matched as
// UTF-8 without conversion.
func isUTF8Compatible(cs string) bool {
	switch strings.ToLower(cs) {
	case "us-ascii", "ascii", "utf-8", "utf8":
		return true
	}
	return false
}

// decodeHeaderValue decodes RFC 2047 encoded-words in a header value,
// converting their charsets with go-message. A value that cannot be
// decoded is returned as it is.
func decodeHeaderValue(v string) string {
	if !strings.Contains(v, "=?") {
		return v
	}
	dec := mime.WordDecoder{CharsetReader: charset.Reader}
	s, err := dec.DecodeHeader(v)
	if err != nil {
		return v
	}
	return s
}

// SentDate returns the Date header of the message as a time in the zone
// the header gives, for SENTBEFORE, SENTON and SENTSINCE (RFC 9051 6.4.4),
// which compare dates in that zone. ok is false when the header is absent
// or cannot be parsed (RFC 5322 3.3, obsolete forms included).
func SentDate(st *Structure) (t time.Time, ok bool) {
	if st == nil {
		return time.Time{}, false
	}
	v := strings.TrimSpace(st.Envelope.Date)
	if v == "" {
		return time.Time{}, false
	}
	if t, err := mail.ParseDate(v); err == nil {
		return t, true
	}
	// Retry without comments and with the common sloppy forms.
	v = strings.Join(strings.Fields(stripComments(v)), " ")
	if t, err := mail.ParseDate(v); err == nil {
		return t, true
	}
	for _, layout := range []string{
		"Mon, 2 Jan 2006 15:04:05 -0700 MST",
		"Mon, 2 Jan 2006 15:04 -0700",
		"2 Jan 2006 15:04:05 -0700",
		"Mon Jan 2 15:04:05 2006",
		"Mon Jan 2 15:04:05 -0700 2006",
		"2006-01-02 15:04:05 -0700",
		time.RFC3339,
	} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// foldMatcher is a streaming substring matcher over runes compared after
// Unicode simple case folding, using the Knuth-Morris-Pratt failure
// function so that text is read once and never buffered.
type foldMatcher struct {
	pat  []rune
	fail []int
}

func newFoldMatcher(substring string) *foldMatcher {
	pat := make([]rune, 0, len(substring))
	for _, r := range substring {
		pat = append(pat, foldRune(r))
	}
	fail := make([]int, len(pat))
	k := 0
	for i := 1; i < len(pat); i++ {
		for k > 0 && pat[i] != pat[k] {
			k = fail[k-1]
		}
		if pat[i] == pat[k] {
			k++
		}
		fail[i] = k
	}
	return &foldMatcher{pat: pat, fail: fail}
}

// step advances the match state k by one text rune and returns the new
// state; the pattern is found when it reaches len(pat).
func (m *foldMatcher) step(k int, r rune) int {
	r = foldRune(r)
	for k > 0 && r != m.pat[k] {
		k = m.fail[k-1]
	}
	if r == m.pat[k] {
		k++
	}
	return k
}

func (m *foldMatcher) matchString(s string) bool {
	if len(m.pat) == 0 {
		return true
	}
	k := 0
	for _, r := range s {
		if k = m.step(k, r); k == len(m.pat) {
			return true
		}
	}
	return false
}

// errRecorder passes reads through and keeps the first error other than
// io.EOF, so that a storage error can be told from a decoding error.
type errRecorder struct {
	r   io.Reader
	err error
}

func (e *errRecorder) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// matchReader streams UTF-8 text from r through the matcher. Invalid UTF-8
// bytes count as U+FFFD.
func (m *foldMatcher) matchReader(r io.Reader) (bool, error) {
	if len(m.pat) == 0 {
		return true, nil
	}
	br := bufio.NewReaderSize(r, 32<<10)
	k := 0
	for {
		c, _, err := br.ReadRune()
		if err != nil {
			if err == io.EOF {
				return false, nil
			}
			return false, err
		}
		if k = m.step(k, c); k == len(m.pat) {
			return true, nil
		}
	}
}

// foldRune maps r to the smallest rune of its Unicode simple case folding
// orbit, so that two runes are equal under case folding exactly when their
// foldRune values are equal.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}
	least := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		least = min(least, f)
	}
	return least
}
