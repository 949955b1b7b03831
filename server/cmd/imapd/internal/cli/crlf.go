package cli

import (
	"bufio"
	"io"
)

// crlfReader converts bare LF line endings to CRLF, as IMAP requires of
// stored messages; CRLF pairs pass through unchanged.
type crlfReader struct {
	r       *bufio.Reader
	prevCR  bool
	pending bool // an LF is owed after an inserted CR
}

func newCRLFReader(r io.Reader) *crlfReader {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	return &crlfReader{r: br}
}

func (c *crlfReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if c.pending {
			p[n] = '\n'
			n++
			c.pending = false
			c.prevCR = false
			continue
		}
		if n > 0 && c.r.Buffered() == 0 {
			// Return what we have rather than block for more input.
			return n, nil
		}
		b, err := c.r.ReadByte()
		if err != nil {
			return n, err
		}
		if b == '\n' && !c.prevCR {
			p[n] = '\r'
			n++
			c.pending = true
			continue
		}
		p[n] = b
		n++
		c.prevCR = b == '\r'
	}
	return n, nil
}
