package metatest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/coffer-drive/coffer/internal/meta"
)

// RevokeWhileOpened has workers, spread over stores (which must share one
// database), open a read link and an upload link over and over while the
// owner revokes each: the revocation must succeed, and no session of the
// link may be left once it has, whichever came first.
func RevokeWhileOpened(t *testing.T, stores []meta.Store, name string) {
	t.Helper()
	ctx := t.Context()
	d := newDrive(t, stores[0], name)
	dir := d.folder(d.root, "dir")
	for _, kind := range []int{meta.LinkRead, meta.LinkUpload} {
		l := d.newLink(fmt.Sprint(name, " link ", kind), dir, kind)
		putLink(t, stores[0], l)
		load, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var opened [][]byte
		for w := range 8 {
			st := stores[w%len(stores)]
			wg.Go(func() {
				for i := 0; load.Err() == nil; i++ {
					ls := newLinkSession(fmt.Sprintf("%s %d %d %d", name, kind, w, i), l.ID, t0)
					err := st.CreateLinkSession(load, ls, kind == meta.LinkRead)
					switch {
					case err == nil:
						mu.Lock()
						opened = append(opened, ls.TokenHash)
						mu.Unlock()
					case errors.Is(err, meta.ErrLinkClosed), load.Err() != nil:
					default:
						t.Errorf("CreateLinkSession: %v", err)
						return
					}
				}
			})
		}
		time.Sleep(200 * time.Millisecond) // let the opens pile up
		err := stores[len(stores)-1].RevokeLink(ctx, d.owner, l.ID, t0)
		time.Sleep(100 * time.Millisecond) // opens after the revocation
		stop()
		wg.Wait()
		if err != nil {
			t.Fatalf("RevokeLink of a link being opened: %v", err)
		}
		if len(opened) == 0 {
			t.Fatalf("no session was opened before the revocation; the test proves nothing")
		}
		for _, h := range opened {
			if _, err := stores[0].LinkSessionByTokenHash(ctx, h); !errors.Is(err, meta.ErrNotFound) {
				t.Fatalf("a session of a revoked link remains (err %v)", err)
			}
		}
	}
}

// LoginWhileUploading has an account upload through every store while it
// logs in (a device and a session) through another, n times: no login may
// fail for the uploads.
func LoginWhileUploading(t *testing.T, stores []meta.Store, name string, n int) {
	t.Helper()
	ctx := t.Context()
	uid := createUser(t, stores[0], newUser(name))
	epoch := epochOf(t, stores[0], uid)
	load, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for w := range 8 {
		st := stores[w%len(stores)]
		wg.Go(func() {
			for i := 0; load.Err() == nil; i++ {
				err := st.AddBlock(load, uid, blockID(fmt.Sprintf("%s upload %d %d", name, w, i)), 10, t0)
				if err != nil && load.Err() == nil {
					t.Errorf("AddBlock: %v", err)
					return
				}
			}
		})
	}
	st := stores[len(stores)-1]
	for i := range n {
		if err := st.AddDevice(ctx, uid, tokenHash(fmt.Sprint(name, " device ", i)), t0, epoch); err != nil {
			t.Errorf("AddDevice #%d while uploading: %v", i, err)
		}
		if err := st.CreateSession(ctx, newSession(fmt.Sprint(name, " session ", i), uid, t0), epoch); err != nil {
			t.Errorf("CreateSession #%d while uploading: %v", i, err)
		}
	}
	stop()
	wg.Wait()
}
