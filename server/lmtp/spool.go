package lmtp

import (
	"bufio"
	"bytes"
	"io"
	"os"
)

// spool holds the data of one message so that it can be read once per
// account: in memory up to memLimit bytes, in a temporary file beyond.
type spool struct {
	dir      string
	memLimit int

	mem  []byte
	f    *os.File
	fw   *bufio.Writer
	name string // set while the file could not be unlinked yet
	size int64
}

func newSpool(dir string, memLimit int) *spool {
	return &spool{dir: dir, memLimit: memLimit}
}

// Write appends p to the spool.
func (sp *spool) Write(p []byte) (int, error) {
	if sp.f == nil {
		if len(sp.mem)+len(p) <= sp.memLimit {
			sp.mem = append(sp.mem, p...)
			sp.size += int64(len(p))
			return len(p), nil
		}
		if err := sp.toFile(); err != nil {
			return 0, err
		}
	}
	n, err := sp.fw.Write(p)
	sp.size += int64(n)
	return n, err
}

func (sp *spool) toFile() error {
	f, err := os.CreateTemp(sp.dir, "lmtp-*.tmp")
	if err != nil {
		return err
	}
	// Unlinked at once, the file cannot outlive the process, even after a
	// crash. Systems that refuse to remove an open file get it removed by
	// Close.
	if os.Remove(f.Name()) != nil {
		sp.name = f.Name()
	}
	sp.f = f
	sp.fw = bufio.NewWriterSize(f, 64<<10)
	if _, err := sp.fw.Write(sp.mem); err != nil {
		return err
	}
	sp.mem = nil
	return nil
}

// finish makes everything written readable.
func (sp *spool) finish() error {
	if sp.fw != nil {
		return sp.fw.Flush()
	}
	return nil
}

// reader returns a new reader of the whole content; readers are
// independent and may be used concurrently.
func (sp *spool) reader() io.Reader {
	if sp.f != nil {
		return io.NewSectionReader(sp.f, 0, sp.size)
	}
	return bytes.NewReader(sp.mem)
}

// Close releases the memory or the file.
func (sp *spool) Close() error {
	sp.mem = nil
	if sp.f == nil {
		return nil
	}
	err := sp.f.Close()
	if sp.name != "" {
		_ = os.Remove(sp.name)
	}
	sp.f, sp.fw = nil, nil
	return err
}
