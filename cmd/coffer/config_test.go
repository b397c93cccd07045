package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/coffer-drive/coffer/internal/api"
)

// serveFlags parses a serve command line with env as the environment and
// returns the flags as RunE would see them, without serving.
func serveFlags(t *testing.T, env map[string]string, args ...string) (*pflag.FlagSet, error) {
	t.Helper()
	a := &app{stdout: io.Discard, stderr: io.Discard, getenv: func(k string) string { return env[k] }}
	cmd := a.serveCmd()
	cmd.RunE = func(*cobra.Command, []string) error { return nil }
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.Execute()
	return cmd.Flags(), err
}

// writeConfig writes a config file and returns its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "coffer.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustString(t *testing.T, fs *pflag.FlagSet, name string) string {
	t.Helper()
	v, err := fs.GetString(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustDuration(t *testing.T, fs *pflag.FlagSet, name string) time.Duration {
	t.Helper()
	v, err := fs.GetDuration(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustArray(t *testing.T, fs *pflag.FlagSet, name string) []string {
	t.Helper()
	v, err := fs.GetStringArray(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestConfigPrecedence(t *testing.T) {
	file := writeConfig(t, `# a deployment's settings
listen: 0.0.0.0:9000
db: postgres://coffer@db.example/coffer
session-idle: 1h
replicas: 2
keep-versions: 7
`)
	env := map[string]string{
		"COFFER_LISTEN":        "0.0.0.0:9001",
		"COFFER_SESSION_IDLE":  "2h",
		"COFFER_KEEP_VERSIONS": "",
		"COFFER_LOG_FORMAT":    "json",
	}
	fs, err := serveFlags(t, env, "--config", file, "--listen", "127.0.0.1:9002")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"listen":     "127.0.0.1:9002", // the command line wins
		"db":         "postgres://coffer@db.example/coffer",
		"log-format": "json",          // environment only
		"log-level":  "info",          // default
		"data":       "./coffer-data", // default
		"tls-cert":   "",              // default
		"scrub-rate": "16MiB",         // default
	} {
		if got := mustString(t, fs, name); got != want {
			t.Errorf("--%s = %q, want %q", name, got, want)
		}
	}
	if got := mustDuration(t, fs, "session-idle"); got != 2*time.Hour {
		t.Errorf("--session-idle = %v, want the environment's 2h over the file's 1h", got)
	}
	if got, _ := fs.GetInt("replicas"); got != 2 {
		t.Errorf("--replicas = %d, want the file's 2", got)
	}
	if got, _ := fs.GetInt("keep-versions"); got != 7 {
		t.Errorf("--keep-versions = %d, want the file's 7 (an empty variable is unset)", got)
	}

	// Without a file, the environment alone; without either, defaults.
	fs, err = serveFlags(t, map[string]string{"COFFER_DB": "sqlite:///tmp/x.db"})
	if err != nil {
		t.Fatal(err)
	}
	if got := mustString(t, fs, "db"); got != "sqlite:///tmp/x.db" {
		t.Errorf("--db = %q from COFFER_DB alone", got)
	}
	if got := mustString(t, fs, "listen"); got != "127.0.0.1:8080" {
		t.Errorf("--listen = %q with nothing set", got)
	}
}

func TestConfigRepeatableFlags(t *testing.T) {
	file := writeConfig(t, `store:
  - file:///srv/a
  - file:///srv/b
trusted-proxy: 10.0.0.0/8
`)
	fs, err := serveFlags(t, nil, "--config", file)
	if err != nil {
		t.Fatal(err)
	}
	if got := mustArray(t, fs, "store"); !slices.Equal(got, []string{"file:///srv/a", "file:///srv/b"}) {
		t.Errorf("--store from a list = %q", got)
	}
	if got := mustArray(t, fs, "trusted-proxy"); !slices.Equal(got, []string{"10.0.0.0/8"}) {
		t.Errorf("--trusted-proxy from one value = %q", got)
	}

	// The environment replaces the file's list; it does not add to it.
	fs, err = serveFlags(t, map[string]string{"COFFER_STORE": "file:///srv/c, file:///srv/d"}, "--config", file)
	if err != nil {
		t.Fatal(err)
	}
	if got := mustArray(t, fs, "store"); !slices.Equal(got, []string{"file:///srv/c", "file:///srv/d"}) {
		t.Errorf("--store from COFFER_STORE = %q", got)
	}

	// And the command line replaces both.
	fs, err = serveFlags(t, map[string]string{"COFFER_STORE": "file:///srv/c"}, "--config", file, "--store", "file:///srv/e")
	if err != nil {
		t.Fatal(err)
	}
	if got := mustArray(t, fs, "store"); !slices.Equal(got, []string{"file:///srv/e"}) {
		t.Errorf("--store from the command line = %q", got)
	}

	if _, err := serveFlags(t, map[string]string{"COFFER_STORE": "file:///srv/c,,file:///srv/d"}); err == nil || !strings.Contains(err.Error(), "COFFER_STORE") {
		t.Errorf("an empty value in COFFER_STORE: %v", err)
	}
}

// wantUsageError checks that err is a usage error saying each of want
// and none of never.
func wantUsageError(t *testing.T, what string, err error, want []string, never ...string) {
	t.Helper()
	var ue usageError
	if !errors.As(err, &ue) {
		t.Errorf("%s: %v, want a usage error", what, err)
		return
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: %q does not say %q", what, err, w)
		}
	}
	for _, n := range never {
		if strings.Contains(err.Error(), n) {
			t.Errorf("%s: %q shows %q", what, err, n)
		}
	}
}

func TestConfigMistakes(t *testing.T) {
	const secret = "hunter2-Secret"
	for _, tc := range []struct {
		name, file string
		want       []string
	}{
		{"unknown key", "listen: 127.0.0.1:1\n\nbogus-flag: " + secret + "\n", []string{`"bogus-flag"`, "coffer.yaml:3"}},
		{"help is no key", "help: true\n", []string{`"help"`, "coffer.yaml:1"}},
		{"config is no key", "config: other.yaml\n", []string{`"config"`}},
		{"bad duration", "listen: 127.0.0.1:1\nsession-idle: " + secret + "\n", []string{"coffer.yaml:2", "session-idle", "duration"}},
		{"bad number", "replicas: " + secret + "\n", []string{"coffer.yaml:1", "replicas", "whole number"}},
		{"list for one value", "db: [postgres://u:" + secret + "@h/a, b]\n", []string{"coffer.yaml:1", "db", "one value"}},
		{"no value", "db:\n", []string{"coffer.yaml:1", "db", "no value"}},
		{"mapping value", "db:\n  url: " + secret + "\n", []string{"coffer.yaml:1", "db"}},
		{"twice", "db: a\ndb: " + secret + "\n", []string{"coffer.yaml:2", "twice"}},
		{"not a mapping", "- " + secret + "\n", []string{"coffer.yaml:1", "mapping"}},
		{"not YAML", "db: \"" + secret + "\n", []string{"coffer.yaml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := serveFlags(t, nil, "--config", writeConfig(t, tc.file))
			wantUsageError(t, tc.name, err, tc.want, secret)
		})
	}

	// A bad value from the environment names the variable, not the value.
	_, err := serveFlags(t, map[string]string{"COFFER_STORE_TIMEOUT": secret})
	wantUsageError(t, "COFFER_STORE_TIMEOUT", err, []string{"environment variable COFFER_STORE_TIMEOUT", "--store-timeout"}, secret)

	_, err = serveFlags(t, nil, "--config", filepath.Join(t.TempDir(), "missing.yaml"))
	wantUsageError(t, "missing file", err, []string{"missing.yaml"})

	// The file is read only with --config; COFFER_CONFIG_DIR is the
	// client's, and there is no COFFER_CONFIG.
	fs, err := serveFlags(t, map[string]string{"COFFER_CONFIG_DIR": "/nonexistent", "COFFER_CONFIG": "/nonexistent/c.yaml"})
	if err != nil {
		t.Fatalf("client variables in the environment: %v", err)
	}
	if got := mustString(t, fs, "config"); got != "" {
		t.Fatalf("--config = %q from the environment", got)
	}
}

// No serve flag's variable is one of the client's, which mean other
// things (COFFER_SERVER is a URL to connect to, not to serve on).
func TestConfigEnvNamesAreTheServers(t *testing.T) {
	client := []string{"COFFER_SERVER", "COFFER_USER", "COFFER_PASSWORD", "COFFER_LINK_PASSWORD",
		"COFFER_NEW_PASSWORD", "COFFER_RECOVERY_KEY", "COFFER_CONFIG_DIR"}
	cmd := (&app{}).serveCmd()
	n := 0
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if !configurable(f) {
			return
		}
		n++
		if slices.Contains(client, envName(f.Name)) {
			t.Errorf("--%s would be set by the client's %s", f.Name, envName(f.Name))
		}
	})
	if n < 15 || envName("tls-cert") != "COFFER_TLS_CERT" {
		t.Fatalf("%d configurable flags; COFFER_TLS_CERT is %s", n, envName("tls-cert"))
	}
}

// TestServeConfigFile runs the binary with settings from a file and the
// environment: they reach the server (JSON logs, metrics), and the probes
// answer.
func TestServeConfigFile(t *testing.T) {
	file := writeConfig(t, "log-format: text\nmetrics-listen: 127.0.0.1:0\nsession-idle: 1h\n")
	srv := startServerAt(t, filepath.Join(t.TempDir(), "data"), map[string]string{"COFFER_LOG_FORMAT": "json"}, "--config", file)
	for _, p := range []string{api.PathHealth, api.PathReady} {
		resp, err := http.Get(srv.url + p)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]string
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err != nil || body["status"] != "ok" {
			t.Fatalf("%s: %d %v %v", p, resp.StatusCode, body, err)
		}
	}
	m := metrics(t, metricsURL(t, srv))
	if m[`coffer_http_requests_total{code="200",method="GET",route="GET /readyz"}`] != 1 {
		t.Fatalf("the API's metrics are not served with the storage's: %v", m)
	}
	if _, ok := m[`coffer_storage_location_up{location="file://`+filepath.Join(srv.data, "blocks")+`"}`]; !ok {
		t.Fatalf("the storage's metrics are gone: %v", m)
	}
	// The environment's json won over the file's text.
	first, _, _ := strings.Cut(string(srv.log.Bytes()), "\n")
	if !json.Valid([]byte(first)) {
		t.Fatalf("the log is not JSON: %q", first)
	}
}

