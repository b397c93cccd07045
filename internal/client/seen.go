package client

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// seenVersions remembers, per node, the highest record version this device
// has verified. A server that serves an older record, even a validly
// signed one, is caught (rollback). It is kept per server, account and
// volume in the config folder.
type seenVersions struct {
	mu    sync.Mutex
	cfg   *Config
	name  string
	v     map[string]uint64
	dirty bool
}

func loadSeen(cfg *Config, sess *SessionFile, volume []byte) (*seenVersions, error) {
	h := sha256.Sum256([]byte(sess.Server + "\x00" + sess.User + "\x00" + string(volume)))
	s := &seenVersions{cfg: cfg, name: filepath.Join("seen", hex.EncodeToString(h[:16])+".json"), v: map[string]uint64{}}
	if err := os.MkdirAll(filepath.Join(cfg.dir, "seen"), 0o700); err != nil {
		return nil, fmt.Errorf("create seen-versions folder: %w", err)
	}
	if err := cfg.read(s.name, &s.v); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return s, nil
}

// check refuses a version below the highest seen and records a higher one.
func (s *seenVersions) check(id []byte, version uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := b64(id)
	if old := s.v[k]; version < old {
		return fmt.Errorf("record version %d is older than version %d seen before", version, old)
	} else if version > old {
		s.v[k] = version
		s.dirty = true
	}
	return nil
}

// record notes a version this device wrote itself.
func (s *seenVersions) record(id []byte, version uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := b64(id); version > s.v[k] {
		s.v[k] = version
		s.dirty = true
	}
}

func (s *seenVersions) save() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.dirty {
		return nil
	}
	if err := s.cfg.write(s.name, s.v); err != nil {
		return err
	}
	s.dirty = false
	return nil
}
