package lambdainvoke

import (
	"net"
	"testing"
)

// ClosedPort returns a loopback URL on which nothing listens, so that a
// call to it is refused. It serves the package's internal and external
// tests alike.
func ClosedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}
