package probe

import "crypto/tls"

type tlsConf struct{ Config tls.Config }

func tlsConfig(cert tls.Certificate) *tlsConf {
	return &tlsConf{Config: tls.Config{Certificates: []tls.Certificate{cert}}}
}
