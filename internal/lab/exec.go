package lab

import (
	"context"
	"errors"
	"fmt"
	"github.com/firewatch/firewatch/internal/geo"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// Vantages.
const (
	FromInside  = "inside"
	FromOutside = "outside"
)

// ExecSpec is a program to run in a vantage of a running lab.
type ExecSpec struct {
	// From is FromInside (default) or FromOutside.
	From string
	// Argv is the program and its arguments.
	Argv []string
	// Stdin, Stdout, Stderr pass through; nil means the null device.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Env returns the environment a program gets in a vantage: SSL_CERT_FILE
// and CURL_CA_BUNDLE (the vantage's trust store; curl ignores the former),
// FIREWATCH_ROUTABLE (TEST-NET counts as routable) and FIREWATCH_CONTROL
// when a control runs.
func (s *State) Env(from string) []string {
	env := []string{"FIREWATCH_ROUTABLE=" + Routable, "FIREWATCH_LAB=1"}
	trust := s.Trust.Inside
	if from == FromOutside {
		trust = s.Trust.Outside
	}
	env = append(env, "SSL_CERT_FILE="+trust, "CURL_CA_BUNDLE="+trust)
	if s.ControlURL != "" {
		env = append(env, "FIREWATCH_CONTROL="+s.ControlURL)
	}
	if s.ASNTable != "" {
		env = append(env, geo.EnvVar+"="+s.ASNTable)
	}
	return env
}

// Exec runs a program in a vantage of the lab in dir and returns its exit
// status (-1 with an error when it could not be started).
func Exec(ctx context.Context, dir string, spec ExecSpec) (int, error) {
	if len(spec.Argv) == 0 {
		return -1, errors.New("lab exec: no command given (usage: firewatch lab exec [--from inside|outside] -- CMD ARGS...)")
	}
	if _, err := NamesFor(DefaultName).Vantage(spec.From); err != nil {
		return -1, err
	}
	if err := CheckPrivileges(); err != nil {
		return -1, err
	}
	if dir == "" {
		dir = DefaultStateDir
	}
	st, err := LoadState(dir)
	if err != nil {
		return -1, err
	}
	ns, _ := st.Names().Vantage(spec.From)
	cmd := exec.CommandContext(ctx, spec.Argv[0], spec.Argv[1:]...)
	cmd.Env = mergeEnv(os.Environ(), st.Env(spec.From))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = spec.Stdin, spec.Stdout, spec.Stderr
	if err := startIn(dir, st.Names(), ns, cmd); err != nil {
		return -1, fmt.Errorf("lab exec: %w", err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil // as a shell reports it
		}
		return ee.ExitCode(), nil
	}
	if err != nil {
		return -1, fmt.Errorf("lab exec: %w", err)
	}
	return 0, nil
}

// mergeEnv returns base with the variables of over replacing those of the same name.
func mergeEnv(base, over []string) []string {
	keys := map[string]bool{}
	for _, kv := range over {
		k, _, _ := strings.Cut(kv, "=")
		keys[k] = true
	}
	var out []string
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if !keys[k] {
			out = append(out, kv)
		}
	}
	return append(out, over...)
}
