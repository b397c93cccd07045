package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/coffer-drive/coffer/internal/client"
)

// The kinds of operation a simulated client runs.
const (
	opList     = "list"      // list one of the account's device folders
	opGet      = "get"       // download a small file and check it
	opPut      = "put"       // upload a small file
	opPutLarge = "put-large" // upload a larger file
	opLogin    = "login"     // log in again (SRP, Argon2id) and reopen the drive
)

// smallOps are the operations the latency target is about: a listing and
// a small download.
var smallOps = []string{opList, opGet}

// weight is one operation's share of a mix.
type weight struct {
	op string
	w  int
}

// mix is the operation mix of every client, in a fixed order so that a
// seeded run picks the same operations.
type mix []weight

// defaultMix is mostly listings and small transfers, a few logins (each
// costs an SRP handshake and, on the client, an Argon2id derivation of
// 64 MiB) and an occasional larger upload.
const defaultMix = "list=50,get=30,put=16,put-large=2,login=2"

// parseMix reads "list=50,get=30,…": each of the operations at most once,
// with a weight of 0 or more, not all 0.
func parseMix(s string) (mix, error) {
	known := map[string]bool{opList: true, opGet: true, opPut: true, opPutLarge: true, opLogin: true}
	var m mix
	seen := map[string]bool{}
	total := 0
	for _, part := range strings.Split(s, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, fmt.Errorf("%q: want op=weight", part)
		}
		if !known[name] {
			return nil, fmt.Errorf("unknown operation %q (want list, get, put, put-large, login)", name)
		}
		if seen[name] {
			return nil, fmt.Errorf("operation %q given twice", name)
		}
		seen[name] = true
		w, err := strconv.Atoi(val)
		if err != nil || w < 0 || w > 1_000_000 {
			return nil, fmt.Errorf("%s: weight %q is not a number from 0 to 1000000", name, val)
		}
		total += w
		m = append(m, weight{name, w})
	}
	if total == 0 {
		return nil, errors.New("every weight is 0")
	}
	return m, nil
}

// pick chooses an operation with probability proportional to its weight.
func (m mix) pick(rng *rand.Rand) string {
	total := 0
	for _, w := range m {
		total += w.w
	}
	n := rng.IntN(total)
	for _, w := range m {
		if n < w.w {
			return w.op
		}
		n -= w.w
	}
	panic("unreachable: weights changed")
}

// String writes the mix back as the flag takes it.
func (m mix) String() string {
	parts := make([]string, len(m))
	for i, w := range m {
		parts[i] = fmt.Sprintf("%s=%d", w.op, w.w)
	}
	return strings.Join(parts, ",")
}

// fileRec is an upload a client saw succeed: it must be in the drive, with
// this content, at the end.
type fileRec struct {
	path string
	size int64
	sum  [sha256.Size]byte
}

// account is one of the accounts the clients share, and what its devices
// have uploaded.
type account struct {
	name    string
	devices []*simClient
	mu      sync.Mutex
	files   []fileRec // every recorded upload
	small   []int     // indexes in files of the small ones, which gets read
}

func (a *account) record(f fileRec, small bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if small {
		a.small = append(a.small, len(a.files))
	}
	a.files = append(a.files, f)
}

// randomSmall returns a small recorded file, or false if there is none.
func (a *account) randomSmall(rng *rand.Rand) (fileRec, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.small) == 0 {
		return fileRec{}, false
	}
	return a.files[a.small[rng.IntN(len(a.small))]], true
}

// recorded returns a copy of the account's recorded uploads.
func (a *account) recorded() []fileRec {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]fileRec(nil), a.files...)
}

// simClient is one simulated client: a device of an account, with its
// own config folder, connections and address, and a folder of its own in
// the account's drive that it uploads to.
type simClient struct {
	id      int
	acct    *account
	folder  string // "/d007"
	cli     *client.Client
	drive   *client.Drive
	folders []*client.Entry // the account's device folders, which list reads
	rng     *rand.Rand
	data    *rand.ChaCha8 // file contents
	seq     int           // files uploaded so far, to name the next one
	tmp     string        // local folder of the files being uploaded
}

