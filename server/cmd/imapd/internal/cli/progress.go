package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progressRedraw is the shortest time between two redraws of the progress
// bar on a terminal.
const progressRedraw = 200 * time.Millisecond

// progress reports how far an import or export is: on a terminal as one
// redrawn line with a bar (when the total is known), elsewhere as a line
// every `every` messages and at least every progressInterval.
type progress struct {
	w     io.Writer
	tty   bool
	every int // line mode: messages between lines (0: none)
	verb  string
	name  string
	total float64 // expected messages or bytes; 0 when unknown
	start time.Time

	last  time.Time
	drawn bool
}

// isTerminal reports whether w is a character device such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0 && os.Getenv("TERM") != "dumb"
}

func newProgress(w io.Writer, every int, verb, name string, total float64) *progress {
	now := time.Now()
	return &progress{w: w, tty: isTerminal(w), every: every, verb: verb, name: name, total: total, start: now, last: now}
}

// update reports n messages and size bytes done; done is the quantity the
// total counts (messages or bytes).
func (p *progress) update(n int, size int64, done float64) {
	now := time.Now()
	if p.tty {
		if now.Sub(p.last) < progressRedraw {
			return
		}
		p.last, p.drawn = now, true
		bar := ""
		if p.total > 0 {
			frac := min(done/p.total, 1)
			const width = 24
			full := int(frac * width)
			bar = fmt.Sprintf("[%s%s] %3d%% ", strings.Repeat("#", full), strings.Repeat(".", width-full), int(frac*100))
		}
		fmt.Fprintf(p.w, "\r\x1b[K%s %s %s%d messages, %s, %.0f msgs/s", p.verb, p.name, bar, n, humanBytes(size), rate(n, now.Sub(p.start)))
		return
	}
	if p.every > 0 && n > 0 && (n%p.every == 0 || now.Sub(p.last) >= progressInterval) {
		fmt.Fprintf(p.w, "%s: %s: %d messages, %s\n", p.verb, p.name, n, humanBytes(size))
		p.last = now
	}
}

// clear removes the bar from the terminal before the summary line.
func (p *progress) clear() {
	if p.tty && p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}

func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// summary is the closing line of an import or export: messages, bytes,
// where, seconds and messages per second.
func summary(verb string, n int, size int64, where string, d time.Duration) string {
	return fmt.Sprintf("%s %d messages (%s) %s in %.2f s, %.0f msgs/s", verb, n, humanBytes(size), where, d.Seconds(), rate(n, d))
}
