package replicated

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// wantQuorumError checks that err is a *QuorumError naming exactly the
// locations of r at indexes down.
func wantQuorumError(t *testing.T, r *rig, err error, down ...int) {
	t.Helper()
	var qe *QuorumError
	if !errors.As(err, &qe) {
		t.Fatalf("Ready: %v, want a QuorumError", err)
	}
	var want []string
	for _, i := range down {
		want = append(want, r.s.sites[i].name)
	}
	if !slices.Equal(qe.Down, want) || qe.Total != len(r.locs) || qe.Reachable != len(r.locs)-len(down) || qe.Quorum != r.s.policy.WriteQuorum {
		t.Fatalf("Ready: %+v, want down %v of %d, quorum %d", qe, want, len(r.locs), r.s.policy.WriteQuorum)
	}
}

func TestReadyNeedsTheWriteQuorum(t *testing.T) {
	r := newRig(t, rigOpts{n: 3, policy: Policy{Replicas: 3}}) // write quorum 2
	ctx := t.Context()
	// No marker yet: a location that answers "not found" is reachable.
	if err := r.s.Ready(ctx); err != nil {
		t.Fatalf("all locations up: %v", err)
	}
	if err := r.s.Bind(ctx, "test-deployment"); err != nil {
		t.Fatal(err)
	}
	if err := r.s.Ready(ctx); err != nil {
		t.Fatalf("all locations up, marked: %v", err)
	}
	r.locs[1].down.Store(true)
	if err := r.s.Ready(ctx); err != nil {
		t.Fatalf("one location of three down, quorum 2: %v", err)
	}
	r.locs[2].down.Store(true)
	wantQuorumError(t, r, r.s.Ready(ctx), 1, 2)
	r.locs[1].down.Store(false)
	r.locs[2].down.Store(false)
	if err := r.s.Ready(ctx); err != nil {
		t.Fatalf("locations back: %v", err)
	}
	if n := counter(t, r.s.m.ops.WithLabelValues(r.s.sites[0].name, "probe", "ok")) + counter(t, r.s.m.ops.WithLabelValues(r.s.sites[0].name, "probe", "not_found")); n != 5 {
		t.Fatalf("probes counted for location 0: %v, want 5", n)
	}
}

func TestReadyErasureQuorum(t *testing.T) {
	// 2+1 shards: uploads need K+1 = 3, so one location down is too many.
	r := newRig(t, rigOpts{n: 3, policy: Policy{DataShards: 2, ParityShards: 1}})
	if err := r.s.Ready(t.Context()); err != nil {
		t.Fatalf("all locations up: %v", err)
	}
	r.locs[0].down.Store(true)
	wantQuorumError(t, r, r.s.Ready(t.Context()), 0)
}

func TestReadyHangingLocationIsDown(t *testing.T) {
	// The timeout (2 s) bounds the probe of a location that never
	// answers.
	r := newRig(t, rigOpts{n: 2, policy: Policy{Replicas: 2, WriteQuorum: 2}, timeout: 2 * time.Second})
	r.locs[1].hang.Store(true)
	wantQuorumError(t, r, r.s.Ready(t.Context()), 1)
}

func TestReadyCallerGaveUp(t *testing.T) {
	r := newRig(t, rigOpts{n: 2, policy: Policy{Replicas: 2}})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := r.s.Ready(ctx)
	var qe *QuorumError
	if !errors.Is(err, context.Canceled) || errors.As(err, &qe) {
		t.Fatalf("Ready with a cancelled context: %v, want the cancellation, not a verdict on the locations", err)
	}
	r.s.Close()
	if err := r.s.Ready(t.Context()); !errors.Is(err, errClosed) {
		t.Fatalf("Ready after Close: %v", err)
	}
}
