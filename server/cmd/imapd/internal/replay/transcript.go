// Package replay runs the client side of a recorded IMAP session through
// the generated session machine (package fsm) and reports, for each client
// line, how the server reads it, the state before and after, the rule and
// quirk that decide it, and where the recorded server's answer differs
// from what the spec says the chosen mode answers. A bug report such as
// iOS Apple Mail's tagged command during IDLE becomes a file anyone can
// replay.
//
// # Transcript format
//
// One line of the session per line of the file: "C: " before what the
// client sent, "S: " before what the server sent (RFC 9051's examples
// without the indentation). Lines starting with "#" are comments and lines
// starting with "--" are notes; "-- event NAME" records a machine event
// (autologout, keepalive, tls-ready, shutdown, ...) at that point. A client
// line that ends with a literal announcement ({n}, {n+}, ~{n}) continues
// with the literal: the next client lines up to n bytes, or one line
// "C: <literal n bytes>" as the server's own protocol trace writes it, and
// then the rest of the command on the next client line. Blank lines are
// ignored; an empty client line is "C:" alone.
package replay

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// Entry is one line of a transcript.
type Entry struct {
	// Side is 'C' (client), 'S' (server) or 'E' (an event note).
	Side byte
	// Text is the line without its "C: " or "S: " prefix; for an event,
	// the event's name.
	Text string
	// First is a client command's first segment, up to and including
	// its first literal announcement: what the engine classifies.
	First string
	// HasLiteral is true when First ends with a literal announcement.
	HasLiteral bool
	// LineNo is the line's number in the file.
	LineNo int
}

var literalAtEnd = regexp.MustCompile(`~?\{(\d+)\+?\}$`)

// redactedLiteral is how a protocol trace writes a literal's bytes.
var redactedLiteral = regexp.MustCompile(`^<literal (\d+) bytes[^>]*>$`)

// Parse reads a transcript. Client lines that continue across literals are
// joined into one entry whose text keeps the announcement and replaces the
// literal's bytes by nothing, so that each client entry is one command or
// continuation line as the engine reads it.
func Parse(r io.Reader) ([]Entry, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var out []Entry
	pending := -1  // index of a client command waiting for its literal
	var need int64 // literal bytes still to skip
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		switch {
		case strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#"):
			continue
		case strings.HasPrefix(line, "--"):
			note := strings.TrimSpace(strings.TrimPrefix(line, "--"))
			if ev, ok := strings.CutPrefix(note, "event "); ok {
				out = append(out, Entry{Side: 'E', Text: strings.TrimSpace(ev), LineNo: n})
			}
			continue
		}
		side, text, ok := splitSide(line)
		if !ok {
			return nil, fmt.Errorf("line %d: want \"C: \", \"S: \", \"#\" or \"--\" at the start, got %q", n, clip(line))
		}
		if side == 'S' {
			out = append(out, Entry{Side: 'S', Text: text, LineNo: n})
			continue
		}
		if pending >= 0 && need > 0 {
			// Literal bytes: a trace's placeholder, or the bytes
			// themselves, possibly followed on the same line by the rest
			// of the command.
			switch {
			case redactedLiteral.MatchString(text):
				need = 0
				continue
			case int64(len(text)) < need:
				need = max(need-int64(len(text))-2, 0)
				continue
			}
			text = text[need:]
			need = 0
		}
		if pending >= 0 {
			out[pending].Text += text
		} else {
			out = append(out, Entry{Side: 'C', Text: text, First: text, LineNo: n})
			pending = len(out) - 1
		}
		if m := literalAtEnd.FindStringSubmatch(text); m != nil {
			if !out[pending].HasLiteral {
				out[pending].HasLiteral = true
				out[pending].First = out[pending].Text
			}
			need, _ = strconv.ParseInt(m[1], 10, 64)
			continue
		}
		pending = -1
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func splitSide(line string) (byte, string, bool) {
	for _, side := range []byte{'C', 'S'} {
		p := string(side) + ":"
		if line == p {
			return side, "", true
		}
		if rest, ok := strings.CutPrefix(line, p+" "); ok {
			return side, rest, true
		}
	}
	return 0, "", false
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}
