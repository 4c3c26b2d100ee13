package probe

import (
	"strings"
	"time"

	"github.com/firewatch/firewatch/internal/failure"
	"github.com/firewatch/firewatch/internal/model"
)

// recorder appends the steps of one measurement. Measure's steps run in
// sequence; concurrent sub-steps (DNS queries) build their Step values
// separately and are added in a fixed order.
type recorder struct {
	steps    []model.Step
	notTried map[string]int // per "host port": addresses left out by Config.MaxAddrs
}

func (r *recorder) add(s ...model.Step) { r.steps = append(r.steps, s...) }

// addAll appends o's steps and takes over its notes of addresses not tried.
func (r *recorder) addAll(o *recorder) {
	r.add(o.steps...)
	for k, n := range o.notTried {
		host, port, _ := strings.Cut(k, " ")
		r.skipped(host, port, n)
	}
}

// skipped notes that n addresses of host were not dialed on port; a host
// dialed again on the same port (a redirect back) counts once.
func (r *recorder) skipped(host, port string, n int) {
	if n == 0 {
		return
	}
	if r.notTried == nil {
		r.notTried = map[string]int{}
	}
	k := host + " " + port
	r.notTried[k] = max(r.notTried[k], n)
}

// addrsNotTried is the record's addresses_not_tried: the sum over hosts and ports.
func (r *recorder) addrsNotTried() int {
	t := 0
	for _, n := range r.notTried {
		t += n
	}
	return t
}

// ms converts a duration to milliseconds with microsecond precision.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// newStep starts a step of operation op.
func newStep(op, address, hostname string) model.Step {
	return model.Step{Operation: op, Address: address, Hostname: hostname, StartedAt: time.Now().UTC()}
}

// finish sets the duration and the classified failure of s.
func finish(s *model.Step, err error) {
	s.DurationMS = ms(time.Since(s.StartedAt))
	if err != nil {
		s.Failure = failure.String(failure.Wrap(s.Operation, err))
	}
}
