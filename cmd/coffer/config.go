package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// Settings of `coffer serve` may come from a YAML file (--config) and from
// environment variables as well as from flags, so that a deployment can
// keep them in a mounted file or a container's environment. Precedence:
// the command line, then the environment, then the file, then the flag's
// default.
//
// The operator commands (`coffer admin …`) read the same file and the same
// variables, so that they find the server's database and block locations
// wherever the server found them. They take from there only the server's
// settings they have (--data, --db, and for `admin storage` the layout
// flags): a key of the file that is a flag of serve but not of the admin
// command (listen, session-idle) is skipped, and a flag of the admin
// command that serve lacks (--json, scrub's --rate, migrate's --from and
// --to) comes from the command line only: it says what to do this once,
// not how the deployment is set up, and migrate's --to names the database
// to copy into, which a stale variable must never choose.
//
// The file is a mapping of flag names of serve to values: a string, a
// number, a duration such as 1h, or for a repeatable flag (--store,
// --trusted-proxy) a list. The variable of flag --tls-cert is
// COFFER_TLS_CERT: COFFER_ and the name in capitals, dashes as
// underscores; a repeatable flag takes its values comma-separated. An
// empty variable counts as unset.
//
// Values are never shown in errors: a database URL holds a password.

// configFlag names the file. It is read from the command line only: its
// variable would be COFFER_CONFIG, too close to the client's
// COFFER_CONFIG_DIR.
const configFlag = "config"

