package replicated

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/coffer-drive/coffer/internal/blob"
	"github.com/coffer-drive/coffer/internal/lease"
)

// ScrubReport says what a scrub pass found, per location.
type ScrubReport struct {
	Locations []LocationScrub
	Duration  time.Duration
}

// LocationScrub is one location's part of a scrub pass.
type LocationScrub struct {
	Name     string
	Checked  int64  // copies or shards re-read and re-hashed
	Bytes    int64  // bytes read
	Corrupt  int64  // of them, found rotten or cut short
	Repaired int64  // of those, rewritten from sound copies
	Error    string // why the pass stopped early, if it did
}

// ScrubOptions tune a scrub pass.
type ScrubOptions struct {
	// Rate caps the bytes read per second from each location (0: no cap).
	Rate int64
	// Resume carries on each location's unfinished pass where it stopped,
	// instead of starting over.
	Resume bool
}

// Scrub re-reads and re-hashes every copy or shard that a recorded block
// needs, in every location at once, and repairs the rotten ones. Progress
// is saved after each 1/256 of a location, so a resumed pass loses little.
func (s *Store) Scrub(ctx context.Context, opts ScrubOptions) (ScrubReport, error) {
	start := time.Now()
	rep := ScrubReport{Locations: make([]LocationScrub, len(s.sites))}
	errs := make([]error, len(s.sites))
	var wg sync.WaitGroup
	for i, st := range s.sites {
		wg.Go(func() {
			rep.Locations[i], errs[i] = s.scrubSite(ctx, st, opts)
		})
	}
	wg.Wait()
	rep.Duration = time.Since(start)
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	return rep, errors.Join(errs...)
}

// scrubSite scrubs one location. A location that cannot be reached ends
// its pass early without failing the others; only a failing catalog or
// state store is an error.
func (s *Store) scrubSite(ctx context.Context, st *site, opts ScrubOptions) (LocationScrub, error) {
	out := LocationScrub{Name: st.name}
	state, err := s.states.Load(ctx, st.name)
	if err != nil {
		return out, fmt.Errorf("load state of %s: %w", st.name, err)
	}
	from := 0
	if opts.Resume && state.ScrubNext > 0 && state.ScrubNext < 256 {
		from = state.ScrubNext
	}
	var lim *rate.Limiter
	if opts.Rate > 0 {
		lim = rate.NewLimiter(rate.Limit(opts.Rate), scrubBurst)
	}
	for p := from; p < 256; p++ {
		if err := s.scrubPrefix(ctx, st, byte(p), lim, &out); err != nil {
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			var serr *stateError
			if errors.As(err, &serr) {
				return out, err
			}
			out.Error = err.Error()
			s.log.Warn("scrub stopped early", "location", st.name, "prefix", p, "err", err)
			return out, nil
		}
		if err := s.saveScrub(ctx, st, p+1, time.Time{}); err != nil {
			return out, err
		}
	}
	state.ScrubbedAt = time.Now()
	if err := s.saveScrub(ctx, st, 0, state.ScrubbedAt); err != nil {
		return out, err
	}
	s.m.scrubbedAt.WithLabelValues(st.name).Set(float64(state.ScrubbedAt.Unix()))
	s.log.Info("scrub pass done", "location", st.name, "checked", out.Checked, "bytes", out.Bytes, "corrupt", out.Corrupt, "repaired", out.Repaired)
	return out, nil
}

// saveScrub records scrub progress, and the end of a pass if at is set,
// leaving the rest of the location's state as it is now: a repair pass
// may have saved its own since the scrub began.
func (s *Store) saveScrub(ctx context.Context, st *site, next int, at time.Time) error {
	state, err := s.states.Load(ctx, st.name)
	if err != nil {
		return fmt.Errorf("load state of %s: %w", st.name, err)
	}
	state.ScrubNext = next
	if !at.IsZero() {
		state.ScrubbedAt = at
	}
	if err := s.states.Save(ctx, st.name, state); err != nil {
		return fmt.Errorf("save state of %s: %w", st.name, err)
	}
	return nil
}

