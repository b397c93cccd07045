package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/coffer-drive/coffer/internal/blob/replicated"
	"github.com/coffer-drive/coffer/internal/bytesize"
	"github.com/coffer-drive/coffer/internal/client"
	"github.com/coffer-drive/coffer/internal/meta/metadb"
	"github.com/coffer-drive/coffer/internal/server"
)

// storageFlags binds the flags that say where blocks live, shared by
// `serve` and `admin storage` so both see the same layout.
type storageFlags struct {
	cfg server.StorageConfig
}

func (sf *storageFlags) bind(f *pflag.FlagSet) {
	f.StringArrayVar(&sf.cfg.Stores, "store", nil, "a block location: file:///path or s3://bucket[/prefix]?endpoint=URL, credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (repeat for redundancy; default DATA/blocks)")
	f.IntVar(&sf.cfg.Replicas, "replicas", 0, "copies of each block (default: one per location)")
	f.IntVar(&sf.cfg.WriteQuorum, "write-quorum", 0, "locations that must hold a block before an upload is acknowledged (default: a majority of replicas, or K+1 shards)")
	f.StringVar(&sf.cfg.Erasure, "erasure", "", "erasure-code blocks as K+M shards over K+M locations instead of copying them, e.g. 4+2")
	f.DurationVar(&sf.cfg.Timeout, "store-timeout", 30*time.Second, "give up on a call to a block location after this long")
}

func (a *app) storageCmd(data, db *string) *cobra.Command {
	var sf storageFlags
	cmd := &cobra.Command{
		Use:   "storage",
		Short: "Check and repair the block locations",
		Long: `Check and repair the block locations. Give the same --data, --db,
--store, --replicas, --write-quorum and --erasure flags as to coffer
serve, on the command line, as COFFER_* variables or in the --config file
(see coffer admin --help). These commands may run while the server runs.`,
	}
	sf.bind(cmd.PersistentFlags())

	var asJSON bool
	status := &cobra.Command{
		Use:   "status [--json]",
		Short: "Show, per location, whether it is reachable and what it holds and lacks",
		Args:  args(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStorage(cmd.Context(), *data, *db, sf.cfg, func(ctx context.Context, s *replicated.Store) error {
				st, err := s.Status(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(a.stdout, statusJSON(st))
				}
				a.printStatus(st)
				return nil
			})
		},
	}
	status.Flags().BoolVar(&asJSON, "json", false, "machine-readable output")

	var repairJSON bool
	repair := &cobra.Command{
		Use:   "repair [--json]",
		Short: "Bring every block back to its policy now: copy what is missing, delete what is unneeded",
		Args:  args(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStorage(cmd.Context(), *data, *db, sf.cfg, func(ctx context.Context, s *replicated.Store) error {
				rep, err := s.Repair(ctx)
				if err != nil {
					return err
				}
				if repairJSON {
					if err := printJSON(a.stdout, repairJSONOf(rep)); err != nil {
						return err
					}
				} else {
					fmt.Fprintf(a.stdout, "Checked %d blocks: %d repaired (%d copies written), %d lost, %d failed; %d unneeded copies deleted; took %s.\n",
						rep.Blocks, rep.Repaired, rep.Written, rep.Lost, rep.Failed, rep.Orphans, rep.Duration.Round(time.Millisecond))
					for _, name := range rep.Unreachable {
						fmt.Fprintf(a.stdout, "Unreachable, left for a later pass: %s\n", name)
					}
					for _, id := range rep.LostIDs {
						fmt.Fprintf(a.stdout, "Lost: block %s\n", id)
					}
				}
				switch {
				case rep.Lost > 0:
					return fmt.Errorf("%d blocks have too few sound copies left to repair", rep.Lost)
				case rep.Failed > 0 || len(rep.Unreachable) > 0:
					return fmt.Errorf("repair incomplete: %d blocks failed, %d locations unreachable", rep.Failed, len(rep.Unreachable))
				}
				return nil
			})
		},
	}
	repair.Flags().BoolVar(&repairJSON, "json", false, "machine-readable output")

	var (
		scrubJSON bool
		rateFlag  string
	)
	scrub := &cobra.Command{
		Use:   "scrub [--rate SIZE] [--json]",
		Short: "Re-read and re-hash every copy now, and repair the rotten ones",
		Args:  args(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var rate int64
			if rateFlag != "" {
				var err error
				if rate, err = bytesize.Parse(rateFlag); err != nil {
					return usageError{fmt.Errorf("--rate: %w", err)}
				}
			}
			return a.withStorage(cmd.Context(), *data, *db, sf.cfg, func(ctx context.Context, s *replicated.Store) error {
				rep, err := s.Scrub(ctx, replicated.ScrubOptions{Rate: rate})
				if err != nil {
					return err
				}
				if scrubJSON {
					if err := printJSON(a.stdout, scrubJSONOf(rep)); err != nil {
						return err
					}
				} else {
					tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "LOCATION\tCHECKED\tBYTES\tCORRUPT\tREPAIRED\tERROR")
					for _, l := range rep.Locations {
						fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%s\n", l.Name, l.Checked, client.HumanBytes(l.Bytes), l.Corrupt, l.Repaired, l.Error)
					}
					tw.Flush()
					fmt.Fprintf(a.stdout, "Took %s.\n", rep.Duration.Round(time.Millisecond))
				}
				var unrepaired int64
				var stopped []string
				for _, l := range rep.Locations {
					unrepaired += l.Corrupt - l.Repaired
					if l.Error != "" {
						stopped = append(stopped, l.Name)
					}
				}
				switch {
				case unrepaired > 0:
					return fmt.Errorf("%d corrupt copies could not be repaired", unrepaired)
				case len(stopped) > 0:
					return fmt.Errorf("scrub incomplete: %s could not be read to the end", strings.Join(stopped, ", "))
				}
				return nil
			})
		},
	}
	scrub.Flags().BoolVar(&scrubJSON, "json", false, "machine-readable output")
	scrub.Flags().StringVar(&rateFlag, "rate", "", "read at most this much per second from each location, e.g. 50MiB (default: no limit)")

	cmd.AddCommand(status, repair, scrub)
	return cmd
}

