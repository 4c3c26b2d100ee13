package scenario

import (
	"strings"
	"testing"
)

// TestControlFields reads a host's control: unreachable and the scenario's
// control: down.
func TestControlFields(t *testing.T) {
	host := "  - names: [a.example]\n    ip: 203.0.113.1\n    services: [http]\n"
	for _, c := range []struct {
		name, yaml        string
		down, unreachable bool
	}{
		{"none", "name: x\nhosts:\n" + host, false, false},
		{"host unreachable", "name: x\nhosts:\n" + host + "    control: unreachable\n", false, true},
		{"control down", "name: x\ncontrol: down\nhosts:\n" + host, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := Parse("f.yaml", []byte(c.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if s.ControlDown != c.down || s.Hosts[0].ControlUnreachable != c.unreachable {
				t.Errorf("got control down %v, host unreachable %v; want %v, %v", s.ControlDown, s.Hosts[0].ControlUnreachable, c.down, c.unreachable)
			}
		})
	}
}

func TestControlFieldErrors(t *testing.T) {
	host := "  - names: [a.example]\n    ip: 203.0.113.1\n    services: [http]\n"
	for _, c := range []struct{ name, yaml, want string }{
		{"host bad value", "name: x\nhosts:\n" + host + "    control: down\n", `f.yaml:6: hosts[0].control: want unreachable, got "down"`},
		{"host not a string", "name: x\nhosts:\n" + host + "    control: [unreachable]\n", "f.yaml:6: hosts[0].control: want a string"},
		{"top bad value", "name: x\ncontrol: unreachable\n", `f.yaml:2: control: want down, got "unreachable"`},
		{"top empty", "name: x\ncontrol:\n", "f.yaml:2: control: want a string"},
		{"both", "name: x\ncontrol: down\nhosts:\n" + host + "    control: unreachable\n", "f.yaml:4: hosts[0].control: unreachable changes nothing when the scenario's control is down (line 2)"},
		{"dns-open", "name: x\nhosts:\n  - names: [r.example]\n    ip: 198.51.100.4\n    services: [dns-open]\n    control: unreachable\n", "f.yaml:6: hosts[0].control: a dns-open host is inside the censored network"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
}
