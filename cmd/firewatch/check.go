package main

import (
	"encoding/json"
	"fmt"

	"github.com/firewatch/firewatch/internal/report"
	"github.com/firewatch/firewatch/internal/target"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newCheckCmd) }

func newCheckCmd() *cobra.Command {
	var pf probeFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check TARGET...",
		Short: "Measure targets now and print what every step observed",
		Long: `Measure each target (a URL, a bare domain meaning https:// and http://, or a
mail URL: imap, imaps, smtp, submission, smtps, pop3, pop3s) from this network
and print a short report per target, or with --json one JSON document per line.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var targets []target.Target
			for _, a := range args {
				ts, err := target.Parse(a)
				if err != nil {
					return fmt.Errorf("target %q: %w", a, err)
				}
				targets = append(targets, ts...)
			}
			measure, err := pf.measurer()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			enc := json.NewEncoder(out)
			for _, t := range targets {
				if err := cmd.Context().Err(); err != nil {
					return err
				}
				m := measure(cmd.Context(), t)
				if asJSON {
					if err := enc.Encode(m); err != nil {
						return err
					}
					continue
				}
				report.Text(out, m)
			}
			return nil
		},
	}
	pf.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON document per line")
	return cmd
}
