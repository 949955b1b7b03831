package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/mailio"
)

// progressInterval is the longest time between two progress lines.
const progressInterval = 5 * time.Second

func runImport(ctx context.Context, args []string, env Env) error {
	fs := newFlags("import", "import --data DIR (--mbox FILE | --maildir DIR) [--mailbox NAME] [--folders] [--progress N] [--skip N] USER",
		`Appends every message of an mbox file (mboxrd; Status/X-Status/X-Keywords
headers become flags) or of a maildir (flags from the ":2," file name suffix)
to a mailbox of USER, creating the mailbox when missing. On a terminal,
standard error shows a progress bar; otherwise a progress line is printed
every --progress messages and at least every few seconds. A summary
(messages, bytes, seconds, messages per second) is printed to standard
output at the end.

Messages are stored in batches; a batch is durable before the next counts
as imported. If the import is interrupted or fails, every message before
the batch in progress is stored and the batch in progress is not (except
with a store that cannot batch, where each message is stored on its own);
the message says how many are stored, and --skip N continues after them.`, env.Stdout)
	data := dataFlag(fs, "")
	storeURL := storeFlag(fs)
	mboxFile := fs.String("mbox", "", "mbox file to import (\"-\" for standard input)")
	maildir := fs.String("maildir", "", "maildir directory to import (the directory holding cur/ and new/)")
	mailbox := fs.String("mailbox", store.Inbox, "destination mailbox")
	folders := fs.Bool("folders", false, "with --maildir, also import Maildir++ sub-folders (.A.B becomes mailbox A/B below --mailbox, or at top level when --mailbox is INBOX)")
	every := fs.Int("progress", 1000, "without a terminal, print a progress line every N messages (0 disables progress lines)")
	skip := fs.Int("skip", 0, "skip the first N messages of the sources (to continue an interrupted import)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, "USER"); err != nil {
		return err
	}
	if err := needStore(fs, *data, *storeURL); err != nil {
		return err
	}
	if (*mboxFile == "") == (*maildir == "") {
		return usageErr("import: give exactly one of --mbox FILE or --maildir DIR")
	}
	if *folders && *maildir == "" {
		return usageErr("import: --folders needs --maildir")
	}
	if *every < 0 || *skip < 0 {
		return usageErr("import: --progress and --skip must not be negative")
	}
	dest, err := store.NormalizeMailboxName(*mailbox, 0)
	if err != nil {
		return usageErr("import: invalid mailbox name %q", *mailbox)
	}

	// Collect the sources before touching the store, so that a typo in a
	// path does not leave an empty mailbox behind.
	type source struct {
		mailbox string
		read    func(mailio.Options, func(*mailio.Message) error) error
		what    string
		total   float64 // expected bytes (mbox) or messages (maildir); 0 unknown
		bytes   bool    // total counts bytes
	}
	var sources []source
	if *mboxFile != "" {
		var r io.Reader = env.Stdin
		if *mboxFile != "-" {
			f, err := os.Open(*mboxFile)
			if err != nil {
				return fmt.Errorf("import: %w", err)
			}
			defer f.Close()
			r = f
		}
		var total float64
		if f, ok := r.(*os.File); ok && f != os.Stdin {
			if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
				total = float64(fi.Size())
			}
		}
		sources = append(sources, source{dest, func(o mailio.Options, fn func(*mailio.Message) error) error {
			return mailio.ReadMbox(r, o, fn)
		}, *mboxFile, total, true})
	} else {
		fi, err := os.Stat(*maildir)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("import: %s is not a directory", *maildir)
		}
		folderList := []mailio.MaildirFolder{{Name: store.Inbox, Path: *maildir}}
		if *folders {
			if folderList, err = mailio.ListMaildirFolders(*maildir); err != nil {
				return fmt.Errorf("import: %w", err)
			}
		} else if !hasSubdir(*maildir, "cur") && !hasSubdir(*maildir, "new") {
			return fmt.Errorf("import: %s is not a maildir (no cur/ or new/ directory)", *maildir)
		}
		for _, f := range folderList {
			target := dest
			if f.Name != store.Inbox {
				if dest == store.Inbox {
					target = f.Name
				} else {
					target = dest + string(store.Separator) + f.Name
				}
			}
			if target, err = store.NormalizeMailboxName(target, 0); err != nil {
				return fmt.Errorf("import: maildir folder %s has no usable mailbox name", f.Path)
			}
			path := f.Path
			sources = append(sources, source{target, func(o mailio.Options, fn func(*mailio.Message) error) error {
				return mailio.ReadMaildir(path, o, fn)
			}, path, float64(countEntries(path, "cur") + countEntries(path, "new")), false})
		}
	}

	st, err := openStoreAt(ctx, *data, *storeURL, nil)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer st.Close()
	u, err := st.OpenUser(ctx, pos[0])
	if errors.Is(err, store.ErrNoSuchUser) {
		return fmt.Errorf("import: no account %q", pos[0])
	} else if err != nil {
		return fmt.Errorf("import: %w", err)
	}

	// An interrupt stops the import at a batch boundary, so the summary
	// can say how many messages are stored (see the contract in doc.go).
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The live heap stays small (two batches of at most importBatchBytes),
	// so the collector would run every few hundred messages at the
	// default setting.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	var total, seen int
	var totalBytes int64
	began := time.Now()
	for _, src := range sources {
		if err := ensureMailbox(ctx, u, src.mailbox); err != nil {
			return fmt.Errorf("import: mailbox %q: %w", src.mailbox, err)
		}
		var n, dropped int
		var size int64
		start := time.Now()
		prog := newProgress(env.Stderr, *every, "import", src.mailbox, src.total)
		var read int64 // source bytes read, for the bar of an mbox
		// done accounts for one stored message; it runs in the batch's
		// goroutine, one batch at a time, and n and size are read only
		// once the batch is waited for.
		done := func(m *mailio.Message) {
			n++
			size += int64(len(m.Body))
			if !prog.tty || src.total == 0 {
				prog.update(n, size, 0)
			}
			if importStoredHook != nil {
				importStoredHook(n)
			}
		}
		b := newImportBatch(u, src.mailbox, done)
		err := src.read(mailio.Options{Progress: func(_ int, bytes int64) { read = bytes }}, func(m *mailio.Message) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if seen++; seen <= *skip {
				return nil
			}
			flags, bad := usableFlags(m.Flags)
			dropped += bad
			if prog.tty && src.total > 0 {
				if src.bytes {
					prog.update(b.queued+1, read, float64(read))
				} else {
					prog.update(b.queued+1, read, float64(b.queued+1))
				}
			}
			return b.add(ctx, m, flags)
		})
		if err == nil {
			err = b.flush(ctx)
		}
		if werr := b.wait(); err == nil {
			err = werr
		}
		prog.clear()
		total += n
		totalBytes += size
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("import: interrupted: %d messages stored; run again with --skip %d to import the rest", total, *skip+total)
			}
			return fmt.Errorf("import: %s: %w (%d messages imported before the error)", src.what, err, total)
		}
		if dropped > 0 {
			fmt.Fprintf(env.Stderr, "import: %s: dropped %d invalid flags\n", src.mailbox, dropped)
		}
		fmt.Fprintln(env.Stdout, summary("imported", n, size, "into "+src.mailbox, time.Since(start)))
	}
	if len(sources) > 1 {
		fmt.Fprintln(env.Stdout, summary("imported", total, totalBytes, "in total", time.Since(began)))
	}
	return st.Close()
}