// loadRun is the shared state of the simulated clients.
type loadRun struct {
	cfg      config
	logical  string     // the drive's public URL: instance 1's
	targets  []*url.URL // the instances, in the order requests rotate over them
	password []byte
	ops      *recorder // by operation
	reqs     *recorder // by HTTP route
	errs     *errorLog
	// windowStart and windowEnd bound the measured window, in Unix
	// nanoseconds; 0 until the load phase begins, so setup and warm-up
	// are not measured.
	windowStart, windowEnd atomic.Int64
	// warmupErrors counts errors of operations started outside the
	// measured window (warm-up); they count as errors all the same.
	warmupErrors atomic.Int64
	accounts     []*account
	clients      []*simClient
	// logins bounds the logins in flight during the load to one per two
	// cores. A login derives a 64 MiB Argon2id key on the client, about
	// 0.1 s of one core: 200 clients logging in at once would need over
	// 12 GiB in this one process, and even a few at once take every core
	// from the servers, where 200 real clients would each use their own
	// machine.
	logins chan struct{}
}

// inWindow reports whether t is in the measured window.
func (l *loadRun) inWindow(t time.Time) bool {
	s, e := l.windowStart.Load(), l.windowEnd.Load()
	n := t.UnixNano()
	return s != 0 && n >= s && n < e
}

// clientAddr is the address simulated client i claims in X-Forwarded-For:
// one per client, in 10.77.0.0/16, as if each were on its own machine.
func clientAddr(i int) string { return fmt.Sprintf("10.77.%d.%d", i/250, i%250+1) }

// userName names account i.
func userName(i int) string { return fmt.Sprintf("load%03d", i) }

// newLoadRun makes the accounts and clients, with their config folders
// under clientRoot. Clients are dealt to accounts in turn, so every
// account has clients/users devices, give or take one.
func newLoadRun(cfg config, targets []*url.URL, clientRoot string) (*loadRun, error) {
	l := &loadRun{
		cfg: cfg, logical: targets[0].String(), targets: targets,
		password: []byte("coffer-load password, not a secret"),
		ops:      newRecorder(), reqs: newRecorder(), errs: newErrorLog(),
		logins: make(chan struct{}, max(1, runtime.NumCPU()/2)),
	}
	for i := range cfg.users {
		l.accounts = append(l.accounts, &account{name: userName(i)})
	}
	for i := range cfg.clients {
		dir := filepath.Join(clientRoot, fmt.Sprintf("c%03d", i))
		ccfg, err := client.OpenConfig(filepath.Join(dir, "config"))
		if err != nil {
			return nil, fmt.Errorf("client %d: %w", i, err)
		}
		tmp := filepath.Join(dir, "upload")
		if err := os.MkdirAll(tmp, 0o700); err != nil {
			return nil, fmt.Errorf("client %d: %w", i, err)
		}
		cli := client.New(ccfg, newHTTPClient(targets, clientAddr(i), l.reqs, l.inWindow))
		cli.DeviceName = fmt.Sprintf("coffer-load %d", i)
		a := l.accounts[i%cfg.users]
		c := &simClient{
			id: i, acct: a, folder: fmt.Sprintf("/d%03d", i), cli: cli, tmp: tmp,
			rng:  rand.New(rand.NewPCG(cfg.seed, uint64(i))),
			data: rand.NewChaCha8(seedFor(cfg.seed, i)),
		}
		a.devices = append(a.devices, c)
		l.clients = append(l.clients, c)
	}
	return l, nil
}

// seedFor derives client i's content seed from the run's seed.
func seedFor(seed uint64, i int) [32]byte {
	var s [32]byte
	for b := range 8 {
		s[b] = byte(seed >> (8 * b))
		s[8+b] = byte(uint64(i) >> (8 * b))
	}
	return s
}