// scrubBurst is the most a rate-limited scrub reads at once: more than
// any block or shard.
const scrubBurst = maxReadSize

// stateError is a failure of the catalog, which stops a scrub everywhere.
type stateError struct{ err error }

func (e *stateError) Error() string { return e.err.Error() }
func (e *stateError) Unwrap() error { return e.err }

func (s *Store) scrubPrefix(ctx context.Context, st *site, p byte, lim *rate.Limiter, out *LocationScrub) error {
	var live map[blob.ID]bool
	if s.catalog != nil {
		live = make(map[blob.ID]bool)
		err := s.catalog.Blocks(ctx, p, func(id blob.ID, _ int64) error {
			live[id] = true
			return nil
		})
		if err != nil {
			return &stateError{fmt.Errorf("list recorded blocks: %w", err)}
		}
	}
	objs, err := st.scan(ctx, p)
	if err != nil {
		return err
	}
	for id, info := range objs {
		if live != nil && !live[id] {
			continue // unneeded: repair deletes it
		}
		if lim != nil {
			if err := lim.WaitN(ctx, int(min(max(info.Size, 1), scrubBurst))); err != nil {
				return err
			}
		}
		data, err := st.read(ctx, id)
		if errors.Is(err, blob.ErrNotFound) {
			continue // deleted since the listing
		}
		if err != nil && !errors.Is(err, blob.ErrCorrupt) {
			if st.down() || ctx.Err() != nil {
				return err
			}
			// One unreadable object (a permission, a bad sector) must
			// not stall the location's scrub for good: count it as bad
			// and rewrite it from the sound copies.
			s.log.Warn("scrub could not read a copy", "location", st.name, "block", id.String(), "err", err)
		}
		out.Checked++
		out.Bytes += int64(len(data))
		s.m.scrubBytes.WithLabelValues(st.name).Add(float64(len(data)))
		pos := -1
		for i, ps := range s.place(id) {
			if ps == st {
				pos = i
			}
		}
		var bad error
		if err != nil {
			bad = err
		} else if s.erasure() {
			info, err := s.geo.openShard(id, data)
			if err != nil {
				bad = err
			} else if pos >= 0 && info.index != pos {
				bad = fmt.Errorf("shard %d is where shard %d belongs", info.index, pos)
			}
		} else if blob.Sum(data) != id {
			bad = blob.ErrCorrupt
		}
		if bad == nil {
			continue
		}
		out.Corrupt++
		s.m.scrubBad.WithLabelValues(st.name).Inc()
		s.log.Warn("scrub found a bad copy", "location", st.name, "block", id.String(), "err", bad)
		if pos < 0 {
			// A bad copy where the block does not belong (left by a
			// change of locations). Nothing reads it first, and deleting
			// on a guess is how data is lost: it is only counted.
			continue
		}
		if _, err := s.fix(ctx, id, []int{pos}); err != nil {
			s.log.Warn("scrub could not repair", "location", st.name, "block", id.String(), "err", err)
			continue
		}
		out.Repaired++
	}
	return nil
}

// RunOptions set the pace of the background work.
type RunOptions struct {
	RepairInterval time.Duration // between full repair passes (0: 1 h)
	FirstRepair    time.Duration // delay of the first pass after start (0: 1 min)
	ScrubInterval  time.Duration // a location is scrubbed again this long after its last pass ended (0: 7 days; negative: never)
	ScrubRate      int64         // bytes per second per location (0: 16 MiB/s)
	// Leases, if set, is shared by every server process on the
	// deployment's database: a full repair pass, and each location's
	// scrub, then runs in one process at a time, the one holding its
	// lease under the name Holder.
	Leases lease.Store
	Holder string
}

// exclusive runs fn under the lease name if opts has leases, and reports
// whether it ran.
func exclusive(ctx context.Context, opts RunOptions, name string, fn func(context.Context) error) (bool, error) {
	if opts.Leases == nil {
		return true, fn(ctx)
	}
	return lease.Run(ctx, opts.Leases, name, opts.Holder, fn)
}

