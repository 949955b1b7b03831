package mailmsg

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime"
	"sort"
	"strings"

	"github.com/emersion/go-message/textproto"
)

const (
	// maxHeaderBytes bounds the part of a header block that is kept for
	// parsing; the rest is still skipped over so offsets stay exact.
	maxHeaderBytes = 1 << 20
	// maxDepth bounds the nesting of multipart and message entities. A
	// deeper entity is analysed as an opaque leaf.
	maxDepth = 64
	// maxParts bounds the number of entities indexed in one message. Body
	// parts beyond it stay inside their multipart body but get no part
	// number.
	maxParts = 10000
)

// Analyze reads a whole RFC 5322 message from r and returns its [Structure]
// serialised into a compact, versioned blob for [Decode].
//
// Bad MIME does not make Analyze fail: see the package documentation for
// the fallbacks. Only an error reading r is returned.
func Analyze(r io.Reader) ([]byte, error) {
	st, err := analyzeStructure(r)
	if err != nil {
		return nil, err
	}
	// A message stored in a file or in memory can be read again for its
	// preview text (RFC 8970), computed once here rather than at each
	// FETCH.
	if ra, ok := r.(io.ReaderAt); ok {
		if st.Preview, err = Preview(ra, st.Size, st); err == nil {
			st.HasPreview = true
		}
	}
	return encodeStructure(st), nil
}

// analyzeStructure parses the message read from r into a Structure.
func analyzeStructure(r io.Reader) (*Structure, error) {
	a := &analyzer{sc: newLineScanner(r)}
	root, env, _ := a.entity(nil, 0, false, true)
	if err := a.sc.readErr(); err != nil {
		return nil, fmt.Errorf("mailmsg: reading message: %w", err)
	}
	st := &Structure{Size: a.sc.off, Root: root}
	if env != nil {
		st.Envelope = *env
	}
	return st, nil
}

// analyzer holds the state of one Analyze call.
type analyzer struct {
	sc    *lineScanner
	parts int
}

// entity parses one MIME entity starting at the current position. stack
// holds the boundaries of the enclosing multipart entities; inDigest tells
// that the entity is a body part of multipart/digest, whose default type
// is message/rfc822 (RFC 2046 5.1.5). When wantEnvelope is set the entity
// is a message and its envelope is returned too.
func (a *analyzer) entity(stack []string, depth int, inDigest, wantEnvelope bool) (*Part, *Envelope, termination) {
	a.parts++
	sc := a.sc
	p := &Part{HeaderStart: sc.off}

	// Header block, up to and including the blank line (RFC 5322 2.1).
	var hdr []byte
	var term termination
	ended := false
	for {
		frag, sol, full, ok := sc.next()
		if !ok {
			term = termination{eof: true, end: sc.here()}
			ended = true
			break
		}
		if sol && full {
			if d, c, ok := matchDelimiter(frag, stack); ok {
				term = termination{depth: d, close: c, end: sc.beforeDelimiter()}
				// The header runs up to the delimiter line; the body is
				// empty.
				p.BodyStart = sc.lineStart
				p.BodyEnd = sc.lineStart
				ended = true
				break
			}
			if isBlankLine(frag) {
				break
			}
		}
		if len(hdr) < maxHeaderBytes {
			hdr = append(hdr, frag...)
		}
	}
	h := parseHeaderBlock(hdr)
	describe(p, h, inDigest)
	var env *Envelope
	if wantEnvelope {
		env = envelopeFromHeader(h)
	}
	if ended {
		if term.eof {
			p.BodyStart = sc.off
			p.BodyEnd = sc.off
		}
		a.fixDegenerate(p)
		return p, env, term
	}

	start := sc.here()
	p.BodyStart = start.off
	composite := depth < maxDepth && a.parts < maxParts
	switch {
	case composite && p.Type == "multipart":
		boundary, _ := p.Param("boundary")
		if boundary == "" {
			term = sc.skipToDelimiter(stack)
			break
		}
		term = a.multipart(p, stack, boundary, depth)
	case composite && p.Type == "message" && (p.Subtype == "rfc822" || p.Subtype == "global") && identityEncoding(p.Encoding):
		msg, menv, t := a.entity(stack, depth+1, false, true)
		p.Message, p.Envelope = msg, menv
		term = t
	default:
		term = sc.skipToDelimiter(stack)
	}
	end := term.end
	if end.off < start.off {
		end = start
	}
	p.BodyEnd = end.off
	p.Size = p.BodyEnd - p.BodyStart
	p.Lines = lineCount(start, end)
	// The last body part or the encapsulated message ended at the same
	// delimiter; keep it inside this entity's body.
	if n := len(p.Children); n > 0 {
		clampEnd(p.Children[n-1], p.BodyEnd)
	}
	if p.Message != nil {
		clampEnd(p.Message, p.BodyEnd)
	}
	a.fixDegenerate(p)
	return p, env, term
}

