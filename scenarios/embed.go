// Package scenarios embeds the lab scenarios shipped in this directory, so
// that commands such as `firewatch demo` find them from any directory.
package scenarios

import "embed"

// FS holds every *.yaml scenario of this directory, by file name, and the
// small files they read when parsed (the names files of dns-scale; the
// 100,000-name list it scans is read from disk by lab verify only).
//
//go:embed *.yaml dns-scale/exact.txt dns-scale/zones.txt dns-scale/keywords.txt dns-scale/censored.txt
var FS embed.FS

// Seed is the file name of the scenario of the seed's incidents of 2015,
// the one `firewatch demo` runs by default.
const Seed = "seed-2015.yaml"
