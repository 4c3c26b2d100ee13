package pki

import (
	"crypto/x509"
	"net/netip"
	"strings"
	"testing"
)

func TestLoadOrCreateAndLeaf(t *testing.T) {
	dir := t.TempDir()
	ca, err := LoadOrCreate(dir, "public")
	if err != nil {
		t.Fatal(err)
	}
	again, err := LoadOrCreate(dir, "public")
	if err != nil {
		t.Fatal(err)
	}
	if !again.Cert.Equal(ca.Cert) {
		t.Fatal("reloaded CA differs")
	}
	rogue, err := LoadOrCreate(dir, "rogue")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Leaf([]string{"WWW.Example.org."}, []netip.Addr{netip.MustParseAddr("203.0.113.5")})
	if err != nil {
		t.Fatal(err)
	}
	cached, _ := ca.Leaf([]string{"www.example.org"}, []netip.Addr{netip.MustParseAddr("203.0.113.5")})
	if cached.Leaf != leaf.Leaf {
		t.Error("leaf not cached")
	}
	opts := x509.VerifyOptions{DNSName: "www.example.org", Roots: ca.Pool()}
	if _, err := leaf.Leaf.Verify(opts); err != nil {
		t.Errorf("leaf does not verify under its CA: %v", err)
	}
	opts.Roots = rogue.Pool()
	if _, err := leaf.Leaf.Verify(opts); err == nil {
		t.Error("leaf verifies under the rogue CA")
	}
	if _, err := ca.Leaf(nil, nil); err == nil {
		t.Error("empty leaf accepted")
	}
	if _, err := LoadOrCreate(dir, "../x"); err == nil {
		t.Error("bad name accepted")
	}
}

func TestHostLeafFaults(t *testing.T) {
	ca, err := New("public")
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"www.example.org"}
	for fault, want := range map[string]string{"": "", FaultExpired: "expired", FaultWrongName: "is valid for wrong-name", FaultUntrusted: "unknown authority"} {
		c, err := ca.HostLeaf(names, nil, fault)
		if err != nil {
			t.Fatalf("%q: %v", fault, err)
		}
		_, err = c.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: names[0]})
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("fault %q: verify error %v, want one containing %q", fault, err, want)
		}
	}
	if _, err := ca.HostLeaf(names, nil, "bogus"); err == nil {
		t.Error("an unknown fault gives no error")
	}
}
