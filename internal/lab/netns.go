package lab

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"runtime"
	"strings"

	"github.com/vishvananda/netns"
)

// ip runs the ip(8) command with args and returns a clear error with its
// output when it fails.
func ip(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, "ip", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// ipOut runs ip(8) and returns its standard output.
func ipOut(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "ip", args...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return string(out), nil
}

// InNetns runs fn on an OS thread switched into the named network namespace.
// Sockets created by fn belong to that namespace for their whole life, so fn
// may return connections that other goroutines keep using.
func InNetns(name string, fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns: current namespace: %w", err)
	}
	defer orig.Close()
	target, err := netns.GetFromName(name)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns %s: %w", name, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns %s: enter: %w", name, err)
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		// The thread stays locked and dies with the goroutine: it must not
		// run other goroutines in the wrong namespace.
		return fmt.Errorf("netns %s: leave: %w", name, err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// ListNamespaces returns the lab's namespaces that currently exist
// (including leftovers of a crashed lab).
func ListNamespaces(ctx context.Context) ([]string, error) {
	out, err := ipOut(ctx, "netns", "list")
	if err != nil {
		return nil, err
	}
	var ns []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && strings.HasPrefix(f[0], Prefix) {
			ns = append(ns, f[0])
		}
	}
	return ns, nil
}
