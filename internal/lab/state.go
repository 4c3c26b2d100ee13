package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// StateRoot holds the state directory of every lab, one per name.
const StateRoot = "/run/firewatch-labs"

// StateDir is where the lab called name keeps its state, logs and trust
// files unless told otherwise (`--state`).
func StateDir(name string) string { return filepath.Join(StateRoot, name) }

// DefaultStateDir is the state directory of the lab called DefaultName.
var DefaultStateDir = StateDir(DefaultName)

// StateFile is the name of the state file inside the state directory.
const StateFile = "state.json"

// State describes a running lab; `lab up` writes it, the other commands read it.
type State struct {
	// Name is the lab's name, the prefix of its namespaces and interfaces.
	Name string `json:"name"`
	// Scenario is the path of the scenario file the lab was built from.
	Scenario string `json:"scenario"`
	// ScenarioName is the scenario's name.
	ScenarioName string `json:"scenario_name"`
	// Created is when the lab came up.
	Created time.Time `json:"created"`
	// Namespaces lists the namespaces, inside to outside.
	Namespaces []string `json:"namespaces"`
	// CensorNamespace is the router hop on which the censor runs.
	CensorNamespace string `json:"censor_namespace"`
	// CensorHop is the censor router's hop number (0 in a state written
	// before it existed: hop 2).
	CensorHop int `json:"censor_hop,omitempty"`
	// SilentHops are the routers that send no ICMP time exceeded.
	SilentHops []int `json:"silent_hops,omitempty"`
	// Links lists the veth links and their addresses.
	Links []StateLink `json:"links"`
	// Hosts maps each scenario host address to its names.
	Hosts map[string][]string `json:"hosts"`
	// InsidePrefix is the censored network (CIDR).
	InsidePrefix string `json:"inside_prefix"`
	// ProbeAddr is the inside host's address.
	ProbeAddr string `json:"probe_addr"`
	// OutsideAddr is the outside vantage's address.
	OutsideAddr string `json:"outside_addr"`
	// Resolvers are the lab's DNS servers (host:port).
	Resolvers Resolvers `json:"resolvers"`
	// Trust lists the trust files (PEM).
	Trust Trust `json:"trust"`
	// ASNTable is the IP-to-network table naming the inside network (the
	// scenario's `network:`), "" when the scenario names none.
	ASNTable string `json:"asn_table,omitempty"`
	// ControlURL is the control's URL, "" when no control runs.
	ControlURL string `json:"control_url,omitempty"`
	// ControlDown says that the scenario's control is down: ControlURL is
	// given to programs, and nothing listens there.
	ControlDown bool `json:"control_down,omitempty"`
	// ControlUnreachable are the host addresses the outside vantage (and so
	// the control) cannot reach: the hosts with control: unreachable.
	ControlUnreachable []string `json:"control_unreachable,omitempty"`
	// Daemons maps a daemon role to its process.
	Daemons map[string]Daemon `json:"daemons"`
	// Seed seeds the censor's random choices.
	Seed int64 `json:"seed"`
}

// StateLink is one veth link in the state file.
type StateLink struct {
	A     string `json:"a"` // namespace/interface
	AAddr string `json:"a_addr"`
	B     string `json:"b"`
	BAddr string `json:"b_addr"`
	What  string `json:"what"`
}

// Resolvers are the lab's DNS servers.
type Resolvers struct {
	// ISP is the inside recursive resolver; its upstream crosses the censor.
	ISP string `json:"isp"`
	// Public is the internet's public recursive resolver.
	Public string `json:"public"`
	// Authoritative serves every scenario name.
	Authoritative string `json:"authoritative"`
}

// Trust names the lab's trust files.
type Trust struct {
	// PublicCA is the lab's public CA (the genuine servers' certificates).
	PublicCA string `json:"public_ca"`
	// RogueCA is the censor's CA for TLS interception by rules with ca:
	// rogue: no vantage trusts it.
	RogueCA string `json:"rogue_ca"`
	// RogueTrustedCA is the censor's CA for rules with ca: rogue-trusted,
	// a CA of its own that the inside vantage trusts.
	RogueTrustedCA string `json:"rogue_trusted_ca"`
	// Inside is the inside vantage's trust store (public CA, plus the trusted rogue
	// CA when a tls-mitm rule says ca: rogue-trusted).
	Inside string `json:"inside"`
	// Outside is the outside vantage's trust store (public CA only).
	Outside string `json:"outside"`
	// RogueTrustedInside tells whether Inside contains the trusted rogue CA.
	RogueTrustedInside bool `json:"rogue_trusted_inside"`
}

// Daemon is one long-running process of the lab.
type Daemon struct {
	Namespace string `json:"namespace"` // where it runs
	PID       int    `json:"pid"`       // its process id (a session leader)
	Log       string `json:"log"`       // its output
}

// Names returns the namespace and interface names of the lab.
func (s *State) Names() Names {
	if s.Name == "" {
		return NamesFor(DefaultName)
	}
	return NamesFor(s.Name)
}

// ErrNotRunning is returned by LoadState when no lab is up.
var ErrNotRunning = errors.New("no lab is running (run `firewatch lab up --scenario FILE`)")

// LoadState reads the state file of the lab in dir.
func LoadState(dir string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotRunning
	}
	if err != nil {
		return nil, fmt.Errorf("lab state: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("lab state %s: %w", filepath.Join(dir, StateFile), err)
	}
	return &s, nil
}

// Save writes the state file atomically into dir.
func (s *State) Save(dir string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, StateFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("lab state: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, StateFile)); err != nil {
		return fmt.Errorf("lab state: %w", err)
	}
	return nil
}
