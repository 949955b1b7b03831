package cli

import (
	"bufio"
	"bytes"
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

// toCRLF returns b with every bare LF turned into CRLF, as crlfReader
// would, without a copy when b has no bare LF.
func toCRLF(b []byte) []byte {
	bare := 0
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			bare++
		}
	}
	if bare == 0 {
		return b
	}
	out := make([]byte, 0, len(b)+bare)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, b...)
			break
		}
		if i > 0 && b[i-1] == '\r' {
			out = append(out, b[:i+1]...)
		} else {
			out = append(append(out, b[:i]...), '\r', '\n')
		}
		b = b[i+1:]
	}
	return out
}
