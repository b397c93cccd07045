package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/coffer-drive/coffer/internal/api"
)

// smallP99Limit is the target of issue 7: at 200 concurrent clients, p99 of
// small requests under 100 ms.
const smallP99Limit = 100.0 // ms

// smallRoutes are the HTTP requests that small operations are made of:
// looking a name up, listing a folder, fetching blocks.
var smallRoutes = []string{
	"GET " + api.PathNodeChildren,
	"GET " + api.PathNodeChildren + "?name_hash",
	"GET " + api.PathBlock,
	"POST " + api.PathBlocksGet,
}

// report is everything a run measured. Its JSON form is the -json output.
type report struct {
	Args    []string `json:"args"`
	Machine string   `json:"machine"`
	Config  struct {
		Instances      int     `json:"instances"`
		Clients        int     `json:"clients"`
		Users          int     `json:"users"`
		DurationS      float64 `json:"duration_s"`
		WarmupS        float64 `json:"warmup_s"`
		ThinkS         float64 `json:"think_s"`
		Database       string  `json:"database"`
		Mix            string  `json:"mix"`
		FileSize       int64   `json:"file_size"`
		LargeSize      int64   `json:"large_size"`
		SeedFiles      int     `json:"seed_files"`
		Seed           uint64  `json:"seed"`
		ClientStateDir string  `json:"client_state_dir"`
	} `json:"config"`
	SetupS float64 `json:"setup_s"`
	// Ops are per operation, end to end on the client; Small merges the
	// small ones (list, get), All every one.
	Ops   []summary `json:"ops"`
	Small summary   `json:"small"`
	All   summary   `json:"all"`
	// Requests are per HTTP route, over both instances; SmallRequests
	// merges smallRoutes.
	Requests      []summary `json:"requests"`
	SmallRequests summary   `json:"small_requests"`
	// Errors counts every failed operation: setup, warm-up, measured
	// window and the final check.
	Errors       int         `json:"errors"`
	WarmupErrors int64       `json:"warmup_errors"`
	ErrorKinds   []errorKind `json:"error_kinds,omitempty"`
	Uploads      int         `json:"uploads_recorded"`
	// Verify is the lost-write check, per instance.
	Verify     []verification `json:"verify"`
	LostWrites int            `json:"lost_writes"`
	Processes  []procReport   `json:"processes"`
	// PostgresCPUS is the CPU time of the local PostgreSQL server's
	// processes during the load phase (0 with SQLite, barring other users
	// of the PostgreSQL server).
	PostgresCPUS float64 `json:"postgres_cpu_s"`
	// OtherCPUS is CPU time used outside the tool, the servers and
	// PostgreSQL during the load phase: other work on the machine, and
	// the kernel's own.
	OtherCPUS float64 `json:"other_cpu_s"`
	LoadS     float64 `json:"load_s"` // wall time of warm-up and window
	TargetMet bool    `json:"target_met"`
	// Pass is no errors and no lost writes.
	Pass bool `json:"pass"`
}

// procReport is one process's memory and CPU.
type procReport struct {
	Name   string `json:"name"`
	PID    int    `json:"pid"`
	HWMKiB int64  `json:"peak_rss_kib"` // VmHWM after the load phase
	// SampledKiB is the highest VmRSS sampled every 250 ms from the
	// servers' start to the end of the load phase.
	SampledKiB int64 `json:"sampled_peak_rss_kib"`
	// CPUS is the CPU time used during the load phase; Cores that divided
	// by its wall time.
	CPUS        float64  `json:"cpu_s"`
	Cores       float64  `json:"cores"`
	LogProblems int      `json:"log_warnings,omitempty"`
	LogSample   []string `json:"log_sample,omitempty"`
}

func newReport(cfg config, l *loadRun, db *database, setup time.Duration) *report {
	r := &report{Args: cfg.args, Machine: machineInfo(), SetupS: setup.Seconds()}
	c := &r.Config
	c.Instances, c.Clients, c.Users = cfg.instances, cfg.clients, cfg.users
	c.DurationS, c.WarmupS, c.ThinkS = cfg.duration.Seconds(), cfg.warmup.Seconds(), cfg.think.Seconds()
	c.Database, c.Mix = db.describe, cfg.mix.String()
	c.FileSize, c.LargeSize, c.SeedFiles, c.Seed = cfg.fileSize, cfg.largeSize, cfg.seedFiles, cfg.seed
	c.ClientStateDir = cfg.clientDir
	w := cfg.duration
	r.Ops = l.ops.summarize(w)
	r.Small = l.ops.merged("small (list, get)", w, smallOps...)
	var all []string
	for _, op := range cfg.mix {
		all = append(all, op.op)
	}
	r.All = l.ops.merged("all", w, all...)
	r.Requests = l.reqs.summarize(w)
	r.SmallRequests = l.reqs.merged("small requests", w, smallRoutes...)
	r.TargetMet = r.Small.Count > 0 && r.Small.P99ms < smallP99Limit
	return r
}

// addProcesses records the peaks and CPU of the tool (pids[0]) and the
// servers (pids[1:]).
func (r *report) addProcesses(servers []*server, pids []int, hwm, sampled []int64, before, after cpuSnapshot, wall time.Duration) {
	var ours time.Duration
	for i, pid := range pids {
		name := "coffer-load"
		if i > 0 {
			name = servers[i-1].name
		}
		cpu := after.procs[i] - before.procs[i]
		ours += cpu
		r.Processes = append(r.Processes, procReport{
			Name: name, PID: pid, HWMKiB: hwm[i], SampledKiB: sampled[i],
			CPUS: cpu.Seconds(), Cores: cpu.Seconds() / wall.Seconds(),
		})
	}
	pg := postgresDelta(before, after)
	r.LoadS = wall.Seconds()
	r.PostgresCPUS = pg.Seconds()
	r.OtherCPUS = max(0, (after.machine - before.machine - ours - pg).Seconds())
}

