package client

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
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
//
// The file is a journal, so that a save costs what changed rather than
// the whole map (a sync of thousands of moves saves after each): one JSON
// object per line, {"k":node,"v":version,"f":fingerprint}, each save
// appending the entries changed since the last one in a single write.
// Replaying it in order rebuilds the map by record's rule: a line never
// lowers a version, and at an equal version the later line wins, as a
// later record (or, before the journal, the last process to write the
// whole file) would have. When it has grown past twice the entries it
// holds, it is rewritten whole (compacted), atomically.
//
// Several processes (say `coffer sync` and `coffer put`) may share the
// file, each with the map it loaded plus what it verified since; none
// takes the others' entries into its own map while it runs, so none can
// refuse a record because of something another process saw meanwhile. A
// save appends with one write() to a file opened O_APPEND, which keeps
// lines whole. A compaction reads the file again and writes what it holds
// merged with this process's map, but another process's append that lands
// between that read and the rename is lost (as is one that opened the
// file before the rename and writes after it): those nodes are then
// remembered at an older version, or not at all, which weakens the check
// for them until they are seen again. It only ever forgets: it never
// remembers a version or fingerprint that no process verified or wrote,
// so it can cause no false rollback or fork error.
type seenVersions struct {
	mu   sync.Mutex
	cfg  *Config
	name string
	v    map[string]seenRecord
	// dirty holds the keys of v changed since the last save: what the
	// next save appends.
	dirty map[string]struct{}
	// lines is how many lines the journal has, as far as this process
	// knows (read at load, appended or rewritten since; not what other
	// processes appended): past max(2×entries, seenCompactMin), the next
	// save compacts.
	lines int
	// entries is how many nodes the file held whole when this process
	// last read or rewrote it: other processes' nodes count, or a file
	// holding many more than this process's map would be compacted at
	// every save.
	entries int
	// rewrite makes the next save compact, even with nothing changed:
	// the file is in the old format, damaged, or its last line is torn
	// (an append would otherwise be glued to it).
	rewrite bool
}

// seenCompactMin is the fewest lines at which the journal is compacted:
// below it, rewriting saves too little to be worth it.
const seenCompactMin = 1024

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

// seenLine is one line of the journal: a node's key (as in v) and record.
type seenLine struct {
	K string `json:"k"`
	V uint64 `json:"v"`
	F string `json:"f"`
}

// errSeenDamaged means the journal has a bad line before its last one.
var errSeenDamaged = errors.New("damaged line in the middle")

func loadSeen(cfg *Config, sess *SessionFile, volume []byte) (*seenVersions, error) {
	h := sha256.Sum256([]byte(sess.Server + "\x00" + sess.User + "\x00" + string(volume)))
	s := &seenVersions{cfg: cfg, name: filepath.Join("verified", hex.EncodeToString(h[:16])+".json"), v: map[string]seenRecord{}}
	if err := os.MkdirAll(filepath.Join(cfg.dir, "verified"), 0o700); err != nil {
		return nil, fmt.Errorf("create seen-versions folder: %w", err)
	}
	b, err := os.ReadFile(filepath.Join(cfg.dir, s.name))
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	var clean bool
	if err == nil {
		s.v, s.lines, clean, err = parseSeen(b)
	}
	if err != nil {
		// Unreadable or damaged (a bad line before the last: not a crash
		// mid-append, which tears only the last): start again from what
		// this run verifies, and replace the file at the next save. That
		// drops the rollback check for every node until it is seen
		// again, but only a local attacker could have damaged the file,
		// and one could as well delete it. (Or a crash that kept the end
		// of an append but not its start, which the file systems'
		// ordered data modes do not do.)
		s.v, s.lines = map[string]seenRecord{}, 0
	}
	s.entries, s.rewrite = len(s.v), !clean
	return s, nil
}

// parseSeen reads the file: the journal, or a map in the format before it
// (one JSON object, written whole). clean is false if the next save must
// compact rather than append: the old format, or a last line torn or
// unparsable, which is left out (a crash mid-append). A bad line before
// the last is errSeenDamaged.
func parseSeen(b []byte) (v map[string]seenRecord, lines int, clean bool, err error) {
	v = map[string]seenRecord{}
	// A journal line starts with '{' too, but no journal parses as one
	// map: a line's "k" is a string where the map has a record, and two
	// lines are two JSON values.
	if len(b) > 0 && b[0] == '{' && json.Unmarshal(b, &v) == nil {
		return v, 0, false, nil
	}
	clear(v) // Unmarshal may have filled some before it failed.
	clean = true
	read := 0
	for ln := range bytes.Lines(b) {
		read += len(ln)
		last := read == len(b)
		whole := bytes.HasSuffix(ln, []byte("\n"))
		if !whole {
			clean = false
		}
		if len(bytes.TrimSpace(ln)) == 0 {
			continue
		}
		var l seenLine
		if err := json.Unmarshal(ln, &l); err != nil || l.K == "" {
			if !last {
				return nil, 0, false, errSeenDamaged
			}
			clean = false
			continue
		}
		mergeSeen(v, l.K, seenRecord{V: l.V, F: l.F})
		lines++
	}
	return v, lines, clean, nil
}

