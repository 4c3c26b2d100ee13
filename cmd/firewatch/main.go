// Command firewatch measures network censorship and surveillance: it probes
// targets from inside a network, compares them with an uncensored control,
// names the interference with its evidence, and publishes the history.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// commands holds the constructors of the subcommands; each command's file
// adds its own in an init function, so that commands live beside their flags.
var commands []func() *cobra.Command

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "firewatch",
		Short:         "An open observatory for network censorship and surveillance",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	for _, c := range commands {
		root.AddCommand(c())
	}
	return root
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		var ee exitError
		if asExit(err, &ee) {
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "firewatch:", err)
		os.Exit(1)
	}
}

// exitError carries a process exit status out of a command (e.g. `lab run`
// returning the status of the program it ran) without printing anything.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func asExit(err error, target *exitError) bool {
	e, ok := err.(exitError)
	if ok {
		*target = e
	}
	return ok
}