// adminFlags parses a command line of `coffer admin` (args without
// "admin") with env as the environment and returns the flags of the
// subcommand run as its RunE would see them, without running it.
func adminFlags(t *testing.T, env map[string]string, args ...string) (*pflag.FlagSet, error) {
	t.Helper()
	a := &app{stdout: io.Discard, stderr: io.Discard, getenv: func(k string) string { return env[k] }}
	cmd := a.adminCmd()
	var got *pflag.FlagSet
	var stub func(c *cobra.Command)
	stub = func(c *cobra.Command) {
		if c.RunE != nil {
			c.RunE = func(c *cobra.Command, _ []string) error { got = c.Flags(); return nil }
		}
		for _, sub := range c.Commands() {
			stub(sub)
		}
	}
	stub(cmd)
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.Execute()
	if err == nil && got == nil {
		t.Fatalf("admin %q ran no command", args)
	}
	return got, err
}

// serverFile is a server's config file: the admin commands read it too.
const serverFile = `# the server's settings, serve-only ones among them
listen: 0.0.0.0:9000
data: /srv/coffer-file
db: postgres://coffer@db.example/coffer
store: [file:///srv/a, file:///srv/b]
replicas: 2
store-timeout: 10s
trusted-proxy: [10.0.0.0/8]
session-idle: 1h
scrub-rate: 8MiB
metrics-listen: 127.0.0.1:9100
log-format: json
`

