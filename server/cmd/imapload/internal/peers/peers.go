// Package peers benchmarks imapd against Dovecot in the same invocation:
// it starts both on free loopback ports with the same account, runs each
// load mix against each, prints the ratios, and stops both.
//
// Like is compared with like: both servers store mail durably before
// answering OK (Dovecot's mail_fsync as shipped, imapd's store always),
// both verify passwords with bcrypt at imapd's default cost (Dovecot via a
// passwd-file with BLF-CRYPT hashes), and the clients of both runs are the
// same code. Dovecot's authentication cache (auth_cache_size, off as
// shipped) is a setting so that runs with and without caches on both
// sides can be compared.
package peers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/imapfsm/imapfsm/server/cmd/imapload/internal/imapc"
	"github.com/imapfsm/imapfsm/server/cmd/imapload/internal/load"
)

// Config describes one comparison.
type Config struct {
	// Imapd is the imapd binary; Dovecot the dovecot binary.
	Imapd, Dovecot string
	// Mixes are the names of the mixes to run, in order.
	Mixes []string
	// Load is the load of every mix (Addr, User and Password are set
	// per server).
	Load load.Config
	// BcryptCost is the cost of Dovecot's BLF-CRYPT hash; it must equal
	// the cost imapd hashes with (bcrypt.DefaultCost, imapd's default).
	BcryptCost int
	// DovecotAuthCache is Dovecot's auth_cache_size ("0" turns it off, as
	// shipped).
	DovecotAuthCache string
	// ImapdNoAuthCache starts imapd with --auth-cache=false, so that every
	// login costs a full password verification, as in Dovecot without
	// auth_cache_size.
	ImapdNoAuthCache bool
	// MailUser is the unprivileged account Dovecot stores mail as when run
	// by root; it is created when missing.
	MailUser string
	// Dir is the working directory (a new temporary one when empty); it
	// is removed afterwards unless Keep is set.
	Dir  string
	Keep bool
	// Out receives the reports; Log the progress.
	Out io.Writer
	Log *slog.Logger
}

// Row is the comparison of one mix.
type Row struct {
	Mix    string
	Figure string
	// Imapd and Dovecot are the figures; HigherBetter tells which way
	// the ratio reads.
	Imapd, Dovecot float64
	HigherBetter   bool
	Unit           string
	Errors         [2]uint64
	// Protocol counts the protocol violations the client-side checker
	// found (imapc.Checker), imapd first.
	Protocol [2]uint64
}

// Ratio returns imapd/Dovecot, or 0 when Dovecot's figure is 0.
func (r Row) Ratio() float64 {
	if r.Dovecot == 0 {
		return 0
	}
	return r.Imapd / r.Dovecot
}

const (
	benchUser = "bench"
	benchPass = "bench-password-1"
)

// Run starts both servers, runs every mix against each and writes the
// reports and the comparison table to cfg.Out.
func Run(ctx context.Context, cfg Config) ([]Row, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = bcrypt.DefaultCost
	}
	if cfg.DovecotAuthCache == "" {
		cfg.DovecotAuthCache = "0"
	}
	if cfg.MailUser == "" {
		cfg.MailUser = "imapbench"
	}
	mixes := make([]*load.Mix, 0, len(cfg.Mixes))
	for _, name := range cfg.Mixes {
		m := load.MixByName(name)
		if m == nil {
			return nil, fmt.Errorf("unknown mix %q", name)
		}
		mixes = append(mixes, m)
	}
	for _, bin := range []*string{&cfg.Imapd, &cfg.Dovecot} {
		p, err := exec.LookPath(*bin)
		if err != nil {
			return nil, fmt.Errorf("find %s: %w", *bin, err)
		}
		*bin = p
	}
	dir := cfg.Dir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "imapload-peers-"); err != nil {
			return nil, err
		}
	}
	if !cfg.Keep {
		defer os.RemoveAll(dir)
	} else {
		cfg.Log.Info("working directory kept", "dir", dir)
	}
	// Dovecot's unprivileged processes must reach their files.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}

	imapd, err := startImapd(ctx, cfg, filepath.Join(dir, "imapd"))
	if err != nil {
		return nil, fmt.Errorf("imapd: %w", err)
	}
	defer imapd.stop(cfg.Log)
	dovecot, err := startDovecot(ctx, cfg, filepath.Join(dir, "dovecot"))
	if err != nil {
		return nil, fmt.Errorf("dovecot: %w", err)
	}
	defer dovecot.stop(cfg.Log)

	var rows []Row
	for _, m := range mixes {
		row := Row{Mix: m.Name, HigherBetter: true, Unit: "ops/s"}
		for i, srv := range []*server{imapd, dovecot} {
			lc := cfg.Load
			lc.Addr, lc.User, lc.Password = srv.addr, benchUser, benchPass
			// Each mix works in a fresh mailbox of its own on both
			// servers, so that a mix does not inherit the messages an
			// earlier one left (the faster server would inherit more).
			if lc.Mailbox == "" || lc.Mailbox == "INBOX" {
				lc.Mailbox = "Bench-" + m.Name
				if err := createMailbox(lc, lc.Mailbox); err != nil {
					return rows, fmt.Errorf("%s against %s: create %s: %w", m.Name, srv.name, lc.Mailbox, err)
				}
			}
			lc.Logger = cfg.Log.With("server", srv.name)
			cfg.Log.Info("running", "mix", m.Name, "server", srv.name, "addr", srv.addr)
			res, err := load.Run(ctx, m, lc)
			if err != nil {
				return rows, fmt.Errorf("%s against %s: %w", m.Name, srv.name, err)
			}
			fmt.Fprintf(cfg.Out, "\n[%s] ", srv.name)
			res.WriteTable(cfg.Out)
			fig, name := m.HeadlineRate(res), headlineName(m)
			if m.Name == "idle" {
				fig, name = float64(res.Stats(load.Push).Latency.Percentile(99))/float64(time.Millisecond), "PUSH p99"
				row.HigherBetter, row.Unit = false, "ms"
			}
			row.Figure = name
			row.Errors[i] = res.Errors
			row.Protocol[i] = res.ProtocolViolations()
			if i == 0 {
				row.Imapd = fig
			} else {
				row.Dovecot = fig
			}
		}
		rows = append(rows, row)
	}
	fmt.Fprintf(cfg.Out, "\nimapd vs Dovecot %s (bcrypt cost %d, imapd auth cache %s, Dovecot auth_cache_size %s, %d clients, %s per run, %d idlers)\n\n",
		dovecot.version, cfg.BcryptCost, onOff(!cfg.ImapdNoAuthCache), cfg.DovecotAuthCache, cfg.Load.Clients, cfg.Load.Duration, cfg.Load.Idlers)
	WriteTable(cfg.Out, rows)
	return rows, nil
}

