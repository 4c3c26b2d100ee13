package censor

import (
	"fmt"
	"net"
	"net/netip"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// filterProgram assembles the classic BPF program of the sniffer socket
// (SOCK_DGRAM: offsets start at the IPv4 header). It accepts packets not sent
// by this host that are unfragmented UDP to port 53 and, when tcpPorts is not
// empty, TCP to one of tcpPorts that carry payload or SYN/FIN/RST.
func filterProgram(tcpPorts []uint16) ([]bpf.RawInstruction, error) {
	const accept, reject = 0x40000, 0
	var p []bpf.Instruction
	add := func(i ...bpf.Instruction) { p = append(p, i...) }
	// Placeholders for jumps are fixed below by index arithmetic.
	add(
		bpf.LoadExtension{Num: bpf.ExtType},                                     // 0
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.PACKET_OUTGOING, SkipTrue: 0}, // 1 -> reject (patched)
		bpf.LoadAbsolute{Off: 6, Size: 2},                                       // 2
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x1fff, SkipTrue: 0},             // 3 -> reject
		bpf.LoadMemShift{Off: 0},                                                // 4 X = IP header length
		bpf.LoadAbsolute{Off: 9, Size: 1},                                       // 5 protocol
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: protoUDP, SkipTrue: 0},             // 6 -> udp
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: protoTCP, SkipTrue: 0},             // 7 -> tcp
		bpf.RetConstant{Val: reject},                                            // 8
		// udp: 9
		bpf.LoadIndirect{Off: 2, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 53, SkipFalse: 1},
		bpf.RetConstant{Val: accept},
		bpf.RetConstant{Val: reject},
	)
	tcp := len(p)
	if len(tcpPorts) > 0 && len(tcpPorts) < 200 {
		add(bpf.LoadIndirect{Off: 2, Size: 2})
		n := len(tcpPorts)
		for i, port := range tcpPorts {
			// on match jump to the port-ok block right after the list and the reject
			add(bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(port), SkipTrue: uint8(n - i)})
		}
		add(bpf.RetConstant{Val: reject})
		add(
			bpf.LoadIndirect{Off: 13, Size: 1},
			bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: tcpSYN | tcpFIN | tcpRST, SkipTrue: 8},
			bpf.LoadIndirect{Off: 12, Size: 1},
			bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0},
			bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 2},
			bpf.ALUOpX{Op: bpf.ALUOpAdd},
			bpf.TAX{}, // X = header lengths
			bpf.LoadAbsolute{Off: 2, Size: 2},
			bpf.ALUOpX{Op: bpf.ALUOpSub},
			bpf.JumpIf{Cond: bpf.JumpGreaterThan, Val: 0, SkipFalse: 1},
			bpf.RetConstant{Val: accept},
			bpf.RetConstant{Val: reject},
		)
	} else {
		add(bpf.RetConstant{Val: reject})
	}
	// patch the forward jumps of the common prefix
	p[1] = bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.PACKET_OUTGOING, SkipTrue: uint8(8 - 2)}
	p[3] = bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x1fff, SkipTrue: uint8(8 - 4)}
	p[6] = bpf.JumpIf{Cond: bpf.JumpEqual, Val: protoUDP, SkipTrue: uint8(9 - 7)}
	p[7] = bpf.JumpIf{Cond: bpf.JumpEqual, Val: protoTCP, SkipTrue: uint8(tcp - 8), SkipFalse: 0}
	return bpf.Assemble(p)
}

// sniffer reads copies of packets arriving on one interface.
type sniffer struct{ fd int }

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func openSniffer(iface string, prog []bpf.RawInstruction) (*sniffer, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("censor: interface %s: %w", iface, err)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_IP)))
	if err != nil {
		return nil, fmt.Errorf("censor: AF_PACKET socket (needs CAP_NET_RAW): %w", err)
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: (*unix.SockFilter)(unsafe.Pointer(&prog[0]))}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("censor: SO_ATTACH_FILTER: %w", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 16<<20)
	tv := unix.NsecToTimeval(int64(200 * time.Millisecond))
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: ifi.Index}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("censor: bind AF_PACKET to %s: %w", iface, err)
	}
	return &sniffer{fd: fd}, nil
}

// read returns the next packet; n == 0 with a nil error means a timeout.
func (s *sniffer) read(buf []byte) (int, error) {
	n, _, err := unix.Recvfrom(s.fd, buf, 0)
	if err == unix.EAGAIN || err == unix.EINTR {
		return 0, nil
	}
	return n, err
}

func (s *sniffer) close() { unix.Close(s.fd) }

// rawSender writes complete IPv4 packets (IP_HDRINCL).
type rawSender struct{ fd int }

func openRaw() (*rawSender, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		return nil, fmt.Errorf("censor: raw socket (needs CAP_NET_RAW): %w", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 8<<20)
	return &rawSender{fd: fd}, nil
}

func (r *rawSender) send(pkt []byte, dst netip.Addr) error {
	return unix.Sendto(r.fd, pkt, 0, &unix.SockaddrInet4{Addr: dst.As4()})
}

func (r *rawSender) close() { unix.Close(r.fd) }

// dnsAnswerFilter assembles the BPF program of the answer sniffer: packets not
// sent by this host, unfragmented, UDP from port 53.
func dnsAnswerFilter() []bpf.RawInstruction {
	const accept, reject = 0x10000, 0
	raw, err := bpf.Assemble([]bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtType},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.PACKET_OUTGOING, SkipTrue: 7},
		bpf.LoadAbsolute{Off: 6, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x1fff, SkipTrue: 5},
		bpf.LoadAbsolute{Off: 9, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: protoUDP, SkipFalse: 3},
		bpf.LoadMemShift{Off: 0},
		bpf.LoadIndirect{Off: 0, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 53, SkipTrue: 1},
		bpf.RetConstant{Val: reject},
		bpf.RetConstant{Val: accept},
	})
	if err != nil {
		panic("censor: invalid BPF program: " + err.Error())
	}
	return raw
}
