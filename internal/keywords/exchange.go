package keywords

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/firewatch/firewatch/internal/failure"
	"github.com/firewatch/firewatch/internal/netx"
	"github.com/miekg/dns"
)

// seen is what one exchange observed: a failure, or an answer.
type seen struct {
	Failure  string // failure string (the failure vocabulary); "" when an answer came
	Connect  bool   // the failure is the connect's: no request was sent
	Unasked  bool   // the control could not be asked: Failure says why
	Status   int    // HTTP status
	Location string // HTTP Location
	Title    string // HTTP <title>
	TLS      string // TLS: "handshake" (a ServerHello) or "alert"
	Rcode    string // DNS rcode of the first response
	Addrs    []string
	Answers  int // DNS responses received
}

func (s seen) String() string {
	switch {
	case s.Failure != "" && s.Connect:
		return "connect: " + s.Failure
	case s.Failure != "":
		return s.Failure
	case s.Status != 0:
		out := fmt.Sprintf("HTTP %d", s.Status)
		if s.Location != "" {
			out += " → " + s.Location
		}
		if s.Title != "" {
			out += fmt.Sprintf(" %q", s.Title)
		}
		return out
	case s.TLS != "":
		return "tls " + s.TLS
	case s.Rcode != "":
		return fmt.Sprintf("dns %s %s (%d responses)", s.Rcode, strings.Join(s.Addrs, " "), s.Answers)
	}
	return "nothing"
}

var titleRE = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)

// dial connects to addr over TCP, the connection bound by ctx's deadline.
// A failure is returned as what the exchange saw: a failed connect.
func dial(ctx context.Context, n *netx.Network, addr netip.AddrPort) (net.Conn, *seen) {
	c, err := n.Dial(ctx, "tcp", addr.String())
	if err != nil {
		return nil, &seen{Failure: failure.Classify(err), Connect: true}
	}
	dl, _ := ctx.Deadline()
	_ = c.SetDeadline(dl)
	return c, nil
}

// httpExchange sends req to addr and reads the response head and the start
// of the body.
func httpExchange(ctx context.Context, n *netx.Network, addr netip.AddrPort, req []byte, timeout time.Duration) seen {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, failed := dial(ctx, n, addr)
	if failed != nil {
		return *failed
	}
	defer c.Close()
	if _, err := c.Write(req); err != nil {
		return seen{Failure: failure.Classify(err)}
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return seen{Failure: failure.EOF}
		}
		return seen{Failure: failure.Classify(err)}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 8192))
	s := seen{Status: resp.StatusCode, Location: resp.Header.Get("Location")}
	if m := titleRE.FindSubmatch(body); m != nil {
		s.Title = strings.TrimSpace(string(m[1]))
	}
	return s
}

// httpRequest builds the request for host and target with a mutation.
func httpRequest(host, target, mutation string) []byte {
	line := "GET " + target + " HTTP/1.1"
	hostHdr := "Host: " + host
	switch mutation {
	case MutCase:
		line = "GET " + swapCase(target) + " HTTP/1.1"
		hostHdr = "Host: " + swapCase(host)
	case MutPadding:
		line = "GET  " + target + "  HTTP/1.1"
		hostHdr = "Host:\t " + host + " \t"
	case MutHostHeader:
		hostHdr = "hOsT: " + host
	case MutAbsoluteURI:
		line = "GET http://" + host + target + " HTTP/1.1"
	case MutTrailingDot:
		hostHdr = "Host: " + strings.TrimSuffix(host, ".") + "."
	}
	return []byte(line + "\r\n" + hostHdr + "\r\nUser-Agent: Mozilla/5.0\r\nAccept: */*\r\nConnection: close\r\n\r\n")
}

// swapCase upper-cases the lower-case ASCII letters and vice versa.
func swapCase(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			b[i] = c - 32
		case c >= 'A' && c <= 'Z':
			b[i] = c + 32
		}
	}
	return string(b)
}

// tlsExchange sends a ClientHello naming sni to addr (mutated) and reads
// the first record of the answer.
func tlsExchange(ctx context.Context, n *netx.Network, addr netip.AddrPort, sni, mutation string, timeout time.Duration) seen {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, failed := dial(ctx, n, addr)
	if failed != nil {
		return *failed
	}
	defer c.Close()
	name := sni
	switch mutation {
	case MutCase:
		name = swapCase(sni)
	case MutTrailingDot:
		name = strings.TrimSuffix(sni, ".") + "."
	}
	hello, sniAt := clientHello(name)
	var writes [][]byte
	switch mutation {
	case MutSNISplit:
		rec := record(hello)
		cut := 5 + sniAt + len(name)/2
		writes = [][]byte{rec[:cut], rec[cut:]}
	case MutTLSRecordFrag:
		cut := sniAt + len(name)/2
		writes = [][]byte{append(record(hello[:cut]), record(hello[cut:])...)}
	default:
		writes = [][]byte{record(hello)}
	}
	for i, w := range writes {
		if i > 0 {
			time.Sleep(20 * time.Millisecond) // two segments, not one
		}
		if _, err := c.Write(w); err != nil {
			return seen{Failure: failure.Classify(err)}
		}
	}
	var hdr [5]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return seen{Failure: failure.EOF}
		}
		return seen{Failure: failure.Classify(err)}
	}
	switch hdr[0] {
	case 22:
		return seen{TLS: "handshake"}
	case 21:
		return seen{TLS: "alert"}
	}
	return seen{TLS: fmt.Sprintf("record type %d", hdr[0])}
}

