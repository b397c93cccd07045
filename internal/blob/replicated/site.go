package replicated

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-drive/coffer/internal/blob"
)

// errDown is returned, without trying, for a location whose circuit
// breaker is open.
var errDown = errors.New("location is down")

// site is one location with what guards it: a timeout on every call, a
// circuit breaker, the metrics, and a cap on writes still in flight after
// their upload was acknowledged without them.
type site struct {
	name    string
	loc     Location
	timeout time.Duration
	seed    uint64 // placement hashing
	// readHint is the buffer an object is first read into: a block, or
	// a shard of one.
	readHint int
	m        *siteMetrics

	mu        sync.Mutex
	fails     int       // consecutive failures
	openUntil time.Time // breaker open until then
	backoff   time.Duration

	backlog atomic.Int64 // bytes of writes not yet acknowledged by the location
}

func newSite(name string, loc Location, timeout time.Duration, m *metrics) *site {
	sum := sha256.Sum256([]byte(name))
	s := &site{name: name, loc: loc, timeout: timeout, seed: binary.BigEndian.Uint64(sum[:8]), m: m.site(name)}
	s.m.up.Set(1)
	return s
}

const (
	breakAfter  = 3 // consecutive failures that open the breaker
	minBackoff  = time.Second
	maxBackoff  = time.Minute
	maxBacklog  = 256 << 20 // bytes of unacknowledged writes per location
	maxReadSize = 16 << 20  // an object larger than this is not a block or shard
)

// allow reports whether calls may go to the location now. Once the
// breaker's time is up calls go through again (half-open): the first
// success closes it and a failure opens it for twice as long.
func (s *site) allow() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !time.Now().Before(s.openUntil)
}

// down reports whether the breaker is open.
func (s *site) down() bool { return !s.allow() }

// record feeds a call's outcome to the breaker. Answers that mean the
// location works (a block it does not have, or an object too large to be
// one) and calls given up by their caller do not count against it.
func (s *site) record(parent context.Context, err error) {
	if err != nil && (errors.Is(err, blob.ErrNotFound) || errors.Is(err, errTooBig) || parent.Err() != nil) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		if s.fails >= breakAfter {
			s.m.up.Set(1)
		}
		s.fails, s.backoff = 0, 0
		return
	}
	s.fails++
	if s.fails >= breakAfter {
		s.backoff = min(max(2*s.backoff, minBackoff), maxBackoff)
		s.openUntil = time.Now().Add(s.backoff)
		s.m.up.Set(0)
	}
}

// call runs fn against the location with the timeout and the breaker, and
// counts it.
func (s *site) call(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	_, err := callWithin(ctx, s, op, s.timeout, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, fn(ctx)
	})
	return err
}

// callWithin runs fn in a goroutine of its own and waits for it at most
// timeout: a location that blocks in a system call (a hard NFS mount whose
// server is gone) ignores contexts, and must still not hold up the caller,
// nor keep its breaker from opening. fn's result comes back through a
// channel, so a call given up on can finish later without racing anyone.
func callWithin[T any](ctx context.Context, s *site, op string, timeout time.Duration, fn func(ctx context.Context) (T, error)) (T, error) {
	var zero T
	if !s.allow() {
		s.m.ops.WithLabelValues(op, "down").Inc()
		return zero, fmt.Errorf("%s: %w", s.name, errDown)
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := fn(cctx)
		ch <- result{v, err}
	}()
	var r result
	select {
	case r = <-ch:
	case <-cctx.Done():
		r.err = cctx.Err()
	}
	s.m.seconds.WithLabelValues(op).Observe(time.Since(start).Seconds())
	s.record(ctx, r.err)
	switch {
	case r.err == nil:
		s.m.ops.WithLabelValues(op, "ok").Inc()
		return r.v, nil
	case errors.Is(r.err, blob.ErrNotFound):
		s.m.ops.WithLabelValues(op, "not_found").Inc()
	case cctx.Err() != nil && ctx.Err() == nil:
		s.m.ops.WithLabelValues(op, "timeout").Inc()
		r.err = fmt.Errorf("%w (no answer within %s)", r.err, timeout)
	default:
		s.m.ops.WithLabelValues(op, "error").Inc()
	}
	return zero, fmt.Errorf("%s: %w", s.name, r.err)
}

// errTooBig marks an object larger than any block or shard: rot or a
// hostile location, not a failure of the location.
var errTooBig = fmt.Errorf("larger than any block: %w", blob.ErrCorrupt)

// read returns the whole object stored under id.
func (s *site) read(ctx context.Context, id blob.ID) ([]byte, error) {
	data, err := callWithin(ctx, s, "get", s.timeout, func(ctx context.Context) ([]byte, error) {
		rc, err := s.loc.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		// A small block gets a small buffer when the location says how
		// long the object is, rather than one for the largest block.
		hint := s.readHint
		if sz, ok := rc.(interface{ Size() int64 }); ok && sz.Size() >= 0 && sz.Size() <= maxReadSize {
			hint = int(sz.Size()) + bytes.MinRead
		}
		var buf bytes.Buffer
		buf.Grow(hint)
		n, err := buf.ReadFrom(io.LimitReader(rc, maxReadSize+1))
		if err != nil {
			return nil, fmt.Errorf("read block %s: %w", id, err)
		}
		if n > maxReadSize {
			return nil, fmt.Errorf("block %s: %w", id, errTooBig)
		}
		return trim(buf.Bytes()), nil
	})
	return data, err
}

// readHead returns up to n bytes from the start of the object under id.
func (s *site) readHead(ctx context.Context, id blob.ID, n int) ([]byte, error) {
	return callWithin(ctx, s, "get", s.timeout, func(ctx context.Context) ([]byte, error) {
		rc, err := s.loc.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		buf := make([]byte, n)
		got, err := io.ReadFull(rc, buf)
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			err = nil
		}
		return buf[:got], err
	})
}

func (s *site) putBatch(ctx context.Context, objs []blob.Block) error {
	return s.call(ctx, "put", func(ctx context.Context) error {
		if len(objs) == 1 {
			return s.loc.Put(ctx, objs[0].ID, bytes.NewReader(objs[0].Data))
		}
		return s.loc.PutBatch(ctx, objs)
	})
}

func (s *site) stat(ctx context.Context, id blob.ID) (int64, error) {
	return callWithin(ctx, s, "stat", s.timeout, func(ctx context.Context) (int64, error) {
		return s.loc.Stat(ctx, id)
	})
}

func (s *site) delete(ctx context.Context, id blob.ID) error {
	return s.call(ctx, "delete", func(ctx context.Context) error {
		return s.loc.Delete(ctx, id)
	})
}

// markerID names the object that ties a location to its deployment (see
// Store.Bind). No block has it: that would take a SHA-256 preimage of zero.
var markerID blob.ID

// scan lists the objects under prefix, about 1/256 of the location: many
// pages of a bucket listing, so it gets ten times a call's timeout.
func (s *site) scan(ctx context.Context, prefix byte) (map[blob.ID]blob.Info, error) {
	return callWithin(ctx, s, "list", 10*s.timeout, func(ctx context.Context) (map[blob.ID]blob.Info, error) {
		objs := make(map[blob.ID]blob.Info)
		err := s.loc.Scan(ctx, prefix, func(info blob.Info) error {
			if info.ID != markerID {
				objs[info.ID] = info
			}
			return nil
		})
		return objs, err
	})
}
