package s3

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/coffer-drive/coffer/internal/blob"
	"github.com/coffer-drive/coffer/internal/blob/blobtest"
	"github.com/coffer-drive/coffer/internal/blob/s3/s3test"
)

// openTest opens a store at url and closes it when the test ends.
func openTest(t testing.TB, url string, opts Options) *Store {
	t.Helper()
	s, err := Open(t.Context(), url, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	srv := s3test.Start(t)
	srv.Env(t)
	client := srv.Client(t)
	blobtest.Run(t, func(t *testing.T) blob.Store {
		return openTest(t, srv.URL(srv.NewBucket(t)), Options{})
	}, blobtest.Hooks{Corrupt: func(t *testing.T, s blob.Store, id blob.ID) {
		corrupt(t, client, s.(*Store), id)
	}})
}

// TestConformancePrefix runs the suite on stores under a key prefix, all
// in one bucket, which also shows that they keep out of each other's way.
func TestConformancePrefix(t *testing.T) {
	if testing.Short() {
		t.Skip("the suite without a prefix covers most of it")
	}
	srv := s3test.Start(t)
	srv.Env(t)
	client := srv.Client(t)
	bucket := srv.NewBucket(t)
	n := 0
	blobtest.Run(t, func(t *testing.T) blob.Store {
		n++
		return openTest(t, fmt.Sprintf("s3://%s/stores/%d?endpoint=%s", bucket, n, srv.Endpoint), Options{})
	}, blobtest.Hooks{Corrupt: func(t *testing.T, s blob.Store, id blob.ID) {
		corrupt(t, client, s.(*Store), id)
	}})
}

// corrupt rewrites block id's object with one byte changed, behind the
// store's back.
func corrupt(t *testing.T, client *minio.Client, s *Store, id blob.ID) {
	t.Helper()
	obj, err := client.GetObject(t.Context(), s.loc.bucket, s.key(id), minio.GetObjectOptions{})
	if err != nil {
		t.Fatalf("corrupt: %v", err)
	}
	data, err := io.ReadAll(obj)
	obj.Close()
	if err != nil {
		t.Fatalf("corrupt: %v", err)
	}
	data[len(data)/2] ^= 0x10
	if _, err := client.PutObject(t.Context(), s.loc.bucket, s.key(id), bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatalf("corrupt: %v", err)
	}
}

func TestParseURL(t *testing.T) {
	good := []struct{ in, want string }{
		{"s3://bucket", "s3://bucket"},
		{"s3://bucket/", "s3://bucket"},
		{"S3://bucket/a/b/", "s3://bucket/a/b"},
		{"s3://my.bucket-1/blocks?endpoint=http://127.0.0.1:9000", "s3://my.bucket-1/blocks?endpoint=http://127.0.0.1:9000"},
		{"s3://b1b?endpoint=https://s3.example.com/&region=eu-central-1&lookup=dns", "s3://b1b?endpoint=https://s3.example.com&region=eu-central-1&lookup=dns"},
		{"s3://b1b?lookup=path&region=us-east-1", "s3://b1b?region=us-east-1&lookup=path"},
	}
	for _, tc := range good {
		loc, err := parseURL(tc.in)
		if err != nil {
			t.Errorf("parseURL(%q): %v", tc.in, err)
			continue
		}
		if got := loc.String(); got != tc.want {
			t.Errorf("parseURL(%q).String() = %q, want %q", tc.in, got, tc.want)
		}
		// What String returns must parse to the same location.
		if again, err := parseURL(loc.String()); err != nil || again != loc {
			t.Errorf("parseURL(%q) = %+v, %v; want %+v", loc.String(), again, err, loc)
		}
	}

	loc, _ := parseURL("s3://b1b")
	if loc.host != awsEndpoint || !loc.secure {
		t.Errorf("without an endpoint: host %q, secure %v; want %q over TLS", loc.host, loc.secure, awsEndpoint)
	}
	loc, _ = parseURL("s3://b1b?endpoint=http://localhost:9000")
	if loc.host != "localhost:9000" || loc.secure {
		t.Errorf("http endpoint: host %q, secure %v; want localhost:9000 without TLS", loc.host, loc.secure)
	}
	loc, _ = parseURL("s3://b1b?endpoint=https://localhost")
	if loc.host != "localhost" || !loc.secure {
		t.Errorf("https endpoint: host %q, secure %v; want localhost with TLS", loc.host, loc.secure)
	}

	const secret = "wJalrXUtnFEMI-K7MDENG-bPxRfiCY"
	bad := []struct{ in, want string }{
		{"", `start with "s3://"`},
		{"http://bucket", `start with "s3://"`},
		{"s3:bucket", `start with "s3://"`},
		{"s3://", "no bucket"},
		{"s3:///prefix", "no bucket"},
		{"s3://Bucket", "Bucket"},
		{"s3://b_b", "b_b"},
		{"s3://bucket/a//b", "segment"},
		{"s3://bucket/a/../b", "segment"},
		{"s3://bucket#x", "fragment"},
		{"s3://bucket?endpoit=http://localhost", `unknown query key "endpoit"`},
		{"s3://bucket?endpoint=http://a&endpoint=http://b", "2 times"},
		{"s3://bucket?endpoint=ftp://localhost", "http or https"},
		{"s3://bucket?endpoint=localhost:9000", "http or https"},
		{"s3://bucket?endpoint=http://localhost/path", "only a scheme"},
		{"s3://bucket?lookup=virtual", "lookup"},
		{"s3://bucket?region=EU%20West", "region"},
		{"s3://AKIAEXAMPLE:" + secret + "@bucket", "credentials"},
		{"s3://" + secret + "@bucket/p", "credentials"},
		{"s3://AKIAEXAMPLE:" + secret + "%zz@bucket", "credentials"},
		{"s3://bucket?endpoint=http://AKIAEXAMPLE:" + secret + "@localhost", "credentials"},
		{"s3://bucket?" + secret + "=1", "unknown query key"},
	}
	for _, tc := range bad {
		_, err := parseURL(tc.in)
		if err == nil {
			t.Errorf("parseURL(%q) succeeded", tc.in)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseURL(%q): error %q, want it to mention %q", tc.in, err, tc.want)
		}
		if strings.Contains(tc.in, "@") && strings.Contains(err.Error(), secret) {
			t.Errorf("parseURL(%q): error %q shows the secret", tc.in, err)
		}
	}

	// Open refuses them before it looks for credentials or a server.
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	_, err := Open(t.Context(), "s3://AKIAEXAMPLE:"+secret+"@bucket", Options{})
	if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "AWS_SECRET_ACCESS_KEY") {
		t.Errorf("Open of a URL with credentials: %v; want an error pointing to the environment, without the secret", err)
	}
}

