package objstore

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/errgroup"

	"github.com/ireports/ireports/internal/obs"
)

// s3Store is the Store of s3:// names. It holds one SDK client, which is safe for
// concurrent use, and no other state.
type s3Store struct {
	c   *s3.Client
	opt Options
}

var _ Store = (*s3Store)(nil)

// Multipart copy limits, variables so that tests can exercise the multipart path with
// small objects. S3 refuses CopyObject above 5 GiB and copy parts above 5 GiB.
var (
	copyLimit    int64 = 5 << 30
	copyPartSize int64 = 512 << 20
)

// cleanupTimeout bounds the aborts a failed write issues after its own context ended.
const cleanupTimeout = 30 * time.Second

func newS3Store(ctx context.Context, opt Options) (*s3Store, error) {
	if opt.Endpoint != "" {
		u, err := url.Parse(opt.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%w: S3 endpoint %q is not an http(s) URL", ErrBadOptions, opt.Endpoint)
		}
	}
	base, maxBackoff := opt.RetryBaseDelay, opt.MaxBackoff
	lo := []func(*config.LoadOptions) error{
		config.WithHTTPClient(awshttp.NewBuildableClient().WithReadTimeout(opt.ReadTimeout).WithTransportOptions(func(t *http.Transport) {
			// Keep open as many connections as requests kept in flight (S3Parallelism, with
			// a job's readers besides): the SDK's default of 10 idle per host closed the rest
			// after each request and dialed again, a TLS handshake each.
			t.MaxIdleConns = 2 * S3Parallelism
			t.MaxIdleConnsPerHost = 2 * S3Parallelism
		})),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = opt.MaxAttempts
				o.MaxBackoff = maxBackoff
				// The default token bucket fails requests once many have been retried,
				// which protects interactive callers from a sick service; a batch job
				// would rather keep backing off.
				o.RateLimiter = ratelimit.None
				o.Backoff = retry.BackoffDelayerFunc(func(attempt int, err error) (time.Duration, error) {
					// Called once per retry: an outage is counted and logged, not silent.
					noteRetry(attempt, err)
					return fullJitter(base, maxBackoff, attempt), nil
				})
				o.Retryables = append(o.Retryables, retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
					// A response cut short (a reset mid-body) surfaces as an unexpected EOF
					// while the SDK decodes it; the request itself may be repeated.
					if errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "unexpected EOF") {
						return aws.TrueTernary
					}
					return aws.UnknownTernary
				}))
			})
		}),
	}
	if opt.Region != "" {
		lo = append(lo, config.WithRegion(opt.Region))
	}
	if opt.AccessKeyID != "" {
		lo = append(lo, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(opt.AccessKeyID, opt.SecretAccessKey, "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return nil, fmt.Errorf("objstore: load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	c := s3.NewFromConfig(cfg, func(o *s3.Options) {
		// Ranged GETs cannot be checked against a whole-object checksum; the SDK would
		// log that at every read.
		o.DisableLogOutputChecksumValidationSkipped = true
		if opt.Endpoint != "" {
			o.BaseEndpoint = aws.String(opt.Endpoint)
			o.UsePathStyle = true
		}
	})
	return &s3Store{c: c, opt: opt}, nil
}

// retryWarnEvery rate-limits the warning that S3 requests are being retried: an outage
// retries every request of every task, and one line per retry would bury the log.
const retryWarnEvery = 10 * time.Second

var retryLog struct {
	mu      sync.Mutex
	last    time.Time // when the warning was last logged
	skipped int       // retries since, not logged
}

// noteRetry counts an S3 request's retry number attempt after err in the metrics and logs
// it at warn level, at most every retryWarnEvery with the number of retries in between.
func noteRetry(attempt int, err error) {
	obs.ObjstoreRetry("s3")
	retryLog.mu.Lock()
	now := time.Now()
	if now.Sub(retryLog.last) < retryWarnEvery {
		retryLog.skipped++
		retryLog.mu.Unlock()
		return
	}
	skipped := retryLog.skipped
	retryLog.last, retryLog.skipped = now, 0
	retryLog.mu.Unlock()
	slog.Warn("S3 request failed; retrying", "attempt", attempt, "err", err, "retries_since_last_warning", skipped)
}

// fullJitter is the delay before retry number attempt (1-based): uniform in
// [0, base·2^(attempt-1)), capped by limit, so that many clients retrying a throttled
// prefix spread out instead of arriving together.
func fullJitter(base, limit time.Duration, attempt int) time.Duration {
	d := limit
	if shift := attempt - 1; shift < 30 && base<<shift < limit {
		d = base << shift
	}
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}

// splitS3 parses "s3://bucket/key".
func splitS3(name string) (bucket, key string, err error) {
	rest, ok := strings.CutPrefix(name, S3Scheme)
	bucket, key, _ = strings.Cut(rest, "/")
	if !ok || bucket == "" {
		return "", "", fmt.Errorf("%w: %q is not s3://bucket/key", ErrBadName, name)
	}
	return bucket, key, nil
}

func s3Name(bucket, key string) string { return S3Scheme + bucket + "/" + key }

// fail wraps an SDK error with the operation, bucket and key, and classifies it so that
// callers can test errors.Is(err, fs.ErrNotExist) and errors.Is(err, fs.ErrPermission).
func fail(op, bucket, key string, err error) error {
	var sentinel error
	switch code, status := errorCode(err); {
	case code == "NoSuchBucket":
		return fmt.Errorf("%s %s: bucket %q does not exist: %w: %w", op, s3Name(bucket, key), bucket, fs.ErrNotExist, err)
	case code == "NoSuchUpload":
		return fmt.Errorf("%s %s: multipart upload is gone (completed or aborted): %w: %w", op, s3Name(bucket, key), fs.ErrNotExist, err)
	case status == 404 || code == "NoSuchKey" || code == "NotFound":
		sentinel = fs.ErrNotExist
	case status == 403 || code == "AccessDenied":
		sentinel = fs.ErrPermission
	default:
		return fmt.Errorf("%s %s: %w", op, s3Name(bucket, key), err)
	}
	return fmt.Errorf("%s %s (bucket %q, key %q): %w: %w", op, s3Name(bucket, key), bucket, key, sentinel, err)
}

// errorCode returns the S3 error code and HTTP status of err, if it carries them.
func errorCode(err error) (code string, status int) {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return code, status
}

func (s *s3Store) List(ctx context.Context, pat string) ([]ObjectInfo, error) {
	bucket, key, err := splitS3(pat)
	if err != nil {
		return nil, err
	}
	p, err := parsePattern(key)
	if err != nil {
		return nil, err
	}
	var out []ObjectInfo
	err = s.walk(ctx, bucket, p.prefix, func(o types.Object) {
		k := aws.ToString(o.Key)
		// Keys ending in "/" are the folder markers of consoles, not data.
		if !strings.HasSuffix(k, "/") && p.match(k) {
			out = append(out, ObjectInfo{Name: s3Name(bucket, k), Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified)})
		}
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// walk calls fn for every object whose key starts with prefix, a page at a time.
func (s *s3Store) walk(ctx context.Context, bucket, prefix string, fn func(types.Object)) error {
	pages := s3.NewListObjectsV2Paginator(s.c, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fail("list", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			fn(o)
		}
	}
	return nil
}

func (s *s3Store) Stat(ctx context.Context, name string) (ObjectInfo, error) {
	bucket, key, err := splitS3(name)
	if err != nil {
		return ObjectInfo{}, err
	}
	out, err := s.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return ObjectInfo{}, fail("stat", bucket, key, err)
	}
	return ObjectInfo{Name: name, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
}

func (s *s3Store) Delete(ctx context.Context, name string) error {
	bucket, key, err := splitS3(name)
	if err != nil {
		return err
	}
	if _, err := s.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &key}); err != nil {
		return fail("delete", bucket, key, err)
	}
	return nil
}

func (s *s3Store) DeletePrefix(ctx context.Context, prefix string) error {
	bucket, key, err := splitS3(prefix)
	if err != nil {
		return err
	}
	if key == "" || key == "/" {
		return fmt.Errorf("delete tree %s: %w: refusing to empty a whole bucket", prefix, ErrBadName)
	}
	var batch []types.ObjectIdentifier
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		out, err := s.c.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: &bucket,
			Delete: &types.Delete{Objects: batch, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return fail("delete tree", bucket, key, err)
		}
		for _, e := range out.Errors {
			if aws.ToString(e.Code) != "NoSuchKey" {
				return fmt.Errorf("delete tree %s: %s: %s %s", prefix, s3Name(bucket, aws.ToString(e.Key)), aws.ToString(e.Code), aws.ToString(e.Message))
			}
		}
		batch = batch[:0]
		return nil
	}
	// Deleting while listing is safe: ListObjectsV2 continues after the last key it
	// returned, whatever happened to the keys before it.
	var ferr error
	err = s.walk(ctx, bucket, key, func(o types.Object) {
		if ferr != nil || !InTree(aws.ToString(o.Key), key) {
			return
		}
		batch = append(batch, types.ObjectIdentifier{Key: o.Key})
		if len(batch) == 1000 { // DeleteObjects' limit
			ferr = flush()
		}
	})
	if err == nil {
		err = ferr
	}
	if err == nil {
		err = flush()
	}
	return err
}

// copySource is the x-amz-copy-source value of an object: bucket and key, URL-escaped.
func copySource(bucket, key string) string {
	return (&url.URL{Path: bucket + "/" + key}).EscapedPath()
}

func (s *s3Store) Rename(ctx context.Context, from, to string) error {
	fb, fk, err := splitS3(from)
	if err != nil {
		return err
	}
	tb, tk, err := splitS3(to)
	if err != nil {
		return err
	}
	if fb == tb && fk == tk {
		return nil
	}
	head, err := s.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &fb, Key: &fk})
	if err != nil {
		return fail("rename", fb, fk, err)
	}
	size := aws.ToInt64(head.ContentLength)
	src := copySource(fb, fk)
	if size <= copyLimit {
		_, err = s.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &tb, Key: &tk, CopySource: &src, CopySourceIfMatch: head.ETag})
		if err != nil {
			return fail("rename "+from+" to", tb, tk, err)
		}
	} else if err := s.copyMultipart(ctx, src, head.ETag, size, tb, tk); err != nil {
		return err
	}
	if _, err := s.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &fb, Key: &fk}); err != nil {
		return fail("rename: delete source", fb, fk, err)
	}
	return nil
}

