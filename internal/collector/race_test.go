//go:build race

package collector_test

// raceEnabled is true under the race detector, which makes seeding large
// stores too slow for some tests.
const raceEnabled = true
