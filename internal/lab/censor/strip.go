package censor

import (
	"bufio"
	"io"
	"net"
	"regexp"
	"sync"
	"time"
)

// STARTTLS stripping: the censor relays a plaintext mail session line by
// line, overwriting the STARTTLS (STLS) offer in the server's capabilities
// and the upgrade command in the client's requests with X's of the same
// length (as some middleboxes do), so that the server refuses the upgrade
// and the session carries on in the clear.

var (
	stripSTARTTLS = regexp.MustCompile(`(?i)\bSTARTTLS\b`)
	stripSTLS     = regexp.MustCompile(`(?i)\bSTLS\b`)
)

// stripLine overwrites STARTTLS and STLS in one protocol line.
func stripLine(line string) string {
	line = stripSTARTTLS.ReplaceAllString(line, "XXXXXXXA")
	return stripSTLS.ReplaceAllString(line, "XXXX")
}

// serveStrip handles a connection diverted by a starttls-strip rule.
func (e *engine) serveStrip(c net.Conn) {
	defer c.Close()
	dst, err := originalDst(c)
	if err != nil {
		e.logf("starttls-strip: %v", err)
		return
	}
	up, err := net.DialTimeout("tcp4", dst.String(), 10*time.Second)
	if err != nil {
		e.logf("starttls-strip: dial %s: %v", dst, err)
		resetConn(c)
		return
	}
	defer up.Close()
	e.logf("starttls-strip %s -> %s", c.RemoteAddr(), dst)
	var wg sync.WaitGroup
	cp := func(dst, src net.Conn) {
		defer wg.Done()
		r := bufio.NewReader(src)
		for {
			line, err := r.ReadString('\n')
			if line != "" {
				if _, werr := io.WriteString(dst, stripLine(line)); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		if tc, ok := dst.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
	}
	wg.Add(2)
	go cp(c, up)
	go cp(up, c)
	wg.Wait()
}