// Prune does nothing: S3 has no directories.
func (s *s3Store) Prune(ctx context.Context, root, name string) error { return nil }

// ReplaceTree deletes the tree at prefix, then renames each object into it: S3 has no
// rename of a tree, and the trees it is meant for are small.
func (s *s3Store) ReplaceTree(ctx context.Context, prefix string, moves []Move) error {
	_, key, err := splitS3(prefix)
	if err != nil {
		return err
	}
	for _, m := range moves {
		_, k, err := splitS3(m.To)
		if err != nil {
			return err
		}
		if k == key || !InTree(k, key) {
			return fmt.Errorf("replace tree %s: %w: %s is not under it", prefix, ErrBadName, m.To)
		}
	}
	if err := s.DeletePrefix(ctx, prefix); err != nil {
		return fmt.Errorf("replace tree: %w", err)
	}
	for _, m := range moves {
		if err := s.Rename(ctx, m.From, m.To); err != nil {
			return fmt.Errorf("replace tree %s: %w", prefix, err)
		}
	}
	return nil
}

// copyMultipart copies an object too big for CopyObject, part by part on the server.
func (s *s3Store) copyMultipart(ctx context.Context, src string, etag *string, size int64, bucket, key string) error {
	up, err := s.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return fail("copy "+src+" to", bucket, key, err)
	}
	p := Pending{Name: s3Name(bucket, key), Size: size, UploadID: aws.ToString(up.UploadId)}
	for off, n := int64(0), int32(1); off < size; off, n = off+copyPartSize, n+1 {
		end := min(off+copyPartSize, size) - 1
		rng := fmt.Sprintf("bytes=%d-%d", off, end)
		out, err := s.c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
			Bucket: &bucket, Key: &key, UploadId: up.UploadId, PartNumber: aws.Int32(n),
			CopySource: &src, CopySourceRange: &rng, CopySourceIfMatch: etag,
		})
		if err != nil {
			s.abortQuietly(ctx, p)
			return fail(fmt.Sprintf("copy %s %s to", src, rng), bucket, key, err)
		}
		p.Parts = append(p.Parts, Part{Number: n, ETag: aws.ToString(out.CopyPartResult.ETag), Size: end + 1 - off})
	}
	if err := s.Complete(ctx, p); err != nil {
		s.abortQuietly(ctx, p)
		return err
	}
	return nil
}

