// Package cli implements the imapd command line: argument parsing, the
// subcommands and their exit statuses. The command's manual is the package
// documentation of server/cmd/imapd.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	bberrors "go.etcd.io/bbolt/errors"

	"github.com/imapfsm/imapfsm/server/internal/mailmsg"
	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/boltstore"
	"github.com/imapfsm/imapfsm/server/store/password"
)

// Exit statuses. The sysexits(3) values are used by deliver, where mail
// transfer agents interpret them.
const (
	ExitOK        = 0
	ExitFailure   = 1
	ExitUsage     = 2
	ExitDataErr   = 65 // EX_DATAERR
	ExitNoUser    = 67 // EX_NOUSER
	ExitCantCreat = 73 // EX_CANTCREAT
	ExitTempFail  = 75 // EX_TEMPFAIL
)

// Env is what a command may touch of its process. Signals, when non-nil,
// replaces the process's signal delivery for serve and demo (tests use it).
type Env struct {
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	Signals <-chan os.Signal
	// Ready, when non-nil, is called by serve and demo with the bound
	// addresses once every listener accepts connections.
	Ready func(Addrs)
}

// Addrs are the addresses a running server listens on ("" when unused).
type Addrs struct {
	IMAP, IMAPS, Metrics string
	// LMTP is the --lmtp-listen address, LMTPSocket the unix socket.
	LMTP, LMTPSocket string
}

// exitError carries an exit status with the message to print.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

func usageErr(format string, args ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, args...)}
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, env Env) error
}

func commands() []command {
	return []command{
		{"serve", "serve IMAP (plaintext, STARTTLS, implicit TLS) from a data directory", runServe},
		{"demo", "serve a data directory on loopback with the account demo/demo", runDemo},
		{"user", "add, delete, list accounts or change a password", runUser},
		{"deliver", "store one message from standard input (local delivery agent)", runDeliver},
		{"import", "import an mbox file or a maildir into a mailbox", runImport},
		{"export", "export a mailbox to an mbox file", runExport},
		{"probe", "probe any IMAP server for the client quirks it survives", runProbe},
		{"replay", "replay a recorded session through the session machine", runReplay},
	}
}

// Run executes the command line args (without the program name) and returns
// the process exit status. Errors are printed as one line on env.Stderr.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	if env.Stdout == nil {
		env.Stdout = io.Discard
	}
	if env.Stderr == nil {
		env.Stderr = io.Discard
	}
	err := dispatch(ctx, args, env)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	code := ExitFailure
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	fmt.Fprintf(env.Stderr, "imapd: %s\n", oneLine(err.Error()))
	return code
}

func dispatch(ctx context.Context, args []string, env Env) error {
	if len(args) == 0 {
		return usageErr("no command given; run \"imapd help\" for the list")
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		topUsage(env.Stdout)
		return nil
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, args[1:], env)
		}
	}
	return usageErr("unknown command %q; run \"imapd help\" for the list", name)
}

func topUsage(w io.Writer) {
	fmt.Fprintf(w, "imapd runs the imapfsm IMAP server and administers its store.\n\nUsage: imapd <command> [flags] [arguments]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun \"imapd <command> --help\" for the flags of a command.\n")
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// newFlags returns a flag set whose --help prints usage (synopsis), the
// description and every flag to out.
func newFlags(name, synopsis, description string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: imapd %s\n\n%s\n", synopsis, strings.TrimSpace(description))
		var any bool
		fs.VisitAll(func(*flag.Flag) { any = true })
		if !any {
			return
		}
		fmt.Fprintf(out, "\nFlags:\n")
		fs.SetOutput(out)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parseArgs parses flags that may be interleaved with positional arguments
// and returns the positional ones. --help prints the usage to stdout (the
// flag set calls fs.Usage) and returns flag.ErrHelp; other problems are usage errors.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err // Parse has printed the usage
			}
			return nil, usageErr("%s: %v (see \"imapd %s --help\")", fs.Name(), err, fs.Name())
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func wantArgs(fs *flag.FlagSet, pos []string, names ...string) error {
	if len(pos) != len(names) {
		if len(names) == 0 {
			return usageErr("%s: unexpected argument %q", fs.Name(), pos[0])
		}
		return usageErr("%s: want %d argument(s) (%s), got %d", fs.Name(), len(names), strings.Join(names, " "), len(pos))
	}
	return nil
}

// dataFlag registers the --data flag every command has.
func dataFlag(fs *flag.FlagSet, def string) *string {
	return fs.String("data", def, "data directory of the mail store (created if missing)")
}

func needData(fs *flag.FlagSet, dir string) error {
	if dir == "" {
		return usageErr("%s: --data is required", fs.Name())
	}
	return nil
}

// Store tuning that tests change: lockTimeout bounds the wait for the
// store's file lock held by another process, bcryptCost is the cost of new
// password hashes. Zero selects the store's defaults.
var (
	lockTimeout time.Duration
	bcryptCost  int
)

// openStore opens the bbolt store in dir with the message analyzer the
// server needs for FETCH BODYSTRUCTURE and SEARCH.
func openStore(dir string) (*boltstore.Store, error) {
	return openStoreCache(dir, password.CacheOptions{})
}

// openStoreCache is openStore with the given cache of verified
// credentials.
func openStoreCache(dir string, authCache password.CacheOptions) (*boltstore.Store, error) {
	st, err := boltstore.Open(dir, boltstore.Options{
		Options: store.Options{
			Analyzer:   mailmsg.Analyze,
			BcryptCost: bcryptCost,
			AuthCache:  authCache,
		},
		LockTimeout: lockTimeout,
	})
	if errors.Is(err, bberrors.ErrTimeout) {
		return nil, fmt.Errorf("open store in %s: the store is locked by another process (is imapd serve running?)", dir)
	}
	if err != nil {
		return nil, fmt.Errorf("open store in %s: %w", dir, err)
	}
	return st, nil
}

// logFlags registers --log-level and --log-format.
type logFlags struct {
	level  string
	format string
}

func (l *logFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.level, "log-level", "info", "minimum level of log records: debug, info, warn or error")
	fs.StringVar(&l.format, "log-format", "text", "log record format on standard error: text or json")
}

func (l *logFlags) logger(w io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(l.level)); err != nil {
		return nil, usageErr("--log-level: %q is not one of debug, info, warn, error", l.level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch l.format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageErr("--log-format: %q is not one of text, json", l.format)
}
