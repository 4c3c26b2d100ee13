package dnsscan

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// maxPool caps the distinct addresses a pool keeps: what the network hands
// us decides nothing about how much memory we use.
const maxPool = 1 << 17

// Forged is one address of the forged-address pool.
type Forged struct {
	Address   string    `json:"address"`
	Count     int64     `json:"count"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// Pool is the set of addresses forged answers have named, with counts and
// first/last seen. A censor draws its forged answers from a small pool, so
// an answer inside the pool's cluster (the same /24, or /64 for IPv6) is
// evidence of forgery by itself on later scans. Safe for concurrent use.
type Pool struct {
	mu       sync.Mutex
	addrs    map[netip.Addr]*Forged
	clusters map[netip.Prefix]int
	dropped  int64
}

// NewPool returns an empty pool.
func NewPool() *Pool {
	return &Pool{addrs: map[netip.Addr]*Forged{}, clusters: map[netip.Prefix]int{}}
}

func clusterOf(a netip.Addr) netip.Prefix {
	bits := 24
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}

// Add counts one forged answer naming a, seen at t.
func (p *Pool) Add(a netip.Addr, t time.Time) {
	a = a.Unmap()
	p.mu.Lock()
	defer p.mu.Unlock()
	if f := p.addrs[a]; f != nil {
		f.Count++
		if t.After(f.LastSeen) {
			f.LastSeen = t
		}
		if t.Before(f.FirstSeen) {
			f.FirstSeen = t
		}
		return
	}
	if len(p.addrs) >= maxPool {
		p.dropped++
		return
	}
	p.addrs[a] = &Forged{Address: a.String(), Count: 1, FirstSeen: t, LastSeen: t}
	p.clusters[clusterOf(a)]++
}

// Len returns the number of distinct addresses.
func (p *Pool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.addrs)
}

// InCluster reports whether a is in the pool or in the cluster of one of
// its addresses.
func (p *Pool) InCluster(a netip.Addr) bool {
	a = a.Unmap()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.addrs[a] != nil {
		return true
	}
	return p.clusters[clusterOf(a)] > 0
}

// List returns the addresses, most often seen first.
func (p *Pool) List() []Forged {
	p.mu.Lock()
	out := make([]Forged, 0, len(p.addrs))
	for _, f := range p.addrs {
		out = append(out, *f)
	}
	p.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Address < out[j].Address
	})
	return out
}

type poolFile struct {
	Addresses []Forged `json:"addresses"`
}

// LoadPool reads a pool saved by Save; a missing file is an empty pool.
func LoadPool(path string) (*Pool, error) {
	p := NewPool()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return p, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pool: %w", err)
	}
	var pf poolFile
	if err := json.Unmarshal(b, &pf); err != nil {
		return nil, fmt.Errorf("pool %s: %w", path, err)
	}
	for i, f := range pf.Addresses {
		a, err := netip.ParseAddr(f.Address)
		if err != nil {
			return nil, fmt.Errorf("pool %s: address %d: %v", path, i+1, err)
		}
		if len(p.addrs) >= maxPool {
			break
		}
		f := f
		f.Address = a.Unmap().String()
		if p.addrs[a.Unmap()] == nil {
			p.clusters[clusterOf(a.Unmap())]++
		}
		p.addrs[a.Unmap()] = &f
	}
	return p, nil
}

// Save writes the pool to path atomically (temporary file, fsync, rename).
func (p *Pool) Save(path string) error {
	b, err := json.MarshalIndent(poolFile{Addresses: p.List()}, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".pool-*")
	if err != nil {
		return fmt.Errorf("pool: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("pool: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("pool: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("pool: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("pool: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