// abortQuietly aborts an upload after a failure that the caller reports; the abort
// outlives a cancelled ctx so that no upload is left behind.
func (s *s3Store) abortQuietly(ctx context.Context, p Pending) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	s.AbortPending(ctx, p)
}

func (s *s3Store) Complete(ctx context.Context, p Pending) error {
	bucket, key, err := splitS3(p.Name)
	if err != nil {
		return err
	}
	if p.UploadID == "" {
		if p.Size != 0 || len(p.Parts) != 0 {
			return fmt.Errorf("complete %s: %w: %d bytes in %d parts but no upload ID", p.Name, ErrBadPending, p.Size, len(p.Parts))
		}
		_, err := s.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(nil), ContentLength: aws.Int64(0)})
		if err != nil {
			return fail("complete", bucket, key, err)
		}
		return nil
	}
	if len(p.Parts) == 0 {
		return fmt.Errorf("complete %s: %w: upload %s has no parts", p.Name, ErrBadPending, p.UploadID)
	}
	parts := make([]types.CompletedPart, len(p.Parts))
	for i, pt := range p.Parts {
		parts[i] = types.CompletedPart{PartNumber: aws.Int32(pt.Number), ETag: aws.String(pt.ETag)}
	}
	_, err = s.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &bucket, Key: &key, UploadId: &p.UploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err == nil {
		return nil
	}
	if code, _ := errorCode(err); code == "NoSuchUpload" && s.completed(ctx, bucket, key, p) {
		// An earlier attempt completed it and its response was lost (a retried request,
		// or a repeated job commit).
		return nil
	}
	return fail("complete upload "+p.UploadID+" of", bucket, key, err)
}

