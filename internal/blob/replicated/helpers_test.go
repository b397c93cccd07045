package replicated

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/coffer-drive/coffer/internal/blob"
	"github.com/coffer-drive/coffer/internal/blob/file"
)

// flaky wraps a real location so a test can take it down (every call
// fails at once) or make it hang (every call waits for its context).
type flaky struct {
	Location
	down  atomic.Bool
	hang  atomic.Bool
	stuck chan struct{} // if set, calls block until it is closed, ignoring their context
}

var errUnplugged = errors.New("connection refused (test)")

func (f *flaky) gate(ctx context.Context) error {
	if f.stuck != nil {
		<-f.stuck // a system call on a dead hard mount: no context helps
	}
	if f.hang.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	if f.down.Load() {
		return errUnplugged
	}
	return nil
}

func (f *flaky) Put(ctx context.Context, id blob.ID, r io.Reader) error {
	if err := f.gate(ctx); err != nil {
		return err
	}
	return f.Location.Put(ctx, id, r)
}

func (f *flaky) PutBatch(ctx context.Context, b []blob.Block) error {
	if err := f.gate(ctx); err != nil {
		return err
	}
	return f.Location.PutBatch(ctx, b)
}

func (f *flaky) Get(ctx context.Context, id blob.ID) (io.ReadCloser, error) {
	if err := f.gate(ctx); err != nil {
		return nil, err
	}
	return f.Location.Get(ctx, id)
}

func (f *flaky) Stat(ctx context.Context, id blob.ID) (int64, error) {
	if err := f.gate(ctx); err != nil {
		return 0, err
	}
	return f.Location.Stat(ctx, id)
}

func (f *flaky) Delete(ctx context.Context, id blob.ID) error {
	if err := f.gate(ctx); err != nil {
		return err
	}
	return f.Location.Delete(ctx, id)
}

func (f *flaky) Scan(ctx context.Context, p byte, fn func(blob.Info) error) error {
	if err := f.gate(ctx); err != nil {
		return err
	}
	return f.Location.Scan(ctx, p, fn)
}

// catalog is an in-memory Catalog: the blocks the test recorded.
type catalog struct {
	mu sync.Mutex
	m  map[blob.ID]int64
}

func (c *catalog) add(id blob.ID, size int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[id] = size
}

func (c *catalog) remove(id blob.ID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}

