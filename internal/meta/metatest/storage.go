package metatest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffer-drive/coffer/internal/meta"
)

// runStorage runs the suite's part on what the repair worker and the
// scrubber of the block locations keep in the store: the catalog of
// blocks and each location's progress.
func runStorage(t *testing.T, open func(t *testing.T) meta.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"BlockCatalog", blockCatalogTests},
		{"StorageLocations", storageLocationTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					tc.run(t, open(t))
				})
			}
		})
	}
}

// walkLimit is more calls of fn than any walk of the suite should make;
// past it the walk is stopped with errRunaway rather than left to run out
// of memory or time, as one that goes back on itself would.
const walkLimit = 10_000

var errRunaway = errors.New("fn called more often than there are blocks")

// noDeadlock returns the test's context with a deadline, for walks whose
// fn calls the store: a store that makes those calls wait for the walk to
// end then fails the test instead of hanging it.
func noDeadlock(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// catalogBlock is one block as BlocksWithPrefix reports it.
type catalogBlock struct {
	id   []byte
	size int64
}

func (b catalogBlock) String() string { return fmt.Sprintf("%x:%d", b.id, b.size) }

// filled returns the block ID that is prefix followed by 31 bytes of b.
func filled(prefix, b byte) []byte {
	id := bytes.Repeat([]byte{b}, 32)
	id[0] = prefix
	return id
}

// prefixed returns a block ID that starts with prefix, otherwise the ID of
// the block called name.
func prefixed(prefix byte, name string) []byte {
	id := blockID(name)
	id[0] = prefix
	return id
}

// addCatalog records blocks as uploads of owner, in the order given.
func addCatalog(t *testing.T, s meta.Store, owner int64, blocks []catalogBlock) {
	t.Helper()
	infos := make([]meta.BlockInfo, len(blocks))
	for i, b := range blocks {
		infos[i] = meta.BlockInfo{ID: b.id, Size: b.size}
	}
	if err := s.AddBlocks(t.Context(), owner, infos, t0); err != nil {
		t.Fatalf("AddBlocks(%d blocks): %v", len(blocks), err)
	}
}

// sortedCatalog returns the blocks of list that start with prefix, in
// ascending ID order.
func sortedCatalog(list []catalogBlock, prefix byte) []catalogBlock {
	var out []catalogBlock
	for _, b := range list {
		if b.id[0] == prefix {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b catalogBlock) int { return bytes.Compare(a.id, b.id) })
	return out
}

// walk returns what BlocksWithPrefix passes to fn, keeping the IDs as
// given rather than copies, so that a store reusing its buffers shows.
func walk(t *testing.T, s meta.Store, prefix byte) []catalogBlock {
	t.Helper()
	var got []catalogBlock
	err := s.BlocksWithPrefix(t.Context(), prefix, func(id []byte, size int64) error {
		if len(got) == walkLimit {
			return errRunaway
		}
		got = append(got, catalogBlock{id, size})
		return nil
	})
	if err != nil {
		t.Fatalf("BlocksWithPrefix(%02x): %v", prefix, err)
	}
	return got
}

// checkWalk checks that BlocksWithPrefix gives exactly want, in order.
func checkWalk(t *testing.T, s meta.Store, prefix byte, want []catalogBlock) {
	t.Helper()
	checkBlocks(t, fmt.Sprintf("BlocksWithPrefix(%02x)", prefix), walk(t, s, prefix), want)
}

// checkBlocks checks that got is exactly want, in order.
func checkBlocks(t *testing.T, what string, got, want []catalogBlock) {
	t.Helper()
	equal := func(a, b catalogBlock) bool { return bytes.Equal(a.id, b.id) && a.size == b.size }
	if slices.EqualFunc(got, want, equal) {
		return
	}
	if len(got) > 10 || len(want) > 10 {
		i := 0
		for i < min(len(got), len(want)) && equal(got[i], want[i]) {
			i++
		}
		t.Errorf("%s gave %d blocks, want %d; the first difference is at #%d", what, len(got), len(want), i)
		return
	}
	t.Errorf("%s gave %v, want %v", what, got, want)
}

// walkAll walks every prefix in turn and returns the whole catalog.
func walkAll(t *testing.T, s meta.Store) []catalogBlock {
	t.Helper()
	var all []catalogBlock
	for p := range 256 {
		for _, b := range walk(t, s, byte(p)) {
			if b.id[0] != byte(p) {
				t.Errorf("BlocksWithPrefix(%02x) gave block %x", p, b.id)
			}
			all = append(all, b)
		}
	}
	if !slices.IsSortedFunc(all, func(a, b catalogBlock) int { return bytes.Compare(a.id, b.id) }) {
		t.Errorf("the walks of all prefixes are not in ascending ID order")
	}
	return all
}

// checkCount checks CountBlocks.
func checkCount(t *testing.T, s meta.Store, n, size int64) {
	t.Helper()
	gotN, gotSize, err := s.CountBlocks(t.Context())
	if err != nil {
		t.Fatalf("CountBlocks: %v", err)
	}
	if gotN != n || gotSize != size {
		t.Errorf("CountBlocks = %d blocks of %d bytes, want %d of %d", gotN, gotSize, n, size)
	}
}

// named returns the catalog entries of the blocks called names, each of
// size bytes.
func named(size int64, names ...string) []catalogBlock {
	out := make([]catalogBlock, len(names))
	for i, name := range names {
		out[i] = catalogBlock{blockID(name), size}
	}
	return out
}

// sortBlocks sorts a catalog in ascending ID order.
func sortBlocks(list []catalogBlock) []catalogBlock {
	slices.SortFunc(list, func(a, b catalogBlock) int { return bytes.Compare(a.id, b.id) })
	return list
}

// pageBlocks returns n blocks starting with prefix, out of ID order, of
// sizes 1..n. n is past a page of any likely size (a thousand or so).
func pageBlocks(prefix byte, n int) []catalogBlock {
	out := make([]catalogBlock, n)
	for i := range n {
		out[i] = catalogBlock{prefixed(prefix, fmt.Sprintf("page %02x %d", prefix, i)), int64(i + 1)}
	}
	return out
}

var blockCatalogTests = []test{
	{"PrefixFilter", func(t *testing.T, s meta.Store) {
		owner := createUser(t, s, newUser("alice"))
		// The IDs at the very edges of each prefix, and of the
		// neighbouring prefixes, so that a bound off by one shows.
		list := []catalogBlock{
			{filled(0x7f, 0xff), 1},
			{filled(0x00, 0x00), 2},
			{filled(0xff, 0xff), 3},
			{prefixed(0x7f, "a"), 4},
			{filled(0x80, 0x00), 5},
			{filled(0x00, 0xff), 6},
			{prefixed(0xff, "b"), 0},
			{filled(0x7e, 0xff), 8},
			{prefixed(0x00, "c"), 9},
			{filled(0x7f, 0x00), 10},
			{filled(0x01, 0x00), 11},
			{filled(0xff, 0x00), 12},
			{filled(0xfe, 0xff), 13},
			{prefixed(0x7f, "d"), 1 << 40},
		}
		addCatalog(t, s, owner, list)
		for _, p := range []byte{0x00, 0x01, 0x7e, 0x7f, 0x80, 0xfe, 0xff} {
			checkWalk(t, s, p, sortedCatalog(list, p))
		}
		if n := len(sortedCatalog(list, 0x7f)); n != 4 {
			t.Fatalf("the test has %d blocks under 7f, want 4", n)
		}
		// A prefix without blocks, between two that have some.
		checkWalk(t, s, 0x42, nil)
		checkBlocks(t, "the walks of all prefixes", walkAll(t, s), sortBlocks(slices.Clone(list)))
	}},
	{"EmptyStore", func(t *testing.T, s meta.Store) {
		for _, p := range []byte{0x00, 0x7f, 0xff} {
			checkWalk(t, s, p, nil)
		}
		checkCount(t, s, 0, 0)
	}},
	{"ReferencedOrNot", func(t *testing.T, s meta.Store) {
		// Every recorded block must be kept: one a file uses, one just
		// uploaded and not committed, one no revision uses any more.
		d := newDrive(t, s, "alice")
		f, _ := d.file(d.root, "f", "old")
		d.commit(f, 1, "head")
		d.upload(500, "pending")
		checkGarbage(t, s, []string{"old", "head", "pending"}, "old", "pending")
		want := sortBlocks(append(named(1000, "old", "head"), named(500, "pending")...))
		checkBlocks(t, "the walks of all prefixes", walkAll(t, s), want)
		for _, b := range want {
			checkWalk(t, s, b.id[0], sortedCatalog(want, b.id[0]))
		}
		checkCount(t, s, 3, 2500)
	}},
	{"CollectedBlocksGo", func(t *testing.T, s meta.Store) {
		d := newDrive(t, s, "alice")
		f, _ := d.file(d.root, "f", "old")
		d.commit(f, 1, "head")
		d.upload(500, "pending")
		collect(t, s, "old", "pending")
		checkBlocks(t, "the walks of all prefixes", walkAll(t, s), named(1000, "head"))
		for _, name := range []string{"old", "pending"} {
			for _, b := range walk(t, s, blockID(name)[0]) {
				if bytes.Equal(b.id, blockID(name)) {
					t.Errorf("collected block %s is still walked", name)
				}
			}
		}
		checkCount(t, s, 1, 1000)
		// Emptying the trash leaves the block recorded until it is
		// collected.
		if err := s.TrashNode(t.Context(), f.ID, t0); err != nil {
			t.Fatalf("TrashNode: %v", err)
		}
		if _, err := s.EmptyTrash(t.Context(), d.vol.ID); err != nil {
			t.Fatalf("EmptyTrash: %v", err)
		}
		checkBlocks(t, "the walks of all prefixes after emptying the trash", walkAll(t, s), named(1000, "head"))
		collect(t, s, "head")
		checkBlocks(t, "the walks of all prefixes after collecting", walkAll(t, s), nil)
		checkCount(t, s, 0, 0)
	}},
	{"ManyPages", func(t *testing.T, s meta.Store) {
		owner := createUser(t, s, newUser("alice"))
		big := pageBlocks(0x5a, 2500)
		exact := pageBlocks(0x5b, 1000)
		edges := []catalogBlock{{filled(0x59, 0xff), 7}, {filled(0x5c, 0x00), 8}}
		addCatalog(t, s, owner, big)
		addCatalog(t, s, owner, exact)
		addCatalog(t, s, owner, edges)
		// walk keeps the IDs it was given: all 2500 must still be right
		// at the end, each seen once and in order.
		checkWalk(t, s, 0x5a, sortBlocks(slices.Clone(big)))
		checkWalk(t, s, 0x5b, sortBlocks(slices.Clone(exact)))
		checkWalk(t, s, 0x59, edges[:1])
		checkWalk(t, s, 0x5c, edges[1:])

		var total int64
		for _, b := range slices.Concat(big, exact, edges) {
			total += b.size
		}
		checkCount(t, s, 3502, total)
	}},
	{"IDsBelongToFn", func(t *testing.T, s meta.Store) {
		// fn may scribble over the IDs it is given: the walk must go on
		// as if it had not.
		owner := createUser(t, s, newUser("alice"))
		list := pageBlocks(0x33, 2100)
		addCatalog(t, s, owner, list)
		var got []catalogBlock
		err := s.BlocksWithPrefix(t.Context(), 0x33, func(id []byte, size int64) error {
			if len(got) == walkLimit {
				return errRunaway
			}
			got = append(got, catalogBlock{slices.Clone(id), size})
			clear(id)
			return nil
		})
		if err != nil {
			t.Fatalf("BlocksWithPrefix: %v", err)
		}
		checkBlocks(t, "BlocksWithPrefix(33) with an fn that clears its IDs", got, sortBlocks(list))
	}},
	{"ErrorStops", func(t *testing.T, s meta.Store) {
		owner := createUser(t, s, newUser("alice"))
		addCatalog(t, s, owner, pageBlocks(0x10, 5))
		addCatalog(t, s, owner, pageBlocks(0x20, 2100))
		errStop := errors.New("stop")
		wrapped := fmt.Errorf("scrub: %w", errStop)
		for _, c := range []struct {
			prefix byte
			at     int // the call that fails
			err    error
		}{
			{0x10, 1, errStop},
			{0x10, 3, errStop},
			{0x10, 5, wrapped},
			// The last call of a page of a thousand, the first of the
			// next: the walk must stop there too, not read on.
			{0x20, 1000, errStop},
			{0x20, 1001, wrapped},
			{0x20, 2100, errStop},
		} {
			calls := 0
			err := s.BlocksWithPrefix(t.Context(), c.prefix, func(id []byte, size int64) error {
				calls++
				switch {
				case calls == c.at:
					return c.err
				case calls > c.at:
					return errRunaway
				}
				return nil
			})
			if err != c.err || !errors.Is(err, errStop) {
				t.Errorf("BlocksWithPrefix(%02x) failing at call %d returned %v (%T), want %v itself",
					c.prefix, c.at, err, err, c.err)
			}
			if calls != c.at {
				t.Errorf("BlocksWithPrefix(%02x) failing at call %d called fn %d times", c.prefix, c.at, calls)
			}
		}
	}},
	{"Canceled", func(t *testing.T, s meta.Store) {
		owner := createUser(t, s, newUser("alice"))
		addCatalog(t, s, owner, pageBlocks(0x44, 1500))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		calls := 0
		err := s.BlocksWithPrefix(ctx, 0x44, func([]byte, int64) error { calls++; return errRunaway })
		if !errors.Is(err, context.Canceled) || calls != 0 {
			t.Errorf("BlocksWithPrefix with a canceled context = %v after %d calls, want context.Canceled after none", err, calls)
		}
		// Canceled during the walk: fn is not called again, and the walk
		// does not look complete.
		ctx, cancel = context.WithCancel(t.Context())
		defer cancel()
		calls = 0
		err = s.BlocksWithPrefix(ctx, 0x44, func([]byte, int64) error {
			if calls++; calls == 10 {
				cancel()
			} else if calls > 10 {
				return errRunaway
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) || calls != 10 {
			t.Errorf("BlocksWithPrefix canceled at call 10 = %v after %d calls, want context.Canceled after 10", err, calls)
		}
	}},
	{"FnUsesStore", func(t *testing.T, s meta.Store) {
		// The scrubber and repair worker call the store from fn, and
		// uploads go on meanwhile: nothing may wait for the walk to end.
		ctx := noDeadlock(t)
		owner := createUser(t, s, newUser("alice"))
		list := pageBlocks(0x30, 1500)
		addCatalog(t, s, owner, list)
		doomed := pageBlocks(0x32, 4)
		addCatalog(t, s, owner, doomed)

		var got []catalogBlock
		var added []catalogBlock
		err := s.BlocksWithPrefix(ctx, 0x30, func(id []byte, size int64) error {
			if len(got) == walkLimit {
				return errRunaway
			}
			got = append(got, catalogBlock{id, size})
			switch len(got) {
			case 1, 1000, 1001, 1500:
			default:
				return nil
			}
			b := catalogBlock{prefixed(0x31, fmt.Sprint("added ", len(got))), int64(len(got))}
			if err := s.AddBlock(ctx, owner, b.id, b.size, t0); err != nil {
				return fmt.Errorf("AddBlock: %w", err)
			}
			added = append(added, b)
			if gone, err := s.DeleteBlock(ctx, doomed[len(added)-1].id); err != nil || !gone {
				return fmt.Errorf("DeleteBlock = %v, %v", gone, err)
			}
			if _, _, err := s.CountBlocks(ctx); err != nil {
				return fmt.Errorf("CountBlocks: %w", err)
			}
			n := 0
			if err := s.BlocksWithPrefix(ctx, 0x31, func([]byte, int64) error { n++; return nil }); err != nil {
				return fmt.Errorf("nested BlocksWithPrefix: %w", err)
			}
			if n != len(added) {
				return fmt.Errorf("nested BlocksWithPrefix saw %d blocks, want %d", n, len(added))
			}
			loc := meta.StorageLocation{Name: "file:///srv/blocks", ScrubNext: 0x31, ScrubbedAt: t0}
			if err := s.SaveStorageLocation(ctx, loc); err != nil {
				return fmt.Errorf("SaveStorageLocation: %w", err)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("BlocksWithPrefix: %v", err)
		}
		checkBlocks(t, "BlocksWithPrefix(30) calling the store", got, sortBlocks(list))
		checkWalk(t, s, 0x31, sortBlocks(added))
		checkWalk(t, s, 0x32, nil)
		checkCount(t, s, 1504, 1500*1501/2+1+1000+1001+1500)
	}},
	{"NotASnapshot", func(t *testing.T, s meta.Store) {
		// Blocks added and deleted during the walk, behind it and ahead
		// of it, may be seen or not; every other block is seen once,
		// and the order holds.
		ctx := noDeadlock(t)
		owner := createUser(t, s, newUser("alice"))
		list := sortBlocks(pageBlocks(0x60, 2500))
		addCatalog(t, s, owner, list)
		changed := map[string]bool{}
		var got []catalogBlock
		err := s.BlocksWithPrefix(ctx, 0x60, func(id []byte, size int64) error {
			if len(got) == walkLimit {
				return errRunaway
			}
			got = append(got, catalogBlock{id, size})
			if len(got)%400 != 0 {
				return nil
			}
			for _, b := range []catalogBlock{
				{append(slices.Clone(id[:31]), id[31]^1), 1}, // beside this one
				{filled(0x60, 0x00), 2},                      // behind
				{filled(0x60, 0xff), 3},                      // ahead
			} {
				if err := s.AddBlock(ctx, owner, b.id, b.size, t0); err != nil {
					return fmt.Errorf("AddBlock: %w", err)
				}
				changed[string(b.id)] = true
			}
			for _, ahead := range []int{len(got) + 1, len(got) + 700} {
				if ahead < len(list) && !changed[string(list[ahead].id)] {
					if _, err := s.DeleteBlock(ctx, list[ahead].id); err != nil {
						return fmt.Errorf("DeleteBlock: %w", err)
					}
					changed[string(list[ahead].id)] = true
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("BlocksWithPrefix: %v", err)
		}
		if !slices.IsSortedFunc(got, func(a, b catalogBlock) int { return bytes.Compare(a.id, b.id) }) {
			t.Errorf("BlocksWithPrefix(60) out of order while the catalog changed")
		}
		seen := map[string]int{}
		for _, b := range got {
			if seen[string(b.id)]++; seen[string(b.id)] == 2 {
				t.Errorf("block %x seen twice", b.id)
			}
		}
		missed := 0
		for _, b := range list {
			if !changed[string(b.id)] && seen[string(b.id)] != 1 {
				missed++
			}
		}
		if missed > 0 {
			t.Errorf("%d blocks recorded throughout the walk were not seen", missed)
		}
	}},
	{"CountBlocks", func(t *testing.T, s meta.Store) {
		checkCount(t, s, 0, 0)
		a := newDrive(t, s, "alice")
		b := newDrive(t, s, "bob")
		a.upload(0, "empty")
		a.upload(1<<40, "huge")
		b.upload(1000, "x", "y")
		checkCount(t, s, 4, 1<<40+2000)
		// Uploading a block again records nothing new.
		a.upload(1<<40, "huge")
		checkCount(t, s, 4, 1<<40+2000)
		// A committed block counts like one only uploaded.
		b.file(b.root, "f", "z")
		checkCount(t, s, 5, 1<<40+3000)
		collect(t, s, "huge", "x")
		checkCount(t, s, 3, 2000)

		all := walkAll(t, s)
		var size int64
		for _, blk := range all {
			size += blk.size
		}
		checkCount(t, s, int64(len(all)), size)
	}},
}

// checkLocation compares a location read back with the one saved.
func checkLocation(t *testing.T, got, want meta.StorageLocation) {
	t.Helper()
	if got.Name != want.Name || got.ScrubNext != want.ScrubNext {
		t.Errorf("location = %q scrubbing from %d, want %q from %d", got.Name, got.ScrubNext, want.Name, want.ScrubNext)
	}
	checkTime(t, want.Name+" ScrubbedAt", got.ScrubbedAt, want.ScrubbedAt)
	checkTime(t, want.Name+" RepairedAt", got.RepairedAt, want.RepairedAt)
}

// saveLocation stores loc with SaveStorageLocation.
func saveLocation(t *testing.T, s meta.Store, loc meta.StorageLocation) {
	t.Helper()
	if err := s.SaveStorageLocation(t.Context(), loc); err != nil {
		t.Fatalf("SaveStorageLocation(%q): %v", loc.Name, err)
	}
}

// checkStoredLocation reads the location want.Name back and compares it
// with want.
func checkStoredLocation(t *testing.T, s meta.Store, want meta.StorageLocation) {
	t.Helper()
	got, err := s.StorageLocation(t.Context(), want.Name)
	if err != nil {
		t.Fatalf("StorageLocation(%q): %v", want.Name, err)
	}
	checkLocation(t, got, want)
}

// checkLocations checks StorageLocations.
func checkLocations(t *testing.T, s meta.Store, want ...meta.StorageLocation) {
	t.Helper()
	got, err := s.StorageLocations(t.Context())
	if err != nil {
		t.Fatalf("StorageLocations: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("StorageLocations gave %d locations, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		checkLocation(t, got[i], want[i])
	}
}

var storageLocationTests = []test{
	{"Layout", func(t *testing.T, s meta.Store) {
		_, err := s.StorageLayout(t.Context())
		wantErr(t, "StorageLayout never saved", err, meta.ErrNotFound)
		wantErr(t, "SaveStorageLayout of nothing", s.SaveStorageLayout(t.Context(), ""), meta.ErrInvalid)
		for _, layout := range []string{"replicas", "erasure 4+2", "replicas"} {
			if err := s.SaveStorageLayout(t.Context(), layout); err != nil {
				t.Fatalf("SaveStorageLayout(%q): %v", layout, err)
			}
			got, err := s.StorageLayout(t.Context())
			if err != nil || got != layout {
				t.Fatalf("StorageLayout = %q, %v; want %q", got, err, layout)
			}
		}
	}},
	{"Missing", func(t *testing.T, s meta.Store) {
		checkLocations(t, s)
		_, err := s.StorageLocation(t.Context(), "s3://bucket/blocks")
		wantErr(t, "StorageLocation of a location never saved", err, meta.ErrNotFound)
	}},
	{"RoundTrip", func(t *testing.T, s meta.Store) {
		// Sub-second times, given in another zone, and a name with
		// characters that text handling mangles.
		zone := time.FixedZone("UTC+5:30", 5*3600+1800)
		want := meta.StorageLocation{
			Name:       "s3://bücket/blocks?region=eu-west-1&path-style=true#x 'y' \"z\"",
			ScrubbedAt: t0.Add(1234567 * time.Microsecond).In(zone),
			ScrubNext:  0x9c,
			RepairedAt: t0.Add(-36*time.Hour + 250*time.Millisecond),
		}
		saveLocation(t, s, want)
		checkStoredLocation(t, s, want)
		checkLocations(t, s, want)
	}},
	{"ZeroTimes", func(t *testing.T, s meta.Store) {
		for _, loc := range []meta.StorageLocation{
			{Name: "file:///srv/never"},
			{Name: "file:///srv/done", ScrubNext: 256},
			{Name: "file:///srv/scrubbing", ScrubNext: 1, RepairedAt: t0},
			{Name: "file:///srv/repairing", ScrubbedAt: t0},
		} {
			saveLocation(t, s, loc)
			checkStoredLocation(t, s, loc)
		}
	}},
	{"Replace", func(t *testing.T, s meta.Store) {
		first := meta.StorageLocation{Name: "s3://a", ScrubbedAt: t0, ScrubNext: 5, RepairedAt: t0.Add(time.Hour)}
		saveLocation(t, s, first)
		second := meta.StorageLocation{Name: "s3://a", ScrubbedAt: t0, ScrubNext: 6, RepairedAt: t0.Add(2 * time.Hour)}
		saveLocation(t, s, second)
		checkStoredLocation(t, s, second)
		checkLocations(t, s, second)
		// The whole record is replaced, zero times included: nothing of
		// the old one is kept.
		cleared := meta.StorageLocation{Name: "s3://a"}
		saveLocation(t, s, cleared)
		checkStoredLocation(t, s, cleared)
		checkLocations(t, s, cleared)
	}},
	{"Ordered", func(t *testing.T, s meta.Store) {
		// Byte order, which a locale's collation would not give: "B"
		// before "a", "Z" before "a", "a" before "a/" before "ä".
		names := []string{"s3://b", "file:///srv/coffer", "s3://a/", "s3://ä", "s3://B", "s3://a", "https://dav.example/Z", "https://dav.example/a"}
		var want []meta.StorageLocation
		for i, name := range names {
			loc := meta.StorageLocation{Name: name, ScrubNext: i, ScrubbedAt: t0.Add(time.Duration(i) * time.Second)}
			saveLocation(t, s, loc)
			want = append(want, loc)
		}
		slices.SortFunc(want, func(a, b meta.StorageLocation) int { return strings.Compare(a.Name, b.Name) })
		checkLocations(t, s, want...)
	}},
	{"NameIsExact", func(t *testing.T, s meta.Store) {
		saveLocation(t, s, meta.StorageLocation{Name: "s3://a", ScrubNext: 3})
		for _, name := range []string{"S3://a", "s3://A", "s3://a/", "s3://a ", " s3://a", "s3://", ""} {
			_, err := s.StorageLocation(t.Context(), name)
			wantErr(t, fmt.Sprintf("StorageLocation(%q)", name), err, meta.ErrNotFound)
		}
	}},
	{"Invalid", func(t *testing.T, s meta.Store) {
		for _, loc := range []meta.StorageLocation{
			{Name: ""},
			{Name: "s3://a", ScrubNext: -1},
			{Name: "s3://a", ScrubNext: 257},
		} {
			err := s.SaveStorageLocation(t.Context(), loc)
			wantErr(t, fmt.Sprintf("SaveStorageLocation(%q, scrubbing from %d)", loc.Name, loc.ScrubNext), err, meta.ErrInvalid)
		}
		checkLocations(t, s)
	}},
}
