package replicated

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffer-drive/coffer/internal/blob"
	"github.com/coffer-drive/coffer/internal/blob/blobtest"
	"github.com/coffer-drive/coffer/internal/blob/file"
)

// The store passes the suite every blob.Store passes, in both modes.
func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		name   string
		n      int
		policy Policy
	}{
		{"Replicas", 3, Policy{Replicas: 3, WriteQuorum: 3}},
		{"Erasure", 3, Policy{DataShards: 2, ParityShards: 1, WriteQuorum: 3}},
		{"OneLocation", 1, Policy{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rigs = map[blob.Store]*rig{}
			blobtest.Run(t, func(t *testing.T) blob.Store {
				r := newRig(t, rigOpts{n: tc.n, policy: tc.policy, noCat: true})
				rigs[r.s] = r
				return r.s
			}, blobtest.Hooks{Corrupt: func(t *testing.T, s blob.Store, id blob.ID) {
				r := rigs[s]
				r.s.bg.Wait()
				rng := rand.New(rand.NewPCG(1, 2))
				for i := range r.dirs {
					r.corruptAt(i, id, rng)
				}
			}})
		})
	}
}

func TestPolicyChecks(t *testing.T) {
	dir := t.TempDir()
	var locs []NamedLocation
	for i := range 3 {
		fs, err := file.OpenUnchecked(filepath.Join(dir, fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		locs = append(locs, NamedLocation{Name: fmt.Sprint(i), Location: fs})
	}
	for _, tc := range []struct {
		locs   []NamedLocation
		policy Policy
		want   string
	}{
		{nil, Policy{}, "no block locations"},
		{locs, Policy{Replicas: 4}, "4 replicas"},
		{locs, Policy{Replicas: 3, WriteQuorum: 4}, "write quorum 4"},
		{locs, Policy{DataShards: 4, ParityShards: 2}, "needs 6 locations"},
		{locs, Policy{DataShards: 2, ParityShards: 0}, "at least one parity"},
		{locs, Policy{DataShards: 2, ParityShards: 1, WriteQuorum: 1}, "write quorum 1"},
		{append(locs[:1:1], locs[0]), Policy{}, "given twice"},
	} {
		_, err := New(Config{Locations: tc.locs, Policy: tc.policy})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%d locations, %+v) = %v, want an error saying %q", len(tc.locs), tc.policy, err, tc.want)
		}
	}
	s, err := New(Config{Locations: locs})
	if err != nil {
		t.Fatal(err)
	}
	if p := s.Policy(); p.Replicas != 3 || p.WriteQuorum != 2 {
		t.Errorf("default policy over 3 locations = %+v, want 3 replicas, quorum 2", p)
	}
	s, err = New(Config{Locations: locs, Policy: Policy{DataShards: 2, ParityShards: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if p := s.Policy(); p.WriteQuorum != 3 {
		t.Errorf("default quorum for 2+1 = %d, want 3", p.WriteQuorum)
	}
}

// Losing a whole location loses nothing, and repair restores it.
func TestLoseLocation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		n      int
		policy Policy
		lose   []int
		then   []int // lost after the repair: the repaired ones must serve
	}{
		{"Replicas", 3, Policy{Replicas: 3, WriteQuorum: 2}, []int{1}, []int{0, 2}},
		{"ReplicasTwoOfThree", 3, Policy{Replicas: 3}, []int{0, 2}, []int{1}},
		{"Erasure4+2", 6, Policy{DataShards: 4, ParityShards: 2}, []int{0, 3}, []int{1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rigOpts{n: tc.n, policy: tc.policy})
			r.putBlocks(40, 1)
			r.s.bg.Wait()
			r.wantFull()
			for _, i := range tc.lose {
				r.wipe(i)
			}
			r.checkAll()

			st := r.status()
			if st.UnderReplicated == 0 || st.Lost != 0 {
				t.Fatalf("after losing %v: %d under-replicated, %d lost; want some and none", tc.lose, st.UnderReplicated, st.Lost)
			}
			for _, i := range tc.lose {
				if l := st.Locations[i]; l.Objects != 0 || l.Missing == 0 {
					t.Errorf("wiped location %s: %d objects, %d missing", l.Name, l.Objects, l.Missing)
				}
			}
			rep, err := r.s.Repair(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if rep.Lost != 0 || rep.Failed != 0 || rep.Repaired != st.UnderReplicated {
				t.Fatalf("repair: %+v; want %d repaired, none lost or failed", rep, st.UnderReplicated)
			}
			var missing int64
			for _, l := range st.Locations {
				missing += l.Missing
			}
			if rep.Written != missing {
				t.Errorf("repair wrote %d copies, status counted %d missing", rep.Written, missing)
			}
			r.wantFull()
			// The restored locations serve on their own.
			for _, i := range tc.then {
				r.wipe(i)
			}
			r.checkAll()
		})
	}
}

// Losing more than the policy allows fails the read with an error naming
// the block, never with wrong bytes.
func TestTooManyLost(t *testing.T) {
	t.Run("Replicas", func(t *testing.T) {
		r := newRig(t, rigOpts{n: 3, policy: Policy{Replicas: 3}})
		r.putBlocks(6, 2)
		r.s.bg.Wait()
		id := r.order[3]
		for i := range r.dirs {
			os.Remove(r.objectPath(i, id))
		}
		_, err := r.s.Get(t.Context(), id)
		var rerr *ReadError
		if !errors.As(err, &rerr) || !errors.Is(err, blob.ErrNotFound) || !strings.Contains(err.Error(), id.String()) {
			t.Fatalf("Get of a block in no location = %v, want a ReadError naming it, matching ErrNotFound", err)
		}
		id = r.order[4]
		rng := rand.New(rand.NewPCG(3, 3))
		for i := range r.dirs {
			r.corruptAt(i, id, rng)
		}
		_, err = r.s.Get(t.Context(), id)
		if !errors.Is(err, blob.ErrCorrupt) || !strings.Contains(err.Error(), id.String()) || !strings.Contains(err.Error(), "3 corrupt") {
			t.Fatalf("Get of a block rotten everywhere = %v, want ErrCorrupt naming it and counting 3 corrupt", err)
		}
		rep, err := r.s.Repair(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		// The missing one is counted lost; the rotten one looks whole to a
		// listing (sizes match) and is for the scrubber.
		if rep.Lost != 1 || len(rep.LostIDs) != 1 || rep.LostIDs[0] != r.order[3] {
			t.Errorf("repair: %+v, want exactly block %s lost", rep, r.order[3])
		}
		sr, err := r.s.Scrub(t.Context(), ScrubOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var bad, fixed int64
		for _, l := range sr.Locations {
			bad += l.Corrupt
			fixed += l.Repaired
		}
		if bad != 3 || fixed != 0 {
			t.Errorf("scrub found %d corrupt and repaired %d, want 3 and 0 (no sound copy is left)", bad, fixed)
		}
	})
	t.Run("Erasure", func(t *testing.T) {
		r := newRig(t, rigOpts{n: 6, policy: Policy{DataShards: 4, ParityShards: 2}})
		r.putBlocks(12, 3)
		r.s.bg.Wait()
		r.wipe(1)
		r.wipe(2)
		r.checkAll()
		r.wipe(4)
		for _, id := range r.order {
			_, err := r.s.Get(t.Context(), id)
			var rerr *ReadError
			if !errors.As(err, &rerr) || rerr.Need != 4 || rerr.Missing != 3 || !strings.Contains(err.Error(), id.String()) {
				t.Fatalf("Get with 3 of 6 shards = %v, want a ReadError naming the block, 3 missing", err)
			}
		}
		st := r.status()
		if st.Lost != int64(len(r.order)) {
			t.Errorf("status: %d lost, want %d", st.Lost, len(r.order))
		}
	})
}

// Random rot in random copies: reads go around it, and a scrub finds
// and repairs every rotten copy.
func TestRotScrubbed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		n      int
		policy Policy
		perBlk int // rotten copies allowed per block
	}{
		{"Replicas", 3, Policy{Replicas: 3}, 2},
		{"Erasure", 6, Policy{DataShards: 4, ParityShards: 2}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rigOpts{n: tc.n, policy: tc.policy})
			r.putBlocks(30, 4)
			r.s.bg.Wait()
			rng := rand.New(rand.NewPCG(5, 5))
			rotten := 0
			for _, id := range r.order {
				for _, i := range rng.Perm(tc.n)[:rng.IntN(tc.perBlk+1)] {
					if r.corruptAt(i, id, rng) {
						rotten++
					}
				}
			}
			if rotten < 10 {
				t.Fatalf("only %d copies corrupted; the test needs more", rotten)
			}
			degraded := counter(t, r.s.m.degraded)
			r.checkAll()
			if counter(t, r.s.m.degraded) == degraded {
				t.Error("reads of rotten blocks were not counted as degraded")
			}
			// Keep the read path's queue out of it: the scrub must find them.
			r.s.due()
			sr, err := r.s.Scrub(t.Context(), ScrubOptions{Rate: 1 << 30})
			if err != nil {
				t.Fatal(err)
			}
			var bad, fixed, checked int64
			for _, l := range sr.Locations {
				bad += l.Corrupt
				fixed += l.Repaired
				checked += l.Checked
				if l.Error != "" {
					t.Errorf("scrub of %s: %s", l.Name, l.Error)
				}
			}
			if bad != int64(rotten) || fixed != int64(rotten) {
				t.Fatalf("scrub found %d and repaired %d rotten copies, want %d", bad, fixed, rotten)
			}
			if checked != int64(len(r.order)*tc.policy.width()) && tc.policy.Replicas > 0 {
				t.Errorf("scrub checked %d copies, want %d", checked, len(r.order)*tc.policy.width())
			}
			sr, err = r.s.Scrub(t.Context(), ScrubOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range sr.Locations {
				if l.Corrupt != 0 {
					t.Errorf("second scrub of %s found %d corrupt", l.Name, l.Corrupt)
				}
				if st, _ := r.s.states.Load(t.Context(), l.Name); st.ScrubbedAt.IsZero() || st.ScrubNext != 0 {
					t.Errorf("scrub of %s not recorded: %+v", l.Name, st)
				}
			}
			r.wantFull()
			// Every copy is now sound on its own: read each location's alone.
			for i := range tc.n {
				for _, id := range r.order {
					b, err := os.ReadFile(r.objectPath(i, id))
					if err != nil {
						t.Fatal(err)
					}
					if tc.policy.DataShards == 0 && !bytes.Equal(b, r.data[id]) {
						t.Fatalf("location %d copy of %s differs after scrub", i, id)
					}
					if tc.policy.DataShards > 0 {
						if _, err := r.s.geo.openShard(id, b); err != nil {
							t.Fatalf("location %d shard of %s: %v", i, id, err)
						}
					}
				}
			}
		})
	}
}