func headlineName(m *load.Mix) string {
	if m.Headline == 0 {
		return "commands/s"
	}
	return m.Headline.String() + "/s"
}

// WriteTable prints rows as a Markdown table.
func WriteTable(w io.Writer, rows []Row) {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	fmt.Fprintln(tw, "| mix\t| figure\t| imapd\t| Dovecot\t| imapd/Dovecot\t| errors (imapd, Dovecot)\t| protocol violations (imapd, Dovecot)\t|")
	fmt.Fprintln(tw, "|---\t|---\t|---\t|---\t|---\t|---\t|---\t|")
	for _, r := range rows {
		better := "higher is better"
		if !r.HigherBetter {
			better = "lower is better"
		}
		fmt.Fprintf(tw, "| %s\t| %s\t| %.1f %s\t| %.1f %s\t| %.2f× (%s)\t| %d, %d\t| %d, %d\t|\n",
			r.Mix, r.Figure, r.Imapd, r.Unit, r.Dovecot, r.Unit, r.Ratio(), better, r.Errors[0], r.Errors[1], r.Protocol[0], r.Protocol[1])
	}
	tw.Flush()
}

// server is a running peer.
type server struct {
	name    string
	addr    string
	version string
	cmd     *exec.Cmd
	exited  chan struct{}
	logFile *os.File
}

// stop sends SIGTERM to the server process this package started and waits
// for it, killing it after 10 seconds.
func (s *server) stop(log *slog.Logger) {
	defer s.logFile.Close()
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		log.Warn("server did not stop on SIGTERM; killing it", "server", s.name, "pid", s.cmd.Process.Pid)
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// start runs cmd with its output in logPath and waits until addr greets.
func start(ctx context.Context, name string, cmd *exec.Cmd, addr, logPath string) (*server, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, err
	}
	s := &server{name: name, addr: addr, cmd: cmd, exited: make(chan struct{}), logFile: lf}
	go func() { cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		greeting, err := greet(addr)
		if err == nil {
			s.version = greeting
			return s, nil
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("exited during startup (%v); see %s", cmd.ProcessState, logPath)
		case <-ctx.Done():
			s.stop(slog.Default())
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop(slog.Default())
			return nil, fmt.Errorf("no greeting on %s within 15s (%v); see %s", addr, err, logPath)
		}
	}
}

// greet connects to addr and returns the greeting line.
func greet(addr string) (string, error) {
	nc, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(nc).ReadString('\n')
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(line, "* OK") {
		return "", fmt.Errorf("greeting %q", strings.TrimSpace(line))
	}
	return strings.TrimSpace(line), nil
}

// freeAddr returns a loopback address with a port free at the time of the
// call.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startImapd creates the account with `imapd user add` in a new store in
// dir and serves it with `imapd serve`.
func startImapd(ctx context.Context, cfg Config, dir string) (*server, error) {
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, err
	}
	add := exec.CommandContext(ctx, cfg.Imapd, "user", "add", "--data", data, benchUser)
	add.Stdin = strings.NewReader(benchPass + "\n")
	if out, err := add.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("user add: %v: %s", err, strings.TrimSpace(string(out)))
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(cfg.Imapd, "serve", "--data", data, "--listen", addr, "--insecure-auth", "--log-level", "warn")
	if cfg.ImapdNoAuthCache {
		cmd.Args = append(cmd.Args, "--auth-cache=false")
	}
	s, err := start(ctx, "imapd", cmd, addr, filepath.Join(dir, "imapd.log"))
	if err != nil {
		return nil, err
	}
	s.version = "imapd"
	return s, nil
}

