package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// runGen writes a generated mbox file or maildir for import benchmarks.
func runGen(_ context.Context, args []string, stdout, _ io.Writer) error {
	fs := newFlagSet("gen", "gen (--mbox FILE | --maildir DIR) [--messages N] [--size BYTES]",
		`Writes N generated messages of about --size bytes (headers and plain
text, LF line endings) as an mbox file or into a new maildir, for
benchmarking imapd import. Every third message is \Seen, every fifth
\Flagged; internal dates are one second apart. The same flags give the same
messages.`, stdout)
	mbox := fs.String("mbox", "", "mbox file to write")
	maildir := fs.String("maildir", "", "maildir directory to create (cur/, new/, tmp/)")
	n := fs.Int("messages", 20000, "number of messages")
	size := fs.Int("size", 1500, "approximate size of each message in bytes")
	if err := parse(fs, args); err != nil {
		return err
	}
	if (*mbox == "") == (*maildir == "") {
		return fmt.Errorf("%w: give exactly one of --mbox and --maildir", errUsage)
	}
	if *n < 0 || *size < 0 {
		return fmt.Errorf("%w: --messages and --size must not be negative", errUsage)
	}
	base := time.Date(2024, 3, 7, 12, 0, 0, 0, time.UTC)
	if *mbox != "" {
		f, err := os.Create(*mbox)
		if err != nil {
			return err
		}
		w := bufio.NewWriterSize(f, 1<<20)
		for i := range *n {
			fmt.Fprintf(w, "From sender@example.org %s\n", base.Add(time.Duration(i)*time.Second).Format(time.ANSIC))
			if i%3 == 0 {
				w.WriteString("Status: RO\n")
			}
			if i%5 == 0 {
				w.WriteString("X-Status: F\n")
			}
			w.WriteString(genMessage(i, *size))
			w.WriteString("\n")
		}
		if err := w.Flush(); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %d messages to %s\n", *n, *mbox)
		return nil
	}
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(*maildir, d), 0o700); err != nil {
			return err
		}
	}
	for i := range *n {
		info := ""
		if i%5 == 0 {
			info += "F"
		}
		if i%3 == 0 {
			info += "S"
		}
		name := fmt.Sprintf("%d.M%dP1.gen:2,%s", base.Unix()+int64(i), i, info)
		if err := os.WriteFile(filepath.Join(*maildir, "cur", name), []byte(genMessage(i, *size)), 0o600); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "wrote %d messages to %s\n", *n, *maildir)
	return nil
}

// genMessage returns generated message i of about size bytes. Body lines
// never start with "From ", so the mbox needs no quoting.
func genMessage(i, size int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: sender%d@example.org\nTo: rcpt@example.org\nSubject: generated message %d\nDate: Thu, 7 Mar 2024 12:00:00 +0000\nMessage-ID: <gen%d@example.org>\n\n", i%97, i, i)
	const line = "Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n"
	for b.Len()+len(line) <= size {
		b.WriteString(line)
	}
	if b.Len() < size {
		b.WriteString(strings.Repeat("x", size-b.Len()-1) + "\n")
	}
	return b.String()
}
