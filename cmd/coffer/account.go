package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/client"
	"github.com/coffer-drive/coffer/internal/crypto"
)

// serverUser resolves --server and --user from flags, environment or prompts.
func (a *app) serverUser(server, user string) (string, string, error) {
	server, err := a.value(server, "COFFER_SERVER", "Server URL")
	if err != nil {
		return "", "", err
	}
	user, err = a.value(user, "COFFER_USER", "User")
	if err != nil {
		return "", "", err
	}
	a.warnInsecure(server)
	return server, user, nil
}

// warnInsecure warns when session tokens would cross a network in the
// clear. The protocol keeps passwords and keys safe without TLS, but a
// token seen on the wire is a session stolen.
func (a *app) warnInsecure(server string) {
	u, err := url.Parse(server)
	if err != nil || u.Scheme != "http" {
		return
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); (err == nil && ip.IsLoopback()) || host == "localhost" {
		return
	}
	fmt.Fprintf(a.stderr, "coffer: warning: %s is not HTTPS; anyone on the network can take over your session. Use https:// for a server on another machine.\n", server)
}

func addServerUserFlags(cmd *cobra.Command, server, user *string) {
	cmd.Flags().StringVar(server, "server", "", "server URL (or COFFER_SERVER)")
	cmd.Flags().StringVar(user, "user", "", "account name (or COFFER_USER)")
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (a *app) signupCmd() *cobra.Command {
	var server, user, device string
	cmd := &cobra.Command{
		Use:   "signup",
		Short: "Create an account, print its recovery key once, and log in",
		Args:  args(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			server, user, err := a.serverUser(server, user)
			if err != nil {
				return err
			}
			pw, err := a.newSecret("COFFER_PASSWORD", "Password")
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			if device != "" {
				c.DeviceName = device
			}
			rk, err := c.Signup(cmd.Context(), server, user, pw)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, `Account %s created.

Recovery key (shown only this once):

    %s

Write it down and keep it somewhere safe, apart from your password. It is the
only way back in if you forget your password: 'coffer recover' uses it. If you
lose both the password and this key, your files are lost for good; nobody,
not even the server's operator, can open them.

`, user, rk.String())
			if _, err := c.Login(cmd.Context(), server, user, pw); err != nil {
				return fmt.Errorf("account created, but logging in failed: %w", err)
			}
			fmt.Fprintf(a.stdout, "Logged in as %s on %s.\n", user, server)
			return nil
		},
	}
	addServerUserFlags(cmd, &server, &user)
	cmd.Flags().StringVar(&device, "device", "", "name of this device in `coffer sessions` (default: host name)")
	return cmd
}

func (a *app) loginCmd() *cobra.Command {
	var server, user, device string
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in (SRP: the password never leaves this machine)",
		Args:  args(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			server, user, err := a.serverUser(server, user)
			if err != nil {
				return err
			}
			pw, err := a.secret("COFFER_PASSWORD", "Password")
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			if device != "" {
				c.DeviceName = device
			}
			sess, err := c.Login(cmd.Context(), server, user, pw)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Logged in as %s on %s.\n", sess.User, sess.Server)
			return nil
		},
	}
	addServerUserFlags(cmd, &server, &user)
	cmd.Flags().StringVar(&device, "device", "", "name of this device in `coffer sessions` (default: host name)")
	return cmd
}

func (a *app) logoutCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "End this device's session on the server and forget it here",
		Args:  args(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.Logout(cmd.Context()); err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, "Logged out.")
			return nil
		},
	}
}

func (a *app) whoamiCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Show the logged-in account",
		Args:  args(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			acc, err := c.Open(cmd.Context())
			if err != nil {
				return err
			}
			s := acc.Session
			if asJSON {
				return printJSON(a.stdout, map[string]any{
					"user": s.User, "server": s.Server, "session_id": s.SessionID,
					"fingerprint": acc.Bundle.Fingerprint(),
				})
			}
			fmt.Fprintf(a.stdout, "%s on %s (session %s)\nfingerprint: %s\n", s.User, s.Server, s.SessionID, acc.Bundle.Fingerprint())
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "machine-readable output")
	return cmd
}

func (a *app) passwdCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "passwd",
		Short: "Change the password; every other session is logged out",
		Long: `Change the password. The keys are re-sealed under the new password; no
file is re-encrypted. The server checks a fresh proof of the current password
and logs out every other session of the account.

Without a terminal, COFFER_PASSWORD gives the current password and
COFFER_NEW_PASSWORD the new one.`,
		Args: args(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			old, err := a.secret("COFFER_PASSWORD", "Current password")
			if err != nil {
				return err
			}
			pw, err := a.newSecret("COFFER_NEW_PASSWORD", "New password")
			if err != nil {
				return err
			}
			if err := c.ChangePassword(cmd.Context(), old, pw); err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, "Password changed. Every other session was logged out.")
			return nil
		},
	}
}

