// Package s3 implements blob.Store on a bucket of an S3-compatible object
// store (Amazon S3, MinIO, Ceph, Garage, versitygw, …), one object per
// block.
//
// # Location
//
// A store is named by a URL:
//
//	s3://BUCKET[/PREFIX][?endpoint=URL][&region=REGION][&lookup=path|dns]
//
// The block with ID abcd… is the object PREFIX/abcd…, its 64-digit hex
// ID (or just abcd… without a prefix). Object stores keep no folders, so
// there is no fan-out. The endpoint is the service's base URL, such as
// http://127.0.0.1:9000; its scheme says whether to use TLS. Without one
// the store is on Amazon S3 (https://s3.amazonaws.com), with the region
// found from the bucket unless given. lookup says whether the bucket is
// addressed in the URL's path (the default with an endpoint, as most
// self-hosted servers want) or as a host name (lookup=dns); on Amazon the
// default is to choose by bucket name. Any other query key is an error,
// so that a misspelt option is not silently ignored.
//
// Credentials are never part of the URL, which is shown in logs and
// errors. They come from the environment: AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and, for temporary credentials, AWS_SESSION_TOKEN;
// failing those, MinIO's MINIO_ROOT_USER and MINIO_ROOT_PASSWORD.
//
// # Durability
//
// Put holds the whole block in memory, checks it against its ID and sends
// it in one PutObject request of its exact size. S3 makes an object
// visible whole or not at all, and a PUT that has returned success is
// stored as durably as the service stores anything (on Amazon S3, across
// several availability zones; on a self-hosted server, as its own
// documentation says). Put returns only after that success.
//
// # Checks
//
// As with every blob.Store, Get's reader hashes the object as it reads it
// and fails with blob.ErrCorrupt if it does not match the ID, so a
// misbehaving or tampering service is caught. A store opened with
// Options.Unchecked skips both checks, for a caller that verifies content
// itself (see Options).
package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"
	"golang.org/x/sync/errgroup"

	"github.com/coffer-drive/coffer/internal/blob"
)

var (
	_ blob.Store       = (*Store)(nil)
	_ blob.BatchPutter = (*Store)(nil)
)

const (
	// awsEndpoint is the service used when the URL names no endpoint.
	awsEndpoint = "s3.amazonaws.com"

	// batchWorkers bounds how many PutObject requests PutBatch has in
	// flight at once: enough to hide the round trips of small blocks,
	// few enough not to provoke throttling (SlowDown) or to hold many
	// connections open per batch.
	batchWorkers = 8

	// maxRetries is how many times minio-go sends a request that failed
	// in a way worth retrying (a dropped connection, a 500, SlowDown),
	// with a backoff of up to a second between tries. Its default of 10
	// takes several seconds to give up on a location that is down,
	// which the caller (say, a store replicating over several locations)
	// is better placed to handle than to wait out.
	maxRetries = 3
)

// Options change how Open sets up a store.
type Options struct {
	// Unchecked makes the store treat a block's ID only as a name: Put
	// and PutBatch store whatever bytes they are given under it, without
	// comparing their SHA-256 with the ID, and Get hands back the stored
	// bytes as they are, never failing with blob.ErrCorrupt.
	//
	// It is for a caller that checks content itself and must keep under
	// a block's ID bytes that do not hash to it, such as a redundancy
	// layer storing a block's erasure-code shards, each named by its
	// block's ID, that verifies the block once it has put it back
	// together. Such a store must not be handed to code that relies on
	// Get detecting rot.
	Unchecked bool
	// Lazy skips Open's check of the bucket: a bucket that cannot be
	// reached yet makes calls fail until it can. For a caller that works
	// on with one location down and calls Check itself.
	Lazy bool
}

// Store is a blob.Store on an S3 bucket. See the package documentation.
type Store struct {
	client    *minio.Client
	transport *http.Transport
	loc       location
	unchecked bool

	// secrets are the credentials' secret key and session token, which
	// no error may show (see scrub).
	secrets []string
}

// location is a parsed store URL.
type location struct {
	bucket   string
	prefix   string // without leading or trailing "/", or ""
	endpoint string // as given in the URL, or ""
	host     string // host[:port] for minio.New
	secure   bool
	region   string // or ""
	lookup   string // "path", "dns", or "" for the default
}

