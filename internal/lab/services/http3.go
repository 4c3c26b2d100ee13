package services

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/firewatch/firewatch/internal/lab/scenario"
)

// altSvc advertises HTTP/3 on port in every answer of next, as sites that
// serve it do.
func altSvc(next http.Handler, port int) http.Handler {
	v := fmt.Sprintf(`h3=":%d"; ma=86400`, port)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Alt-Svc", v)
		next.ServeHTTP(w, r)
	})
}

// serveHTTP3 serves a host's pages over HTTP/3 (QUIC) on pc until ctx is
// done: the same pages and inside behavior as over TCP.
func serveHTTP3(ctx context.Context, pc net.PacketConn, h scenario.Host, tlsConf *tls.Config, inside []netip.Prefix) error {
	conf := tlsConf.Clone()
	conf.MinVersion = tls.VersionTLS13
	srv := &http3.Server{TLSConfig: http3.ConfigureTLSConfig(conf), Handler: &Web{Host: h, Inside: inside}}
	go func() { <-ctx.Done(); srv.Close() }()
	err := srv.Serve(pc)
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, quic.ErrServerClosed) || ctx.Err() != nil {
		return nil
	}
	return err
}
