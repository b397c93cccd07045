// Command coffer-bench is the end-to-end benchmark of the drive: it runs
// the real `coffer` binary, server and client, on loopback and compares
// what it measures with the targets of design.md section 5, and compares
// storage layouts (several block locations) with one location.
//
//	go run ./cmd/coffer-bench [-size 1GiB] [-files 10000] [-layouts 1,3x,4+2|none] [-layout-size 512MiB] [-rounds 3] [-drive=true] [-bin path] [-dir path] [-timeout 30m] [-warm=true] [-keep]
//
// In one run it:
//
//  1. builds the coffer binary (or takes -bin);
//  2. makes the test data once and reuses it on later runs: one file of
//     -size random bytes and a folder of -files random 4 KiB files;
//  3. measures the raw pipe: an in-process HTTP server on loopback that
//     stores 4 MiB bodies like the block store does (temp file, fsync,
//     rename, fsync of the folder) and a client that sends the big file to
//     it in 4 MiB chunks, 4 in flight, then fetches them back the same way
//     (see rawpipe.go);
//  4. starts `coffer serve` on 127.0.0.1 with a free port and a fresh data
//     folder, waits for /healthz, signs a user up through the CLI with
//     COFFER_* variables, and waits for the server's first repair pass
//     (see waitFirstRepair); every server runs without scrubbing and with
//     a 24 h repair interval (quietFlags);
//  5. times each of `coffer put` and `coffer get` of the big file and of
//     the folder, and `coffer ls` of the folder twice, as the wall time of
//     the real CLI process, and records the peak RSS and the CPU time of
//     that process and of the server during it. Downloads are compared
//     with the originals;
//  6. compares the storage layouts of -layouts (see layouts.go): for each,
//     a fresh server whose block folders are all in the run folder, and
//     the put and get of one file of -layout-size bytes, measured as in
//     step 5. The layouts take turns, -rounds times; the median round of
//     each is compared with the first layout's, and a layout that loses
//     more than 35% of its throughput either way is a MISS.
//
// Steps 2 to 5 are the drive benchmark, which -drive=false leaves out;
// -layouts none leaves out step 6.
//
// It prints tables of figures, targets, ratios to the raw pipe and to the
// first layout, and PASS or MISS. A MISS is a finding, not a failure: the
// exit status is 0. It is 1 when something went wrong (a command failed,
// the bytes that came back differ, the time limit passed) and 2 on a usage
// error.
//
// Everything lives under -dir, which defaults to DIR/../coffer-bench where
// DIR is the module's root, so that the data is on the same disk as the
// work tree and never on a tmpfs, where fsync costs nothing. The inputs
// stay there for the next run; each run's outputs go to a fresh run-*
// folder inside, removed at the end unless -keep is given.
//
// The machine is shared by the client, the server and the raw pipe, as it
// is in real use on one host. Between phases the tool calls sync(2), so
// no phase pays for the previous one's write-back; before each big
// transfer it warms the page cache up (see warmUp). It reports how much
// CPU other processes used meanwhile, since that skews every figure.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/coffer-drive/coffer/internal/bytesize"
	"github.com/coffer-drive/coffer/internal/serveproc"
)

// smallSize is the size of each file in the folder of small files.
const smallSize = 4 << 10

