// Command coffer-load is the load test of issue 7: many simulated clients,
// each a real internal/client with its own session, config folder and
// connections, drive one or two `coffer serve` instances that share a
// metadata database and a block folder, on loopback only, for a bounded
// time.
//
//	coffer-load -coffer bin/coffer [-instances 1|2] [-clients 200] [-users 20]
//	    [-duration 60s] [-warmup 10s] [-think 1s] [-db postgres://…]
//	    [-file-size 4KiB] [-large-size 4MiB] [-seed-files 3] [-mix list=50,…]
//	    [-dir DIR] [-client-dir DIR] [-json] [-keep] [-seed N] [-timeout D]
//
// It builds nothing: `make loadtest` builds the coffer binary first.
//
// A run:
//
//  1. makes the database: with -db "", SQLite (one instance keeps it in its
//     data folder; two share one file); with -db postgres://…, a fresh
//     database coffer_load_XXXXXXXX on that server, dropped at the end,
//     also after Ctrl-C or a failure;
//  2. starts the instances on 127.0.0.1 with free ports, the same --db and
//     the same --store folder, trusting 127.0.0.1 as a proxy so that each
//     simulated client can have its own address (X-Forwarded-For), as it
//     would behind a load balancer, for the per-address login throttle;
//  3. signs -users accounts up and logs the clients in, dealt to the
//     accounts in turn (20 accounts of 10 devices for 200 clients); each
//     client makes its folder /dNNN and uploads -seed-files small files;
//  4. runs every client in a loop for -warmup, then for -duration: a
//     think time (exponential, mean -think; 0 for none), then one operation
//     picked by -mix: list one of the account's device folders, get (cat)
//     a small file any device of the account uploaded and check its bytes,
//     put a new small file, put a larger one, or log in again. Each
//     client's requests alternate between the instances, request by
//     request (see balancer). Latencies are measured per operation, end
//     to end on the client, and per HTTP request by route;
//  5. checks for lost writes: through each instance alone, a fresh client
//     logs in to every account and checks that every upload a client saw
//     succeed is listed and downloads byte for byte;
//  6. reports, as a Markdown table or with -json as JSON: per operation
//     and per request route the count, rate, p50, p99, max and errors;
//     the distinct error messages; lost writes; the peak RSS (VmHWM and
//     sampled VmRSS) and CPU of each server and of the tool itself; and
//     the target of issue 7, p99 of small operations (list, get) under
//     100 ms.
//
// The exit status is 1 if any operation failed (setup and warm-up
// included), a write was lost or the run could not be completed; 2 on a
// usage error; 0 otherwise, whether or not the latency target was met.
//
// Accounts sign up with the client library's only KDF, Argon2id with
// 64 MiB and 3 passes: there is no cheaper test setting, since the client
// refuses anything below that floor. Sign-ups and logins are therefore
// CPU-heavy on the machine the tool shares with the servers; the report
// shows how much CPU the tool itself used.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/coffer-drive/coffer/internal/bytesize"
	"github.com/coffer-drive/coffer/internal/serveproc"
)