// Open opens the store at rawURL (see the package documentation for its
// form), with credentials from the environment, and checks that the bucket
// exists and can be reached.
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	loc, err := parseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("open S3 block store: %w", err)
	}
	creds := credentials.NewChainCredentials([]credentials.Provider{
		&credentials.EnvAWS{},
		&credentials.EnvMinio{},
	})
	v, err := creds.GetWithContext(nil)
	if err != nil || v.AccessKeyID == "" || v.SecretAccessKey == "" {
		// The chain reports no error when it finds nothing; it falls
		// back to anonymous requests, which no bucket we can write to
		// accepts. Say what to set instead of failing on every request.
		return nil, fmt.Errorf("open block store %s: no S3 credentials in the environment: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", loc)
	}
	transport, err := minio.DefaultTransport(loc.secure)
	if err != nil {
		return nil, fmt.Errorf("open block store %s: %w", loc, err)
	}
	mopts := &minio.Options{
		Creds:      creds,
		Secure:     loc.secure,
		Transport:  transport,
		Region:     loc.region,
		MaxRetries: maxRetries,
	}
	switch loc.lookup {
	case "path":
		mopts.BucketLookup = minio.BucketLookupPath
	case "dns":
		mopts.BucketLookup = minio.BucketLookupDNS
	default:
		mopts.BucketLookup = minio.BucketLookupAuto
		if loc.endpoint != "" {
			// Self-hosted servers rarely have a DNS name per bucket.
			mopts.BucketLookup = minio.BucketLookupPath
		}
	}
	client, err := minio.New(loc.host, mopts)
	if err != nil {
		return nil, fmt.Errorf("open block store %s: %w", loc, err)
	}
	s := &Store{
		client:    client,
		transport: transport,
		loc:       loc,
		unchecked: opts.Unchecked,
	}
	for _, secret := range []string{v.SecretAccessKey, v.SessionToken} {
		if secret != "" {
			s.secrets = append(s.secrets, secret)
		}
	}
	if opts.Lazy {
		return s, nil
	}
	if err := s.Check(ctx); err != nil {
		transport.CloseIdleConnections()
		return nil, err
	}
	return s, nil
}

// Check finds out, with a clear error, whether the bucket is there and
// the credentials let us see it. Open calls it (unless Options.Lazy), so
// that a mistake shows at start rather than at the first upload.
func (s *Store) Check(ctx context.Context) error {
	loc := s.loc
	ok, err := s.client.BucketExists(ctx, loc.bucket)
	if err == nil && !ok {
		err = fmt.Errorf("bucket %q does not exist at %s", loc.bucket, loc.endpointURL())
	} else if err != nil {
		err = fmt.Errorf("check bucket %q at %s: %w", loc.bucket, loc.endpointURL(), err)
	}
	if err != nil {
		return s.scrub(fmt.Errorf("open block store %s: %w", loc, err))
	}
	return nil
}

// Unreachable reports whether err, from Check or another call, means
// the S3 endpoint did not answer at all (refused, timed out, unknown
// host), as opposed to an answer such as a refusal of the credentials
// or a missing bucket: a location that is down, not a mistake.
func Unreachable(err error) bool {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) && resp.Code != "" {
		return false
	}
	var nerr net.Error
	return errors.As(err, &nerr)
}

// String returns the store's URL in the form Open takes, without the query
// keys that were not given. It holds no credentials.
func (s *Store) String() string {
	return s.loc.String()
}

