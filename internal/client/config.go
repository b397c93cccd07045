package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrNotLoggedIn means the config folder holds no session.
var ErrNotLoggedIn = errors.New("not logged in; run `coffer login`")

// Config is the client's folder (COFFER_CONFIG_DIR): the current session
// and what the client remembers between runs. Every file in it is 0600.
// No password, KEK or unsealed private key is ever written to it: the keys
// are kept sealed under an unlock key that only the server hands out, and
// only to the session's bearer.
type Config struct {
	dir string
}

// SessionFile is the current login, kept in session.json.
type SessionFile struct {
	Server    string `json:"server"`
	User      string `json:"user"`
	SessionID string `json:"session_id"`
	Token     string `json:"token"`
	Epoch     uint32 `json:"epoch"`
	// PublicBundle is the account's own signed bundle, checked against
	// the private keys at login.
	PublicBundle []byte `json:"public_bundle"`
	// KeyCache is the account's private keys sealed under the session's
	// unlock key (crypto.SealLocalKeys).
	KeyCache []byte `json:"key_cache"`
}

// Pin is a peer's key that the user has verified out of band.
type Pin struct {
	Fingerprint string `json:"fingerprint"`
}

// State is what the client remembers across sessions, per server and account.
type State struct {
	// Epochs is the highest credential epoch seen per account; the client
	// refuses key material older than that (rollback).
	Epochs map[string]uint32 `json:"epochs"`
	// Devices holds this device's token per account, which exempts it
	// from lock-outs caused by others guessing the password.
	Devices map[string][]byte `json:"devices"`
	// Pins maps an account and a peer to the peer's verified fingerprint.
	Pins map[string]Pin `json:"pins"`
	// Volumes is the drive each account was seen to have, so that a server
	// claiming later that there is none is caught rather than believed.
	Volumes map[string][]byte `json:"volumes"`
	// Graces are editors being removed from a share of the account's:
	// their records are still accepted (under the key with this hex
	// fingerprint) until the owner has signed them again, so that an
	// interrupted removal can be finished. Keyed by graceKey.
	Graces map[string]string `json:"graces"`
}

// graceKey names a member of a share of an account in State.Graces.
func graceKey(server, user string, share []byte, member string) string {
	return server + " " + user + " " + b64(share) + " " + member
}

// accountKey names an account on a server in State's maps.
func accountKey(server, user string) string { return server + " " + user }

// pinKey names a peer as seen from an account.
func pinKey(server, user, peer string) string { return server + " " + user + " " + peer }

// OpenConfig opens (creating if needed, mode 0700) the config folder.
func OpenConfig(dir string) (*Config, error) {
	if dir == "" {
		base, err := os.UserConfigDir()
		if err != nil {
			return nil, fmt.Errorf("find config folder (set COFFER_CONFIG_DIR): %w", err)
		}
		dir = filepath.Join(base, "coffer")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create config folder: %w", err)
	}
	return &Config{dir: dir}, nil
}

// Dir returns the folder's path.
func (c *Config) Dir() string { return c.dir }

// Session returns the current session, or ErrNotLoggedIn.
func (c *Config) Session() (*SessionFile, error) {
	var s SessionFile
	if err := c.read("session.json", &s); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, ErrNotLoggedIn
		}
		return nil, err
	}
	return &s, nil
}

// SaveSession replaces the current session.
func (c *Config) SaveSession(s *SessionFile) error { return c.write("session.json", s) }

// DeleteSession forgets the current session.
func (c *Config) DeleteSession() error {
	err := os.Remove(filepath.Join(c.dir, "session.json"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove session: %w", err)
	}
	return nil
}

// State returns what the client remembers; empty maps if nothing yet.
func (c *Config) State() (*State, error) {
	st := &State{}
	if err := c.read("state.json", st); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if st.Epochs == nil {
		st.Epochs = map[string]uint32{}
	}
	if st.Devices == nil {
		st.Devices = map[string][]byte{}
	}
	if st.Pins == nil {
		st.Pins = map[string]Pin{}
	}
	if st.Volumes == nil {
		st.Volumes = map[string][]byte{}
	}
	if st.Graces == nil {
		st.Graces = map[string]string{}
	}
	return st, nil
}

// SaveState writes the state.
func (c *Config) SaveState(st *State) error { return c.write("state.json", st) }

// UpdateState applies fn to the stored state and saves it.
func (c *Config) UpdateState(fn func(*State)) error {
	st, err := c.State()
	if err != nil {
		return err
	}
	fn(st)
	return c.SaveState(st)
}

func (c *Config) read(name string, v any) error {
	b, err := os.ReadFile(filepath.Join(c.dir, name))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("read %s in %s: %w (delete the file to start over)", name, c.dir, err)
	}
	return nil
}

// write replaces the file atomically: a crash leaves the old or the new
// content, never a torn one.
func (c *Config) write(name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	return c.replace(name, b)
}

// replace is write for bytes already encoded.
func (c *Config) replace(name string, b []byte) error {
	f, err := os.CreateTemp(filepath.Join(c.dir, filepath.Dir(name)), "."+filepath.Base(name)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, name)); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}
