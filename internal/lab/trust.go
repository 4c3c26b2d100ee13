package lab

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/firewatch/firewatch/internal/lab/pki"
)

// CA names inside the state directory's pki folder.
const (
	PublicCAName = "public"
	RogueCAName  = "rogue"
)

// pkiDir is where the CAs of a lab live.
func pkiDir(stateDir string) string { return filepath.Join(stateDir, "pki") }

// LoadCAs loads (or creates) the lab's public and rogue CAs.
func LoadCAs(stateDir string) (public, rogue *pki.CA, err error) {
	if public, err = pki.LoadOrCreate(pkiDir(stateDir), PublicCAName); err != nil {
		return nil, nil, fmt.Errorf("lab: public CA: %w", err)
	}
	if rogue, err = pki.LoadOrCreate(pkiDir(stateDir), RogueCAName); err != nil {
		return nil, nil, fmt.Errorf("lab: rogue CA: %w", err)
	}
	return public, rogue, nil
}

// writeTrust creates the CAs and the two vantages' trust stores.
func writeTrust(dir string, rogueTrusted bool) (Trust, error) {
	public, rogue, err := LoadCAs(dir)
	if err != nil {
		return Trust{}, err
	}
	t := Trust{
		PublicCA:           public.CertFile,
		RogueCA:            rogue.CertFile,
		Inside:             filepath.Join(dir, "trust-inside.pem"),
		Outside:            filepath.Join(dir, "trust-outside.pem"),
		RogueTrustedInside: rogueTrusted,
	}
	inside := append([]byte{}, public.CertPEM()...)
	if rogueTrusted {
		inside = append(inside, rogue.CertPEM()...)
	}
	if err := os.WriteFile(t.Inside, inside, 0o644); err != nil {
		return Trust{}, fmt.Errorf("lab: trust file: %w", err)
	}
	if err := os.WriteFile(t.Outside, public.CertPEM(), 0o644); err != nil {
		return Trust{}, fmt.Errorf("lab: trust file: %w", err)
	}
	return t, nil
}