func TestAdminConfigPrecedence(t *testing.T) {
	file := writeConfig(t, serverFile)

	// The environment alone: COFFER_DB and COFFER_DATA are the server's
	// --db and --data, for every admin command.
	env := map[string]string{"COFFER_DB": "sqlite:///env/meta.db", "COFFER_DATA": "/srv/coffer-env", "COFFER_STORE": "file:///srv/c,file:///srv/d"}
	for _, argv := range [][]string{
		{"storage", "status"},
		{"storage", "repair", "--json"},
		{"storage", "scrub"},
		{"user", "quota", "alice", "1GiB"},
		{"migrate", "--to", "postgres://coffer@db.example/new"},
	} {
		fs, err := adminFlags(t, env, argv...)
		if err != nil {
			t.Fatalf("%q: %v", argv, err)
		}
		if got := mustString(t, fs, "db"); got != env["COFFER_DB"] {
			t.Errorf("%q: --db = %q, want COFFER_DB's", argv, got)
		}
		if got := mustString(t, fs, "data"); got != env["COFFER_DATA"] {
			t.Errorf("%q: --data = %q, want COFFER_DATA's", argv, got)
		}
		if argv[0] == "storage" {
			if got := mustArray(t, fs, "store"); !slices.Equal(got, []string{"file:///srv/c", "file:///srv/d"}) {
				t.Errorf("%q: --store = %q, want COFFER_STORE's", argv, got)
			}
		}
	}

	// The command line wins over the environment, which wins over the
	// file, whose serve-only keys (listen, session-idle, …) are skipped.
	// --config may come before or after the subcommand.
	for _, argv := range [][]string{
		{"--config", file, "storage", "status", "--db", "sqlite:///cli/meta.db"},
		{"storage", "status", "--db", "sqlite:///cli/meta.db", "--config", file},
	} {
		fs, err := adminFlags(t, map[string]string{"COFFER_DB": "sqlite:///env/meta.db", "COFFER_REPLICAS": "1"}, argv...)
		if err != nil {
			t.Fatalf("%q: %v", argv, err)
		}
		for name, want := range map[string]string{
			"db":      "sqlite:///cli/meta.db", // the command line
			"data":    "/srv/coffer-file",      // the file
			"erasure": "",                      // default
		} {
			if got := mustString(t, fs, name); got != want {
				t.Errorf("%q: --%s = %q, want %q", argv, name, got, want)
			}
		}
		if got, _ := fs.GetInt("replicas"); got != 1 {
			t.Errorf("%q: --replicas = %d, want COFFER_REPLICAS's 1 over the file's 2", argv, got)
		}
		if got := mustArray(t, fs, "store"); !slices.Equal(got, []string{"file:///srv/a", "file:///srv/b"}) {
			t.Errorf("%q: --store = %q, want the file's", argv, got)
		}
		if got := mustDuration(t, fs, "store-timeout"); got != 10*time.Second {
			t.Errorf("%q: --store-timeout = %v, want the file's 10s", argv, got)
		}
		for _, serveOnly := range []string{"listen", "session-idle", "trusted-proxy", "scrub-rate", "metrics-listen", "log-format"} {
			if fs.Lookup(serveOnly) != nil {
				t.Errorf("%q has a --%s flag", argv, serveOnly)
			}
		}
	}

	// The file's db reaches user quota, which skips the layout keys
	// (store, replicas) it has no flags for.
	fs, err := adminFlags(t, nil, "user", "quota", "alice", "1GiB", "--config", file)
	if err != nil {
		t.Fatal(err)
	}
	if got := mustString(t, fs, "db"); got != "postgres://coffer@db.example/coffer" {
		t.Errorf("user quota: --db = %q, want the file's", got)
	}

	// Serve-only settings, even malformed, are no business of the admin
	// commands: in the file as in the environment (serve refuses both).
	bad := writeConfig(t, "data: /srv/x\nsession-idle: forever\nlisten:\nlog-format: [a, b]\n")
	badEnv := map[string]string{"COFFER_SESSION_MAX": "forever", "COFFER_KEEP_VERSIONS": "many"}
	if _, err := adminFlags(t, badEnv, "storage", "status", "--config", bad); err != nil {
		t.Errorf("admin with malformed serve-only settings: %v", err)
	}
	if _, err := serveFlags(t, nil, "--config", bad); err == nil {
		t.Errorf("serve takes the malformed file")
	}
	if _, err := serveFlags(t, badEnv); err == nil {
		t.Errorf("serve takes the malformed environment")
	}
}

