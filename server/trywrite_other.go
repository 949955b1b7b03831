//go:build !unix

package server

import "net"

// writeNow reports that this platform has no non-blocking socket write;
// the caller writes with a short deadline instead.
func writeNow(net.Conn, []byte) (int, error, bool) { return 0, nil, false }