// A location down during uploads does not fail them, and a repair
// catches it up once it is back.
func TestLocationDownDuringUploads(t *testing.T) {
	for _, tc := range []struct {
		name   string
		n      int
		policy Policy
	}{
		{"Replicas", 3, Policy{Replicas: 3, WriteQuorum: 2}},
		{"Erasure", 6, Policy{DataShards: 4, ParityShards: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rigOpts{n: tc.n, policy: tc.policy})
			r.locs[1].down.Store(true)
			r.putBlocks(20, 6)
			r.s.bg.Wait()
			if got := counter(t, r.s.m.writesShort); got != 20 {
				t.Errorf("writes below policy = %v, want 20", got)
			}
			if counter(t, r.s.sites[1].m.up) != 0 {
				t.Error("the down location's breaker did not open")
			}
			r.checkAll()
			st := r.status()
			if st.Locations[1].Reachable || st.UnderReplicated != 20 {
				t.Fatalf("status with location 1 down: reachable %v, %d under-replicated; want false, 20", st.Locations[1].Reachable, st.UnderReplicated)
			}
			rep, err := r.s.Repair(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Unreachable) != 1 || rep.Written != 0 {
				t.Errorf("repair with a location down: %+v, want it named and nothing written", rep)
			}
			r.locs[1].down.Store(false)
			// The breaker lets calls through again after its back-off.
			time.Sleep(maxBackoff / 30)
			for r.s.sites[1].down() {
				time.Sleep(100 * time.Millisecond)
			}
			rep, err = r.s.Repair(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if rep.Written != 20 || rep.Repaired != 20 {
				t.Fatalf("repair once back: %+v, want 20 written", rep)
			}
			r.wantFull()
		})
	}
}

