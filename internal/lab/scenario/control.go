package scenario

import "go.yaml.in/yaml/v3"

// controlKey is the YAML key of the control faults, on a host and at the
// top level.
const controlKey = "control"

// Faults of the outside vantage, where the control runs: conditions that
// are not censorship, on the far side of the path from the censor.
const (
	// ControlUnreachable is a host's `control:` value: every packet the
	// outside vantage sends to the host's addresses is dropped, so the
	// control cannot reach the host while the inside can.
	ControlUnreachable = "unreachable"
	// ControlDown is the scenario's `control:` value: the lab runs no
	// control, yet programs inside are given its URL (FIREWATCH_CONTROL),
	// where nothing listens: the probe's questions are refused.
	ControlDown = "down"
)

// control parses a `control:` value at path, which must be want.
func (p *parser) control(n *yaml.Node, path, want string) error {
	v, err := p.str(n, path)
	if err != nil {
		return err
	}
	if v != want {
		return p.errf(n, path, "want %s, got %q", want, v)
	}
	return nil
}
