package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/coffer-drive/coffer/internal/blob"
	blobfile "github.com/coffer-drive/coffer/internal/blob/file"
	"github.com/coffer-drive/coffer/internal/blob/replicated"
	blobs3 "github.com/coffer-drive/coffer/internal/blob/s3"
	"github.com/coffer-drive/coffer/internal/meta"
)

// StorageConfig says where blocks are kept and how redundantly: the
// --store, --replicas, --write-quorum and --erasure flags shared by
// `coffer serve` and `coffer admin storage`.
type StorageConfig struct {
	// Stores are the block locations: file:///path or
	// s3://bucket[/prefix]?endpoint=…. None means DATA/blocks.
	Stores []string
	// Replicas is the number of copies of each block (0: one per location).
	Replicas int
	// WriteQuorum is how many locations must hold a block before an
	// upload is acknowledged (0: a majority of replicas, or K+1 shards).
	WriteQuorum int
	// Erasure, as "K+M", selects erasure coding instead of replicas.
	Erasure string
	// Timeout bounds each call to a location (0: 30 s).
	Timeout time.Duration
	// RepairInterval, ScrubInterval and ScrubRate pace the background
	// work (see replicated.RunOptions: zero picks the default, a negative
	// ScrubInterval turns scrubbing off).
	RepairInterval time.Duration
	ScrubInterval  time.Duration
	ScrubRate      int64
}

// policy parses the redundancy flags.
func (c StorageConfig) policy() (replicated.Policy, error) {
	p := replicated.Policy{Replicas: c.Replicas, WriteQuorum: c.WriteQuorum}
	if c.Erasure == "" {
		return p, nil
	}
	k, m, ok := strings.Cut(c.Erasure, "+")
	kn, kerr := strconv.Atoi(k)
	mn, merr := strconv.Atoi(m)
	if !ok || kerr != nil || merr != nil || kn < 1 || mn < 1 || kn+mn > 256 {
		return p, fmt.Errorf("--erasure %q: want K+M, such as 4+2", c.Erasure)
	}
	if c.Replicas != 0 {
		return p, errors.New("--replicas and --erasure exclude each other")
	}
	p.DataShards, p.ParityShards = kn, mn
	return p, nil
}

