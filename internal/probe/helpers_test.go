package probe

import (
	"crypto/tls"
	"encoding/base64"
	"testing"

	"github.com/firewatch/firewatch/internal/netx"
	"github.com/firewatch/firewatch/internal/probe/probetest"
)

type tlsConf struct{ Config tls.Config }

func tlsConfig(cert tls.Certificate) *tlsConf {
	return &tlsConf{Config: tls.Config{Certificates: []tls.Certificate{cert}}}
}

func decodeB64URL(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

func newBenchDNS(b *testing.B) string { return probetest.NewDNSServer(b).Addr }

func benchNetwork(b *testing.B) *netx.Network { return probetest.Network(b, nil, "") }