// clearCredentials empties every variable the credential chain reads.
func clearCredentials(t *testing.T) {
	for _, v := range []string{
		"AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_SESSION_TOKEN",
		"MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY",
	} {
		t.Setenv(v, "")
	}
}

func TestOpenNoCredentials(t *testing.T) {
	clearCredentials(t)
	_, err := Open(t.Context(), "s3://bucket?endpoint=http://127.0.0.1:1", Options{})
	if err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Errorf("Open without credentials: %v; want an error saying what to set", err)
	}
}

// TestOpenMinioCredentials checks the second link of the credential chain.
func TestOpenMinioCredentials(t *testing.T) {
	srv := s3test.Start(t)
	clearCredentials(t)
	t.Setenv("MINIO_ROOT_USER", srv.AccessKey)
	t.Setenv("MINIO_ROOT_PASSWORD", srv.SecretKey)
	s := openTest(t, srv.URL(srv.NewBucket(t)), Options{})
	data := []byte("minio")
	if err := s.Put(t.Context(), blob.Sum(data), bytes.NewReader(data)); err != nil {
		t.Errorf("Put: %v", err)
	}
}

// checkNoSecret fails the test if err's message shows the secret.
func checkNoSecret(t *testing.T, what string, err error, secret string) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), secret) {
		t.Errorf("%s: error %q shows the secret key", what, err)
	}
}