// regionRE is what a region name may be: AWS's are like eu-central-1, and
// other services use similar names. Anything else is most likely a typo.
var regionRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// parseURL parses a store URL. Its errors quote no part of the URL that
// might hold a secret.
func parseURL(rawURL string) (location, error) {
	const scheme = "s3://"
	if len(rawURL) < len(scheme) || !strings.EqualFold(rawURL[:len(scheme)], scheme) {
		return location{}, errors.New(`URL must start with "s3://"`)
	}
	// Refuse credentials before anything else looks at the URL (and
	// url.Parse's errors quote it).
	rest := rawURL[len(scheme):]
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if strings.Contains(rest, "@") {
		return location{}, errors.New("URL must not hold credentials (user:secret@); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead")
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL url.Error quotes
		}
		return location{}, fmt.Errorf("parse URL: %w", err)
	}
	if u.Fragment != "" || strings.HasSuffix(rawURL, "#") {
		return location{}, errors.New("URL must not have a fragment (#…)")
	}
	loc := location{bucket: u.Host}
	if loc.bucket == "" {
		return location{}, errors.New("URL names no bucket: want s3://BUCKET[/PREFIX]")
	}
	if err := s3utils.CheckValidBucketNameStrict(loc.bucket); err != nil {
		return location{}, fmt.Errorf("bucket %q: %w", loc.bucket, err)
	}
	if p := strings.TrimSuffix(strings.TrimPrefix(u.Path, "/"), "/"); p != "" {
		for seg := range strings.SplitSeq(p, "/") {
			if seg == "" || seg == "." || seg == ".." {
				return location{}, fmt.Errorf("prefix %q has an empty, . or .. segment", p)
			}
		}
		loc.prefix = p
	}

	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return location{}, errors.New("parse URL: malformed query")
	}
	for key, vals := range q {
		if len(vals) != 1 {
			return location{}, fmt.Errorf("query key %q given %d times", key, len(vals))
		}
		val := vals[0]
		switch key {
		case "endpoint":
			if err := loc.setEndpoint(val); err != nil {
				return location{}, err
			}
		case "region":
			if !regionRE.MatchString(val) {
				return location{}, fmt.Errorf("region %q is not a region name", val)
			}
			loc.region = val
		case "lookup":
			if val != "path" && val != "dns" {
				return location{}, fmt.Errorf(`lookup %q: want "path" or "dns"`, val)
			}
			loc.lookup = val
		default:
			// The key is quoted, not its value, which might be anything.
			return location{}, fmt.Errorf("unknown query key %q (want endpoint, region or lookup)", key)
		}
	}
	if loc.endpoint == "" {
		loc.host, loc.secure = awsEndpoint, true
	}
	return loc, nil
}

// setEndpoint sets the service's base URL, http://HOST[:PORT] or https://….
func (loc *location) setEndpoint(raw string) error {
	if strings.Contains(raw, "@") {
		return errors.New("endpoint must not hold credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("endpoint %q is not a URL", raw)
	}
	switch u.Scheme {
	case "http":
		loc.secure = false
	case "https":
		loc.secure = true
	default:
		return fmt.Errorf("endpoint %q: scheme must be http or https", raw)
	}
	if u.Host == "" || u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("endpoint %q: want only a scheme, host and port, as in http://127.0.0.1:9000", raw)
	}
	loc.endpoint = u.Scheme + "://" + u.Host
	loc.host = u.Host
	return nil
}

// endpointURL returns the base URL of the service, for messages.
func (loc location) endpointURL() string {
	if loc.endpoint != "" {
		return loc.endpoint
	}
	return "https://" + awsEndpoint
}

// String returns the URL in the form parseURL takes.
func (loc location) String() string {
	var b strings.Builder
	b.WriteString("s3://")
	b.WriteString(loc.bucket)
	if loc.prefix != "" {
		b.WriteString("/")
		b.WriteString(loc.prefix)
	}
	sep := "?"
	for _, kv := range [][2]string{{"endpoint", loc.endpoint}, {"region", loc.region}, {"lookup", loc.lookup}} {
		if kv[1] != "" {
			b.WriteString(sep + kv[0] + "=" + kv[1])
			sep = "&"
		}
	}
	return b.String()
}

// keyPrefix returns what every object key of the store starts with.
func (s *Store) keyPrefix() string {
	if s.loc.prefix == "" {
		return ""
	}
	return s.loc.prefix + "/"
}

// key returns the object key of block id.
func (s *Store) key(id blob.ID) string {
	return s.keyPrefix() + id.String()
}