// withStorage opens the metadata store (db, or the embedded database in
// data) and the block locations for an operator command.
func (a *app) withStorage(ctx context.Context, data, db string, cfg server.StorageConfig, fn func(context.Context, *replicated.Store) error) error {
	target, err := metadb.Parse(db, data)
	if err != nil {
		return usageError{fmt.Errorf("--db: %w", err)}
	}
	// Never a new, empty database: against it every block would look
	// unneeded.
	store, err := metadb.OpenExisting(ctx, target)
	if err != nil {
		return err // it names the database
	}
	defer store.Close()
	log := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	blobs, err := server.OpenStorage(ctx, cfg, data, store, log, nil)
	if err != nil {
		return fmt.Errorf("open block storage: %w", err)
	}
	defer blobs.Close()
	err = fn(ctx, blobs)
	if errors.Is(err, context.Canceled) {
		return errors.New("interrupted")
	}
	return err
}

func (a *app) printStatus(st replicated.Status) {
	fmt.Fprintf(a.stdout, "Policy: %s\n", st.Policy)
	fmt.Fprintf(a.stdout, "Blocks: %d (%s); under-replicated: %d; lost: %d\n\n", st.Blocks, client.HumanBytes(st.Bytes), st.UnderReplicated, st.Lost)
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LOCATION\tREACHABLE\tBLOCKS\tBYTES\tUNDER-REPLICATED\tUNNEEDED\tLAST SCRUB\tLAST REPAIR")
	for _, l := range st.Locations {
		reach := "yes"
		if !l.Reachable {
			reach = "NO"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%d\t%s\t%s\n", l.Name, reach, l.Objects, client.HumanBytes(l.Bytes), l.Missing, l.Orphans, when(l.ScrubbedAt), when(l.RepairedAt))
	}
	tw.Flush()
	for _, l := range st.Locations {
		if !l.Reachable {
			fmt.Fprintf(a.stdout, "\n%s: %s\n", l.Name, l.Error)
		}
	}
	for _, id := range st.LostIDs {
		fmt.Fprintf(a.stdout, "Lost: block %s\n", id)
	}
}

func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

type locationJSON struct {
	Name            string     `json:"name"`
	Reachable       bool       `json:"reachable"`
	Error           string     `json:"error,omitempty"`
	Blocks          int64      `json:"blocks"`
	Bytes           int64      `json:"bytes"`
	UnderReplicated int64      `json:"under_replicated"`
	Unneeded        int64      `json:"unneeded"`
	LastScrub       *time.Time `json:"last_scrub"`
	ScrubNext       int        `json:"scrub_next_prefix,omitempty"`
	LastRepair      *time.Time `json:"last_repair"`
}

type policyJSON struct {
	Replicas     int `json:"replicas,omitempty"`
	DataShards   int `json:"data_shards,omitempty"`
	ParityShards int `json:"parity_shards,omitempty"`
	WriteQuorum  int `json:"write_quorum"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func statusJSON(st replicated.Status) any {
	locs := make([]locationJSON, len(st.Locations))
	for i, l := range st.Locations {
		locs[i] = locationJSON{Name: l.Name, Reachable: l.Reachable, Error: l.Error, Blocks: l.Objects, Bytes: l.Bytes,
			UnderReplicated: l.Missing, Unneeded: l.Orphans, LastScrub: timePtr(l.ScrubbedAt), ScrubNext: l.ScrubNext, LastRepair: timePtr(l.RepairedAt)}
	}
	lost := make([]string, len(st.LostIDs))
	for i, id := range st.LostIDs {
		lost[i] = id.String()
	}
	return struct {
		Policy          policyJSON     `json:"policy"`
		Blocks          int64          `json:"blocks"`
		Bytes           int64          `json:"bytes"`
		UnderReplicated int64          `json:"under_replicated"`
		Lost            int64          `json:"lost"`
		LostBlocks      []string       `json:"lost_blocks"`
		Locations       []locationJSON `json:"locations"`
	}{
		Policy:          policyJSON{Replicas: st.Policy.Replicas, DataShards: st.Policy.DataShards, ParityShards: st.Policy.ParityShards, WriteQuorum: st.Policy.WriteQuorum},
		Blocks:          st.Blocks,
		Bytes:           st.Bytes,
		UnderReplicated: st.UnderReplicated,
		Lost:            st.Lost,
		LostBlocks:      lost,
		Locations:       locs,
	}
}

func repairJSONOf(rep replicated.RepairReport) any {
	lost := make([]string, len(rep.LostIDs))
	for i, id := range rep.LostIDs {
		lost[i] = id.String()
	}
	return struct {
		Blocks      int64    `json:"blocks"`
		Repaired    int64    `json:"repaired"`
		Written     int64    `json:"copies_written"`
		Lost        int64    `json:"lost"`
		LostBlocks  []string `json:"lost_blocks"`
		Failed      int64    `json:"failed"`
		Deleted     int64    `json:"unneeded_deleted"`
		Unreachable []string `json:"unreachable"`
		Seconds     float64  `json:"seconds"`
	}{rep.Blocks, rep.Repaired, rep.Written, rep.Lost, lost, rep.Failed, rep.Orphans, nonNil(rep.Unreachable), rep.Duration.Seconds()}
}

func scrubJSONOf(rep replicated.ScrubReport) any {
	type loc struct {
		Name     string `json:"name"`
		Checked  int64  `json:"checked"`
		Bytes    int64  `json:"bytes"`
		Corrupt  int64  `json:"corrupt"`
		Repaired int64  `json:"repaired"`
		Error    string `json:"error,omitempty"`
	}
	locs := make([]loc, len(rep.Locations))
	for i, l := range rep.Locations {
		locs[i] = loc{l.Name, l.Checked, l.Bytes, l.Corrupt, l.Repaired, l.Error}
	}
	return struct {
		Locations []loc   `json:"locations"`
		Seconds   float64 `json:"seconds"`
	}{locs, rep.Duration.Seconds()}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
