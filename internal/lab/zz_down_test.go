package lab

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/lab/nsnet"
)

// This file's tests run last (after every test using the shared lab): they
// take the shared lab down, bring the shipped seed scenario up, and check that
// down leaves nothing behind.

// assertNothingLeft fails when any namespace, interface, resolv.conf, state
// or daemon of a lab remains.
func assertNothingLeft(t *testing.T, st *State) {
	t.Helper()
	if ns, err := nsnet.List(tn.Prefix()); err != nil || len(ns) > 0 {
		t.Errorf("namespaces left: %v %v", ns, err)
	}
	if links, err := nsnet.RootLinks(tn.Prefix()); err != nil || len(links) > 0 {
		t.Errorf("interfaces left in the root namespace: %v %v", links, err)
	}
	if _, err := os.Stat(testStateDir); !os.IsNotExist(err) {
		t.Errorf("state dir left: %v", err)
	}
	if st != nil {
		for role, d := range st.Daemons {
			if alive(d.PID) {
				t.Errorf("daemon %s (pid %d) still running", role, d.PID)
			}
		}
	}
}

func TestZZSeedScenarioUpDown(t *testing.T) {
	needLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var prev *State
	if shared != nil {
		prev = shared
	}
	if err := Down(ctx, testLab, testStateDir); err != nil {
		t.Fatalf("down: %v", err)
	}
	assertNothingLeft(t, prev)
	// Idempotent.
	if err := Down(ctx, testLab, testStateDir); err != nil {
		t.Fatalf("second down: %v", err)
	}
	st, err := Up(ctx, Options{Scenario: "../../scenarios/seed-2015.yaml", Name: testLab, StateDir: testStateDir, Seed: 1})
	if err != nil {
		t.Fatalf("up seed-2015: %v", err)
	}
	t.Cleanup(func() { _ = Down(context.Background(), testLab, testStateDir) })
	if _, err := Up(ctx, Options{Scenario: "../../scenarios/seed-2015.yaml", Name: testLab, StateDir: testStateDir}); err == nil || !strings.Contains(err.Error(), "already up") {
		t.Errorf("second up: %v, want an 'already up' error", err)
	}
	// seed-2015 has a `ca: rogue-trusted` rule: the inside trusts both CAs.
	in, _ := os.ReadFile(st.Trust.Inside)
	out, _ := os.ReadFile(st.Trust.Outside)
	if n := strings.Count(string(in), "BEGIN CERTIFICATE"); n != 2 || !st.Trust.RogueTrustedInside {
		t.Errorf("inside trust store has %d certificates, want public + rogue", n)
	}
	if n := strings.Count(string(out), "BEGIN CERTIFICATE"); n != 1 {
		t.Errorf("outside trust store has %d certificates, want the public CA only", n)
	}
	// Each tls-mitm rule has its own CA: a plain TLS client inside, verifying
	// with the inside trust store, rejects the ca: rogue interception and
	// accepts the ca: rogue-trusted one, in the same lab.
	roots := trustPool(t, st.Trust.Inside)
	handshake := func(addr, name string) (*tls.ConnectionState, error) {
		c, err := DialIn(tn.Inside, addr, 3*time.Second)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		tc := tls.Client(c, &tls.Config{ServerName: name, RootCAs: roots})
		tc.SetDeadline(time.Now().Add(5 * time.Second))
		if err := tc.Handshake(); err != nil {
			return nil, err
		}
		cs := tc.ConnectionState()
		return &cs, nil
	}
	var unknown x509.UnknownAuthorityError
	if _, err := handshake("203.0.113.20:993", "mail.example.com"); !errors.As(err, &unknown) {
		t.Errorf("inside, ca: rogue on mail.example.com:993: %v, want an unknown authority", err)
	} else if !strings.Contains(unknown.Cert.Issuer.CommonName, "rogue CA") || strings.Contains(unknown.Cert.Issuer.CommonName, "trusted") {
		t.Errorf("ca: rogue signed by %q", unknown.Cert.Issuer.CommonName)
	}
	if cs, err := handshake("203.0.113.55:443", "www.google.example"); err != nil {
		t.Errorf("inside, ca: rogue-trusted on www.google.example:443: %v, want a verified handshake", err)
	} else if iss := cs.PeerCertificates[0].Issuer.CommonName; !strings.Contains(iss, "rogue-trusted") {
		t.Errorf("ca: rogue-trusted signed by %q, want the trusted rogue CA", iss)
	}
	s, err := GetStatus(ctx, testLab, testStateDir)
	if err != nil || !s.Up {
		t.Fatalf("status: %v %+v", err, s)
	}
	// A crash: the state file is gone, daemons and namespaces remain.
	if err := os.Remove(filepath.Join(testStateDir, StateFile)); err != nil {
		t.Fatal(err)
	}
	if err := Down(ctx, testLab, testStateDir); err != nil {
		t.Fatalf("down after crash: %v", err)
	}
	assertNothingLeft(t, st)
}

func TestZZUpFailureCleansUp(t *testing.T) {
	needLab(t)
	ctx := context.Background()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	// 198.51.100.1 is r1's address: refused before anything is built.
	os.WriteFile(bad, []byte("name: bad\nhosts:\n  - names: [a.example]\n    ip: 198.51.100.1\n    services: [http]\n"), 0o644)
	if _, err := Up(ctx, Options{Scenario: bad, Name: testLab, StateDir: testStateDir}); err == nil {
		t.Fatal("up accepted a host on a lab link address")
	}
	// A daemon that cannot start (the executable is not a firewatch binary):
	// up fails and removes everything.
	_, err := Up(ctx, Options{Scenario: "testdata/lab.yaml", Name: testLab, StateDir: testStateDir, Exe: "/bin/false"})
	if err == nil {
		t.Fatal("up succeeded with broken daemons")
	}
	t.Logf("up failed as expected: %v", err)
	assertNothingLeft(t, nil)
}
