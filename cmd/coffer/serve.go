package main

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffer-drive/coffer/internal/bytesize"
	"github.com/coffer-drive/coffer/internal/server"
)

func (a *app) serveCmd() *cobra.Command {
	var (
		cfg         server.Config
		sf          storageFlags
		scrubRate   string
		logFormat   string
		logLevel    string
		sessionIdle time.Duration
		sessionMax  time.Duration
		proxies     []string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Coffer server",
		Long: `Run the Coffer server. With no flags it keeps its metadata in SQLite and
its blocks in files, all under --data, and listens on 127.0.0.1:8080.

Give --tls-cert and --tls-key to serve HTTPS; put Coffer behind TLS whenever
it is reachable from other machines. SIGINT or SIGTERM shuts it down
gracefully.

Every flag may also come from the environment, as COFFER_ and the flag's
name in capitals with dashes as underscores (COFFER_DB, COFFER_LISTEN,
COFFER_TLS_CERT; repeatable flags such as COFFER_STORE take values
separated by commas), or from the YAML file given with --config, whose keys
are the flag names:

    listen: 0.0.0.0:8443
    db: postgres://coffer@db.internal/coffer
    store: [s3://blocks-a?endpoint=https://a.example, s3://blocks-b?endpoint=https://b.example]
    session-idle: 720h

The command line wins over the environment, which wins over the file.

The server listens only once it has started, so GET /healthz (liveness)
answers 200 as soon as it is up, whether or not its dependencies are.
GET /readyz (readiness) answers 200 while the metadata database answers
and a write quorum of block locations is reachable, else 503 saying which
is not. With --metrics-listen, Prometheus metrics are served apart from
the API.`,
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
			for _, p := range proxies {
				pfx, err := netip.ParsePrefix(p)
				if err != nil {
					addr, aerr := netip.ParseAddr(p)
					if aerr != nil {
						return usageError{fmt.Errorf("--trusted-proxy %q: want an address or CIDR prefix", p)}
					}
					pfx = netip.PrefixFrom(addr, addr.BitLen())
				}
				cfg.Options.TrustedProxies = append(cfg.Options.TrustedProxies, pfx.Masked())
			}
			// The pacing flags are bound to cfg.Storage; the layout flags
			// to sf, shared with admin storage.
			sf.cfg.RepairInterval, sf.cfg.ScrubInterval = cfg.Storage.RepairInterval, cfg.Storage.ScrubInterval
			cfg.Storage = sf.cfg
			if scrubRate != "" {
				rate, err := bytesize.Parse(scrubRate)
				if err != nil || rate <= 0 {
					return usageError{fmt.Errorf("--scrub-rate %q: want a size per second such as 16MiB", scrubRate)}
				}
				cfg.Storage.ScrubRate = rate
			}
			if cfg.Storage.ScrubInterval == 0 {
				cfg.Storage.ScrubInterval = -1 // 0 on the command line turns it off
			}
			cfg.Options.SessionIdle = sessionIdle
			cfg.Options.SessionMax = sessionMax
			cfg.Out = a.stdout
			return server.Run(cmd.Context(), cfg, slog.New(h))
		},
	}
	f := cmd.Flags()
	// Before RunE reads any flag, the file and the environment fill in
	// what the command line left out.
	cmd.PreRunE = a.withConfig(f)
	f.StringVar(&cfg.DataDir, "data", "./coffer-data", "folder for the metadata database and blocks")
	f.StringVar(&cfg.DB, "db", "", "metadata database: postgres://… or sqlite:///path (default: meta.db in --data)")
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:8080", "address to listen on")
	f.StringVar(&cfg.TLSCert, "tls-cert", "", "TLS certificate file (PEM)")
	f.StringVar(&cfg.TLSKey, "tls-key", "", "TLS private key file (PEM)")
	f.StringArrayVar(&proxies, "trusted-proxy", nil, "address or CIDR of a reverse proxy whose X-Forwarded-For names the client (repeatable)")
	f.DurationVar(&sessionIdle, "session-idle", 30*24*time.Hour, "log a session out after this long without activity")
	f.DurationVar(&sessionMax, "session-max", 365*24*time.Hour, "log a session out after this long in any case")
	f.IntVar(&cfg.Options.KeepVersions, "keep-versions", 0, "keep at most this many versions of each file (0: all)")
	sf.bind(f)
	f.DurationVar(&cfg.Storage.RepairInterval, "repair-interval", time.Hour, "run a full repair pass of the block locations this often")
	f.DurationVar(&cfg.Storage.ScrubInterval, "scrub-interval", 7*24*time.Hour, "re-read every copy of every block this often (0: never)")
	f.StringVar(&scrubRate, "scrub-rate", "16MiB", "read at most this much per second from each location when scrubbing")
	f.StringVar(&cfg.MetricsListen, "metrics-listen", "", "serve Prometheus metrics at http://ADDR/metrics (default: off)")
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return cmd
}