// importStoredHook, when set by a test, is called after each stored
// message with the count so far.
var importStoredHook func(n int)

// Import appends in batches when the store implements
// store.BatchAppender: a batch is flushed at importBatchMessages messages
// or once it holds importBatchBytes of bodies, so memory stays bounded
// while the store pays its sync cost once per batch. One batch is stored
// while the next is read, so reading and parsing overlap the store's sync.
const (
	importBatchMessages = 2048
	importBatchBytes    = 8 << 20
)

// importBatch appends the messages of one source to one mailbox in source
// order, so that source order is UID order.
type importBatch struct {
	u       store.User
	batcher store.BatchAppender // nil: one Append per message
	mailbox string
	done    func(*mailio.Message) // called for each stored message, in order
	stored  int                   // messages stored so far (by the batch goroutine)
	queued  int                   // messages handed to add so far

	pending []pendingMessage
	bytes   int
	running chan error // the batch being stored; nil when none
}

type pendingMessage struct {
	m     *mailio.Message
	flags []string
}

func newImportBatch(u store.User, mailbox string, done func(*mailio.Message)) *importBatch {
	b := &importBatch{u: u, mailbox: mailbox, done: done}
	b.batcher, _ = u.(store.BatchAppender)
	return b
}

// add queues a message, or stores it at once without batch support.
func (b *importBatch) add(ctx context.Context, m *mailio.Message, flags []string) error {
	b.queued++
	if b.batcher == nil {
		return b.appendOne(ctx, m, flags)
	}
	b.pending = append(b.pending, pendingMessage{m, flags})
	b.bytes += len(m.Body)
	if len(b.pending) >= importBatchMessages || b.bytes >= importBatchBytes {
		return b.flush(ctx)
	}
	return nil
}

