package foldersync_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-drive/coffer/internal/client"
	"github.com/coffer-drive/coffer/internal/foldersync"
	"github.com/coffer-drive/coffer/internal/server"
	"github.com/coffer-drive/coffer/internal/servertest"
)

// The benchmarks of issue 8 (docs/benchmarks.md, "Issue 8: sync"): an
// in-process server on loopback, a real local folder, and the sync as
// `coffer sync` runs it. Only the sync is timed; making the files, the
// server and the logins is not. Run them one at a time:
//
//	go test ./internal/foldersync -run '^$' -bench . -benchtime 1x

const (
	benchFiles   = 10000
	benchFolders = 100
)

// benchWorld is a server with an account, for benchmarks (the test
// helpers take a *testing.T).
type benchWorld struct {
	env *servertest.Env
	url string
	// sent counts the bytes of request bodies that reached the server
	// through url (a counting proxy in front of it).
	sent atomic.Int64
}

func newBenchWorld(b *testing.B) *benchWorld {
	b.Helper()
	w := &benchWorld{env: servertest.Start(b, server.Options{})}
	target, err := url.Parse(w.env.URL)
	if err != nil {
		b.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			r.Body = &countingBody{r: r.Body, n: &w.sent}
		}
		rp.ServeHTTP(rw, r)
	}))
	b.Cleanup(proxy.Close)
	w.url = proxy.URL
	cfg, err := client.OpenConfig(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := client.New(cfg, nil).Signup(ctx, w.url, "alice", []byte("pw")); err != nil {
		b.Fatal(err)
	}
	return w
}

type countingBody struct {
	r io.ReadCloser
	n *atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingBody) Close() error { return c.r.Close() }

// benchDevice is one device: a login, a local folder and its sync.
type benchDevice struct {
	drive  *client.Drive
	cfgDir string
	dir    string
	s      *foldersync.Syncer
}

func (w *benchWorld) device(b *testing.B, name string) *benchDevice {
	b.Helper()
	d, cfgDir := logIn(b, w.url, "alice", "pw", false)
	dev := &benchDevice{drive: d, cfgDir: cfgDir, dir: filepath.Join(b.TempDir(), name)}
	if err := os.Mkdir(dev.dir, 0o755); err != nil {
		b.Fatal(err)
	}
	dev.open(b, w)
	return dev
}

// open opens a new Syncer on the device's state, closing the old one.
func (dev *benchDevice) open(b *testing.B, w *benchWorld) {
	b.Helper()
	if dev.s != nil {
		dev.s.Close()
	}
	s, err := foldersync.Open(ctx, dev.drive, foldersync.Options{
		Local: dev.dir, Remote: "/bench", StateDir: filepath.Join(dev.cfgDir, "sync"),
		Server: w.url, User: "alice", Device: "bench",
		Warn: func(m string) { b.Logf("warning: %s", m) },
	})
	if err != nil {
		b.Fatal(err)
	}
	dev.s = s
	b.Cleanup(func() { s.Close() })
}

// once runs a pass that must settle everything.
func (dev *benchDevice) once(b *testing.B) foldersync.Report {
	b.Helper()
	rep, err := dev.s.Once(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if rep.Pending != 0 {
		b.Fatalf("the pass left %d pending (%v)", rep.Pending, rep)
	}
	return rep
}

// writeSmallFiles fills dir with n files of 1 to 8 KiB of random bytes
// in benchFolders folders, and returns their total size.
func writeSmallFiles(b *testing.B, dir string, n int) int64 {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 8<<10)
	var total int64
	for i := range n {
		sub := filepath.Join(dir, fmt.Sprintf("folder-%03d", i%benchFolders))
		if i < benchFolders {
			if err := os.Mkdir(sub, 0o755); err != nil {
				b.Fatal(err)
			}
		}
		size := 1<<10 + rng.IntN(7<<10+1)
		for j := range buf[:size] {
			buf[j] = byte(rng.Uint32())
		}
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("file-%05d.bin", i)), buf[:size], 0o644); err != nil {
			b.Fatal(err)
		}
		total += int64(size)
	}
	return total
}

// timed runs setup, untimed, then what it returns, timed, once per
// b.N, and reports files/s.
func timed(b *testing.B, files int, setup func() func()) {
	b.Helper()
	b.StopTimer()
	var spent time.Duration
	for range b.N {
		run := setup()
		start := time.Now()
		b.StartTimer()
		run()
		b.StopTimer()
		spent += time.Since(start)
	}
	b.ReportMetric(float64(files*b.N)/spent.Seconds(), "files/s")
}

// BenchmarkInitialUpload10k: the first sync of a folder of 10,000 small
// files to an empty drive folder.
func BenchmarkInitialUpload10k(b *testing.B) {
	timed(b, benchFiles, func() func() {
		w := newBenchWorld(b)
		a := w.device(b, "laptop")
		writeSmallFiles(b, a.dir, benchFiles)
		return func() {
			if rep := a.once(b); rep.Uploaded != benchFiles {
				b.Fatalf("uploaded %d files, want %d (%v)", rep.Uploaded, benchFiles, rep)
			}
		}
	})
}

