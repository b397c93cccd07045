package client

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// resumeState lets an interrupted upload of a large file continue where it
// stopped: the next `put` of the same file to the same place reuses the
// revision's content key and sends only the blocks the server lacks.
//
// It holds no secret in the clear: the node key and the content key are
// stored sealed, as the server stores them. A block is reused only if the
// local file is unchanged by the quick check (size, modification time,
// change time and inode); otherwise the upload starts afresh with a new
// revision and new keys, so no nonce or key is ever used for other data.
type resumeState struct {
	Identity         fileIdentity      `json:"identity"`
	NewNode          bool              `json:"new_node"`
	NodeID           []byte            `json:"node_id"`
	SealedNodeKey    []byte            `json:"sealed_node_key,omitempty"`
	Revision         []byte            `json:"revision"`
	Seq              uint64            `json:"seq"`
	SealedContentKey []byte            `json:"sealed_content_key"`
	Blocks           map[int]blockDone `json:"blocks"`

	mu    sync.Mutex
	cfg   *Config
	name  string
	saved time.Time
}

type blockDone struct {
	ID []byte `json:"id"`
}

// fileIdentity is the quick check that a local file did not change.
type fileIdentity struct {
	Size  int64  `json:"size"`
	MTime int64  `json:"mtime"`
	CTime int64  `json:"ctime"`
	Inode uint64 `json:"inode"`
}

func identityOf(info fs.FileInfo) fileIdentity {
	id := fileIdentity{Size: info.Size(), MTime: info.ModTime().UnixNano()}
	id.CTime, id.Inode = sysIdentity(info)
	return id
}

func resumeName(d *Drive, parent *Entry, name, local string) string {
	abs, err := filepath.Abs(local)
	if err != nil {
		abs = local
	}
	s := d.acc.Session
	h := sha256.Sum256([]byte(s.Server + "\x00" + s.User + "\x00" + string(parent.vol) + "\x00" + string(parent.ID) + "\x00" + name + "\x00" + abs))
	return filepath.Join("uploads", hex.EncodeToString(h[:16])+".json")
}

// loadResume returns the saved state for this upload, or nil.
func loadResume(cfg *Config, name string) (*resumeState, error) {
	if err := os.MkdirAll(filepath.Join(cfg.dir, "uploads"), 0o700); err != nil {
		return nil, fmt.Errorf("create uploads folder: %w", err)
	}
	st := &resumeState{}
	if err := cfg.read(name, st); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		// A damaged state file only costs a fresh upload.
		_ = os.Remove(filepath.Join(cfg.dir, name))
		return nil, nil
	}
	st.cfg, st.name = cfg, name
	if st.Blocks == nil {
		st.Blocks = map[int]blockDone{}
	}
	return st, nil
}

// uploaded records a stored block and saves the state now and then.
func (st *resumeState) uploaded(i int, id [32]byte) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.Blocks[i] = blockDone{ID: append([]byte(nil), id[:]...)}
	if time.Since(st.saved) > 2*time.Second {
		st.saveLocked()
	}
}

func (st *resumeState) save() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.saveLocked()
}

func (st *resumeState) saveLocked() error {
	st.saved = time.Now()
	return st.cfg.write(st.name, st)
}

func (st *resumeState) remove() {
	_ = os.Remove(filepath.Join(st.cfg.dir, st.name))
}