// record wraps a handshake message in a TLS record.
func record(msg []byte) []byte {
	out := []byte{22, 3, 1, 0, 0}
	binary.BigEndian.PutUint16(out[3:], uint16(len(msg)))
	return append(out, msg...)
}

// clientHello builds a TLS 1.2/1.3 ClientHello handshake message naming sni
// and returns it with the offset of the name in it. Servers answer it with
// a ServerHello (or an alert): either way the request reached them.
func clientHello(sni string) ([]byte, int) {
	u16 := func(b []byte, v int) []byte { return binary.BigEndian.AppendUint16(b, uint16(v)) }
	ext := func(b []byte, typ int, data []byte) []byte { return append(u16(u16(b, typ), len(data)), data...) }
	var exts []byte
	// server_name
	sn := u16(nil, len(sni)+3)
	sn = append(sn, 0)
	sn = u16(sn, len(sni))
	sniInExt := len(sn)
	sn = append(sn, sni...)
	exts = ext(exts, 0, sn)
	sniInExts := 4 + sniInExt
	exts = ext(exts, 10, []byte{0, 4, 0, 0x1d, 0, 0x17})                               // supported_groups: x25519, P-256
	exts = ext(exts, 11, []byte{1, 0})                                                 // ec_point_formats
	exts = ext(exts, 13, []byte{0, 8, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01, 0x08, 0x07}) // signature_algorithms
	exts = ext(exts, 43, []byte{4, 0x03, 0x04, 0x03, 0x03})                            // supported_versions: 1.3, 1.2
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	ks := u16(nil, 36)
	ks = u16(ks, 0x1d)
	ks = u16(ks, 32)
	exts = ext(exts, 51, append(ks, key...)) // key_share x25519
	exts = ext(exts, 16, []byte{0, 9, 8, 'h', 't', 't', 'p', '/', '1', '.', '1'})

	body := []byte{3, 3}
	random := make([]byte, 32)
	_, _ = rand.Read(random)
	body = append(body, random...)
	sid := make([]byte, 32)
	_, _ = rand.Read(sid)
	body = append(body, 32)
	body = append(body, sid...)
	suites := []int{0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8}
	body = u16(body, 2*len(suites))
	for _, s := range suites {
		body = u16(body, s)
	}
	body = append(body, 1, 0) // compression: null
	body = u16(body, len(exts))
	extsAt := len(body)
	body = append(body, exts...)
	msg := []byte{1, 0, 0, 0}
	msg[1], msg[2], msg[3] = byte(len(body)>>16), byte(len(body)>>8), byte(len(body))
	return append(msg, body...), 4 + extsAt + sniInExts
}

// dnsExchange queries resolver for name (A) and collects every response
// arriving within wait of the first one.
func dnsExchange(ctx context.Context, n *netx.Network, resolver netip.AddrPort, name, mutation string, timeout, wait time.Duration) seen {
	if mutation == MutCase {
		name = swapCase(name)
	}
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), dns.TypeA)
	q.RecursionDesired = true
	b, err := q.Pack()
	if err != nil {
		return seen{Failure: failure.Unknown + ": not a DNS name: " + err.Error()}
	}
	pc, err := n.Listen(ctx, "udp", ":0")
	if err != nil {
		return seen{Failure: failure.Classify(err)}
	}
	defer pc.Close()
	if _, err := pc.WriteTo(b, net.UDPAddrFromAddrPort(resolver)); err != nil {
		return seen{Failure: failure.Classify(err)}
	}
	_ = pc.SetReadDeadline(time.Now().Add(timeout))
	var s seen
	buf := make([]byte, 4096)
	for {
		k, _, err := pc.ReadFrom(buf)
		if err != nil {
			break
		}
		var m dns.Msg
		if m.Unpack(buf[:k]) != nil || m.Id != q.Id || !m.Response {
			continue
		}
		if s.Answers == 0 {
			s.Rcode = dns.RcodeToString[m.Rcode]
			for _, rr := range m.Answer {
				if a, ok := rr.(*dns.A); ok {
					s.Addrs = append(s.Addrs, a.A.String())
				}
			}
			slices.Sort(s.Addrs)
			_ = pc.SetReadDeadline(time.Now().Add(wait))
		}
		s.Answers++
	}
	if s.Answers == 0 {
		s.Failure = failure.GenericTimeout
	}
	return s
}
