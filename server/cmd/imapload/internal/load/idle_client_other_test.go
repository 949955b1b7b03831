//go:build !linux

package load_test

import (
	"net"
	"testing"
)

// waitArrivals reads every idler in a goroutine of its own.
func waitArrivals(_ *testing.T, conns []net.Conn, a *arrivals) { waitGoroutines(conns, a) }
