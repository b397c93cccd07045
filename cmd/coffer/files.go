package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/coffer-drive/coffer/internal/client"
)

func (a *app) drive(cmd *cobra.Command) (*client.Drive, error) {
	c, err := a.client()
	if err != nil {
		return nil, err
	}
	return c.Drive(cmd.Context())
}

// progress returns a callback that drives a progress bar on a terminal for
// transfers that last over a second, and a function that ends the bar.
func (a *app) progress(quiet bool, what string, total int64) (func(int64), func()) {
	f, ok := a.stderr.(*os.File)
	if quiet || !ok || !term.IsTerminal(int(f.Fd())) || total <= 0 {
		return nil, func() {}
	}
	delay := make(chan any)
	timer := time.AfterFunc(time.Second, func() { close(delay) })
	p := mpb.New(mpb.WithOutput(a.stderr), mpb.WithWidth(40), mpb.WithRenderDelay(delay))
	bar := p.AddBar(total,
		mpb.PrependDecorators(decor.Name(what+" ")),
		mpb.AppendDecorators(
			decor.CountersKibiByte("% .1f / % .1f "),
			decor.AverageSpeed(decor.SizeB1024(0), "% .1f "),
			decor.EwmaETA(decor.ET_STYLE_GO, 30),
		),
	)
	last := time.Now()
	// Callers report from one goroutine at a time; the bar wants the time
	// each step took.
	return func(n int64) {
			now := time.Now()
			bar.EwmaSetCurrent(n, now.Sub(last))
			last = now
		}, func() {
			if !timer.Stop() {
				bar.SetTotal(-1, true)
				p.Wait()
				return
			}
			bar.Abort(true)
			p.Shutdown()
		}
}

