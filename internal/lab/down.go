package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Down removes the lab: its daemons (by recorded pid and by every process
// still inside a lab namespace), its namespaces (and with them every veth),
// the per-namespace resolv.conf files and the state directory. It is
// idempotent and works without a state file (after a crash).
func Down(ctx context.Context, dir string) error {
	if dir == "" {
		dir = DefaultStateDir
	}
	if err := CheckPrivileges(); err != nil {
		return err
	}
	var errs []error
	if st, err := LoadState(dir); err == nil {
		for _, d := range st.Daemons {
			if isLabProcess(d.PID) {
				killPID(d.PID)
			}
		}
	}
	nss, err := ListNamespaces(ctx)
	if err != nil {
		errs = append(errs, err)
	}
	for _, ns := range nss {
		out, err := ipOut(ctx, "netns", "pids", ns)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(out) {
			if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
				killPID(pid)
			}
		}
	}
	for _, ns := range nss {
		if err := ip(ctx, "netns", "del", ns); err != nil {
			errs = append(errs, err)
		}
	}
	// Interfaces are created inside the namespaces; should a half-made pair
	// remain in the root namespace, remove it (only our prefix).
	if out, err := ipOut(ctx, "-o", "link", "show"); err == nil {
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
			if strings.HasPrefix(name, Prefix) {
				if err := ip(ctx, "link", "del", name); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	if m, _ := filepath.Glob("/etc/netns/" + Prefix + "*"); len(m) > 0 {
		for _, d := range m {
			if err := os.RemoveAll(d); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, fmt.Errorf("lab: state dir: %w", err))
	}
	return errors.Join(errs...)
}

// isLabProcess reports whether pid runs a lab daemon (guards against a
// recorded pid reused by an unrelated process after a crash).
func isLabProcess(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	args := strings.Split(string(b), "\x00")
	for i := range args {
		if args[i] == "daemon" && i > 0 && args[i-1] == "lab" {
			return true
		}
		if args[i] == "control" && i+1 < len(args) && args[i+1] == "--listen" {
			return true
		}
	}
	return false
}

// killPID sends SIGTERM to the process (and its process group when it leads
// one), then SIGKILL if it has not exited within two seconds.
func killPID(pid int) {
	if pid <= 0 || pid == os.Getpid() {
		return
	}
	if pgid, err := syscall.Getpgid(pid); err == nil && pgid == pid {
		_ = syscall.Kill(-pid, syscall.SIGTERM)
	} else {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if !alive(pid) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	if pgid, err := syscall.Getpgid(pid); err == nil && pgid == pid {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}