// mergeSeen puts r for k in v as record does: never lowering a version,
// and replacing an equal one. Replaying a journal this way rebuilds the
// map of the process that wrote it, whose check keeps the first record at
// a version but whose record replaces it. Lines from two processes at one
// version with different fingerprints mean the server showed them
// different records (a fork); the later line wins, as the whole file of
// the later process did before the journal: no stricter than that.
func mergeSeen(v map[string]seenRecord, k string, r seenRecord) {
	if old, ok := v[k]; !ok || r.V >= old.V {
		v[k] = r
	}
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
		s.markDirty(k)
	}
	return nil
}

// record notes a record this device wrote and the server accepted.
func (s *seenVersions) record(id []byte, version uint64, fp string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := b64(id); version >= s.v[k].V {
		s.v[k] = seenRecord{V: version, F: fp}
		s.markDirty(k)
	}
}

// markDirty notes that k changed since the last save. Call it with mu held.
func (s *seenVersions) markDirty(k string) {
	if s.cfg == nil {
		return // A link's view keeps nothing: see save.
	}
	if s.dirty == nil {
		s.dirty = map[string]struct{}{}
	}
	s.dirty[k] = struct{}{}
}

// save writes what changed since the last save: it appends it to the
// journal, or compacts the journal if it grew too long.
func (s *seenVersions) save() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg == nil {
		// A link's view keeps nothing (cfg nil): it has no account.
		return nil
	}
	if len(s.dirty) == 0 && !s.rewrite {
		return nil
	}
	if s.rewrite || s.lines+len(s.dirty) > max(2*s.entries, seenCompactMin) {
		return s.compact()
	}
	return s.appendDirty()
}

// appendDirty appends the changed entries to the journal in one write,
// then syncs it. Call it with mu held.
func (s *seenVersions) appendDirty() error {
	// Opened for each save, not kept: a compaction by another process
	// replaces the file, and appends to the old one would be lost.
	f, err := os.OpenFile(filepath.Join(s.cfg.dir, s.name), os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("append to %s: %w", s.name, err)
	}
	defer f.Close()
	// An append must start a line. A file that does not end with one
	// has a torn last line (a crash, a full disk) or was written whole in
	// the old format by an older client since: it is compacted instead,
	// or the torn line would end up in the middle and read as damage.
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("append to %s: %w", s.name, err)
	}
	if st.Size() > 0 {
		var last [1]byte
		if _, err := f.ReadAt(last[:], st.Size()-1); err != nil {
			return fmt.Errorf("append to %s: %w", s.name, err)
		}
		if last[0] != '\n' {
			return s.compact()
		}
	}
	var buf bytes.Buffer
	for _, k := range slices.Sorted(maps.Keys(s.dirty)) {
		if err := appendSeenLine(&buf, k, s.v[k]); err != nil {
			return fmt.Errorf("append to %s: %w", s.name, err)
		}
	}
	// One write: with O_APPEND, another process's lines go before or
	// after these, never among them. On an error the entries stay dirty
	// and the next save writes them again (a repeated line is harmless).
	if _, err := f.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("append to %s: %w", s.name, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("append to %s: %w", s.name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("append to %s: %w", s.name, err)
	}
	s.lines += len(s.dirty)
	clear(s.dirty)
	return nil
}

// compact rewrites the journal whole and atomically, one line per node:
// the entries in the file now (other processes may have appended since
// this one loaded it) merged with this process's, which win at an equal
// version as the newer (see mergeSeen). The map in memory stays as it is
// (see seenVersions). Call it with mu held.
func (s *seenVersions) compact() error {
	v := map[string]seenRecord{}
	if b, err := os.ReadFile(filepath.Join(s.cfg.dir, s.name)); err == nil {
		if disk, _, _, err := parseSeen(b); err == nil {
			v = disk
		}
		// Damaged: nothing in it to keep (see loadSeen).
	}
	for k, r := range s.v {
		mergeSeen(v, k, r)
	}
	var buf bytes.Buffer
	for _, k := range slices.Sorted(maps.Keys(v)) {
		if err := appendSeenLine(&buf, k, v[k]); err != nil {
			return fmt.Errorf("compact %s: %w", s.name, err)
		}
	}
	if err := s.cfg.replace(s.name, buf.Bytes()); err != nil {
		return fmt.Errorf("compact seen versions: %w", err)
	}
	s.lines, s.entries, s.rewrite = len(v), len(v), false
	clear(s.dirty)
	return nil
}

// appendSeenLine appends k's line to buf.
func appendSeenLine(buf *bytes.Buffer, k string, r seenRecord) error {
	b, err := json.Marshal(seenLine{K: k, V: r.V, F: r.F})
	if err != nil {
		return err
	}
	buf.Write(b)
	buf.WriteByte('\n')
	return nil
}
