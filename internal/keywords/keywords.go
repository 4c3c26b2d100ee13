// Package keywords finds what a censor reacts to: Isolate bisects a blocked
// request (URL path and query, Host, SNI or DNS name) down to the minimal
// substrings that trigger the interference and tries a fixed set of
// mutations that may evade it; TestWords tests a list of words placed in a
// template. Each variant is sent inside and compared with the control's
// measurement of the same variant (Tester).
package keywords

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/firewatch/firewatch/internal/model"
)

// Fields of a request a keyword can hide in.
const (
	FieldPath = "path" // the URL path and query of an HTTP request
	FieldHost = "host" // the Host header of an HTTP request
	FieldSNI  = "sni"  // the server name of a TLS ClientHello
	FieldDNS  = "dns"  // the name of a DNS query
)

// Statuses of a tested variant or word.
// They are the verdict's own statuses (internal/model), so a word's status
// reads the same as a record's.
const (
	StatusBlocked = model.StatusBlocked
	StatusOK      = model.StatusOK
	StatusError   = model.StatusError
)

// ErrNothingToIsolate is returned when the request is not blocked.
var ErrNothingToIsolate = errors.New("nothing to isolate")

// Outcome is how one variant compared with the control.
type Outcome struct {
	Status  string   // StatusBlocked, StatusOK or StatusError
	Methods []string // the interference seen, when blocked
	Inside  string   // what the inside saw, for the record
	Control string   // what the control saw
}

// Checker tests the base request with one field set to value (and a
// mutation, "" for none).
type Checker interface {
	Check(ctx context.Context, field, value, mutation string) Outcome
}

// Isolate returns the minimal substrings of value that trigger the
// interference when they alone fill the field, left to right. value itself
// must be blocked (else ErrNothingToIsolate). Each keyword costs about
// 2·log2(len(value)) checks: the shortest blocked prefix gives its end, the
// shortest blocked suffix of that prefix its start; the search then goes on
// from the keyword's second byte, so overlapping and repeated keywords are
// found too.
func Isolate(ctx context.Context, c Checker, field, value string) ([]string, error) {
	blocked := func(v string) (bool, error) {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		o := c.Check(ctx, field, v, "")
		if o.Status == StatusError {
			return false, fmt.Errorf("%s %q: %s (control: %s)", field, v, o.Inside, o.Control)
		}
		return o.Status == StatusBlocked, nil
	}
	ok, err := blocked(value)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: the %s %q is not blocked", ErrNothingToIsolate, field, value)
	}
	found := []string{}
	rest := value
	for len(rest) > 0 {
		if len(found) > 0 { // value itself was checked above
			ok, err := blocked(rest)
			if err != nil {
				return nil, err
			}
			if !ok {
				break
			}
		}
		// the shortest blocked prefix: rest[:end]
		lo, hi := 1, len(rest)
		for lo < hi {
			mid := (lo + hi) / 2
			ok, err := blocked(rest[:mid])
			if err != nil {
				return nil, err
			}
			if ok {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		end := lo
		// the latest start that still blocks: rest[start:end]
		lo, hi = 0, end-1
		for lo < hi {
			mid := (lo + hi + 1) / 2
			ok, err := blocked(rest[mid:end])
			if err != nil {
				return nil, err
			}
			if ok {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		start := lo
		if kw := rest[start:end]; !slices.Contains(found, kw) {
			found = append(found, kw)
		}
		rest = rest[start+1:]
	}
	return found, nil
}

// Evasion is whether one mutation of the blocked request got through.
type Evasion struct {
	Mutation string `json:"mutation"`
	Evades   bool   `json:"evades"`
}

// Mutations of each field, tried by Evasions.
var Mutations = map[string][]string{
	FieldPath: {MutCase, MutPadding, MutAbsoluteURI},
	FieldHost: {MutCase, MutPadding, MutHostHeader, MutAbsoluteURI, MutTrailingDot},
	FieldSNI:  {MutCase, MutSNISplit, MutTLSRecordFrag, MutTrailingDot},
	FieldDNS:  {MutCase},
}

// Mutations tried on a blocked request.
const (
	MutCase          = "case"                     // the field in another letter case
	MutPadding       = "padding"                  // extra whitespace in the request line / Host header
	MutHostHeader    = "host-header"              // the Host header's name spelled "hOsT"
	MutAbsoluteURI   = "absolute-uri"             // GET http://host/path HTTP/1.1
	MutTrailingDot   = "trailing-dot"             // the name with a trailing dot
	MutSNISplit      = "sni-split"                // the ClientHello in two TCP segments, split inside the SNI
	MutTLSRecordFrag = "tls-record-fragmentation" // the ClientHello in two TLS records
)

// Evasions tries every mutation of the field on the blocked value; a
// mutation evades when the request gets through (the server answers).
func Evasions(ctx context.Context, c Checker, field, value string) []Evasion {
	out := []Evasion{}
	for _, m := range Mutations[field] {
		if ctx.Err() != nil {
			break
		}
		o := c.Check(ctx, field, value, m)
		out = append(out, Evasion{Mutation: m, Evades: o.Status == StatusOK})
	}
	return out
}
