package server

import (
	"errors"
	"io"
	"os"
	"time"

	"github.com/imapfsm/imapfsm/server/store"
)

// appendSpool holds the messages of one APPEND (or REPLACE) command until
// the whole command has arrived, so that they are stored together or not
// at all (MULTIAPPEND, RFC 3502): nothing reaches the store before the
// command's last byte has been read and checked. Messages are kept in
// memory while the command's in-memory total stays within
// Config.AppendSpoolMemory; the rest go, one after another, into a single
// temporary file of the command, which is unlinked as soon as it is created
// (only the open handle refers to it, so a crash leaves nothing behind) and
// closed by close.
type appendSpool struct {
	dir     string
	memLeft int64
	file    *os.File
	fileEnd int64
	total   int64
	msgs    []spooledMessage
}

// spooledMessage is one received message of an appendSpool.
type spooledMessage struct {
	flags []string
	date  time.Time
	// mem holds the body when it is kept in memory; otherwise the body is
	// the size bytes of the spool file at off.
	mem  []byte
	off  int64
	size int64
}

// newAppendSpool returns an empty spool with the configured bounds.
func (c *conn) newAppendSpool() *appendSpool {
	return &appendSpool{dir: c.srv.cfg.SpoolDir, memLeft: c.srv.cfg.AppendSpoolMemory}
}

// errSpool marks a failure of the spool's temporary file (a full disk),
// which is the server's problem, not the client's.
var errSpool = errors.New("server: cannot spool the APPEND message")

// add reads one message of size bytes from r to its end and keeps it. An
// error reading r is returned as it is (the connection failed); an error of
// the temporary file wraps errSpool.
func (s *appendSpool) add(flags []string, date time.Time, r io.Reader, size int64) error {
	m := spooledMessage{flags: flags, date: date, size: size}
	if size <= s.memLeft {
		m.mem = make([]byte, size)
		if _, err := io.ReadFull(r, m.mem); err != nil {
			return err
		}
		s.memLeft -= size
	} else {
		if s.file == nil {
			f, err := os.CreateTemp(s.dir, "imapd-append-*")
			if err != nil {
				return errors.Join(errSpool, err)
			}
			// Unlinked at once: the handle keeps the data until close.
			_ = os.Remove(f.Name())
			s.file = f
		}
		m.off = s.fileEnd
		n, err := io.Copy(&offsetWriter{f: s.file, off: m.off}, io.LimitReader(r, size))
		var werr *spoolWriteError
		switch {
		case errors.As(err, &werr):
			return errors.Join(errSpool, werr.err)
		case err != nil:
			return err
		case n < size:
			return io.ErrUnexpectedEOF
		}
		s.fileEnd += size
	}
	s.total += size
	s.msgs = append(s.msgs, m)
	return nil
}

// messages returns the spooled messages for the store, each body read
// from its start.
func (s *appendSpool) messages() []store.NewMessage {
	out := make([]store.NewMessage, len(s.msgs))
	for i, m := range s.msgs {
		var body io.Reader
		if m.mem != nil {
			body = &memBody{b: m.mem}
		} else {
			body = io.NewSectionReader(s.file, m.off, m.size)
		}
		out[i] = store.NewMessage{Flags: m.flags, InternalDate: m.date, Body: body}
	}
	return out
}

// close releases the temporary file, if any.
func (s *appendSpool) close() {
	if s.file != nil {
		_ = s.file.Close()
		s.file = nil
	}
	s.msgs = nil
}

// memBody reads a message kept in memory.
type memBody struct{ b []byte }

// Read implements io.Reader.
func (m *memBody) Read(p []byte) (int, error) {
	if len(m.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, m.b)
	m.b = m.b[n:]
	return n, nil
}

// offsetWriter writes sequentially into f from off on.
type offsetWriter struct {
	f   *os.File
	off int64
}

// Write implements io.Writer; its errors are spoolWriteErrors, so that
// they are told apart from the errors of the connection being read.
func (w *offsetWriter) Write(p []byte) (int, error) {
	n, err := w.f.WriteAt(p, w.off)
	w.off += int64(n)
	if err != nil {
		return n, &spoolWriteError{err}
	}
	return n, nil
}

// spoolWriteError is an error of the spool file.
type spoolWriteError struct{ err error }

func (e *spoolWriteError) Error() string { return e.err.Error() }