func (c *catalog) Blocks(_ context.Context, p byte, fn func(blob.ID, int64) error) error {
	c.mu.Lock()
	var ids []blob.ID
	for id := range c.m {
		if id[0] == p {
			ids = append(ids, id)
		}
	}
	c.mu.Unlock()
	slices.SortFunc(ids, func(a, b blob.ID) int { return bytes.Compare(a[:], b[:]) })
	for _, id := range ids {
		c.mu.Lock()
		size, ok := c.m[id]
		c.mu.Unlock()
		if ok {
			if err := fn(id, size); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *catalog) Unknown(_ context.Context, ids []blob.ID) ([]blob.ID, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []blob.ID
	for _, id := range ids {
		if _, ok := c.m[id]; !ok {
			out = append(out, id)
		}
	}
	return out, nil
}

// rig is a Store over real folders, with handles to break them.
type rig struct {
	t     *testing.T
	s     *Store
	dirs  []string
	locs  []*flaky
	cat   *catalog
	reg   *prometheus.Registry
	data  map[blob.ID][]byte
	order []blob.ID
}

type rigOpts struct {
	n      int
	policy Policy
	noCat  bool
	grace  time.Duration
	// timeout bounds each call to a location; 0 means 15 s, long enough
	// for a machine busy with other tests: only the tests of hung
	// locations wait it out, and they set a short one.
	timeout time.Duration
}

func newRig(t *testing.T, o rigOpts) *rig {
	t.Helper()
	r := &rig{t: t, cat: &catalog{m: make(map[blob.ID]int64)}, reg: prometheus.NewRegistry(), data: make(map[blob.ID][]byte)}
	var named []NamedLocation
	for i := range o.n {
		dir := filepath.Join(t.TempDir(), fmt.Sprintf("loc%d", i))
		fs, err := file.OpenUnchecked(dir)
		if err != nil {
			t.Fatal(err)
		}
		f := &flaky{Location: fs}
		r.dirs = append(r.dirs, dir)
		r.locs = append(r.locs, f)
		named = append(named, NamedLocation{Name: "file://" + dir, Location: f})
	}
	cfg := Config{Locations: named, Policy: o.policy, Timeout: cmp.Or(o.timeout, 15*time.Second), Grace: o.grace, Registerer: r.reg}
	if !o.noCat {
		cfg.Catalog = r.cat
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	r.s = s
	return r
}

// putBlocks stores n blocks of assorted sizes (some empty, some the
// largest) in batches, and records them.
func (r *rig) putBlocks(n int, seed uint64) {
	r.t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	sizes := []int{0, 1, 5, 4096, 100_000, 4<<20 + 29}
	var batch []blob.Block
	for i := range n {
		size := sizes[i%len(sizes)]
		if i >= len(sizes) {
			size = rng.IntN(300_000)
		}
		data := make([]byte, size)
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		id := blob.Sum(data)
		r.data[id] = data
		r.order = append(r.order, id)
		batch = append(batch, blob.Block{ID: id, Data: data})
		if len(batch) == 8 || i == n-1 {
			if err := r.s.PutBatch(r.t.Context(), batch); err != nil {
				r.t.Fatalf("PutBatch: %v", err)
			}
			for _, b := range batch {
				r.cat.add(b.ID, int64(len(b.Data)))
			}
			batch = nil
		}
	}
}

// checkAll reads every block back and compares it byte for byte.
func (r *rig) checkAll() {
	r.t.Helper()
	for _, id := range r.order {
		rc, err := r.s.Get(r.t.Context(), id)
		if err != nil {
			r.t.Fatalf("Get %s: %v", id, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, r.data[id]) {
			r.t.Fatalf("Get %s: %d bytes, err %v; want the %d bytes stored", id, len(got), err, len(r.data[id]))
		}
	}
}

// wipe empties location i as if its disk had been replaced: the folder
// is deleted and a new store opened on the same path.
func (r *rig) wipe(i int) {
	r.t.Helper()
	r.s.bg.Wait()
	if err := os.RemoveAll(r.dirs[i]); err != nil {
		r.t.Fatal(err)
	}
	fs, err := file.OpenUnchecked(r.dirs[i])
	if err != nil {
		r.t.Fatal(err)
	}
	r.locs[i].Location = fs
}

// objectPath is where location i keeps the object for id.
func (r *rig) objectPath(i int, id blob.ID) string {
	h := id.String()
	return filepath.Join(r.dirs[i], h[0:2], h[2:4], h)
}

// corruptAt flips one random bit of location i's object for id and
// reports whether there was one.
func (r *rig) corruptAt(i int, id blob.ID, rng *rand.Rand) bool {
	r.t.Helper()
	p := r.objectPath(i, id)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	if err != nil {
		r.t.Fatal(err)
	}
	if len(b) == 0 {
		// An empty copy cannot have a bit flipped; give it a byte.
		b = []byte{1}
	} else {
		b[rng.IntN(len(b))] ^= 1 << rng.IntN(8)
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		r.t.Fatal(err)
	}
	return true
}

func (r *rig) status() Status {
	r.t.Helper()
	st, err := r.s.Status(r.t.Context())
	if err != nil {
		r.t.Fatalf("Status: %v", err)
	}
	return st
}

// wantFull checks that status shows every block at full redundancy in
// every location it belongs in.
func (r *rig) wantFull() {
	r.t.Helper()
	st := r.status()
	if st.UnderReplicated != 0 || st.Lost != 0 || st.Blocks != int64(len(r.order)) {
		r.t.Fatalf("status: %d blocks, %d under-replicated, %d lost; want %d, 0, 0", st.Blocks, st.UnderReplicated, st.Lost, len(r.order))
	}
	var held int64
	for _, l := range st.Locations {
		if !l.Reachable || l.Missing != 0 {
			r.t.Fatalf("location %s: reachable %v, %d missing", l.Name, l.Reachable, l.Missing)
		}
		held += l.Objects
	}
	if want := int64(len(r.order) * r.s.policy.width()); held != want {
		r.t.Fatalf("locations hold %d objects, want %d", held, want)
	}
}

func counter(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	return testutil.ToFloat64(c)
}
