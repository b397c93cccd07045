package main

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffer-drive/coffer/internal/server"
)

func (a *app) serveCmd() *cobra.Command {
	var (
		cfg         server.Config
		logFormat   string
		logLevel    string
		sessionIdle time.Duration
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Coffer server",
		Long: `Run the Coffer server. With no flags it keeps its metadata in SQLite and
its blocks in files, all under --data, and listens on 127.0.0.1:8080.

Give --tls-cert and --tls-key to serve HTTPS; put Coffer behind TLS whenever
it is reachable from other machines. SIGINT or SIGTERM shuts it down
gracefully. GET /healthz answers 200 when it is ready.`,
		Args: args(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(logLevel)); err != nil {
				return usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", logLevel)}
			}
			hopts := &slog.HandlerOptions{Level: lvl}
			var h slog.Handler
			switch strings.ToLower(logFormat) {
			case "text":
				h = slog.NewTextHandler(a.stderr, hopts)
			case "json":
				h = slog.NewJSONHandler(a.stderr, hopts)
			default:
				return usageError{fmt.Errorf("--log-format %q: want text or json", logFormat)}
			}
			cfg.Options.SessionIdle = sessionIdle
			cfg.Out = a.stdout
			return server.Run(cmd.Context(), cfg, slog.New(h))
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data", "./coffer-data", "folder for the metadata database and blocks")
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:8080", "address to listen on")
	f.StringVar(&cfg.TLSCert, "tls-cert", "", "TLS certificate file (PEM)")
	f.StringVar(&cfg.TLSKey, "tls-key", "", "TLS private key file (PEM)")
	f.BoolVar(&cfg.Options.TrustProxy, "trust-proxy", false, "take client addresses from X-Forwarded-For (only behind a reverse proxy)")
	f.DurationVar(&sessionIdle, "session-idle", 30*24*time.Hour, "log a session out after this long without activity")
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return cmd
}
