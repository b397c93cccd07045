// Package serveproc runs `coffer serve` as a child process for the
// measuring tools (cmd/coffer-bench, cmd/coffer-load), and reads what a
// process costs from Linux's /proc.
package serveproc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options say how to start a server.
type Options struct {
	// Name names the server in errors ("server", "instance 1").
	Name string
	// Bin is the coffer binary.
	Bin string
	// LogName is the file that receives the server's log (its stderr).
	LogName string
	// Args follow `serve --listen 127.0.0.1:0`.
	Args []string
	// StopWait is how long Stop waits for a graceful shutdown before it
	// kills the server (default 30 s).
	StopWait time.Duration
}

// Proc is a running `coffer serve`.
type Proc struct {
	// URL is the base URL it serves on.
	URL     string
	name    string
	logName string
	logf    *os.File
	cmd     *exec.Cmd
	wait    time.Duration
	done    chan error // receives Wait's result once
	mu      sync.Mutex
	stopped bool
}

// servingRE finds the URL in the line `coffer serve` prints once it listens.
var servingRE = regexp.MustCompile(`serving on (http://127\.0\.0\.1:\d+)`)

// Start starts `coffer serve` on a free loopback port and waits until
// /healthz answers 200. The server's environment is this process's without
// any COFFER_* variable, which `coffer serve` would read as flags, so that
// a developer's own settings cannot change what is measured.
//
// The process is started without CommandContext: a cancelled run still
// stops it gracefully with Stop, so that it closes its database cleanly.
// Pdeathsig kills it if this process dies without running its clean-up.
func Start(ctx context.Context, o Options) (*Proc, error) {
	if o.Name == "" {
		o.Name = "server"
	}
	if o.StopWait <= 0 {
		o.StopWait = 30 * time.Second
	}
	logf, err := os.Create(o.LogName)
	if err != nil {
		return nil, fmt.Errorf("%s: create log: %w", o.Name, err)
	}
	cmd := exec.Command(o.Bin, append([]string{"serve", "--listen", "127.0.0.1:0"}, o.Args...)...)
	cmd.Stderr = logf
	cmd.Env = Env()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, fmt.Errorf("%s: %w", o.Name, err)
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("%s: start %s: %w", o.Name, o.Bin, err)
	}
	p := &Proc{name: o.Name, logName: o.LogName, logf: logf, cmd: cmd, wait: o.StopWait, done: make(chan error, 1)}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case urlc <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		p.done <- cmd.Wait()
	}()
	fail := func(err error) (*Proc, error) {
		_ = p.Stop()
		return nil, fmt.Errorf("%s: %w%s", o.Name, err, Tail(o.LogName))
	}
	select {
	case p.URL = <-urlc:
	case err := <-p.done:
		p.done <- err
		return fail(fmt.Errorf("exited before serving: %v", err))
	case <-time.After(60 * time.Second):
		return fail(errors.New("printed no URL within 60 s"))
	case <-ctx.Done():
		return fail(context.Cause(ctx))
	}
	if err := waitHealthy(ctx, p.URL); err != nil {
		return fail(err)
	}
	return p, nil
}

// Env is this process's environment without the COFFER_* variables.
func Env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "COFFER_") {
			env = append(env, kv)
		}
	}
	return env
}

// waitHealthy polls GET /healthz until it answers 200, for up to 30 s.
func waitHealthy(ctx context.Context, base string) error {
	deadline := time.Now().Add(30 * time.Second)
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
		if err != nil {
			return fmt.Errorf("health check: %w", err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("answered %s", resp.Status)
		}
		last = err
		if time.Now().After(deadline) {
			return fmt.Errorf("/healthz did not answer 200 within 30 s (last: %v)", last)
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// PID is the server's process ID.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// LogName is the file holding the server's log.
func (p *Proc) LogName() string { return p.logName }

// Stop ends the server with SIGTERM, or SIGKILL if its graceful shutdown
// takes longer than Options.StopWait, and reports how it exited. It may be
// called more than once; later calls return nil.
func (p *Proc) Stop() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return nil
	}
	p.stopped = true
	defer p.logf.Close()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			return fmt.Errorf("%s exited: %w%s", p.name, err, Tail(p.logName))
		}
		return nil
	case <-time.After(p.wait):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not shut down within %v; killed it", p.name, p.wait)
	}
}

// Tail returns the end of a log file, to quote in an error.
func Tail(name string) string {
	b, err := os.ReadFile(name)
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return "\nlog (" + name + "):\n" + string(bytes.TrimSpace(b))
}

// StatusKiB reads a field in KiB (VmRSS, VmHWM) of /proc/PID/status.
func StatusKiB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read status of process %d: %w", pid, err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("process %d: bad %s %q", pid, field, strings.TrimSpace(v))
			}
			return kib, nil
		}
	}
	return 0, fmt.Errorf("process %d: no %s in its status", pid, field)
}

// ClockTick is USER_HZ, the unit of /proc/PID/stat's times: 100 on every
// Linux architecture Go supports.
const ClockTick = 10 * time.Millisecond

// CPU reads the CPU time a process has used so far: user and system time
// together, and system time alone.
func CPU(pid int) (total, sys time.Duration, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read CPU time of process %d: %w", pid, err)
	}
	// The command name, in parentheses, may hold spaces; the fields after
	// it are numbered from 3 (state), so utime and stime, fields 14 and
	// 15, are at 11 and 12.
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0, 0, fmt.Errorf("process %d: unexpected /proc/PID/stat", pid)
	}
	var ticks [2]int64 // utime, stime
	for i, v := range f[11:13] {
		if ticks[i], err = strconv.ParseInt(v, 10, 64); err != nil {
			return 0, 0, fmt.Errorf("process %d: CPU time: %w", pid, err)
		}
	}
	sys = time.Duration(ticks[1]) * ClockTick
	return time.Duration(ticks[0])*ClockTick + sys, sys, nil
}

// ResetPeak sets a process's VmHWM back to its current RSS (Linux
// clear_refs value 5), so that each phase's peak is its own.
func ResetPeak(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}
