package censor

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// IP protocol numbers used by the censor.
const (
	protoTCP = 6
	protoUDP = 17
)

// TCP flags.
const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpPSH = 0x08
	tcpACK = 0x10
)

var errShort = errors.New("censor: truncated packet")

// Packet is a parsed IPv4 packet carrying UDP or TCP. Payload aliases the
// buffer it was parsed from.
type Packet struct {
	Src, Dst         netip.Addr
	TTL              uint8
	Proto            uint8
	SrcPort, DstPort uint16
	Seq, Ack         uint32 // TCP only
	Flags            uint8  // TCP only
	Window           uint16 // TCP only
	IPHeaderLen      int
	L4HeaderLen      int
	Payload          []byte
}

// parseIPv4 parses an IPv4 packet (starting at the IP header) carrying UDP or
// TCP. Fragments other than the first, and other protocols, are errors.
func parseIPv4(b []byte) (Packet, error) {
	var p Packet
	if len(b) < 20 {
		return p, errShort
	}
	if b[0]>>4 != 4 {
		return p, errors.New("censor: not IPv4")
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:4]))
	if ihl < 20 || total < ihl || len(b) < total {
		return p, errShort
	}
	b = b[:total]
	if binary.BigEndian.Uint16(b[6:8])&0x1fff != 0 {
		return p, errors.New("censor: fragment")
	}
	p.TTL = b[8]
	p.Proto = b[9]
	p.Src = netip.AddrFrom4([4]byte(b[12:16]))
	p.Dst = netip.AddrFrom4([4]byte(b[16:20]))
	p.IPHeaderLen = ihl
	l4 := b[ihl:]
	switch p.Proto {
	case protoUDP:
		if len(l4) < 8 {
			return p, errShort
		}
		ulen := int(binary.BigEndian.Uint16(l4[4:6]))
		if ulen < 8 || ulen > len(l4) {
			return p, errShort
		}
		p.SrcPort = binary.BigEndian.Uint16(l4[0:2])
		p.DstPort = binary.BigEndian.Uint16(l4[2:4])
		p.L4HeaderLen = 8
		p.Payload = l4[8:ulen]
	case protoTCP:
		if len(l4) < 20 {
			return p, errShort
		}
		doff := int(l4[12]>>4) * 4
		if doff < 20 || doff > len(l4) {
			return p, errShort
		}
		p.SrcPort = binary.BigEndian.Uint16(l4[0:2])
		p.DstPort = binary.BigEndian.Uint16(l4[2:4])
		p.Seq = binary.BigEndian.Uint32(l4[4:8])
		p.Ack = binary.BigEndian.Uint32(l4[8:12])
		p.Flags = l4[13]
		p.Window = binary.BigEndian.Uint16(l4[14:16])
		p.L4HeaderLen = doff
		p.Payload = l4[doff:]
	default:
		return p, errors.New("censor: not UDP or TCP")
	}
	return p, nil
}

