// Package replicated keeps blocks in several locations (folders or
// buckets, ideally in different data centres), so that losing a whole
// location loses nothing.
//
// Two policies are offered. With replicas, each block is copied whole to
// N locations. With erasure coding (K+M), each block is cut into K data
// shards and M parity shards (Reed-Solomon, klauspost/reedsolomon), one per
// location, and any K of them rebuild it: M locations may be lost for
// (K+M)/K times the space instead of N times.
//
// Which locations hold a block is a function of its ID and the locations'
// names (rendezvous hashing), so the layout needs no index: a location's
// name is its URL, and renaming one moves blocks (repair moves them).
//
// # Checks
//
// Locations are opened unchecked: they store bytes under a block's ID
// without hashing them, because in erasure mode what a location holds
// under the ID is a shard. This package checks everything it reads: a
// copy against the block's ID, a shard against the checksum in its header
// (see shard.go) and a rebuilt block against its ID. A copy that is
// missing, rotted or unreadable is gone around (the next copy is read, or
// the block rebuilt from other shards) and queued for repair; the caller
// only sees an error if too few sound copies remain, and then never
// wrong bytes.
//
// # Writes
//
// A write goes to every location the block belongs in at once, and is
// acknowledged when WriteQuorum of them hold it durably. Writes to the
// others carry on after that, bounded in time (Timeout) and in memory per
// location, and what they fail to write is queued for repair. A location
// that keeps failing is skipped for a while (a circuit breaker), so a dead
// location costs an upload nothing once noticed.
//
// # Repair and scrub
//
// Repair brings every block the Catalog lists back to its policy: it
// lists each location a 1/256 slice of the ID space at a time, writes the
// copies or shards that are missing or the wrong size, and deletes
// objects no block needs any more (after Grace, so a block being uploaded
// and not yet recorded is left alone). Deletes that failed because a
// location was down are thus finished by a later pass. Scrub re-reads and
// re-hashes every copy at a bounded rate and repairs what has rotted.
package replicated

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/klauspost/reedsolomon"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/coffer-drive/coffer/internal/blob"
)

// Location is one place blocks are kept. It is opened unchecked: Put and
// Get store and return bytes under an ID without comparing them with the
// ID's hash (this package does the checking). Scan lists the objects whose
// ID starts with prefix, with their sizes and times, in ascending order.
// file.Store (OpenUnchecked) and s3.Store (Options.Unchecked) are
// Locations.
type Location interface {
	Put(ctx context.Context, id blob.ID, r io.Reader) error
	PutBatch(ctx context.Context, blocks []blob.Block) error
	Get(ctx context.Context, id blob.ID) (io.ReadCloser, error)
	Stat(ctx context.Context, id blob.ID) (int64, error)
	Delete(ctx context.Context, id blob.ID) error
	Scan(ctx context.Context, prefix byte, fn func(blob.Info) error) error
	Close() error
}

// Catalog says which blocks must be kept: the metadata store's record of
// uploaded blocks.
type Catalog interface {
	// Blocks calls fn for every block to keep whose ID starts with
	// prefix, in ascending order of ID, with its size.
	Blocks(ctx context.Context, prefix byte, fn func(id blob.ID, size int64) error) error
	// Unknown returns those of ids that are not to be kept.
	Unknown(ctx context.Context, ids []blob.ID) ([]blob.ID, error)
}

// LocationState is what is remembered about a location between runs.
type LocationState struct {
	ScrubbedAt time.Time // end of the last full scrub; zero if never
	ScrubNext  int       // first prefix the scrub in progress has not done; 0 if none
	RepairedAt time.Time // end of the last full repair pass that reached it
}

// States keeps LocationStates, by location name, where every server sees them.
type States interface {
	Load(ctx context.Context, name string) (LocationState, error) // zero state if none saved
	Save(ctx context.Context, name string, st LocationState) error
}

// Policy is how many copies of a block are kept, and where.
type Policy struct {
	// Replicas is the number of whole copies of each block (mode
	// replicas). It is at most the number of locations.
	Replicas int
	// DataShards and ParityShards, if DataShards is set, select erasure
	// coding instead: K data and M parity shards on K+M locations.
	DataShards, ParityShards int
	// WriteQuorum is how many of a block's locations must hold it before
	// a write is acknowledged. Zero picks a majority of the replicas, or
	// K+1 shards (capped at K+M), so that one more loss is survivable
	// until repair has run.
	WriteQuorum int
}

