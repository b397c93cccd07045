package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/client"
	"github.com/coffer-drive/coffer/internal/crypto"
)

func (a *app) shareCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "share (add PATH USER --role ROLE | ls [PATH] | rm PATH USER)",
		Short: "Share items of your drive with other accounts",
		Args:  args(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError{fmt.Errorf("%s needs a subcommand: add, ls or rm", cmd.CommandPath())}
		},
	}
	var role string
	add := &cobra.Command{
		Use:   "add PATH USER --role viewer|editor|uploader",
		Short: "Share PATH with USER, or change USER's role",
		Args:  args(2, 2),
		RunE: func(cmd *cobra.Command, argv []string) error {
			r, err := crypto.ParseRole(role)
			if err != nil {
				return usageError{err}
			}
			d, err := a.drive(cmd)
			if err != nil {
				return err
			}
			info, err := d.ShareAdd(cmd.Context(), argv[0], argv[1], r)
			if err != nil {
				return err
			}
			if info.FirstUse != "" {
				fmt.Fprintf(a.stderr, "Pinned the key of %s on first use, fingerprint:\n  %s\nCompare it with %s (coffer fingerprint) over a channel you trust.\n", info.FirstUse, info.FirstUseFingerprint, info.FirstUse)
			}
			fmt.Fprintf(a.stdout, "Shared %s with %s as %s.\n", info.Path, argv[1], r)
			return nil
		},
	}
	add.Flags().StringVar(&role, "role", "", "viewer (read), editor (read and write) or uploader (add files only)")
	_ = add.MarkFlagRequired("role")
	var asJSON, rotate bool
	ls := &cobra.Command{
		Use:   "ls [PATH]",
		Short: "List your shares, their members and roles",
		Args:  args(0, 1),
		RunE: func(cmd *cobra.Command, argv []string) error {
			d, err := a.drive(cmd)
			if err != nil {
				return err
			}
			p := ""
			if len(argv) == 1 {
				p = argv[0]
			}
			shares, err := d.Shares(cmd.Context(), p)
			if err != nil {
				return err
			}
			if asJSON {
				out := make([]map[string]any, 0, len(shares))
				for _, s := range shares {
					ms := make([]map[string]any, 0, len(s.Members))
					for _, m := range s.Members {
						ms = append(ms, map[string]any{"user": m.User, "role": m.Role.String(), "state": m.State})
					}
					m := map[string]any{"id": s.ID, "path": s.Path, "version": s.Version, "members": ms}
					if len(s.Problems) > 0 {
						m["problems"] = s.Problems
					}
					out = append(out, m)
				}
				return printJSON(a.stdout, out)
			}
			for _, s := range shares {
				for _, p := range s.Problems {
					fmt.Fprintf(a.stderr, "warning: %s: %s\n", s.Path, p)
				}
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			for _, s := range shares {
				if len(s.Members) == 0 {
					fmt.Fprintf(tw, "%s\t(no members)\t\t\n", s.Path)
				}
				for _, m := range s.Members {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Path, m.User, m.Role, m.State)
				}
			}
			return tw.Flush()
		},
	}
	ls.Flags().BoolVar(&asJSON, "json", false, "machine-readable output")
	rm := &cobra.Command{
		Use:   "rm [--rotate] PATH USER",
		Short: "Revoke USER's access to PATH",
		Long: `Revoke USER's access to PATH. The server refuses USER at once, and the
signed member list no longer names USER, so no client accepts what USER
signs there from now on. What USER wrote before is signed again by you.

Revoking cannot take back what USER already downloaded or could read: USER
kept the keys of what was shared until now. With --rotate, everything in
PATH also gets new keys, in one transaction, so that those keys open
nothing written afterwards, even with the server's help. If a rotation is
interrupted, run the same command again.`,
		Args: args(2, 2),
		RunE: func(cmd *cobra.Command, argv []string) error {
			d, err := a.drive(cmd)
			if err != nil {
				return err
			}
			info, err := d.ShareRemove(cmd.Context(), argv[0], argv[1], rotate)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s no longer has access to %s.\n", argv[1], info.Path)
			if rotate {
				fmt.Fprintf(a.stdout, "Keys rotated: %s's old keys open nothing written from now on.\n", argv[1])
				fmt.Fprintf(a.stderr, "Note: %s may have kept copies of what was shared until now.\n", argv[1])
			} else {
				fmt.Fprintf(a.stderr, "Note: %s may have kept copies and keys of what was shared until now; run again with --rotate so that those keys open nothing written from now on.\n", argv[1])
			}
			return nil
		},
	}
	rm.Flags().BoolVar(&rotate, "rotate", false, "also give everything in PATH new keys, in one step (run again if interrupted)")
	cmd.AddCommand(add, ls, rm)
	return cmd
}

