package main

import (
	"testing"
)

func TestLabCommands(t *testing.T) {
	root := newRootCmd()
	for _, name := range []string{"up", "down", "status", "exec", "run", "daemon"} {
		c, _, err := root.Find([]string{"lab", name})
		if err != nil || c.Name() != name {
			t.Errorf("lab %s: %v", name, err)
			continue
		}
		if hidden := c.Hidden; hidden != (name == "daemon") {
			t.Errorf("lab %s: hidden=%v", name, hidden)
		}
	}
	for _, args := range [][]string{
		{"lab", "up"},                     // --scenario is required
		{"lab", "exec"},                   // no command
		{"lab", "run", "--scenario", "x"}, // no command
		{"lab", "daemon"},                 // no role
	} {
		root := newRootCmd()
		root.SetArgs(args)
		root.SetOut(&discard{})
		root.SetErr(&discard{})
		if err := root.Execute(); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	labCmd, _, _ := newRootCmd().Find([]string{"lab"})
	if !hasControl(labCmd) {
		t.Errorf("hasControl: false, but the binary has a control command")
	}
}

type discard struct{}

func (*discard) Write(p []byte) (int, error) { return len(p), nil }
