package censor

import (
	"bufio"
	"io"
	"net"
	"net/netip"
	"sync"

	"github.com/firewatch/firewatch/internal/lab/policy"
)

// Strip handles a connection to dst diverted by a starttls-strip rule: it
// relays the plaintext session line by line through policy.StripLine.
func (x *Proxies) Strip(c net.Conn, dst netip.AddrPort) {
	defer c.Close()
	up, err := x.dial(dst)
	if err != nil {
		x.logf("starttls-strip: dial %s: %v", dst, err)
		resetConn(c)
		return
	}
	defer up.Close()
	x.logf("starttls-strip %s -> %s", c.RemoteAddr(), dst)
	var wg sync.WaitGroup
	cp := func(dst, src net.Conn) {
		defer wg.Done()
		r := bufio.NewReader(src)
		for {
			line, err := r.ReadString('\n')
			if line != "" {
				if _, werr := io.WriteString(dst, policy.StripLine(line)); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		closeWrite(dst)
	}
	wg.Add(2)
	go cp(c, up)
	go cp(up, c)
	wg.Wait()
}