// envName is the environment variable of a flag.
func envName(flag string) string {
	return "COFFER_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// configurable reports whether a flag may come from the file or the
// environment: all but --config itself and cobra's --help.
func configurable(f *pflag.Flag) bool {
	return f.Name != configFlag && f.Name != "help"
}

// setting reports whether flag name is a setting of the server: a
// configurable flag of server, coffer serve's flag set.
func setting(server *pflag.FlagSet, name string) bool {
	f := server.Lookup(name)
	return f != nil && configurable(f)
}

// repeatable reports whether a flag takes several values.
func repeatable(f *pflag.Flag) bool {
	_, ok := f.Value.(pflag.SliceValue)
	return ok
}

// fileValue is what the file gives one flag, and the line it is on.
type fileValue struct {
	values []string
	line   int
}

// serverSettings returns the flags of coffer serve: the settings that the
// file and the environment give, and the keys the file may hold.
func (a *app) serverSettings() *pflag.FlagSet {
	return a.serveCmd().Flags()
}

// withConfig registers --config in flags (a command's own flags, or its
// persistent flags to reach its subcommands) and returns the hook to run
// as the command's PreRunE or PersistentPreRunE: before RunE reads any
// flag, the file and the environment fill in the settings the command
// line left out.
func (a *app) withConfig(flags *pflag.FlagSet) func(*cobra.Command, []string) error {
	var path string
	flags.StringVar(&path, configFlag, "", "read settings from this YAML file, keys being flag names of coffer serve (COFFER_* variables and the command line win over it)")
	return func(cmd *cobra.Command, _ []string) error {
		return applyConfig(cmd.Flags(), a.serverSettings(), path, a.getenv)
	}
}

// applyConfig sets every flag of fs that is a setting of the server (a
// configurable flag of server, coffer serve's flag set: for serve, every
// flag of fs but --config and --help) and that the command line did not set, from its environment
// variable, or else from the file at path (none if path is ""). The other
// flags of fs come from the command line only. Flags are set through
// fs.Set, which reaches the variables they are bound to. Mistakes are
// usage errors naming the key and where it was given.
func applyConfig(fs, server *pflag.FlagSet, path string, getenv func(string) string) error {
	var file map[string]fileValue
	if path != "" {
		var err error
		if file, err = readConfigFile(fs, server, path); err != nil {
			return usageError{err}
		}
	}
	var first error
	fs.VisitAll(func(f *pflag.Flag) {
		if first != nil || !setting(server, f.Name) || f.Changed {
			return
		}
		if raw := getenv(envName(f.Name)); raw != "" {
			values := []string{raw}
			if repeatable(f) {
				values = strings.Split(raw, ",")
				for i := range values {
					values[i] = strings.TrimSpace(values[i])
				}
			}
			if err := setFlag(fs, f, values); err != nil {
				first = fmt.Errorf("environment variable %s: %w", envName(f.Name), err)
			}
			return
		}
		if v, ok := file[f.Name]; ok {
			if err := setFlag(fs, f, v.values); err != nil {
				first = fmt.Errorf("%s:%d: %s: %w", path, v.line, f.Name, err)
			}
		}
	})
	if first != nil {
		return usageError{first}
	}
	return nil
}

// setFlag gives f its values, in order.
func setFlag(fs *pflag.FlagSet, f *pflag.Flag, values []string) error {
	for _, v := range values {
		if v == "" && repeatable(f) {
			return fmt.Errorf("an empty value for --%s", f.Name)
		}
		// The flag's own error would quote the value.
		if err := fs.Set(f.Name, v); err != nil {
			return fmt.Errorf("not %s, as --%s wants (the value is not shown, as it may be secret)", describeType(f.Value.Type()), f.Name)
		}
	}
	return nil
}

// describeType says what a flag of pflag type typ takes.
func describeType(typ string) string {
	switch typ {
	case "duration":
		return "a duration such as 90s, 30m or 24h"
	case "int", "int64", "uint", "uint64":
		return "a whole number"
	case "bool":
		return "true or false"
	}
	return "a valid " + typ
}

// readConfigFile reads the YAML file at path: a mapping whose keys are
// settings of the server (flags of server). It returns the values of the
// keys that are flags of fs; the others, the server's alone, are skipped
// unread.
func readConfigFile(fs, server *pflag.FlagSet, path string) (map[string]fileValue, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	out := make(map[string]fileValue)
	if doc.Kind == 0 {
		return out, nil // empty, or comments only
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: want a mapping of flag names to values, such as listen: 0.0.0.0:8443", path, root.Line)
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		at := fmt.Sprintf("%s:%d", path, k.Line)
		if k.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("%s: a key must be a flag name", at)
		}
		f := fs.Lookup(k.Value)
		if !setting(server, k.Value) {
			if f != nil && configurable(f) {
				// A flag of this command that serve lacks.
				return nil, fmt.Errorf("%s: key %q: --%s is read from the command line only, not from the file or the environment", at, k.Value, f.Name)
			}
			return nil, fmt.Errorf("%s: unknown key %q: coffer serve has no such flag (run coffer serve --help)", at, k.Value)
		}
		if f == nil {
			continue // the server's, not this command's
		}
		if _, dup := out[f.Name]; dup {
			return nil, fmt.Errorf("%s: %s is given twice", at, f.Name)
		}
		values, err := nodeValues(v, repeatable(f))
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", at, f.Name, err)
		}
		out[f.Name] = fileValue{values: values, line: v.Line}
	}
	return out, nil
}

// nodeValues returns the values of a key: one scalar, or a list of them
// if the flag is repeatable.
func nodeValues(v *yaml.Node, list bool) ([]string, error) {
	if v.Kind == yaml.AliasNode {
		v = v.Alias
	}
	switch {
	case v.Kind == yaml.ScalarNode && v.Tag == "!!null":
		return nil, errors.New("no value")
	case v.Kind == yaml.ScalarNode:
		return []string{v.Value}, nil
	case v.Kind == yaml.SequenceNode && list:
		var out []string
		for _, item := range v.Content {
			if item.Kind != yaml.ScalarNode || item.Tag == "!!null" {
				return nil, errors.New("want a list of values")
			}
			out = append(out, item.Value)
		}
		return out, nil
	case v.Kind == yaml.SequenceNode:
		return nil, errors.New("takes one value, not a list")
	}
	return nil, errors.New("want a value or a list of values")
}