// OpenStorage opens every block location and the redundancy layer over
// them. Metrics go to reg, if not nil. The caller closes the store.
func OpenStorage(ctx context.Context, cfg StorageConfig, dataDir string, store meta.Store, log *slog.Logger, reg prometheus.Registerer) (*replicated.Store, error) {
	policy, err := cfg.policy()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stores := cfg.Stores
	if len(stores) == 0 {
		abs, err := filepath.Abs(filepath.Join(dataDir, "blocks"))
		if err != nil {
			return nil, fmt.Errorf("block folder: %w", err)
		}
		if err := os.MkdirAll(abs, 0o700); err != nil {
			return nil, fmt.Errorf("block folder: %w", err)
		}
		stores = []string{(&url.URL{Scheme: "file", Path: abs}).String()}
	}
	var locs []replicated.NamedLocation
	closeAll := func() {
		for _, l := range locs {
			l.Location.Close()
		}
	}
	for _, raw := range stores {
		l, err := openLocation(ctx, raw, log)
		if err != nil {
			closeAll()
			return nil, err
		}
		locs = append(locs, l)
	}
	s, err := replicated.New(replicated.Config{
		Locations:  locs,
		Policy:     policy,
		Catalog:    catalog{store},
		States:     states{store},
		Timeout:    cfg.Timeout,
		Log:        log,
		Registerer: reg,
	})
	if err != nil {
		closeAll()
		return nil, err
	}
	// Folders missing at start count as locations that are down, so that
	// a data centre out does not stop the rest; but with too few left for
	// an upload to succeed, say so now (most likely a mistyped --store).
	var missing []string
	for _, l := range locs {
		if p, ok := l.Location.(*pendingFolder); ok {
			missing = append(missing, p.dir)
		}
	}
	if len(locs)-len(missing) < s.Policy().WriteQuorum {
		s.Close()
		return nil, fmt.Errorf("block location folder %s does not exist: create it on the disk meant for it (%d of %d locations present, and uploads need %d)",
			strings.Join(missing, ", "), len(locs)-len(missing), len(locs), s.Policy().WriteQuorum)
	}
	deployment, err := checkLayout(ctx, store, policy, s.Locations())
	if err == nil {
		err = s.Bind(ctx, deployment)
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// layout is how blocks are laid out, as recorded in the metadata store
// (as JSON) the first time a server or operator command opens storage.
type layout struct {
	// Deployment is a random ID written into every location (see
	// replicated.Store.Bind), tying the locations to this metadata.
	Deployment string `json:"deployment"`
	// Erasure is "K+M", or empty for whole copies.
	Erasure string `json:"erasure,omitempty"`
	// Locations are the erasure-coded layout's locations, in the order
	// given: which shard lives where follows from them, and moving
	// shards when they change is not done yet.
	Locations []string `json:"locations,omitempty"`
}

func (l layout) describe() string {
	if l.Erasure == "" {
		return "whole copies"
	}
	return "erasure coding " + l.Erasure
}

// checkLayout compares the flags with the layout the blocks were stored
// with, recording it the first time, and returns the deployment ID. Read
// as copies, shards would all look corrupt (and the reverse), so a
// forgotten --erasure must stop the server, not make every block
// unreadable. With whole copies, locations may be added and removed:
// repair copies blocks to where they now belong. With erasure coding the
// set of locations is fixed for now.
func checkLayout(ctx context.Context, store meta.Store, p replicated.Policy, names []string) (string, error) {
	want := layout{}
	if p.DataShards > 0 {
		want.Erasure = fmt.Sprintf("%d+%d", p.DataShards, p.ParityShards)
		want.Locations = names
	}
	raw, err := store.StorageLayout(ctx)
	if errors.Is(err, meta.ErrNotFound) {
		var id [16]byte
		rand.Read(id[:])
		want.Deployment = hex.EncodeToString(id[:])
		n, _, err := store.CountBlocks(ctx)
		if err != nil {
			return "", fmt.Errorf("count blocks: %w", err)
		}
		if n > 0 && want.Erasure != "" {
			// Blocks stored before layouts were recorded are whole copies.
			return "", fmt.Errorf("the %d blocks already stored are whole copies, not erasure-coded: start without --erasure (changing the layout of stored blocks is not supported)", n)
		}
		b, _ := json.Marshal(want)
		if err := store.SaveStorageLayout(ctx, string(b)); err != nil {
			return "", fmt.Errorf("record the storage layout: %w", err)
		}
		return want.Deployment, nil
	}
	if err != nil {
		return "", fmt.Errorf("load the storage layout: %w", err)
	}
	var have layout
	if err := json.Unmarshal([]byte(raw), &have); err != nil || have.Deployment == "" {
		return "", fmt.Errorf("the recorded storage layout is unreadable: %q", raw)
	}
	if have.Erasure != want.Erasure {
		flag := "without --erasure"
		if have.Erasure != "" {
			flag = "with --erasure " + have.Erasure
		}
		return "", fmt.Errorf("the blocks are stored as %s, not %s: start %s (changing the layout of stored blocks is not supported)", have.describe(), want.describe(), flag)
	}
	if have.Erasure != "" && !slices.Equal(have.Locations, want.Locations) {
		return "", fmt.Errorf("erasure-coded blocks are spread over exactly these locations, in this order: %s; give the same --store flags (changing the locations of erasure-coded blocks is not supported yet)", strings.Join(have.Locations, ", "))
	}
	return have.Deployment, nil
}

// openLocation opens one --store URL, unchecked: the redundancy layer
// checks what it reads.
func openLocation(ctx context.Context, raw string, log *slog.Logger) (replicated.NamedLocation, error) {
	scheme, _, ok := strings.Cut(raw, "://")
	if !ok {
		// Not echoed: a malformed URL may hold pasted credentials.
		return replicated.NamedLocation{}, errors.New("--store: want file:///path or s3://bucket?endpoint=…")
	}
	switch scheme {
	case "file":
		u, err := url.Parse(raw)
		if err != nil || u.Host != "" && u.Host != "localhost" || u.Path == "" || u.RawQuery != "" {
			return replicated.NamedLocation{}, fmt.Errorf("--store %q: want file:///absolute/path", raw)
		}
		dir := filepath.Clean(u.Path)
		name := (&url.URL{Scheme: "file", Path: dir}).String()
		// The folder must exist: made here, it would quietly land on the
		// root disk when the disk meant for it is not mounted. Until it
		// does, the location counts as down, like an unreachable bucket.
		fi, err := os.Stat(dir)
		if errors.Is(err, fs.ErrNotExist) {
			log.Warn("block location folder missing; serving from the others until it is created", "location", name)
			return replicated.NamedLocation{Name: name, Location: &pendingFolder{dir: dir}}, nil
		}
		if err != nil || !fi.IsDir() {
			return replicated.NamedLocation{}, fmt.Errorf("block location %s: not a folder", dir)
		}
		st, err := blobfile.OpenUnchecked(dir)
		if err != nil {
			return replicated.NamedLocation{}, fmt.Errorf("open block location %s: %w", dir, err)
		}
		return replicated.NamedLocation{Name: name, Location: st}, nil
	case "s3":
		// s3's errors carry no credentials.
		st, err := blobs3.Open(ctx, raw, blobs3.Options{Unchecked: true, Lazy: true})
		if err != nil {
			return replicated.NamedLocation{}, fmt.Errorf("open block location: %w", err)
		}
		if err := st.Check(ctx); err != nil {
			if !blobs3.Unreachable(err) {
				st.Close()
				return replicated.NamedLocation{}, fmt.Errorf("open block location: %w", err)
			}
			// A location that is down (a data centre out) must not keep
			// the others from serving: its circuit breaker and repair
			// deal with it. A wrong bucket or credentials still stop here.
			log.Warn("block location unreachable at start; serving from the others", "location", st.String(), "err", err)
		}
		return replicated.NamedLocation{Name: st.String(), Location: st}, nil
	}
	return replicated.NamedLocation{}, fmt.Errorf("--store: unknown scheme %q: want file or s3", scheme)
}

// catalog is the metadata store seen as the list of blocks to keep.
type catalog struct{ store meta.Store }

func (c catalog) Blocks(ctx context.Context, prefix byte, fn func(blob.ID, int64) error) error {
	return c.store.BlocksWithPrefix(ctx, prefix, func(raw []byte, size int64) error {
		var id blob.ID
		copy(id[:], raw)
		return fn(id, size)
	})
}

func (c catalog) Unknown(ctx context.Context, ids []blob.ID) ([]blob.ID, error) {
	raw := make([][]byte, len(ids))
	for i := range ids {
		raw[i] = ids[i][:]
	}
	unknown, err := c.store.UnknownBlocks(ctx, raw)
	if err != nil {
		return nil, err
	}
	out := make([]blob.ID, len(unknown))
	for i, u := range unknown {
		copy(out[i][:], u)
	}
	return out, nil
}

// states keeps the locations' scrub and repair progress in the metadata
// store, where every server process sees it.
type states struct{ store meta.Store }

func (s states) Load(ctx context.Context, name string) (replicated.LocationState, error) {
	loc, err := s.store.StorageLocation(ctx, name)
	if errors.Is(err, meta.ErrNotFound) {
		return replicated.LocationState{}, nil
	}
	if err != nil {
		return replicated.LocationState{}, err
	}
	return replicated.LocationState{ScrubbedAt: loc.ScrubbedAt, ScrubNext: loc.ScrubNext, RepairedAt: loc.RepairedAt}, nil
}

func (s states) Save(ctx context.Context, name string, st replicated.LocationState) error {
	return s.store.SaveStorageLocation(ctx, meta.StorageLocation{Name: name, ScrubbedAt: st.ScrubbedAt, ScrubNext: st.ScrubNext, RepairedAt: st.RepairedAt})
}

// pendingFolder is a folder location that did not exist at start. Every
// call fails, saying what to do, until the operator creates the folder;
// then it opens the store and works from there on.
type pendingFolder struct {
	dir string
	mu  sync.Mutex
	st  *blobfile.Store
}

func (p *pendingFolder) store() (*blobfile.Store, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.st != nil {
		return p.st, nil
	}
	if fi, err := os.Stat(p.dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("block folder %s does not exist: create it on the disk meant for it, then run coffer admin storage repair", p.dir)
	}
	st, err := blobfile.OpenUnchecked(p.dir)
	if err != nil {
		return nil, fmt.Errorf("open block location %s: %w", p.dir, err)
	}
	p.st = st
	return st, nil
}

func (p *pendingFolder) Put(ctx context.Context, id blob.ID, r io.Reader) error {
	st, err := p.store()
	if err != nil {
		return err
	}
	return st.Put(ctx, id, r)
}

func (p *pendingFolder) PutBatch(ctx context.Context, blocks []blob.Block) error {
	st, err := p.store()
	if err != nil {
		return err
	}
	return st.PutBatch(ctx, blocks)
}

func (p *pendingFolder) Get(ctx context.Context, id blob.ID) (io.ReadCloser, error) {
	st, err := p.store()
	if err != nil {
		return nil, err
	}
	return st.Get(ctx, id)
}

func (p *pendingFolder) Stat(ctx context.Context, id blob.ID) (int64, error) {
	st, err := p.store()
	if err != nil {
		return 0, err
	}
	return st.Stat(ctx, id)
}

func (p *pendingFolder) Delete(ctx context.Context, id blob.ID) error {
	st, err := p.store()
	if err != nil {
		return err
	}
	return st.Delete(ctx, id)
}

func (p *pendingFolder) Scan(ctx context.Context, prefix byte, fn func(blob.Info) error) error {
	st, err := p.store()
	if err != nil {
		return err
	}
	return st.Scan(ctx, prefix, fn)
}

func (p *pendingFolder) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.st != nil {
		return p.st.Close()
	}
	return nil
}