func (r *report) addVerification(v verification) {
	r.Verify = append(r.Verify, v)
	r.LostWrites += len(v.Lost)
}

// finish adds what is known only at the end: errors, uploads, the servers'
// logs, and the verdict.
func (r *report) finish(l *loadRun, servers []*server) {
	r.ErrorKinds, r.Errors = l.errs.first(8)
	r.WarmupErrors = l.warmupErrors.Load()
	for _, a := range l.accounts {
		r.Uploads += len(a.recorded())
	}
	for i, s := range servers {
		if i+1 < len(r.Processes) {
			p := &r.Processes[i+1]
			p.LogProblems, p.LogSample = s.logProblems(3)
		}
	}
	r.Pass = r.Errors == 0 && r.LostWrites == 0 && len(r.Verify) == len(servers)
}

func (r *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write JSON report: %w", err)
	}
	return nil
}

// writeText writes the report as Markdown tables, ready for
// docs/benchmarks.md.
func (r *report) writeText(w io.Writer) {
	c := r.Config
	think := "none"
	if c.ThinkS > 0 {
		think = fmt.Sprintf("%g s mean", c.ThinkS)
	}
	fmt.Fprintf(w, "\ncoffer-load %s\n\n", strings.Join(r.Args, " "))
	fmt.Fprintf(w, "%d instance(s), %d clients on %d accounts, %g s measured after %g s warm-up, think time %s; %s\n",
		c.Instances, c.Clients, c.Users, c.DurationS, c.WarmupS, think, c.Database)
	fmt.Fprintf(w, "mix %s; small files %s, large %s; machine %s; setup %.1f s; seed %d\n\n",
		c.Mix, humanSize(c.FileSize), humanSize(c.LargeSize), r.Machine, r.SetupS, c.Seed)

	table := func(title string, rows []summary, extra ...summary) {
		fmt.Fprintf(w, "| %s | count | per s | p50 | p99 | max | errors |\n", title)
		fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
		for _, s := range append(rows, extra...) {
			fmt.Fprintf(w, "| %s | %d | %.1f | %s | %s | %s | %d |\n", s.Name, s.Count, s.PerSec, fmtMS(s.P50ms), fmtMS(s.P99ms), fmtMS(s.Maxms), s.Errors)
		}
		fmt.Fprintln(w)
	}
	table("operation (client, end to end)", r.Ops, r.Small, r.All)
	table("HTTP request (both instances)", r.Requests, r.SmallRequests)

	fmt.Fprintln(w, "| process | peak RSS (VmHWM) | peak RSS sampled | CPU in load phase | server log WARN/ERROR |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: |")
	for _, p := range r.Processes {
		logs := ""
		if p.Name != "coffer-load" {
			logs = fmt.Sprint(p.LogProblems)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %.1f s (%.2f cores) | %s |\n", p.Name, fmtKiB(p.HWMKiB), fmtKiB(p.SampledKiB), p.CPUS, p.Cores, logs)
	}
	cores := r.LoadS * float64(runtime.NumCPU())
	fmt.Fprintf(w, "\nDuring the %.0f s load phase, PostgreSQL's processes used %.1f CPU-s (%.2f cores), and everything else on the machine (other work, the kernel) %.1f CPU-s (%.0f%% of its %d CPUs).\n",
		r.LoadS, r.PostgresCPUS, r.PostgresCPUS/r.LoadS, r.OtherCPUS, 100*r.OtherCPUS/cores, runtime.NumCPU())
	for _, p := range r.Processes {
		for _, line := range p.LogSample {
			fmt.Fprintf(w, "  %s log: %s\n", p.Name, line)
		}
	}

	fmt.Fprintf(w, "\nErrors: %d (%d in warm-up)\n", r.Errors, r.WarmupErrors)
	for _, k := range r.ErrorKinds {
		fmt.Fprintf(w, "  %d× %s\n", k.Count, k.Example)
	}
	fmt.Fprintf(w, "Lost writes: %d of %d recorded uploads\n", r.LostWrites, r.Uploads)
	for _, v := range r.Verify {
		fmt.Fprintf(w, "  instance %d: %d checked in %.1f s, %d lost, %d unrecorded files listed (uploads whose client saw an error)\n",
			v.Instance, v.Checked, v.Seconds, len(v.Lost), v.Extra)
		for i, s := range v.Lost {
			if i == 10 {
				fmt.Fprintf(w, "    … and %d more\n", len(v.Lost)-i)
				break
			}
			fmt.Fprintf(w, "    %s\n", s)
		}
	}
	verdict := "MISSED"
	if r.TargetMet {
		verdict = "met"
	}
	fmt.Fprintf(w, "\nTarget, p99 of small operations (list, get) < %.0f ms: %s, %s (the HTTP requests they are made of: p99 %s)\n",
		smallP99Limit, fmtMS(r.Small.P99ms), verdict, fmtMS(r.SmallRequests.P99ms))
	if r.Pass {
		fmt.Fprintln(w, "Result: PASS (no errors, no lost writes)")
	} else {
		fmt.Fprintln(w, "Result: FAIL (errors or lost writes)")
	}
}

func fmtMS(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f ms", v)
	}
	return fmt.Sprintf("%.1f ms", v)
}

func fmtKiB(k int64) string { return fmt.Sprintf("%.0f MiB", float64(k)/1024) }