// config is the command line.
type config struct {
	coffer    string        // the coffer binary
	instances int           // 1 or 2
	clients   int           // simulated clients
	users     int           // accounts the clients share
	duration  time.Duration // measured window
	warmup    time.Duration // load before the window, not measured
	think     time.Duration // mean pause between a client's operations
	db        string        // "" (SQLite) or postgres://…
	fileSize  int64         // small uploads
	largeSize int64         // larger uploads
	seedFiles int           // small files each client uploads during setup
	mix       mix
	dir       string // parent of the run folder (server data)
	clientDir string // parent of the clients' config folders
	json      bool
	keep      bool
	seed      uint64
	timeout   time.Duration
	// cpuProfile, if set, receives a CPU profile of this tool during the
	// load phase: where the clients' own CPU goes.
	cpuProfile string
	args       []string // as given, for the report
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "coffer-load:", err)
		}
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithTimeoutCause(ctx, cfg.timeout, fmt.Errorf("the run took longer than -timeout %s", cfg.timeout))
	rep, err := run(ctx, cfg, os.Stderr)
	cancel()
	stop()
	if rep != nil {
		if cfg.json {
			if jerr := rep.writeJSON(os.Stdout); jerr != nil && err == nil {
				err = jerr
			}
		} else {
			rep.writeText(os.Stdout)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "coffer-load:", err)
		os.Exit(1)
	}
	if !rep.Pass {
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	cfg := config{args: args}
	fs := flag.NewFlagSet("coffer-load", flag.ContinueOnError)
	fs.StringVar(&cfg.coffer, "coffer", "bin/coffer", "the coffer binary to run (make build makes bin/coffer)")
	fs.IntVar(&cfg.instances, "instances", 1, "coffer serve instances sharing the database and block folder: 1 or 2")
	fs.IntVar(&cfg.clients, "clients", 200, "concurrent simulated clients")
	fs.IntVar(&cfg.users, "users", 20, "accounts the clients share (each client is a device of one)")
	fs.DurationVar(&cfg.duration, "duration", 60*time.Second, "length of the measured window")
	fs.DurationVar(&cfg.warmup, "warmup", 10*time.Second, "load before the measured window, not measured")
	fs.DurationVar(&cfg.think, "think", time.Second, "mean pause between one client's operations (exponential; 0: none, every client back to back, which measures saturation)")
	fs.StringVar(&cfg.db, "db", "", `metadata database: "" for SQLite, or postgres://… where a fresh database is created and dropped`)
	fileSize := fs.String("file-size", "4KiB", "size of a small upload")
	largeSize := fs.String("large-size", "4MiB", "size of a larger upload")
	fs.IntVar(&cfg.seedFiles, "seed-files", 3, "small files each client uploads during setup, so that gets have files from the start")
	mixFlag := fs.String("mix", defaultMix, "operation weights: list, get, put, put-large, login")
	fs.StringVar(&cfg.dir, "dir", os.TempDir(), "where the run folder (server data, blocks, SQLite) goes; not a tmpfs, so fsync costs what it costs")
	fs.StringVar(&cfg.clientDir, "client-dir", "", "where the clients' config folders go (default: /dev/shm if it is a tmpfs, else the temp folder)")
	fs.BoolVar(&cfg.json, "json", false, "print the report as JSON")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the run folder (server logs and data) and, for PostgreSQL, the database")
	seed := fs.String("seed", "", "seed of the clients' random choices and file contents (default: from the clock)")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of this tool during the load phase to this file")
	fs.DurationVar(&cfg.timeout, "timeout", 0, "give up after this long (default: warm-up + duration + 15m)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: coffer-load [-coffer bin/coffer] [-instances 1|2] [-clients 200] [-users 20] [-duration 60s] [-warmup 10s] [-think 1s] [-db postgres://…] [flags]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	switch {
	case cfg.instances != 1 && cfg.instances != 2:
		return cfg, errors.New("-instances must be 1 or 2")
	case cfg.clients < 1 || cfg.clients > 10000:
		return cfg, errors.New("-clients must be between 1 and 10000")
	case cfg.users < 1 || cfg.users > cfg.clients:
		return cfg, errors.New("-users must be between 1 and -clients")
	case cfg.duration <= 0:
		return cfg, errors.New("-duration must be positive")
	case cfg.warmup < 0 || cfg.think < 0:
		return cfg, errors.New("-warmup and -think cannot be negative")
	case cfg.seedFiles < 1 || cfg.seedFiles > 1000:
		// At least one, so that every folder has a file to get from the
		// start and is checked at the end.
		return cfg, errors.New("-seed-files must be between 1 and 1000")
	}
	if cfg.fileSize, err = sizeFlag("file-size", *fileSize, 1, smallLimit); err != nil {
		return cfg, err
	}
	if cfg.largeSize, err = sizeFlag("large-size", *largeSize, 1, 1<<30); err != nil {
		return cfg, err
	}
	if cfg.mix, err = parseMix(*mixFlag); err != nil {
		return cfg, fmt.Errorf("-mix: %w", err)
	}
	if cfg.seed, err = parseSeed(*seed); err != nil {
		return cfg, err
	}
	if cfg.timeout == 0 {
		cfg.timeout = cfg.warmup + cfg.duration + 15*time.Minute
	}
	if cfg.clientDir == "" {
		cfg.clientDir = defaultClientDir()
	}
	if cfg.coffer, err = filepath.Abs(cfg.coffer); err != nil {
		return cfg, err
	}
	if st, err := os.Stat(cfg.coffer); err != nil || st.IsDir() {
		return cfg, fmt.Errorf("-coffer %s: no such binary (make build makes bin/coffer)", cfg.coffer)
	}
	return cfg, nil
}

// parseSeed reads -seed; empty means one from the clock.
func parseSeed(s string) (uint64, error) {
	if s == "" {
		return uint64(time.Now().UnixNano()), nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("-seed %q is not an unsigned integer", s)
	}
	return n, nil
}

