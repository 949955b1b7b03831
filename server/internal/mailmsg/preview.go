package mailmsg

import (
	"html"
	"io"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
)

// PreviewMax is the most characters a preview holds; RFC 8970 3.1 allows
// up to 256.
const PreviewMax = 200

// previewRead bounds the decoded bytes of the text part a preview is taken
// from.
const previewRead = 8 << 10

var (
	htmlDrop = regexp.MustCompile(`(?is)<(script|style|head)\b.*?</(script|style|head)\s*>`)
	htmlTag  = regexp.MustCompile(`(?s)<[^>]*>`)
)

// Preview computes the preview text of a message (RFC 8970): the start of
// its first text/plain part that is not an attachment, else of its first
// text/html part with the markup removed, decoded to UTF-8 with white space
// runs folded into single spaces and cut at PreviewMax characters. It is ""
// when the message has no such text.
func Preview(raw io.ReaderAt, size int64, st *Structure) (string, error) {
	if st == nil || st.Root == nil {
		return "", nil
	}
	path, p := findText(st.Root, nil, "plain")
	if p == nil {
		path, p = findText(st.Root, nil, "html")
	}
	if p == nil {
		return "", nil
	}
	r, _, err := ExtractBinary(raw, size, st, Section{Part: path})
	if err != nil {
		return "", nil // an undecodable part has no preview
	}
	cs := "us-ascii"
	for _, prm := range p.Params {
		if strings.EqualFold(prm.Name, "charset") {
			cs = prm.Value
		}
	}
	// US-ASCII text with 8-bit bytes is, in practice, undeclared UTF-8:
	// read it as SEARCH does (isUTF8Compatible) rather than turn each
	// byte into U+FFFD; invalid bytes are dropped below.
	if !isUTF8Compatible(cs) {
		if dec, err := charset.Reader(cs, r); err == nil {
			r = dec
		}
	}
	b, err := io.ReadAll(io.LimitReader(r, previewRead))
	if err != nil {
		return "", nil
	}
	text := strings.ToValidUTF8(string(b), "")
	if p.Subtype == "html" {
		text = html.UnescapeString(htmlTag.ReplaceAllString(htmlDrop.ReplaceAllString(text, " "), " "))
	}
	return foldSpace(text, PreviewMax), nil
}

// foldSpace returns the first max characters of text with its white space
// runs folded into single spaces and trimmed at both ends, as
// strings.Join(strings.Fields(text), " ") cut at max runes would, in one
// pass that stops once max runes are out.
func foldSpace(text string, max int) string {
	var b strings.Builder
	b.Grow(min(len(text), max*utf8.UTFMax))
	n, space := 0, false
	for _, c := range text {
		if unicode.IsSpace(c) {
			space = n > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
			if n++; n == max {
				break
			}
		}
		b.WriteRune(c)
		if n++; n == max {
			break
		}
	}
	return b.String()
}

// findText returns the first leaf text/subtype part that is not an
// attachment, depth first, with its part path (RFC 9051 6.4.5: the body of
// a message that is not multipart is part 1).
func findText(p *Part, path []int, subtype string) ([]int, *Part) {
	if p.Type == "multipart" {
		for i, c := range p.Children {
			if q, found := findText(c, append(append([]int(nil), path...), i+1), subtype); found != nil {
				return q, found
			}
		}
		return nil, nil
	}
	if p.Type != "text" || p.Subtype != subtype || p.Disposition == "attachment" {
		return nil, nil
	}
	if len(path) == 0 {
		path = []int{1}
	}
	return path, p
}