// completed reports whether the object at bucket/key is the one p's upload produced: S3's
// ETag of a multipart object is the MD5 of its parts' binary MD5s, "-", and the part count.
func (s *s3Store) completed(ctx context.Context, bucket, key string, p Pending) bool {
	head, err := s.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
	if err != nil || aws.ToInt64(head.ContentLength) != p.Size {
		return false
	}
	h := md5.New()
	for _, pt := range p.Parts {
		b, err := hex.DecodeString(strings.Trim(pt.ETag, `"`))
		if err != nil || len(b) != md5.Size {
			return true // not MD5 ETags (encrypted buckets): the size has to do
		}
		h.Write(b)
	}
	want := fmt.Sprintf("%x-%d", h.Sum(nil), len(p.Parts))
	return strings.Trim(aws.ToString(head.ETag), `"`) == want
}

// SyncPending implements Store: a part is durable once its upload returned.
func (s *s3Store) SyncPending(ctx context.Context, ps []Pending) error { return nil }

func (s *s3Store) AbortPending(ctx context.Context, p Pending) error {
	bucket, key, err := splitS3(p.Name)
	if err != nil || p.UploadID == "" {
		return err
	}
	_, err = s.c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &bucket, Key: &key, UploadId: &p.UploadID})
	if code, status := errorCode(err); err != nil && code != "NoSuchUpload" && status != 404 {
		return fail("abort upload "+p.UploadID+" of", bucket, key, err)
	}
	return nil
}

func (s *s3Store) AbortUploads(ctx context.Context, prefix string, before time.Time) (int, error) {
	return s.AbortUploadsIn(ctx, []string{prefix}, before)
}

