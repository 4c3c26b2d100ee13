package probe

import (
	"time"

	"github.com/firewatch/firewatch/internal/failure"
	"github.com/firewatch/firewatch/internal/model"
)

// recorder appends the steps of one measurement. Measure's steps run in
// sequence; concurrent sub-steps (DNS queries) build their Step values
// separately and are added in a fixed order.
type recorder struct {
	steps []model.Step
}

func (r *recorder) add(s ...model.Step) { r.steps = append(r.steps, s...) }

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