// A location that hangs does not hold uploads up: they are acknowledged
// by the quorum, and the hung write gives up at the timeout.
func TestHungLocation(t *testing.T) {
	r := newRig(t, rigOpts{n: 3, policy: Policy{Replicas: 3, WriteQuorum: 2}, timeout: 2 * time.Second})
	r.locs[2].hang.Store(true)
	r.putBlocks(4, 7)
	r.checkAll() // reads skip nothing: the data is in 0 and 1, tried first or after a timeout
	r.s.bg.Wait()
	if counter(t, r.s.m.writesShort) != 4 {
		t.Errorf("writes below policy = %v, want 4", counter(t, r.s.m.writesShort))
	}
	if n := testCount(r, "put", "timeout"); n == 0 {
		t.Error("no put timeout counted for the hung location")
	}
	// Too few healthy locations for the quorum: the upload fails, clearly.
	r.locs[1].down.Store(true)
	err := r.s.Put(t.Context(), blob.Sum([]byte("x")), bytes.NewReader([]byte("x")))
	if err == nil || !strings.Contains(err.Error(), "2 needed") {
		t.Fatalf("Put with one healthy location of 3, quorum 2 = %v, want a quorum error", err)
	}
}

func testCount(r *rig, op, result string) float64 {
	var total float64
	for _, st := range r.s.sites {
		total += counter(r.t, st.m.ops.WithLabelValues(op, result))
	}
	return total
}

