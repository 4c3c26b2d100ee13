package storetest

import (
	"time"

	"github.com/firewatch/firewatch/internal/store"
)

// SampleDNS returns two DNS scans of one network (CN AS4134), a day apart
// and ending 6 hours before now: www.falundafa.org (substring rule) and
// news.zone.example (suffix rule) censored, lifted.example censored then
// lifted, clean.example never censored; forged answers from two addresses.
func SampleDNS(now time.Time) []store.DNSObservation {
	day1 := now.UTC().Add(-30 * time.Hour)
	ob := func(d string, c bool, at time.Time, rule, base string, forged ...string) store.DNSObservation {
		return store.DNSObservation{Domain: d, Country: "CN", ASN: 4134, Method: "via", Censored: c, Rule: rule, RuleBase: base, Forged: forged, At: at}
	}
	return []store.DNSObservation{
		ob("www.falundafa.org", true, day1, "substring", "falundafa.org", "203.0.113.201"),
		ob("news.zone.example", true, day1, "suffix", "zone.example", "203.0.113.202"),
		ob("lifted.example", true, day1, "exact", "lifted.example", "203.0.113.201"),
		ob("clean.example", false, day1, "", ""),
		ob("lifted.example", false, day1.Add(24*time.Hour), "", ""),
	}
}