func TestAdminConfigMistakes(t *testing.T) {
	const secret = "hunter2-Secret"
	for _, tc := range []struct {
		name, file string
		argv       []string
		want       []string
	}{
		{"unknown key", "data: /srv/x\n\nbogus-flag: " + secret + "\n", []string{"storage", "status"}, []string{`"bogus-flag"`, "coffer.yaml:3", "coffer serve has no such flag"}},
		{"unknown key, quota", "dbb: postgres://u:" + secret + "@h/db\n", []string{"user", "quota", "alice", "1GiB"}, []string{`"dbb"`, "coffer.yaml:1"}},
		{"unknown key, migrate", "listen: 127.0.0.1:1\nstores: [" + secret + "]\n", []string{"migrate", "--to", "postgres://h/db"}, []string{`"stores"`, "coffer.yaml:2"}},
		{"migrate's --to", "to: postgres://u:" + secret + "@h/db\n", []string{"migrate"}, []string{`"to"`, "coffer.yaml:1", "command line only"}},
		{"migrate's --from", "from: sqlite:///" + secret + "\n", []string{"migrate", "--to", "postgres://h/db"}, []string{`"from"`, "command line only"}},
		{"status's --json", "json: true\n", []string{"storage", "status"}, []string{`"json"`, "command line only"}},
		{"scrub's --rate", "rate: 1MiB\n", []string{"storage", "scrub"}, []string{`"rate"`, "command line only"}},
		{"--to elsewhere", "to: postgres://u:" + secret + "@h/db\n", []string{"storage", "status"}, []string{`"to"`, "coffer serve has no such flag"}},
		{"config is no key", "config: other.yaml\n", []string{"storage", "status"}, []string{`"config"`}},
		{"bad number", "replicas: " + secret + "\n", []string{"storage", "status"}, []string{"coffer.yaml:1", "replicas", "whole number"}},
		{"list for one value", "db: [postgres://u:" + secret + "@h/a, b]\n", []string{"storage", "repair"}, []string{"coffer.yaml:1", "db", "one value"}},
		{"twice", "db: a\ndb: " + secret + "\n", []string{"user", "quota", "alice", "1GiB"}, []string{"coffer.yaml:2", "twice"}},
		{"not a mapping", "- " + secret + "\n", []string{"storage", "status"}, []string{"coffer.yaml:1", "mapping"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := adminFlags(t, nil, append(tc.argv, "--config", writeConfig(t, tc.file))...)
			wantUsageError(t, tc.name, err, tc.want, secret)
		})
	}

	_, err := adminFlags(t, map[string]string{"COFFER_REPLICAS": secret}, "storage", "status")
	wantUsageError(t, "COFFER_REPLICAS", err, []string{"environment variable COFFER_REPLICAS", "--replicas"}, secret)
	_, err = adminFlags(t, nil, "storage", "status", "--config", filepath.Join(t.TempDir(), "missing.yaml"))
	wantUsageError(t, "missing file", err, []string{"missing.yaml"})
}

