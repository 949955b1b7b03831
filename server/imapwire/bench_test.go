package imapwire

import (
	"bufio"
	"bytes"
	"io"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// loopReader returns data over and over, like a client that keeps sending
// the same command.
type loopReader struct {
	data []byte
	off  int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := copy(p, r.data[r.off:])
	r.off = (r.off + n) % len(r.data)
	return n, nil
}

// appendCommand returns an APPEND command with a 1 MiB message and the
// message.
func appendCommand() (cmd, msg []byte) {
	msg = bytes.Repeat([]byte("Lorem ipsum dolor sit amet, consectetur adipiscing.\r\n"), (1<<20)/53)
	cmd = []byte("A1 APPEND INBOX (\\Seen) {" + strconv.Itoa(len(msg)) + "+}\r\n")
	cmd = append(cmd, msg...)
	cmd = append(cmd, "\r\n"...)
	return cmd, msg
}

// BenchmarkCopyAppendCommand is the peer of BenchmarkDecodeAppendLiteral:
// it moves the same bytes through a bufio.Reader of the same size into
// io.Discard without looking at them, the most a decoder could do.
func BenchmarkCopyAppendCommand(b *testing.B) {
	cmd, _ := appendCommand()
	br := bufio.NewReaderSize(&loopReader{data: cmd}, readBufferSize)
	b.SetBytes(int64(len(cmd)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := io.CopyN(io.Discard, br, int64(len(cmd))); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeAppendLiteral measures decoding an APPEND command whose
// 1 MiB message is streamed through AppendLiteral.
func BenchmarkDecodeAppendLiteral(b *testing.B) {
	cmd, msg := appendCommand()
	d := NewDecoder(&loopReader{data: cmd}, DefaultLimits())
	d.SetContinuationFunc(func(LiteralInfo) error { return nil })
	b.SetBytes(int64(len(cmd)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		line, err := d.ReadLine()
		if err != nil {
			b.Fatal(err)
		}
		c, err := ParseCommand(line.Text)
		if err != nil {
			b.Fatal(err)
		}
		a := d.Args(c.ArgsStart)
		_ = a.SP()
		_, _ = a.Mailbox()
		_ = a.SP()
		_, _ = a.FlagList()
		_ = a.SP()
		r, err := a.AppendLiteral()
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, r)
		if err != nil || n != int64(len(msg)) {
			b.Fatalf("copied %d, %v", n, err)
		}
		if err := a.End(); err != nil {
			b.Fatal(err)
		}
	}
}

// encodeFetch writes one FETCH response with a literal body.
func encodeFetch(e *Encoder, seq uint32, body []byte) {
	e.Untagged().Number(seq).SP().Atom("FETCH").SP().OpenList().
		Atom("UID").SP().Number(seq + 1000).SP().
		Atom("FLAGS").SP().OpenList().Atom(`\Seen`).SP().Atom(`\Answered`).CloseList().SP().
		Atom("RFC822.SIZE").SP().Number(uint32(len(body))).SP().
		Atom("INTERNALDATE").SP().Quoted("17-Jul-1996 02:44:25 -0700").SP().
		Atom("BODY[]").SP().LiteralBytes(body).
		CloseList().CRLF()
}

// BenchmarkEncodeFetch measures encoding FETCH responses carrying a 64 KiB
// message body.
func BenchmarkEncodeFetch(b *testing.B) {
	body := bytes.Repeat([]byte("Lorem ipsum dolor sit amet, consectetur adipiscing.\r\n"), (64<<10)/53)
	var probe bytes.Buffer
	pe := NewEncoder(&probe)
	encodeFetch(pe, 1, body)
	require.NoError(b, pe.Flush())
	e := NewEncoder(io.Discard)
	b.SetBytes(int64(probe.Len()))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		encodeFetch(e, 1, body)
	}
	require.NoError(b, e.Flush())
}

// BenchmarkEncodeFetchSmall measures the per-response overhead of FETCH
// responses without a body (flag updates).
func BenchmarkEncodeFetchSmall(b *testing.B) {
	var probe bytes.Buffer
	pe := NewEncoder(&probe)
	encodeFetch(pe, 12345, nil)
	require.NoError(b, pe.Flush())
	e := NewEncoder(io.Discard)
	b.SetBytes(int64(probe.Len()))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		encodeFetch(e, 12345, nil)
	}
	require.NoError(b, e.Flush())
}

// BenchmarkDecodeCommand measures a typical small command line.
func BenchmarkDecodeCommand(b *testing.B) {
	cmd := []byte("A0042 UID FETCH 1:*,5,9:12 (FLAGS UID)\r\n")
	d := NewDecoder(&loopReader{data: cmd}, DefaultLimits())
	b.SetBytes(int64(len(cmd)))
	b.ReportAllocs()
	for b.Loop() {
		line, err := d.ReadLine()
		if err != nil {
			b.Fatal(err)
		}
		c, err := ParseCommand(line.Text)
		if err != nil {
			b.Fatal(err)
		}
		a := d.Args(c.ArgsStart)
		_ = a.SP()
		if _, err := a.SeqSet(); err != nil {
			b.Fatal(err)
		}
		_ = a.SP()
		if err := a.List(func() error { _, err := a.Keyword(); return err }); err != nil {
			b.Fatal(err)
		}
		if err := a.End(); err != nil {
			b.Fatal(err)
		}
	}
}
