package replicated

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/coffer-drive/coffer/internal/blob"
)

// readyProbeTimeout bounds each location's answer to a readiness probe
// (or the store's Timeout, if shorter). A load balancer polls readiness
// every few seconds and gives up on a slow answer; a location slower than
// this is as good as down for it.
const readyProbeTimeout = 5 * time.Second

// QuorumError is Ready's answer when too few locations answer for an
// upload to be acknowledged.
type QuorumError struct {
	Reachable, Total, Quorum int
	// Down names the locations that did not answer: their URLs without
	// credentials.
	Down []string
}

func (e *QuorumError) Error() string {
	return fmt.Sprintf("%d of %d block locations reachable, and uploads need %d (down: %s)",
		e.Reachable, e.Total, e.Quorum, strings.Join(e.Down, ", "))
}

// Ready reports whether at least WriteQuorum locations answer, which
// uploads need; otherwise it returns a *QuorumError. It is a floor, not a
// promise: with more locations than a block's copies or shards, a block
// whose own locations are the ones down still fails.
//
// Each location gets one cheap call, a Stat of its deployment marker (see
// Bind; a marker not found still means the location answers), bounded by
// readyProbeTimeout. A location whose circuit breaker is open counts as
// down without a call. The calls feed the breakers and the metrics (op
// "probe") like any other, so an idle server notices a dead location here
// before an upload has to.
//
// Ready does not cache its answer: a caller polled often (the server's
// /readyz) should, so that every poll does not reach every bucket.
func (s *Store) Ready(ctx context.Context) error {
	// Counted on bg like a write, so that Close does not close the
	// locations under a probe.
	if !s.startBG() {
		return errClosed
	}
	defer s.bg.Done()
	down := make([]bool, len(s.sites))
	var wg sync.WaitGroup
	for i, st := range s.sites {
		wg.Go(func() {
			_, err := callWithin(ctx, st, "probe", min(st.timeout, readyProbeTimeout), func(ctx context.Context) (int64, error) {
				return st.loc.Stat(ctx, markerID)
			})
			down[i] = err != nil && !errors.Is(err, blob.ErrNotFound)
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		// Given up by the caller: that says nothing about the locations.
		return fmt.Errorf("probe block locations: %w", err)
	}
	qe := &QuorumError{Total: len(s.sites), Quorum: s.policy.WriteQuorum}
	for i, st := range s.sites {
		if down[i] {
			qe.Down = append(qe.Down, st.name)
		} else {
			qe.Reachable++
		}
	}
	if qe.Reachable < qe.Quorum {
		return qe
	}
	return nil
}
