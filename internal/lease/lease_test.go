package lease_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/coffer-drive/coffer/internal/lease"
	"github.com/coffer-drive/coffer/internal/meta/sqlite"
)

func TestOneHolderAtATime(t *testing.T) {
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a, b := lease.Holder(), lease.Holder()
	if a == b {
		t.Fatalf("two holders share the name %q", a)
	}
	var inner atomic.Bool
	ran, err := lease.Run(t.Context(), st, "pass", a, func(ctx context.Context) error {
		// While a runs, b is refused and does not run.
		ran, err := lease.Run(ctx, st, "pass", b, func(context.Context) error {
			inner.Store(true)
			return nil
		})
		if ran || err != nil {
			t.Errorf("second holder: ran %v, err %v; want neither", ran, err)
		}
		return nil
	})
	if !ran || err != nil {
		t.Fatalf("first holder: ran %v, err %v", ran, err)
	}
	if inner.Load() {
		t.Error("the second holder's work ran under the first's lease")
	}
	// Released: b gets it now.
	ran, err = lease.Run(t.Context(), st, "pass", b, func(context.Context) error { return nil })
	if !ran || err != nil {
		t.Errorf("after release: ran %v, err %v; want the lease", ran, err)
	}
}