// setup signs the accounts up, logs every device in, gives each its folder
// with -seed-files small files, and lets every device see all folders of
// its account. Accounts are set up in parallel, one per core, since
// sign-up and login are CPU-bound (Argon2id, SRP); the devices of one
// account log in one after the other, because the server blocks an
// account after five login attempts in flight from new devices at once
// (attempts are charged when they begin, cleared when they succeed).
func (l *loadRun) setup(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.NumCPU())
	for _, a := range l.accounts {
		g.Go(func() error {
			if len(a.devices) == 0 {
				return nil
			}
			if _, err := a.devices[0].cli.Signup(gctx, l.logical, a.name, l.password); err != nil {
				return fmt.Errorf("sign up %s: %w", a.name, err)
			}
			for _, c := range a.devices {
				if err := c.login(gctx, l); err != nil {
					return fmt.Errorf("client %d: %w", c.id, err)
				}
				if _, err := c.drive.Mkdir(gctx, c.folder, false); err != nil {
					return fmt.Errorf("client %d: %w", c.id, err)
				}
				for range l.cfg.seedFiles {
					if err := c.upload(gctx, l.cfg.fileSize); err != nil {
						return fmt.Errorf("client %d: seed file: %w", c.id, err)
					}
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(4 * runtime.NumCPU())
	for _, c := range l.clients {
		g.Go(func() error {
			if err := c.refresh(gctx); err != nil {
				return fmt.Errorf("client %d: %w", c.id, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// login logs the device in again, which ends its previous session, and
// reopens its drive.
func (c *simClient) login(ctx context.Context, l *loadRun) error {
	if _, err := c.cli.Login(ctx, l.logical, c.acct.name, l.password); err != nil {
		return err
	}
	d, err := c.cli.Drive(ctx)
	if err != nil {
		return err
	}
	c.drive = d
	return c.refresh(ctx)
}

// refresh lists the drive's root for the account's device folders.
func (c *simClient) refresh(ctx context.Context) error {
	list, err := c.drive.ListNames(ctx, c.drive.Root())
	if err != nil {
		return err
	}
	c.folders = c.folders[:0]
	for _, e := range list {
		if e.IsDir() {
			c.folders = append(c.folders, e)
		}
	}
	return nil
}

// upload writes a new file of size random bytes to the client's upload
// folder, puts it in the client's drive folder and, once the client library
// says it is stored, records it.
func (c *simClient) upload(ctx context.Context, size int64) error {
	c.seq++
	name := fmt.Sprintf("f%06d", c.seq)
	local := filepath.Join(c.tmp, name)
	sum, err := c.writeFile(local, size)
	defer os.Remove(local)
	if err != nil {
		return err
	}
	if err := c.drive.Put(ctx, []string{local}, c.folder, client.PutOptions{}); err != nil {
		return err
	}
	c.acct.record(fileRec{path: c.folder + "/" + name, size: size, sum: sum}, size <= smallLimit)
	return nil
}

// smallLimit is the largest file a get reads: the client library batches
// files up to 1 MiB, and gets are meant to be small requests.
const smallLimit = 1 << 20

// writeFile writes size bytes of the client's random stream to name and
// returns their SHA-256, a chunk at a time, so that larger files are never
// held in memory whole.
func (c *simClient) writeFile(name string, size int64) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return sum, fmt.Errorf("write upload file: %w", err)
	}
	h := sha256.New()
	buf := make([]byte, min(size, 256<<10))
	for left := size; left > 0; {
		n := int(min(left, int64(len(buf))))
		_, _ = c.data.Read(buf[:n]) // never fails
		h.Write(buf[:n])
		if _, err := f.Write(buf[:n]); err != nil {
			f.Close()
			return sum, fmt.Errorf("write upload file: %w", err)
		}
		left -= int64(n)
	}
	if err := f.Close(); err != nil {
		return sum, fmt.Errorf("write upload file: %w", err)
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// errContent is a download whose bytes are not the ones uploaded.
var errContent = errors.New("the downloaded content differs from the upload")

// fetch downloads a recorded file and checks its content.
func fetch(ctx context.Context, d *client.Drive, f fileRec) error {
	h := sha256.New()
	cw := &countWriter{w: h}
	if err := d.Cat(ctx, f.path, cw); err != nil {
		return err
	}
	if cw.n != f.size || [sha256.Size]byte(h.Sum(nil)) != f.sum {
		return fmt.Errorf("%w (%d bytes, want %d)", errContent, cw.n, f.size)
	}
	return nil
}

// countWriter counts what passes through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// do runs one operation.
func (c *simClient) do(ctx context.Context, l *loadRun, op string) error {
	switch op {
	case opList:
		dir := c.ownFolderOr()
		if len(c.folders) > 0 {
			dir = c.folders[c.rng.IntN(len(c.folders))]
		}
		if dir == nil {
			return errors.New("the drive's root lists no device folder")
		}
		_, err := c.drive.List(ctx, dir)
		return err
	case opGet:
		f, ok := c.acct.randomSmall(c.rng)
		if !ok {
			return errors.New("no small file recorded to download")
		}
		err := fetch(ctx, c.drive, f)
		if errors.Is(err, errContent) {
			// The client library's own errors name the path already.
			err = fmt.Errorf("%s: %w", f.path, err)
		}
		return err
	case opPut:
		return c.upload(ctx, l.cfg.fileSize)
	case opPutLarge:
		return c.upload(ctx, l.cfg.largeSize)
	case opLogin:
		return c.login(ctx, l)
	}
	return fmt.Errorf("unknown operation %q", op)
}

// ownFolderOr returns the client's own folder among the listed ones, or nil.
func (c *simClient) ownFolderOr() *client.Entry {
	for _, e := range c.folders {
		if e.Path() == c.folder {
			return e
		}
	}
	return nil
}

// opTimeout bounds one operation, so that a stuck request cannot hang the
// run; it is far above any latency worth measuring.
const opTimeout = 2 * time.Minute

// load runs every client from now until the end of the warm-up and the
// measured window. A client stops starting operations at the end; the
// one in flight finishes and, having started in the window, counts.
// Operations end early only if ctx is cancelled (Ctrl-C), and are then
// neither measured nor errors.
func (l *loadRun) load(ctx context.Context) {
	start := time.Now()
	l.windowStart.Store(start.Add(l.cfg.warmup).UnixNano())
	end := start.Add(l.cfg.warmup + l.cfg.duration)
	l.windowEnd.Store(end.UnixNano())
	var wg sync.WaitGroup
	for _, c := range l.clients {
		wg.Go(func() { l.runClient(ctx, c, end) })
	}
	wg.Wait()
}

// loginTurn waits for a login slot until end. The wait is the tool's
// limit, not the system's latency, so a login is timed from its turn.
func (l *loadRun) loginTurn(ctx context.Context, end time.Time) bool {
	t := time.NewTimer(time.Until(end))
	defer t.Stop()
	select {
	case l.logins <- struct{}{}:
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
	if !time.Now().Before(end) {
		<-l.logins
		return false
	}
	return true
}

// runClient is one client's loop: think, then run an operation picked
// from the mix, until the end.
func (l *loadRun) runClient(ctx context.Context, c *simClient, end time.Time) {
	for {
		if l.cfg.think > 0 {
			// Exponential think times make each client's operations a
			// Poisson stream, so clients do not march in step.
			pause := min(time.Duration(c.rng.ExpFloat64()*float64(l.cfg.think)), 10*l.cfg.think)
			pause = min(pause, time.Until(end))
			select {
			case <-ctx.Done():
				return
			case <-time.After(pause):
			}
		}
		if ctx.Err() != nil || !time.Now().Before(end) {
			return
		}
		op := l.cfg.mix.pick(c.rng)
		if op == opLogin && !l.loginTurn(ctx, end) {
			return
		}
		began := time.Now()
		opCtx, cancel := context.WithTimeout(ctx, opTimeout)
		err := c.do(opCtx, l, op)
		cancel()
		took := time.Since(began)
		if op == opLogin {
			<-l.logins
		}
		if err != nil && ctx.Err() != nil {
			return // interrupted: not the system's error
		}
		measured := l.inWindow(began)
		if err != nil {
			l.errs.add(op, err)
			if !measured {
				l.warmupErrors.Add(1)
			}
		}
		if measured {
			l.ops.add(op, took, err != nil)
		}
	}
}
