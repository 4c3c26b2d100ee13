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
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/firewatch/firewatch/internal/model"
)

// RejectedDir is the spool's subdirectory for records the collector refused.
const RejectedDir = "rejected"

// Spool is a directory of measurement files waiting for upload, one JSON
// record per file, named so that they sort oldest first.
type Spool struct {
	Dir       string
	Recovered int // whole records OpenSpool kept from interrupted writes
	seq       atomic.Uint64
}

// OpenSpool opens (creating) the spool directory dir and recovers what an
// interrupted write left: a temporary file holding a whole record (the
// writer died between writing and renaming it) is renamed into place; a
// partial one (the write itself was cut, so Put never returned) is removed.
// Temporary files of a live process sharing the spool are left alone.
func OpenSpool(dir string) (*Spool, error) {
	if dir == "" {
		return nil, errors.New("upload: empty spool directory")
	}
	if err := os.MkdirAll(filepath.Join(dir, RejectedDir), 0o700); err != nil {
		return nil, fmt.Errorf("upload: spool: %w", err)
	}
	s := &Spool{Dir: dir}
	if err := s.recover(); err != nil {
		return nil, err
	}
	return s, nil
}

// tmpPrefix starts the names of temporary files: .tmp-PID-RANDOM.
const tmpPrefix = ".tmp-"

// recover renames each whole record left in a dead writer's temporary file
// into place and removes partial ones.
func (s *Spool) recover() error {
	tmps, err := filepath.Glob(filepath.Join(s.Dir, tmpPrefix+"*"))
	if err != nil {
		return fmt.Errorf("upload: spool: %w", err)
	}
	changed := false
	for _, t := range tmps {
		if writerAlive(filepath.Base(t)) {
			continue
		}
		changed = true
		m, err := readWhole(t)
		if err != nil {
			os.Remove(t)
			continue
		}
		if err := s.keep(t, m); err != nil {
			return err
		}
	}
	if !changed {
		return nil
	}
	return syncDir(s.Dir)
}

// readWhole reads a temporary file as one whole record: valid JSON of a
// measurement with an id, nothing after it.
func readWhole(path string) (*model.Measurement, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m model.Measurement
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if m.ID == "" {
		return nil, errors.New("no id")
	}
	return &m, nil
}

// writerAlive reports whether the temporary file name belongs to another
// process still running (so its write may be in progress). Names without a
// parseable pid, and this process's own pid (a dead predecessor's, since
// this process has not written yet), count as dead.
func writerAlive(name string) bool {
	rest := strings.TrimPrefix(name, tmpPrefix)
	pidText, _, ok := strings.Cut(rest, "-")
	if !ok {
		return false
	}
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid <= 0 || pid == os.Getpid() {
		return false
	}
	err = syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// keep fsyncs a recovered temporary file and renames it into place.
func (s *Spool) keep(tmp string, m *model.Measurement) error {
	f, err := os.Open(tmp)
	if err == nil {
		err = f.Sync()
		f.Close()
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(s.Dir, s.name(m)))
	}
	if err != nil {
		return fmt.Errorf("upload: spool: recover %s: %w", filepath.Base(tmp), err)
	}
	s.Recovered++
	return nil
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
	name := s.name(m)
	tmp, err := os.CreateTemp(s.Dir, fmt.Sprintf("%s%d-*", tmpPrefix, os.Getpid()))
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

// name is a new spool file name for m, sorting after every earlier one.
func (s *Spool) name(m *model.Measurement) string {
	return fmt.Sprintf("%020d-%06d-%s.json", time.Now().UnixNano(), s.seq.Add(1)%1_000_000, safeName(m.ID))
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
