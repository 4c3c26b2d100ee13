package lab

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary act as the lab's daemons (the lab starts
// `EXE lab daemon ROLE --state DIR` inside namespaces), and removes any lab
// the tests brought up, also when a test failed half-way.
func TestMain(m *testing.M) {
	if len(os.Args) >= 6 && os.Args[1] == "lab" && os.Args[2] == "daemon" && os.Args[4] == "--state" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		err := RunDaemon(ctx, os.Args[3], os.Args[5])
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if len(os.Args) >= 4 && os.Args[1] == "control" && os.Args[2] == "--listen" {
		fakeControl(os.Args[3], os.Args[1:])
		return
	}
	if labTestsEnabled() {
		// Leftovers of an earlier, crashed run.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_ = Down(ctx, testLab, testStateDir)
		cancel()
	}
	code := m.Run()
	if labTestsEnabled() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := Down(ctx, testLab, testStateDir); err != nil {
			fmt.Fprintln(os.Stderr, "lab down:", err)
			code = 1
		}
		cancel()
	}
	os.Exit(code)
}

// fakeControl stands in for `firewatch control` (which the test binary
// lacks): it answers every request with the arguments it was started with.
func fakeControl(addr string, args []string) {
	err := http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s from %s\n", strings.Join(args, " "), r.RemoteAddr)
	}))
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

// testLab is the name of the lab the tests bring up (not DefaultName, so
// that they never touch a user's lab), tn its names.
const testLab = "fwtest"

var (
	tn           = NamesFor(testLab)
	testStateDir = StateDir(testLab)
)

func labTestsEnabled() bool { return os.Getenv("FIREWATCH_LAB_TESTS") == "1" }

// needLab skips unless lab tests are enabled and the process may build one.
func needLab(t testing.TB) {
	t.Helper()
	if !labTestsEnabled() {
		t.Skip("lab tests need root and FIREWATCH_LAB_TESTS=1 (they build network namespaces)")
	}
	if err := CheckPrivileges(); err != nil {
		t.Skipf("FIREWATCH_LAB_TESTS=1 but %v", err)
	}
}
