package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/coffer-drive/coffer/internal/blob/s3/s3test"
)

// The tests in this file drive `coffer serve` and `coffer admin storage`
// over several block locations, folders and a real S3 server (versitygw),
// and take locations away as a lost data centre or a rotting disk would.
//
// What the server does in the background is kept out of the way of the
// counts the tests make exact: scrubbing is off (--scrub-interval 0), full
// repair passes come 10 s after start then every hour, and targeted
// repairs only follow read faults and short writes. Tests that need a
// location's loss to stay visible wait for the first pass to be over
// before taking the location away.

// storageSetup is a server's block locations: folders, and at most one
// bucket, given to serve and to the admin commands in this order.
type storageSetup struct {
	dirs   []string
	s3     *s3test.Server // nil: no bucket
	bucket string
	stores []string // --store values
	policy []string // --replicas, --erasure, --write-quorum flags
	env    map[string]string
	data   string // the server's data folder
}

func newStorage(t *testing.T, folders int, bucket bool, policy ...string) *storageSetup {
	t.Helper()
	root := t.TempDir()
	s := &storageSetup{policy: policy, data: filepath.Join(root, "data"), env: map[string]string{}}
	for i := range folders {
		d := filepath.Join(root, fmt.Sprintf("dc%d", i+1))
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		s.dirs = append(s.dirs, d)
		s.stores = append(s.stores, "file://"+d)
	}
	if bucket {
		s.s3 = s3test.Start(t)
		s.bucket = s.s3.NewBucket(t)
		s.stores = append(s.stores, s.s3.URL(s.bucket))
		// Credentials go to each process, not this one's environment,
		// so the tests can run in parallel.
		s.env["AWS_ACCESS_KEY_ID"] = s.s3.AccessKey
		s.env["AWS_SECRET_ACCESS_KEY"] = s.s3.SecretKey
		s.env["AWS_SESSION_TOKEN"] = ""
	}
	return s
}

func (s *storageSetup) storeArgs() []string {
	var args []string
	for _, st := range s.stores {
		args = append(args, "--store", st)
	}
	return append(args, s.policy...)
}

// serve starts `coffer serve` over the locations, scrubbing off.
func (s *storageSetup) serve(t *testing.T, extra ...string) *serverProc {
	t.Helper()
	args := append(s.storeArgs(), "--scrub-interval", "0", "--repair-interval", "1h", "--store-timeout", "5s")
	return startServerAt(t, s.data, s.env, append(args, extra...)...)
}

// restart starts the server again on the same data, locations and port
// (the client's session remembers the server's URL).
func (s *storageSetup) restart(t *testing.T, old *serverProc, extra ...string) *serverProc {
	t.Helper()
	u, err := url.Parse(old.url)
	if err != nil {
		t.Fatal(err)
	}
	return s.serve(t, append([]string{"--listen", u.Host}, extra...)...)
}

// admin runs `coffer admin storage SUB` with the server's flags.
func (s *storageSetup) admin(t *testing.T, sub string, args ...string) result {
	t.Helper()
	argv := append(append([]string{"admin", "--data", s.data}, testDBArgs(t, s.data)...), "storage", sub)
	argv = append(argv, s.storeArgs()...)
	return cli(t, s.env, append(argv, args...)...)
}

// storageStatus is `coffer admin storage status --json`.
type storageStatus struct {
	Policy struct {
		Replicas     int `json:"replicas"`
		DataShards   int `json:"data_shards"`
		ParityShards int `json:"parity_shards"`
		WriteQuorum  int `json:"write_quorum"`
	} `json:"policy"`
	Blocks          int64    `json:"blocks"`
	Bytes           int64    `json:"bytes"`
	UnderReplicated int64    `json:"under_replicated"`
	Lost            int64    `json:"lost"`
	LostBlocks      []string `json:"lost_blocks"`
	Locations       []struct {
		Name            string     `json:"name"`
		Reachable       bool       `json:"reachable"`
		Error           string     `json:"error"`
		Blocks          int64      `json:"blocks"`
		Bytes           int64      `json:"bytes"`
		UnderReplicated int64      `json:"under_replicated"`
		Unneeded        int64      `json:"unneeded"`
		LastScrub       *time.Time `json:"last_scrub"`
		LastRepair      *time.Time `json:"last_repair"`
	} `json:"locations"`
}

func (s *storageSetup) status(t *testing.T) storageStatus {
	t.Helper()
	r := mustOK(t, s.admin(t, "status", "--json"), "storage status --json")
	var st storageStatus
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("storage status --json: %v\n%s", err, r.stdout)
	}
	if len(st.Locations) != len(s.stores) {
		t.Fatalf("status lists %d locations, want %d:\n%s", len(st.Locations), len(s.stores), r.stdout)
	}
	return st
}

// storageRepair is `coffer admin storage repair --json`.
type storageRepair struct {
	Blocks      int64    `json:"blocks"`
	Repaired    int64    `json:"repaired"`
	Written     int64    `json:"copies_written"`
	Lost        int64    `json:"lost"`
	LostBlocks  []string `json:"lost_blocks"`
	Failed      int64    `json:"failed"`
	Deleted     int64    `json:"unneeded_deleted"`
	Unreachable []string `json:"unreachable"`
}

func (s *storageSetup) repair(t *testing.T) storageRepair {
	t.Helper()
	r := mustOK(t, s.admin(t, "repair", "--json"), "storage repair --json")
	var rep storageRepair
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("storage repair --json: %v\n%s", err, r.stdout)
	}
	if rep.Lost != 0 || rep.Failed != 0 || len(rep.Unreachable) != 0 {
		t.Fatalf("repair did not complete: %+v", rep)
	}
	return rep
}

// storageScrub is `coffer admin storage scrub --json`.
type storageScrub struct {
	Locations []struct {
		Name     string `json:"name"`
		Checked  int64  `json:"checked"`
		Bytes    int64  `json:"bytes"`
		Corrupt  int64  `json:"corrupt"`
		Repaired int64  `json:"repaired"`
		Error    string `json:"error"`
	} `json:"locations"`
}

func (s *storageSetup) scrub(t *testing.T) storageScrub {
	t.Helper()
	r := mustOK(t, s.admin(t, "scrub", "--json"), "storage scrub --json")
	var rep storageScrub
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("storage scrub --json: %v\n%s", err, r.stdout)
	}
	if len(rep.Locations) != len(s.stores) {
		t.Fatalf("scrub reports %d locations, want %d", len(rep.Locations), len(s.stores))
	}
	for i, l := range rep.Locations {
		if l.Name != s.name(i) || l.Error != "" {
			t.Fatalf("scrub of location %d: %+v", i, l)
		}
	}
	return rep
}

// name is location i's name as the server shows it.
func (s *storageSetup) name(i int) string { return s.stores[i] }