// clampEnd pulls the offsets of p, and of the entities that end with it,
// back to end. An entity that ends at a delimiter of an enclosing
// multipart can reach past that multipart's body only when its own body is
// empty: the line break it loses belongs to the delimiter (RFC 2046 5.1.1),
// so sizes and line counts stay right.
func clampEnd(p *Part, end int64) {
	for p != nil {
		p.HeaderStart = min(p.HeaderStart, end)
		p.BodyStart = min(p.BodyStart, end)
		p.BodyEnd = min(p.BodyEnd, end)
		p.Size = p.BodyEnd - p.BodyStart
		if p.Size == 0 {
			p.Lines = 0
		}
		if p.Message != nil {
			clampEnd(p.Message, end)
		}
		if n := len(p.Children); n > 0 {
			p = p.Children[n-1]
		} else {
			p = nil
		}
	}
}

// multipart parses the body of a multipart entity: preamble, body parts
// and epilogue (RFC 2046 5.1.1). It returns what ended the entity: the end
// of input or a delimiter of an enclosing entity.
func (a *analyzer) multipart(p *Part, stack []string, boundary string, depth int) termination {
	sc := a.sc
	own := make([]string, len(stack)+1)
	copy(own, stack)
	own[len(stack)] = boundary
	me := len(stack)
	digest := p.Subtype == "digest"

	term := sc.skipToDelimiter(own) // preamble
	for !term.eof && term.depth == me && !term.close {
		if a.parts >= maxParts {
			term = sc.skipToDelimiter(own)
			continue
		}
		child, _, t := a.entity(own, depth+1, digest, false)
		p.Children = append(p.Children, child)
		term = t
	}
	if !term.eof && term.depth == me && term.close {
		term = sc.skipToDelimiter(stack) // epilogue
	}
	return term
}

// fixDegenerate turns a multipart entity without any body part, which
// BODYSTRUCTURE cannot express (RFC 9051 7.5.2 body-type-mpart needs at
// least one body), into text/plain; charset=us-ascii, the RFC 2045 5.2
// default, and sets the body size.
func (a *analyzer) fixDegenerate(p *Part) {
	if p.Type == "multipart" && len(p.Children) == 0 {
		setDefaultType(p)
	}
	p.Size = p.BodyEnd - p.BodyStart
}

// identityEncoding reports whether a content transfer encoding leaves the
// body as it is (RFC 2045 6.2).
func identityEncoding(enc string) bool {
	switch enc {
	case "7bit", "8bit", "binary", "":
		return true
	}
	return false
}

// setDefaultType sets the RFC 2045 5.2 default media type.
func setDefaultType(p *Part) {
	p.Type, p.Subtype = "text", "plain"
	p.Params = []Param{{Name: "charset", Value: "us-ascii"}}
}

// parseHeaderBlock parses a header block with go-message. A block with
// malformed lines is parsed again without them, so that one bad line does
// not hide the fields around it.
func parseHeaderBlock(b []byte) textproto.Header {
	h, err := textproto.ReadHeader(blockReader(b))
	if err == nil || err == io.EOF {
		return h
	}
	clean := sanitizeHeader(b)
	h2, err := textproto.ReadHeader(blockReader(clean))
	if err != nil && err != io.EOF && h2.Len() < h.Len() {
		return h
	}
	return h2
}

// blockReader reads a header block held in memory, with a buffer no
// larger than the block (most are far below bufio's default 4 KiB, which
// SEARCH HEADER and the analyser would otherwise allocate per message).
func blockReader(b []byte) *bufio.Reader {
	return bufio.NewReaderSize(bytes.NewReader(b), len(b)+1)
}

// sanitizeHeader keeps only the lines of a header block that form fields:
// a line with a valid field name and a colon (RFC 5322 2.2), and the folded
// continuation lines after it.
func sanitizeHeader(b []byte) []byte {
	out := make([]byte, 0, len(b))
	keep := false
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		var line []byte
		if i < 0 {
			line, b = b, nil
		} else {
			line, b = b[:i+1], b[i+1:]
		}
		if line[0] == ' ' || line[0] == '\t' {
			if keep {
				out = append(out, line...)
			}
			continue
		}
		keep = validFieldLine(line)
		if keep {
			out = append(out, line...)
		}
	}
	return out
}

