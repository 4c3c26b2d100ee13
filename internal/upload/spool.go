// Package upload carries measurements from a probe to a collector without
// losing any: each record is first written to a spool directory (atomically,
// fsync'd), then uploaded in gzip'd batches with retries, and deleted only
// once the collector acknowledged it. Records the collector rejects as
// invalid are moved to the spool's rejected/ directory with the reason.
package upload

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/firewatch/firewatch/internal/model"
)

// RejectedDir is the spool's subdirectory for records the collector refused.
const RejectedDir = "rejected"

// Spool is a directory of measurement files waiting for upload, one JSON
// record per file, named so that they sort oldest first.
type Spool struct {
	Dir string
	seq atomic.Uint64
}

// OpenSpool opens (creating) the spool directory dir and removes temporary
// files left by an interrupted write.
func OpenSpool(dir string) (*Spool, error) {
	if dir == "" {
		return nil, errors.New("upload: empty spool directory")
	}
	if err := os.MkdirAll(filepath.Join(dir, RejectedDir), 0o700); err != nil {
		return nil, fmt.Errorf("upload: spool: %w", err)
	}
	tmps, _ := filepath.Glob(filepath.Join(dir, ".tmp-*"))
	for _, t := range tmps {
		os.Remove(t)
	}
	return &Spool{Dir: dir}, nil
}

// DefaultSpoolDir is $XDG_CACHE_HOME/firewatch/spool (~/.cache/firewatch/spool).
func DefaultSpoolDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	return filepath.Join(d, "firewatch", "spool")
}

// Put writes m to the spool: to a temporary file, fsync'd, renamed into
// place, and the directory fsync'd, so that a crash leaves either the whole
// record or nothing.
func (s *Spool) Put(m *model.Measurement) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("upload: spool: encode %s: %w", m.ID, err)
	}
	name := fmt.Sprintf("%020d-%06d-%s.json", time.Now().UnixNano(), s.seq.Add(1)%1_000_000, safeName(m.ID))
	tmp, err := os.CreateTemp(s.Dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("upload: spool: %w", err)
	}
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(s.Dir, name))
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("upload: spool: write %s: %w", m.ID, err)
	}
	return syncDir(s.Dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func safeName(id string) string {
	id = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, id)
	if len(id) > 80 {
		id = id[:80]
	}
	return id
}

// List returns the names of the spooled records, oldest first.
func (s *Spool) List() ([]string, error) {
	ents, err := os.ReadDir(s.Dir)
	if err != nil {
		return nil, fmt.Errorf("upload: spool: %w", err)
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		if e.Type().IsRegular() && strings.HasSuffix(n, ".json") && !strings.HasPrefix(n, ".") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names, nil
}

// Len is the number of spooled records.
func (s *Spool) Len() int {
	n, _ := s.List()
	return len(n)
}

// Read returns a spooled record's bytes.
func (s *Spool) Read(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join(s.Dir, name))
}

// Remove deletes acknowledged records; already missing files are fine.
func (s *Spool) Remove(names ...string) error {
	for _, n := range names {
		if err := os.Remove(filepath.Join(s.Dir, n)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("upload: spool: %w", err)
		}
	}
	return syncDir(s.Dir)
}

// Reject moves a record to rejected/ and writes the reason beside it
// (NAME.error).
func (s *Spool) Reject(name, reason string) error {
	rej := filepath.Join(s.Dir, RejectedDir)
	if err := os.WriteFile(filepath.Join(rej, name+".error"), []byte(reason+"\n"), 0o600); err != nil {
		return fmt.Errorf("upload: spool: %w", err)
	}
	if err := os.Rename(filepath.Join(s.Dir, name), filepath.Join(rej, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("upload: spool: %w", err)
	}
	return syncDir(s.Dir)
}

// Rejected lists the names of rejected records.
func (s *Spool) Rejected() ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(s.Dir, RejectedDir))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".json") {
			out = append(out, e.Name())
		}
	}
	return out, nil
}