// String describes the policy for status output.
func (p Policy) String() string {
	if p.DataShards > 0 {
		return fmt.Sprintf("erasure coding %d+%d (any %d locations may be lost), write quorum %d", p.DataShards, p.ParityShards, p.ParityShards, p.WriteQuorum)
	}
	return fmt.Sprintf("%d replicas (any %d locations may be lost), write quorum %d", p.Replicas, p.Replicas-1, p.WriteQuorum)
}

// width is the number of locations each block is spread over.
func (p Policy) width() int {
	if p.DataShards > 0 {
		return p.DataShards + p.ParityShards
	}
	return p.Replicas
}

// readable is the least number of sound copies or shards a block can be
// read from.
func (p Policy) readable() int {
	if p.DataShards > 0 {
		return p.DataShards
	}
	return 1
}

// NamedLocation is a location and its name, its URL without credentials.
type NamedLocation struct {
	Name     string
	Location Location
}

// Config configures a Store.
type Config struct {
	Locations []NamedLocation
	Policy    Policy
	// Catalog lists the blocks to keep. Without one, repair keeps every
	// block any location holds, and deletes nothing.
	Catalog Catalog
	// States keeps scrub and repair progress. Without one it is kept in memory.
	States States
	// Timeout bounds each call to a location (default 30 s).
	Timeout time.Duration
	// Grace is how old an object no block needs must be before repair
	// deletes it (default 1 h): a block is stored before it is recorded.
	Grace time.Duration
	// Log receives faults and repairs (default: discarded).
	Log *slog.Logger
	// Registerer receives the metrics (default: none).
	Registerer prometheus.Registerer
}

// Store is a blob.Store over several locations. See the package documentation.
type Store struct {
	sites   []*site
	policy  Policy
	geo     geometry
	enc     reedsolomon.Encoder // erasure mode only
	catalog Catalog
	states  States
	grace   time.Duration
	log     *slog.Logger
	m       *metrics

	bgMu   sync.Mutex     // guards closed, and bg.Add against Close's bg.Wait
	closed bool           // set by Close: no more writes start
	bg     sync.WaitGroup // writes carrying on after their acknowledgement

	qmu      sync.Mutex
	queue    map[blob.ID]time.Time // targeted repairs and when they are due
	overflow bool                  // the queue was full: a full pass is due

	passMu sync.Mutex // one repair pass at a time
}

// blockHint is the buffer a block is first read into: the largest block
// clients write (4 MiB of content and its overhead), with room to spare
// so that reading to its end does not grow the buffer.
const blockHint = 4<<20 + 8<<10

// maxQueue bounds the targeted-repair queue; past it a full pass is run instead.
const maxQueue = 100_000

