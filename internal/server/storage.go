package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
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
	if err := checkLayout(ctx, store, policy); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// checkLayout refuses a layout other than the one the blocks were stored
// with: read as copies, shards would all look corrupt (and the reverse),
// so a forgotten --erasure must stop the server, not make every block
// unreadable. Adding or removing locations, or changing the number of
// replicas, is allowed: repair moves blocks to where they now belong.
func checkLayout(ctx context.Context, store meta.Store, p replicated.Policy) error {
	want := "replicas"
	if p.DataShards > 0 {
		want = fmt.Sprintf("erasure %d+%d", p.DataShards, p.ParityShards)
	}
	have, err := store.StorageLayout(ctx)
	switch {
	case errors.Is(err, meta.ErrNotFound):
		if err := store.SaveStorageLayout(ctx, want); err != nil {
			return fmt.Errorf("record the storage layout: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("load the storage layout: %w", err)
	case have != want:
		flag := "no --erasure flag"
		if k, ok := strings.CutPrefix(have, "erasure "); ok {
			flag = "--erasure " + k
		}
		return fmt.Errorf("the blocks are stored as %s, not %s: start with %s (changing the layout of stored blocks is not supported)", have, want, flag)
	}
	return nil
}

// openLocation opens one --store URL, unchecked: the redundancy layer
// checks what it reads.
func openLocation(ctx context.Context, raw string, log *slog.Logger) (replicated.NamedLocation, error) {
	scheme, _, ok := strings.Cut(raw, "://")
	if !ok {
		return replicated.NamedLocation{}, fmt.Errorf("--store %q: want file:///path or s3://bucket?endpoint=…", raw)
	}
	switch scheme {
	case "file":
		u, err := url.Parse(raw)
		if err != nil || u.Host != "" && u.Host != "localhost" || u.Path == "" || u.RawQuery != "" {
			return replicated.NamedLocation{}, fmt.Errorf("--store %q: want file:///absolute/path", raw)
		}
		dir := filepath.Clean(u.Path)
		fs, err := blobfile.OpenUnchecked(dir)
		if err != nil {
			return replicated.NamedLocation{}, fmt.Errorf("open block location %s: %w", dir, err)
		}
		return replicated.NamedLocation{Name: (&url.URL{Scheme: "file", Path: dir}).String(), Location: fs}, nil
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