// Deleted blocks leave every location, including one that was down when
// the delete happened; blocks being uploaded are not mistaken for
// unneeded ones.
func TestDeleteWhileDown(t *testing.T) {
	r := newRig(t, rigOpts{n: 3, policy: Policy{Replicas: 3}, grace: time.Hour})
	r.putBlocks(10, 8)
	r.s.bg.Wait()
	gone := r.order[:4]
	r.locs[2].down.Store(true)
	for _, id := range gone {
		r.cat.remove(id)
		if err := r.s.Delete(t.Context(), id); err == nil {
			t.Fatal("Delete with a location down reported success")
		}
	}
	r.locs[2].down.Store(false)
	for r.s.sites[2].down() {
		time.Sleep(100 * time.Millisecond)
	}
	// Within the grace period nothing is deleted: it may be an upload
	// not yet recorded.
	rep, err := r.s.Repair(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Orphans != 0 {
		t.Fatalf("repair deleted %d young objects", rep.Orphans)
	}
	if _, err := os.Stat(r.objectPath(2, gone[0])); err != nil {
		t.Fatalf("young copy gone: %v", err)
	}
	r.s.grace = time.Nanosecond
	rep, err = r.s.Repair(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Orphans != 4 {
		t.Fatalf("repair deleted %d leftover copies, want 4", rep.Orphans)
	}
	for _, id := range gone {
		for i := range r.dirs {
			if _, err := os.Stat(r.objectPath(i, id)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("deleted block %s still in location %d", id, i)
			}
		}
	}
	r.order = r.order[4:]
	r.wantFull()
	r.checkAll()
}

// A read that meets a bad copy queues the block, and the targeted repair
// rewrites that copy; a block no longer recorded is never brought back.
func TestTargetedRepair(t *testing.T) {
	r := newRig(t, rigOpts{n: 3, policy: Policy{Replicas: 3}})
	r.putBlocks(3, 9)
	r.s.bg.Wait()
	id := r.order[1]
	// Remove the copies a read tries first, so that it meets the fault.
	for _, st := range r.s.place(id)[:2] {
		os.Remove(r.objectPath(slices.Index(r.s.sites, st), id))
	}
	r.checkAll()
	ids, _ := r.s.due()
	if len(ids) != 1 || ids[0] != id {
		t.Fatalf("queue after a degraded read = %v, want [%s]", ids, id)
	}
	n, err := r.s.RepairBlock(t.Context(), id)
	if err != nil || n != 2 {
		t.Fatalf("RepairBlock = %d, %v; want 2 copies written", n, err)
	}
	r.wantFull()

	gone := r.order[2]
	r.cat.remove(gone)
	os.Remove(r.objectPath(0, gone))
	if n, err := r.s.RepairBlock(t.Context(), gone); err != nil || n != 0 {
		t.Fatalf("RepairBlock of an unrecorded block = %d, %v; want nothing written", n, err)
	}
}

// Blocks spread evenly when there are more locations than copies.
func TestPlacement(t *testing.T) {
	r := newRig(t, rigOpts{n: 5, policy: Policy{Replicas: 2}})
	count := make(map[*site]int)
	for i := range 5000 {
		id := blob.Sum([]byte(fmt.Sprint(i)))
		p := r.s.place(id)
		if len(p) != 2 || p[0] == p[1] {
			t.Fatalf("placement of %s = %v", id, p)
		}
		if q := r.s.place(id); q[0] != p[0] || q[1] != p[1] {
			t.Fatal("placement is not stable")
		}
		count[p[0]]++
		count[p[1]]++
	}
	for st, n := range count {
		if n < 1700 || n > 2300 {
			t.Errorf("location %s holds %d of 10000 copies, want about 2000", st.name, n)
		}
	}
}

// A location that blocks in a system call, deaf to contexts (a hard NFS
// mount whose server is gone), holds up neither reads nor writes, and its
// breaker opens.
func TestStuckLocation(t *testing.T) {
	r := newRig(t, rigOpts{n: 3, policy: Policy{Replicas: 3, WriteQuorum: 2}})
	r.putBlocks(6, 12)
	r.s.bg.Wait()
	stuck := make(chan struct{})
	r.locs[0].stuck = stuck
	defer close(stuck)
	r.s.sites[0].timeout = 200 * time.Millisecond
	r.checkAll()
	r.putBlocks(24, 13) // three batches: three failures in a row at least
	r.s.bg.Wait()
	if testCount(r, "get", "timeout")+testCount(r, "put", "timeout") == 0 {
		t.Error("no timeout counted for the stuck location")
	}
	if counter(t, r.s.sites[0].m.up) != 0 {
		t.Error("the stuck location's breaker did not open")
	}
}

// After a change of locations (here: more locations than replicas, and
// placement moved), a read still finds a copy in a location the block no
// longer belongs in, and repair puts it where it belongs.
func TestReadOutsidePlacement(t *testing.T) {
	r := newRig(t, rigOpts{n: 4, policy: Policy{Replicas: 2}})
	r.putBlocks(10, 14)
	r.s.bg.Wait()
	// Move every block's copies to the locations it does not belong in.
	for _, id := range r.order {
		placed := r.s.place(id)
		data, err := os.ReadFile(r.objectPath(slices.Index(r.s.sites, placed[0]), id))
		if err != nil {
			t.Fatal(err)
		}
		for i, st := range r.s.sites {
			if slices.Contains(placed, st) {
				os.Remove(r.objectPath(i, id))
			} else if err := r.locs[i].Put(t.Context(), id, bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
		}
	}
	r.checkAll()
	rep, err := r.s.Repair(t.Context())
	if err != nil || rep.Written != 20 || rep.Lost != 0 {
		t.Fatalf("repair: %+v, %v; want 20 copies written, none lost", rep, err)
	}
}

// Writes after Close fail cleanly; nothing is written to closed locations.
func TestPutAfterClose(t *testing.T) {
	r := newRig(t, rigOpts{n: 2, policy: Policy{}})
	if err := r.s.Close(); err != nil {
		t.Fatal(err)
	}
	err := r.s.Put(t.Context(), blob.Sum([]byte("late")), bytes.NewReader([]byte("late")))
	if !errors.Is(err, errClosed) {
		t.Fatalf("Put after Close = %v, want errClosed", err)
	}
}

// Bind marks fresh locations as the deployment's and refuses a location
// of another deployment; the marker is not a block to anyone.
func TestBind(t *testing.T) {
	r := newRig(t, rigOpts{n: 3, policy: Policy{}, grace: time.Nanosecond})
	if err := r.s.Bind(t.Context(), "aaaa"); err != nil {
		t.Fatal(err)
	}
	if err := r.s.Bind(t.Context(), "aaaa"); err != nil {
		t.Fatalf("Bind again: %v", err)
	}
	r.putBlocks(4, 15)
	r.s.bg.Wait()
	rep, err := r.s.Repair(t.Context())
	if err != nil || rep.Orphans != 0 || rep.Blocks != 4 {
		t.Fatalf("repair: %+v, %v; the marker must be neither a block nor unneeded", rep, err)
	}
	r.wantFull()
	err = r.s.Bind(t.Context(), "bbbb")
	if err == nil || !strings.Contains(err.Error(), "another Coffer deployment (aaaa, not bbbb)") {
		t.Fatalf("Bind of another deployment = %v", err)
	}
	// A wiped location is marked again.
	r.wipe(1)
	if err := r.s.Bind(t.Context(), "aaaa"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(r.objectPath(1, markerID)); err != nil {
		t.Fatalf("no marker in the wiped location: %v", err)
	}
}

// A rotten byte in one shard's header (its size, or its index) costs that
// shard only: the sound ones are not pushed aside, even with one more
// location down.
func TestShardHeaderRot(t *testing.T) {
	for _, tc := range []struct {
		name string
		at   int
	}{{"Size", 15}, {"Index", 6}} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rigOpts{n: 6, policy: Policy{DataShards: 4, ParityShards: 2}})
			r.putBlocks(2, 16)
			r.s.bg.Wait()
			id := r.order[1] // 1 byte: every shard's size field is 1
			placed := r.s.place(id)
			i0 := slices.Index(r.s.sites, placed[0])
			p := r.objectPath(i0, id)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[tc.at] ^= 1
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
			r.checkAll()
			// One more location down: 4 sound shards remain, enough.
			r.locs[slices.Index(r.s.sites, placed[5])].down.Store(true)
			r.checkAll()
			if n := counter(t, r.s.m.faults.WithLabelValues(placed[1].name, "corrupt")); n != 0 {
				t.Errorf("a sound shard was counted corrupt %v times", n)
			}
		})
	}
}
