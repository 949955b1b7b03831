package mailio

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// MaildirFolder is one folder of a Maildir++ tree.
type MaildirFolder struct {
	// Name is the IMAP mailbox name with '/' as separator; the root
	// maildir is "INBOX".
	Name string
	// Path is the folder's directory.
	Path string
}

// ListMaildirFolders returns the root maildir (as INBOX) and its Maildir++
// sub-folders (".A.B" becomes "A/B"), sorted by name. A directory counts as
// a maildir if it has a cur or new sub-directory.
func ListMaildirFolders(root string) ([]MaildirFolder, error) {
	var out []MaildirFolder
	if isMaildir(root) {
		out = append(out, MaildirFolder{Name: "INBOX", Path: root})
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		n := e.Name()
		if !e.IsDir() || len(n) < 2 || n[0] != '.' || n == ".." {
			continue
		}
		p := filepath.Join(root, n)
		if !isMaildir(p) {
			continue
		}
		out = append(out, MaildirFolder{Name: strings.ReplaceAll(n[1:], ".", "/"), Path: p})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func isMaildir(dir string) bool {
	for _, sub := range []string{"cur", "new"} {
		if fi, err := os.Stat(filepath.Join(dir, sub)); err == nil && fi.IsDir() {
			return true
		}
	}
	return false
}

// ReadMaildir reads the messages of one maildir (new/ then cur/, each sorted
// by file name, which starts with the delivery time) and calls fn for each.
// tmp/ is ignored: it holds deliveries in progress.
func ReadMaildir(dir string, opts Options, fn func(*Message) error) error {
	keywords, err := readDovecotKeywords(dir)
	if err != nil {
		return err
	}
	prog := counter{fn: opts.Progress}
	limit := opts.max()
	for _, sub := range []string{"new", "cur"} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return err
		}
		for _, e := range entries {
			if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			p := filepath.Join(dir, sub, e.Name())
			info, err := e.Info()
			if err != nil {
				return err
			}
			if info.Size() > int64(limit) {
				return fmt.Errorf("%w: %s", ErrTooBig, p)
			}
			body, err := readLimited(p, limit, info.Size())
			if err != nil {
				return err
			}
			msg := &Message{Body: body, InternalDate: info.ModTime()}
			if sub == "cur" {
				msg.Flags = MaildirFlags(e.Name(), keywords)
			}
			if err := fn(msg); err != nil {
				return err
			}
			prog.add(len(body))
		}
	}
	return nil
}

// readLimited reads the file at path, of about size bytes (its size when
// listed), failing with ErrTooBig beyond limit bytes.
func readLimited(path string, limit int, size int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// One buffer of the listed size (and a little more, to see the end
	// of the file) instead of io.ReadAll's growing ones.
	b := make([]byte, 0, min(size, int64(limit))+512)
	for len(b) <= limit {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if len(b) > limit {
		return nil, fmt.Errorf("%w: %s", ErrTooBig, path)
	}
	return b, nil
}

// MaildirFlags returns the IMAP flags encoded in a maildir file name's
// ":2,<letters>" (or "!2,<letters>") suffix. keywords maps the lower-case
// letters 'a'..'z' to keyword names (index 0 is 'a'); it may be nil.
func MaildirFlags(name string, keywords []string) []string {
	i := strings.LastIndex(name, ":2,")
	if i < 0 {
		i = strings.LastIndex(name, "!2,")
	}
	if i < 0 {
		return nil
	}
	var flags []string
	for _, c := range name[i+3:] {
		switch {
		case c == 'F':
			flags = append(flags, `\Flagged`)
		case c == 'R':
			flags = append(flags, `\Answered`)
		case c == 'S':
			flags = append(flags, `\Seen`)
		case c == 'T':
			flags = append(flags, `\Deleted`)
		case c == 'D':
			flags = append(flags, `\Draft`)
		case c >= 'a' && c <= 'z':
			if idx := int(c - 'a'); idx < len(keywords) && keywords[idx] != "" {
				flags = append(flags, keywords[idx])
			}
		}
	}
	return flags
}

// readDovecotKeywords reads the optional "dovecot-keywords" file of a
// maildir: lines "<index> <keyword>".
func readDovecotKeywords(dir string) ([]string, error) {
	f, err := os.Open(filepath.Join(dir, "dovecot-keywords"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	defer f.Close()
	kw := make([]string, 26)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		idx, name, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		n, err := strconv.Atoi(idx)
		if !ok || err != nil || n < 0 || n >= len(kw) {
			continue
		}
		kw[n] = strings.TrimSpace(name)
	}
	return kw, sc.Err()
}
