// Package geo maps an IP address to its country, autonomous system number and
// network name from a local iptoasn-style TSV table (ip2asn-v4.tsv format:
// range_start, range_end, AS_number, country_code, AS_description). Lookups
// never fail: an unknown address is country "ZZ", ASN 0.
package geo

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
)

// EnvVar names the environment variable that gives the ASN table's path when
// no flag does.
const EnvVar = "FIREWATCH_ASN_DB"

// Unknown is the country code of an address the table does not know.
const Unknown = "ZZ"

// Info is what the table says about one address.
type Info struct {
	Country string // ISO 3166-1 alpha-2, "ZZ" when unknown
	ASN     int    // 0 when unknown or not routed
	Network string // AS description, empty when unknown
}

// Known reports whether the table knew the address's network.
func (i Info) Known() bool { return i.ASN != 0 }

type entry struct {
	start, end netip.Addr
	info       Info
}

// DB is a loaded table. A nil *DB is valid and knows nothing.
type DB struct {
	entries []entry // sorted by start, IPv4 before IPv6
}

// Len returns the number of ranges in the table.
func (db *DB) Len() int {
	if db == nil {
		return 0
	}
	return len(db.entries)
}

// Lookup returns what the table knows about addr; unknown addresses give
// Info{Country: "ZZ"}.
func (db *DB) Lookup(addr netip.Addr) Info {
	unknown := Info{Country: Unknown}
	if db == nil || !addr.IsValid() {
		return unknown
	}
	addr = addr.Unmap()
	// First entry whose start is after addr; the candidate is the one before.
	i := sort.Search(len(db.entries), func(i int) bool { return db.entries[i].start.Compare(addr) > 0 })
	if i == 0 {
		return unknown
	}
	e := db.entries[i-1]
	if e.end.Compare(addr) < 0 || e.start.BitLen() != addr.BitLen() {
		return unknown
	}
	return e.info
}

// Open loads the table at path (gzip-compressed when it ends in ".gz").
func Open(path string) (*DB, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("asn database: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("asn database %s: %w", path, err)
		}
		defer gz.Close()
		r = gz
	}
	db, err := Parse(r)
	if err != nil {
		return nil, fmt.Errorf("asn database %s: %w", path, err)
	}
	return db, nil
}

// OpenDefault opens path, or the file named by FIREWATCH_ASN_DB when path is
// empty. With neither it returns a nil *DB (knows nothing) and no error.
func OpenDefault(path string) (*DB, error) {
	if path == "" {
		path = os.Getenv(EnvVar)
	}
	if path == "" {
		return nil, nil
	}
	return Open(path)
}

// Parse reads a table: one range per line, five tab-separated fields. Blank
// lines and lines starting with '#' are skipped. AS number 0 ("Not routed")
// and country "None" are kept as unknown. A malformed line is an error naming
// its number.
func Parse(r io.Reader) (*DB, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	db := &DB{}
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" || strings.HasPrefix(text, "#") {
			continue
		}
		e, err := parseLine(text)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		db.entries = append(db.entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", line+1, err)
	}
	less := func(i, j int) bool { return db.entries[i].start.Compare(db.entries[j].start) < 0 }
	if !sort.SliceIsSorted(db.entries, less) { // published tables are sorted already
		sort.SliceStable(db.entries, less)
	}
	return db, nil
}

func parseLine(text string) (entry, error) {
	f := strings.SplitN(text, "\t", 5)
	if len(f) < 4 {
		return entry{}, fmt.Errorf("want 5 tab-separated fields (start end asn country description), got %d", len(f))
	}
	start, err := netip.ParseAddr(strings.TrimSpace(f[0]))
	if err != nil {
		return entry{}, fmt.Errorf("range start: %w", err)
	}
	end, err := netip.ParseAddr(strings.TrimSpace(f[1]))
	if err != nil {
		return entry{}, fmt.Errorf("range end: %w", err)
	}
	start, end = start.Unmap(), end.Unmap()
	if start.BitLen() != end.BitLen() {
		return entry{}, errors.New("range start and end are of different address families")
	}
	if end.Compare(start) < 0 {
		return entry{}, fmt.Errorf("range end %s before start %s", end, start)
	}
	asn, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(f[2]), "AS"), 10, 32)
	if err != nil {
		return entry{}, fmt.Errorf("AS number %q: not a number", f[2])
	}
	cc := strings.ToUpper(strings.TrimSpace(f[3]))
	if len(cc) != 2 || cc == "NONE" {
		cc = Unknown
	}
	desc := ""
	if len(f) == 5 {
		desc = strings.TrimSpace(f[4])
	}
	if asn == 0 || desc == "Not routed" {
		desc = ""
		asn = 0
	}
	return entry{start: start, end: end, info: Info{Country: cc, ASN: int(asn), Network: desc}}, nil
}
