package policy

import (
	"encoding/binary"
	"errors"
	"strings"
)

var (
	errNotHello = errors.New("policy: not a TLS ClientHello")
	errShort    = errors.New("policy: truncated ClientHello")
)

// parseSNI returns the server name of a TLS ClientHello at the start of b
// (one or more TLS records; only the first record is read). It returns "" and
// no error for a ClientHello without SNI, errNotHello for anything else.
func parseSNI(b []byte) (string, error) {
	if len(b) < 5 || b[0] != 0x16 || b[1] != 0x03 {
		return "", errNotHello
	}
	rlen := int(binary.BigEndian.Uint16(b[3:5]))
	rec := b[5:]
	if len(rec) > rlen {
		rec = rec[:rlen]
	}
	if len(rec) < 4 || rec[0] != 0x01 {
		return "", errNotHello
	}
	hlen := int(rec[1])<<16 | int(rec[2])<<8 | int(rec[3])
	h := rec[4:]
	if len(h) > hlen {
		h = h[:hlen]
	}
	// version(2) random(32)
	if len(h) < 34 {
		return "", errShort
	}
	h = h[34:]
	skip := func(n int) bool {
		if len(h) < n {
			return false
		}
		h = h[n:]
		return true
	}
	if len(h) < 1 || !skip(1+int(h[0])) { // session id
		return "", errShort
	}
	if len(h) < 2 || !skip(2+int(binary.BigEndian.Uint16(h))) { // cipher suites
		return "", errShort
	}
	if len(h) < 1 || !skip(1+int(h[0])) { // compression methods
		return "", errShort
	}
	if len(h) == 0 {
		return "", nil // no extensions
	}
	if len(h) < 2 {
		return "", errShort
	}
	elen := int(binary.BigEndian.Uint16(h))
	ext := h[2:]
	if len(ext) > elen {
		ext = ext[:elen]
	}
	for len(ext) >= 4 {
		typ := binary.BigEndian.Uint16(ext)
		l := int(binary.BigEndian.Uint16(ext[2:]))
		if len(ext) < 4+l {
			return "", errShort
		}
		data := ext[4 : 4+l]
		ext = ext[4+l:]
		if typ != 0 { // server_name
			continue
		}
		if len(data) < 2 {
			return "", errShort
		}
		list := data[2:]
		for len(list) >= 3 {
			nt := list[0]
			nl := int(binary.BigEndian.Uint16(list[1:]))
			if len(list) < 3+nl {
				return "", errShort
			}
			if nt == 0 {
				return strings.ToLower(string(list[3 : 3+nl])), nil
			}
			list = list[3+nl:]
		}
		return "", nil
	}
	return "", nil
}

// Stream states of the start of a TCP stream.
const (
	streamOther      = iota // neither a ClientHello nor what the caller looks for
	streamIncomplete        // more bytes are needed
	streamDone              // complete enough to decide
)

// sniOf classifies the start of a stream as a TLS ClientHello and returns its
// SNI once known.
func sniOf(b []byte) (string, int) {
	if len(b) == 0 || b[0] != 0x16 {
		return "", streamOther
	}
	if len(b) < 5 {
		return "", streamIncomplete
	}
	s, err := parseSNI(b)
	if err == errNotHello {
		if len(b) < 9 && b[1] == 0x03 {
			return "", streamIncomplete
		}
		return "", streamOther
	}
	if err == nil && s != "" {
		return s, streamDone
	}
	if rlen := int(binary.BigEndian.Uint16(b[3:5])); len(b) < 5+rlen {
		return "", streamIncomplete
	}
	return s, streamDone
}