// config is the command line.
type config struct {
	size    int64         // bytes in the big file
	files   int           // files in the folder of small files
	bin     string        // coffer binary; built when empty
	dir     string        // work folder; DIR/../coffer-bench when empty
	timeout time.Duration // bound on the whole run
	keep    bool          // keep the run folder
	warm    bool          // touch fresh page cache before each big transfer
	drive   bool          // run the drive benchmark (raw pipe, big and small files, listings)
	// layouts are the storage layouts to compare (none: no comparison),
	// each with a file of layoutSize bytes, rounds times over.
	layouts    []layout
	layoutSize int64
	rounds     int
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "coffer-bench:", err)
		}
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithTimeoutCause(ctx, cfg.timeout, fmt.Errorf("the run took longer than -timeout %s", cfg.timeout))
	err = run(ctx, cfg)
	cancel()
	stop()
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) && !errors.Is(err, cause) {
			err = fmt.Errorf("%w (%v)", err, cause)
		}
		fmt.Fprintln(os.Stderr, "coffer-bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("coffer-bench", flag.ContinueOnError)
	size := fs.String("size", "1GiB", "size of the big file (B, KiB, MiB, GiB, or KB, MB, GB)")
	fs.IntVar(&cfg.files, "files", 10000, "number of 4 KiB files in the folder of small files")
	fs.StringVar(&cfg.bin, "bin", "", "coffer binary to run (default: build ./cmd/coffer)")
	fs.StringVar(&cfg.dir, "dir", "", "work folder, on the disk to measure (default: coffer-bench next to the module root)")
	fs.DurationVar(&cfg.timeout, "timeout", 30*time.Minute, "give up after this long")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the run folder (server data, downloads) for inspection")
	fs.BoolVar(&cfg.warm, "warm", true, "before each big transfer, write and delete a file of its size so the page cache it needs is backed by the hypervisor (see warmUp)")
	fs.BoolVar(&cfg.drive, "drive", true, "run the drive benchmark: raw pipe, big file, small files, listings (-drive=false: only the layout comparison)")
	layouts := fs.String("layouts", "1,3x,4+2", "storage layouts to compare, the first the baseline: 1 (DATA/blocks), Nx (N folders, N replicas), K+M (K+M folders, erasure coding); none: no comparison")
	layoutSize := fs.String("layout-size", "512MiB", "size of the file each layout uploads and downloads")
	fs.IntVar(&cfg.rounds, "rounds", 3, "rounds of the layout comparison, layouts taking turns; the median is reported")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: coffer-bench [-size 1GiB] [-files 10000] [-layouts 1,3x,4+2|none] [-layout-size 512MiB] [-rounds 3] [-drive=true] [-bin path] [-dir path] [-timeout 30m] [-warm=true] [-keep]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if cfg.size, err = sizeFlag("size", *size); err != nil {
		return cfg, err
	}
	if cfg.files < 1 || cfg.files > 1_000_000 {
		return cfg, fmt.Errorf("-files must be between 1 and 1000000")
	}
	if cfg.timeout <= 0 {
		return cfg, fmt.Errorf("-timeout must be positive")
	}
	if cfg.layouts, err = parseLayouts(*layouts); err != nil {
		return cfg, fmt.Errorf("-layouts: %w", err)
	}
	if cfg.layoutSize, err = sizeFlag("layout-size", *layoutSize); err != nil {
		return cfg, err
	}
	if cfg.rounds < 1 || cfg.rounds > 100 {
		return cfg, fmt.Errorf("-rounds must be between 1 and 100")
	}
	if !cfg.drive && len(cfg.layouts) == 0 {
		return cfg, fmt.Errorf("-drive=false and -layouts none leave nothing to measure")
	}
	return cfg, nil
}

// sizeFlag reads the size flag -name: 1 B to 1 TiB.
func sizeFlag(name, s string) (int64, error) {
	n, err := bytesize.Parse(s)
	if err != nil {
		return 0, fmt.Errorf("-%s: %w", name, err)
	}
	if n < 1 || n > 1<<40 {
		return 0, fmt.Errorf("-%s must be between 1 B and 1 TiB", name)
	}
	return n, nil
}

// phase is one measured CLI process.
type phase struct {
	name      string
	wall      time.Duration
	clientKiB int64 // peak RSS of the CLI process
	serverKiB int64 // peak RSS of the server during the phase
	// clientCPU and serverCPU are the CPU time (user and system) each
	// process used: their sum against 2 × wall tells whether the phase
	// was CPU-bound on this 2-core machine.
	clientCPU, serverCPU time.Duration
	// clientSys and serverSys are the system (kernel) part of them.
	clientSys, serverSys time.Duration
	stdout               []byte
}

func run(ctx context.Context, cfg config) error {
	root, rootErr := moduleRoot()
	dir := cfg.dir
	if dir == "" {
		if rootErr != nil {
			return fmt.Errorf("no -dir given and %w", rootErr)
		}
		dir = filepath.Join(filepath.Dir(root), "coffer-bench")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create work folder: %w", err)
	}
	if err := checkDisk(dir, cfg); err != nil {
		return err
	}
	runDir, err := os.MkdirTemp(dir, "run-")
	if err != nil {
		return fmt.Errorf("create run folder: %w", err)
	}
	if cfg.keep {
		fmt.Printf("keeping the run folder %s\n", runDir)
	} else {
		defer os.RemoveAll(runDir)
	}

	bin := cfg.bin
	if bin == "" {
		if rootErr != nil {
			return fmt.Errorf("no -bin given and %w", rootErr)
		}
		bin = filepath.Join(runDir, "coffer")
		fmt.Printf("building %s\n", bin)
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/coffer")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("build coffer: %w\n%s", err, out)
		}
	} else if bin, err = filepath.Abs(bin); err != nil {
		return err
	}

	if cfg.drive {
		if err := runDrive(ctx, cfg, bin, dir, runDir); err != nil {
			return err
		}
	}
	if len(cfg.layouts) > 0 {
		return runLayouts(ctx, cfg, bin, dir, runDir)
	}
	return nil
}