func (a *app) sharedCmd() *cobra.Command {
	var asJSON bool
	list := func(cmd *cobra.Command, _ []string) error {
		d, err := a.drive(cmd)
		if err != nil {
			return err
		}
		items, err := d.Shared(cmd.Context())
		if err != nil {
			return err
		}
		printFirstUse(a.stderr, items)
		if asJSON {
			out := make([]map[string]any, 0, len(items))
			for _, it := range items {
				m := map[string]any{"id": it.ID, "owner": it.Owner, "name": it.Name, "role": it.Role.String(), "state": it.State, "type": "folder"}
				if it.Kind == api.KindFile {
					m["type"] = "file"
				}
				if it.Path != "" {
					m["path"] = it.Path
				}
				out = append(out, m)
			}
			return printJSON(a.stdout, out)
		}
		tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tOWNER\tNAME\tROLE\tSTATE")
		for _, it := range items {
			name := it.Name
			if it.Kind == api.KindFolder && name != "" {
				name += "/"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", it.ID, it.Owner, name, it.Role, it.State)
		}
		return tw.Flush()
	}
	cmd := &cobra.Command{
		Use:   "shared [ls | accept ID | decline ID]",
		Short: "What others share with you; accepted shares appear under /shared/OWNER/NAME",
		Args:  args(0, 0),
		RunE:  list,
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "machine-readable output")
	ls := &cobra.Command{Use: "ls", Short: "List what is shared with you", Args: args(0, 0), RunE: list}
	ls.Flags().BoolVar(&asJSON, "json", false, "machine-readable output")
	accept := &cobra.Command{
		Use:   "accept ID",
		Short: "Accept a share: it appears under /shared/OWNER/NAME",
		Args:  args(1, 1),
		RunE: func(cmd *cobra.Command, argv []string) error {
			d, err := a.drive(cmd)
			if err != nil {
				return err
			}
			it, err := d.Accept(cmd.Context(), argv[0])
			if err != nil {
				return err
			}
			printFirstUse(a.stderr, []*client.SharedInfo{it})
			fmt.Fprintf(a.stdout, "Accepted: %s (%s).\n", it.Path, it.Role)
			return nil
		},
	}
	decline := &cobra.Command{
		Use:   "decline ID",
		Short: "Decline a share, or leave one you accepted",
		Args:  args(1, 1),
		RunE: func(cmd *cobra.Command, argv []string) error {
			d, err := a.drive(cmd)
			if err != nil {
				return err
			}
			if err := d.Decline(cmd.Context(), argv[0]); err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, "Declined.")
			return nil
		},
	}
	cmd.AddCommand(ls, accept, decline)
	return cmd
}

// printFirstUse tells the user which owners' keys were pinned on first use.
func printFirstUse(w io.Writer, items []*client.SharedInfo) {
	done := map[string]bool{}
	for _, it := range items {
		if it.FirstUse == "" || done[it.FirstUse] {
			continue
		}
		done[it.FirstUse] = true
		fmt.Fprintf(w, "Pinned the key of %s on first use, fingerprint:\n  %s\nCompare it with %s (coffer fingerprint) over a channel you trust.\n", it.FirstUse, it.FirstUseFingerprint, it.FirstUse)
	}
}