// wait waits for the batch being stored and returns its error.
func (b *importBatch) wait() error {
	if b.running == nil {
		return nil
	}
	err := <-b.running
	b.running = nil
	return err
}

// flush waits for the previous batch and starts storing the queued
// messages as the next one.
func (b *importBatch) flush(ctx context.Context) error {
	if err := b.wait(); err != nil {
		return err
	}
	if len(b.pending) == 0 {
		return nil
	}
	pending := b.pending
	b.pending, b.bytes = nil, 0
	b.running = make(chan error, 1)
	go func() { b.running <- b.store(ctx, pending) }()
	return nil
}

// store stores one batch.
func (b *importBatch) store(ctx context.Context, pending []pendingMessage) error {
	msgs := make([]store.NewMessage, len(pending))
	for i, p := range pending {
		msgs[i] = newImportMessage(p.m, p.flags)
	}
	if _, err := b.batcher.AppendBatch(ctx, b.mailbox, msgs); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		// Nothing of the batch was stored. Store its messages one by one:
		// those before the faulty message are kept and the error names it,
		// exactly as without batching.
		for _, p := range pending {
			if err := b.appendOne(ctx, p.m, p.flags); err != nil {
				return err
			}
		}
		return nil
	}
	for _, p := range pending {
		b.stored++
		b.done(p.m)
	}
	return nil
}

func (b *importBatch) appendOne(ctx context.Context, m *mailio.Message, flags []string) error {
	if _, err := b.u.Append(ctx, b.mailbox, newImportMessage(m, flags)); err != nil {
		return fmt.Errorf("message %d: %w", b.stored+1, err)
	}
	b.stored++
	b.done(m)
	return nil
}

func newImportMessage(m *mailio.Message, flags []string) store.NewMessage {
	return store.NewMessage{
		Flags:        flags,
		InternalDate: m.InternalDate,
		Body:         bytes.NewReader(toCRLF(m.Body)),
	}
}

// countEntries counts the entries of dir/sub (0 when it cannot be read).
func countEntries(dir, sub string) int {
	entries, err := os.ReadDir(filepath.Join(dir, sub))
	if err != nil {
		return 0
	}
	return len(entries)
}

func hasSubdir(dir, name string) bool {
	fi, err := os.Stat(filepath.Join(dir, name))
	return err == nil && fi.IsDir()
}

// ensureMailbox creates name unless it exists and is selectable.
func ensureMailbox(ctx context.Context, u store.User, name string) error {
	info, err := u.Mailbox(ctx, name)
	if err == nil && info.Attr&store.AttrNoselect == 0 {
		return nil
	}
	if err != nil && !errors.Is(err, store.ErrNoSuchMailbox) {
		return err
	}
	_, err = u.CreateMailbox(ctx, name, 0)
	return err
}

// usableFlags keeps the flags the store accepts (dropping \Recent and
// malformed keywords) and counts the others.
func usableFlags(flags []string) ([]string, int) {
	out := make([]string, 0, len(flags))
	for _, f := range flags {
		if _, err := store.ParseFlags([]string{f}); err != nil {
			continue
		}
		out = append(out, f)
	}
	return out, len(flags) - len(out)
}

