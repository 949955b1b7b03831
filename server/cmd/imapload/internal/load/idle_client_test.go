//go:build linux

package load_test

import (
	"bytes"
	"errors"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// waitArrivals reads the idlers with one epoll loop on a locked thread:
// one read system call per arrival and no goroutine wake-ups, so that the
// measuring client takes as little as possible of the CPU the server under
// test shares with it.
func waitArrivals(t *testing.T, conns []net.Conn, a *arrivals) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		t.Logf("epoll unavailable (%v): reading with goroutines", err)
		waitGoroutines(conns, a)
		return
	}
	defer syscall.Close(epfd)
	fds := make([]int, len(conns))
	for i, c := range conns {
		rc, err := c.(*net.TCPConn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		rc.Control(func(fd uintptr) { fds[i] = int(fd) })
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(i)}
		if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, fds[i], &ev); err != nil {
			t.Fatal(err)
		}
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	events := make([]syscall.EpollEvent, 256)
	buf := make([]byte, 4096)
	carry := make([][]byte, len(conns)) // a line split between reads
	marker := []byte(" EXISTS\r\n")
	pending := len(conns)
	for pending > 0 {
		k, err := syscall.EpollWait(epfd, events, -1)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UnixNano()
		for _, ev := range events[:k] {
			i := int(ev.Fd)
			n, err := syscall.Read(fds[i], buf)
			if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
				continue
			}
			if err != nil || n == 0 {
				t.Fatalf("idler %d: read: %v", i, err)
			}
			data := append(carry[i], buf[:n]...)
			for {
				nl := bytes.IndexByte(data, '\n')
				if nl < 0 {
					break
				}
				if bytes.HasSuffix(data[:nl+1], marker) && !a.done(i) {
					a.record(i, now)
					if a.done(i) {
						pending--
						syscall.EpollCtl(epfd, syscall.EPOLL_CTL_DEL, fds[i], nil)
					}
				}
				data = data[nl+1:]
			}
			carry[i] = append(carry[i][:0], data...)
		}
	}
}