// New returns a Store over cfg.Locations. It checks the policy against the
// number of locations but does not contact them.
func New(cfg Config) (*Store, error) {
	n := len(cfg.Locations)
	if n == 0 {
		return nil, errors.New("no block locations")
	}
	names := make(map[string]bool)
	for _, l := range cfg.Locations {
		if names[l.Name] {
			return nil, fmt.Errorf("block location %s is given twice", l.Name)
		}
		names[l.Name] = true
	}
	p := cfg.Policy
	var enc reedsolomon.Encoder
	if p.DataShards > 0 {
		if p.ParityShards < 1 {
			return nil, fmt.Errorf("erasure coding %d+%d: want at least one parity shard", p.DataShards, p.ParityShards)
		}
		if p.Replicas > 1 {
			return nil, errors.New("choose replicas or erasure coding, not both")
		}
		if p.DataShards+p.ParityShards > n {
			return nil, fmt.Errorf("erasure coding %d+%d needs %d locations, and %d are given", p.DataShards, p.ParityShards, p.DataShards+p.ParityShards, n)
		}
		var err error
		if enc, err = reedsolomon.New(p.DataShards, p.ParityShards); err != nil {
			return nil, fmt.Errorf("erasure coding %d+%d: %w", p.DataShards, p.ParityShards, err)
		}
		p.Replicas = 0
		if p.WriteQuorum == 0 {
			p.WriteQuorum = min(p.DataShards+1, p.DataShards+p.ParityShards)
		}
		if p.WriteQuorum < p.DataShards || p.WriteQuorum > p.DataShards+p.ParityShards {
			return nil, fmt.Errorf("write quorum %d: with %d+%d it must be %d to %d", p.WriteQuorum, p.DataShards, p.ParityShards, p.DataShards, p.DataShards+p.ParityShards)
		}
	} else {
		if p.Replicas == 0 {
			p.Replicas = n
		}
		if p.Replicas < 1 || p.Replicas > n {
			return nil, fmt.Errorf("%d replicas: want 1 to the number of locations, %d", p.Replicas, n)
		}
		if p.WriteQuorum == 0 {
			p.WriteQuorum = p.Replicas/2 + 1
		}
		if p.WriteQuorum < 1 || p.WriteQuorum > p.Replicas {
			return nil, fmt.Errorf("write quorum %d: with %d replicas it must be 1 to %d", p.WriteQuorum, p.Replicas, p.Replicas)
		}
	}
	s := &Store{
		policy:  p,
		geo:     geometry{k: p.DataShards, m: p.ParityShards},
		enc:     enc,
		catalog: cfg.Catalog,
		states:  cfg.States,
		grace:   cfg.Grace,
		log:     cfg.Log,
		m:       newMetrics(cfg.Registerer),
		queue:   make(map[blob.ID]time.Time),
	}
	if s.states == nil {
		s.states = &memStates{m: make(map[string]LocationState)}
	}
	if s.grace == 0 {
		s.grace = time.Hour
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	hint := blockHint
	if s.erasure() {
		hint = shardHeaderLen + s.geo.shardLen(blockHint)
	}
	for _, l := range cfg.Locations {
		st := newSite(l.Name, l.Location, timeout, s.m)
		st.readHint = hint
		s.sites = append(s.sites, st)
	}
	return s, nil
}

// Policy returns the policy in force, with defaults filled in.
func (s *Store) Policy() Policy { return s.policy }

// Locations returns the locations' names, in the order given.
func (s *Store) Locations() []string {
	names := make([]string, len(s.sites))
	for i, st := range s.sites {
		names[i] = st.name
	}
	return names
}

// erasure reports whether blocks are erasure-coded.
func (s *Store) erasure() bool { return s.policy.DataShards > 0 }

// place returns the locations block id belongs in, in order: the i-th
// holds copy or shard i. Each location's score for the block is a hash of
// the ID and the location's name; the highest scores win (rendezvous
// hashing), so adding or removing a location moves only the blocks that
// must move, and for a single block the order looks random, which spreads
// reads and parity over all locations.
func (s *Store) place(id blob.ID) []*site {
	type scored struct {
		s     *site
		score uint64
	}
	all := make([]scored, len(s.sites))
	x := binary.BigEndian.Uint64(id[:8])
	for i, st := range s.sites {
		all[i] = scored{st, mix(x ^ st.seed)}
	}
	slices.SortFunc(all, func(a, b scored) int {
		if a.score > b.score {
			return -1
		}
		if a.score < b.score {
			return 1
		}
		return 0
	})
	out := make([]*site, s.policy.width())
	for i := range out {
		out[i] = all[i].s
	}
	return out
}

// mix is the splitmix64 finaliser: a block ID is already random, so
// mixing in the location's seed is all a fair score needs.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// objects returns what each of a block's locations stores: the block
// itself, or its shard.
func (s *Store) objects(id blob.ID, data []byte) ([][]byte, error) {
	if !s.erasure() {
		objs := make([][]byte, s.policy.Replicas)
		for i := range objs {
			objs[i] = data
		}
		return objs, nil
	}
	return s.geo.encode(s.enc, id, data)
}

// Put implements blob.Store. It reads the whole block into memory.
func (s *Store) Put(ctx context.Context, id blob.ID, r io.Reader) error {
	var buf bytes.Buffer
	// Sized for a whole block at once: growing by doubling would cost
	// four times the block in fresh memory.
	buf.Grow(blockHint)
	if _, err := buf.ReadFrom(&ctxReader{ctx: ctx, r: r}); err != nil {
		return fmt.Errorf("put block %s: %w", id, err)
	}
	return s.PutBatch(ctx, []blob.Block{{ID: id, Data: trim(buf.Bytes())}})
}

// ctxReader fails reads once ctx is done, so a stalled body cannot hold
// a Put after its caller gave up.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// PutBatch implements blob.BatchPutter. It returns once every block is
// held by WriteQuorum of its locations; writes to the others go on in the
// background and keep the blocks' Data until they end, so callers must
// not change it afterwards.
func (s *Store) PutBatch(ctx context.Context, blocks []blob.Block) error {
	if err := blob.CheckBatch(blocks); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// One count on bg for the whole call keeps Close from returning (and
	// closing the locations) while this call may still start writes.
	if !s.startBG() {
		return errClosed
	}
	defer s.bg.Done()
	// What each location is to store, and which blocks it counts for.
	type job struct {
		objs   []blob.Block
		blocks []int
		bytes  int64
	}
	jobs := make(map[*site]*job)
	var order []*site
	for bi, b := range blocks {
		objs, err := s.objects(b.ID, b.Data)
		if err != nil {
			return err
		}
		for i, st := range s.place(b.ID) {
			j := jobs[st]
			if j == nil {
				j = &job{}
				jobs[st] = j
				order = append(order, st)
			}
			j.objs = append(j.objs, blob.Block{ID: b.ID, Data: objs[i]})
			j.blocks = append(j.blocks, bi)
			j.bytes += int64(len(objs[i]))
		}
	}

	type result struct {
		st  *site
		err error
	}
	results := make(chan result, len(order))
	// The writes outlive an acknowledged call: the locations left behind
	// still get their copies (bounded by the timeout).
	wctx := context.WithoutCancel(ctx)
	for _, st := range order {
		j := jobs[st]
		if st.backlog.Load()+j.bytes > maxBacklog {
			// The location is not keeping up; repair will catch it up
			// rather than this upload waiting for it or memory growing.
			results <- result{st, fmt.Errorf("%s: %d bytes of writes already waiting", st.name, st.backlog.Load())}
			continue
		}
		st.backlog.Add(j.bytes)
		s.bg.Add(1)
		go func() {
			defer s.bg.Done()
			err := st.putBatch(wctx, j.objs)
			st.backlog.Add(-j.bytes)
			results <- result{st, err}
		}()
	}

	acks := make([]int, len(blocks))
	pending := make([]int, len(blocks))
	for _, j := range jobs {
		for _, bi := range j.blocks {
			pending[bi]++
		}
	}
	var errs []error
	quorum := s.policy.WriteQuorum
	done := func() (bool, error) {
		ok := true
		for bi := range blocks {
			if acks[bi] < quorum {
				ok = false
				if acks[bi]+pending[bi] < quorum {
					return true, fmt.Errorf("put block %s: %d of %d locations hold it, %d needed: %w", blocks[bi].ID, acks[bi], s.policy.width(), quorum, errors.Join(errs...))
				}
			}
		}
		return ok, nil
	}
	failed := make(map[*site]bool)
	received := 0
	var outcome error
	for received < len(order) {
		var r result
		select {
		case r = <-results:
		case <-ctx.Done():
			outcome = ctx.Err()
		}
		if outcome != nil {
			break
		}
		received++
		for _, bi := range jobs[r.st].blocks {
			pending[bi]--
			if r.err == nil {
				acks[bi]++
			}
		}
		if r.err != nil {
			failed[r.st] = true
			errs = append(errs, r.err)
			s.log.WarnContext(ctx, "block location write failed", "location", r.st.name, "blocks", len(jobs[r.st].blocks), "err", r.err)
		}
		if finished, err := done(); finished {
			outcome = err
			break
		}
	}
	if outcome == nil && received < len(order) {
		// Acknowledged early; settle the rest when they end.
		rest := len(order) - received
		s.bg.Add(1)
		go func() {
			defer s.bg.Done()
			for range rest {
				r := <-results
				if r.err != nil {
					s.log.WarnContext(ctx, "block location write failed after quorum", "location", r.st.name, "blocks", len(jobs[r.st].blocks), "err", r.err)
					s.queueAll(blocks, jobs[r.st].blocks)
					s.m.writesShort.Add(float64(len(jobs[r.st].blocks)))
				}
			}
		}()
	}
	for st := range failed {
		s.queueAll(blocks, jobs[st].blocks)
		if outcome == nil {
			s.m.writesShort.Add(float64(len(jobs[st].blocks)))
		}
	}
	return outcome
}

// errClosed is returned by writes after Close.
var errClosed = errors.New("block storage is closed")

// startBG adds one to bg unless the store is closed.
func (s *Store) startBG() bool {
	s.bgMu.Lock()
	defer s.bgMu.Unlock()
	if s.closed {
		return false
	}
	s.bg.Add(1)
	return true
}

// queueAll queues the given blocks for repair. The delay lets the
// upload record them first: repair leaves alone blocks not yet recorded.
func (s *Store) queueAll(blocks []blob.Block, which []int) {
	for _, bi := range which {
		s.enqueue(blocks[bi].ID, 30*time.Second)
	}
}

// Get implements blob.Store. It reads and checks the whole block before
// returning, going around missing or bad copies; the reader it returns
// has a Size method.
func (s *Store) Get(ctx context.Context, id blob.ID) (io.ReadCloser, error) {
	data, err := s.read(ctx, id, nil)
	if err != nil {
		return nil, err
	}
	return blockReader{bytes.NewReader(data)}, nil
}

// trim returns b in a buffer of its own size if b's is much larger, so
// that a small block held after a read, or by writes still going on,
// does not keep a whole block's buffer.
func trim(b []byte) []byte {
	if cap(b)-len(b) > 64<<10 {
		return bytes.Clone(b)
	}
	return b
}

// blockReader is a checked block in memory. Size lets a server send its
// length without a Stat.
type blockReader struct{ *bytes.Reader }

func (blockReader) Close() error { return nil }

// ReadError says why a block could not be read: too few sound copies.
type ReadError struct {
	ID      blob.ID
	Need    int // sound copies or shards needed
	Missing int // locations that do not hold it
	Corrupt int // copies or shards that failed their check
	Failed  int // locations that could not be asked or did not answer
	// Err holds each location's failure, for the message. It is not
	// unwrapped: that one location lacks the block must not make the
	// whole read look like blob.ErrNotFound (Is decides that).
	Err error
}

func (e *ReadError) Error() string {
	return fmt.Sprintf("read block %s: too few sound copies (need %d; %d missing, %d corrupt, %d unreachable): %v", e.ID, e.Need, e.Missing, e.Corrupt, e.Failed, e.Err)
}

// Is makes a block no location holds blob.ErrNotFound, and one with
// only bad copies left blob.ErrCorrupt.
func (e *ReadError) Is(target error) bool {
	switch target {
	case blob.ErrNotFound:
		return e.Missing > 0 && e.Corrupt == 0 && e.Failed == 0
	case blob.ErrCorrupt:
		return e.Corrupt > 0
	}
	return false
}

// read returns the block's bytes, checked. skip names locations not to
// read from (known bad). Copies found bad are queued for repair.
func (s *Store) read(ctx context.Context, id blob.ID, skip map[*site]bool) ([]byte, error) {
	if s.erasure() {
		return s.readShards(ctx, id, skip)
	}
	placed := s.readOrder(s.place(id))
	sites := placed
	if len(placed) < len(s.sites) {
		// Locations the block does not belong in come last: after a
		// change of locations its copies may still be there.
		for _, st := range s.readOrder(s.sites) {
			if !slices.Contains(placed, st) {
				sites = append(sites, st)
			}
		}
	}
	rerr := &ReadError{ID: id, Need: 1}
	var errs []error
	for i, st := range sites {
		if skip[st] {
			continue
		}
		data, err := st.read(ctx, id)
		if err != nil && i >= len(placed) && errors.Is(err, blob.ErrNotFound) {
			continue // not a fault: the block does not belong there
		}
		if err == nil && blob.Sum(data) != id {
			err = fmt.Errorf("%s: read block %s: %w", st.name, id, blob.ErrCorrupt)
		}
		if err == nil {
			if len(errs) > 0 {
				s.m.degraded.Inc()
			}
			return data, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		errs = append(errs, err)
		s.fault(ctx, st, id, err, rerr)
	}
	return nil, s.readFailed(ctx, rerr, errs)
}

// readOrder puts locations whose breaker is open last: they are tried only
// if every other fails.
func (s *Store) readOrder(sites []*site) []*site {
	out := make([]*site, 0, len(sites))
	var down []*site
	for _, st := range sites {
		if st.down() {
			down = append(down, st)
		} else {
			out = append(out, st)
		}
	}
	return append(out, down...)
}

// fault counts a bad or missing copy met by a read and queues the block.
func (s *Store) fault(ctx context.Context, st *site, id blob.ID, err error, rerr *ReadError) {
	kind := "error"
	switch {
	case errors.Is(err, blob.ErrNotFound):
		kind = "missing"
		rerr.Missing++
	case errors.Is(err, blob.ErrCorrupt), errors.Is(err, errBadShard):
		kind = "corrupt"
		rerr.Corrupt++
	default:
		rerr.Failed++
	}
	s.m.faults.WithLabelValues(st.name, kind).Inc()
	if kind != "error" {
		s.log.WarnContext(ctx, "bad block copy", "block", id.String(), "location", st.name, "fault", kind, "err", err)
		s.enqueue(id, 0)
	} else {
		s.log.WarnContext(ctx, "block location unreadable", "block", id.String(), "location", st.name, "err", err)
		// Repaired once the location is back, by the next pass.
	}
}

func (s *Store) readFailed(ctx context.Context, rerr *ReadError, errs []error) error {
	s.m.readsFailed.Inc()
	rerr.Err = errors.Join(errs...)
	if rerr.Err == nil {
		rerr.Err = errors.New("no location to read from")
	}
	s.log.ErrorContext(ctx, "block unreadable", "block", rerr.ID.String(), "missing", rerr.Missing, "corrupt", rerr.Corrupt, "unreachable", rerr.Failed)
	return rerr
}

// readShards reads a block in erasure mode: the data shards if they are
// sound, else whichever shards it takes to rebuild it.
func (s *Store) readShards(ctx context.Context, id blob.ID, skip map[*site]bool) ([]byte, error) {
	k := s.policy.DataShards
	placed := s.place(id)
	shards := make([][]byte, len(placed))
	var size int64 = -1
	rerr := &ReadError{ID: id, Need: k}
	var errs []error
	tried := make([]bool, len(placed))
	raw := make([][]byte, len(placed)) // each shard's whole object, by index
	from := make([]int, len(placed))   // and the position it came from
	sound := 0
	fault := func(pos int, err error) {
		if ctx.Err() == nil {
			errs = append(errs, err)
			s.fault(ctx, placed[pos], id, err, rerr)
		}
	}
	// fetch reads the shards at the given positions at once.
	fetch := func(positions []int) {
		type got struct {
			pos  int
			data []byte
			err  error
		}
		ch := make(chan got, len(positions))
		for _, p := range positions {
			tried[p] = true
			go func() {
				data, err := placed[p].read(ctx, id)
				ch <- got{p, data, err}
			}()
		}
		for range positions {
			g := <-ch
			err := g.err
			var info shardInfo
			if err == nil {
				// Every shard is checked before it is used (CRC-32C runs at
				// memory speed): trusting a header unchecked would let one
				// rotten size or index byte push sound shards aside.
				info, err = s.geo.openShard(id, g.data)
			}
			if err == nil && size >= 0 && info.size != size {
				err = fmt.Errorf("block %s: %w: shards disagree on the size", id, errBadShard)
			}
			if err != nil {
				fault(g.pos, err)
				continue
			}
			size = info.size
			if shards[info.index] == nil {
				shards[info.index], raw[info.index], from[info.index] = info.shard, g.data, g.pos
				sound++
			}
			if info.index != g.pos {
				// A shard in the wrong place (the locations were renamed
				// or reordered): usable, and repair will move it.
				s.enqueue(id, 0)
			}
		}
	}
	var first []int
	for p := range placed {
		if len(first) < k && !skip[placed[p]] && !placed[p].down() {
			first = append(first, p)
		}
	}
	fetch(first)
	if sound == k && !missingData(shards[:k]) {
		if data, err := s.geo.join(id, size, shards); err == nil {
			return data, nil
		}
	}
	// The slow way: fetch more, rebuild.
	for sound < k && ctx.Err() == nil {
		// Not enough yet: try every shard not yet tried, down locations last.
		var more []int
		for p := range placed {
			if !tried[p] && !skip[placed[p]] {
				more = append(more, p)
			}
		}
		if len(more) == 0 {
			break
		}
		fetch(more)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if sound < k {
		return nil, s.readFailed(ctx, rerr, errs)
	}
	if missingData(shards[:k]) {
		if err := s.enc.ReconstructData(shards); err != nil {
			return nil, fmt.Errorf("rebuild block %s: %w", id, err)
		}
	}
	data, err := s.geo.join(id, size, shards)
	if err != nil {
		s.m.readsFailed.Inc()
		s.log.ErrorContext(ctx, "block shards forged or inconsistent", "block", id.String(), "err", err)
		return nil, err
	}
	s.m.degraded.Inc()
	return data, nil
}

// missingData reports whether any of the data shards is missing.
func missingData(shards [][]byte) bool {
	return slices.ContainsFunc(shards, func(b []byte) bool { return b == nil })
}

// Stat implements blob.Store: the size from the first location that has
// the block, without reading it (in erasure mode, only a shard's header).
func (s *Store) Stat(ctx context.Context, id blob.ID) (int64, error) {
	var errs []error
	missing := 0
	for _, st := range s.readOrder(s.place(id)) {
		var size int64
		var err error
		if s.erasure() {
			var head []byte
			head, err = st.readHead(ctx, id, shardHeaderLen)
			if err == nil {
				if len(head) < shardHeaderLen || string(head[:4]) != shardMagic {
					err = fmt.Errorf("%s: block %s: %w", st.name, id, errBadShard)
				} else {
					size = int64(binary.BigEndian.Uint64(head[8:16]))
				}
			}
		} else {
			size, err = st.stat(ctx, id)
		}
		if err == nil {
			return size, nil
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if errors.Is(err, blob.ErrNotFound) {
			missing++
		}
		errs = append(errs, err)
	}
	if missing == len(errs) {
		return 0, fmt.Errorf("stat block %s: %w", id, blob.ErrNotFound)
	}
	// Not wrapped: one location lacking the block while others fail must
	// not read as blob.ErrNotFound.
	return 0, fmt.Errorf("stat block %s: %v", id, errors.Join(errs...))
}

// Delete implements blob.Store. It deletes the block from every location,
// not only those it belongs in, since a stray copy may have been left by
// a change of locations. A location that cannot be reached keeps its copy
// until a repair pass finds it unneeded.
func (s *Store) Delete(ctx context.Context, id blob.ID) error {
	errs := make([]error, len(s.sites))
	var wg sync.WaitGroup
	for i, st := range s.sites {
		wg.Go(func() { errs[i] = st.delete(ctx, id) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("delete block %s (repair will finish it): %w", id, err)
	}
	return nil
}

// List implements blob.Store: every block any reachable location holds,
// once each, in ascending order.
func (s *Store) List(ctx context.Context, fn func(blob.ID) error) error {
	for p := range 256 {
		seen := make(map[blob.ID]bool)
		for _, st := range s.sites {
			objs, err := st.scan(ctx, byte(p))
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				s.log.Warn("list block location", "location", st.name, "err", err)
				continue
			}
			for id := range objs {
				seen[id] = true
			}
		}
		ids := make([]blob.ID, 0, len(seen))
		for id := range seen {
			ids = append(ids, id)
		}
		slices.SortFunc(ids, func(a, b blob.ID) int { return bytes.Compare(a[:], b[:]) })
		for _, id := range ids {
			if err := fn(id); err != nil {
				return err
			}
		}
	}
	return nil
}

// Close waits for writes still going to slow locations (each bounded by
// the timeout) and closes every location.
func (s *Store) Close() error {
	s.bgMu.Lock()
	s.closed = true
	s.bgMu.Unlock()
	s.bg.Wait()
	var errs []error
	for _, st := range s.sites {
		if err := st.loc.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", st.name, err))
		}
	}
	return errors.Join(errs...)
}

// memStates keeps LocationStates in memory, for a Store without States.
type memStates struct {
	mu sync.Mutex
	m  map[string]LocationState
}

func (m *memStates) Load(_ context.Context, name string) (LocationState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.m[name], nil
}

func (m *memStates) Save(_ context.Context, name string, st LocationState) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.m[name] = st
	return nil
}