// scrub blanks the credentials' secrets out of err's message, should a
// server or library ever echo one, keeping err for errors.Is and As.
func (s *Store) scrub(err error) error {
	msg := err.Error()
	found := false
	for _, secret := range s.secrets {
		if strings.Contains(msg, secret) {
			msg = strings.ReplaceAll(msg, secret, "[REDACTED]")
			found = true
		}
	}
	if !found {
		return err
	}
	return &scrubbed{msg: msg, err: err}
}

type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// blockErr wraps err, the failure of op (put, get, stat or delete) on
// block id, with the block and the store, as in "get block 0123… from
// s3://…: …". A missing object becomes blob.ErrNotFound.
func (s *Store) blockErr(op string, id blob.ID, err error) error {
	if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
		err = fmt.Errorf("%w: %w", blob.ErrNotFound, err)
	}
	prep := "from"
	switch op {
	case "put":
		prep = "to"
	case "stat":
		prep = "in"
	}
	return s.scrub(fmt.Errorf("%s block %x %s %s: %w", op, id[:8], prep, s, err))
}

// Put implements blob.Store. It reads the whole block into memory.
func (s *Store) Put(ctx context.Context, id blob.ID, r io.Reader) error {
	if err := ctx.Err(); err != nil {
		return s.blockErr("put", id, err)
	}
	var (
		buf bytes.Buffer
		w   io.Writer = &buf
		h   hash.Hash
	)
	if !s.unchecked {
		h = sha256.New()
		w = io.MultiWriter(&buf, h)
	}
	if _, err := io.Copy(ctxWriter{ctx, w}, r); err != nil {
		return s.blockErr("put", id, err)
	}
	if h != nil && blob.ID(h.Sum(nil)) != id {
		return s.blockErr("put", id, blob.ErrCorrupt)
	}
	return s.putObject(ctx, id, buf.Bytes())
}

// putObject stores data, already checked, as block id's object.
func (s *Store) putObject(ctx context.Context, id blob.ID, data []byte) error {
	if err := ctx.Err(); err != nil {
		return s.blockErr("put", id, err)
	}
	// A bytes.Reader lets minio-go rewind the body to retry, and the
	// exact size makes it one plain PUT rather than a multipart upload.
	_, err := s.client.PutObject(ctx, s.loc.bucket, s.key(id), bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return s.blockErr("put", id, err)
	}
	return nil
}

// ctxWriter fails writes once ctx is done, so that a Put whose caller gave
// up stops reading at the next chunk.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (w ctxWriter) Write(p []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	return w.w.Write(p)
}

// PutBatch implements blob.BatchPutter. It checks every block, then puts
// them with up to batchWorkers requests in flight. S3 has no way to make
// several objects durable together, so this saves round trips, not
// flushes.
func (s *Store) PutBatch(ctx context.Context, blocks []blob.Block) error {
	if !s.unchecked {
		if err := blob.CheckBatch(blocks); err != nil {
			return fmt.Errorf("put batch of %d blocks to %s: %w", len(blocks), s, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put batch of %d blocks to %s: %w", len(blocks), s, err)
	}
	// Put each distinct block once. (In an unchecked store, of two
	// blocks of a batch with one ID but different bytes, the first
	// wins.)
	seen := make(map[blob.ID]bool, len(blocks))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(batchWorkers)
	for i := range blocks {
		b := &blocks[i]
		if seen[b.ID] {
			continue
		}
		seen[b.ID] = true
		if gctx.Err() != nil {
			break // a put has failed; g.Wait returns its error
		}
		g.Go(func() error { return s.putObject(gctx, b.ID, b.Data) })
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("put batch of %d blocks: %w", len(blocks), err)
	}
	return nil
}

// Get implements blob.Store. It sends the GET request before it returns,
// so that a missing block is reported by Get itself.
func (s *Store) Get(ctx context.Context, id blob.ID) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.blockErr("get", id, err)
	}
	// minio.Client.GetObject would send no request until the first Read
	// (or a Stat, which costs a HEAD of its own); Core's sends the GET
	// now and returns its error.
	body, info, _, err := minio.Core{Client: s.client}.GetObject(ctx, s.loc.bucket, s.key(id), minio.GetObjectOptions{})
	if err != nil {
		return nil, s.blockErr("get", id, err)
	}
	rc := blob.VerifyReader(ctx, id, body)
	if s.unchecked {
		rc = blob.RawReader(ctx, id, body)
	}
	if info.Size >= 0 { // -1: the answer gave no length
		rc = blob.WithSize(rc, info.Size)
	}
	return rc, nil
}

