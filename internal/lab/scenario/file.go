package scenario

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
)

// File is a reproducible stream of pseudo-random bytes: block i is
// SHA-256(seed || i) for i = 0, 1, ... (big-endian uint64), truncated to size.
// Two hosts serving the same seed and size serve identical bytes; a different
// seed ("official" vs "modified") gives different bytes.
type File struct {
	seed []byte
	size int64
	off  int64
}

// FileBytes returns the deterministic content of a file page.
func FileBytes(seed string, size int64) io.Reader { return NewFile(seed, size) }

// NewFile returns a seekable File (usable with http.ServeContent).
func NewFile(seed string, size int64) *File {
	if size < 0 {
		size = 0
	}
	return &File{seed: []byte(seed), size: size}
}

// Size returns the file's length in bytes.
func (f *File) Size() int64 { return f.size }

// Read implements io.Reader.
func (f *File) Read(p []byte) (int, error) {
	n, err := f.ReadAt(p, f.off)
	f.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// ReadAt implements io.ReaderAt.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("scenario: negative offset")
	}
	if off >= f.size {
		return 0, io.EOF
	}
	if rem := f.size - off; int64(len(p)) > rem {
		p = p[:rem]
	}
	buf := make([]byte, len(f.seed)+8)
	copy(buf, f.seed)
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		blk, in := pos/sha256.Size, pos%sha256.Size
		binary.BigEndian.PutUint64(buf[len(f.seed):], uint64(blk))
		sum := sha256.Sum256(buf)
		n += copy(p[n:], sum[in:])
	}
	if off+int64(n) >= f.size {
		return n, io.EOF
	}
	return n, nil
}

// Seek implements io.Seeker.
func (f *File) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = f.off + offset
	case io.SeekEnd:
		abs = f.size + offset
	default:
		return 0, errors.New("scenario: invalid whence")
	}
	if abs < 0 {
		return 0, errors.New("scenario: negative position")
	}
	f.off = abs
	return abs, nil
}
