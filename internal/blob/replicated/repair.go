package replicated

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-drive/coffer/internal/blob"
)

// RepairReport says what a repair pass found and did.
type RepairReport struct {
	Blocks      int64     // blocks checked
	Repaired    int64     // blocks that were below policy and are not any more
	Written     int64     // copies or shards written
	Lost        int64     // blocks that could not be read to repair them
	LostIDs     []blob.ID // the first of them
	Failed      int64     // blocks whose repair failed for another reason (a location erred)
	Orphans     int64     // objects deleted because no block needs them
	Unreachable []string  // locations that could not be listed: their gaps wait for a later pass
	Duration    time.Duration
}

// Status is the state of every location, counted now.
type Status struct {
	Policy          Policy
	Blocks, Bytes   int64 // blocks to keep and their total size (per the catalog)
	UnderReplicated int64 // blocks missing a copy or shard somewhere (unreachable locations count as missing)
	Lost            int64 // blocks with fewer sound copies than a read needs
	LostIDs         []blob.ID
	Locations       []LocationStatus
}

// LocationStatus is one location's line in Status.
type LocationStatus struct {
	Name      string
	Reachable bool
	Error     string // why it is unreachable
	Objects   int64  // copies or shards held
	Bytes     int64  // their size
	Missing   int64  // blocks that belong here and are absent or the wrong size
	Orphans   int64  // objects no block needs (deleted by repair after the grace period)
	LocationState
}

const maxLostIDs = 100

// census walks the ID space a prefix at a time, comparing what each
// location holds with what the catalog says must be kept. With fix it
// writes what is missing and deletes what is unneeded.
type census struct {
	s   *Store
	fix bool

	mu       sync.Mutex
	report   RepairReport
	status   Status
	sites    map[*site]*LocationStatus
	down     map[*site]bool
	inflight sync.WaitGroup
	slots    chan struct{}
}

func (s *Store) newCensus(fix bool) *census {
	c := &census{
		s: s, fix: fix,
		sites: make(map[*site]*LocationStatus),
		down:  make(map[*site]bool),
		slots: make(chan struct{}, 8),
	}
	c.status.Policy = s.policy
	for _, st := range s.sites {
		c.sites[st] = &LocationStatus{Name: st.name, Reachable: true}
	}
	return c
}

// Repair runs a full repair pass now. Locations that cannot be listed are
// skipped (and named in the report); everything else is brought back to
// policy. It returns an error only if the pass could not run (the catalog
// failed, or ctx ended).
func (s *Store) Repair(ctx context.Context) (RepairReport, error) {
	s.passMu.Lock()
	defer s.passMu.Unlock()
	start := time.Now()
	c := s.newCensus(true)
	if err := c.run(ctx); err != nil {
		return c.report, err
	}
	c.report.Duration = time.Since(start)
	for _, st := range s.sites {
		if c.down[st] {
			c.report.Unreachable = append(c.report.Unreachable, st.name)
			continue
		}
		stt, err := s.states.Load(ctx, st.name)
		if err != nil {
			return c.report, fmt.Errorf("load state of %s: %w", st.name, err)
		}
		stt.RepairedAt = time.Now()
		if err := s.states.Save(ctx, st.name, stt); err != nil {
			return c.report, fmt.Errorf("save state of %s: %w", st.name, err)
		}
	}
	s.m.repairedAt.SetToCurrentTime()
	s.publish(c)
	s.log.Info("repair pass done", "blocks", c.report.Blocks, "repaired", c.report.Repaired, "written", c.report.Written,
		"lost", c.report.Lost, "failed", c.report.Failed, "orphans", c.report.Orphans, "unreachable", len(c.report.Unreachable), "took", c.report.Duration)
	return c.report, nil
}

// Status counts, now, what every location holds against the catalog.
func (s *Store) Status(ctx context.Context) (Status, error) {
	c := s.newCensus(false)
	if err := c.run(ctx); err != nil {
		return Status{}, err
	}
	for _, st := range s.sites {
		ls := c.sites[st]
		stt, err := s.states.Load(ctx, st.name)
		if err != nil {
			return Status{}, fmt.Errorf("load state of %s: %w", st.name, err)
		}
		ls.LocationState = stt
		c.status.Locations = append(c.status.Locations, *ls)
	}
	s.publish(c)
	return c.status, nil
}

// publish sets the census gauges.
func (s *Store) publish(c *census) {
	for _, st := range s.sites {
		ls := c.sites[st]
		s.m.held.WithLabelValues(st.name).Set(float64(ls.Objects))
		s.m.heldBytes.WithLabelValues(st.name).Set(float64(ls.Bytes))
		s.m.missing.WithLabelValues(st.name).Set(float64(ls.Missing))
	}
	s.m.under.Set(float64(c.status.UnderReplicated))
	s.m.lost.Set(float64(c.status.Lost))
}

