package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkImportMbox measures `imapd import --mbox` end to end (mbox
// parsing, MIME analysis, durable appends) and reports messages per second.
// Each iteration imports 200 messages of about 4 KiB into a fresh account.
func BenchmarkImportMbox(b *testing.B) {
	const n = 200
	var mbox bytes.Buffer
	body := strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n", 70)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&mbox, "From sender@example.org Thu Mar  7 12:00:00 2024\nFrom: sender@example.org\nTo: rcpt@example.org\nSubject: message %d\nMessage-ID: <%d@example.org>\n\n%s\n", i, i, body)
	}
	file := filepath.Join(b.TempDir(), "in.mbox")
	if err := os.WriteFile(file, mbox.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(mbox.Len()))
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		var out, errb bytes.Buffer
		if code := Run(context.Background(), []string{"user", "add", "--data", dir, "bench"}, Env{Stdin: strings.NewReader("pw\n"), Stdout: &out, Stderr: &errb}); code != 0 {
			b.Fatalf("user add: %s", errb.String())
		}
		b.StartTimer()
		if code := Run(context.Background(), []string{"import", "--data", dir, "--mbox", file, "bench"}, Env{Stdout: &out, Stderr: &errb}); code != 0 {
			b.Fatalf("import: %s", errb.String())
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "msgs/s")
}
