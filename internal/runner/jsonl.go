package runner

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/firewatch/firewatch/internal/model"
)

// JSONLSink writes one JSON document per line to a file, flushing every
// record at once (and syncing at least every second) so that an interruption keeps all finished ones.
type JSONLSink struct {
	f        *os.File
	w        *bufio.Writer
	e        *json.Encoder
	lastSync time.Time
}

// syncEvery bounds how often Write calls fsync; every record is flushed to
// the kernel at once, so an interrupted process loses nothing.
const syncEvery = time.Second

// CreateJSONL creates (or truncates) path for writing records; append opens
// it for appending instead.
func CreateJSONL(path string, appendTo bool) (*JSONLSink, error) {
	flag := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if appendTo {
		flag = os.O_CREATE | os.O_RDWR | os.O_APPEND
	}
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	if appendTo {
		if err := endLine(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("output: %w", err)
		}
	}
	w := bufio.NewWriter(f)
	return &JSONLSink{f: f, w: w, e: json.NewEncoder(w)}, nil
}

// endLine ends a line cut by a killed writer, so that the first record
// appended starts a line of its own (the cut one stays one bad line).
func endLine(f *os.File) error {
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return err
	}
	last := make([]byte, 1)
	if _, err := f.ReadAt(last, st.Size()-1); err != nil {
		return err
	}
	if last[0] == '\n' {
		return nil
	}
	_, err = f.Write([]byte{'\n'})
	return err
}

// Write appends m as one line and syncs it to disk.
func (s *JSONLSink) Write(m *model.Measurement) error {
	if err := s.e.Encode(m); err != nil {
		return fmt.Errorf("output %s: %w", s.f.Name(), err)
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("output %s: %w", s.f.Name(), err)
	}
	if time.Since(s.lastSync) >= syncEvery {
		s.lastSync = time.Now()
		if err := s.f.Sync(); err != nil {
			return fmt.Errorf("output %s: %w", s.f.Name(), err)
		}
	}
	return nil
}

// Close flushes and closes the file.
func (s *JSONLSink) Close() error {
	err := s.w.Flush()
	if serr := s.f.Sync(); err == nil {
		err = serr
	}
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	return err
}
