package replicated

import (
	"bytes"
	"io"
	"runtime"
	"testing"

	"github.com/coffer-drive/coffer/internal/blob"
)

// A small block is read into a buffer its size, not one for the largest
// block: the locations say how long each object is. (The load test found
// a 4 KiB download allocating 4 MiB, a fifth of the servers' CPU in
// allocation and garbage collection.)
func TestSmallReadAllocatesLittle(t *testing.T) {
	for _, policy := range []Policy{{Replicas: 1}, {Replicas: 2}} {
		r := newRig(t, rigOpts{n: 2, policy: policy})
		data := bytes.Repeat([]byte("small block "), 400) // 4.8 KB
		id := blob.Sum(data)
		if err := r.s.Put(t.Context(), id, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		r.s.bg.Wait()
		read := func() {
			rc, err := r.s.Get(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read back %d bytes, %v", len(got), err)
			}
		}
		read()
		const rounds = 20
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range rounds {
			read()
		}
		runtime.ReadMemStats(&after)
		if per := (after.TotalAlloc - before.TotalAlloc) / rounds; per > 256<<10 {
			t.Errorf("%v: reading a %d-byte block allocates %d bytes", policy, len(data), per)
		}
	}
}