// warmer returns what to do before a timed transfer that fills n bytes
// of page cache: warm that much up, unless -warm=false.
func warmer(cfg config, runDir string) func(n int64) error {
	return func(n int64) error {
		if !cfg.warm || n <= 0 {
			return nil
		}
		return warmUp(runDir, n)
	}
}

// runDrive is the drive benchmark: the raw pipe, then the big file, the
// small files and the listings through a server with one location.
func runDrive(ctx context.Context, cfg config, bin, dir, runDir string) error {
	fmt.Printf("preparing inputs in %s\n", dir)
	big, bigSum, err := bigFile(dir, cfg.size)
	if err != nil {
		return err
	}
	small, err := smallFolder(dir, cfg.files)
	if err != nil {
		return err
	}
	before, err := startClock()
	if err != nil {
		return err
	}

	fmt.Println("raw pipe")
	warm := warmer(cfg, runDir)
	raw, err := rawPipe(ctx, big, cfg.size, bigSum, filepath.Join(runDir, "raw"), func() error { return warm(cfg.size) })
	if err != nil {
		return fmt.Errorf("raw pipe: %w", err)
	}
	if err := os.RemoveAll(filepath.Join(runDir, "raw")); err != nil {
		return fmt.Errorf("remove raw pipe data: %w", err)
	}
	syscall.Sync()

	s, err := newSession(ctx, bin, filepath.Join(runDir, "server"), filepath.Join(runDir, "config"), "", warm)
	if err != nil {
		return err
	}
	defer s.srv.stop()
	putBig, getBig, err := s.bigRoundTrip(ctx, big, bigSum, filepath.Join(runDir, "big.out"), cfg.size, cfg.size)
	if err != nil {
		return err
	}
	putSmall, err := s.step(ctx, "put small", 0, "put", "-q", small, "/small")
	if err != nil {
		return err
	}
	smallOut := filepath.Join(runDir, "small.out")
	getSmall, err := s.step(ctx, "get small", 0, "get", "-q", "/small", smallOut)
	if err != nil {
		return err
	}
	if err := sameFolder(small, smallOut, cfg.files); err != nil {
		return err
	}
	ls1, err := s.step(ctx, "ls small", 0, "ls", "/small")
	if err != nil {
		return err
	}
	ls2, err := s.step(ctx, "ls small again", 0, "ls", "/small")
	if err != nil {
		return err
	}
	for _, p := range []phase{ls1, ls2} {
		if n := bytes.Count(p.stdout, []byte("\n")); n != cfg.files {
			return fmt.Errorf("%s: listed %d entries, want %d", p.name, n, cfg.files)
		}
	}
	if err := s.srv.stop(); err != nil {
		return err
	}
	after, err := cpuNow()
	if err != nil {
		return err
	}

	r := results{
		cfg: cfg, raw: raw, phases: s.phases, hwmReset: s.srv.hwmReset, before: before, after: after,
		putBig: putBig, getBig: getBig, putSmall: putSmall, getSmall: getSmall, ls1: ls1, ls2: ls2,
	}
	r.print(os.Stdout, bin, dir)
	return nil
}

// startClock syncs the disks, so that the measurements do not pay for
// writing the inputs back, and reads the CPU counters they start from.
func startClock() (cpuStat, error) {
	syscall.Sync()
	return cpuNow()
}

// session is a running server with the benchmark's user signed up on it,
// and the phases measured against it.
type session struct {
	srv    *server
	bin    string
	env    []string
	label  string              // printed before each phase's name
	warm   func(n int64) error // before a big transfer: warm n bytes of page cache up
	phases []phase
}

// newSession starts `coffer serve` on the fresh folder data with the
// given extra flags, signs the user up with its CLI configuration in
// configDir, and waits for the server's first repair pass, so that the
// pass falls in no timed phase.
func newSession(ctx context.Context, bin, data, configDir, label string, warm func(int64) error, flags ...string) (*session, error) {
	srv, err := startServer(ctx, bin, data, flags...)
	if err != nil {
		return nil, err
	}
	s := &session{srv: srv, bin: bin, env: cofferEnv(srv.URL, configDir), label: label, warm: warm}
	if _, err := s.step(ctx, "signup", 0, "signup", "--device", "bench"); err != nil {
		srv.stop()
		return nil, err
	}
	if err := srv.waitFirstRepair(ctx); err != nil {
		srv.stop()
		return nil, err
	}
	return s, nil
}

