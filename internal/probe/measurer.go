package probe

import (
	"context"

	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/target"
)

// Measurer measures one target from one vantage; *Probe is one. The control
// and the assessor take one, so that tests can pass a fake.
type Measurer interface {
	Measure(ctx context.Context, t target.Target, extra Extra) *model.Measurement
}

var _ Measurer = (*Probe)(nil)