func (a *app) lsCmd() *cobra.Command {
	var long, asJSON bool
	cmd := &cobra.Command{
		Use:   "ls [-l] [--json] [PATH]",
		Short: "List a folder (names decrypted and signatures checked here)",
		Args:  args(0, 1),
		RunE: func(cmd *cobra.Command, argv []string) error {
			p := "/"
			if len(argv) == 1 {
				p = argv[0]
			}
			d, err := a.drive(cmd)
			if err != nil {
				return err
			}
			e, err := d.Resolve(cmd.Context(), p)
			if err != nil {
				return err
			}
			list := []*client.Entry{e}
			if e.IsDir() {
				lister := d.List
				if !long && !asJSON {
					lister = d.ListNames // names only: contents are not looked at
				}
				if list, err = lister(cmd.Context(), e); err != nil {
					return err
				}
				for _, w := range d.Warnings() {
					fmt.Fprintf(a.stderr, "warning: %s\n", w)
				}
			}
			sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
			if asJSON {
				out := make([]map[string]any, 0, len(list))
				for _, e := range list {
					m := map[string]any{"name": e.Name, "path": e.Path(), "type": "folder", "author": client.AnonymousAuthor(e.Writer())}
					if !e.IsDir() {
						m["type"] = "file"
						m["size"] = e.Attrs.Size
						m["mtime"] = time.Unix(0, e.Attrs.ModTime).UTC().Format(time.RFC3339Nano)
						m["sha256"] = fmt.Sprintf("%x", e.Attrs.SHA256)
						m["version"] = e.Record.RevisionSeq
					}
					out = append(out, m)
				}
				return printJSON(a.stdout, out)
			}
			if !long {
				for _, e := range list {
					name := client.Printable(e.Name)
					if e.IsDir() {
						name += "/"
					}
					fmt.Fprintln(a.stdout, name)
				}
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			for _, e := range list {
				if e.IsDir() {
					fmt.Fprintf(tw, "d\t-\t-\t%s\t%s/\n", client.AnonymousAuthor(e.Writer()), client.Printable(e.Name))
					continue
				}
				fmt.Fprintf(tw, "-\t%d\t%s\t%s\t%s\n", e.Attrs.Size, time.Unix(0, e.Attrs.ModTime).Local().Format("2006-01-02 15:04"), client.AnonymousAuthor(e.Writer()), client.Printable(e.Name))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVarP(&long, "long", "l", false, "show type, size, modification time and author")
	cmd.Flags().BoolVar(&asJSON, "json", false, "machine-readable output")
	return cmd
}

func (a *app) mkdirCmd() *cobra.Command {
	var parents bool
	cmd := &cobra.Command{
		Use:   "mkdir [-p] PATH",
		Short: "Create a folder",
		Args:  args(1, 1),
		RunE: func(cmd *cobra.Command, argv []string) error {
			d, err := a.drive(cmd)
			if err != nil {
				return err
			}
			_, err = d.Mkdir(cmd.Context(), argv[0], parents)
			return err
		},
	}
	cmd.Flags().BoolVarP(&parents, "parents", "p", false, "create missing parent folders; an existing folder is fine")
	return cmd
}

// localSize is the total size of regular files under the given paths.
func localSize(paths []string) int64 {
	var total int64
	for _, p := range paths {
		_ = filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if info, err := d.Info(); err == nil {
					total += info.Size()
				}
			}
			return nil
		})
	}
	return total
}

func (a *app) putCmd() *cobra.Command {
	var overwrite, quiet bool
	cmd := &cobra.Command{
		Use:   "put LOCAL... (REMOTE | URL)",
		Short: "Upload files or folders (recursively), or files into a file request",
		Long: `Upload files or folders. If REMOTE is an existing folder, the sources go
inside it; otherwise a single source is uploaded as REMOTE. Folders are
uploaded recursively with each file's modification time. An existing file is
an error unless --overwrite is given, which adds a new version.

With a link URL of a file request (coffer link create --upload-only) instead
of REMOTE, the files are uploaded into it with no account; the password, if
the link has one, comes from COFFER_LINK_PASSWORD or is asked for.`,
		Args: args(2, -1),
		RunE: func(cmd *cobra.Command, argv []string) error {
			locals, remote := argv[:len(argv)-1], argv[len(argv)-1]
			if isLinkURL(remote) {
				return a.putLink(cmd, locals, remote, quiet)
			}
			d, err := a.drive(cmd)
			if err != nil {
				return err
			}
			report, done := a.progress(quiet, "upload", localSize(locals))
			defer done()
			return d.Put(cmd.Context(), locals, remote, client.PutOptions{
				Overwrite: overwrite,
				Progress:  report,
				Warn:      func(msg string) { fmt.Fprintf(a.stderr, "coffer: warning: %s\n", msg) },
			})
		},
	}
	cmd.Flags().BoolVar(&overwrite, "overwrite", false, "add a new version to files that exist")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress bar")
	return cmd
}

func (a *app) getCmd() *cobra.Command {
	var quiet bool
	cmd := &cobra.Command{
		Use:   "get (REMOTE LOCAL | URL [LOCAL])",
		Short: "Download a file or folder, or what a link gives",
		Long: `Download a file or folder. If LOCAL is an existing folder, the download
goes inside it. Every block is authenticated; a file appears under its name
only once all of it checked out.

With a link URL (https://HOST/s/ID#SECRET) it downloads what the link gives
with no account, into the current folder unless LOCAL is given; the
password, if the link has one, comes from COFFER_LINK_PASSWORD or is asked
for.`,
		Args: args(1, 2),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if isLinkURL(argv[0]) {
				local := ""
				if len(argv) == 2 {
					local = argv[1]
				}
				return a.getLink(cmd, argv[0], local, quiet)
			}
			if len(argv) != 2 {
				return usageError{errors.New("get needs REMOTE and LOCAL (or a link URL)")}
			}
			d, err := a.drive(cmd)
			if err != nil {
				return err
			}
			var total int64
			if e, err := d.Resolve(cmd.Context(), argv[0]); err == nil && !e.IsDir() {
				total = int64(e.Attrs.Size)
			}
			report, done := a.progress(quiet, "download", total)
			defer done()
			return d.Get(cmd.Context(), argv[0], argv[1], client.GetOptions{Progress: report})
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress bar")
	return cmd
}

func (a *app) catCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "cat REMOTE",
		Short: "Write a file to standard output",
		Args:  args(1, 1),
		RunE: func(cmd *cobra.Command, argv []string) error {
			d, err := a.drive(cmd)
			if err != nil {
				return err
			}
			return d.Cat(cmd.Context(), argv[0], a.stdout)
		},
	}
}

func (a *app) mvCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "mv SRC DST",
		Short: "Rename or move a file or folder",
		Args:  args(2, 2),
		RunE: func(cmd *cobra.Command, argv []string) error {
			d, err := a.drive(cmd)
			if err != nil {
				return err
			}
			return d.Move(cmd.Context(), argv[0], argv[1])
		},
	}
}

