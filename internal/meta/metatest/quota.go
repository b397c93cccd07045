package metatest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/coffer-drive/coffer/internal/meta"
)

// QuotaConcurrently has n uploads of 100-byte blocks, spread over stores
// (which must share one database), race against a quota with room for
// n/2 of them: exactly n/2 must be accepted, the rest refused with
// ErrQuota, and the usage must be exactly what was accepted.
func QuotaConcurrently(t *testing.T, stores []meta.Store, name string, n int) {
	t.Helper()
	ctx := t.Context()
	u := newUser(name)
	owner := createUser(t, stores[0], u)
	if err := stores[0].SetQuota(ctx, owner, int64(n/2)*100); err != nil {
		t.Fatalf("SetQuota: %v", err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := 0
	for i := range n {
		wg.Go(func() {
			err := stores[i%len(stores)].AddBlock(ctx, owner, blockID(fmt.Sprintf("%s quota %d", name, i)), 100, t0)
			switch {
			case err == nil:
				mu.Lock()
				accepted++
				mu.Unlock()
			case !errors.Is(err, meta.ErrQuota):
				t.Errorf("AddBlock #%d: %v, want nil or ErrQuota", i, err)
			}
		})
	}
	wg.Wait()
	if accepted != n/2 {
		t.Errorf("%d of %d uploads accepted under a quota for %d", accepted, n, n/2)
	}
	usage, err := stores[len(stores)-1].Usage(ctx, owner)
	if err != nil {
		t.Fatalf("Usage: %v", err)
	}
	if usage.UsedBytes != int64(accepted)*100 {
		t.Errorf("UsedBytes = %d after %d accepted 100-byte uploads", usage.UsedBytes, accepted)
	}
}