func (s *s3Store) AbortUploadsIn(ctx context.Context, prefixes []string, before time.Time) (int, error) {
	// The trees by bucket: one listing of each bucket's uploads serves all its trees.
	var buckets []string
	keys := map[string][]string{}
	for _, p := range prefixes {
		bucket, key, err := splitS3(p)
		if err != nil {
			return 0, err
		}
		if _, ok := keys[bucket]; !ok {
			buckets = append(buckets, bucket)
		}
		keys[bucket] = append(keys[bucket], key)
	}
	n := 0
	for _, bucket := range buckets {
		m, err := s.abortUploads(ctx, bucket, keys[bucket], before)
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// abortUploads aborts the unfinished uploads of bucket in the trees at keys started before
// `before` (zero: all).
func (s *s3Store) abortUploads(ctx context.Context, bucket string, keys []string, before time.Time) (int, error) {
	key := keys[0] // names the bucket's trees in errors
	// A commit passes thousands of trees: an upload's key is looked up by its ancestors.
	roots := map[string]bool{}
	for _, k := range keys {
		roots[strings.TrimSuffix(k, "/")] = true
	}
	inTrees := func(k string) bool {
		if roots[""] {
			return true
		}
		for {
			if roots[k] {
				return true
			}
			i := strings.LastIndexByte(k, '/')
			if i < 0 {
				return false
			}
			k = k[:i]
		}
	}
	// No Prefix: MinIO lists nothing for a prefix that is not a whole key (minio/minio
	// issue 20989), so the uploads are filtered here. The sweep is rare; reading a whole
	// bucket's list of unfinished uploads is cheap beside missing one.
	in := &s3.ListMultipartUploadsInput{Bucket: &bucket}
	var aborted atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(S3Parallelism)
	for {
		out, err := s.c.ListMultipartUploads(gctx, in)
		if code, _ := errorCode(err); code == "NoSuchUpload" {
			break // gofakes3's answer for a bucket that never had an upload
		}
		if err != nil {
			if aerr := g.Wait(); aerr != nil {
				return int(aborted.Load()), aerr // what cancelled the listing, if it was
			}
			return int(aborted.Load()), fail("list uploads", bucket, key, err)
		}
		for _, u := range out.Uploads {
			k := aws.ToString(u.Key)
			if !inTrees(k) || (!before.IsZero() && !aws.ToTime(u.Initiated).Before(before)) {
				continue
			}
			// Each abort is a round trip: many at a time (a listing may still hold
			// uploads completed a moment ago, whose abort answers NoSuchUpload).
			p := Pending{Name: s3Name(bucket, k), UploadID: aws.ToString(u.UploadId)}
			g.Go(func() error {
				if err := s.AbortPending(gctx, p); err != nil {
					return err
				}
				aborted.Add(1)
				return nil
			})
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
	err := g.Wait()
	return int(aborted.Load()), err
}

func (s *s3Store) Create(ctx context.Context, name string) (Writer, error) {
	w, err := s.newWriter(ctx, name)
	if err != nil {
		return nil, err
	}
	return &s3Writer{w}, nil
}

func (s *s3Store) CreatePending(ctx context.Context, name string) (PendingWriter, error) {
	return s.newWriter(ctx, name)
}

func (s *s3Store) newWriter(ctx context.Context, name string) (*s3Upload, error) {
	bucket, key, err := splitS3(name)
	if err != nil {
		return nil, err
	}
	if key == "" || strings.HasSuffix(key, "/") {
		return nil, fmt.Errorf("create %q: %w: no object key", name, ErrBadName)
	}
	return &s3Upload{s: s, ctx: ctx, bucket: bucket, key: key}, nil
}

// s3Upload buffers one part at a time and uploads each as it fills, so a writer holds at
// most PartSize bytes however large the object. It starts the multipart upload with its
// first full part; a smaller object is written by Create with one PutObject.
type s3Upload struct {
	s           *s3Store
	ctx         context.Context // Create's: the writer belongs to it, as a reader to OpenRange's
	bucket, key string

	buf  []byte // the part being filled
	p    Pending
	done bool  // closed or aborted
	err  error // the first failure; every later call returns it
}

func (w *s3Upload) Write(b []byte) (int, error) {
	if w.done {
		return 0, fmt.Errorf("write %s: %w", s3Name(w.bucket, w.key), ErrClosed)
	}
	written := 0
	for len(b) > 0 && w.err == nil {
		k := min(len(b), int(w.s.opt.PartSize)-len(w.buf))
		w.buf = append(w.buf, b[:k]...)
		b, written = b[k:], written+k
		if len(w.buf) == int(w.s.opt.PartSize) {
			w.err = w.flush()
		}
	}
	return written, w.err
}

// flush uploads the buffered bytes as the next part.
func (w *s3Upload) flush() error {
	if w.p.UploadID == "" {
		out, err := w.s.c.CreateMultipartUpload(w.ctx, &s3.CreateMultipartUploadInput{Bucket: &w.bucket, Key: &w.key})
		if err != nil {
			return fail("create", w.bucket, w.key, err)
		}
		w.p.UploadID = aws.ToString(out.UploadId)
	}
	n := int32(len(w.p.Parts) + 1)
	if n > 10000 {
		return fmt.Errorf("write %s: more than 10,000 parts of %d bytes: raise Options.PartSize", s3Name(w.bucket, w.key), w.s.opt.PartSize)
	}
	out, err := w.s.c.UploadPart(w.ctx, &s3.UploadPartInput{
		Bucket: &w.bucket, Key: &w.key, UploadId: &w.p.UploadID, PartNumber: aws.Int32(n),
		Body: bytes.NewReader(w.buf), ContentLength: aws.Int64(int64(len(w.buf))),
	})
	if err != nil {
		return fail(fmt.Sprintf("upload part %d at offset %d of", n, w.p.Size), w.bucket, w.key, err)
	}
	w.p.Parts = append(w.p.Parts, Part{Number: n, ETag: aws.ToString(out.ETag), Size: int64(len(w.buf))})
	w.p.Size += int64(len(w.buf))
	w.buf = w.buf[:0]
	return nil
}

// Close implements PendingWriter: it uploads the last part but completes nothing.
func (w *s3Upload) Close() (Pending, error) {
	if w.done {
		return Pending{}, fmt.Errorf("close %s: %w", s3Name(w.bucket, w.key), ErrClosed)
	}
	if w.err == nil && len(w.buf) > 0 {
		w.err = w.flush()
	}
	if w.err != nil {
		w.Abort()
		return Pending{}, w.err
	}
	w.done = true
	w.p.Name = s3Name(w.bucket, w.key)
	return w.p, nil
}

func (w *s3Upload) Abort() error {
	if w.done {
		return nil
	}
	w.done, w.buf = true, nil
	if w.p.UploadID == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), cleanupTimeout)
	defer cancel()
	return w.s.AbortPending(ctx, Pending{Name: s3Name(w.bucket, w.key), UploadID: w.p.UploadID})
}

// s3Writer is the Writer of Create: Close completes the upload, or puts a small object
// whole.
type s3Writer struct{ *s3Upload }

func (w *s3Writer) Close() error {
	u := w.s3Upload
	if u.done {
		return nil
	}
	if u.err == nil && u.p.UploadID == "" {
		_, err := u.s.c.PutObject(u.ctx, &s3.PutObjectInput{
			Bucket: &u.bucket, Key: &u.key, Body: bytes.NewReader(u.buf), ContentLength: aws.Int64(int64(len(u.buf))),
		})
		u.done, u.buf = true, nil
		if err != nil {
			return fail("put", u.bucket, u.key, err)
		}
		return nil
	}
	p, err := u.Close()
	if err != nil {
		return err
	}
	if err := u.s.Complete(u.ctx, p); err != nil {
		u.s.abortQuietly(u.ctx, p)
		return err
	}
	return nil
}

func (s *s3Store) CreateExclusive(ctx context.Context, name string, b []byte) error {
	bucket, key, err := splitS3(name)
	if err != nil {
		return err
	}
	_, err = s.c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &bucket, Key: &key, Body: bytes.NewReader(b), ContentLength: aws.Int64(int64(len(b))),
		IfNoneMatch: aws.String("*"),
	})
	if code, status := errorCode(err); err != nil && (status == 412 || status == 409 || code == "PreconditionFailed" || code == "ConditionalRequestConflict") {
		return fmt.Errorf("create %s: %w: %w", name, fs.ErrExist, err)
	}
	if err != nil {
		return fail("create", bucket, key, err)
	}
	return nil
}
