package objstore

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func (s *s3Store) OpenRange(ctx context.Context, name string, off, n int64) (io.ReadCloser, error) {
	bucket, key, err := splitS3(name)
	if err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, fmt.Errorf("open %s at offset %d: %w", name, off, ErrBadName)
	}
	r := &rangeReader{s: s, ctx: ctx, bucket: bucket, key: key, off: off, end: -1}
	if n >= 0 {
		r.end = off + n
	}
	if n == 0 {
		// No GET asks for zero bytes; a HEAD still reports a missing object as the
		// local store does.
		if _, err := s.Stat(ctx, name); err != nil {
			return nil, err
		}
		return io.NopCloser(strings.NewReader("")), nil
	}
	// The first GET is made here so that a missing object fails OpenRange, not the
	// first Read.
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

// rangeReader streams a byte range of an object. When the body fails mid-stream it
// reopens from the first byte not yet delivered, pinned by If-Match to the ETag it
// first saw; it gives up after Options.ReadResumes consecutive failures that delivered
// nothing.
type rangeReader struct {
	s           *s3Store
	ctx         context.Context // OpenRange's: the stream belongs to it (package doc)
	bucket, key string

	etag     string // of the first response; "" before it
	off      int64  // the next byte to deliver
	end      int64  // one past the last byte wanted; -1 until the first response tells
	body     io.ReadCloser
	failures int   // consecutive failed reads without progress
	err      error // sticky: once set, every Read returns it
}

func (r *rangeReader) open() error {
	if r.end >= 0 && r.off >= r.end {
		r.body = io.NopCloser(strings.NewReader(""))
		return nil
	}
	rng := fmt.Sprintf("bytes=%d-", r.off)
	if r.end >= 0 {
		rng = fmt.Sprintf("bytes=%d-%d", r.off, r.end-1)
	}
	in := &s3.GetObjectInput{Bucket: &r.bucket, Key: &r.key, Range: &rng}
	if r.etag != "" {
		in.IfMatch = &r.etag
	}
	out, err := r.s.c.GetObject(r.ctx, in)
	if err != nil {
		if code, status := errorCode(err); code == "InvalidRange" || status == 416 {
			// The range starts at or past the end: an empty read, as from a file.
			r.end, r.body = r.off, io.NopCloser(strings.NewReader(""))
			return nil
		}
		return fail(fmt.Sprintf("get %s of", rng), r.bucket, r.key, err)
	}
	if r.etag == "" {
		r.etag = aws.ToString(out.ETag)
	}
	if want := r.off + aws.ToInt64(out.ContentLength); r.end < 0 || want < r.end {
		r.end = want // the object ends before the range does
	}
	r.body = out.Body
	return nil
}

func (r *rangeReader) Read(p []byte) (int, error) {
	for r.err == nil {
		if r.body == nil {
			if err := r.open(); err != nil {
				r.err = err
				break
			}
		}
		n, err := r.body.Read(p)
		r.off += int64(n)
		if n > 0 {
			r.failures = 0
		}
		if err == io.EOF && r.off < r.end {
			err = io.ErrUnexpectedEOF // the connection closed early
		}
		if err == nil || err == io.EOF {
			return n, err
		}
		r.body.Close()
		r.body = nil
		if n > 0 {
			return n, nil // deliver what arrived; the next Read reopens
		}
		if cerr := r.ctx.Err(); cerr != nil {
			r.err = fmt.Errorf("read %s at offset %d: %w", s3Name(r.bucket, r.key), r.off, cerr)
			break
		}
		r.failures++
		if r.failures > r.s.opt.ReadResumes {
			r.err = fmt.Errorf("read %s at offset %d: gave up after %d resumes: %w", s3Name(r.bucket, r.key), r.off, r.s.opt.ReadResumes, err)
			break
		}
		t := time.NewTimer(fullJitter(r.s.opt.RetryBaseDelay, r.s.opt.MaxBackoff, r.failures))
		select {
		case <-r.ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
	return 0, r.err
}

func (r *rangeReader) Close() error {
	if r.body != nil {
		r.body.Close()
		r.body = nil
	}
	r.err = fmt.Errorf("read %s: %w", s3Name(r.bucket, r.key), ErrClosed)
	return nil
}
