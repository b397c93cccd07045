package main

import (
	"context"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/coffer-drive/coffer/internal/serveproc"
)

// server is a running `coffer serve` process, with its name for messages.
type server struct {
	*serveproc.Proc
	name string // "instance 1"
}

// startServer starts `coffer serve` on a free loopback port with the given
// flags and waits until /healthz answers 200. Its stderr (the log) goes to
// logName.
func startServer(ctx context.Context, name, bin, logName string, flags ...string) (*server, error) {
	p, err := serveproc.Start(ctx, serveproc.Options{Name: name, Bin: bin, LogName: logName, Args: flags})
	if err != nil {
		return nil, err
	}
	return &server{Proc: p, name: name}, nil
}

// logProblems counts the lines of the server's log at level WARN or ERROR
// and returns the first few, so that the report shows what the server
// complained about during the run.
func (s *server) logProblems(keep int) (int, []string) {
	b, err := os.ReadFile(s.LogName())
	if err != nil {
		return 0, nil
	}
	n := 0
	var first []string
	for line := range strings.Lines(string(b)) {
		if strings.Contains(line, " level=WARN ") || strings.Contains(line, " level=ERROR ") {
			n++
			if len(first) < keep {
				first = append(first, strings.TrimSpace(line))
			}
		}
	}
	return n, first
}

// procCPU reads the CPU time (user and system) a process has used so far.
func procCPU(pid int) (time.Duration, error) {
	total, _, err := serveproc.CPU(pid)
	return total, err
}

// rssSampler records the highest VmRSS of a set of processes, sampled
// periodically. VmHWM read at the end gives the true peak; the samples
// show that the peak belongs to the load rather than to start-up.
type rssSampler struct {
	pids []int
	mu   sync.Mutex
	peak []int64 // KiB, by index in pids
	stop context.CancelFunc
	done chan struct{}
}

// sampleRSS starts sampling the VmRSS of pids every interval until Stop.
func sampleRSS(ctx context.Context, interval time.Duration, pids ...int) *rssSampler {
	ctx, cancel := context.WithCancel(ctx)
	r := &rssSampler{pids: pids, peak: make([]int64, len(pids)), stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			r.sample()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return r
}

func (r *rssSampler) sample() {
	for i, pid := range r.pids {
		kib, err := serveproc.StatusKiB(pid, "VmRSS")
		if err != nil {
			continue // the process is gone; its last sample stands
		}
		r.mu.Lock()
		r.peak[i] = max(r.peak[i], kib)
		r.mu.Unlock()
	}
}

// Stop ends the sampling, takes a last sample and returns the peaks in KiB,
// in the order of the pids given to sampleRSS.
func (r *rssSampler) Stop() []int64 {
	r.stop()
	<-r.done
	r.sample()
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int64(nil), r.peak...)
}
