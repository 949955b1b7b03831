// Package load runs IMAP workloads ("mixes") with concurrent clients
// against one server and measures each command's rate and latency. Every
// response is checked: a wrong answer counts as an error, never as
// throughput, and every connection's responses go through an
// imapc.Checker, whose protocol violations the Result counts per kind.
package load

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imapfsm/imapfsm/server/cmd/imapload/internal/imapc"
)

// Command identifies a measured operation.
type Command int

// The measured operations. Push is the delay from the appender's APPEND
// completion to an idler's EXISTS in the idle mix.
const (
	Connect Command = iota
	Login
	Select
	Fetch
	Store
	Append
	Expunge
	Status
	Noop
	Logout
	Push
	numCommands
)

var commandNames = [numCommands]string{"CONNECT", "LOGIN", "SELECT", "FETCH", "STORE", "APPEND", "EXPUNGE", "STATUS", "NOOP", "LOGOUT", "PUSH"}

// String returns the command's name as reported.
func (c Command) String() string {
	if c < 0 || c >= numCommands {
		return fmt.Sprintf("Command(%d)", int(c))
	}
	return commandNames[c]
}

// Config describes one run. Zero values select the defaults noted.
type Config struct {
	// Addr is the server, host:port; it must be a loopback address.
	Addr string
	// User and Password log in every client.
	User, Password string
	// Mailbox is the mailbox the mixes work in (default INBOX).
	Mailbox string
	// Clients is the number of concurrent clients (default 10). The idle
	// mix uses Idlers instead.
	Clients int
	// Duration bounds the run (default 10s when Count is zero).
	Duration time.Duration
	// Count, when positive, stops the run after that many mix iterations
	// in total (whichever of Duration and Count comes first).
	Count int64
	// MessageSize is the size in bytes of each appended message (default
	// 2048).
	MessageSize int
	// SessionIterations is how many iterations the imaptest mix runs per
	// session before LOGOUT and a new LOGIN (default 10).
	SessionIterations int
	// Seed is the number of messages the imaptest mix makes sure the
	// mailbox holds before the run (default 20).
	Seed int
	// Idlers is the number of IDLE clients of the idle mix (default 100).
	Idlers int
	// PushTimeout bounds the wait for every idler to see one APPEND
	// (default 10s); a missing push is an error.
	PushTimeout time.Duration
	// PerSource spreads connections over loopback source addresses, this
	// many per address (default 50; negative: do not spread). Servers
	// limit connections per client address.
	PerSource int
	// Timeout bounds each command's round trip (default 30s).
	Timeout time.Duration
	// Progress is the interval of progress logs (0: none).
	Progress time.Duration
	// Logger receives progress and error logs (default slog.Default()).
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Mailbox == "" {
		c.Mailbox = "INBOX"
	}
	if c.Clients <= 0 {
		c.Clients = 10
	}
	if c.Duration <= 0 && c.Count <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.MessageSize <= 0 {
		c.MessageSize = 2048
	}
	if c.SessionIterations <= 0 {
		c.SessionIterations = 10
	}
	if c.Seed <= 0 {
		c.Seed = 20
	}
	if c.Idlers <= 0 {
		c.Idlers = 100
	}
	if c.PushTimeout <= 0 {
		c.PushTimeout = 10 * time.Second
	}
	if c.PerSource == 0 {
		c.PerSource = 50
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// CommandStats are the figures of one command over a run.
type CommandStats struct {
	Command Command
	// OK counts verified completions; Latency holds their round trips.
	OK      uint64
	Errors  uint64
	Latency Histogram
}

// Result is the outcome of a run.
type Result struct {
	Mix     string
	Clients int
	Elapsed time.Duration
	// Iterations counts completed mix iterations.
	Iterations uint64
	// Commands holds the commands the mix measured, in Command order.
	Commands []*CommandStats
	// Errors is the total of failed operations; FirstErrors keeps the
	// first few messages.
	Errors      uint64
	FirstErrors []string
	// Protocol counts the protocol violations the client-side checker
	// found in every response of every connection (see imapc.Checker),
	// with examples of each kind.
	Protocol *imapc.Tally
}

// ProtocolViolations returns the number of protocol violations found.
func (r *Result) ProtocolViolations() uint64 {
	if r.Protocol == nil {
		return 0
	}
	return r.Protocol.Total()
}

// Stats returns the figures of cmd, or nil when the run did not measure it.
func (r *Result) Stats(cmd Command) *CommandStats {
	for _, s := range r.Commands {
		if s.Command == cmd {
			return s
		}
	}
	return nil
}

// Rate returns cmd's verified completions per second.
func (r *Result) Rate(cmd Command) float64 {
	s := r.Stats(cmd)
	if s == nil || r.Elapsed <= 0 {
		return 0
	}
	return float64(s.OK) / r.Elapsed.Seconds()
}

// TotalRate returns the verified completions of every command but CONNECT
// and PUSH per second: the mix's IMAP operations per second.
func (r *Result) TotalRate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	var n uint64
	for _, s := range r.Commands {
		if s.Command != Connect && s.Command != Push {
			n += s.OK
		}
	}
	return float64(n) / r.Elapsed.Seconds()
}

// Run runs mix against cfg.Addr and returns its result. It fails before
// any load when the target is not a loopback address or cannot be logged
// into; errors during the run are counted in the result.
func Run(ctx context.Context, mix *Mix, cfg Config) (*Result, error) {
	cfg.setDefaults()
	if err := CheckLoopback(ctx, cfg.Addr); err != nil {
		return nil, err
	}
	r := &run{cfg: cfg, mix: mix, log: cfg.Logger.With("mix", mix.Name), protocol: &imapc.Tally{}}
	if mix.prepare != nil {
		if err := mix.prepare(r); err != nil {
			return nil, fmt.Errorf("%s: prepare: %w", mix.Name, err)
		}
	}
	r.ctx = ctx
	defer func() {
		if r.cancel != nil {
			r.cancel()
		}
	}()
	workers, err := mix.run(r)
	elapsed := time.Since(r.start)
	if r.stopProgress != nil {
		r.stopProgress()
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", mix.Name, err)
	}
	res := &Result{Mix: mix.Name, Clients: cfg.Clients, Elapsed: elapsed, Iterations: r.iterations.Load(), Protocol: r.protocol}
	if mix.Name == "idle" {
		res.Clients = cfg.Idlers + 1
	}
	for _, c := range mix.Commands {
		cs := &CommandStats{Command: c}
		for _, w := range workers {
			cs.OK += w.stats[c].OK
			cs.Errors += w.stats[c].Errors
			cs.Latency.Merge(&w.stats[c].Latency)
		}
		res.Commands = append(res.Commands, cs)
	}
	for _, w := range workers {
		for c := range w.stats {
			res.Errors += w.stats[c].Errors
		}
	}
	r.mu.Lock()
	res.FirstErrors = r.firstErrors
	r.mu.Unlock()
	return res, nil
}

// run is the shared state of one Run.
type run struct {
	cfg Config
	mix *Mix
	log *slog.Logger
	// ctx ends the load; begin sets its deadline, start and progress.
	ctx          context.Context
	cancel       context.CancelFunc
	start        time.Time
	stopProgress func()

	iterations atomic.Uint64
	claimed    atomic.Int64
	ops        atomic.Uint64
	errs       atomic.Uint64
	nextConn   atomic.Int64
	msgSeq     atomic.Uint64
	// seeded is the number of messages the prepare step left in the
	// mailbox; the mixes never expunge them.
	seeded uint32
	// protocol counts what the checkers of all connections find.
	protocol *imapc.Tally

	mu          sync.Mutex
	firstErrors []string
}

const maxFirstErrors = 5

// begin starts the measured part of the run: the clock, the deadline of
// cfg.Duration and the progress logs. Mixes call it after their setup.
func (r *run) begin() {
	if r.cfg.Duration > 0 {
		r.ctx, r.cancel = context.WithTimeout(r.ctx, r.cfg.Duration)
	}
	r.start = time.Now()
	r.stopProgress = r.progress()
}

// claim reports whether another iteration may start.
func (r *run) claim() bool {
	if r.ctx.Err() != nil {
		return false
	}
	if r.cfg.Count > 0 && r.claimed.Add(1) > r.cfg.Count {
		return false
	}
	return true
}

func (r *run) noteError(cmd Command, err error) {
	r.errs.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.firstErrors) < maxFirstErrors {
		msg := cmd.String() + ": " + err.Error()
		r.firstErrors = append(r.firstErrors, msg)
		r.log.Warn("operation failed", "command", cmd.String(), "err", err)
	}
}