// step runs one phase, after warming warm bytes of page cache up for a
// big transfer, and syncs the disks after it.
func (s *session) step(ctx context.Context, name string, warm int64, args ...string) (phase, error) {
	fmt.Printf("%s%s\n", s.label, name)
	if err := s.warm(warm); err != nil {
		return phase{}, err
	}
	p, err := runPhase(ctx, s.srv, s.bin, s.env, name, args...)
	if err != nil {
		return p, err
	}
	s.phases = append(s.phases, p)
	syscall.Sync()
	return p, nil
}

// bigRoundTrip times `coffer put` of the file big as /big.bin and
// `coffer get` of it into out, checks that out has SHA-256 sum, and
// deletes it. Before each it warms up the page cache the transfer fills:
// putWarm bytes (what the server stores) and getWarm (the download).
func (s *session) bigRoundTrip(ctx context.Context, big string, sum [32]byte, out string, putWarm, getWarm int64) (put, get phase, err error) {
	if put, err = s.step(ctx, "put big", putWarm, "put", "-q", big, "/big.bin"); err != nil {
		return put, get, err
	}
	if get, err = s.step(ctx, "get big", getWarm, "get", "-q", "/big.bin", out); err != nil {
		return put, get, err
	}
	if err := checkSum(out, sum); err != nil {
		return put, get, err
	}
	if err := os.Remove(out); err != nil {
		return put, get, err
	}
	syscall.Sync()
	return put, get, nil
}

// moduleRoot finds the Coffer module's root from the working directory up.
func moduleRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		mod, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && bytes.HasPrefix(mod, []byte("module github.com/coffer-drive/coffer\n")) {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", errors.New("the working directory is not inside the Coffer module")
		}
		d = parent
	}
}

// tmpfsMagic is the f_type statfs(2) reports for a tmpfs.
const tmpfsMagic = 0x01021994

// checkDisk refuses a tmpfs and a disk without room for the run: the big
// file and its copies on the server, in the raw pipe and downloaded (one at
// a time, but the inputs stay), plus the small files three times over;
// and for the layouts, their file, its download and warm-up, and what
// the largest layout stores (every layout's, every round, with -keep).
func checkDisk(dir string, cfg config) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", dir, err)
	}
	if st.Type == tmpfsMagic {
		return fmt.Errorf("%s is on a tmpfs, where fsync costs nothing; give -dir on a real disk", dir)
	}
	need := int64(256 << 20)
	if cfg.drive {
		need += 4*cfg.size + int64(cfg.files)*3*16<<10
	}
	if len(cfg.layouts) > 0 {
		var stored float64
		for _, l := range cfg.layouts {
			if cfg.keep {
				stored += float64(cfg.rounds) * l.stored()
			} else {
				stored = max(stored, l.stored())
			}
		}
		need += 3*cfg.layoutSize + int64(stored*float64(cfg.layoutSize))
	}
	if free := int64(st.Bavail) * st.Bsize; free < need {
		return fmt.Errorf("%s has %d MiB free; the run needs about %d MiB", dir, free>>20, need>>20)
	}
	return nil
}

// bigFile returns the path and SHA-256 of a file of size random bytes in
// dir, writing it if it is not there yet. Reading it to hash it also
// leaves it in the page cache, so that the raw pipe and coffer put read it
// on the same terms.
func bigFile(dir string, size int64) (string, [32]byte, error) {
	name := filepath.Join(dir, fmt.Sprintf("big-%d.bin", size))
	if st, err := os.Stat(name); err != nil || st.Size() != size {
		if err := writeRandom(name, size); err != nil {
			return "", [32]byte{}, fmt.Errorf("write big file: %w", err)
		}
	}
	sum, err := fileSum(name)
	return name, sum, err
}

// writeRandom writes size random bytes to name, through a temp file.
func writeRandom(name string, size int64) error {
	f, err := os.CreateTemp(filepath.Dir(name), ".big-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	rng := rand.NewChaCha8(seed())
	buf := make([]byte, 4<<20)
	for left := size; left > 0; {
		n := int(min(left, int64(len(buf))))
		_, _ = rng.Read(buf[:n]) // never fails
		if _, err := f.Write(buf[:n]); err != nil {
			f.Close()
			return err
		}
		left -= int64(n)
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), name)
}

