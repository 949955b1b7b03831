package pgtest

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// procAttrs returns the process attributes for initdb and for the server,
// and gives them dir. PostgreSQL refuses to run as root, so root runs both
// as the "postgres" system user the Debian package creates. The server
// gets SIGTERM when the test process dies and a process group of its own.
func procAttrs(dir string) (initdb, server *syscall.SysProcAttr, err error) {
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, nil, fmt.Errorf("running as root and there is no unprivileged postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, nil, err
		}
	}
	return &syscall.SysProcAttr{Credential: cred},
		&syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGTERM, Setpgid: true}, nil
}