// validFieldLine reports whether line starts with a field name followed by
// a colon. White space before the colon is tolerated as go-message does.
func validFieldLine(line []byte) bool {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return false
	}
	name := bytes.TrimRight(line[:i], " \t")
	if len(name) == 0 {
		return false
	}
	for _, c := range name {
		if c < 33 || c > 126 {
			return false
		}
	}
	return true
}

// describe fills the MIME description of p from its header (RFC 2045,
// RFC 2183, RFC 3282, RFC 2557, RFC 1864).
func describe(p *Part, h textproto.Header, inDigest bool) {
	ct := strings.TrimSpace(h.Get("Content-Type"))
	typ, params, ok := parseMediaType(ct)
	if ok {
		if i := strings.IndexByte(typ, '/'); i > 0 && i < len(typ)-1 && !strings.ContainsAny(typ[i+1:], "/") {
			p.Type, p.Subtype = typ[:i], typ[i+1:]
			p.Params = params
		} else {
			ok = false
		}
	}
	if !ok {
		if ct == "" && inDigest {
			p.Type, p.Subtype = "message", "rfc822"
		} else {
			setDefaultType(p)
		}
	}

	p.Encoding = "7bit"
	if enc := firstToken(h.Get("Content-Transfer-Encoding")); enc != "" {
		p.Encoding = strings.ToLower(enc)
	}
	p.ID = h.Get("Content-Id")
	p.Description = h.Get("Content-Description")
	p.MD5 = h.Get("Content-Md5")
	p.Location = h.Get("Content-Location")
	if d := strings.TrimSpace(h.Get("Content-Disposition")); d != "" {
		if disp, dparams, ok := parseMediaType(d); ok {
			p.Disposition = disp
			p.DispositionParams = dparams
		} else if tok := firstToken(d); tok != "" {
			p.Disposition = strings.ToLower(tok)
		}
	}
	if l := h.Get("Content-Language"); l != "" {
		for _, tag := range strings.Split(stripComments(l), ",") {
			if tag = strings.TrimSpace(tag); tag != "" {
				p.Language = append(p.Language, tag)
			}
		}
	}
}

// parseMediaType parses a Content-Type or Content-Disposition value with
// its parameters (RFC 2045 5.1, RFC 2231). The type is kept when only the
// parameters are malformed. Parameters come back sorted by name.
func parseMediaType(v string) (string, []Param, bool) {
	if v == "" {
		return "", nil, false
	}
	typ, m, err := mime.ParseMediaType(v)
	if err != nil && err != mime.ErrInvalidMediaParameter {
		return "", nil, false
	}
	if typ == "" {
		return "", nil, false
	}
	params := make([]Param, 0, len(m))
	for k, val := range m {
		params = append(params, Param{Name: k, Value: val})
	}
	sort.Slice(params, func(i, j int) bool { return params[i].Name < params[j].Name })
	if len(params) == 0 {
		params = nil
	}
	return typ, params, true
}

// firstToken returns the first token of a structured header value, before
// white space, a comment or a parameter.
func firstToken(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.IndexAny(v, " \t(;"); i >= 0 {
		v = v[:i]
	}
	return v
}

// stripComments removes RFC 5322 comments (nested parentheses) from v.
func stripComments(v string) string {
	if !strings.ContainsRune(v, '(') {
		return v
	}
	var b strings.Builder
	depth := 0
	inQuote := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\' && (depth > 0 || inQuote) && i+1 < len(v):
			if depth == 0 {
				b.WriteByte(c)
				b.WriteByte(v[i+1])
			}
			i++
		case c == '"' && depth == 0:
			inQuote = !inQuote
			b.WriteByte(c)
		case c == '(' && !inQuote:
			depth++
		case c == ')' && !inQuote && depth > 0:
			depth--
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// envelopeFromHeader builds the envelope of a message from its header
// (RFC 9051 7.5.2). Values stay as on the wire, unfolded.
func envelopeFromHeader(h textproto.Header) *Envelope {
	return &Envelope{
		Date:      strings.TrimSpace(h.Get("Date")),
		Subject:   strings.TrimSpace(h.Get("Subject")),
		From:      parseAddressList(h.Get("From")),
		Sender:    parseAddressList(h.Get("Sender")),
		ReplyTo:   parseAddressList(h.Get("Reply-To")),
		To:        parseAddressList(h.Get("To")),
		Cc:        parseAddressList(h.Get("Cc")),
		Bcc:       parseAddressList(h.Get("Bcc")),
		InReplyTo: strings.TrimSpace(h.Get("In-Reply-To")),
		MessageID: strings.TrimSpace(h.Get("Message-Id")),
	}
}
