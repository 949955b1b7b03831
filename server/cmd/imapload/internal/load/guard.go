package load

import (
	"context"
	"fmt"
	"net"
	"net/netip"
)

// CheckLoopback refuses addr ("host:port") unless every address its host
// resolves to is a loopback address: imapload is for benchmarking servers
// on this machine, never for loading someone else's.
func CheckLoopback(ctx context.Context, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("target %q: want host:port: %v", addr, err)
	}
	if port == "" {
		return fmt.Errorf("target %q: no port", addr)
	}
	if host == "" {
		return fmt.Errorf("target %q: no host; name a loopback address such as 127.0.0.1", addr)
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		ips, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return fmt.Errorf("target %q: resolve: %v", addr, err)
		}
	}
	if len(ips) == 0 {
		return fmt.Errorf("target %q: host resolves to no address", addr)
	}
	for _, ip := range ips {
		if !ip.Unmap().IsLoopback() {
			return fmt.Errorf("target %q: %s is not a loopback address; imapload only loads servers on this machine", addr, ip)
		}
	}
	return nil
}

// sourceAddr returns the local address for connection i when the target is
// an IPv4 loopback address and perSource > 0: connections are spread over
// 127.0.1.1 to 127.0.254.254 in groups of perSource, so that a server's limit of
// connections per client address does not cap the run. It returns nil
// otherwise (the system chooses).
func sourceAddr(target string, i, perSource int) net.Addr {
	if perSource <= 0 {
		return nil
	}
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Is4() || !ip.IsLoopback() {
		return nil
	}
	g := i / perSource
	a := [4]byte{127, 0, byte(1 + g/254%254), byte(1 + g%254)}
	return &net.TCPAddr{IP: net.IP(a[:])}
}