// BenchmarkInitialDownload10k: the first sync of a second device, whose
// folder is empty, with a drive folder of 10,000 small files.
func BenchmarkInitialDownload10k(b *testing.B) {
	timed(b, benchFiles, func() func() {
		w := newBenchWorld(b)
		a := w.device(b, "laptop")
		writeSmallFiles(b, a.dir, benchFiles)
		a.once(b)
		d := w.device(b, "desktop")
		return func() {
			if rep := d.once(b); rep.Downloaded != benchFiles {
				b.Fatalf("downloaded %d files, want %d (%v)", rep.Downloaded, benchFiles, rep)
			}
		}
	})
}

// BenchmarkRenames2000: a pass that repeats 2,000 local renames on the
// server (each a MoveEntry, and a record of the new version in the
// client's seen-versions journal), in a synced folder of 10,000 files.
func BenchmarkRenames2000(b *testing.B) {
	const renames = 2000
	timed(b, renames, func() func() {
		w := newBenchWorld(b)
		a := w.device(b, "laptop")
		writeSmallFiles(b, a.dir, benchFiles)
		a.once(b)
		for i := range renames {
			old := filepath.Join(a.dir, fmt.Sprintf("folder-%03d", i%benchFolders), fmt.Sprintf("file-%05d.bin", i))
			if err := os.Rename(old, old+".renamed"); err != nil {
				b.Fatal(err)
			}
		}
		return func() {
			if rep := a.once(b); rep.Moved != renames || rep.Uploaded != 0 {
				b.Fatalf("the pass did %v, want %d moves", rep, renames)
			}
		}
	})
}

// BenchmarkIdleResync10k: a second pass of the same Syncer with nothing
// changed. It reads no file (their size, time and inode are unchanged)
// and does nothing: its report is empty.
func BenchmarkIdleResync10k(b *testing.B) {
	b.StopTimer()
	w := newBenchWorld(b)
	a := w.device(b, "laptop")
	writeSmallFiles(b, a.dir, benchFiles)
	a.once(b)
	timed(b, benchFiles, func() func() {
		return func() {
			if rep := a.once(b); rep != (foldersync.Report{}) {
				b.Fatalf("an idle pass did %v", rep)
			}
		}
	})
}

// BenchmarkIdleResyncRestart10k: the first pass of a new Syncer on the
// state of an earlier one (a restarted `coffer sync --once`, as from
// cron), nothing changed: the whole remote walk and the local stat scan,
// and nothing read, sent or fetched.
func BenchmarkIdleResyncRestart10k(b *testing.B) {
	b.StopTimer()
	w := newBenchWorld(b)
	a := w.device(b, "laptop")
	writeSmallFiles(b, a.dir, benchFiles)
	a.once(b)
	timed(b, benchFiles, func() func() {
		a.open(b, w)
		return func() {
			if rep := a.once(b); rep != (foldersync.Report{}) {
				b.Fatalf("an idle pass after a restart did %v", rep)
			}
		}
	})
}

// blockBytes returns the number and total size of the blocks the server
// stores.
func blockBytes(b *testing.B, w *benchWorld) (n int, size int64) {
	b.Helper()
	err := filepath.WalkDir(filepath.Join(w.env.Dir, "blocks"), func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || strings.HasPrefix(d.Name(), ".") {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n++
		size += info.Size()
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return n, size
}

// BenchmarkLargeEdit64MiB: a 64 MiB file is synced, then one of its
// sixteen 4 MiB blocks is overwritten and the file synced again. It
// reports the bytes the edit's pass sent to the server (request bodies,
// through a counting proxy) and the blocks it stored.
func BenchmarkLargeEdit64MiB(b *testing.B) {
	const size, block = 64 << 20, 4 << 20
	var sent, stored, newBlocks int64
	var spent time.Duration
	b.StopTimer()
	for i := range b.N {
		w := newBenchWorld(b)
		a := w.device(b, "laptop")
		data := make([]byte, size)
		rng := rand.New(rand.NewPCG(uint64(i), 3))
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		full := filepath.Join(a.dir, "big.bin")
		if err := os.WriteFile(full, data, 0o644); err != nil {
			b.Fatal(err)
		}
		a.once(b)
		// Block 7 changes whole; the others keep their bytes.
		for j := 7 * block; j < 8*block; j++ {
			data[j] = byte(rng.Uint32())
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			b.Fatal(err)
		}
		later := time.Now().Add(time.Minute)
		if err := os.Chtimes(full, later, later); err != nil {
			b.Fatal(err)
		}
		n0, s0 := blockBytes(b, w)
		w.sent.Store(0)
		start := time.Now()
		b.StartTimer()
		rep := a.once(b)
		b.StopTimer()
		spent += time.Since(start)
		if rep.Uploaded != 1 {
			b.Fatalf("the edit synced as %v", rep)
		}
		n1, s1 := blockBytes(b, w)
		sent += w.sent.Load()
		stored += s1 - s0
		newBlocks += int64(n1 - n0)
	}
	b.ReportMetric(float64(sent)/float64(b.N), "bytes-sent/edit")
	b.ReportMetric(float64(stored)/float64(b.N), "bytes-stored/edit")
	b.ReportMetric(float64(newBlocks)/float64(b.N), "blocks-stored/edit")
	b.ReportMetric(spent.Seconds()/float64(b.N), "s/edit")
}
