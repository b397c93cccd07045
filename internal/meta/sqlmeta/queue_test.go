package sqlmeta

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Writers of one volume take turns in the process; another volume's do
// not wait for them; a writer whose context ends leaves the queue.
func TestVolumeQueues(t *testing.T) {
	var q volumeQueues
	ctx := context.Background()
	release, err := q.acquire(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	other, err := q.acquire(ctx, 2)
	if err != nil {
		t.Fatalf("another volume waited: %v", err)
	}
	other()
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := q.acquire(short, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a second writer of the volume got a turn while the first held it: %v", err)
	}
	got := make(chan func())
	go func() {
		r, err := q.acquire(ctx, 1)
		if err != nil {
			t.Error(err)
		}
		got <- r
	}()
	release()
	(<-got)()
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.m) != 0 {
		t.Fatalf("queues left behind: %d", len(q.m))
	}
}