func TestOpenErrors(t *testing.T) {
	srv := s3test.Start(t)
	srv.Env(t)

	_, err := Open(t.Context(), srv.URL("no-such-bucket"), Options{})
	if err == nil {
		t.Fatal("Open of a missing bucket succeeded")
	}
	if Unreachable(err) {
		t.Errorf("a missing bucket counts as unreachable: %v", err)
	}
	for _, want := range []string{`"no-such-bucket"`, srv.Endpoint, "does not exist"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open of a missing bucket: error %q does not say %s", err, want)
		}
	}
	checkNoSecret(t, "Open of a missing bucket", err, srv.SecretKey)
	t.Logf("missing bucket: %v", err)

	// A wrong secret: the server refuses the signature.
	const wrong = "not-the-secret-9f8e7d6c5b4a"
	t.Setenv("AWS_SECRET_ACCESS_KEY", wrong)
	_, err = Open(t.Context(), srv.URL(srv.NewBucket(t)), Options{})
	if err == nil {
		t.Error("Open with a wrong secret key succeeded")
	}
	checkNoSecret(t, "Open with a wrong secret key", err, wrong)
	if Unreachable(err) {
		t.Errorf("a wrong secret counts as unreachable: %v", err)
	}
	t.Logf("wrong secret: %v", err)
	srv.Env(t)

	// Nothing listening.
	bucket := srv.NewBucket(t)
	srv.Stop()
	start := time.Now()
	_, err = Open(t.Context(), srv.URL(bucket), Options{})
	if err == nil {
		t.Fatal("Open of a stopped server succeeded")
	}
	if !strings.Contains(err.Error(), srv.Endpoint) || !strings.Contains(err.Error(), bucket) {
		t.Errorf("Open of a stopped server: error %q does not name the bucket and endpoint", err)
	}
	checkNoSecret(t, "Open of a stopped server", err, srv.SecretKey)
	if !Unreachable(err) {
		t.Errorf("a stopped server does not count as unreachable: %v", err)
	}
	t.Logf("stopped server, after %v: %v", time.Since(start), err)
	// Lazy opens it anyway; Check then says the same.
	st, err := Open(t.Context(), srv.URL(bucket), Options{Lazy: true})
	if err != nil {
		t.Fatalf("lazy Open of a stopped server: %v", err)
	}
	defer st.Close()
	if err := st.Check(t.Context()); err == nil || !Unreachable(err) {
		t.Errorf("Check of a stopped server = %v, want an unreachable error", err)
	}
	srv.Restart(t)
	if err := st.Check(t.Context()); err != nil {
		t.Errorf("Check once the server is back: %v", err)
	}
}

// TestUnreachable checks that every method fails, naming the block and
// the store but not the secret, while the server is down, and works again
// once it is back.
func TestUnreachable(t *testing.T) {
	srv := s3test.Start(t)
	srv.Env(t)
	s := openTest(t, srv.URL(srv.NewBucket(t)), Options{})
	data := []byte("kept")
	id := blob.Sum(data)
	if err := s.Put(t.Context(), id, bytes.NewReader(data)); err != nil {
		t.Fatalf("Put: %v", err)
	}
	srv.Stop()

	// Each call retries for a while before it gives up; make them all
	// at once.
	ctx := t.Context()
	other := []byte("other")
	calls := map[string]func() error{
		"Put":      func() error { return s.Put(ctx, blob.Sum(other), bytes.NewReader(other)) },
		"PutBatch": func() error { return s.PutBatch(ctx, []blob.Block{{ID: blob.Sum(other), Data: other}}) },
		"Delete":   func() error { return s.Delete(ctx, id) },
		"List":     func() error { return s.List(ctx, func(blob.ID) error { return nil }) },
		"Scan":     func() error { return s.Scan(ctx, id[0], func(blob.Info) error { return nil }) },
		"Get":      func() error { _, err := s.Get(ctx, id); return err },
		"Stat":     func() error { _, err := s.Stat(ctx, id); return err },
	}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs = make(map[string]error)
	)
	for what, call := range calls {
		wg.Go(func() {
			err := call()
			mu.Lock()
			errs[what] = err
			mu.Unlock()
		})
	}
	wg.Wait()
	for what, err := range errs {
		if err == nil {
			t.Errorf("%s with the server down succeeded", what)
			continue
		}
		if errors.Is(err, blob.ErrNotFound) {
			t.Errorf("%s with the server down: %v, which claims the block is missing", what, err)
		}
		if !strings.Contains(err.Error(), s.String()) {
			t.Errorf("%s with the server down: error %q does not name the store", what, err)
		}
		checkNoSecret(t, what, err, srv.SecretKey)
	}

	srv.Restart(t)
	rc, err := s.Get(ctx, id)
	if err != nil {
		t.Fatalf("Get after restart: %v", err)
	}
	defer rc.Close()
	if got, err := io.ReadAll(rc); err != nil || !bytes.Equal(got, data) {
		t.Errorf("Get after restart: %q, %v", got, err)
	}
}

