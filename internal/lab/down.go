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

	"github.com/firewatch/firewatch/internal/lab/nsnet"
)

// Down removes the lab: its daemons (by recorded pid and by every process
// still inside a lab namespace), its namespaces (and with them every veth),
// and the state directory (with the vantages' resolv.conf files). It is
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
	nss, err := ListNamespaces()
	if err != nil {
		errs = append(errs, err)
	}
	for _, ns := range nss {
		pids, err := nsnet.PIDs(ns)
		if err != nil {
			continue
		}
		for _, pid := range pids {
			if pid != os.Getpid() {
				killPID(pid)
			}
		}
	}
	for _, ns := range nss {
		if err := nsnet.Delete(ns); err != nil {
			errs = append(errs, err)
		}
	}
	// Links are created inside the namespaces; should one of ours be in the
	// root namespace anyway (moved there by hand), remove it.
	if names, err := nsnet.RootLinks(Prefix); err == nil {
		for _, name := range names {
			if err := nsnet.DeleteRootLink(name); err != nil {
				errs = append(errs, err)
			}
		}
	}
	// Left by versions that kept the vantages' resolv.conf in /etc/netns.
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
