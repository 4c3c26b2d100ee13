package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/firewatch/firewatch/internal/lab/nsnet"
)

// Down removes the lab called name whose state is in dir ("" means
// StateDir(name)): its daemons (by recorded pid and by every process still
// inside one of its namespaces), its namespaces (and with them every veth),
// and the state directory (with the vantages' resolv.conf files). It is
// idempotent and works without a state file (after a crash). Other labs are
// left alone.
func Down(ctx context.Context, name, dir string) error {
	if name == "" {
		name = DefaultName
	}
	if err := CheckName(name); err != nil {
		return err
	}
	if dir == "" {
		dir = StateDir(name)
	}
	if err := CheckPrivileges(); err != nil {
		return err
	}
	var errs []error
	if st, err := LoadState(dir); err == nil {
		if st.Name != "" {
			name = st.Name // the state knows best which lab lives in dir
		}
		for _, d := range st.Daemons {
			if isLabProcess(d.PID) {
				killPID(d.PID)
			}
		}
	}
	n := NamesFor(name)
	nss := n.existing()
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
	if have, err := nsnet.RootLinks(n.Prefix()); err == nil {
		for _, l := range n.Links() {
			for _, ifc := range []string{l.AIf, l.BIf} {
				if slices.Contains(have, ifc) {
					if err := nsnet.DeleteRootLink(ifc); err != nil {
						errs = append(errs, err)
					}
				}
			}
		}
	}
	// Left by versions that kept the vantages' resolv.conf in /etc/netns.
	for _, ns := range n.Namespaces() {
		if err := os.RemoveAll(filepath.Join("/etc/netns", ns)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, fmt.Errorf("lab: state dir: %w", err))
	}
	return errors.Join(errs...)
}

// DownAll removes every lab List finds, and returns their names.
func DownAll(ctx context.Context) ([]string, error) {
	refs, err := List()
	if err != nil {
		return nil, err
	}
	var errs []error
	var names []string
	for _, r := range refs {
		names = append(names, r.Name)
		if err := Down(ctx, r.Name, r.StateDir); err != nil {
			errs = append(errs, fmt.Errorf("lab %s: %w", r.Name, err))
		}
	}
	return names, errors.Join(errs...)
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
