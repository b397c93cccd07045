package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffer-drive/coffer/internal/bytesize"
	"github.com/coffer-drive/coffer/internal/client"
)

func (a *app) linkCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "link (create PATH | ls | rm ID)",
		Short: "Share items with anyone through an end-to-end encrypted link",
		Long: `A link gives anyone who has it one file or folder, with no account: the
key is in the part of the URL after '#', which never reaches the server.
--password adds a second secret to send separately. --upload-only makes a
file request: people can drop files into the folder without seeing what is
in it.`,
		Args: args(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError{fmt.Errorf("%s needs a subcommand: create, ls or rm", cmd.CommandPath())}
		},
	}
	cmd.AddCommand(a.linkCreateCmd(), a.linkLsCmd(), a.linkRmCmd())
	return cmd
}

func (a *app) linkCreateCmd() *cobra.Command {
	var (
		password, upload bool
		expires, maxSize string
		maxDownloads     int64
		maxFiles         int64
	)
	cmd := &cobra.Command{
		Use:   "create PATH [--password] [--expires DURATION] [--max-downloads N] [--upload-only [--max-files N] [--max-size SIZE]]",
		Short: "Make a link to a file or folder and print its URL",
		Args:  args(1, 1),
		RunE: func(cmd *cobra.Command, argv []string) error {
			opt := client.LinkOptions{Upload: upload, MaxDownloads: maxDownloads, MaxFiles: maxFiles}
			if maxDownloads < 0 || maxFiles < 0 {
				return usageError{errors.New("--max-downloads and --max-files cannot be negative")}
			}
			if expires != "" {
				d, err := parseDuration(expires)
				if err != nil {
					return usageError{fmt.Errorf("--expires: %w", err)}
				}
				opt.Expires = d
			}
			if maxSize != "" {
				n, err := bytesize.Parse(maxSize)
				if err != nil {
					return usageError{fmt.Errorf("--max-size: %w", err)}
				}
				opt.MaxBytes = n
			}
			if password {
				pw, err := a.newSecret("COFFER_LINK_PASSWORD", "Link password")
				if err != nil {
					return err
				}
				opt.Password = string(pw)
			}
			d, err := a.drive(cmd)
			if err != nil {
				return err
			}
			info, err := d.CreateLink(cmd.Context(), argv[0], opt)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, info.URL)
			if opt.Password != "" {
				fmt.Fprintln(a.stderr, "The link needs its password: send it separately.")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&password, "password", false, "protect the link with a password too (asked for, or COFFER_LINK_PASSWORD)")
	f.StringVar(&expires, "expires", "", "end the link after this long (e.g. 7d, 12h, 30m)")
	f.Int64Var(&maxDownloads, "max-downloads", 0, "end the link after it was opened this many times")
	f.BoolVar(&upload, "upload-only", false, "a file request: others can add files to the folder, not see it")
	f.Int64Var(&maxFiles, "max-files", 0, "with --upload-only: at most this many files")
	f.StringVar(&maxSize, "max-size", "", "with --upload-only: at most this many bytes in all (e.g. 500M, 2G)")
	return cmd
}

func (a *app) linkLsCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List your links: ID, path, expiry, use and whether a password is set",
		Args:  args(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := a.drive(cmd)
			if err != nil {
				return err
			}
			links, err := d.Links(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return printLinksJSON(a.stdout, links)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tPATH\tKIND\tEXPIRES\tUSED\tPASSWORD\tSTATE\tURL")
			for _, l := range links {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.ID, client.Printable(orDash(l.Path)), kindName(l), expiry(l.Expires), used(l), yesNo(l.Password), l.State, orDash(l.URL))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			for _, l := range links {
				if l.Problem != "" {
					fmt.Fprintf(a.stderr, "coffer: warning: %s\n", l.Problem)
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printLinksJSON(w io.Writer, links []*client.LinkInfo) error {
	out := make([]map[string]any, 0, len(links))
	for _, l := range links {
		m := map[string]any{
			"id": l.ID, "path": l.Path, "kind": kindName(l), "password": l.Password, "state": l.State,
			"created": l.Created, "url": l.URL,
		}
		if l.Expires != nil {
			m["expires"] = *l.Expires
		}
		if l.Upload {
			m["files"], m["max_files"], m["bytes"], m["max_bytes"] = l.Files, l.MaxFiles, l.Bytes, l.MaxBytes
		} else {
			m["downloads"], m["max_downloads"] = l.Downloads, l.MaxDownloads
		}
		if l.Problem != "" {
			m["problem"] = l.Problem
		}
		out = append(out, m)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func (a *app) linkRmCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rm ID",
		Short: "Turn a link off (it answers 'revoked' from then on)",
		Args:  args(1, 1),
		RunE: func(cmd *cobra.Command, argv []string) error {
			d, err := a.drive(cmd)
			if err != nil {
				return err
			}
			if err := d.RemoveLink(cmd.Context(), argv[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Link %s is off.\n", argv[0])
			return nil
		},
	}
}

func kindName(l *client.LinkInfo) string {
	if l.Upload {
		return "upload"
	}
	return "read"
}

func expiry(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.Local().Format("2006-01-02 15:04")
}

func used(l *client.LinkInfo) string {
	if l.Upload {
		s := strconv.FormatInt(l.Files, 10) + " files"
		if l.MaxFiles > 0 {
			s = fmt.Sprintf("%d/%d files", l.Files, l.MaxFiles)
		}
		return s
	}
	if l.MaxDownloads > 0 {
		return fmt.Sprintf("%d/%d", l.Downloads, l.MaxDownloads)
	}
	return strconv.FormatInt(l.Downloads, 10)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// parseDuration reads a duration in Go's form (90m, 1h30m) or in days
// (7d).
func parseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.ParseInt(n, 10, 64)
		if err != nil || days <= 0 || days > 100*365 {
			return 0, fmt.Errorf("%q is not a number of days (like 7d)", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a duration (like 7d, 12h or 30m)", s)
	}
	return d, nil
}

// isLinkURL reports whether a command argument is a link rather than a
// path in the drive.
func isLinkURL(s string) bool {
	return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")
}

// openLink opens a link with no account, asking for its password only if
// it has one.
func (a *app) openLink(cmd *cobra.Command, url string) (*client.LinkSession, error) {
	c := client.New(nil, nil)
	return c.OpenLink(cmd.Context(), url, func() (string, error) {
		pw, err := a.secret("COFFER_LINK_PASSWORD", "Link password")
		return string(pw), err
	})
}

// getLink downloads what a link gives: `coffer get URL [LOCAL]`.
func (a *app) getLink(cmd *cobra.Command, url, local string, quiet bool) error {
	s, err := a.openLink(cmd, url)
	if err != nil {
		return err
	}
	var total int64
	if r := s.Root(); r != nil && !r.IsDir() {
		total = int64(r.Attrs.Size)
	}
	report, done := a.progress(quiet, "download", total)
	defer done()
	err = s.Get(cmd.Context(), local, client.GetOptions{Progress: report})
	for _, w := range s.Warnings() {
		fmt.Fprintf(a.stderr, "coffer: warning: %s\n", w)
	}
	return err
}

// putLink uploads into a file request: `coffer put LOCAL... URL`.
func (a *app) putLink(cmd *cobra.Command, locals []string, url string, quiet bool) error {
	s, err := a.openLink(cmd, url)
	if err != nil {
		return err
	}
	report, done := a.progress(quiet, "upload", localSize(locals))
	defer done()
	if err := s.Put(cmd.Context(), locals, client.PutOptions{Progress: report}); err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "Uploaded %d file(s) to %q of %s.\n", len(locals), client.Printable(s.Name), s.Owner)
	return nil
}