// assertFull checks that every block is where the policy wants it: no
// block under-replicated or lost, every location reachable and holding one
// copy or shard of every block (beside unneeded objects, if allowed).
func (s *storageSetup) assertFull(t *testing.T, st storageStatus, blocks int64, unneededOK bool) {
	t.Helper()
	if st.Blocks != blocks || st.UnderReplicated != 0 || st.Lost != 0 || len(st.LostBlocks) != 0 {
		t.Fatalf("status: %d blocks (want %d), %d under-replicated, %d lost %v; want full redundancy", st.Blocks, blocks, st.UnderReplicated, st.Lost, st.LostBlocks)
	}
	for i, l := range st.Locations {
		if l.Name != s.name(i) || !l.Reachable || l.Error != "" || l.UnderReplicated != 0 {
			t.Fatalf("location %d: %+v", i, l)
		}
		if !unneededOK && l.Unneeded != 0 {
			t.Fatalf("location %s holds %d unneeded objects", l.Name, l.Unneeded)
		}
		if l.Blocks-l.Unneeded != blocks {
			t.Fatalf("location %s holds %d objects (%d unneeded), want %d", l.Name, l.Blocks, l.Unneeded, blocks)
		}
		if !unneededOK && l.Bytes != st.Locations[0].Bytes {
			t.Fatalf("location %s holds %d bytes, %s %d", l.Name, l.Bytes, st.Locations[0].Name, st.Locations[0].Bytes)
		}
	}
}

// waitLog waits for the server to log a line containing what.
func waitLog(t *testing.T, srv *serverProc, what string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !bytes.Contains(srv.log.Bytes(), []byte(what)) {
		if time.Now().After(deadline) {
			t.Fatalf("the server did not log %q within a minute:\n%s", what, srv.log.Bytes())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// firstRepairPass waits until the server's first full repair pass (10 s
// after it started) is over, so that it cannot mend what the test breaks
// next before the test looks.
func firstRepairPass(t *testing.T, srv *serverProc) {
	t.Helper()
	waitLog(t, srv, `msg="repair pass done"`)
}

// user signs up a fresh account on srv and returns the client environment.
func user(t *testing.T, srv *serverProc) map[string]string {
	t.Helper()
	env := map[string]string{"COFFER_SERVER": srv.url, "COFFER_USER": "olga", "COFFER_CONFIG_DIR": filepath.Join(t.TempDir(), "cfg"), "COFFER_PASSWORD": "several data centres"}
	mustOK(t, cli(t, env, "signup"), "signup")
	return env
}

// randomBytes returns n reproducible, incompressible bytes.
func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	var s [32]byte
	s[0], s[1] = byte(seed), byte(seed>>8)
	rand.NewChaCha8(s).Read(b)
	return b
}

// writeTree writes a folder of files of several sizes, a multi-block
// one, an empty one and a subfolder of small ones, and returns the
// folder and the files' contents by relative path.
func writeTree(t *testing.T, name string, seed uint64, small int) (string, map[string][]byte) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	files := map[string][]byte{
		"big.bin":    randomBytes(seed, 6<<20+12345), // two blocks
		"medium.bin": randomBytes(seed+1, 1<<20),
		"empty.txt":  {},
	}
	for i := range small {
		files[filepath.Join("small", fmt.Sprintf("note-%02d.txt", i))] = randomBytes(seed+uint64(10+i), 1+i*517)
	}
	for rel, data := range files {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, files
}

// writeFile writes one local file to upload.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// getTree downloads remote into a new folder and compares it with files,
// byte for byte, with nothing missing and nothing more.
func getTree(t *testing.T, env map[string]string, remote string, files map[string][]byte) {
	t.Helper()
	out := t.TempDir()
	mustOK(t, cli(t, env, "get", "-q", remote, out), "get "+remote)
	root := filepath.Join(out, filepath.Base(remote))
	seen := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		want, ok := files[rel]
		if !ok {
			return fmt.Errorf("unexpected file %s", rel)
		}
		got, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("%s: downloaded %d bytes differ from the %d uploaded", rel, len(got), len(want))
		}
		seen++
		return nil
	})
	if err != nil {
		t.Fatalf("get %s: %v", remote, err)
	}
	if seen != len(files) {
		t.Fatalf("get %s: %d files, want %d", remote, seen, len(files))
	}
}

// getFile downloads one remote file and compares it with want.
func getFile(t *testing.T, env map[string]string, remote string, want []byte) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	mustOK(t, cli(t, env, "get", "-q", remote, out), "get "+remote)
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("get %s: %d bytes (%v), differ from the %d uploaded", remote, len(got), err, len(want))
	}
}

var blockName = regexp.MustCompile(`^[0-9a-f]{64}$`)

// markerName is the object that ties a location to its deployment: not a
// block (docs/operations.md).
var markerName = strings.Repeat("0", 64)

// wipe empties a folder location, as a new disk would be: the folder is
// there, and empty.
func wipe(t *testing.T, dir string) {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
}

// folderBlocks returns the objects of a folder location, DIR/ab/cd/ID,
// by ID.
func folderBlocks(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	tops, _ := filepath.Glob(filepath.Join(dir, "[0-9a-f][0-9a-f]", "[0-9a-f][0-9a-f]", "*"))
	for _, p := range tops {
		if id := filepath.Base(p); blockName.MatchString(id) && id != markerName && strings.HasPrefix(id, filepath.Base(filepath.Dir(filepath.Dir(p)))+filepath.Base(filepath.Dir(p))) {
			out[id] = p
		}
	}
	return out
}

// bucketBlocks returns the objects of the bucket by key (the block ID).
func (s *storageSetup) bucketBlocks(t *testing.T) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for obj := range s.s3.Client(t).ListObjects(t.Context(), s.bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatalf("list bucket: %v", obj.Err)
		}
		if obj.Key != markerName {
			out[obj.Key] = obj.Size
		}
	}
	return out
}

// emptyBucket deletes every object of the bucket behind the server's back.
func (s *storageSetup) emptyBucket(t *testing.T) int {
	t.Helper()
	c := s.s3.Client(t)
	n := 0
	for key := range s.bucketBlocks(t) {
		if err := c.RemoveObject(t.Context(), s.bucket, key, minio.RemoveObjectOptions{}); err != nil {
			t.Fatalf("remove %s: %v", key, err)
		}
		n++
	}
	if left := len(s.bucketBlocks(t)); left != 0 {
		t.Fatalf("%d objects left in the bucket", left)
	}
	return n
}

// rot flips a few random bytes of b.
func rot(b []byte, rng *rand.Rand) {
	for range 1 + rng.IntN(4) {
		b[rng.IntN(len(b))] ^= byte(1 + rng.IntN(255))
	}
}

// rotFile flips a few random bytes of a stored copy in place, or cuts it
// short.
func rotFile(t *testing.T, path string, rng *rand.Rand, truncate bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if truncate {
		b = b[:len(b)/2]
	} else {
		rot(b, rng)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o600)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, fi.Mode().Perm())
}

