package imapwire

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// countingReader counts the bytes handed to the decoder.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// isDocumentedError reports whether err is one of the error values this
// package documents.
func isDocumentedError(err error) bool {
	var pe *Error
	var le *LiteralTooLargeError
	return errors.As(err, &pe) || errors.As(err, &le) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// fuzzLimits are small so that the fuzzer reaches every limit quickly.
var fuzzLimits = Limits{MaxLine: 64, MaxLiteral: 32, MaxAppendLiteral: 128, MaxDepth: 8}

// FuzzDecoder drives a miniature engine over arbitrary client input and
// checks the decoder's invariants: no panic, nothing returned or buffered
// beyond the limits, continuation requested only for acceptable
// synchronising literals, every error typed, and progress on every line.
// The seed corpus in testdata/fuzz/FuzzDecoder holds client quirks.
func FuzzDecoder(f *testing.F) {
	f.Add([]byte("A1 NOOP\r\n"))
	f.Fuzz(func(t *testing.T, input []byte) {
		lim := fuzzLimits
		cr := &countingReader{r: strings.NewReader(string(input))}
		d := NewDecoder(cr, lim)
		d.SetContinuationFunc(func(info LiteralInfo) error {
			if !info.Sync {
				t.Fatalf("continuation for non-synchronising literal %+v", info)
			}
			if info.Size < 0 || info.Size > lim.MaxAppendLiteral {
				t.Fatalf("continuation for literal over every limit: %+v", info)
			}
			return nil
		})
		check := func(err error) bool {
			if err == nil {
				return true
			}
			if !isDocumentedError(err) {
				t.Fatalf("undocumented error %T: %v", err, err)
			}
			if r := Reason(err); r == "" || strings.ContainsAny(r, "\r\n") {
				t.Fatalf("bad reason %q", r)
			}
			if cap(d.buf) > lim.MaxLine+2 {
				t.Fatalf("line buffer grew to %d", cap(d.buf))
			}
			if IsFatal(err) {
				return false
			}
			if err := d.Discard(); err != nil {
				if !IsFatal(err) || !isDocumentedError(err) {
					t.Fatalf("Discard: unexpected error %v", err)
				}
				return false
			}
			return true
		}
		for lines := 0; lines <= len(input)+1; lines++ {
			line, err := d.ReadLine()
			if len(line.Text) > lim.MaxLine {
				t.Fatalf("line of %d bytes returned", len(line.Text))
			}
			if err != nil {
				if !check(err) {
					break
				}
				continue
			}
			cmd, err := ParseCommand(line.Text)
			if err != nil {
				if !errors.Is(err, ErrSyntax) {
					t.Fatalf("ParseCommand: %v", err)
				}
				continue
			}
			a := d.Args(cmd.ArgsStart)
			if !check(fuzzCommand(t, d, a, cmd.Name, lim)) {
				break
			}
		}
		if cr.n > len(input) {
			t.Fatalf("read %d bytes of %d", cr.n, len(input))
		}
	})
}

// fuzzCommand reads the arguments of one command the way handlers would.
func fuzzCommand(t *testing.T, d *Decoder, a *ArgReader, name string, lim Limits) error {
	switch name {
	case "ENABLE":
		d.SetUTF8(true)
	case "APPEND":
		if err := a.SP(); err != nil {
			return err
		}
		if _, err := a.Mailbox(); err != nil {
			return err
		}
		if err := a.SP(); err != nil {
			return err
		}
		if c, _ := a.Peek(); c == '(' {
			if _, err := a.FlagList(); err != nil {
				return err
			}
			if err := a.SP(); err != nil {
				return err
			}
		}
		if c, _ := a.Peek(); c == '"' {
			if _, err := a.DateTime(); err != nil {
				return err
			}
			if err := a.SP(); err != nil {
				return err
			}
		}
		r, err := a.AppendLiteral()
		if err != nil {
			return err
		}
		if r.Size() > lim.MaxAppendLiteral {
			t.Fatalf("append literal of %d accepted", r.Size())
		}
		n, err := io.Copy(io.Discard, r)
		if err != nil {
			return err
		}
		if n != r.Size() {
			t.Fatalf("append literal yielded %d of %d bytes", n, r.Size())
		}
		return a.End()
	case "SELECT", "EXAMINE", "CREATE", "DELETE":
		if err := a.SP(); err != nil {
			return err
		}
		if _, err := a.Mailbox(); err != nil {
			return err
		}
		return a.End()
	}
	for !a.AtEnd() {
		if err := a.SP(); err != nil {
			return err
		}
		if err := fuzzValue(t, a, lim); err != nil {
			return err
		}
	}
	return a.End()
}

// fuzzValue reads one value of any kind, choosing by its first byte.
func fuzzValue(t *testing.T, a *ArgReader, lim Limits) error {
	c, _ := a.Peek()
	switch {
	case c == '(':
		return a.List(func() error { return fuzzValue(t, a, lim) })
	case c == '\\':
		_, err := a.Flag()
		return err
	case c >= '0' && c <= '9' || c == '*' || c == '$':
		s, err := a.SeqSet()
		if err == nil {
			_ = s.Count(100)
		}
		return err
	case c == '"':
		_, err := a.Quoted()
		return err
	case c == '{' || c == '~':
		if _, ok := a.PeekLiteral(); ok {
			b, err := a.Literal()
			if int64(len(b)) > lim.MaxLiteral {
				t.Fatalf("literal of %d bytes returned", len(b))
			}
			return err
		}
	}
	_, err := a.AString()
	return err
}