func (a *app) recoverCmd() *cobra.Command {
	var server, user, device string
	cmd := &cobra.Command{
		Use:   "recover",
		Short: "Set a new password with the recovery key, and log in",
		Long: `Set a new password with the recovery key shown at signup, then log in.
Every session of the account is logged out. The recovery key never leaves
this machine: the server checks a signature made with a key derived from it.

Without a terminal, COFFER_RECOVERY_KEY gives the recovery key and
COFFER_NEW_PASSWORD the new password.`,
		Args: args(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			server, user, err := a.serverUser(server, user)
			if err != nil {
				return err
			}
			rks, err := a.secret("COFFER_RECOVERY_KEY", "Recovery key")
			if err != nil {
				return err
			}
			rk, err := crypto.ParseRecoveryKey(string(rks))
			if err != nil {
				return err
			}
			pw, err := a.newSecret("COFFER_NEW_PASSWORD", "New password")
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			if device != "" {
				c.DeviceName = device
			}
			sess, err := c.Recover(cmd.Context(), server, user, rk, pw)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "New password set. Logged in as %s on %s.\n", sess.User, sess.Server)
			return nil
		},
	}
	addServerUserFlags(cmd, &server, &user)
	cmd.Flags().StringVar(&device, "device", "", "name of this device in `coffer sessions` (default: host name)")
	return cmd
}

func (a *app) sessionsCmd() *cobra.Command {
	var asJSON bool
	list := func(cmd *cobra.Command, _ []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		ss, err := c.Sessions(cmd.Context())
		if err != nil {
			return err
		}
		if asJSON {
			if ss == nil {
				ss = []api.Session{}
			}
			return printJSON(a.stdout, ss)
		}
		tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tDEVICE\tCREATED\tLAST SEEN\t")
		for _, s := range ss {
			id := s.ID
			if s.Current {
				id += " (this one)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", client.Printable(id), client.Printable(s.DeviceName), s.CreatedAt.Local().Format(time.DateTime), s.LastSeenAt.Local().Format(time.DateTime))
		}
		return tw.Flush()
	}
	cmd := &cobra.Command{
		Use:   "sessions [ls | revoke ID]",
		Short: "List the account's sessions, or revoke one",
		Args:  args(0, 0),
		RunE:  list,
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "machine-readable output")
	ls := &cobra.Command{Use: "ls", Short: "List the account's sessions", Args: args(0, 0), RunE: list}
	ls.Flags().BoolVar(&asJSON, "json", false, "machine-readable output")
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Log a session out at once",
		Args:  args(1, 1),
		RunE: func(cmd *cobra.Command, argv []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.RevokeSession(cmd.Context(), argv[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Session %s revoked.\n", argv[0])
			return nil
		},
	}
	cmd.AddCommand(ls, revoke)
	return cmd
}

func (a *app) fingerprintCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "fingerprint [USER]",
		Short: "Show the fingerprint of your key, or of USER's",
		Long: `Show the fingerprint of your public key bundle, or of USER's. Compare it
with USER over another channel (in person, by phone); if it matches, run
'coffer verify USER FINGERPRINT' to pin it. A pinned key that changes is a
loud error from then on.`,
		Args: args(0, 1),
		RunE: func(cmd *cobra.Command, argv []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			user := ""
			if len(argv) == 1 {
				user = argv[0]
			}
			pk, err := c.Fingerprint(cmd.Context(), user)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(a.stdout, map[string]any{"user": pk.User, "fingerprint": pk.Fingerprint, "verified": pk.Pinned})
			}
			fmt.Fprintf(a.stdout, "%s: %s\n", pk.User, pk.Fingerprint)
			if !pk.Pinned {
				fmt.Fprintf(a.stdout, "Not verified. Compare it with %s out of band, then run: coffer verify %s '%s'\n", pk.User, pk.User, pk.Fingerprint)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "machine-readable output")
	return cmd
}

func (a *app) verifyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "verify USER FINGERPRINT",
		Short: "Pin USER's key after comparing its fingerprint out of band",
		Args:  args(2, 2),
		RunE: func(cmd *cobra.Command, argv []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			pk, err := c.Verify(cmd.Context(), argv[0], argv[1])
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Verified and pinned the key of %s (%s).\n", pk.User, pk.Fingerprint)
			return nil
		},
	}
}
