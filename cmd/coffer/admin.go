package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/coffer-drive/coffer/internal/bytesize"
	"github.com/coffer-drive/coffer/internal/client"
	"github.com/coffer-drive/coffer/internal/meta"
	"github.com/coffer-drive/coffer/internal/meta/metadb"
)

func (a *app) adminCmd() *cobra.Command {
	var data, db string
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Operator commands, run against the server's own data",
		Long: `Operator commands, run against the server's own data: they need the
server's --data and --db (and, for admin storage, its --store, --replicas,
--write-quorum, --erasure and --store-timeout). They refuse a database that
holds no Coffer metadata rather than start a new one.

They take these settings from the same places as coffer serve, with the
same precedence: the command line, then COFFER_<FLAG> variables (COFFER_DATA,
COFFER_DB, COFFER_STORE comma-separated, …), then the YAML file given with
--config, which may be the server's own: keys that are flags of coffer
serve but not of the command (listen, session-idle, …) are skipped.
The flags of the admin commands that serve lacks (--json, scrub's --rate,
migrate's --from and --to) are read from the command line only.`,
	}
	// Every subcommand: the file and the environment fill in the server's
	// settings the command line left out, before RunE reads them.
	cmd.PersistentPreRunE = a.withConfig(cmd.PersistentFlags())
	cmd.PersistentFlags().StringVar(&data, "data", "./coffer-data", "the server's data folder")
	cmd.PersistentFlags().StringVar(&db, "db", "", "the server's metadata database: postgres://… or sqlite:///path (default: meta.db in --data)")
	user := &cobra.Command{Use: "user", Short: "Manage accounts"}
	quota := &cobra.Command{
		Use:   "quota NAME SIZE",
		Short: "Set an account's storage quota (e.g. 10GiB, 500MB; 0 for none)",
		Args:  args(2, 2),
		RunE: func(cmd *cobra.Command, argv []string) error {
			size, err := bytesize.Parse(argv[1])
			if err != nil {
				return usageError{err}
			}
			target, err := metadb.Parse(db, data)
			if err != nil {
				return usageError{fmt.Errorf("--db: %w", err)}
			}
			store, err := metadb.OpenExisting(cmd.Context(), target)
			if err != nil {
				return err
			}
			defer store.Close()
			u, err := store.UserByName(cmd.Context(), argv[0])
			if errors.Is(err, meta.ErrNotFound) {
				return fmt.Errorf("no account %q in %s", argv[0], target)
			}
			if err != nil {
				return err
			}
			if err := store.SetQuota(cmd.Context(), u.ID, size); err != nil {
				return err
			}
			if size == 0 {
				fmt.Fprintf(a.stdout, "%s has no quota.\n", u.Name)
			} else {
				fmt.Fprintf(a.stdout, "Quota of %s set to %s.\n", u.Name, client.HumanBytes(size))
			}
			return nil
		},
	}
	user.AddCommand(quota)
	cmd.AddCommand(user, a.storageCmd(&data, &db), a.migrateCmd(&data, &db))
	return cmd
}