// The flags of the admin commands that serve lacks come from the command
// line only: the environment does not reach them. They are exactly those
// docs/operations.md lists; every other flag is a setting of serve's, of
// the same type.
func TestAdminCommandLineOnlyFlags(t *testing.T) {
	a := &app{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
	server := a.serverSettings()
	only := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.LocalNonPersistentFlags(), c.PersistentFlags()} {
			fs.VisitAll(func(f *pflag.Flag) {
				if !configurable(f) {
					return
				}
				sf := server.Lookup(f.Name)
				if sf == nil {
					only[c.Name()+" --"+f.Name] = true
				} else if sf.Value.Type() != f.Value.Type() {
					t.Errorf("%s --%s is a %s, serve's a %s", c.CommandPath(), f.Name, f.Value.Type(), sf.Value.Type())
				}
			})
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(a.adminCmd())
	want := []string{"migrate --from", "migrate --to", "repair --json", "scrub --json", "scrub --rate", "status --json"}
	if got := slices.Sorted(func(yield func(string) bool) {
		for k := range only {
			if !yield(k) {
				return
			}
		}
	}); !slices.Equal(got, want) {
		t.Errorf("command-line-only flags of the admin commands: %q, want %q (update docs/operations.md)", got, want)
	}

	env := map[string]string{"COFFER_TO": "postgres://coffer@db.example/new", "COFFER_FROM": "sqlite:///old/meta.db", "COFFER_JSON": "true", "COFFER_RATE": "1MiB"}
	for _, argv := range [][]string{{"migrate"}, {"storage", "status"}, {"storage", "scrub"}} {
		fs, err := adminFlags(t, env, argv...)
		if err != nil {
			t.Fatalf("%q: %v", argv, err)
		}
		fs.VisitAll(func(f *pflag.Flag) {
			if f.Changed {
				t.Errorf("%q: --%s set from the environment", argv, f.Name)
			}
		})
	}

	// Run for real: migrate without --to stops before opening anything,
	// whatever COFFER_TO says.
	var out, errb strings.Builder
	a = &app{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string { return env[k] }}
	if code := run(t.Context(), a, []string{"admin", "migrate", "--data", t.TempDir()}); code != 2 || !strings.Contains(errb.String(), "--to is required") {
		t.Errorf("migrate with COFFER_TO and no --to: exit %d, %q", code, errb.String())
	}

	// With the source from COFFER_DB, a --to naming it is refused, saying
	// what to do and without the URL's password.
	const secret = "Db-Password-9913"
	dbURL := "postgres://coffer:" + secret + "@db.example/coffer"
	errb.Reset()
	a.getenv = func(k string) string { return map[string]string{"COFFER_DB": dbURL}[k] }
	if code := run(t.Context(), a, []string{"admin", "migrate", "--to", dbURL}); code != 2 || !strings.Contains(errb.String(), "give --from") || strings.Contains(errb.String(), secret) {
		t.Errorf("migrate --to the server's COFFER_DB: exit %d, %q", code, errb.String())
	}
}
