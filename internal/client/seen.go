package client

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/coffer-drive/coffer/internal/crypto"
)

// seenVersions remembers, per node, the newest record this device has
// verified or written: its version and a fingerprint of the whole signed
// record with its author's key. A server that serves an older record, even
// a validly signed one, is caught (rollback), and so is one that serves a
// different record under a version already seen (a fork: say a signed
// update it withheld, then the retry). A record whose fingerprint is the
// one remembered was verified before, so its signature need not be checked
// again. It is kept per server, account and volume in the config folder.
type seenVersions struct {
	mu    sync.Mutex
	cfg   *Config
	name  string
	v     map[string]seenRecord
	dirty bool
}

// seenRecord is a version and the record's fingerprint.
type seenRecord struct {
	V uint64 `json:"v"`
	F string `json:"f"`
}

// recordFingerprint identifies a signed record and who signed it: equal
// fingerprints mean the same bytes under the same key. Every input is
// length-prefixed, so no split of the bytes between record and signature
// can collide with another; callers pass only a record that validated.
func recordFingerprint(author []byte, rec *crypto.NodeRecord, sig []byte) string {
	h := sha256.New()
	h.Write([]byte("coffer-client/v1/verified-record\x00"))
	for _, part := range [][]byte{author, rec.Marshal(), sig} {
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(part))))
		h.Write(part)
	}
	return base64.RawStdEncoding.EncodeToString(h.Sum(nil)[:18])
}

func loadSeen(cfg *Config, sess *SessionFile, volume []byte) (*seenVersions, error) {
	h := sha256.Sum256([]byte(sess.Server + "\x00" + sess.User + "\x00" + string(volume)))
	s := &seenVersions{cfg: cfg, name: filepath.Join("verified", hex.EncodeToString(h[:16])+".json"), v: map[string]seenRecord{}}
	if err := os.MkdirAll(filepath.Join(cfg.dir, "verified"), 0o700); err != nil {
		return nil, fmt.Errorf("create seen-versions folder: %w", err)
	}
	if err := cfg.read(s.name, &s.v); err != nil && !errors.Is(err, os.ErrNotExist) {
		// Unreadable (an older format): start again from what this run
		// verifies; only a local attacker could have damaged it.
		s.v = map[string]seenRecord{}
	}
	return s, nil
}

// known reports whether exactly this record was verified before.
func (s *seenVersions) known(id []byte, version uint64, fp string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.v[b64(id)]
	return ok && old.V == version && old.F == fp
}

// check refuses a record older than the newest seen, or different from
// the one seen with the same version, and remembers a newer one. Call it
// only for a record whose signature checked out.
func (s *seenVersions) check(id []byte, version uint64, fp string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := b64(id)
	old, ok := s.v[k]
	switch {
	case ok && version < old.V:
		return fmt.Errorf("record version %d is older than version %d seen before", version, old.V)
	case ok && version == old.V && fp != old.F:
		return fmt.Errorf("a different record with version %d was seen before (forked history)", version)
	case !ok || version > old.V:
		s.v[k] = seenRecord{V: version, F: fp}
		s.dirty = true
	}
	return nil
}

// record notes a record this device wrote and the server accepted.
func (s *seenVersions) record(id []byte, version uint64, fp string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := b64(id); version >= s.v[k].V {
		s.v[k] = seenRecord{V: version, F: fp}
		s.dirty = true
	}
}

func (s *seenVersions) save() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.dirty || s.cfg == nil {
		// A link's view keeps nothing (cfg nil): it has no account.
		return nil
	}
	if err := s.cfg.write(s.name, s.v); err != nil {
		return err
	}
	s.dirty = false
	return nil
}