// checksum folds the one's complement sum of b into initial.
func checksum(b []byte, initial uint32) uint16 {
	s := initial
	for len(b) >= 2 {
		s += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

func pseudoSum(src, dst netip.Addr, proto uint8, length int) uint32 {
	s4, d4 := src.As4(), dst.As4()
	var s uint32
	s += uint32(s4[0])<<8 | uint32(s4[1])
	s += uint32(s4[2])<<8 | uint32(s4[3])
	s += uint32(d4[0])<<8 | uint32(d4[1])
	s += uint32(d4[2])<<8 | uint32(d4[3])
	s += uint32(proto)
	s += uint32(length)
	return s
}

// putIPv4Header writes a 20-byte IPv4 header (with checksum) into b.
func putIPv4Header(b []byte, src, dst netip.Addr, proto uint8, ttl uint8, total int, id uint16) {
	b[0] = 0x45
	b[1] = 0
	binary.BigEndian.PutUint16(b[2:4], uint16(total))
	binary.BigEndian.PutUint16(b[4:6], id)
	binary.BigEndian.PutUint16(b[6:8], 0x4000) // DF
	b[8] = ttl
	b[9] = proto
	b[10], b[11] = 0, 0
	s4, d4 := src.As4(), dst.As4()
	copy(b[12:16], s4[:])
	copy(b[16:20], d4[:])
	binary.BigEndian.PutUint16(b[10:12], checksum(b[:20], 0))
}

// buildUDP returns an IPv4/UDP packet with valid checksums.
func buildUDP(src netip.Addr, sport uint16, dst netip.Addr, dport uint16, ttl uint8, id uint16, payload []byte) []byte {
	ulen := 8 + len(payload)
	b := make([]byte, 20+ulen)
	putIPv4Header(b, src, dst, protoUDP, ttl, len(b), id)
	u := b[20:]
	binary.BigEndian.PutUint16(u[0:2], sport)
	binary.BigEndian.PutUint16(u[2:4], dport)
	binary.BigEndian.PutUint16(u[4:6], uint16(ulen))
	copy(u[8:], payload)
	cs := checksum(u, pseudoSum(src, dst, protoUDP, ulen))
	if cs == 0 {
		cs = 0xffff
	}
	binary.BigEndian.PutUint16(u[6:8], cs)
	return b
}

// buildTCP returns an IPv4/TCP packet (20-byte TCP header, no options) with
// valid checksums.
func buildTCP(src netip.Addr, sport uint16, dst netip.Addr, dport uint16, seq, ack uint32, flags uint8, window uint16, ttl uint8, payload []byte) []byte {
	tlen := 20 + len(payload)
	b := make([]byte, 20+tlen)
	putIPv4Header(b, src, dst, protoTCP, ttl, len(b), 0)
	t := b[20:]
	binary.BigEndian.PutUint16(t[0:2], sport)
	binary.BigEndian.PutUint16(t[2:4], dport)
	binary.BigEndian.PutUint32(t[4:8], seq)
	binary.BigEndian.PutUint32(t[8:12], ack)
	t[12] = 5 << 4
	t[13] = flags
	binary.BigEndian.PutUint16(t[14:16], window)
	copy(t[20:], payload)
	binary.BigEndian.PutUint16(t[16:18], checksum(t, pseudoSum(src, dst, protoTCP, tlen)))
	return b
}

// refreshForForward prepares a captured IPv4 packet for re-injection: it
// decrements the TTL (as the router would have), recomputes the IP header
// checksum, and recomputes the TCP or UDP checksum, which a capture of a
// locally offloaded packet may hold only partially. It reports false when the
// TTL is exhausted.
func refreshForForward(b []byte) bool {
	p, err := parseIPv4(b)
	if err != nil || b[8] <= 1 {
		return false
	}
	total := int(binary.BigEndian.Uint16(b[2:4]))
	b = b[:total]
	b[8]--
	b[10], b[11] = 0, 0
	binary.BigEndian.PutUint16(b[10:12], checksum(b[:p.IPHeaderLen], 0))
	l4 := b[p.IPHeaderLen:]
	switch p.Proto {
	case protoTCP:
		l4[16], l4[17] = 0, 0
		binary.BigEndian.PutUint16(l4[16:18], checksum(l4, pseudoSum(p.Src, p.Dst, protoTCP, len(l4))))
	case protoUDP:
		l4[6], l4[7] = 0, 0
		cs := checksum(l4, pseudoSum(p.Src, p.Dst, protoUDP, len(l4)))
		if cs == 0 {
			cs = 0xffff
		}
		binary.BigEndian.PutUint16(l4[6:8], cs)
	}
	return true
}

// segmentTCP splits a captured IPv4/TCP packet larger than mtu (a GSO packet
// handed over by a veth) into packets of at most mtu bytes, keeping headers
// and options, advancing the sequence number, and setting PSH and FIN only on
// the last one. Checksums are left for refreshForForward.
func segmentTCP(b []byte, mtu int) ([][]byte, error) {
	p, err := parseIPv4(b)
	if err != nil {
		return nil, err
	}
	hdr := p.IPHeaderLen + p.L4HeaderLen
	if p.Proto != protoTCP || len(b) <= mtu {
		return [][]byte{b}, nil
	}
	mss := mtu - hdr
	if mss <= 0 {
		return nil, errors.New("censor: headers exceed the MTU")
	}
	id := binary.BigEndian.Uint16(b[4:6])
	var out [][]byte
	for off := 0; off < len(p.Payload); off += mss {
		end := min(off+mss, len(p.Payload))
		s := make([]byte, hdr+end-off)
		copy(s, b[:hdr])
		copy(s[hdr:], p.Payload[off:end])
		binary.BigEndian.PutUint16(s[2:4], uint16(len(s)))
		binary.BigEndian.PutUint16(s[4:6], id+uint16(len(out)))
		t := s[p.IPHeaderLen:]
		binary.BigEndian.PutUint32(t[4:8], p.Seq+uint32(off))
		if end < len(p.Payload) {
			t[13] &^= tcpPSH | tcpFIN
		}
		out = append(out, s)
	}
	return out, nil
}

// protoICMP is IPPROTO_ICMP.
const protoICMP = 1

// buildTimeExceeded returns the ICMP time exceeded (TTL exceeded in
// transit) a router at src sends for the expired packet orig: the original
// IP header and the first 8 bytes of its payload are quoted (RFC 792).
func buildTimeExceeded(src netip.Addr, orig []byte) ([]byte, bool) {
	p, err := parseIPv4(orig)
	if err != nil {
		return nil, false
	}
	quote := orig[:min(len(orig), p.IPHeaderLen+8)]
	b := make([]byte, 20+8+len(quote))
	putIPv4Header(b, src, p.Src, protoICMP, 64, len(b), 0)
	ic := b[20:]
	ic[0] = 11 // time exceeded; code 0: TTL exceeded in transit
	copy(ic[8:], quote)
	binary.BigEndian.PutUint16(ic[2:4], checksum(ic, 0))
	return b, true
}
