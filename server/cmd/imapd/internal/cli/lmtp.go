package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/imapfsm/imapfsm/server/lmtp"
	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/boltstore"
)

// lmtpSocketName is the LMTP unix socket that serve creates in the data
// directory and deliver falls back to.
const lmtpSocketName = "lmtp.sock"

// lmtpFlags are the LMTP options of serve.
type lmtpFlags struct {
	listen        string
	allowRemote   bool
	detailMailbox bool
}

func (f *lmtpFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.listen, "lmtp-listen", "", "also serve LMTP (RFC 2033) on this TCP address, host:port; loopback only unless --lmtp-allow-remote")
	fs.BoolVar(&f.allowRemote, "lmtp-allow-remote", false, "allow a non-loopback --lmtp-listen address (LMTP has no authentication: anyone reaching it can deliver mail)")
	fs.BoolVar(&f.detailMailbox, "lmtp-detail-mailbox", true, "deliver mail for user+NAME into the mailbox NAME of user when it exists")
}

func (f *lmtpFlags) validate() error {
	if f.listen == "" {
		if f.allowRemote {
			return usageErr("serve: --lmtp-allow-remote needs --lmtp-listen")
		}
		return nil
	}
	if _, _, err := net.SplitHostPort(f.listen); err != nil {
		return usageErr("serve: --lmtp-listen %q: want host:port", f.listen)
	}
	if !f.allowRemote && !loopbackHost(f.listen) {
		return usageErr("serve: --lmtp-listen %q is not a loopback address (127.0.0.1, ::1 or localhost); add --lmtp-allow-remote to accept mail from the network", f.listen)
	}
	return nil
}

// lmtpService is the LMTP side of a running serve: the unix socket in the
// data directory (trusted: it accepts the MAILBOX parameter deliver uses)
// and the optional TCP listener.
type lmtpService struct {
	log        *slog.Logger
	socketPath string
	socketInfo os.FileInfo
	socket     *net.UnixListener
	tcp        net.Listener
	local      *lmtp.Server // serves the socket
	remote     *lmtp.Server // serves the TCP listener; nil without one
}

// startLMTP binds the LMTP listeners; serve starts them with run.
func startLMTP(cfg serveConfig, st store.Store) (_ *lmtpService, err error) {
	ls := &lmtpService{log: cfg.log}
	defer func() {
		if err != nil {
			ls.close()
		}
	}()
	base := lmtp.Config{
		Store:          st,
		Logger:         cfg.log,
		DetailMailbox:  cfg.lmtp.detailMailbox,
		TraceHeaders:   true,
		MaxMessageSize: storeMaxMessageSize(st),
		SpoolDir:       cfg.dataDir, // private to this user; "" is the system's
	}
	local := base
	local.MailboxParam = true
	if ls.local, err = lmtp.New(local); err != nil {
		return nil, err
	}
	if cfg.dataDir != "" {
		ls.socketPath = filepath.Join(cfg.dataDir, lmtpSocketName)
		if ls.socket, ls.socketInfo, err = listenPrivateSocket(ls.socketPath); err != nil {
			return nil, fmt.Errorf("LMTP socket: %w", err)
		}
	}
	if cfg.lmtp.listen != "" {
		if ls.remote, err = lmtp.New(base); err != nil {
			return nil, err
		}
		if ls.tcp, err = net.Listen("tcp", cfg.lmtp.listen); err != nil {
			return nil, fmt.Errorf("--lmtp-listen: %w", err)
		}
		if !cfg.lmtp.allowRemote && !boundLoopback(ls.tcp) {
			return nil, fmt.Errorf("--lmtp-listen %s resolved to %s, which is not loopback; add --lmtp-allow-remote to allow it", cfg.lmtp.listen, ls.tcp.Addr())
		}
	}
	return ls, nil
}

// storeMaxMessageSize is the message size limit of st: the LMTP server
// advertises it with SIZE and refuses larger messages before storing them.
func storeMaxMessageSize(st store.Store) int64 {
	if s, ok := st.(interface{ MaxMessageSize() int64 }); ok && s.MaxMessageSize() > 0 {
		return s.MaxMessageSize()
	}
	return boltstore.DefaultMaxMessageSize
}

// tcpAddr returns the bound TCP address, "" without one.
func (ls *lmtpService) tcpAddr() string {
	if ls.tcp == nil {
		return ""
	}
	return ls.tcp.Addr().String()
}

// run serves the listeners; each reports its end on errc. It returns how
// many reports to expect.
func (ls *lmtpService) run(errc chan<- error) int {
	n := 0
	if ls.socket != nil {
		n++
		go func() { errc <- fmt.Errorf("LMTP socket %s: %w", ls.socketPath, ls.local.Serve(ls.socket)) }()
	}
	if ls.tcp != nil {
		n++
		go func() { errc <- fmt.Errorf("--lmtp-listen %s: %w", ls.tcp.Addr(), ls.remote.Serve(ls.tcp)) }()
	}
	return n
}

// shutdown stops both servers, letting transactions in progress finish
// until ctx is done, and removes the socket.
func (ls *lmtpService) shutdown(ctx context.Context) {
	for _, srv := range []*lmtp.Server{ls.local, ls.remote} {
		if srv == nil {
			continue
		}
		if err := srv.Shutdown(ctx); err != nil {
			ls.log.Warn("LMTP sessions did not finish in time and were closed", "err", err)
		}
	}
	ls.close()
}

// close releases the listeners (when they were never served) and removes
// the socket file if it is still the one this process created.
func (ls *lmtpService) close() {
	if ls.socket != nil {
		_ = ls.socket.Close()
	}
	if ls.tcp != nil {
		_ = ls.tcp.Close()
	}
	if ls.socketInfo != nil {
		if fi, err := os.Lstat(ls.socketPath); err == nil && os.SameFile(fi, ls.socketInfo) {
			if err := os.Remove(ls.socketPath); err != nil {
				ls.log.Warn("cannot remove the LMTP socket", "path", ls.socketPath, "err", err)
			}
		}
		ls.socketInfo = nil
	}
}

// listenPrivateSocket listens on a unix socket at path that only this
// user can connect to. The socket is bound in a fresh 0700 directory,
// restricted to 0600 and only then renamed to path, so that no other user
// can connect in between whatever the umask. A socket left at path by a
// process that died is replaced; one that accepts connections is not.
func listenPrivateSocket(path string) (*net.UnixListener, os.FileInfo, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, nil, fmt.Errorf("%s exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, nil, fmt.Errorf("%s: another server is listening on it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, nil, err
		}
	}
	tmp, err := os.MkdirTemp(filepath.Dir(path), ".l")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(tmp)
	tmpPath := filepath.Join(tmp, "s")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmpPath, Net: "unix"})
	if err != nil {
		if len(path) > 100 {
			return nil, nil, fmt.Errorf("%w (unix socket paths are limited to about 100 bytes: use a shorter --data path)", err)
		}
		return nil, nil, err
	}
	// The socket file is removed by close, after checking it is still ours.
	l.SetUnlinkOnClose(false)
	fail := func(err error) (*net.UnixListener, os.FileInfo, error) {
		l.Close()
		return nil, nil, err
	}
	if err := os.Chmod(tmpPath, 0o600); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmpPath, path); err != nil {
		return fail(err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return fail(err)
	}
	return l, fi, nil
}

// errLMTPUnavailable marks a failure to reach the server's LMTP socket.
var errLMTPUnavailable = errors.New("LMTP socket is unavailable")
