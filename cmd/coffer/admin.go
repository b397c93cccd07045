package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/coffer-drive/coffer/internal/client"
	"github.com/coffer-drive/coffer/internal/meta"
	"github.com/coffer-drive/coffer/internal/meta/sqlite"
)

func (a *app) adminCmd() *cobra.Command {
	var data string
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Operator commands, run against the server's own data",
	}
	cmd.PersistentFlags().StringVar(&data, "data", "./coffer-data", "the server's data folder")
	user := &cobra.Command{Use: "user", Short: "Manage accounts"}
	quota := &cobra.Command{
		Use:   "quota NAME SIZE",
		Short: "Set an account's storage quota (e.g. 10GiB, 500MB; 0 for none)",
		Args:  args(2, 2),
		RunE: func(cmd *cobra.Command, argv []string) error {
			size, err := parseSize(argv[1])
			if err != nil {
				return usageError{err}
			}
			store, err := sqlite.Open(cmd.Context(), filepath.Join(data, "meta.db"))
			if err != nil {
				return err
			}
			defer store.Close()
			u, err := store.UserByName(cmd.Context(), argv[0])
			if errors.Is(err, meta.ErrNotFound) {
				return fmt.Errorf("no account %q in %s", argv[0], data)
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
	cmd.AddCommand(user, a.storageCmd(&data))
	return cmd
}

// parseSize reads sizes like 1048576, 500MB, 10GiB or 1.5TiB.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   float64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
	}
	mult := 1.0
	for _, u := range units {
		// Longest suffixes come first, so "GiB" is never read as "B".
		if strings.HasSuffix(strings.ToUpper(t), strings.ToUpper(u.suffix)) {
			mult, t = u.mult, strings.TrimSpace(t[:len(t)-len(u.suffix)])
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || v*mult > 1<<62 {
		return 0, fmt.Errorf("size %q: want a number with an optional unit such as 500MB or 10GiB", s)
	}
	return int64(v * mult), nil
}
