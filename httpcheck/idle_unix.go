//go:build unix

package httpcheck

import (
	"net"
	"syscall"
)

// quiet reports whether c, an idle connection, has nothing to read: no
// data and no end of file. It asks the socket without blocking and
// without taking a byte (recv with MSG_PEEK and MSG_DONTWAIT), one system
// call.
func quiet(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	still := true
	err = raw.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		still = n < 0 && (err == syscall.EAGAIN || err == syscall.EWOULDBLOCK)
		return true // never wait for the socket to become readable
	})
	return still && err == nil
}