func (c *census) run(ctx context.Context) error {
	for p := range 256 {
		if err := c.prefix(ctx, byte(p)); err != nil {
			c.inflight.Wait()
			return err
		}
	}
	c.inflight.Wait()
	return ctx.Err()
}

func (c *census) prefix(ctx context.Context, p byte) error {
	s := c.s
	type want struct {
		id   blob.ID
		size int64 // -1: unknown (no catalog)
	}
	var live []want
	if s.catalog != nil {
		err := s.catalog.Blocks(ctx, p, func(id blob.ID, size int64) error {
			live = append(live, want{id, size})
			return nil
		})
		if err != nil {
			return fmt.Errorf("list recorded blocks: %w", err)
		}
	}
	// List the locations after the catalog: a block stored and recorded
	// in between looks unneeded, and Grace protects it.
	held := make(map[*site]map[blob.ID]blob.Info, len(s.sites))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, st := range s.sites {
		mu.Lock()
		skip := c.down[st]
		mu.Unlock()
		if skip {
			continue // failed earlier in this pass: not tried again until the next
		}
		wg.Go(func() {
			objs, err := st.scan(ctx, p)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if ctx.Err() == nil && !c.down[st] {
					c.down[st] = true
					c.sites[st].Reachable = false
					c.sites[st].Error = err.Error()
					s.log.Warn("block location unreachable during repair pass", "location", st.name, "err", err)
				}
				return
			}
			held[st] = objs
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.catalog == nil {
		union := make(map[blob.ID]bool)
		for _, objs := range held {
			for id := range objs {
				union[id] = true
			}
		}
		for id := range union {
			live = append(live, want{id, -1})
		}
		slices.SortFunc(live, func(a, b want) int { return bytes.Compare(a.id[:], b.id[:]) })
	}
	needed := make(map[blob.ID]bool, len(live))
	for _, w := range live {
		needed[w.id] = true
	}
	orphans := make(map[*site][]blob.ID)
	var candidates []blob.ID
	for st, objs := range held {
		ls := c.sites[st]
		for id, info := range objs {
			ls.Objects++
			ls.Bytes += info.Size
			if needed[id] {
				continue
			}
			ls.Orphans++
			if c.fix && s.catalog != nil && time.Since(info.ModTime) > s.grace {
				orphans[st] = append(orphans[st], id)
				candidates = append(candidates, id)
			}
		}
	}
	if len(candidates) > 0 {
		// Ask the catalog again, now: a block recorded since it was read
		// above must not go, whatever the location's clock says.
		unknown, err := s.catalog.Unknown(ctx, candidates)
		if err != nil {
			return fmt.Errorf("recheck unneeded blocks: %w", err)
		}
		gone := make(map[blob.ID]bool, len(unknown))
		for _, id := range unknown {
			gone[id] = true
		}
		for st, ids := range orphans {
			for _, id := range ids {
				if gone[id] {
					c.deleteOrphan(ctx, st, id)
				}
			}
		}
	}

	for _, w := range live {
		c.status.Blocks++
		if w.size > 0 {
			c.status.Bytes += w.size
		}
		placed := s.place(w.id)
		var bad []int
		sound, unknown := 0, 0
		for i, st := range placed {
			objs, ok := held[st]
			if !ok {
				unknown++
				continue
			}
			info, ok := objs[w.id]
			if ok && (w.size < 0 || info.Size == c.objectLen(w.size)) {
				sound++
				continue
			}
			bad = append(bad, i)
			c.sites[st].Missing++
		}
		if len(bad) > 0 || unknown > 0 {
			c.status.UnderReplicated++
		}
		if sound < s.policy.readable() {
			c.status.Lost++
			if len(c.status.LostIDs) < maxLostIDs {
				c.status.LostIDs = append(c.status.LostIDs, w.id)
			}
		}
		c.report.Blocks++
		if !c.fix || len(bad) == 0 {
			continue
		}
		c.inflight.Add(1)
		select {
		case c.slots <- struct{}{}:
		case <-ctx.Done():
			c.inflight.Done()
			return ctx.Err()
		}
		go func() {
			defer func() { <-c.slots; c.inflight.Done() }()
			n, err := s.fix(ctx, w.id, bad)
			c.mu.Lock()
			defer c.mu.Unlock()
			c.report.Written += int64(n)
			var rerr *ReadError
			switch {
			case err == nil:
				c.report.Repaired++
			case errors.As(err, &rerr) && rerr.Failed == 0:
				c.report.Lost++
				if len(c.report.LostIDs) < maxLostIDs {
					c.report.LostIDs = append(c.report.LostIDs, w.id)
				}
			case ctx.Err() == nil:
				c.report.Failed++
				s.log.Warn("repair block", "block", w.id.String(), "err", err)
			}
		}()
	}
	return nil
}

func (c *census) objectLen(size int64) int64 {
	if c.s.erasure() {
		return c.s.geo.objectLen(size)
	}
	return size
}

func (c *census) deleteOrphan(ctx context.Context, st *site, id blob.ID) {
	if err := st.delete(ctx, id); err != nil {
		c.s.log.Warn("delete unneeded block copy", "location", st.name, "block", id.String(), "err", err)
		return
	}
	c.s.m.orphans.WithLabelValues(st.name).Inc()
	c.mu.Lock()
	c.report.Orphans++
	c.mu.Unlock()
}

// fix reads block id from its sound copies and writes the copies or
// shards at the given positions of its placement. It returns how many it
// wrote.
func (s *Store) fix(ctx context.Context, id blob.ID, positions []int) (int, error) {
	placed := s.place(id)
	skip := make(map[*site]bool, len(positions))
	for _, p := range positions {
		skip[placed[p]] = true
	}
	data, err := s.read(ctx, id, skip)
	if err != nil {
		var rerr *ReadError
		if errors.As(err, &rerr) && rerr.Failed == 0 {
			s.log.Error("block lost: too few sound copies to repair it", "block", id.String())
		}
		return 0, err
	}
	objs, err := s.objects(id, data)
	if err != nil {
		return 0, err
	}
	var written atomic.Int64
	errs := make([]error, len(positions))
	var wg sync.WaitGroup
	for i, p := range positions {
		wg.Go(func() {
			st := placed[p]
			if errs[i] = st.putBatch(ctx, []blob.Block{{ID: id, Data: objs[p]}}); errs[i] == nil {
				written.Add(1)
				s.m.repaired.WithLabelValues(st.name).Inc()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return int(written.Load()), fmt.Errorf("repair block %s: %w", id, err)
	}
	s.log.Info("block repaired", "block", id.String(), "copies", written.Load())
	return int(written.Load()), nil
}

// RepairBlock checks every copy or shard of one block, reading it whole,
// and rewrites those that are missing, bad or misplaced. A block the
// catalog does not list is left alone, so a deleted block is never
// brought back. It returns how many copies it wrote.
func (s *Store) RepairBlock(ctx context.Context, id blob.ID) (int, error) {
	if s.catalog != nil {
		unknown, err := s.catalog.Unknown(ctx, []blob.ID{id})
		if err != nil {
			return 0, fmt.Errorf("look up block %s: %w", id, err)
		}
		if len(unknown) > 0 {
			return 0, nil
		}
	}
	placed := s.place(id)
	bad := make([]bool, len(placed))
	var wg sync.WaitGroup
	for i, st := range placed {
		wg.Go(func() {
			data, err := st.read(ctx, id)
			switch {
			case errors.Is(err, blob.ErrNotFound):
				bad[i] = true
			case err != nil:
				// Unreachable: the next pass sees to it.
			case s.erasure():
				info, serr := s.geo.openShard(id, data)
				bad[i] = serr != nil || info.index != i
			default:
				bad[i] = blob.Sum(data) != id
			}
		})
	}
	wg.Wait()
	var positions []int
	for i, b := range bad {
		if b {
			positions = append(positions, i)
		}
	}
	if len(positions) == 0 {
		return 0, nil
	}
	return s.fix(ctx, id, positions)
}

// enqueue queues block id for a targeted repair after delay.
func (s *Store) enqueue(id blob.ID, delay time.Duration) {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if _, ok := s.queue[id]; ok {
		return
	}
	if len(s.queue) >= maxQueue {
		s.overflow = true
		return
	}
	s.queue[id] = time.Now().Add(delay)
	s.m.queue.Set(float64(len(s.queue)))
}

// due takes the queued blocks whose time has come, and whether the queue
// overflowed since the last call.
func (s *Store) due() ([]blob.ID, bool) {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	now := time.Now()
	var ids []blob.ID
	for id, at := range s.queue {
		if !at.After(now) {
			ids = append(ids, id)
			delete(s.queue, id)
		}
	}
	over := s.overflow
	s.overflow = false
	s.m.queue.Set(float64(len(s.queue)))
	return ids, over
}
