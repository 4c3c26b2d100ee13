package pki

import (
	"crypto/x509"
	"net/netip"
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
