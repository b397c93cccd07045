package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// The layout comparison (issue 6): the same big file put and got through
// a fresh server per storage layout, in one run, each layout's throughput
// against the first layout's. Several locations may cost at most this
// share of one location's throughput, either way.
const maxLayoutLoss = 0.35

// maxFolders bounds the block folders of one layout.
const maxFolders = 16

// layout is one way of keeping blocks that -layouts compares.
type layout struct {
	name    string // as given: 1, 3x, 4+2
	folders int    // --store folders; 0 for the default DATA/blocks
	k, m    int    // erasure coding K+M; 0 for replicas
}

// parseLayouts reads -layouts: a comma-separated list of 1 (one location,
// the default DATA/blocks), Nx (N --store folders, N replicas, the default
// write quorum) and K+M (K+M folders, --erasure K+M), or none.
func parseLayouts(s string) ([]layout, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "none" {
		return nil, nil
	}
	var out []layout
	for _, f := range strings.Split(s, ",") {
		l, err := parseLayout(strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(out, func(o layout) bool { return o.name == l.name }) {
			return nil, fmt.Errorf("%q is given twice", l.name)
		}
		out = append(out, l)
	}
	return out, nil
}

func parseLayout(f string) (layout, error) {
	bad := fmt.Errorf("%q: want 1, Nx (N folders, N replicas) or K+M (K+M folders, erasure coding), at most %d folders", f, maxFolders)
	switch {
	case f == "1":
		return layout{name: f}, nil
	case strings.HasSuffix(f, "x"):
		n, err := strconv.Atoi(strings.TrimSuffix(f, "x"))
		if err != nil || n < 1 || n > maxFolders {
			return layout{}, bad
		}
		return layout{name: f, folders: n}, nil
	case strings.Contains(f, "+"):
		ks, ms, _ := strings.Cut(f, "+")
		k, kerr := strconv.Atoi(ks)
		m, merr := strconv.Atoi(ms)
		if kerr != nil || merr != nil || k < 1 || m < 1 || k+m > maxFolders {
			return layout{}, bad
		}
		return layout{name: f, folders: k + m, k: k, m: m}, nil
	}
	return layout{}, bad
}

// stored is how many bytes the layout keeps per byte uploaded.
func (l layout) stored() float64 {
	switch {
	case l.k > 0:
		return float64(l.k+l.m) / float64(l.k)
	case l.folders > 0:
		return float64(l.folders)
	}
	return 1
}

// String describes the layout for the tables.
func (l layout) String() string {
	switch {
	case l.k > 0:
		return fmt.Sprintf("%s: %d folders, erasure %d+%d", l.name, l.folders, l.k, l.m)
	case l.folders == 1:
		return fmt.Sprintf("%s: 1 --store folder", l.name)
	case l.folders > 1:
		return fmt.Sprintf("%s: %d folders, %d replicas", l.name, l.folders, l.folders)
	}
	return l.name + ": DATA/blocks"
}

// stores returns the layout's block folders in dir.
func (l layout) stores(dir string) []string {
	var d []string
	for i := range l.folders {
		d = append(d, filepath.Join(dir, fmt.Sprintf("store%d", i)))
	}
	return d
}

// flags returns the `coffer serve` flags of the layout, its folders in dir.
func (l layout) flags(dir string) []string {
	var f []string
	for _, d := range l.stores(dir) {
		u := url.URL{Scheme: "file", Path: d}
		f = append(f, "--store", u.String())
	}
	if l.k > 0 {
		f = append(f, "--erasure", fmt.Sprintf("%d+%d", l.k, l.m))
	}
	return f
}

// slug names the layout in a path.
func (l layout) slug() string { return strings.ReplaceAll(l.name, "+", "p") }

// layoutResult is what the rounds measured for one layout.
type layoutResult struct {
	l        layout
	policy   string // as the server's log announced it
	warnings int    // lines at level WARN or ERROR in its logs
	hwmReset bool
	puts     []phase // one a round
	gets     []phase
}

// runLayouts compares cfg.layouts: the layouts take turns, cfg.rounds
// times, each time on a fresh server, so that a slow spell of the machine
// falls on all of them alike.
func runLayouts(ctx context.Context, cfg config, bin, dir, runDir string) error {
	fmt.Printf("preparing the layouts' input in %s\n", dir)
	big, sum, err := bigFile(dir, cfg.layoutSize)
	if err != nil {
		return err
	}
	before, err := startClock()
	if err != nil {
		return err
	}
	warm := warmer(cfg, runDir)
	res := make([]layoutResult, len(cfg.layouts))
	noise := make([]float64, cfg.rounds) // other load in each round, % of the machine
	from := before
	for round := range cfg.rounds {
		for i, l := range cfg.layouts {
			res[i].l = l
			if err := res[i].measure(ctx, cfg, bin, runDir, round, big, sum, warm); err != nil {
				return fmt.Errorf("layout %s, round %d: %w", l.name, round+1, err)
			}
		}
		to, err := cpuNow()
		if err != nil {
			return err
		}
		_, noise[round] = otherLoad(from, to)
		from = to
	}
	printLayouts(os.Stdout, cfg, res, noise, before, from, bin, dir)
	return nil
}

// measure runs one round of the layout: a fresh server with its folders
// under the run folder, the big file put and got back, then the server
// stopped and, unless -keep, its folders removed.
func (r *layoutResult) measure(ctx context.Context, cfg config, bin, runDir string, round int, big string, sum [32]byte, warm func(int64) error) error {
	base := filepath.Join(runDir, fmt.Sprintf("layout-%s-%d", r.l.slug(), round+1))
	// The server takes a missing folder for a disk that is not mounted,
	// so the folders are made first, as an operator would.
	for _, d := range append([]string{base}, r.l.stores(base)...) {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	label := fmt.Sprintf("layout %s, round %d/%d: ", r.l.name, round+1, cfg.rounds)
	s, err := newSession(ctx, bin, filepath.Join(base, "data"), filepath.Join(base, "config"), label, warm, r.l.flags(base)...)
	if err != nil {
		return err
	}
	defer s.srv.stop()
	// The put fills page cache with every copy or shard the layout
	// stores: warm that much up, so that all layouts pay this VM's
	// price for fresh memory (see warmUp) alike, that is not at all.
	stored := int64(r.l.stored() * float64(cfg.layoutSize))
	put, get, err := s.bigRoundTrip(ctx, big, sum, filepath.Join(base, "big.out"), stored, cfg.layoutSize)
	if err != nil {
		return err
	}
	if err := s.srv.stop(); err != nil {
		return err
	}
	r.puts, r.gets = append(r.puts, put), append(r.gets, get)
	r.policy, r.hwmReset = s.srv.policy(), s.srv.hwmReset
	if w := s.srv.warnings(); len(w) > 0 {
		// A location down or a write short means the layout was not
		// measured healthy.
		r.warnings += len(w)
		fmt.Printf("%sthe server logged %d warnings or errors, the first:\n  %s\n", label, len(w), w[0])
	}
	if !cfg.keep {
		if err := os.RemoveAll(base); err != nil {
			return fmt.Errorf("remove the layout's data: %w", err)
		}
		syscall.Sync()
	}
	return nil
}

// median returns the phase of median wall time (of an even count, the
// slower of the middle two).
func median(ps []phase) phase {
	s := slices.Clone(ps)
	slices.SortFunc(s, func(a, b phase) int { return cmp.Compare(a.wall, b.wall) })
	return s[len(s)/2]
}

// perRound lists each round's throughput.
func perRound(ps []phase, size int64) string {
	f := make([]string, len(ps))
	for i, p := range ps {
		f[i] = fmt.Sprintf("%.0f", mbps(size, p.wall))
	}
	return strings.Join(f, ", ")
}

// printLayouts writes the comparison as Markdown tables.
func printLayouts(w io.Writer, cfg config, res []layoutResult, noise []float64, before, after cpuStat, bin, dir string) {
	size := cfg.layoutSize
	human := humanSize(size)
	fmt.Fprintf(w, "\ncoffer-bench: storage layouts, %s file, %d round(s), median round shown; %s, %d CPUs, %s/%s; data in %s\n\n",
		human, cfg.rounds, runtime.Version(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, dir)
	baseUp, baseDown := mbps(size, median(res[0].puts).wall), mbps(size, median(res[0].gets).wall)
	fmt.Fprintf(w, "| layout | policy (server log) | put %s | lost vs %s | get %s | lost vs %s | result (≤ %.0f%% lost) |\n",
		human, res[0].l.name, human, res[0].l.name, maxLayoutLoss*100)
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- |")
	for i, r := range res {
		put, get := median(r.puts), median(r.gets)
		up, down := mbps(size, put.wall), mbps(size, get.wall)
		lostUp, lostDown := 1-up/baseUp, 1-down/baseDown
		result := "baseline"
		if i > 0 {
			result = verdict(lostUp <= maxLayoutLoss && lostDown <= maxLayoutLoss)
		}
		if r.warnings > 0 {
			result += fmt.Sprintf(" (server logged %d warnings: see above)", r.warnings)
		}
		fmt.Fprintf(w, "| %s | %s | %.0f MB/s (%.2f s) | %.0f%% | %.0f MB/s (%.2f s) | %.0f%% | %s |\n",
			r.l, r.policy, up, put.wall.Seconds(), lostUp*100, down, get.wall.Seconds(), lostDown*100, result)
	}
	fmt.Fprintln(w)
	scope := "during the phase"
	if !res[0].hwmReset {
		scope = "since start (clear_refs unavailable)"
	}
	fmt.Fprintf(w, "| layout | phase | wall time | client CPU (system) | server CPU (system) | server CPU-s per GB | client peak RSS | server peak RSS %s |\n", scope)
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, r := range res {
		for _, p := range []phase{median(r.puts), median(r.gets)} {
			fmt.Fprintf(w, "| %s | %s | %s | %s (%s) | %s (%s) | %.2f | %s | %s |\n", r.l.name, p.name, fmtDur(p.wall),
				fmtDur(p.clientCPU), fmtDur(p.clientSys), fmtDur(p.serverCPU), fmtDur(p.serverSys),
				p.serverCPU.Seconds()/(float64(size)/decimalMB/1000), fmtKiB(p.clientKiB), fmtKiB(p.serverKiB))
		}
	}
	if cfg.rounds > 1 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| layout | put MB/s, each round | get MB/s, each round |")
		fmt.Fprintln(w, "| --- | --- | --- |")
		for _, r := range res {
			fmt.Fprintf(w, "| %s | %s | %s |\n", r.l.name, perRound(r.puts, size), perRound(r.gets, size))
		}
		f := make([]string, len(noise))
		for i, n := range noise {
			f[i] = fmt.Sprintf("%.0f%%", n)
		}
		fmt.Fprintf(w, "\nOther load in each round: %s of the machine.\n", strings.Join(f, ", "))
	}
	printNoise(w, before, after)
	quiet := "This coffer has no background repair or scrub."
	if hasBackgroundWork(bin) {
		quiet = "Every server ran with " + strings.Join(quietFlags, " ") + "."
	}
	fmt.Fprintf(w, "\nMB = 10^6 bytes. Lost = 1 − the layout's median throughput / %s's; negative is faster. Times are wall times of whole CLI processes. %s coffer binary: %s\n",
		res[0].l.name, quiet, bin)
}
