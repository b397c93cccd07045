package replicated

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/coffer-drive/coffer/internal/blob"
	"github.com/coffer-drive/coffer/internal/blob/file"
	"github.com/coffer-drive/coffer/internal/blob/s3"
	"github.com/coffer-drive/coffer/internal/blob/s3/s3test"
)

// Two folders and a bucket of a real S3 server: emptying the bucket loses
// nothing, repair refills it, and a block deleted while the bucket was
// down leaves it once it is back.
func TestWithS3Location(t *testing.T) {
	srv := s3test.Start(t)
	srv.Env(t)
	bucket := srv.NewBucket(t)
	bs, err := s3.Open(t.Context(), srv.URL(bucket), s3.Options{Unchecked: true})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, cat: &catalog{m: make(map[blob.ID]int64)}, reg: prometheus.NewRegistry(), data: make(map[blob.ID][]byte)}
	var named []NamedLocation
	for i := range 2 {
		dir := filepath.Join(t.TempDir(), fmt.Sprint(i))
		fs, err := file.OpenUnchecked(dir)
		if err != nil {
			t.Fatal(err)
		}
		r.dirs = append(r.dirs, dir)
		r.locs = append(r.locs, &flaky{Location: fs})
		named = append(named, NamedLocation{Name: "file://" + dir, Location: r.locs[i]})
	}
	bucketLoc := &flaky{Location: bs}
	named = append(named, NamedLocation{Name: bs.String(), Location: bucketLoc})
	s, err := New(Config{Locations: named, Catalog: r.cat, Timeout: 5 * time.Second, Grace: time.Nanosecond, Registerer: r.reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	r.s = s
	r.putBlocks(12, 11)
	r.s.bg.Wait()
	r.wantFull()

	// Empty the bucket behind the store's back.
	cl := srv.Client(t)
	for obj := range cl.ListObjects(t.Context(), bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		if err := cl.RemoveObject(t.Context(), bucket, obj.Key, minio.RemoveObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	r.checkAll()
	st := r.status()
	if st.Locations[2].Objects != 0 || st.Locations[2].Missing != 12 {
		t.Fatalf("emptied bucket: %+v", st.Locations[2])
	}
	rep, err := s.Repair(t.Context())
	if err != nil || rep.Written != 12 {
		t.Fatalf("repair: %+v, %v; want 12 copies written", rep, err)
	}
	r.wantFull()
	// Every block now reads from the bucket alone.
	r.wipe(0)
	r.wipe(1)
	r.checkAll()
	if _, err := s.Repair(t.Context()); err != nil {
		t.Fatal(err)
	}
	r.wantFull()

	// A delete while the bucket is down is finished by repair.
	gone := r.order[0]
	bucketLoc.down.Store(true)
	r.cat.remove(gone)
	if err := s.Delete(context.Background(), gone); err == nil {
		t.Fatal("Delete with the bucket down reported success")
	}
	bucketLoc.down.Store(false)
	for s.sites[2].down() {
		time.Sleep(100 * time.Millisecond)
	}
	rep, err = s.Repair(t.Context())
	if err != nil || rep.Orphans != 1 {
		t.Fatalf("repair after a missed delete: %+v, %v; want 1 unneeded copy deleted", rep, err)
	}
	if _, err := bs.Stat(t.Context(), gone); err == nil {
		t.Fatal("the deleted block is still in the bucket")
	}
	r.order = r.order[1:]
	r.wantFull()
}
