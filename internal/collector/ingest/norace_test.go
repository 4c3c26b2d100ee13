//go:build !race

package ingest

// raceEnabled is true under the race detector, which makes decoding
// records of several MiB take tens of seconds.
const raceEnabled = false