// rotObject flips a few random bytes of an object of the bucket.
func (s *storageSetup) rotObject(t *testing.T, key string, rng *rand.Rand) {
	t.Helper()
	c := s.s3.Client(t)
	obj, err := c.GetObject(t.Context(), s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(obj)
	obj.Close()
	if err != nil {
		t.Fatal(err)
	}
	rot(b, rng)
	if _, err := c.PutObject(t.Context(), s.bucket, key, bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
}

// verifyCopies checks, in replicas mode, that every location holds
// exactly the given blocks and that every copy hashes to its ID.
func (s *storageSetup) verifyCopies(t *testing.T, blocks int) {
	t.Helper()
	check := func(loc, id string, data []byte) {
		if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != id {
			t.Errorf("%s: the copy of block %s is not sound", loc, id)
		}
	}
	for _, dir := range s.dirs {
		held := folderBlocks(t, dir)
		if len(held) != blocks {
			t.Errorf("%s holds %d blocks, want %d", dir, len(held), blocks)
		}
		for id, p := range held {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			check(dir, id, b)
		}
	}
	if s.s3 != nil {
		held := s.bucketBlocks(t)
		if len(held) != blocks {
			t.Errorf("the bucket holds %d blocks, want %d", len(held), blocks)
		}
		c := s.s3.Client(t)
		for id := range held {
			obj, err := c.GetObject(t.Context(), s.bucket, id, minio.GetObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(obj)
			obj.Close()
			if err != nil {
				t.Fatal(err)
			}
			check("bucket", id, b)
		}
	}
}

// oneLine checks a failure's stderr is one line.
func oneLine(t *testing.T, r result, what string) {
	t.Helper()
	if strings.Count(strings.TrimRight(r.stderr, "\n"), "\n") != 0 {
		t.Fatalf("%s: stderr is not one line:\n%s", what, r.stderr)
	}
}

// metrics fetches the server's /metrics and returns its samples as
// "name{labels}" → value, labels as the exposition format writes them.
func metrics(t *testing.T, metricsURL string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", metricsURL, resp.StatusCode, err)
	}
	out := map[string]float64{}
	for line := range strings.SplitSeq(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// metricsURL returns where the server serves its metrics, as it printed.
func metricsURL(t *testing.T, srv *serverProc) string {
	t.Helper()
	re := regexp.MustCompile(`coffer: metrics on (http://\S+/metrics)`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := re.FindSubmatch(srv.out.Bytes()); m != nil {
			return string(m[1])
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server printed no metrics address:\n%s", srv.out.Bytes())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStorageLoseOneLocation: three locations, one of them a bucket, three
// replicas with a write quorum of two. A whole location is lost (its folder
// removed, or its bucket emptied): nothing is lost, status shows the gap,
// repair fills it.
func TestStorageLoseOneLocation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		lose func(t *testing.T, s *storageSetup) int // returns the location's index
	}{
		{"FolderRemoved", func(t *testing.T, s *storageSetup) int {
			wipe(t, s.dirs[1])
			return 1
		}},
		{"BucketEmptied", func(t *testing.T, s *storageSetup) int {
			s.emptyBucket(t)
			return 2
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStorage(t, 2, true)
			srv := s.serve(t)
			env := user(t, srv)
			src, files := writeTree(t, "photos", 1, 12)
			mustOK(t, cli(t, env, "put", "-q", src, "/"), "put folder")
			firstRepairPass(t, srv)

			st := s.status(t)
			if st.Policy.Replicas != 3 || st.Policy.WriteQuorum != 2 {
				t.Fatalf("default policy: %+v", st.Policy)
			}
			blocks := st.Blocks
			// 2 blocks of big.bin, 1 of medium.bin, 1 per small file, 0 for empty.txt.
			if blocks != 15 {
				t.Fatalf("%d blocks recorded, want 15", blocks)
			}
			s.assertFull(t, st, blocks, false)

			lost := tc.lose(t, s)
			st = s.status(t)
			if st.UnderReplicated != blocks || st.Lost != 0 {
				t.Fatalf("after losing %s: %d under-replicated, %d lost; want %d, 0", s.name(lost), st.UnderReplicated, st.Lost, blocks)
			}
			for i, l := range st.Locations {
				want := int64(0)
				held := blocks
				if i == lost {
					want, held = blocks, 0
				}
				if !l.Reachable || l.UnderReplicated != want || l.Blocks != held {
					t.Fatalf("after losing %s, location %s: %+v", s.name(lost), l.Name, l)
				}
			}

			// Every file still downloads, byte for byte.
			getTree(t, env, "/photos", files)

			// The server's own targeted repairs may have mended some
			// blocks the reads met; the end state is what counts.
			rep := s.repair(t)
			if rep.Blocks != blocks || rep.Written > blocks {
				t.Fatalf("repair: %+v", rep)
			}
			s.assertFull(t, s.status(t), blocks, false)
			getTree(t, env, "/photos", files)

			// Zero knowledge holds in every location: no name, no
			// content and no password in any folder or bucket object,
			// nor in the data folder and the log.
			srv.stop(t)
			haystacks := serverHaystacks(srv)
			stored := 0
			for _, d := range s.dirs {
				filepath.WalkDir(d, func(path string, e fs.DirEntry, err error) error {
					if err == nil && !e.IsDir() {
						b, _ := os.ReadFile(path)
						haystacks[path] = b
						stored++
					}
					return nil
				})
			}
			cl := s.s3.Client(t)
			for obj := range cl.ListObjects(t.Context(), s.bucket, minio.ListObjectsOptions{Recursive: true}) {
				if obj.Err != nil {
					t.Fatal(obj.Err)
				}
				o, err := cl.GetObject(t.Context(), s.bucket, obj.Key, minio.GetObjectOptions{})
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(o)
				o.Close()
				if err != nil {
					t.Fatal(err)
				}
				haystacks["bucket object "+obj.Key] = b
				stored++
			}
			if stored < 3*int(blocks) {
				t.Fatalf("searched %d stored objects, want at least %d: the search is not looking where blocks are", stored, 3*blocks)
			}
			needles := [][]byte{[]byte("photos"), []byte("note-03"), []byte("medium.bin"), []byte(env["COFFER_PASSWORD"])}
			for _, data := range files {
				if len(data) >= 64 {
					needles = append(needles, data[len(data)/2:len(data)/2+32])
				}
			}
			assertAbsent(t, haystacks, needles)
		})
	}
}

// TestStorageErasureLoseParity: 4+2 erasure coding over six locations
// (five folders and a bucket). Losing two locations loses nothing; repair
// rebuilds their shards; losing three then loses the blocks, clearly.
func TestStorageErasureLoseParity(t *testing.T) {
	t.Parallel()
	s := newStorage(t, 5, true, "--erasure", "4+2")
	srv := s.serve(t)
	env := user(t, srv)
	src, files := writeTree(t, "archive", 2, 6)
	mustOK(t, cli(t, env, "put", "-q", src, "/"), "put folder")
	firstRepairPass(t, srv)

	st := s.status(t)
	if st.Policy.DataShards != 4 || st.Policy.ParityShards != 2 || st.Policy.Replicas != 0 || st.Policy.WriteQuorum != 5 {
		t.Fatalf("policy: %+v", st.Policy)
	}
	blocks := st.Blocks
	if blocks != 9 {
		t.Fatalf("%d blocks recorded, want 9", blocks)
	}
	s.assertFull(t, st, blocks, false)
	// Each location holds a shard, about a quarter of each block, not a copy.
	if limit := st.Bytes/4 + blocks*(80+1); st.Locations[0].Bytes > limit || st.Locations[0].Bytes < st.Bytes/4 {
		t.Fatalf("a location holds %d bytes of shards for %d bytes of blocks", st.Locations[0].Bytes, st.Bytes)
	}

	// Lose two locations: a folder and the bucket.
	wipe(t, s.dirs[2])
	s.emptyBucket(t)
	st = s.status(t)
	if st.UnderReplicated != blocks || st.Lost != 0 {
		t.Fatalf("after losing two locations: %d under-replicated, %d lost", st.UnderReplicated, st.Lost)
	}
	for i, l := range st.Locations {
		gone := i == 2 || i == 5
		if gone && (l.Blocks != 0 || l.UnderReplicated != blocks) || !gone && (l.Blocks != blocks || l.UnderReplicated != 0) {
			t.Fatalf("location %s: %+v", l.Name, l)
		}
	}
	getTree(t, env, "/archive", files)

	s.repair(t)
	s.assertFull(t, s.status(t), blocks, false)
	if n := len(s.bucketBlocks(t)); n != int(blocks) {
		t.Fatalf("the bucket holds %d shards after repair, want %d", n, blocks)
	}
	getTree(t, env, "/archive", files)

	// Shards rot (one cut short), at most two of a block's six; a scrub
	// run before any read finds exactly those and rebuilds them.
	var ids []string
	for id := range folderBlocks(t, s.dirs[0]) {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	rng := rand.New(rand.NewPCG(2, 2))
	rotted := make([]int64, len(s.stores))
	for _, c := range []struct {
		block, loc int
		truncate   bool
	}{{0, 0, false}, {1, 1, true}, {2, 3, false}, {3, 0, false}, {3, 4, false}} {
		rotFile(t, folderBlocks(t, s.dirs[c.loc])[ids[c.block]], rng, c.truncate)
		rotted[c.loc]++
	}
	for i, l := range s.scrub(t).Locations {
		if l.Checked != blocks || l.Corrupt != rotted[i] || l.Repaired != rotted[i] {
			t.Fatalf("scrub of %s: %+v; want %d checked, %d corrupt and repaired", s.name(i), l, blocks, rotted[i])
		}
	}
	for i, l := range s.scrub(t).Locations {
		if l.Checked != blocks || l.Corrupt != 0 {
			t.Fatalf("second scrub of %s: %+v", s.name(i), l)
		}
	}
	s.assertFull(t, s.status(t), blocks, false)
	getTree(t, env, "/archive", files)

	// Three locations lost is one more than 4+2 survives.
	for _, d := range s.dirs[:3] {
		wipe(t, d)
	}
	st = s.status(t)
	if st.Lost != blocks || len(st.LostBlocks) != int(blocks) {
		t.Fatalf("after losing three of 4+2: %d lost %v, want %d", st.Lost, st.LostBlocks, blocks)
	}
	out := filepath.Join(t.TempDir(), "big.bin")
	r := mustFail(t, cli(t, env, "get", "-q", "/archive/big.bin", out), 1, "get with three of six shards gone")
	oneLine(t, r, "get with three of six shards gone")
	if !containsAny(r.stderr, st.LostBlocks) {
		t.Fatalf("the error names no lost block: %s", r.stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("a failed download left %s (%v)", out, err)
	}
	r = adminFails(t, s.admin(t, "repair"), "repair with blocks lost")
	if !strings.Contains(r.stderr, fmt.Sprintf("%d blocks have too few sound copies", blocks)) || !containsAny(r.stdout, st.LostBlocks) {
		t.Fatalf("repair with blocks lost:\nstdout: %s\nstderr: %s", r.stdout, r.stderr)
	}
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// TestStorageScrubRepairsRot: copies rot in place, in the folders and in
// the bucket, at most two of a block's three. Scrub finds exactly those and
// rewrites them; reads go around the rot in the meantime.
func TestStorageScrubRepairsRot(t *testing.T) {
	t.Parallel()
	s := newStorage(t, 2, true)
	srv := s.serve(t)
	env := user(t, srv)
	src, files := writeTree(t, "ledger", 3, 20)
	mustOK(t, cli(t, env, "put", "-q", src, "/"), "put folder")
	// The first pass rewrites copies of the wrong size; let it be done
	// before copies are cut short, so that the scrub counts them.
	firstRepairPass(t, srv)
	st := s.status(t)
	blocks := st.Blocks
	s.assertFull(t, st, blocks, false)

	ids := make([]string, 0, blocks)
	for id := range folderBlocks(t, s.dirs[0]) {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if len(ids) != int(blocks) {
		t.Fatalf("%s holds %d blocks, want %d", s.dirs[0], len(ids), blocks)
	}
	held := []map[string]string{folderBlocks(t, s.dirs[0]), folderBlocks(t, s.dirs[1])}
	rng := rand.New(rand.NewPCG(3, 3))
	// rotCopies rots two copies of each block, or 0, 1 or 2 in turn if
	// varied, and returns how many it rotted in each location.
	rotCopies := func(varied bool) []int64 {
		per := make([]int64, 3)
		for n, id := range ids {
			k := 2
			if varied {
				k = n % 3
			}
			for _, loc := range rng.Perm(3)[:k] {
				if loc == 2 {
					s.rotObject(t, id, rng)
				} else {
					rotFile(t, held[loc][id], rng, false)
				}
				per[loc]++
			}
		}
		return per
	}

	// Scrub before anything reads the rotten copies, so the server's
	// targeted repairs cannot mend any: the count is exact.
	rotted := rotCopies(true)
	// And one copy is cut short, of a block rotted nowhere else.
	rotFile(t, held[0][ids[0]], rng, true)
	rotted[0]++
	var total int64
	for _, n := range rotted {
		total += n
	}
	if total < blocks/2 || slices.Contains(rotted, 0) {
		t.Fatalf("rotted %v copies; the test wants some in every location", rotted)
	}
	rep := s.scrub(t)
	for i, l := range rep.Locations {
		if l.Checked != blocks || l.Corrupt != rotted[i] || l.Repaired != rotted[i] {
			t.Fatalf("scrub of %s: %+v; want %d checked, %d corrupt and repaired", l.Name, l, blocks, rotted[i])
		}
	}
	for i, l := range s.scrub(t).Locations {
		if l.Checked != blocks || l.Corrupt != 0 || l.Repaired != 0 {
			t.Fatalf("second scrub of %s: %+v", s.name(i), l)
		}
	}
	s.verifyCopies(t, int(blocks))
	getTree(t, env, "/ledger", files)

	// Rot two copies of every block, then read everything: each read
	// goes around the rot.
	rotted = rotCopies(false)
	total = 0
	for _, n := range rotted {
		total += n
	}
	getTree(t, env, "/ledger", files)
	if !bytes.Contains(srv.log.Bytes(), []byte("fault=corrupt")) {
		t.Fatalf("no read met a rotten copy; the test did not test reads:\n%s", srv.log.Bytes())
	}
	// The server mends what its reads met; scrub mends the rest.
	srv.stop(t)
	mended := int64(0)
	for _, m := range regexp.MustCompile(`msg="block repaired" block=[0-9a-f]+ copies=(\d+)`).FindAllSubmatch(srv.log.Bytes(), -1) {
		n, _ := strconv.Atoi(string(m[1]))
		mended += int64(n)
	}
	var corrupt, repaired int64
	for _, l := range s.scrub(t).Locations {
		corrupt += l.Corrupt
		repaired += l.Repaired
	}
	if corrupt != repaired || corrupt+mended > total {
		t.Fatalf("scrub after reads: %d corrupt, %d repaired, %d mended by the server, of %d rotted", corrupt, repaired, mended, total)
	}
	for i, l := range s.scrub(t).Locations {
		if l.Corrupt != 0 || l.Checked != blocks {
			t.Fatalf("last scrub of %s: %+v", s.name(i), l)
		}
	}
	s.verifyCopies(t, int(blocks))
}

// TestStorageBucketDownDuringUploads: the bucket's server is down while
// files are uploaded. Two of three locations are a quorum, so the uploads
// succeed; once it is back, repair writes exactly the copies it missed.
func TestStorageBucketDownDuringUploads(t *testing.T) {
	t.Parallel()
	s := newStorage(t, 2, true)
	srv := s.serve(t, "--metrics-listen", "127.0.0.1:0")
	env := user(t, srv)
	src, files := writeTree(t, "before", 4, 3)
	mustOK(t, cli(t, env, "put", "-q", src, "/"), "put before")
	// A graceful stop waits for the copies still being written.
	srv.stop(t)
	srv = s.restart(t, srv, "--metrics-listen", "127.0.0.1:0")
	murl := metricsURL(t, srv)
	s3name := s.name(2)
	m := metrics(t, murl)
	for i := range s.stores {
		if v, ok := m[`coffer_storage_location_up{location="`+s.name(i)+`"}`]; !ok || v != 1 {
			t.Fatalf("location_up of %s: %v %v", s.name(i), v, ok)
		}
	}
	before := len(folderBlocks(t, s.dirs[0]))

	s.s3.Stop()
	var during []string
	contents := map[string][]byte{}
	for i := range 5 {
		name := fmt.Sprintf("during-%d.bin", i)
		data := randomBytes(uint64(40+i), 100_000+i*1_500_000)
		mustOK(t, cli(t, env, "put", "-q", writeFile(t, name, data), "/"+name), "put while the bucket is down")
		during = append(during, name)
		contents[name] = data
	}
	src2, files2 := writeTree(t, "during", 5, 4)
	mustOK(t, cli(t, env, "put", "-q", src2, "/"), "put folder while the bucket is down")
	for _, name := range during {
		getFile(t, env, "/"+name, contents[name])
	}
	getTree(t, env, "/during", files2)
	// The bucket's circuit breaker opens after three failed calls; the
	// copies to it fail in the background, within --store-timeout.
	deadline := time.Now().Add(30 * time.Second)
	for metrics(t, murl)[`coffer_storage_location_up{location="`+s3name+`"}`] != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("location_up of the stopped bucket is still not 0")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v := metrics(t, murl)[`coffer_storage_location_up{location="`+s.name(0)+`"}`]; v != 1 {
		t.Fatalf("location_up of %s: %v", s.name(0), v)
	}
	missed := int64(len(folderBlocks(t, s.dirs[0])) - before)
	if missed < 10 || int64(len(folderBlocks(t, s.dirs[1]))-before) != missed {
		t.Fatalf("%d blocks uploaded while the bucket was down", missed)
	}

	// Stopped, the server cannot mend the bucket itself: the count below
	// is the admin command's alone.
	srv.stop(t)
	s.s3.Restart(t)
	st := s.status(t)
	blocks := st.Blocks
	if st.UnderReplicated != missed || st.Locations[2].UnderReplicated != missed || st.Locations[2].Blocks != blocks-missed || st.Locations[0].UnderReplicated != 0 {
		t.Fatalf("status once the bucket is back: %+v; want %d under-replicated in the bucket", st, missed)
	}
	rep := s.repair(t)
	if rep.Written != missed || rep.Repaired != missed || rep.Blocks != blocks {
		t.Fatalf("repair: %+v; want %d copies written", rep, missed)
	}
	s.assertFull(t, s.status(t), blocks, false)
	s.verifyCopies(t, int(blocks))

	s.restart(t, srv)
	getTree(t, env, "/before", files)
	getTree(t, env, "/during", files2)
	for _, name := range during {
		getFile(t, env, "/"+name, contents[name])
	}
}

// TestStorageLostBlocks: every copy of some blocks is gone or rotten.
// Downloads fail with one line naming the block, and never leave a file
// with wrong or partial content; other files still download.
func TestStorageLostBlocks(t *testing.T) {
	t.Parallel()
	// A write quorum of three: every copy is in place when put returns.
	s := newStorage(t, 3, false, "--write-quorum", "3")
	srv := s.serve(t)
	env := user(t, srv)
	all := func() map[string]bool {
		ids := map[string]bool{}
		for _, d := range s.dirs {
			for id := range folderBlocks(t, d) {
				ids[id] = true
			}
		}
		return ids
	}
	// upload puts a file and returns the IDs of its new blocks.
	upload := func(name string, data []byte) []string {
		t.Helper()
		old := all()
		mustOK(t, cli(t, env, "put", "-q", writeFile(t, name, data), "/"+name), "put "+name)
		var ids []string
		for id := range all() {
			if !old[id] {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		return ids
	}
	keep := randomBytes(50, 5<<20)
	upload("keep.bin", keep)
	gone := randomBytes(51, 6<<20)
	goneIDs := upload("gone.bin", gone)
	rotten := randomBytes(52, 3000)
	rottenIDs := upload("rotten.txt", rotten)
	if len(goneIDs) != 2 || len(rottenIDs) != 1 {
		t.Fatalf("blocks of gone.bin %v, of rotten.txt %v", goneIDs, rottenIDs)
	}
	rng := rand.New(rand.NewPCG(5, 5))
	// One block of gone.bin is deleted from every location; the one
	// block of rotten.txt rots in every location.
	lostGone := goneIDs[rng.IntN(2)]
	for _, d := range s.dirs {
		if err := os.Remove(folderBlocks(t, d)[lostGone]); err != nil {
			t.Fatal(err)
		}
		rotFile(t, folderBlocks(t, d)[rottenIDs[0]], rng, false)
	}

	for _, tc := range []struct {
		remote, block string
		data          []byte
	}{
		{"/gone.bin", lostGone, gone},
		{"/rotten.txt", rottenIDs[0], rotten},
	} {
		dir := t.TempDir()
		out := filepath.Join(dir, "out")
		r := mustFail(t, cli(t, env, "get", "-q", tc.remote, out), 1, "get "+tc.remote)
		oneLine(t, r, "get "+tc.remote)
		if !strings.Contains(r.stderr, "block "+tc.block) {
			t.Fatalf("get %s: the error does not name block %s: %s", tc.remote, tc.block, r.stderr)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Fatalf("get %s left %v behind", tc.remote, entries)
		}
		// cat writes what it checked, block by block: never a wrong byte.
		r = mustFail(t, cli(t, env, "cat", tc.remote), 1, "cat "+tc.remote)
		if !bytes.HasPrefix(tc.data, []byte(r.stdout)) {
			t.Fatalf("cat %s wrote %d bytes that are not the file's", tc.remote, len(r.stdout))
		}
	}
	getFile(t, env, "/keep.bin", keep)

	// Status counts what each location lists, by size: the deleted
	// block is lost; the rotten one passes until a scrub reads it.
	st := s.status(t)
	if st.Lost != 1 || len(st.LostBlocks) != 1 || st.LostBlocks[0] != lostGone {
		t.Fatalf("status: %d lost %v, want %s", st.Lost, st.LostBlocks, lostGone)
	}
	r := adminFails(t, s.admin(t, "repair"), "repair with a lost block")
	if !strings.Contains(r.stderr, "coffer: 1 blocks have too few sound copies") || !strings.Contains(r.stdout, "Lost: block "+lostGone) {
		t.Fatalf("repair with a lost block:\nstdout: %s\nstderr: %s", r.stdout, r.stderr)
	}
	r = adminFails(t, s.admin(t, "scrub", "--json"), "scrub with a block rotten everywhere")
	var rep storageScrub
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("scrub --json: %v\n%s", err, r.stdout)
	}
	for i, l := range rep.Locations {
		if l.Corrupt != 1 || l.Repaired != 0 || l.Error != "" {
			t.Fatalf("scrub of %s: %+v; want the rotten block corrupt and not repaired", s.name(i), l)
		}
	}
	if !strings.Contains(r.stderr, "coffer: 3 corrupt copies could not be repaired") {
		t.Fatalf("scrub with a block rotten everywhere: %s", r.stderr)
	}
}

// adminFails checks an operator command failed with exit 1 and ends with
// one error line; the log lines before it are the operator's to read.
func adminFails(t *testing.T, r result, what string) result {
	t.Helper()
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	if r.code != 1 || !strings.HasPrefix(lines[len(lines)-1], "coffer: ") || strings.Contains(r.stderr, "goroutine") || strings.Contains(r.stderr, "panic") {
		t.Fatalf("%s: exit %d, want 1 and an error line\nstdout: %s\nstderr: %s", what, r.code, r.stdout, r.stderr)
	}
	return r
}

// TestStorageKillServer: the server is killed (SIGKILL) while a large
// file is being uploaded, and again while it repairs a location. What was
// uploaded before stays whole; restarted, the server serves it, and repair
// brings every location back.
func TestStorageKillServer(t *testing.T) {
	t.Parallel()
	s := newStorage(t, 2, true)
	srv := s.serve(t)
	env := user(t, srv)
	src, files := writeTree(t, "done", 6, 8)
	mustOK(t, cli(t, env, "put", "-q", src, "/"), "put folder")
	first := randomBytes(60, 3<<20)
	mustOK(t, cli(t, env, "put", "-q", writeFile(t, "first.bin", first), "/first.bin"), "put first.bin")

	// Kill the server once the big upload has stored a block.
	big := randomBytes(61, 24<<20)
	bigPath := writeFile(t, "inflight.bin", big)
	before := len(folderBlocks(t, s.dirs[0]))
	put := exec.Command(coffer, "put", "-q", bigPath, "/inflight.bin")
	for k, v := range env {
		put.Env = append(put.Env, k+"="+v)
	}
	put.Env = append(put.Env, "PATH="+os.Getenv("PATH"), "HOME="+os.Getenv("HOME"))
	var putErr bytes.Buffer
	put.Stderr = &putErr
	if err := put.Start(); err != nil {
		t.Fatal(err)
	}
	putDone := make(chan error, 1)
	go func() { putDone <- put.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for len(folderBlocks(t, s.dirs[0])) == before {
		if time.Now().After(deadline) {
			t.Fatal("the upload stored no block within a minute")
		}
		time.Sleep(time.Millisecond)
	}
	srv.kill(t)
	var putExit error
	select {
	case putExit = <-putDone:
	case <-time.After(2 * time.Minute):
		put.Process.Kill()
		t.Fatal("put did not end after the server died")
	}
	t.Logf("put during the kill: %v %s", putExit, putErr.String())

	srv = s.restart(t, srv)
	getTree(t, env, "/done", files)
	getFile(t, env, "/first.bin", first)
	// The interrupted upload is either whole or absent, never wrong.
	out := filepath.Join(t.TempDir(), "inflight.bin")
	if r := cli(t, env, "get", "-q", "/inflight.bin", out); r.code == 0 {
		if got, _ := os.ReadFile(out); !bytes.Equal(got, big) {
			t.Fatal("the upload interrupted by the kill downloads wrong")
		}
	} else if putExit == nil {
		t.Fatalf("put exited 0 before the kill, yet get fails: %s", r.stderr)
	} else if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("a failed get left %s", out)
	}

	// Lose the bucket's blocks; kill the server while it puts them back
	// (its targeted repairs follow the reads' faults).
	s.emptyBucket(t)
	getTree(t, env, "/done", files)
	waitLog(t, srv, `msg="block repaired"`)
	srv.kill(t)

	s.restart(t, srv)
	st := s.status(t)
	s.repair(t)
	// Blocks stored by the killed upload but not recorded are unneeded
	// (deleted an hour on); all others are back in every location.
	s.assertFull(t, s.status(t), st.Blocks, true)
	getTree(t, env, "/done", files)
	getFile(t, env, "/first.bin", first)
	if putExit == nil {
		getFile(t, env, "/inflight.bin", big)
	}
	mustOK(t, cli(t, env, "put", "-q", writeFile(t, "after.bin", first[:1<<20]), "/after.bin"), "put after the restarts")
	getFile(t, env, "/after.bin", first[:1<<20])
}

// TestStorageMetrics: --metrics-listen serves each location's state and
// counts the faults reads go around.
func TestStorageMetrics(t *testing.T) {
	t.Parallel()
	s := newStorage(t, 2, true, "--write-quorum", "3")
	srv := s.serve(t, "--metrics-listen", "127.0.0.1:0")
	murl := metricsURL(t, srv)
	if strings.Contains(murl, ":0/") {
		t.Fatalf("metrics address %s is not the one bound", murl)
	}
	m := metrics(t, murl)
	for i := range s.stores {
		if v, ok := m[`coffer_storage_location_up{location="`+s.name(i)+`"}`]; !ok || v != 1 {
			t.Fatalf("coffer_storage_location_up for %s: %v %v\n%v", s.name(i), v, ok, m)
		}
	}
	env := user(t, srv)
	src, files := writeTree(t, "many", 7, 30)
	mustOK(t, cli(t, env, "put", "-q", src, "/"), "put folder")

	// Two of three locations lose everything: a folder and the bucket.
	// Each block's copies are read in an order set by its ID; over 33
	// blocks each wiped location comes before the sound one in some
	// (all but surely: the odds against are 2^33 to 1).
	if err := os.RemoveAll(s.dirs[0]); err != nil {
		t.Fatal(err)
	}
	s.emptyBucket(t)
	getTree(t, env, "/many", files)
	m = metrics(t, murl)
	for _, i := range []int{0, 2} {
		if v := m[`coffer_storage_read_faults_total{kind="missing",location="`+s.name(i)+`"}`]; v < 1 {
			t.Fatalf("read_faults_total of the wiped %s: %v", s.name(i), v)
		}
	}
	for k := range m {
		if strings.HasPrefix(k, "coffer_storage_read_faults_total{") && strings.Contains(k, s.name(1)) {
			t.Fatalf("faults counted for the sound location: %s", k)
		}
	}
	if m["coffer_storage_reads_degraded_total"] < 1 || m["coffer_storage_reads_failed_total"] != 0 {
		t.Fatalf("reads degraded %v, failed %v", m["coffer_storage_reads_degraded_total"], m["coffer_storage_reads_failed_total"])
	}
	body, _ := json.Marshal(m)
	if bytes.Contains(body, []byte(s.s3.SecretKey)) || bytes.Contains(body, []byte(s.s3.AccessKey)) {
		t.Fatal("the metrics show the bucket's credentials")
	}
}

// TestStorageBadInput: mistakes in the storage flags get one clear line
// and exit 1 or 2, never a panic or a leaked secret.
func TestStorageBadInput(t *testing.T) {
	t.Parallel()
	s := newStorage(t, 3, false)
	srv3 := s3test.Start(t)
	bucket := srv3.NewBucket(t)
	creds := map[string]string{"AWS_ACCESS_KEY_ID": srv3.AccessKey, "AWS_SECRET_ACCESS_KEY": srv3.SecretKey}
	folders := []string{"--store", s.stores[0], "--store", s.stores[1], "--store", s.stores[2]}
	serve := func(env map[string]string, args ...string) result {
		return cli(t, env, append([]string{"serve", "--data", filepath.Join(t.TempDir(), "data"), "--listen", "127.0.0.1:0"}, args...)...)
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"UnknownScheme", nil, []string{"--store", "ftp://example.com/blocks"}, 1, `unknown scheme "ftp"`},
		{"NoScheme", nil, []string{"--store", "relative/blocks"}, 1, "want file:///path"},
		{"FileWithHost", nil, []string{"--store", "file://host/blocks"}, 1, "want file:///absolute/path"},
		{"ErasureTooWide", nil, append(slices.Clone(folders), "--erasure", "4+2"), 1, "needs 6 locations, and 3 are given"},
		{"ErasureMalformed", nil, append(slices.Clone(folders), "--erasure", "4"), 1, "want K+M"},
		{"ReplicasAndErasure", nil, append(slices.Clone(folders), "--replicas", "2", "--erasure", "2+1"), 1, "--replicas and --erasure exclude each other"},
		{"TooManyReplicas", nil, append(slices.Clone(folders), "--replicas", "4"), 1, "4 replicas"},
		{"QuorumAboveReplicas", nil, append(slices.Clone(folders), "--write-quorum", "4"), 1, "write quorum 4"},
		{"SameLocationTwice", nil, []string{"--store", s.stores[0], "--store", s.stores[0]}, 1, "given twice"},
		{"BucketMissingFromURL", creds, []string{"--store", "s3://?endpoint=" + srv3.Endpoint}, 1, "names no bucket"},
		{"NoSuchBucket", creds, []string{"--store", srv3.URL("no-such-bucket")}, 1, `bucket "no-such-bucket" does not exist`},
		{"NoCredentials", nil, []string{"--store", srv3.URL(bucket)}, 1, "AWS_ACCESS_KEY_ID"},
		{"BadScrubRate", nil, []string{"--scrub-rate", "fast"}, 2, "--scrub-rate"},
	} {
		r := serve(tc.env, tc.args...)
		mustFail(t, r, tc.code, tc.name)
		if tc.code == 1 {
			oneLine(t, r, tc.name) // a usage error adds a hint at help
		}
		if !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: stderr %q lacks %q", tc.name, r.stderr, tc.want)
		}
	}

	// Wrong credentials: a clear error that shows no secret, from the
	// admin commands and from serve.
	wrongSecret := "wrong-secret-Zq81xPL0f3vT7"
	wrong := map[string]string{"AWS_ACCESS_KEY_ID": srv3.AccessKey, "AWS_SECRET_ACCESS_KEY": wrongSecret}
	data := t.TempDir()
	// serve goes first: it makes the metadata, without which the admin
	// commands stop before any location.
	for _, argv := range [][]string{
		{"serve", "--data", data, "--listen", "127.0.0.1:0", "--store", srv3.URL(bucket)},
		{"admin", "--data", data, "storage", "status", "--store", s.stores[0], "--store", srv3.URL(bucket)},
		{"admin", "--data", data, "storage", "status", "--json", "--store", srv3.URL(bucket)},
		{"admin", "--data", data, "storage", "repair", "--store", srv3.URL(bucket)},
	} {
		what := fmt.Sprintf("%v with a wrong secret", argv)
		r := mustFail(t, cli(t, wrong, argv...), 1, what)
		oneLine(t, r, what)
		if !strings.Contains(r.stderr, bucket) {
			t.Errorf("%v: the error does not name the bucket: %s", argv, r.stderr)
		}
		for _, secret := range []string{wrongSecret, srv3.SecretKey} {
			if strings.Contains(r.stderr+r.stdout, secret) {
				t.Errorf("%v: the output shows a secret: %s", argv, r.stderr)
			}
		}
	}

	// An admin command pointed at a folder without the server's metadata
	// stops before touching any location.
	r := mustFail(t, cli(t, nil, "admin", "--data", t.TempDir(), "storage", "repair", "--store", s.stores[0]), 1, "repair without metadata")
	if !strings.Contains(r.stderr, "no metadata at") {
		t.Errorf("repair without metadata: %s", r.stderr)
	}

	// Usage mistakes of the admin commands exit 2.
	mustFail(t, s.admin(t, "scrub", "--rate", "lots"), 2, "scrub --rate lots")
	mustFail(t, s.admin(t, "status", "extra"), 2, "status with an argument")
	mustFail(t, s.admin(t, "repair", "--no-such-flag"), 2, "repair with an unknown flag")
}

// TestStorageServeIntervalFlags: --scrub-interval and --repair-interval
// reach the server. A location never scrubbed is scrubbed at start, and
// with --repair-interval 1s a pass follows the first (10 s after start)
// within seconds.
func TestStorageServeIntervalFlags(t *testing.T) {
	t.Parallel()
	s := newStorage(t, 2, false)
	srv := startServerAt(t, s.data, s.env, append(s.storeArgs(), "--scrub-interval", "1h", "--repair-interval", "1s")...)
	env := user(t, srv)
	mustOK(t, cli(t, env, "put", "-q", writeFile(t, "a.txt", []byte("scrub me")), "/a.txt"), "put")
	start := time.Now()
	scrubbed := false
	for !scrubbed && time.Since(start) < 30*time.Second {
		st := s.status(t)
		scrubbed = st.Locations[0].LastScrub != nil && st.Locations[1].LastScrub != nil
		time.Sleep(200 * time.Millisecond)
	}
	if !scrubbed {
		t.Errorf("serve --scrub-interval 1h: the locations, never scrubbed, are still not 30 s after start")
	}
	passes := func() int { return bytes.Count(srv.log.Bytes(), []byte(`msg="repair pass done"`)) }
	for passes() < 2 && time.Since(start) < 40*time.Second {
		time.Sleep(100 * time.Millisecond)
	}
	if passes() < 2 {
		t.Errorf("serve --repair-interval 1s: %d repair passes 40 s after start, want at least 2", passes())
	}
}

// TestStorageBucketDownAtStart: with the bucket's server down, status
// still reports on every location (the bucket unreachable), and the
// server starts and serves from the two folders, a quorum of three.
func TestStorageBucketDownAtStart(t *testing.T) {
	t.Parallel()
	s := newStorage(t, 2, true)
	srv := s.serve(t)
	env := user(t, srv)
	src, files := writeTree(t, "docs", 8, 3)
	mustOK(t, cli(t, env, "put", "-q", src, "/"), "put folder")
	srv.stop(t)
	s.s3.Stop()

	t.Run("Status", func(t *testing.T) {
		r := s.admin(t, "status", "--json")
		if r.code != 0 {
			t.Fatalf("status with the bucket down: exit %d, want 0 and the bucket shown unreachable\nstderr: %s", r.code, r.stderr)
		}
		var st storageStatus
		if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
			t.Fatal(err)
		}
		if st.Locations[2].Reachable || st.Locations[2].Error == "" || !st.Locations[0].Reachable || st.UnderReplicated != st.Blocks {
			t.Fatalf("status with the bucket down: %+v", st)
		}
	})
	t.Run("Serve", func(t *testing.T) {
		srv := s.restart(t, srv) // fails the test if serve exits
		getTree(t, env, "/docs", files)
		srv.stop(t)
	})
}

// TestStorageWipedFolderTakesNewBlocks: a folder location is lost and
// replaced by an empty folder (a new disk) while the server runs. The
// server writes the blocks uploaded next to it, as to the others.
func TestStorageWipedFolderTakesNewBlocks(t *testing.T) {
	t.Parallel()
	s := newStorage(t, 3, false)
	srv := s.serve(t)
	env := user(t, srv)
	mustOK(t, cli(t, env, "put", "-q", writeFile(t, "old.bin", randomBytes(90, 100_000)), "/old.bin"), "put old.bin")
	if err := os.RemoveAll(s.dirs[2]); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(s.dirs[2], 0o700); err != nil {
		t.Fatal(err)
	}
	before := folderBlocks(t, s.dirs[0])
	data := randomBytes(91, 5<<20)
	mustOK(t, cli(t, env, "put", "-q", writeFile(t, "new.bin", data), "/new.bin"), "put new.bin")
	// A graceful stop waits for the copies still being written.
	srv.stop(t)
	third := folderBlocks(t, s.dirs[2])
	for id := range folderBlocks(t, s.dirs[0]) {
		if _, ok := before[id]; !ok {
			if _, ok := third[id]; !ok {
				logs := regexp.MustCompile(`(?m)^.*location write failed.*$`).FindAll(srv.log.Bytes(), 1)
				t.Fatalf("block %s uploaded after %s was replaced is not in it: %s", id, s.dirs[2], logs)
			}
		}
	}
}

// TestStorageRottenLastCopies: one location lost a block and the other
// two copies rotted. The download fails naming the block as unreadable,
// not as missing: copies of it are there, and all are bad.
func TestStorageRottenLastCopies(t *testing.T) {
	t.Parallel()
	s := newStorage(t, 3, false, "--write-quorum", "3")
	srv := s.serve(t)
	env := user(t, srv)
	mustOK(t, cli(t, env, "put", "-q", writeFile(t, "doc.txt", randomBytes(92, 2000)), "/doc.txt"), "put")
	var id string
	for k := range folderBlocks(t, s.dirs[0]) {
		id = k
	}
	rng := rand.New(rand.NewPCG(9, 9))
	if err := os.Remove(folderBlocks(t, s.dirs[0])[id]); err != nil {
		t.Fatal(err)
	}
	rotFile(t, folderBlocks(t, s.dirs[1])[id], rng, false)
	rotFile(t, folderBlocks(t, s.dirs[2])[id], rng, false)
	r := mustFail(t, cli(t, env, "get", "-q", "/doc.txt", filepath.Join(t.TempDir(), "doc.txt")), 1, "get")
	if !strings.Contains(r.stderr, id) || strings.Contains(r.stderr, "missing from storage") {
		t.Fatalf("get of a block whose remaining copies are rotten: %s", r.stderr)
	}
}

// TestStorageAdminSettingsFromEnv: the admin commands find the server's
// metadata and block locations in COFFER_* variables, or in the server's
// own --config file (serve-only keys and all), as they do in flags, with
// the command line first.
func TestStorageAdminSettingsFromEnv(t *testing.T) {
	t.Parallel()
	s := newStorage(t, 3, false, "--write-quorum", "3")
	var conf strings.Builder
	fmt.Fprintf(&conf, "data: %s\nwrite-quorum: 3\nstore:\n", s.data)
	for _, st := range s.stores {
		fmt.Fprintf(&conf, "  - %s\n", st)
	}
	conf.WriteString("listen: 127.0.0.1:0\nscrub-interval: 0\nrepair-interval: 1h\nsession-idle: 1h\nlog-format: json\n")
	file := writeConfig(t, conf.String())
	srv := startServerAt(t, s.data, s.env, "--config", file)
	mustOK(t, cli(t, user(t, srv), "put", "-q", writeFile(t, "a.bin", randomBytes(93, 3<<20)), "/a.bin"), "put")
	srv.stop(t) // nothing changes from here on

	want := mustOK(t, s.admin(t, "status", "--json"), "status with flags").stdout
	var st storageStatus
	if err := json.Unmarshal([]byte(want), &st); err != nil || st.Blocks == 0 || st.Policy.WriteQuorum != 3 || len(st.Locations) != 3 {
		t.Fatalf("status with flags: %v\n%s", err, want)
	}
	// On PostgreSQL (COFFER_TEST_DB), the database is the server's --db.
	env := func(kv ...string) map[string]string {
		m := map[string]string{}
		if db := testDBArgs(t, s.data); db != nil {
			m["COFFER_DB"] = db[1]
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	stores := strings.Join(s.stores, ",")
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"environment", env("COFFER_DATA", s.data, "COFFER_STORE", stores, "COFFER_WRITE_QUORUM", "3"), nil},
		{"the server's file", env(), []string{"--config", file}},
		{"flags over the environment", env("COFFER_DATA", t.TempDir(), "COFFER_STORE", stores, "COFFER_WRITE_QUORUM", "2"),
			[]string{"--data", s.data, "--write-quorum", "3"}},
		{"the environment over the file", env("COFFER_DATA", s.data, "COFFER_WRITE_QUORUM", "3"),
			[]string{"--config", writeConfig(t, "data: "+t.TempDir()+"\nwrite-quorum: 2\nstore: ["+stores+"]\nlisten: 127.0.0.1:1\n")}},
	} {
		r := mustOK(t, cli(t, tc.env, append([]string{"admin", "storage", "status", "--json"}, tc.args...)...), "status from "+tc.name)
		if r.stdout != want {
			t.Errorf("status from %s:\n%s\nwant, as with flags:\n%s", tc.name, r.stdout, want)
		}
	}
	mustOK(t, cli(t, env("COFFER_DATA", s.data), "admin", "user", "quota", "olga", "1GiB"), "user quota from the environment")

	// Before, a COFFER_DATA the admin command ignored left it on the
	// default ./coffer-data; now it is followed, to the wrong folder here.
	if testDBArgs(t, s.data) == nil {
		r := mustFail(t, cli(t, map[string]string{"COFFER_DATA": t.TempDir(), "COFFER_STORE": stores}, "admin", "storage", "status"), 1, "status on an empty COFFER_DATA")
		if !strings.Contains(r.stderr, "no metadata at") || strings.Contains(r.stderr, "coffer-data") {
			t.Errorf("status on an empty COFFER_DATA: %s", r.stderr)
		}
	}
}
