// Command coffer is Coffer's one binary: the server (`coffer serve`) and
// every client command. This package holds flags, prompts and output only;
// the logic lives in internal/server and internal/client.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// usageError marks a command-line mistake, which exits with status 2.
type usageError struct{ error }

// app carries what every command needs, instead of package globals.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// isTerminal reports whether stdin is a terminal we may prompt on.
	isTerminal func() bool
	// readPassword reads a line without echo from the terminal.
	readPassword func() ([]byte, error)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, newApp(), os.Args[1:])
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit status.
func run(ctx context.Context, a *app, args []string) int {
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(a.stderr, "coffer: %v\nRun 'coffer help' for usage.\n", err)
		return 2
	}
	fmt.Fprintf(a.stderr, "coffer: %v\n", err)
	return 1
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "coffer",
		Short: "Coffer: an end-to-end encrypted cloud drive",
		Long: `Coffer is an end-to-end encrypted cloud drive. The server stores only
ciphertext and never learns your password, your keys, your file names or
their contents.

This one binary runs the server (coffer serve) and every client command.

Environment variables replace prompts: COFFER_SERVER, COFFER_USER,
COFFER_PASSWORD, COFFER_NEW_PASSWORD, COFFER_RECOVERY_KEY,
COFFER_LINK_PASSWORD (the password of a protected link), and
COFFER_CONFIG_DIR (where the session is kept).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		a.serveCmd(),
		a.signupCmd(),
		a.loginCmd(),
		a.logoutCmd(),
		a.whoamiCmd(),
		a.passwdCmd(),
		a.recoverCmd(),
		a.sessionsCmd(),
		a.fingerprintCmd(),
		a.verifyCmd(),
		a.lsCmd(),
		a.mkdirCmd(),
		a.putCmd(),
		a.getCmd(),
		a.catCmd(),
		a.mvCmd(),
		a.rmCmd(),
		a.trashCmd(),
		a.versionsCmd(),
		a.restoreVersionCmd(),
		a.shareCmd(),
		a.sharedCmd(),
		a.linkCmd(),
		a.syncCmd(),
		a.adminCmd(),
	)
	return root
}

// args checks the number of positional arguments, as a usage error.
func args(min, max int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if len(a) < min || (max >= 0 && len(a) > max) {
			switch {
			case min == max:
				return usageError{fmt.Errorf("%s takes %d argument(s), got %d", cmd.CommandPath(), min, len(a))}
			case max < 0:
				return usageError{fmt.Errorf("%s takes at least %d argument(s), got %d", cmd.CommandPath(), min, len(a))}
			default:
				return usageError{fmt.Errorf("%s takes %d to %d arguments, got %d", cmd.CommandPath(), min, max, len(a))}
			}
		}
		return nil
	}
}