// dial opens a new connection from the next source address.
func (r *run) dial() (*imapc.Conn, error) {
	i := int(r.nextConn.Add(1) - 1)
	d := imapc.Dialer{LocalAddr: sourceAddr(r.cfg.Addr, i, r.cfg.PerSource), Timeout: r.cfg.Timeout}
	c, err := d.Dial(r.cfg.Addr)
	if err == nil {
		c.SetChecker(imapc.NewChecker(r.protocol))
	}
	return c, err
}

// progress logs the running totals every cfg.Progress until the returned
// function is called.
func (r *run) progress() (stop func()) {
	if r.cfg.Progress <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(r.cfg.Progress)
		defer t.Stop()
		start := time.Now()
		var last uint64
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				ops := r.ops.Load()
				r.log.Info("progress", "elapsed", now.Sub(start).Round(time.Second).String(),
					"ops", ops, "ops_per_s", float64(ops-last)/r.cfg.Progress.Seconds(), "errors", r.errs.Load())
				last = ops
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// worker is one client's measurements.
type worker struct {
	r     *run
	stats [numCommands]CommandStats
	conn  *imapc.Conn
	sess  *session
	// mailbox is the mailbox the worker's session selects and appends
	// to; empty means the run's (Config.Mailbox).
	mailbox string
}

func (r *run) newWorker() *worker { return &worker{r: r} }

// target returns the mailbox the worker works in.
func (w *worker) target() string {
	if w.mailbox != "" {
		return w.mailbox
	}
	return w.r.cfg.Mailbox
}

// op times f as one cmd and records its outcome.
func (w *worker) op(cmd Command, f func() error) error {
	start := time.Now()
	err := f()
	if err != nil {
		w.stats[cmd].Errors++
		w.r.noteError(cmd, err)
		return err
	}
	w.stats[cmd].OK++
	w.stats[cmd].Latency.Record(time.Since(start))
	w.r.ops.Add(1)
	return nil
}

// drop closes the worker's connection after a failure and pauses briefly
// when the failure was not a wrong answer, so that a dead server does not
// make the client spin.
func (w *worker) drop(err error) {
	if w.conn != nil {
		w.conn.Close()
		w.conn = nil
	}
	if !errors.Is(err, imapc.ErrVerify) {
		select {
		case <-w.r.ctx.Done():
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// close logs out politely at the end of a run.
func (w *worker) close() {
	if w.conn != nil {
		w.op(Logout, w.conn.Logout)
		w.conn = nil
	}
	w.sess = nil
}
