package lab

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/firewatch/firewatch/internal/lab/nsnet"
)

// InNetns runs fn on an OS thread switched into the named network namespace.
// Sockets created by fn belong to that namespace for their whole life, so fn
// may return connections that other goroutines keep using.
func InNetns(name string, fn func() error) error { return nsnet.Do(name, fn) }

// existing returns the lab's namespaces that exist now (all of them when it
// runs, some after a crash half-way).
func (n Names) existing() []string {
	var out []string
	for _, ns := range n.Namespaces() {
		if _, err := os.Lstat(filepath.Join(nsnet.Dir, ns)); err == nil {
			out = append(out, ns)
		}
	}
	return out
}

// Ref names one lab found on the machine: by its state directory, by
// namespaces left without one, or both.
type Ref struct {
	// Name is the lab's name.
	Name string `json:"name"`
	// StateDir is its state directory under StateRoot ("" when it has none).
	StateDir string `json:"state_dir,omitempty"`
	// Namespaces are its namespaces that exist.
	Namespaces []string `json:"namespaces"`
}

// List returns every lab on this machine, sorted by name: each state
// directory under StateRoot, and each set of namespaces named
// NAME-{inside,r1,r2,r3,net,outside} (a lab that crashed, or one with its
// state elsewhere).
func List() ([]Ref, error) {
	nss, err := nsnet.List("")
	if err != nil {
		return nil, err
	}
	labs := map[string]*Ref{}
	ref := func(name string) *Ref {
		if labs[name] == nil {
			labs[name] = &Ref{Name: name, Namespaces: []string{}}
		}
		return labs[name]
	}
	for name, ns := range labNamespaces(nss) {
		ref(name).Namespaces = ns
	}
	ents, err := os.ReadDir(StateRoot)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	for _, e := range ents {
		dir := filepath.Join(StateRoot, e.Name())
		if CheckName(e.Name()) != nil || !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, StateFile)); err == nil {
			ref(e.Name()).StateDir = dir
		}
	}
	out := make([]Ref, 0, len(labs))
	for _, r := range labs {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// labNamespaces groups namespace names of the form NAME-ROLE (a valid lab
// name, one of the lab's roles) by lab name.
func labNamespaces(nss []string) map[string][]string {
	out := map[string][]string{}
	for _, ns := range nss {
		i := strings.LastIndexByte(ns, '-')
		if i < 0 || !slices.Contains(namespaceRoles, ns[i+1:]) || CheckName(ns[:i]) != nil {
			continue
		}
		out[ns[:i]] = append(out[ns[:i]], ns)
	}
	return out
}