// seed returns a seed that differs between runs; the data need not be
// secret, only incompressible and unlike earlier runs'.
func seed() [32]byte {
	var s [32]byte
	t := time.Now().UnixNano()
	for i := range 8 {
		s[i] = byte(t >> (8 * i))
	}
	s[8] = byte(os.Getpid())
	s[9] = byte(os.Getpid() >> 8)
	return s
}

// smallFolder returns a folder of n random 4 KiB files in dir, writing it
// if it is not there yet.
func smallFolder(dir string, n int) (string, error) {
	name := filepath.Join(dir, fmt.Sprintf("small-%dx%d", n, smallSize))
	if ents, err := os.ReadDir(name); err == nil && len(ents) == n {
		return name, nil
	}
	tmp, err := os.MkdirTemp(dir, ".small-*")
	if err != nil {
		return "", fmt.Errorf("write small files: %w", err)
	}
	defer os.RemoveAll(tmp)
	rng := rand.NewChaCha8(seed())
	buf := make([]byte, smallSize)
	for i := range n {
		_, _ = rng.Read(buf)
		if err := os.WriteFile(filepath.Join(tmp, fmt.Sprintf("f%07d.bin", i)), buf, 0o644); err != nil {
			return "", fmt.Errorf("write small files: %w", err)
		}
	}
	if err := os.RemoveAll(name); err != nil {
		return "", fmt.Errorf("replace %s: %w", name, err)
	}
	if err := os.Rename(tmp, name); err != nil {
		return "", fmt.Errorf("write small files: %w", err)
	}
	return name, nil
}

// fileSum returns the SHA-256 of a file.
func fileSum(name string) ([32]byte, error) {
	var sum [32]byte
	f, err := os.Open(name)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, f, make([]byte, 1<<20)); err != nil {
		return sum, fmt.Errorf("read %s: %w", name, err)
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// checkSum fails unless the file at name has SHA-256 want.
func checkSum(name string, want [32]byte) error {
	got, err := fileSum(name)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%s differs from the original: SHA-256 %x, want %x", name, got, want)
	}
	return nil
}

// sameFolder fails unless got holds exactly the n files of want, byte for
// byte.
func sameFolder(want, got string, n int) error {
	ents, err := os.ReadDir(got)
	if err != nil {
		return fmt.Errorf("read downloaded folder: %w", err)
	}
	if len(ents) != n {
		return fmt.Errorf("%s holds %d entries, want %d", got, len(ents), n)
	}
	for _, e := range ents {
		a, err := os.ReadFile(filepath.Join(want, e.Name()))
		if err != nil {
			return fmt.Errorf("downloaded %s, which was not uploaded: %w", e.Name(), err)
		}
		b, err := os.ReadFile(filepath.Join(got, e.Name()))
		if err != nil {
			return err
		}
		if !bytes.Equal(a, b) {
			return fmt.Errorf("%s differs from the original", filepath.Join(got, e.Name()))
		}
	}
	return nil
}

// server is a running `coffer serve`.
type server struct {
	*serveproc.Proc
	// hwmReset is whether /proc/PID/clear_refs resets the peak RSS, so
	// that each phase's peak is its own.
	hwmReset bool
	started  time.Time
	// background is whether the server repairs and scrubs in the
	// background (hasBackgroundWork).
	background bool
}

// quietFlags keep the server's background work out of the measurements:
// no scrub (a fresh server would start one at once) and no repair pass
// but the first (see waitFirstRepair).
var quietFlags = []string{"--repair-interval", "24h", "--scrub-interval", "0"}

// hasBackgroundWork reports whether the coffer binary's server repairs and
// scrubs in the background; builds older than several block locations
// do neither and refuse quietFlags.
func hasBackgroundWork(bin string) bool {
	out, _ := exec.Command(bin, "serve", "--help").CombinedOutput()
	return bytes.Contains(out, []byte("--scrub-interval"))
}

