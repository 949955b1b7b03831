package mailio

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// asctime layouts seen in "From " separator lines.
var fromDateLayouts = []string{
	"Mon Jan _2 15:04:05 2006",
	"Mon Jan _2 15:04:05 -0700 2006",
	"Mon Jan _2 15:04:05 MST 2006",
	"Mon Jan _2 15:04 2006",
}

// ReadMbox reads an mboxrd stream and calls fn for each message, in order.
// A separator is a "From " line at the start or after an empty line. Text
// before the first separator line is ignored. The Message passed to fn is
// not reused. If fn returns an error,
// reading stops and ReadMbox returns it.
func ReadMbox(r io.Reader, opts Options, fn func(*Message) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	prog := counter{fn: opts.Progress}
	limit := opts.max()
	var cur *Message
	var body bytes.Buffer
	flush := func() error {
		if cur == nil {
			return nil
		}
		// The line ending before the next separator belongs to the format.
		b := bytes.Clone(bytes.TrimSuffix(body.Bytes(), []byte("\r\n")))
		cur.Body, cur.Flags = extractFlags(b)
		if err := fn(cur); err != nil {
			return err
		}
		prog.add(len(cur.Body))
		cur = nil
		body.Reset()
		return nil
	}
	lineNo := 0
	prevBlank := false
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A very long line: collect it whole.
			full := slices.Clone(line)
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				full = append(full, line...)
				if len(full) > limit+2 {
					return ErrTooBig
				}
			}
			line = full
		}
		if len(line) == 0 && err != nil {
			if err == io.EOF {
				return flush()
			}
			return err
		}
		lineNo++
		// A separator starts the file or follows an empty line; an
		// unquoted "From " elsewhere (mboxo damage) stays body text.
		if bytes.HasPrefix(line, []byte("From ")) && (cur == nil || prevBlank) {
			if err := flush(); err != nil {
				return err
			}
			cur = &Message{InternalDate: parseFromDate(line)}
		} else if cur != nil {
			content := bytes.TrimRight(line, "\r\n")
			if isQuotedFrom(content) {
				content = content[1:]
			}
			if body.Len()+len(content)+2 > limit+2 {
				return fmt.Errorf("%w (line %d)", ErrTooBig, lineNo)
			}
			body.Write(content)
			if len(line) > 0 && line[len(line)-1] == '\n' {
				body.WriteString("\r\n")
			}
		}
		prevBlank = len(bytes.TrimRight(line, "\r\n")) == 0
		if err == io.EOF {
			return flush()
		} else if err != nil {
			return err
		}
	}
}

// isQuotedFrom reports whether line matches ">+From ".
func isQuotedFrom(line []byte) bool {
	i := 0
	for i < len(line) && line[i] == '>' {
		i++
	}
	return i > 0 && bytes.HasPrefix(line[i:], []byte("From "))
}

func parseFromDate(line []byte) time.Time {
	f := strings.Fields(strings.TrimSpace(string(line)))
	// "From" sender date...
	if len(f) < 3 {
		return time.Time{}
	}
	date := strings.Join(f[2:], " ")
	for _, l := range fromDateLayouts {
		if t, err := time.Parse(l, date); err == nil {
			return t
		}
	}
	return time.Time{}
}

// extractFlags removes the Status, X-Status and X-Keywords header fields
// from the header of body and returns the flags they carried.
func extractFlags(body []byte) ([]byte, []string) {
	end := bytes.Index(body, []byte("\r\n\r\n"))
	if end < 0 {
		end = len(body)
	} else {
		end += 2 // the last header line keeps its CRLF
	}
	header := body[:end]
	var flags []string
	var out bytes.Buffer
	out.Grow(len(body))
	lines := bytes.SplitAfter(header, []byte("\r\n"))
	found := false
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		name, value, ok := bytes.Cut(l, []byte(":"))
		key := strings.ToLower(string(name))
		if !ok || (key != "status" && key != "x-status" && key != "x-keywords") {
			out.Write(l)
			continue
		}
		found = true
		v := strings.TrimSpace(string(value))
		// Folded continuation lines belong to the same field.
		for i+1 < len(lines) && len(lines[i+1]) > 0 && (lines[i+1][0] == ' ' || lines[i+1][0] == '\t') {
			i++
			v += " " + strings.TrimSpace(string(lines[i]))
		}
		switch key {
		case "status":
			if strings.ContainsRune(v, 'R') {
				flags = append(flags, `\Seen`)
			}
		case "x-status":
			for _, c := range v {
				switch c {
				case 'A':
					flags = append(flags, `\Answered`)
				case 'F':
					flags = append(flags, `\Flagged`)
				case 'T':
					flags = append(flags, `\Draft`)
				case 'D':
					flags = append(flags, `\Deleted`)
				}
			}
		case "x-keywords":
			flags = append(flags, strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })...)
		}
	}
	if !found {
		return body, nil
	}
	out.Write(body[end:])
	return out.Bytes(), flags
}

// MboxWriter writes messages as an mboxrd stream. Call Flush at the end.
type MboxWriter struct {
	w    *bufio.Writer
	prog counter
}

// NewMboxWriter returns a writer on w.
func NewMboxWriter(w io.Writer, opts Options) *MboxWriter {
	return &MboxWriter{w: bufio.NewWriterSize(w, 64<<10), prog: counter{fn: opts.Progress}}
}

// Write appends one message: a separator line with sender "MAILER-DAEMON"
// and the internal date (or the Unix epoch if zero), the flag headers, the
// body with mboxrd quoting and LF line endings, and a blank line.
func (m *MboxWriter) Write(msg *Message) error {
	date := msg.InternalDate
	if date.IsZero() {
		date = time.Unix(0, 0)
	}
	fmt.Fprintf(m.w, "From MAILER-DAEMON %s\n", date.UTC().Format("Mon Jan _2 15:04:05 2006"))
	status, xstatus, keywords := flagHeaders(msg.Flags)
	if status != "" {
		fmt.Fprintf(m.w, "Status: %s\n", status)
	}
	if xstatus != "" {
		fmt.Fprintf(m.w, "X-Status: %s\n", xstatus)
	}
	if keywords != "" {
		fmt.Fprintf(m.w, "X-Keywords: %s\n", keywords)
	}
	rest := msg.Body
	for len(rest) > 0 {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if bytes.HasPrefix(line, []byte("From ")) || isQuotedFrom(line) {
			m.w.WriteByte('>')
		}
		m.w.Write(line)
		m.w.WriteByte('\n')
	}
	if err := m.w.WriteByte('\n'); err != nil {
		return err
	}
	m.prog.add(len(msg.Body))
	return nil
}

// Flush writes buffered data to the underlying writer.
func (m *MboxWriter) Flush() error { return m.w.Flush() }

func flagHeaders(flags []string) (status, xstatus, keywords string) {
	var kw []string
	for _, f := range flags {
		switch strings.ToLower(f) {
		case `\seen`:
			status = "RO"
		case `\answered`:
			xstatus += "A"
		case `\flagged`:
			xstatus += "F"
		case `\draft`:
			xstatus += "T"
		case `\deleted`:
			xstatus += "D"
		default:
			if !strings.HasPrefix(f, `\`) {
				kw = append(kw, f)
			}
		}
	}
	if status == "" && (xstatus != "" || len(kw) > 0) {
		status = "O"
	}
	return status, xstatus, strings.Join(kw, " ")
}
