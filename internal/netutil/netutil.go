// Package netutil holds the network helpers several packages share.
package netutil

import "net"

// IsLoopback reports whether host (a name or address, as in a listen
// address or a Host header) is only reachable from this machine.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