// startServer starts `coffer serve` on a free loopback port with a fresh
// data folder, quietFlags (if it takes them) and the given extra flags,
// and waits for /healthz.
func startServer(ctx context.Context, bin, data string, flags ...string) (*server, error) {
	args := []string{"--data", data}
	background := hasBackgroundWork(bin)
	if background {
		args = append(args, quietFlags...)
	}
	started := time.Now()
	p, err := serveproc.Start(ctx, serveproc.Options{
		Bin: bin, LogName: data + ".log", Args: append(args, flags...), StopWait: 40 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("start %w", err)
	}
	s := &server{Proc: p, started: started, background: background}
	s.hwmReset = s.resetPeak() == nil
	return s, nil
}

// firstRepairWait bounds the wait for the server's first repair pass.
const firstRepairWait = 30 * time.Second

// waitFirstRepair waits until the server's log says that its first repair
// pass is done. `coffer serve` runs one 10 s after it starts, whatever
// --repair-interval says; on a store this small it takes milliseconds,
// but waiting for it keeps it out of every timed phase. If the log says
// nothing within firstRepairWait of the start, it notes so and returns.
func (s *server) waitFirstRepair(ctx context.Context) error {
	if !s.background {
		return nil
	}
	for {
		b, err := os.ReadFile(s.LogName())
		if err == nil && bytes.Contains(b, []byte("repair pass done")) {
			return nil
		}
		if time.Since(s.started) > firstRepairWait {
			fmt.Printf("note: %s says no \"repair pass done\" within %s of the start; measuring anyway\n", s.LogName(), firstRepairWait)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// policyRE finds the storage policy in the server's start-up log line.
var policyRE = regexp.MustCompile(`policy="([^"]*)"`)

// warnings returns the lines of the server's log at level WARN or ERROR.
func (s *server) warnings() []string {
	b, _ := os.ReadFile(s.LogName())
	var out []string
	for line := range strings.Lines(string(b)) {
		if strings.Contains(line, " level=WARN ") || strings.Contains(line, " level=ERROR ") {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return out
}

// policy returns the storage policy the server's log announced, or "".
func (s *server) policy() string {
	b, err := os.ReadFile(s.LogName())
	if err != nil {
		return ""
	}
	if m := policyRE.FindSubmatch(b); m != nil {
		return string(m[1])
	}
	return ""
}

// cofferEnv is this process's environment without the COFFER_* variables
// that name a server, an account or a session, plus, when server is not
// empty, the ones that make the CLI use the benchmark's. Other variables
// pass through.
func cofferEnv(server, configDir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "COFFER_SERVER", "COFFER_USER", "COFFER_PASSWORD", "COFFER_CONFIG_DIR",
			"COFFER_NEW_PASSWORD", "COFFER_RECOVERY_KEY", "COFFER_LINK_PASSWORD":
			continue
		}
		env = append(env, kv)
	}
	if server != "" {
		env = append(env,
			"COFFER_SERVER="+server,
			"COFFER_USER=bench",
			"COFFER_PASSWORD=coffer-bench password, not a secret",
			"COFFER_CONFIG_DIR="+configDir,
		)
	}
	return env
}

// runPhase runs the CLI once and measures its wall time, its peak RSS and
// the server's peak RSS meanwhile.
func runPhase(ctx context.Context, srv *server, bin string, env []string, name string, args ...string) (phase, error) {
	p := phase{name: name}
	if srv.hwmReset {
		if err := srv.resetPeak(); err != nil {
			return p, fmt.Errorf("%s: reset server peak RSS: %w", name, err)
		}
	}
	srvCPU, srvSys, err := srv.cpu()
	if err != nil {
		return p, fmt.Errorf("%s: %w", name, err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err = cmd.Run()
	p.wall = time.Since(start)
	if err != nil {
		if msg := bytes.TrimSpace(stderr.Bytes()); len(msg) > 0 {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		return p, fmt.Errorf("%s: coffer %s: %w", name, strings.Join(args, " "), err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		p.clientKiB = ru.Maxrss // KiB on Linux
	}
	p.clientSys = cmd.ProcessState.SystemTime()
	p.clientCPU = cmd.ProcessState.UserTime() + p.clientSys
	p.stdout = stdout.Bytes()
	if p.serverKiB, err = srv.peakKiB(); err != nil {
		return p, fmt.Errorf("%s: %w", name, err)
	}
	after, afterSys, err := srv.cpu()
	if err != nil {
		return p, fmt.Errorf("%s: %w", name, err)
	}
	p.serverCPU, p.serverSys = after-srvCPU, afterSys-srvSys
	return p, nil
}

// peakKiB reads the server's peak RSS (VmHWM) in KiB.
func (s *server) peakKiB() (int64, error) { return serveproc.StatusKiB(s.PID(), "VmHWM") }

// cpu reads the CPU time the server has used so far: user and system
// time together, and system time alone.
func (s *server) cpu() (total, sys time.Duration, err error) { return serveproc.CPU(s.PID()) }

// resetPeak sets the server's VmHWM back to its current RSS.
func (s *server) resetPeak() error { return serveproc.ResetPeak(s.PID()) }

// stop ends the server, gracefully if it can (see serveproc.Proc.Stop).
func (s *server) stop() error { return s.Stop() }

// results holds what one run measured.
type results struct {
	cfg                                          config
	raw                                          rawResult
	phases                                       []phase
	putBig, getBig, putSmall, getSmall, ls1, ls2 phase
	// hwmReset is whether each phase's server peak is its own rather
	// than the peak since the server started.
	hwmReset bool
	// before and after bracket the measurements, to tell how busy
	// the rest of the machine was.
	before, after cpuStat
}

// Targets from design.md section 5.
const (
	minUpRatio     = 0.70 // of the raw pipe
	minUpMBps      = 1000 // > 1 GB/s
	minDownMBps    = 1500
	minPutFilesPS  = 5000
	minGetFilesPS  = 10000
	maxLsFirst     = 300 * time.Millisecond
	maxLsRepeat    = 50 * time.Millisecond
	maxPeakKiB     = 100 << 10
	decimalMB      = 1e6
	percentOfRawUp = minUpRatio * 100
)

func mbps(n int64, d time.Duration) float64 { return float64(n) / decimalMB / d.Seconds() }

func perSec(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// print writes the summary table and the per-phase detail as Markdown.
func (r results) print(w io.Writer, bin, dir string) {
	size, files := r.cfg.size, r.cfg.files
	rawUp, rawDown := mbps(size, r.raw.up), mbps(size, r.raw.down)
	up, down := mbps(size, r.putBig.wall), mbps(size, r.getBig.wall)
	upTarget := max(minUpRatio*rawUp, minUpMBps)
	putFPS, getFPS := perSec(files, r.putSmall.wall), perSec(files, r.getSmall.wall)
	var client, server phase
	for _, p := range r.phases {
		if p.name == "signup" {
			continue // Argon2id's 64 MiB; login has its own target
		}
		if p.clientKiB > client.clientKiB {
			client = p
		}
		if p.serverKiB > server.serverKiB {
			server = p
		}
	}
	human := humanSize(size)
	fmt.Fprintf(w, "\ncoffer-bench: %s file, %d files of 4 KiB; %s, %d CPUs, %s/%s; data in %s\n\n",
		human, files, runtime.Version(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, dir)
	fmt.Fprintln(w, "| measurement | figure | target | vs raw | result |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- |")
	row := func(m, fig, target, ratio, res string) {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", m, fig, target, ratio, res)
	}
	row("raw pipe upload, "+human+" in 4 MiB PUTs, 4 in flight, fsync", fmt.Sprintf("%.0f MB/s (%.2f s)", rawUp, r.raw.up.Seconds()), "baseline", "1.00", "")
	row("raw pipe download, 4 MiB GETs, 4 in flight", fmt.Sprintf("%.0f MB/s (%.2f s)", rawDown, r.raw.down.Seconds()), "baseline", "1.00", "")
	row("coffer put "+human, fmt.Sprintf("%.0f MB/s (%.2f s)", up, r.putBig.wall.Seconds()),
		fmt.Sprintf("≥ %.0f MB/s (%.0f%% of raw, > 1 GB/s)", upTarget, percentOfRawUp), fmt.Sprintf("%.2f", up/rawUp), verdict(up >= upTarget))
	row("coffer get "+human, fmt.Sprintf("%.0f MB/s (%.2f s)", down, r.getBig.wall.Seconds()),
		fmt.Sprintf("≥ %d MB/s", minDownMBps), fmt.Sprintf("%.2f", down/rawDown), verdict(down >= minDownMBps))
	row(fmt.Sprintf("coffer put %d × 4 KiB", files), fmt.Sprintf("%.0f files/s (%.2f s)", putFPS, r.putSmall.wall.Seconds()),
		fmt.Sprintf("≥ %d files/s", minPutFilesPS), "", verdict(putFPS >= minPutFilesPS))
	row(fmt.Sprintf("coffer get %d × 4 KiB", files), fmt.Sprintf("%.0f files/s (%.2f s)", getFPS, r.getSmall.wall.Seconds()),
		fmt.Sprintf("≥ %d files/s", minGetFilesPS), "", verdict(getFPS >= minGetFilesPS))
	row(fmt.Sprintf("coffer ls of %d entries, first", files), fmtDur(r.ls1.wall), "< 0.3 s", "", verdict(r.ls1.wall < maxLsFirst))
	row(fmt.Sprintf("coffer ls of %d entries, repeat", files), fmtDur(r.ls2.wall), "< 50 ms", "", verdict(r.ls2.wall < maxLsRepeat))
	row("client peak RSS, highest phase ("+client.name+")", fmtKiB(client.clientKiB), "< 100 MiB", "", verdict(client.clientKiB < maxPeakKiB))
	row("server peak RSS, highest phase ("+server.name+")", fmtKiB(server.serverKiB), "< 100 MiB", "", verdict(server.serverKiB < maxPeakKiB))
	fmt.Fprintln(w)
	scope := "during the phase"
	if !r.hwmReset {
		scope = "since start (clear_refs unavailable)"
	}
	fmt.Fprintf(w, "| phase | wall time | client CPU | server CPU | client peak RSS | server peak RSS %s |\n", scope)
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- |")
	for _, p := range r.phases {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", p.name, fmtDur(p.wall), fmtDur(p.clientCPU), fmtDur(p.serverCPU), fmtKiB(p.clientKiB), fmtKiB(p.serverKiB))
	}
	printNoise(w, r.before, r.after)
	fmt.Fprintf(w, "\nMB = 10^6 bytes. Times are wall times of whole CLI processes (start, session load, work, exit). coffer binary: %s\n", bin)
}

func fmtDur(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func fmtKiB(k int64) string { return fmt.Sprintf("%.0f MiB", float64(k)/1024) }

func humanSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	default:
		return fmt.Sprintf("%d B", n)
	}
}

// cpuStat is the machine's busy CPU time, this process tree's CPU time
// and the load average at one moment.
type cpuStat struct {
	at         time.Time
	busy, ours time.Duration
	load       string
}

// cpuNow reads /proc/stat, /proc/loadavg and this process's and its
// waited-for children's rusage.
func cpuNow() (cpuStat, error) {
	c := cpuStat{at: time.Now()}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return c, fmt.Errorf("read CPU counters: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return c, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	// user nice system idle iowait irq softirq steal: all but idle and
	// iowait are busy.
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return c, fmt.Errorf("/proc/stat: %w", err)
		}
		c.busy += time.Duration(n) * serveproc.ClockTick
	}
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if err := syscall.Getrusage(who, &ru); err != nil {
			return c, fmt.Errorf("getrusage: %w", err)
		}
		c.ours += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(la)); len(f) > 0 {
			c.load = f[0]
		}
	}
	return c, nil
}

// printNoise says how much CPU the rest of the machine used during the
// measurements, since anyone else's work skews every figure.
func printNoise(w io.Writer, before, after cpuStat) {
	wall := after.at.Sub(before.at)
	others, share := otherLoad(before, after)
	fmt.Fprintf(w, "\nOther load: %.1f CPU-s used outside this benchmark's processes in %.0f s (%.0f%% of the machine; includes the kernel's own threads, such as write-back); load average %s before, %s after.\n",
		others.Seconds(), wall.Seconds(), share, before.load, after.load)
	if share > 10 {
		fmt.Fprintln(w, "WARNING: the machine was busy with other work; the figures above understate what Coffer can do. Run again when it is idle.")
	}
}

// otherLoad returns the CPU time used outside this process tree between
// two readings, and the percentage of the machine it was.
func otherLoad(before, after cpuStat) (time.Duration, float64) {
	wall := after.at.Sub(before.at)
	others := max(0, (after.busy-before.busy)-(after.ours-before.ours))
	return others, others.Seconds() / (wall.Seconds() * float64(runtime.NumCPU())) * 100
}

// warmUp writes size zero bytes to a new file in dir and deletes it, so
// that the page cache the next big transfer fills reuses memory the
// kernel has just freed. On this project's virtual machines the
// hypervisor takes back guest memory that has been free for a few
// seconds (virtio-balloon free page reporting), and filling 1 GiB of page
// cache from such memory costs over 2 s of kernel time instead of about
// 0.2 s: a ceiling of about 400 MB/s on any download, raw or not, that
// has nothing to do with the software measured. -warm=false measures
// without it.
func warmUp(dir string, size int64) error {
	f, err := os.CreateTemp(dir, ".warm-*")
	if err != nil {
		return fmt.Errorf("warm up: %w", err)
	}
	defer os.Remove(f.Name())
	buf := make([]byte, 4<<20)
	for left := size; left > 0; left -= int64(len(buf)) {
		if _, err := f.Write(buf[:min(left, int64(len(buf)))]); err != nil {
			f.Close()
			return fmt.Errorf("warm up: %w", err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("warm up: %w", err)
	}
	return os.Remove(f.Name())
}
