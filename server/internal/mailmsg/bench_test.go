package mailmsg

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

// oneMiBMessage builds a 1 MiB multipart message: a text part and a base64
// attachment, the shape of a typical large mail.
func oneMiBMessage() []byte {
	var b bytes.Buffer
	b.WriteString(crlf("From: a@example.org\nTo: b@example.com\nSubject: big\nDate: Tue, 1 Apr 2025 10:00:00 +0200\nContent-Type: multipart/mixed; boundary=xyz\n\n--xyz\nContent-Type: text/plain; charset=utf-8\n\n"))
	b.WriteString(strings.Repeat("Some text in the first part of the message.\r\n", 200))
	b.WriteString(crlf("--xyz\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"))
	line := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xA5, 0x5A, 0x3C}, 19)) + "\r\n"
	for b.Len() < 1<<20-len(line)-16 {
		b.WriteString(line)
	}
	b.WriteString("--xyz--\r\n")
	return b.Bytes()
}

func BenchmarkAnalyze1MiB(b *testing.B) {
	msg := oneMiBMessage()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Analyze(bytes.NewReader(msg)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMatchBody1MiB(b *testing.B) {
	msg := oneMiBMessage()
	st, err := analyzeStructure(bytes.NewReader(msg))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := MatchBody(bytes.NewReader(msg), st, "not present"); err != nil {
			b.Fatal(err)
		}
	}
}