// Stat implements blob.Store, with a HEAD request.
func (s *Store) Stat(ctx context.Context, id blob.ID) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, s.blockErr("stat", id, err)
	}
	info, err := s.client.StatObject(ctx, s.loc.bucket, s.key(id), minio.StatObjectOptions{})
	if err != nil {
		return 0, s.blockErr("stat", id, err)
	}
	return info.Size, nil
}

// Delete implements blob.Store. S3 reports success for deleting an object
// that is not there.
func (s *Store) Delete(ctx context.Context, id blob.ID) error {
	if err := ctx.Err(); err != nil {
		return s.blockErr("delete", id, err)
	}
	err := s.client.RemoveObject(ctx, s.loc.bucket, s.key(id), minio.RemoveObjectOptions{})
	if err != nil && minio.ToErrorResponse(err).Code != minio.NoSuchKey {
		return s.blockErr("delete", id, err)
	}
	return nil
}

// List implements blob.Store. It yields blocks in ascending order of ID,
// as S3 lists keys, and skips objects under the prefix that are not
// blocks.
func (s *Store) List(ctx context.Context, fn func(blob.ID) error) error {
	err := s.list(ctx, s.keyPrefix(), func(id blob.ID, _ minio.ObjectInfo) error {
		return fn(id)
	})
	if fe, ok := err.(fnError); ok {
		return fe.err
	}
	if err != nil {
		return s.scrub(fmt.Errorf("list blocks in %s: %w", s, err))
	}
	return nil
}

// Scan calls fn for every stored block whose ID starts with the byte
// prefix, in ascending order of ID, with the block's size and the time
// its object was last written. It lists only the keys with that prefix,
// about 1/256 of the store, in pages of up to 1,000.
//
// As with List, if fn returns an error Scan stops and returns that error
// unwrapped; blocks put or deleted while Scan runs may or may not be seen;
// and fn may call the store's other methods.
func (s *Store) Scan(ctx context.Context, prefix byte, fn func(blob.Info) error) error {
	err := s.list(ctx, fmt.Sprintf("%s%02x", s.keyPrefix(), prefix), func(id blob.ID, obj minio.ObjectInfo) error {
		return fn(blob.Info{ID: id, Size: obj.Size, ModTime: obj.LastModified})
	})
	if fe, ok := err.(fnError); ok {
		return fe.err
	}
	if err != nil {
		return s.scrub(fmt.Errorf("scan blocks %02x… in %s: %w", prefix, s, err))
	}
	return nil
}

// fnError carries the error of a List or Scan caller's fn out of list, so
// that they can return it unwrapped while wrapping all other errors.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

// list calls fn for every block whose key starts with keyPrefix, in the
// order S3 lists them, skipping keys that are not a block's. An error of
// fn comes back as an fnError.
func (s *Store) list(ctx context.Context, keyPrefix string, fn func(blob.ID, minio.ObjectInfo) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// Stopping early must cancel the listing (see ListObjectsIter).
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	noOwner := false
	objects := s.client.ListObjectsIter(lctx, s.loc.bucket, minio.ListObjectsOptions{
		Prefix:     keyPrefix,
		Recursive:  true,
		FetchOwner: &noOwner,
	})
	base := s.keyPrefix()
	for obj := range objects {
		if obj.Err != nil {
			return obj.Err
		}
		name, ok := strings.CutPrefix(obj.Key, base)
		if !ok {
			continue
		}
		id, err := blob.ParseID(name)
		if err != nil {
			continue // not a block: something else shares the bucket
		}
		if err := fn(id, obj); err != nil {
			return fnError{err}
		}
	}
	// The listing ends without an error when ctx is done; say so
	// rather than report a short listing as complete.
	return ctx.Err()
}

// Close implements blob.Store. It closes the idle connections to the
// service; readers from Get stay usable until closed.
func (s *Store) Close() error {
	s.transport.CloseIdleConnections()
	return nil
}