func (a *app) rmCmd() *cobra.Command {
	var recursive bool
	cmd := &cobra.Command{
		Use:   "rm [-r] PATH",
		Short: "Move a file or folder to the trash",
		Args:  args(1, -1),
		RunE: func(cmd *cobra.Command, argv []string) error {
			d, err := a.drive(cmd)
			if err != nil {
				return err
			}
			for _, p := range argv {
				if err := d.Remove(cmd.Context(), p, recursive); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&recursive, "recursive", "r", false, "remove folders and what they hold")
	return cmd
}

func (a *app) trashCmd() *cobra.Command {
	var asJSON bool
	list := func(cmd *cobra.Command, _ []string) error {
		d, err := a.drive(cmd)
		if err != nil {
			return err
		}
		items, err := d.Trash(cmd.Context())
		if err != nil {
			return err
		}
		sort.Slice(items, func(i, j int) bool { return items[i].Path() < items[j].Path() })
		if asJSON {
			out := make([]map[string]any, 0, len(items))
			for _, e := range items {
				t := "file"
				if e.IsDir() {
					t = "folder"
				}
				out = append(out, map[string]any{"path": e.Path(), "type": t})
			}
			return printJSON(a.stdout, out)
		}
		for _, e := range items {
			p := e.Path()
			if e.IsDir() {
				p += "/"
			}
			fmt.Fprintln(a.stdout, p)
		}
		return nil
	}
	cmd := &cobra.Command{
		Use:   "trash [ls | restore PATH | empty]",
		Short: "List the trash, restore from it, or empty it",
		Args:  args(0, 0),
		RunE:  list,
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "machine-readable output")
	ls := &cobra.Command{Use: "ls", Short: "List the trash (by original path)", Args: args(0, 0), RunE: list}
	ls.Flags().BoolVar(&asJSON, "json", false, "machine-readable output")
	restore := &cobra.Command{
		Use:   "restore PATH",
		Short: "Put a trashed item back where it was",
		Args:  args(1, 1),
		RunE: func(cmd *cobra.Command, argv []string) error {
			d, err := a.drive(cmd)
			if err != nil {
				return err
			}
			return d.RestoreFromTrash(cmd.Context(), argv[0])
		},
	}
	empty := &cobra.Command{
		Use:   "empty",
		Short: "Delete everything in the trash for good",
		Args:  args(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := a.drive(cmd)
			if err != nil {
				return err
			}
			n, err := d.EmptyTrash(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Deleted %d item(s) for good.\n", n)
			return nil
		},
	}
	cmd.AddCommand(ls, restore, empty)
	return cmd
}

func (a *app) versionsCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "versions PATH",
		Short: "List a file's versions",
		Args:  args(1, 1),
		RunE: func(cmd *cobra.Command, argv []string) error {
			d, err := a.drive(cmd)
			if err != nil {
				return err
			}
			vs, err := d.Versions(cmd.Context(), argv[0])
			if err != nil {
				return err
			}
			if asJSON {
				out := make([]map[string]any, 0, len(vs))
				for _, v := range vs {
					out = append(out, map[string]any{
						"version": v.Seq, "size": v.Attrs.Size, "author": v.Author, "current": v.Head,
						"mtime":    time.Unix(0, v.Attrs.ModTime).UTC().Format(time.RFC3339Nano),
						"uploaded": v.Created.UTC().Format(time.RFC3339),
					})
				}
				return printJSON(a.stdout, out)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tSIZE\tMODIFIED\tUPLOADED\tAUTHOR\t")
			for _, v := range vs {
				cur := ""
				if v.Head {
					cur = " (current)"
				}
				fmt.Fprintf(tw, "%d%s\t%d\t%s\t%s\t%s\t\n", v.Seq, cur, v.Attrs.Size,
					time.Unix(0, v.Attrs.ModTime).Local().Format("2006-01-02 15:04"), v.Created.Local().Format("2006-01-02 15:04"), v.Author)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "machine-readable output")
	return cmd
}

func (a *app) restoreVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "restore-version PATH VERSION",
		Short: "Make an earlier version of a file the current one",
		Args:  args(2, 2),
		RunE: func(cmd *cobra.Command, argv []string) error {
			seq, err := strconv.ParseUint(argv[1], 10, 64)
			if err != nil || seq == 0 {
				return usageError{errors.New("VERSION must be a version number from `coffer versions`")}
			}
			d, err := a.drive(cmd)
			if err != nil {
				return err
			}
			return d.RestoreVersion(cmd.Context(), argv[0], seq)
		},
	}
}
