package lab

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/firewatch/firewatch/internal/lab/pki"
)

// CA names inside the state directory's pki folder.
const (
	PublicCAName       = "public"
	RogueCAName        = "rogue"         // the rogue CA of ca: rogue, trusted by nobody
	RogueTrustedCAName = "rogue-trusted" // the rogue CA of ca: rogue-trusted, trusted inside
)

// pkiDir is where the CAs of a lab live.
func pkiDir(stateDir string) string { return filepath.Join(stateDir, "pki") }

// CAs are the lab's certificate authorities.
type CAs struct {
	Public       *pki.CA // signs every genuine server
	Rogue        *pki.CA // the censor's, for ca: rogue
	RogueTrusted *pki.CA // the censor's, for ca: rogue-trusted (in the inside trust store)
}

// LoadCAs loads (or creates) the lab's CAs.
func LoadCAs(stateDir string) (CAs, error) {
	var c CAs
	var err error
	if c.Public, err = pki.LoadOrCreate(pkiDir(stateDir), PublicCAName); err != nil {
		return CAs{}, fmt.Errorf("lab: public CA: %w", err)
	}
	if c.Rogue, err = pki.LoadOrCreate(pkiDir(stateDir), RogueCAName); err != nil {
		return CAs{}, fmt.Errorf("lab: rogue CA: %w", err)
	}
	if c.RogueTrusted, err = pki.LoadOrCreate(pkiDir(stateDir), RogueTrustedCAName); err != nil {
		return CAs{}, fmt.Errorf("lab: trusted rogue CA: %w", err)
	}
	return c, nil
}

// writeTrust creates the CAs and the two vantages' trust stores.
func writeTrust(dir string, rogueTrusted bool) (Trust, error) {
	cas, err := LoadCAs(dir)
	if err != nil {
		return Trust{}, err
	}
	public := cas.Public
	t := Trust{
		PublicCA:           public.CertFile,
		RogueCA:            cas.Rogue.CertFile,
		RogueTrustedCA:     cas.RogueTrusted.CertFile,
		Inside:             filepath.Join(dir, "trust-inside.pem"),
		Outside:            filepath.Join(dir, "trust-outside.pem"),
		RogueTrustedInside: rogueTrusted,
	}
	inside := append([]byte{}, public.CertPEM()...)
	if rogueTrusted {
		inside = append(inside, cas.RogueTrusted.CertPEM()...)
	}
	if err := os.WriteFile(t.Inside, inside, 0o644); err != nil {
		return Trust{}, fmt.Errorf("lab: trust file: %w", err)
	}
	if err := os.WriteFile(t.Outside, public.CertPEM(), 0o644); err != nil {
		return Trust{}, fmt.Errorf("lab: trust file: %w", err)
	}
	return t, nil
}
