package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/coffer-drive/coffer/internal/client"
	"github.com/coffer-drive/coffer/internal/foldersync"
)

func (a *app) syncCmd() *cobra.Command {
	var (
		once, status, reset, quiet, verbose, asJSON bool
		device                                      string
		rescan                                      time.Duration
	)
	cmd := &cobra.Command{
		Use:   "sync LOCAL_DIR REMOTE_DIR",
		Short: "Keep a local folder and a drive folder in step, both ways",
		Long: `Two-way sync of LOCAL_DIR with the drive folder REMOTE_DIR (created if
missing). It watches both sides until interrupted; with --once it does one
pass and exits (0 when everything is in step, 1 when something is left).

What it syncs: new files and folders, edits, renames and moves (as moves),
deletions (to the server's trash; a file deleted on another device goes to
LOCAL_DIR/.coffer-trash), empty folders and modification times.

Conflicts lose nothing: a file changed on both sides keeps the server's
version under its name, and the local one as
"name (conflict from DEVICE YYYY-MM-DD HHMM).ext", which is uploaded too.
A file edited on one side and deleted on the other keeps the edit.

Ignore rules: .cofferignore files, in gitignore syntax, in any folder.
Editors' swap, lock and partial files are ignored by default. Symbolic
links are not followed.

State (the last synced version of each path, and the server cursor) lives
in the config folder, so a sync killed at any moment resumes where it was.

  coffer sync --status [LOCAL_DIR REMOTE_DIR]   show last sync, pending changes, last error
  coffer sync --reset LOCAL_DIR REMOTE_DIR      forget the state: the next sync compares contents`,
		Args: func(cmd *cobra.Command, argv []string) error {
			if status && len(argv) == 0 {
				return nil
			}
			return args(2, 2)(cmd, argv)
		},
		RunE: func(cmd *cobra.Command, argv []string) error {
			ctx := cmd.Context()
			cfg, err := client.OpenConfig(a.getenv("COFFER_CONFIG_DIR"))
			if err != nil {
				return err
			}
			stateDir := filepath.Join(cfg.Dir(), "sync")
			if status {
				return a.syncStatus(cmd, stateDir, argv, asJSON)
			}
			sess, err := cfg.Session()
			if err != nil {
				return err
			}
			opt := foldersync.Options{
				Local: argv[0], Remote: argv[1], StateDir: stateDir,
				Server: sess.Server, User: sess.User, Device: device,
				Warn: func(msg string) { fmt.Fprintf(a.stderr, "coffer: warning: %s\n", client.Printable(msg)) },
			}
			if opt.Device == "" {
				opt.Device, _ = os.Hostname()
			}
			if reset {
				if err := foldersync.Reset(opt); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "Forgot the sync state of %s and %s; the next sync compares contents and deletes nothing.\n", argv[0], argv[1])
				return nil
			}
			if verbose {
				opt.Log = func(msg string) { fmt.Fprintln(a.stdout, client.Printable(msg)) }
			}
			tty := false
			if f, ok := a.stderr.(*os.File); ok && !quiet {
				tty = term.IsTerminal(int(f.Fd()))
			}
			if tty {
				last := time.Time{}
				opt.Progress = func(up, down int64) {
					if now := time.Now(); now.Sub(last) > 200*time.Millisecond {
						last = now
						fmt.Fprintf(a.stderr, "\rsync: %s up, %s down   ", client.HumanBytes(up), client.HumanBytes(down))
					}
				}
			}
			d, err := a.drive(cmd)
			if err != nil {
				return err
			}
			s, err := foldersync.Open(ctx, d, opt)
			if err != nil {
				return err
			}
			defer s.Close()
			report := func(rep foldersync.Report, err error) {
				if tty {
					fmt.Fprint(a.stderr, "\r\033[K")
				}
				if err != nil {
					fmt.Fprintf(a.stderr, "coffer: sync: %v\n", err)
					return
				}
				if !quiet && (rep != foldersync.Report{}) {
					fmt.Fprintf(a.stdout, "%s synced: %s\n", time.Now().Format("15:04:05"), rep)
				}
			}
			if once {
				rep, err := s.Once(ctx)
				report(rep, nil)
				if err != nil {
					return err
				}
				if rep.Pending > 0 {
					return fmt.Errorf("%d change(s) left for the next sync", rep.Pending)
				}
				return nil
			}
			if !quiet {
				fmt.Fprintf(a.stdout, "Syncing %s with %s; press Ctrl-C to stop.\n", argv[0], argv[1])
			}
			return s.Run(ctx, foldersync.RunOptions{Rescan: rescan, Passed: report})
		},
	}
	f := cmd.Flags()
	f.BoolVar(&once, "once", false, "do one pass and exit")
	f.BoolVar(&status, "status", false, "show the state of syncs instead of syncing")
	f.BoolVar(&reset, "reset", false, "forget the pair's sync state (the next sync compares contents)")
	f.StringVar(&device, "device", "", "this device's name in conflict copies (default: the host name)")
	f.DurationVar(&rescan, "rescan", 5*time.Minute, "interval of full rescans while watching")
	f.BoolVarP(&quiet, "quiet", "q", false, "print only errors and warnings")
	f.BoolVarP(&verbose, "verbose", "v", false, "print every change made")
	f.BoolVar(&asJSON, "json", false, "with --status: machine-readable output")
	return cmd
}

func (a *app) syncStatus(cmd *cobra.Command, stateDir string, argv []string, asJSON bool) error {
	all, err := foldersync.Statuses(cmd.Context(), stateDir)
	if err != nil {
		return err
	}
	if len(argv) == 2 {
		abs, err := filepath.Abs(argv[0])
		if err != nil {
			return err
		}
		var one []foldersync.Status
		for _, s := range all {
			if s.Local == abs && s.Remote == argv[1] {
				one = append(one, s)
			}
		}
		if len(one) == 0 {
			return fmt.Errorf("%s and %s have never been synced", argv[0], argv[1])
		}
		all = one
	}
	if asJSON {
		if all == nil {
			all = []foldersync.Status{}
		}
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(all)
	}
	if len(all) == 0 {
		fmt.Fprintln(a.stdout, "No folder has been synced yet.")
		return nil
	}
	for i, s := range all {
		if i > 0 {
			fmt.Fprintln(a.stdout)
		}
		fmt.Fprintf(a.stdout, "%s <-> %s (%s on %s)\n", s.Local, s.Remote, client.Printable(s.User), client.Printable(s.Server))
		state := "not running"
		if s.Running != 0 {
			state = fmt.Sprintf("running (pid %d)", s.Running)
		}
		fmt.Fprintf(a.stdout, "  state:         %s\n", state)
		last := "never"
		if !s.LastSync.IsZero() {
			last = s.LastSync.Local().Format("2006-01-02 15:04:05")
		}
		fmt.Fprintf(a.stdout, "  last sync:     %s\n", last)
		fmt.Fprintf(a.stdout, "  synced:        %d entries\n", s.Synced)
		fmt.Fprintf(a.stdout, "  pending:       %d left by the last pass, %d local change(s) not yet synced\n", s.Pending, s.LocalChanges)
		if s.LastError != "" {
			fmt.Fprintf(a.stdout, "  last error:    %s\n", client.Printable(strings.TrimSpace(s.LastError)))
		}
	}
	return nil
}