func runExport(ctx context.Context, args []string, env Env) error {
	fs := newFlags("export", "export --data DIR --mailbox NAME --mbox FILE [--progress N] USER",
		`Writes every message of a mailbox of USER to an mbox file (mboxrd, LF line
endings, flags in Status/X-Status/X-Keywords headers), in UID order. The file
is written to a temporary name next to FILE and renamed when complete.
Progress is shown on standard error (a bar on a terminal, else a line every
--progress messages), followed by a summary line (messages, bytes, seconds,
messages per second).`, env.Stdout)
	data := dataFlag(fs, "")
	storeURL := storeFlag(fs)
	mailbox := fs.String("mailbox", "", "mailbox to export (required)")
	out := fs.String("mbox", "", "mbox file to write (\"-\" for standard output; required)")
	every := fs.Int("progress", 1000, "without a terminal, print a progress line every N messages (0 disables progress lines)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, "USER"); err != nil {
		return err
	}
	if err := needStore(fs, *data, *storeURL); err != nil {
		return err
	}
	if *mailbox == "" || *out == "" {
		return usageErr("export: --mailbox and --mbox are required")
	}
	if *every < 0 {
		return usageErr("export: --progress must not be negative")
	}
	name, err := store.NormalizeMailboxName(*mailbox, 0)
	if err != nil {
		return usageErr("export: invalid mailbox name %q", *mailbox)
	}

	st, err := openStoreAt(ctx, *data, *storeURL, nil)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer st.Close()
	u, err := st.OpenUser(ctx, pos[0])
	if errors.Is(err, store.ErrNoSuchUser) {
		return fmt.Errorf("export: no account %q", pos[0])
	} else if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	info, err := u.Mailbox(ctx, name)
	if errors.Is(err, store.ErrNoSuchMailbox) {
		return fmt.Errorf("export: no mailbox %q", name)
	} else if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	view, err := u.View(ctx, info.ID)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}

	var w io.Writer = env.Stdout
	var tmp *os.File
	if *out != "-" {
		tmp, err = os.CreateTemp(filepath.Dir(*out), "."+filepath.Base(*out)+".tmp*")
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		defer func() {
			if tmp != nil {
				tmp.Close()
				os.Remove(tmp.Name())
			}
		}()
		w = tmp
	}
	start := time.Now()
	prog := newProgress(env.Stderr, *every, "export", name, float64(len(view.UIDs)))
	mw := mailio.NewMboxWriter(w, mailio.Options{})
	var size int64
	written := 0
	// The messages are fetched in chunks of UIDs, so memory stays bounded
	// whatever the size of the mailbox.
	for i := 0; i < len(view.UIDs); i += exportChunk {
		uids := view.UIDs[i:min(i+exportChunk, len(view.UIDs))]
		set := store.UIDSet{{Start: uids[0], Stop: uids[len(uids)-1]}}
		err = u.Fetch(ctx, info.ID, set, store.FetchOptions{}, func(m *store.Message) error {
			body, err := readBody(ctx, u, info.ID, m.UID)
			if errors.Is(err, store.ErrNoSuchMessage) {
				return nil // expunged meanwhile
			} else if err != nil {
				return fmt.Errorf("message UID %d: %w", m.UID, err)
			}
			if err := mw.Write(&mailio.Message{Flags: m.Flags, InternalDate: m.InternalDate, Body: body}); err != nil {
				return err
			}
			size += int64(len(body))
			written++
			prog.update(written, size, float64(written))
			return nil
		})
		if err != nil {
			prog.clear()
			return fmt.Errorf("export: %w", err)
		}
	}
	prog.clear()
	if err := mw.Flush(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if tmp != nil {
		if err := tmp.Sync(); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if err := tmp.Close(); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if err := os.Rename(tmp.Name(), *out); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		tmp = nil
	}
	// The summary goes to standard error, since standard output may be
	// the mbox itself.
	fmt.Fprintln(env.Stderr, summary("exported", written, size, "from "+name+" to "+*out, time.Since(start)))
	return st.Close()
}

// exportChunk is the number of messages export fetches at a time.
const exportChunk = 1000

func readBody(ctx context.Context, u store.User, mb store.MailboxID, uid uint32) ([]byte, error) {
	b, err := u.OpenBody(ctx, mb, uid)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	buf := make([]byte, b.Size())
	if _, err := io.ReadFull(b, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
