package probe

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"net"
	"time"

	"github.com/firewatch/firewatch/internal/failure"
	"github.com/firewatch/firewatch/internal/model"
)

// tlsVersions names TLS versions as recorded.
var tlsVersions = map[uint16]string{
	tls.VersionTLS10: "TLSv1.0", tls.VersionTLS11: "TLSv1.1",
	tls.VersionTLS12: "TLSv1.2", tls.VersionTLS13: "TLSv1.3",
}

// handshake runs a TLS handshake with SNI serverName over conn and records
// it. The chain is always recorded: verification is done by hand after the
// handshake, so a chain that does not verify is still the evidence. It
// returns the TLS connection, or nil when the handshake failed.
func (p *Probe) handshake(ctx context.Context, rec *recorder, conn net.Conn, serverName string, alpn []string) *tls.Conn {
	step := newStep(model.OpTLSHandshake, conn.RemoteAddr().String(), serverName)
	data := &model.TLSData{ServerName: serverName, Chain: []model.Certificate{}}
	step.TLS = data
	cfg := &tls.Config{
		ServerName:         serverName,
		InsecureSkipVerify: true, // verified below, so that the chain is always recorded
		NextProtos:         alpn,
		MinVersion:         tls.VersionTLS10,
	}
	tc := tls.Client(conn, cfg)
	hctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	err := tc.HandshakeContext(hctx)
	st := tc.ConnectionState()
	for _, c := range st.PeerCertificates {
		data.Chain = append(data.Chain, certRecord(c))
	}
	if err != nil {
		finish(&step, failure.Wrap(model.OpTLSHandshake, handshakeError(err)))
		rec.add(step)
		return nil
	}
	data.Version = tlsVersions[st.Version]
	data.CipherSuite = tls.CipherSuiteName(st.CipherSuite)
	data.ALPN = st.NegotiatedProtocol
	p.verify(data, st.PeerCertificates, serverName)
	finish(&step, nil)
	rec.add(step)
	return tc
}

// handshakeError maps handshake errors that are not network errors to
// ssl_failed_handshake; network errors (reset, timeout, EOF) keep their class.
func handshakeError(err error) error {
	f := failure.Classify(err)
	if len(f) > len(failure.Unknown) && f[:len(failure.Unknown)] == failure.Unknown {
		return failure.New(failure.SSLFailedHandshake, model.OpTLSHandshake, err)
	}
	return err
}

// verify checks the presented chain for serverName against the network's
// roots and records the result and the trust anchor.
func (p *Probe) verify(data *model.TLSData, chain []*x509.Certificate, serverName string) {
	if len(chain) == 0 {
		f := failure.SSLInvalidCert
		data.VerifyError = &f
		return
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	opts := x509.VerifyOptions{
		Roots:         p.net.Roots(),
		DNSName:       serverName,
		Intermediates: inter,
		CurrentTime:   time.Now(),
	}
	chains, err := chain[0].Verify(opts)
	if err != nil {
		f := failure.Classify(err)
		if f == failure.GenericTimeout || len(f) >= len(failure.Unknown) && f[:len(failure.Unknown)] == failure.Unknown {
			f = failure.SSLInvalidCert
		}
		data.VerifyError = &f
		return
	}
	data.Verified = true
	if len(chains) > 0 && len(chains[0]) > 0 {
		root := chains[0][len(chains[0])-1]
		data.RootSubject = root.Subject.String()
		sum := sha256.Sum256(root.Raw)
		data.RootSHA256 = hex.EncodeToString(sum[:])
	}
}

// certRecord describes one certificate.
func certRecord(c *x509.Certificate) model.Certificate {
	sum := sha256.Sum256(c.Raw)
	spki := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	r := model.Certificate{
		Subject:         c.Subject.String(),
		Issuer:          c.Issuer.String(),
		NotBefore:       c.NotBefore.UTC(),
		NotAfter:        c.NotAfter.UTC(),
		SHA256:          hex.EncodeToString(sum[:]),
		PublicKeySHA256: hex.EncodeToString(spki[:]),
		IsCA:            c.IsCA,
	}
	r.SANs = append(r.SANs, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		r.SANs = append(r.SANs, ip.String())
	}
	return r
}
