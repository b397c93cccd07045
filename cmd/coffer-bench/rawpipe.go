package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The raw pipe moves the big file as Coffer's client and block store do,
// minus everything that makes it Coffer: no encryption, no hashing, no
// authentication, no metadata database. Design.md section 5 holds
// Coffer's upload to 70% of it.
const (
	rawChunk    = 4 << 20 // crypto.BlockSize
	rawInFlight = 4       // the client's uploadWorkers and downloadAhead
)

// rawResult is the raw pipe's time to move the big file each way.
type rawResult struct {
	up, down time.Duration
}

// rawPipe serves an in-process HTTP block store on loopback that keeps
// its files in dir, uploads the file big (size bytes, SHA-256 want) to it
// in 4 MiB chunks with 4 in flight, downloads the chunks back the same way
// into a local file, checks that file and times both directions. It calls
// prepare before each timed direction.
func rawPipe(ctx context.Context, big string, size int64, want [32]byte, dir string, prepare func() error) (rawResult, error) {
	var res rawResult
	st, err := newRawStore(dir)
	if err != nil {
		return res, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, fmt.Errorf("listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /chunk/{n}", st.put)
	mux.HandleFunc("GET /chunk/{n}", st.get)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()

	base := "http://" + ln.Addr().String() + "/chunk/"
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer hc.CloseIdleConnections()
	chunks := int((size + rawChunk - 1) / rawChunk)

	in, err := os.Open(big)
	if err != nil {
		return res, err
	}
	defer in.Close()
	if err := prepare(); err != nil {
		return res, err
	}
	start := time.Now()
	err = inParallel(ctx, chunks, func(ctx context.Context, i int, buf []byte) error {
		n, err := in.ReadAt(buf, int64(i)*rawChunk)
		if err != nil && !(errors.Is(err, io.EOF) && int64(i)*rawChunk+int64(n) == size) {
			return fmt.Errorf("read chunk %d: %w", i, err)
		}
		return rawDo(ctx, hc, http.MethodPut, base+strconv.Itoa(i), buf[:n], nil)
	})
	res.up = time.Since(start)
	if err != nil {
		return res, fmt.Errorf("upload: %w", err)
	}
	syscall.Sync()

	outName := filepath.Join(dir, "download")
	out, err := os.Create(outName)
	if err != nil {
		return res, err
	}
	defer out.Close()
	if err := prepare(); err != nil {
		return res, err
	}
	start = time.Now()
	err = inParallel(ctx, chunks, func(ctx context.Context, i int, buf []byte) error {
		n := int(min(rawChunk, size-int64(i)*rawChunk))
		if err := rawDo(ctx, hc, http.MethodGet, base+strconv.Itoa(i), nil, buf[:n]); err != nil {
			return err
		}
		if _, err := out.WriteAt(buf[:n], int64(i)*rawChunk); err != nil {
			return fmt.Errorf("write chunk %d: %w", i, err)
		}
		return nil
	})
	if err == nil {
		err = out.Close()
	}
	res.down = time.Since(start)
	if err != nil {
		return res, fmt.Errorf("download: %w", err)
	}
	return res, checkSum(outName, want)
}

// inParallel calls f for chunks 0 to n-1, rawInFlight at a time, each
// worker with its own 4 MiB buffer, and returns the first error.
func inParallel(ctx context.Context, n int, f func(ctx context.Context, i int, buf []byte) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range rawInFlight {
		wg.Go(func() {
			buf := make([]byte, rawChunk)
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(ctx, i, buf); err != nil {
					cancel(err)
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// rawDo sends body (if not nil) and reads exactly len(into) bytes of answer
// into into (if not nil).
func rawDo(ctx context.Context, hc *http.Client, method, url string, body, into []byte) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, msg)
	}
	if into != nil {
		if _, err := io.ReadFull(resp.Body, into); err != nil {
			return fmt.Errorf("%s %s: read answer: %w", method, url, err)
		}
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// rawStore keeps chunks as files the way internal/blob/file does: write a
// temp file, fsync it, rename it into place, fsync the folder.
type rawStore struct {
	tmp, chunks string
	bufs        sync.Pool // of *[]byte: 1 MiB copy buffers, as the block store's
}

func newRawStore(dir string) (*rawStore, error) {
	s := &rawStore{tmp: filepath.Join(dir, "tmp"), chunks: filepath.Join(dir, "chunks")}
	s.bufs.New = func() any { b := make([]byte, 1<<20); return &b }
	for _, d := range []string{s.tmp, s.chunks} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
	}
	return s, nil
}

func (s *rawStore) put(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err == nil {
		err = s.store(n, http.MaxBytesReader(w, r.Body, rawChunk))
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

func (s *rawStore) store(n int, body io.Reader) (err error) {
	f, err := os.CreateTemp(s.tmp, "put-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	buf := s.bufs.Get().(*[]byte)
	_, err = io.CopyBuffer(writerOnly{f}, body, *buf)
	s.bufs.Put(buf)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), filepath.Join(s.chunks, strconv.Itoa(n))); err != nil {
		return err
	}
	d, err := os.Open(s.chunks)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (s *rawStore) get(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f, err := os.Open(filepath.Join(s.chunks, strconv.Itoa(n)))
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Length", strconv.FormatInt(st.Size(), 10))
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = io.Copy(w, f)
}

// writerOnly hides a file's ReadFrom, so the copy goes through the 1 MiB
// buffer as the block store's does.
type writerOnly struct{ io.Writer }
