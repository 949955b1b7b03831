// Command imapload drives an IMAP server on this machine with concurrent
// clients and reports operations per second and latency per command; its
// peers subcommand compares imapd with Dovecot in one invocation. See
// doc.go or `imapload --help`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/imapfsm/imapfsm/server/cmd/imapload/internal/load"
	"github.com/imapfsm/imapfsm/server/cmd/imapload/internal/peers"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// errUsage marks a command-line error (exit status 2).
var errUsage = errors.New("usage")

const topUsage = `usage: imapload run [flags]     load one server (the default subcommand)
       imapload peers [flags]   compare imapd with Dovecot in one invocation
       imapload mixes           list the load mixes
       imapload gen [flags]     write a generated mbox or maildir (import benchmarks)

Run "imapload run --help" or "imapload peers --help" for the flags.
`

// run is main without the process: it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	sub := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	var err error
	switch sub {
	case "run":
		err = runLoad(ctx, args, stdout, stderr)
	case "peers":
		err = runPeers(ctx, args, stdout, stderr)
	case "gen":
		err = runGen(ctx, args, stdout, stderr)
	case "mixes":
		for _, m := range load.Mixes() {
			fmt.Fprintf(stdout, "%-9s %s\n", m.Name, m.Summary)
		}
	case "help":
		fmt.Fprint(stdout, topUsage)
	default:
		fmt.Fprintf(stderr, "imapload: unknown subcommand %q\n%s", sub, topUsage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "imapload %s: %v\n", sub, err)
		return 2
	default:
		fmt.Fprintf(stderr, "imapload %s: %v\n", sub, err)
		return 1
	}
}

// loadFlags registers the flags of a load on fs.
func loadFlags(fs *flag.FlagSet, c *load.Config) {
	fs.IntVar(&c.Clients, "clients", 10, "concurrent clients (the idle mix uses --idlers)")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "length of each run; 0 with --count runs until the count")
	fs.Int64Var(&c.Count, "count", 0, "stop after this many mix iterations in total (0: no limit; whichever of --duration and --count comes first)")
	fs.IntVar(&c.MessageSize, "message-size", 2048, "size in bytes of each appended message")
	fs.IntVar(&c.SessionIterations, "session-iterations", 10, "imaptest mix: iterations per session before LOGOUT and a new LOGIN")
	fs.IntVar(&c.Seed, "seed", 20, "imaptest and status mixes: messages the mailbox is filled to before the run")
	fs.IntVar(&c.Idlers, "idlers", 100, "idle mix: number of IDLE clients, all on the one account (peers: default 40, below imapd's 50 sessions per account)")
	fs.DurationVar(&c.PushTimeout, "push-timeout", 10*time.Second, "idle mix: how long every idler may take to see an APPEND before it counts as an error")
	fs.IntVar(&c.PerSource, "per-source", 50, "connections per loopback source address (127.0.x.y), so that a server's per-address limit does not cap the run; -1 uses the system's choice")
	fs.DurationVar(&c.Timeout, "timeout", 30*time.Second, "bound of each command's round trip")
	fs.DurationVar(&c.Progress, "progress", 5*time.Second, "interval of progress logs on standard error (0: none)")
}

func newFlagSet(name, synopsis, text string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "usage: imapload %s\n\n%s\n\nFlags:\n", synopsis, text)
		fs.PrintDefaults()
	}
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}

func mixHelp() string {
	var b strings.Builder
	for _, m := range load.Mixes() {
		fmt.Fprintf(&b, "  %-9s %s\n", m.Name, m.Summary)
	}
	return b.String()
}

