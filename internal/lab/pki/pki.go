// Package pki holds the lab's certificate authorities: the public CA whose
// certificates every vantage trusts, and the rogue CA a MITM censor signs
// with. Both are ECDSA P-256, kept as PEM files in a state directory, and mint
// leaf certificates on the fly.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// CA is a certificate authority able to mint leaf certificates.
type CA struct {
	Name     string            // e.g. "public" or "rogue"
	Cert     *x509.Certificate // the self-signed root
	Key      *ecdsa.PrivateKey
	CertFile string // PEM file of the root certificate (a trust file)
	KeyFile  string // PEM file of the private key

	mu    sync.Mutex
	cache map[string]*tls.Certificate
}

// CertFileName is the root certificate's file name LoadOrCreate uses for a CA called name.
func CertFileName(name string) string { return name + "-ca.pem" }

// KeyFileName is the private key's file name for a CA called name.
func KeyFileName(name string) string { return name + "-ca-key.pem" }

// LoadOrCreate loads the CA called name from dir, creating and writing it
// (dir/NAME-ca.pem, dir/NAME-ca-key.pem) when it does not exist yet.
func LoadOrCreate(dir, name string) (*CA, error) {
	if name == "" || strings.ContainsAny(name, "/\\") {
		return nil, fmt.Errorf("pki: invalid CA name %q", name)
	}
	certFile := filepath.Join(dir, CertFileName(name))
	keyFile := filepath.Join(dir, KeyFileName(name))
	certPEM, errC := os.ReadFile(certFile)
	keyPEM, errK := os.ReadFile(keyFile)
	if errC == nil && errK == nil {
		ca, err := Parse(name, certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("pki: %s: %w", certFile, err)
		}
		ca.CertFile, ca.KeyFile = certFile, keyFile
		return ca, nil
	}
	if !errors.Is(errC, os.ErrNotExist) && errC != nil {
		return nil, fmt.Errorf("pki: %w", errC)
	}
	ca, err := New(name)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	kb, err := x509.MarshalECPrivateKey(ca.Key)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	if err := writeFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return nil, err
	}
	if err := writeFile(certFile, ca.CertPEM(), 0o644); err != nil {
		return nil, err
	}
	ca.CertFile, ca.KeyFile = certFile, keyFile
	return ca, nil
}

func writeFile(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	return nil
}

// New creates a CA in memory (no files).
func New(name string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "firewatch lab " + name + " CA", Organization: []string{"firewatch lab"}},
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	return &CA{Name: name, Cert: cert, Key: key}, nil
}

// Parse builds a CA from its PEM certificate and PEM EC private key.
func Parse(name string, certPEM, keyPEM []byte) (*CA, error) {
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, errors.New("no CERTIFICATE block")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, err
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, errors.New("no private key block")
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, err
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("private key does not match certificate")
	}
	return &CA{Name: name, Cert: cert, Key: key}, nil
}

// CertPEM returns the root certificate as PEM.
func (ca *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// Pool returns a certificate pool holding only this CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Leaf returns a server certificate for names and ips signed by the CA,
// cached so that repeated on-the-fly minting for the same names is cheap.
func (ca *CA) Leaf(names []string, ips []netip.Addr) (tls.Certificate, error) {
	if len(names) == 0 && len(ips) == 0 {
		return tls.Certificate{}, errors.New("pki: a leaf needs a name or an address")
	}
	ns := make([]string, len(names))
	for i, n := range names {
		ns[i] = strings.TrimSuffix(strings.ToLower(n), ".")
	}
	key := strings.Join(ns, ",") + "|"
	for _, ip := range ips {
		key += ip.String() + ","
	}
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if c, ok := ca.cache[key]; ok {
		return *c, nil
	}
	lk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(90 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     slices.Clone(ns),
	}
	if len(ns) > 0 {
		tmpl.Subject.CommonName = ns[0]
	} else {
		tmpl.Subject.CommonName = ips[0].String()
	}
	for _, ip := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip.AsSlice())
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &lk.PublicKey, ca.Key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: %w", err)
	}
	c := &tls.Certificate{Certificate: [][]byte{der, ca.Cert.Raw}, PrivateKey: lk, Leaf: leaf}
	if ca.cache == nil {
		ca.cache = map[string]*tls.Certificate{}
	}
	if len(ca.cache) > 10000 {
		clear(ca.cache)
	}
	ca.cache[key] = c
	return *c, nil
}

// GetCertificate returns a tls.Config.GetCertificate callback minting a leaf
// for the ClientHello's SNI, or for fallback names when the client sent none.
func (ca *CA) GetCertificate(fallback []string, ips []netip.Addr) func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return func(hi *tls.ClientHelloInfo) (*tls.Certificate, error) {
		names := fallback
		if hi.ServerName != "" {
			names = []string{hi.ServerName}
		}
		c, err := ca.Leaf(names, ips)
		if err != nil {
			return nil, err
		}
		return &c, nil
	}
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}

// Certificate faults a scenario host may have (scenario.Host.Certificate):
// a genuine site's own misconfiguration, seen the same from everywhere.
const (
	FaultExpired   = "expired"    // signed by the CA, expired a day ago
	FaultWrongName = "wrong-name" // signed by the CA for another name
	FaultUntrusted = "untrusted"  // signed by a CA no client trusts
)

// Faults lists the certificate faults.
var Faults = []string{FaultExpired, FaultWrongName, FaultUntrusted}

// WrongName is the name a wrong-name certificate is for.
const WrongName = "wrong-name.firewatch.invalid"

// HostLeaf returns the certificate of a host with names and ips: Leaf for
// fault "", else a certificate with that fault.
func (ca *CA) HostLeaf(names []string, ips []netip.Addr, fault string) (tls.Certificate, error) {
	switch fault {
	case "":
		return ca.Leaf(names, ips)
	case FaultWrongName:
		return ca.Leaf([]string{WrongName}, nil)
	case FaultUntrusted:
		other, err := New("untrusted")
		if err != nil {
			return tls.Certificate{}, err
		}
		return other.Leaf(names, ips)
	case FaultExpired:
		lk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("pki: %w", err)
		}
		now := time.Now()
		tmpl := &x509.Certificate{
			SerialNumber: serial(),
			NotBefore:    now.Add(-91 * 24 * time.Hour),
			NotAfter:     now.Add(-24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			DNSNames:     slices.Clone(names),
		}
		if len(names) > 0 {
			tmpl.Subject.CommonName = names[0]
		}
		for _, ip := range ips {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip.AsSlice())
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &lk.PublicKey, ca.Key)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("pki: %w", err)
		}
		leaf, err := x509.ParseCertificate(der)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("pki: %w", err)
		}
		return tls.Certificate{Certificate: [][]byte{der, ca.Cert.Raw}, PrivateKey: lk, Leaf: leaf}, nil
	}
	return tls.Certificate{}, fmt.Errorf("pki: unknown certificate fault %q", fault)
}
