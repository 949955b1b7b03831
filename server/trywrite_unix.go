//go:build unix

package server

import (
	"errors"
	"net"
	"syscall"
)

// writeNow writes as much of p as the socket under nc accepts at once,
// without waiting and without a deadline (setting one costs a timer update
// per write, which shows when a hub pushes to thousands of idlers). ok is
// false when nc is not a plain TCP or Unix socket (a connection type of an
// embedder's may do more in its Write, which must not be bypassed); the
// caller then writes with a short deadline instead.
func writeNow(nc net.Conn, p []byte) (n int, err error, ok bool) {
	var sc syscall.Conn
	switch c := nc.(type) {
	case *net.TCPConn:
		sc = c
	case *net.UnixConn:
		sc = c
	default:
		return 0, nil, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, err, true
	}
	var werr error
	cerr := rc.Write(func(fd uintptr) bool {
		for n < len(p) {
			m, e := syscall.Write(int(fd), p[n:])
			if errors.Is(e, syscall.EINTR) {
				continue
			}
			if e != nil {
				if !errors.Is(e, syscall.EAGAIN) {
					werr = e
				}
				break
			}
			if m <= 0 {
				break
			}
			n += m
		}
		return true // one attempt: never wait for the socket
	})
	if cerr != nil {
		return n, cerr, true
	}
	return n, werr, true
}
