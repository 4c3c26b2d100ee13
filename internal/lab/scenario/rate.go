package scenario

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// rateUnits maps the accepted rate suffixes to bits per second.
var rateUnits = []struct {
	suffix string
	mult   float64
}{
	{"gbps", 1e9}, {"mbps", 1e6}, {"kbps", 1e3}, {"bps", 1},
	{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1},
}

// ParseRate parses a rate such as "4kbps", "1.5mbps" or "100kbit" (decimal
// units of bits per second, case-insensitive) and returns bits per second.
func ParseRate(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	for _, u := range rateUnits {
		if num, ok := strings.CutSuffix(t, u.suffix); ok {
			num = strings.TrimSpace(num)
			v, err := strconv.ParseFloat(num, 64)
			if err != nil || num == "" || strings.ContainsAny(num, "eExXpP_") {
				return 0, fmt.Errorf("invalid rate %q (want e.g. 4kbps, 1mbps)", s)
			}
			bits := v * u.mult
			if math.IsNaN(bits) || bits < 8 || bits > 1e12 {
				return 0, fmt.Errorf("rate %q out of range 8bps..1000gbps", s)
			}
			return int64(bits), nil
		}
	}
	return 0, fmt.Errorf("invalid rate %q (want a number with bps, kbps, mbps or gbps)", s)
}