// startDovecot writes a configuration for a maildir store with the same
// account into dir and runs Dovecot in the foreground on a free port.
func startDovecot(ctx context.Context, cfg Config, dir string) (*server, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ids, err := dovecotUsers(ctx, cfg.MailUser)
	if err != nil {
		return nil, err
	}
	mail := filepath.Join(dir, "mail")
	if err := os.MkdirAll(mail, 0o700); err != nil {
		return nil, err
	}
	if err := os.Chown(mail, ids.mailUID, ids.mailGID); err != nil {
		return nil, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(benchPass), cfg.BcryptCost)
	if err != nil {
		return nil, err
	}
	passwd := filepath.Join(dir, "passwd")
	if err := os.WriteFile(passwd, []byte(benchUser+":{BLF-CRYPT}"+string(hash)+"\n"), 0o644); err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	conf := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(conf, []byte(dovecotConfig(dir, port, cfg.DovecotAuthCache, ids)), 0o644); err != nil {
		return nil, err
	}
	version := "Dovecot"
	if out, err := exec.CommandContext(ctx, cfg.Dovecot, "--version").Output(); err == nil {
		version = "Dovecot " + strings.Fields(string(out) + " ?")[0]
	}
	cmd := exec.Command(cfg.Dovecot, "-F", "-c", conf)
	s, err := start(ctx, "dovecot", cmd, addr, filepath.Join(dir, "dovecot.out"))
	if err != nil {
		return nil, err
	}
	s.version = version
	return s, nil
}

// dovecotIDs are the accounts Dovecot's processes run as.
type dovecotIDs struct {
	internalUser, loginUser string
	mailUID, mailGID        int
}

// dovecotUsers returns the accounts for Dovecot: as root, Debian's
// dovecot and dovenull for its internal and login processes and mailUser
// (created when missing) for mail; otherwise the current user for all.
func dovecotUsers(ctx context.Context, mailUser string) (dovecotIDs, error) {
	if os.Geteuid() != 0 {
		u, err := user.Current()
		if err != nil {
			return dovecotIDs{}, err
		}
		return dovecotIDs{internalUser: u.Username, loginUser: u.Username, mailUID: os.Getuid(), mailGID: os.Getgid()}, nil
	}
	for _, name := range []string{"dovecot", "dovenull"} {
		if _, err := user.Lookup(name); err != nil {
			return dovecotIDs{}, fmt.Errorf("account %q missing (installed with Dovecot): %w", name, err)
		}
	}
	u, err := user.Lookup(mailUser)
	var unknown user.UnknownUserError
	if errors.As(err, &unknown) {
		out, addErr := exec.CommandContext(ctx, "useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", mailUser).CombinedOutput()
		if addErr != nil {
			return dovecotIDs{}, fmt.Errorf("useradd %s: %v: %s", mailUser, addErr, strings.TrimSpace(string(out)))
		}
		u, err = user.Lookup(mailUser)
	}
	if err != nil {
		return dovecotIDs{}, err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return dovecotIDs{internalUser: "dovecot", loginUser: "dovenull", mailUID: uid, mailGID: gid}, nil
}

// dovecotConfig returns a self-contained configuration. Everything not
// set here keeps Dovecot's shipped default, notably mail_fsync=optimized
// (mail is fsynced before OK) and one login process per connection.
func dovecotConfig(dir, port, authCache string, ids dovecotIDs) string {
	return fmt.Sprintf(`# Generated by imapload peers.
protocols = imap
listen = 127.0.0.1
base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_cache_size = %[3]s
default_internal_user = %[4]s
default_login_user = %[5]s
first_valid_uid = %[6]d
# A connection limit, not a performance setting: every client logs in as
# the same account from the same address.
mail_max_userip_connections = 100000
mail_location = maildir:%[1]s/mail/%%u
passdb {
  driver = passwd-file
  args = scheme=BLF-CRYPT %[1]s/passwd
}
userdb {
  driver = static
  args = uid=%[6]d gid=%[7]d home=%[1]s/mail/%%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[2]s
  }
  inet_listener imaps {
    port = 0
  }
}
service imap {
  process_limit = 20000
}
`, dir, port, authCache, ids.internalUser, ids.loginUser, ids.mailUID, ids.mailGID)
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

// createMailbox creates name on the server of lc with lc's account.
func createMailbox(lc load.Config, name string) error {
	timeout := lc.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	c, err := imapc.Dialer{Timeout: timeout}.Dial(lc.Addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Login(lc.User, lc.Password); err != nil {
		return err
	}
	_, err = c.Expect("CREATE " + imapc.Quote(name))
	return err
}