// sizeFlag reads the size flag -name, which must lie in [lo, hi].
func sizeFlag(name, s string, lo, hi int64) (int64, error) {
	n, err := bytesize.Parse(s)
	if err != nil {
		return 0, fmt.Errorf("-%s: %w", name, err)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("-%s must be between %s and %s", name, humanSize(lo), humanSize(hi))
	}
	return n, nil
}

// humanSize writes a byte count in the largest binary unit that divides it.
func humanSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	default:
		return fmt.Sprintf("%d B", n)
	}
}

// tmpfsMagic is the f_type statfs(2) reports for a tmpfs.
const tmpfsMagic = 0x01021994

func isTmpfs(dir string) bool {
	var st syscall.Statfs_t
	return syscall.Statfs(dir, &st) == nil && st.Type == tmpfsMagic
}

// defaultClientDir is /dev/shm when it is a tmpfs: the clients' config
// folders stand for 200 other machines, so their fsyncs (the client saves
// its seen-versions file after a listing that saw new versions) should
// not queue on the servers' disk.
func defaultClientDir() string {
	if isTmpfs("/dev/shm") {
		return "/dev/shm"
	}
	return os.TempDir()
}

// run is the whole load test. It returns the report, if it got as far as
// the load, and an error if the run could not be completed. Everything it
// starts and creates is stopped and removed before it returns.
func run(ctx context.Context, cfg config, log io.Writer) (*report, error) {
	progress := func(format string, args ...any) {
		fmt.Fprintf(log, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}
	if isTmpfs(cfg.dir) {
		progress("warning: %s is a tmpfs; the servers' fsyncs cost nothing there (give -dir on a disk)", cfg.dir)
	}
	runDir, err := os.MkdirTemp(cfg.dir, "coffer-load-")
	if err != nil {
		return nil, fmt.Errorf("create run folder: %w", err)
	}
	if cfg.keep {
		progress("keeping the run folder %s", runDir)
	} else {
		defer os.RemoveAll(runDir)
	}
	clientRoot, err := os.MkdirTemp(cfg.clientDir, "coffer-load-clients-")
	if err != nil {
		return nil, fmt.Errorf("create the clients' folder: %w", err)
	}
	defer os.RemoveAll(clientRoot)

	db, err := prepareDB(ctx, cfg.db, runDir, cfg.instances)
	if err != nil {
		return nil, err
	}
	progress("database: %s", db.describe)
	if db.drop != nil {
		if cfg.keep {
			progress("keeping the database (-keep)")
		} else {
			defer func() {
				if derr := db.drop(); derr != nil {
					fmt.Fprintln(log, "coffer-load:", derr)
				}
			}()
		}
	}

	servers, err := startServers(ctx, cfg, db, runDir)
	// Registered before the error check: startServers returns the ones it
	// started even when a later one failed.
	defer func() {
		for _, s := range servers {
			_ = s.Stop()
		}
	}()
	if err != nil {
		return nil, err
	}
	var targets []*url.URL
	pids := []int{os.Getpid()}
	for _, s := range servers {
		u, err := url.Parse(s.URL)
		if err != nil {
			return nil, fmt.Errorf("%s: URL %q: %w", s.name, s.URL, err)
		}
		targets = append(targets, u)
		pids = append(pids, s.PID())
		progress("%s: %s (pid %d)", s.name, s.URL, s.PID())
	}
	rss := sampleRSS(ctx, 250*time.Millisecond, pids...)
	defer rss.Stop()

	l, err := newLoadRun(cfg, targets, clientRoot)
	if err != nil {
		return nil, err
	}
	setupStart := time.Now()
	progress("setup: %d accounts, %d clients, %d files each", cfg.users, cfg.clients, cfg.seedFiles)
	if err := l.setup(ctx); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	setup := time.Since(setupStart)

	progress("load: %s warm-up, then %s measured", cfg.warmup, cfg.duration)
	before, err := takeCPU(pids)
	if err != nil {
		return nil, err
	}
	stopProfile, err := startProfile(cfg.cpuProfile)
	if err != nil {
		return nil, err
	}
	loadStart := time.Now()
	l.load(ctx)
	loadWall := time.Since(loadStart)
	if err := stopProfile(); err != nil {
		return nil, err
	}
	after, err := takeCPU(pids)
	if err != nil {
		return nil, err
	}
	if err := context.Cause(ctx); ctx.Err() != nil {
		return nil, fmt.Errorf("load interrupted: %w", err)
	}
	// Peaks are read now, before the check adds work of its own.
	sampled := rss.Stop()
	hwm := make([]int64, len(pids))
	for i, pid := range pids {
		if hwm[i], err = serveproc.StatusKiB(pid, "VmHWM"); err != nil {
			return nil, err
		}
	}

	rep := newReport(cfg, l, db, setup)
	rep.addProcesses(servers, pids, hwm, sampled, before, after, loadWall)
	for i := range servers {
		progress("checking every recorded upload through %s", servers[i].name)
		v, err := l.verify(ctx, i, clientRoot)
		rep.addVerification(v)
		if err != nil {
			l.errs.add("check", err)
			rep.finish(l, servers)
			return rep, err
		}
	}
	var stopErr error
	for _, s := range servers {
		stopErr = errors.Join(stopErr, s.Stop())
	}
	rep.finish(l, servers)
	return rep, stopErr
}

// startProfile starts a CPU profile into name, if not empty, and returns
// the function that ends it.
func startProfile(name string) (func() error, error) {
	if name == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(name)
	if err != nil {
		return nil, fmt.Errorf("CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("CPU profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("CPU profile: %w", err)
		}
		return nil
	}, nil
}

// startServers starts the instances one after the other, the first
// migrating the database before the second opens it. It returns the
// servers started so far even on error, so that they are stopped.
func startServers(ctx context.Context, cfg config, db *database, runDir string) ([]*server, error) {
	// The shared block folder must exist: a location missing at start is
	// taken for an unmounted disk, not created.
	blocks := filepath.Join(runDir, "blocks")
	if err := os.Mkdir(blocks, 0o700); err != nil {
		return nil, fmt.Errorf("create block folder: %w", err)
	}
	var servers []*server
	for i := range cfg.instances {
		data := filepath.Join(runDir, fmt.Sprintf("server%d", i+1))
		flags := []string{
			"--data", data,
			"--store", "file://" + blocks,
			"--trusted-proxy", "127.0.0.1",
			// Keep background work out of the measurement: no scrub, and
			// no repair pass after the one every server runs at start.
			"--repair-interval", "24h", "--scrub-interval", "0",
		}
		if db.flag != "" {
			flags = append(flags, "--db", db.flag)
		}
		s, err := startServer(ctx, fmt.Sprintf("instance %d", i+1), cfg.coffer, data+".log", flags...)
		if err != nil {
			return servers, err
		}
		servers = append(servers, s)
	}
	return servers, nil
}

// cpuSnapshot is the CPU time of each watched process and of the whole
// machine at one moment.
type cpuSnapshot struct {
	at      time.Time
	procs   []time.Duration // by index in the pids
	machine time.Duration   // busy time of all CPUs
	// postgres is the CPU time of each process named postgres, by PID:
	// a local PostgreSQL server's backends, which work for the servers.
	postgres map[int]time.Duration
}

// takeCPU reads the CPU time of pids, of the local PostgreSQL processes
// and of the machine.
func takeCPU(pids []int) (cpuSnapshot, error) {
	s := cpuSnapshot{at: time.Now(), postgres: postgresCPU()}
	for _, pid := range pids {
		t, err := procCPU(pid)
		if err != nil {
			return s, err
		}
		s.procs = append(s.procs, t)
	}
	var err error
	s.machine, err = machineBusy()
	return s, err
}

// postgresCPU returns the CPU time of every process whose command is
// postgres. Processes that end between two readings take their time with
// them, but PostgreSQL backends live as long as a server's pooled
// connection, which is the whole run.
func postgresCPU() map[int]time.Duration {
	out := map[int]time.Duration{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
			continue
		}
		if t, err := procCPU(pid); err == nil {
			out[pid] = t
		}
	}
	return out
}

// postgresDelta is the CPU time PostgreSQL processes used between two
// readings; a process started in between counts from zero.
func postgresDelta(before, after cpuSnapshot) time.Duration {
	var d time.Duration
	for pid, t := range after.postgres {
		d += max(0, t-before.postgres[pid])
	}
	return d
}

// machineBusy reads the busy time of all CPUs from /proc/stat: user, nice,
// system, irq, softirq and steal; not idle or iowait.
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, fmt.Errorf("read CPU counters: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	var busy time.Duration
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		busy += time.Duration(n) * serveproc.ClockTick
	}
	return busy, nil
}

// machineInfo describes where the run happened.
func machineInfo() string {
	return fmt.Sprintf("%d CPUs, %s, %s/%s", runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
