package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/firewatch/firewatch/internal/store"
)

func init() { commands = append(commands, newTokenCmd) }

// newTokenCmd is `firewatch token create|list|revoke`: the probes' upload
// tokens, stored in the collector's database (only a hash of each secret).
func newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage the upload tokens of probes and agents",
		Long: `Manage the upload tokens of probes and agents. A probe sends its token as
"Authorization: Bearer TOKEN"; the collector stores only a SHA-256 of it, so the
secret is printed once, by "token create".`,
	}
	var db string
	cmd.PersistentFlags().StringVar(&db, "db", "firewatch.db", "collector database: a SQLite file path, sqlite://PATH or postgres://...")
	open := func(cmd *cobra.Command) (store.Store, error) {
		st, err := store.Open(cmd.Context(), db)
		if err != nil {
			return nil, err
		}
		return st, nil
	}

	var name string
	create := &cobra.Command{
		Use:   "create --name NAME",
		Short: "Create a token and print its secret (only this once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				return errors.New("token create: --name is required")
			}
			st, err := open(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			secret, err := st.CreateToken(cmd.Context(), name)
			if errors.Is(err, store.ErrExists) {
				return fmt.Errorf("token create: a token named %q already exists (revoke it or choose another name)", name)
			}
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), secret)
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "name of the probe or agent the token is for (unique)")

	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens (names, creation, last use, revocation; never secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := open(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			ts, err := st.ListTokens(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tCREATED\tLAST USED\tREVOKED")
			stamp := func(t *time.Time) string {
				if t == nil {
					return "-"
				}
				return t.UTC().Format(time.RFC3339)
			}
			for _, t := range ts {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, stamp(&t.CreatedAt), stamp(t.LastUsed), stamp(t.RevokedAt))
			}
			return tw.Flush()
		},
	}

	var rname string
	revoke := &cobra.Command{
		Use:   "revoke --name NAME",
		Short: "Revoke a token: its uploads are refused from now on",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if rname == "" {
				return errors.New("token revoke: --name is required")
			}
			st, err := open(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			err = st.RevokeToken(cmd.Context(), rname)
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("token revoke: no token named %q (see firewatch token list)", rname)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "token %q revoked\n", rname)
			return nil
		},
	}
	revoke.Flags().StringVar(&rname, "name", "", "name of the token to revoke")

	cmd.AddCommand(create, list, revoke)
	return cmd
}
