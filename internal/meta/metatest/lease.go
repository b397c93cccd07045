package metatest

import (
	"sync"
	"testing"
	"time"

	"github.com/coffer-drive/coffer/internal/meta"
)

var leaseTests = []test{
	{"TakeRenewRelease", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		now := t0
		mustLease := func(holder string, at time.Time, want bool) {
			t.Helper()
			got, err := s.AcquireLease(ctx, "repair", holder, at, time.Minute)
			if err != nil {
				t.Fatalf("AcquireLease(%s): %v", holder, err)
			}
			if got != want {
				t.Fatalf("AcquireLease(%s) at +%v = %v, want %v", holder, at.Sub(now), got, want)
			}
		}
		mustLease("a", now, true)
		mustLease("b", now.Add(30*time.Second), false) // a holds it
		mustLease("a", now.Add(50*time.Second), true)  // renewed until +110s
		mustLease("b", now.Add(100*time.Second), false)
		mustLease("b", now.Add(111*time.Second), true) // expired: b takes it
		mustLease("a", now.Add(112*time.Second), false)
		// Releasing someone else's lease does nothing.
		if err := s.ReleaseLease(ctx, "repair", "a"); err != nil {
			t.Fatalf("ReleaseLease: %v", err)
		}
		mustLease("a", now.Add(113*time.Second), false)
		if err := s.ReleaseLease(ctx, "repair", "b"); err != nil {
			t.Fatalf("ReleaseLease: %v", err)
		}
		mustLease("a", now.Add(114*time.Second), true)
		// Leases are independent of each other.
		if ok, err := s.AcquireLease(ctx, "scrub", "b", now.Add(114*time.Second), time.Minute); err != nil || !ok {
			t.Fatalf("AcquireLease of another name = %v, %v; want true", ok, err)
		}
	}},
	{"BadArguments", func(t *testing.T, s meta.Store) {
		for _, c := range []struct {
			name, holder string
			ttl          time.Duration
		}{{"", "a", time.Minute}, {"x", "", time.Minute}, {"x", "a", 0}} {
			if ok, err := s.AcquireLease(t.Context(), c.name, c.holder, t0, c.ttl); err == nil || ok {
				t.Errorf("AcquireLease(%q, %q, %v) = %v, %v; want an error", c.name, c.holder, c.ttl, ok, err)
			}
		}
	}},
}

// LeaseConcurrently has n holders, spread over stores (which must share
// one database), race for one lease: exactly one must get it.
func LeaseConcurrently(t *testing.T, stores []meta.Store, n int) {
	t.Helper()
	var wg sync.WaitGroup
	got := make([]bool, n)
	for i := range n {
		wg.Go(func() {
			ok, err := stores[i%len(stores)].AcquireLease(t.Context(), "race", string(rune('a'+i)), t0, time.Minute)
			if err != nil {
				t.Errorf("AcquireLease #%d: %v", i, err)
			}
			got[i] = ok
		})
	}
	wg.Wait()
	winners := 0
	for _, ok := range got {
		if ok {
			winners++
		}
	}
	if winners != 1 {
		t.Errorf("%d of %d holders got the lease, want 1", winners, n)
	}
}
