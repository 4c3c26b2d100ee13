package policy

import (
	"testing"

	"github.com/firewatch/firewatch/internal/target"
)

// TestUpgradePorts: every mail scheme that starts in the clear has its
// upgrade at its default port, and no TLS or web port has one.
func TestUpgradePorts(t *testing.T) {
	for _, scheme := range target.Schemes() {
		port := uint16(target.DefaultPorts[scheme])
		want := target.IsMail(scheme) && !target.IsTLS(scheme)
		if got := STARTTLS(port) != nil; got != want {
			t.Errorf("STARTTLS(%d) (%s) set = %v, want %v", port, scheme, got, want)
		}
	}
}