// TestString checks that a store names itself by its URL.
func TestString(t *testing.T) {
	srv := s3test.Start(t)
	srv.Env(t)
	bucket := srv.NewBucket(t)
	url := fmt.Sprintf("s3://%s/a/b?endpoint=%s", bucket, srv.Endpoint)
	s := openTest(t, url+"&region=us-east-1&lookup=path", Options{})
	if got, want := s.String(), url+"&region=us-east-1&lookup=path"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got := fmt.Sprint(s); strings.Contains(got, srv.SecretKey) {
		t.Errorf("a store prints as %q, with its secret", got)
	}
}

// TestLayoutAndStrangers checks where blocks go under a prefix, and that
// List and Scan skip objects that are not the store's blocks.
func TestLayoutAndStrangers(t *testing.T) {
	srv := s3test.Start(t)
	srv.Env(t)
	bucket := srv.NewBucket(t)
	s := openTest(t, fmt.Sprintf("s3://%s/a/b?endpoint=%s", bucket, srv.Endpoint), Options{})
	data := []byte("block")
	id := blob.Sum(data)
	if err := s.Put(t.Context(), id, bytes.NewReader(data)); err != nil {
		t.Fatalf("Put: %v", err)
	}
	client := srv.Client(t)
	info, err := client.StatObject(t.Context(), bucket, "a/b/"+id.String(), minio.StatObjectOptions{})
	if err != nil || info.Size != int64(len(data)) {
		t.Errorf("object a/b/%s: size %d, %v", id, info.Size, err)
	}

	stray := blob.Sum([]byte("stray")).String()
	for _, key := range []string{
		stray,           // outside the prefix
		"a/bb/" + stray, // a prefix that only starts the same
		"a/b/" + id.String()[:63] + "x",
		"a/b/" + strings.ToUpper(stray),
		"a/b/c/" + stray, // deeper
		"a/b/" + stray + ".tmp",
	} {
		if _, err := client.PutObject(t.Context(), bucket, key, strings.NewReader("x"), 1, minio.PutObjectOptions{}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
	}
	var ids []blob.ID
	if err := s.List(t.Context(), func(id blob.ID) error {
		ids = append(ids, id)
		return nil
	}); err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(ids) != 1 || ids[0] != id {
		t.Errorf("List yielded %v, want only %v", ids, id)
	}
	for p := range 256 {
		err := s.Scan(t.Context(), byte(p), func(in blob.Info) error {
			if in.ID != id {
				t.Errorf("Scan %02x yielded %v", p, in.ID)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Scan: %v", err)
		}
	}
}

func TestConformanceUnchecked(t *testing.T) {
	srv := s3test.Start(t)
	srv.Env(t)
	blobtest.RunUnchecked(t, func(t *testing.T) blobtest.Unchecked {
		return openTest(t, srv.URL(srv.NewBucket(t)), Options{Unchecked: true})
	}, blobtest.UncheckedHooks{Checked: func(t *testing.T, s blobtest.Unchecked) blob.Store {
		return openTest(t, s.(*Store).String(), Options{})
	}})
}
