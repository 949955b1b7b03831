package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// smallMessage returns message i of the generated import sources: about
// 1.5 KiB of headers and text, with LF line endings as in mbox files.
func smallMessage(i int) string {
	return fmt.Sprintf("From: sender%d@example.org\nTo: rcpt@example.org\nSubject: message %d\nDate: Thu, 7 Mar 2024 12:00:00 +0000\nMessage-ID: <%d@example.org>\n\n%s",
		i%97, i, i, strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n", 24))
}

// writeSmallMbox writes n small messages as an mbox file, every third one
// seen, every fifth flagged.
func writeSmallMbox(tb testing.TB, file string, n int) int64 {
	tb.Helper()
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, "From sender@example.org Thu Mar  7 12:%02d:%02d 2024\n", (i/60)%60, i%60)
		if i%3 == 0 {
			b.WriteString("Status: RO\n")
		}
		if i%5 == 0 {
			b.WriteString("X-Status: F\n")
		}
		b.WriteString(smallMessage(i))
		b.WriteString("\n")
	}
	if err := os.WriteFile(file, b.Bytes(), 0o600); err != nil {
		tb.Fatal(err)
	}
	return int64(b.Len())
}

// writeSmallMaildir writes n small messages into a maildir, every third
// one seen, every fifth flagged.
func writeSmallMaildir(tb testing.TB, dir string, n int) int64 {
	tb.Helper()
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			tb.Fatal(err)
		}
	}
	var total int64
	base := time.Date(2024, 3, 7, 12, 0, 0, 0, time.UTC).Unix()
	for i := range n {
		info := ""
		if i%5 == 0 {
			info += "F"
		}
		if i%3 == 0 {
			info += "S"
		}
		name := fmt.Sprintf("%d.M%dP1.bench:2,%s", base+int64(i), i, info)
		body := smallMessage(i)
		path := filepath.Join(dir, "cur", name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			tb.Fatal(err)
		}
		// The internal date of a maildir message is its file's mtime.
		mtime := time.Unix(base+int64(i), 0)
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			tb.Fatal(err)
		}
		total += int64(len(body))
	}
	return total
}

// BenchmarkImportSmall measures `imapd import` end to end (parsing, MIME
// analysis, batched durable appends, store open and close) of 10,000 small
// messages (about 1.5 KiB) from an mbox file and from a maildir into a
// fresh account, and reports messages per second.
func BenchmarkImportSmall(b *testing.B) {
	const n = 10000
	src := b.TempDir()
	mbox := filepath.Join(src, "in.mbox")
	maildir := filepath.Join(src, "maildir")
	sizes := map[string]int64{
		"mbox":    writeSmallMbox(b, mbox, n),
		"maildir": writeSmallMaildir(b, maildir, n),
	}
	for _, kind := range []string{"mbox", "maildir"} {
		b.Run(kind, func(b *testing.B) {
			b.SetBytes(sizes[kind])
			args := []string{"--mbox", mbox}
			if kind == "maildir" {
				args = []string{"--maildir", maildir}
			}
			for b.Loop() {
				b.StopTimer()
				dir := b.TempDir()
				var out, errb bytes.Buffer
				if code := Run(context.Background(), []string{"user", "add", "--data", dir, "bench"}, Env{Stdin: strings.NewReader("pw\n"), Stdout: &out, Stderr: &errb}); code != 0 {
					b.Fatalf("user add: %s", errb.String())
				}
				b.StartTimer()
				cmd := append([]string{"import", "--data", dir}, args...)
				if code := Run(context.Background(), append(cmd, "bench"), Env{Stdout: &out, Stderr: &errb}); code != 0 {
					b.Fatalf("import: %s", errb.String())
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
