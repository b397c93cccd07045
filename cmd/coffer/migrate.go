package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffer-drive/coffer/internal/meta/metacopy"
	"github.com/coffer-drive/coffer/internal/meta/metadb"
)

// migrateCmd is `coffer admin migrate`: data and db are admin's
// persistent --data and --db.
func (a *app) migrateCmd(data, db *string) *cobra.Command {
	var from, to string
	cmd := &cobra.Command{
		Use:   "migrate --to postgres://… [--from URL]",
		Short: "Copy the metadata into a new PostgreSQL database (stop the servers first)",
		Long: `Copy every account, session, file, share, link and storage record from
the metadata database into a new, empty PostgreSQL database, to move an
embedded deployment to PostgreSQL.

Stop every server first: what they write after the copy would be lost.
The source defaults to the server's own database (--db, else meta.db in
--data; like coffer serve, they may come from COFFER_DB and COFFER_DATA
or the --config file). --to and --from are read from the command line
only, never from the environment or the file: the database to copy into
is chosen once, by hand, not by a variable left over from a deployment.
An SQLite source is read under its write lock, so that nothing can
change it during the copy; if a server holds the lock, the copy
fails ("stop the servers first"). The copy is one transaction on the
destination, committed only after every table's row count, every usage
counter and every value of every row is checked against the source; on
any error the destination keeps nothing of it. A destination that
already holds data is refused.

Once the copy is committed, an SQLite source is renamed to meta.db.migrated
(its -wal and -shm files alike): a server or admin command started
without --db must not find the old metadata, against which every block
uploaded since would look unneeded and be deleted by a storage repair.

Blocks are not copied: they stay where they are. Then start the servers
with --db set to the new database, and the same --data or --store flags
as before.`,
		Example: `  coffer admin migrate --data /var/lib/coffer --to postgres://coffer@db.internal/coffer
  coffer admin migrate --from sqlite:///var/lib/coffer/meta.db --to postgres://coffer@db.internal/coffer`,
		Args: args(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if to == "" {
				return usageError{errors.New("--to is required: the postgres:// URL of the new database")}
			}
			dst, err := metadb.Parse(to, *data)
			if err != nil {
				return usageError{fmt.Errorf("--to: %w", err)}
			}
			if dst.Driver != "postgres" {
				return usageError{fmt.Errorf("--to %s: want a postgres:// URL", dst)}
			}
			fromFlag := "--from"
			if from == "" {
				// The server's database, which may come from COFFER_DB
				// or the file like --data, else meta.db in --data.
				from, fromFlag = *db, "--db"
			}
			src, err := metadb.Parse(from, *data)
			if err != nil {
				return usageError{fmt.Errorf("%s: %w", fromFlag, err)}
			}
			switch {
			case src == dst && fromFlag == "--db":
				return usageError{errors.New("--to names the server's own database (--db), the source of the copy: give --from to name another source")}
			case src == dst:
				return usageError{errors.New("--from and --to name the same database")}
			}
			return a.migrate(cmd.Context(), src, dst)
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "the database to copy: sqlite:///path or postgres://… (default: --db, else meta.db in --data)")
	f.StringVar(&to, "to", "", "the new PostgreSQL database to copy into: postgres://… (required)")
	return cmd
}

func (a *app) migrate(ctx context.Context, src, dst metadb.Target) error {
	if src.Driver == "sqlite" {
		_, err := os.Stat(src.Path)
		if _, rerr := os.Stat(src.Path + metacopy.RetiredSuffix); err != nil && rerr == nil {
			return fmt.Errorf("no metadata at %s: it was migrated already (%s is the old database, kept as a backup); give the servers' --db", src.Path, src.Path+metacopy.RetiredSuffix)
		}
		// The source is renamed once the copy is committed: find out now
		// whether it can be, not after the commit. (A missing source is
		// Migrate's to report.)
		if err == nil {
			if err := metacopy.CheckRetire(src.Path); err != nil {
				return fmt.Errorf("source: %w; nothing was copied", err)
			}
		}
	}
	fmt.Fprintf(a.stdout, "Copying %s to %s (nothing is committed until the whole copy is checked against the source):\n", src, dst)
	start := time.Now()
	rep, err := metacopy.Migrate(ctx, src, dst, metacopy.Options{
		Progress: func(table string, rows int64) {
			fmt.Fprintf(a.stdout, "  %-18s %9d rows copied\n", table, rows)
		},
	})
	// The result decides, not ctx: an interrupt that came after the
	// commit leaves the copy committed.
	switch {
	case err == nil:
	case errors.Is(err, metacopy.ErrCommitUnknown):
		return fmt.Errorf("%w: look at the destination; if it holds the accounts, the copy is complete: rename %s to %s%s by hand before starting the servers with --db", err, src.Path, src.Path, metacopy.RetiredSuffix)
	case errors.Is(err, metacopy.ErrNotEmpty):
		return fmt.Errorf("%w: migrate copies into a new, empty database only (if an earlier migrate committed and was cut short, its copy is there: rename the SQLite source to %s%s and start the servers with --db)", err, src.Path, metacopy.RetiredSuffix)
	case ctx.Err() != nil:
		return errors.New("interrupted: nothing was copied")
	default:
		return fmt.Errorf("%w; nothing was copied", err)
	}
	fmt.Fprintf(a.stdout, "Checked every table's rows, contents and counters against the source, and committed: %d rows in %s.\n",
		rep.Rows, time.Since(start).Round(time.Millisecond))
	if src.Driver == "sqlite" {
		renamed, err := metacopy.RetireSQLite(src.Path)
		for _, r := range renamed {
			fmt.Fprintf(a.stdout, "Renamed %s to %s.\n", r.From, r.To)
		}
		if err != nil {
			return fmt.Errorf("the copy in %s is complete, but %w: move %s (and any -wal and -shm file beside it) aside by hand before starting anything on this data folder, or a storage repair on the old metadata would delete the blocks uploaded from now on", dst, err, src.Path)
		}
		fmt.Fprintf(a.stdout, "The old metadata is kept as a backup under the new name, where no server or admin command run without --db finds it: "+
			"against it, a storage repair would delete every block uploaded from now on as unneeded.\n")
	}
	fmt.Fprintf(a.stdout, "Start the servers, and run every admin command, with --db set to %s.\n", dst)
	return nil
}