// lastRepair is when the latest full repair pass ended, by any process;
// zero if none ever has. A pass stamps every location it reached, so the
// newest stamp is its end, even while some location was unreachable.
func (s *Store) lastRepair(ctx context.Context) (time.Time, error) {
	var last time.Time
	for _, st := range s.sites {
		state, err := s.states.Load(ctx, st.name)
		if err != nil {
			return time.Time{}, err
		}
		if state.RepairedAt.After(last) {
			last = state.RepairedAt
		}
	}
	return last, nil
}

// Run does the background work until ctx ends: targeted repairs of blocks
// that reads or writes found short, a full repair pass at start (so one
// interrupted by a crash resumes) and every RepairInterval, and scrubbing.
func (s *Store) Run(ctx context.Context, opts RunOptions) {
	if opts.RepairInterval <= 0 {
		opts.RepairInterval = time.Hour
	}
	if opts.FirstRepair <= 0 {
		opts.FirstRepair = time.Minute
	}
	if opts.ScrubInterval == 0 {
		opts.ScrubInterval = 7 * 24 * time.Hour
	}
	if opts.ScrubRate == 0 {
		opts.ScrubRate = 16 << 20
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { s.runRepairs(ctx, opts) })
	if opts.ScrubInterval > 0 {
		for _, st := range s.sites {
			wg.Go(func() { s.runScrub(ctx, st, opts) })
		}
	}
}

func (s *Store) runRepairs(ctx context.Context, opts RunOptions) {
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	started := time.Now()
	nextPass := started.Add(opts.FirstRepair)
	// The targeted queue overflowed since the last pass this process
	// ran: a pass is owed whatever another process did before.
	owed := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		ids, overflow := s.due()
		owed = owed || overflow
		for _, id := range ids {
			if _, err := s.RepairBlock(ctx, id); err != nil && ctx.Err() == nil {
				s.log.Warn("targeted repair", "block", id.String(), "err", err)
			}
		}
		if owed || !time.Now().Before(nextPass) {
			// Under the lease: at most one process runs a pass at a
			// time, and one skips its pass when another has done one
			// since this process started (the pass at start always
			// runs here, so that one cut short by a crash resumes).
			ran, err := exclusive(ctx, opts, "storage-repair", func(ctx context.Context) error {
				if !owed && opts.Leases != nil {
					last, err := s.lastRepair(ctx)
					if err != nil {
						return err
					}
					if last.After(started) && time.Since(last) < opts.RepairInterval {
						nextPass = last.Add(opts.RepairInterval)
						return nil
					}
				}
				_, err := s.Repair(ctx)
				nextPass = time.Now().Add(opts.RepairInterval)
				// Paid, even by a pass that failed (as before there
				// were leases), so that a failing pass is not run
				// again every few seconds. An overflow during the
				// pass shows up at the next due() and owes another.
				owed = false
				return err
			})
			if err != nil && ctx.Err() == nil {
				s.log.Warn("repair pass", "err", err)
			}
			if !ran {
				// Another process is at it: look again shortly, in
				// case it stops halfway.
				nextPass = time.Now().Add(time.Minute)
			}
		}
	}
}

func (s *Store) runScrub(ctx context.Context, st *site, opts RunOptions) {
	for {
		wait := time.Minute
		// The state is read under the lease, so that it is not that of
		// a pass another process has since finished.
		_, err := exclusive(ctx, opts, "storage-scrub "+st.name, func(ctx context.Context) error {
			state, err := s.states.Load(ctx, st.name)
			if err != nil {
				return fmt.Errorf("load scrub state: %w", err)
			}
			if !state.ScrubbedAt.IsZero() {
				s.m.scrubbedAt.WithLabelValues(st.name).Set(float64(state.ScrubbedAt.Unix()))
			}
			if state.ScrubNext > 0 || time.Since(state.ScrubbedAt) >= opts.ScrubInterval {
				_, err := s.scrubSite(ctx, st, ScrubOptions{Rate: opts.ScrubRate, Resume: true})
				return err
			}
			return nil
		})
		if err != nil && ctx.Err() == nil {
			s.log.Warn("scrub", "location", st.name, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}