func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("run", "run --addr HOST:PORT --user NAME --password PASS [--mix NAME] [flags]",
		`Drives one IMAP server with concurrent clients and prints, per command,
the verified completions, their rate and latency percentiles. Every answer
is checked; a wrong answer is an error, not throughput, and makes the exit
status 1. Only loopback targets are accepted.

Mixes:
`+mixHelp(), stdout)
	var c load.Config
	var mixName string
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:1143", "server address, host:port; must be a loopback address")
	fs.StringVar(&c.User, "user", "", "account to log in as (required)")
	fs.StringVar(&c.Password, "password", "", "password of --user (required; visible in the process list, use a test account)")
	fs.StringVar(&c.Mailbox, "mailbox", "INBOX", "mailbox the mixes work in")
	fs.StringVar(&mixName, "mix", "imaptest", "workload; see the list above")
	loadFlags(fs, &c)
	if err := parse(fs, args); err != nil {
		return err
	}
	if c.User == "" || c.Password == "" {
		return fmt.Errorf("%w: --user and --password are required", errUsage)
	}
	mix := load.MixByName(mixName)
	if mix == nil {
		return fmt.Errorf("%w: unknown mix %q (imapload mixes lists them)", errUsage, mixName)
	}
	c.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	res, err := load.Run(ctx, mix, c)
	if err != nil {
		return err
	}
	if err := res.WriteTable(stdout); err != nil {
		return err
	}
	if res.Errors > 0 {
		return fmt.Errorf("%d operations failed", res.Errors)
	}
	if n := res.ProtocolViolations(); n > 0 {
		return fmt.Errorf("%d protocol violations", n)
	}
	return nil
}

func runPeers(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("peers", "peers --imapd PATH [--dovecot PATH] [flags]",
		`Starts imapd (imapd user add, imapd serve with its default store) and
Dovecot (a generated configuration: maildir, passwd-file with BLF-CRYPT at
imapd's bcrypt cost, shipped fsync settings) on free loopback ports in a
temporary directory, with the same account, runs each mix against both (in
a fresh mailbox per mix, Bench-<mix>, unless --mailbox names another), and
prints a table with the ratio imapd/Dovecot of each mix's figure. Both
servers are stopped at the end. Run as root, Dovecot's mail processes run as
--mail-user, which is created when missing.`, stdout)
	var c peers.Config
	var mixes string
	fs.StringVar(&c.Imapd, "imapd", "imapd", "imapd binary")
	fs.StringVar(&c.Dovecot, "dovecot", "dovecot", "dovecot binary")
	fs.StringVar(&mixes, "mixes", "imaptest,login,append,append-spread,status,idle,keywords", "comma-separated mixes to run, in order")
	fs.IntVar(&c.BcryptCost, "bcrypt-cost", 0, "bcrypt cost of Dovecot's password hash (0: imapd's default, 10); imapd hashes with its own default")
	fs.StringVar(&c.DovecotAuthCache, "dovecot-auth-cache", "0", "Dovecot's auth_cache_size, e.g. 10M (0: off, as shipped)")
	imapdAuthCache := fs.Bool("imapd-auth-cache", true, "imapd's cache of verified credentials (false: start imapd serve with --auth-cache=false)")
	fs.StringVar(&c.MailUser, "mail-user", "imapbench", "unprivileged account for Dovecot's mail processes when run as root")
	fs.StringVar(&c.Dir, "dir", "", "working directory (default: a new temporary directory)")
	fs.BoolVar(&c.Keep, "keep", false, "keep the working directory (stores, logs, configuration)")
	loadFlags(fs, &c.Load)
	if err := parse(fs, args); err != nil {
		return err
	}
	c.ImapdNoAuthCache = !*imapdAuthCache
	idlersSet := false
	fs.Visit(func(f *flag.Flag) { idlersSet = idlersSet || f.Name == "idlers" })
	if !idlersSet {
		// imapd serve admits 50 sessions per account by default; the
		// idlers and the appender share one account.
		c.Load.Idlers = 40
	}
	for m := range strings.SplitSeq(mixes, ",") {
		if m = strings.TrimSpace(m); m != "" {
			c.Mixes = append(c.Mixes, m)
		}
	}
	c.Out = stdout
	c.Log = slog.New(slog.NewTextHandler(stderr, nil))
	rows, err := peers.Run(ctx, c)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if r.Errors[0]+r.Errors[1] > 0 {
			return fmt.Errorf("mix %s: %d failed operations against imapd, %d against Dovecot", r.Mix, r.Errors[0], r.Errors[1])
		}
		if r.Protocol[0]+r.Protocol[1] > 0 {
			return fmt.Errorf("mix %s: %d protocol violations from imapd, %d from Dovecot", r.Mix, r.Protocol[0], r.Protocol[1])
		}
	}
	return nil
}
