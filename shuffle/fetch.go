package shuffle

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ireports/ireports/internal/version"
)

// Location names one map output. Both the path on the worker's disk and the (job, map task)
// name are carried because the two fetchers address the file differently: LocalFetcher opens
// Path; HTTPFetcher asks Worker for /shuffle/{Job}/{Map}, which the worker's Handler maps to
// MapOutputPath under its own root — a remote path is never sent over the wire. The index is
// not carried: the segment's description travels with its bytes, read from the file's own
// footer, so a Location stays small in task messages.
type Location struct {
	// Worker is the shuffle address (host:port, or a base URL such as https://host:port) of
	// the worker that holds the file; "" means this machine.
	Worker string
	Job    string // job id; see MapOutputPath
	Map    int    // map task number
	Path   string // the file on this machine; used when Worker == ""
}

func (l Location) String() string {
	if l.Worker == "" {
		return l.Path
	}
	return fmt.Sprintf("%s/shuffle/%s/%d", l.Worker, l.Job, l.Map)
}

// Fetcher opens segment reducer of a map output. The returned reader yields exactly the
// segment's Length bytes (pass both to NewSegmentReader); the caller must close it. Errors
// wrap ErrFetch or ErrCorrupt when the map output is lost, ErrUnauthorized, ErrUntrusted,
// ErrProtocol, ErrBadName or ErrReducers when retrying elsewhere would not help, or the
// context's error. Reads from the
// returned stream fail the same way. Implementations are safe for concurrent use.
type Fetcher interface {
	Fetch(ctx context.Context, loc Location, reducer int) (io.ReadCloser, Segment, error)
}

// MapOutputPath is where a worker keeps the map output of task mapTask of job under root,
// and so where its Handler looks for it.
func MapOutputPath(root, job string, mapTask int) (string, error) {
	if err := validJob(job); err != nil {
		return "", err
	}
	if mapTask < 0 {
		return "", fmt.Errorf("%w: map task %d", ErrBadName, mapTask)
	}
	return filepath.Join(root, job, fmt.Sprintf("map-%06d.shuffle", mapTask)), nil
}

// validJob accepts job ids that are one safe path component: letters, digits, '.', '_' and
// '-', starting with a letter or digit (so never "." or ".."), at most 128 bytes.
func validJob(job string) error {
	ok := len(job) > 0 && len(job) <= 128
	for i := 0; ok && i < len(job); i++ {
		c := job[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		ok = alnum || i > 0 && (c == '.' || c == '_' || c == '-')
	}
	if !ok {
		return fmt.Errorf("%w: job id %q", ErrBadName, job)
	}
	return nil
}

// LocalFetcher reads map outputs from this machine's disk.
type LocalFetcher struct{}

var _ Fetcher = LocalFetcher{}

// Fetch opens loc.Path and returns segment reducer of it. A missing or unreadable file is
// ErrFetch; a damaged index is ErrCorrupt.
func (LocalFetcher) Fetch(ctx context.Context, loc Location, reducer int) (io.ReadCloser, Segment, error) {
	if err := ctx.Err(); err != nil {
		return nil, Segment{}, err
	}
	f, seg, err := openSegment(loc.Path, reducer)
	if err != nil {
		return nil, Segment{}, err
	}
	return sectionCloser{io.NewSectionReader(f, seg.Offset, seg.Length), f}, seg, nil
}

// openSegment opens a map output and looks up one segment in its index.
func openSegment(path string, reducer int) (*os.File, Segment, error) {
	f, err := os.Open(path)
	if err != nil {
		if exhausted(err) {
			return nil, Segment{}, fmt.Errorf("shuffle: map output %s: %w", path, err)
		}
		return nil, Segment{}, fmt.Errorf("%w: %w", ErrFetch, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, Segment{}, fmt.Errorf("%w: %w", ErrFetch, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, Segment{}, fmt.Errorf("%w: map output %s is not a regular file", ErrFetch, path)
	}
	x, err := ReadIndex(f, st.Size())
	if err != nil {
		f.Close()
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion) {
			err = fmt.Errorf("%w: %w", ErrFetch, err) // the disk failed us, not the format
		}
		return nil, Segment{}, fmt.Errorf("map output %s: %w", path, err)
	}
	if reducer < 0 || reducer >= len(x.Segments) {
		f.Close()
		return nil, Segment{}, fmt.Errorf("%w: map output %s: reducer %d of %d", ErrReducers, path, reducer, len(x.Segments))
	}
	return f, x.Segments[reducer], nil
}

type sectionCloser struct {
	*io.SectionReader
	io.Closer
}

// HTTPFetcher fetches segments from other workers' Handlers, and reads locations on this
// machine (Worker == "") with LocalFetcher. It does not retry: a failed fetch is reported
// to the coordinator, which decides between re-running the map task and failing the job.
type HTTPFetcher struct {
	// Client sends the requests. nil means a client whose transport gives up on a worker
	// that does not connect within 10 s or answer within 60 s; it sets no overall timeout,
	// because a segment's body may take long to stream and ctx bounds it.
	Client *http.Client
	Token  string // the cluster token, sent as a bearer token
}

// defaultClient is HTTPFetcher's client when none is given. Without a header timeout a
// reducer would wait forever on a worker that accepted the connection but cannot serve
// (out of file descriptors, say), and the coordinator would never learn the output is lost.
var defaultClient = &http.Client{Transport: &http.Transport{
	DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	ResponseHeaderTimeout: 60 * time.Second,
	MaxIdleConnsPerHost:   8,
	IdleConnTimeout:       90 * time.Second,
}}

var _ Fetcher = (*HTTPFetcher)(nil)

// ProtocolVersion is the version of the shuffle's HTTP exchange (the request's path, the
// segment headers, the body): a client sends it in HeaderProtocol, and the server answers
// with its own. It is the cluster's wire protocol (version.Protocol, which the shuffle is part
// of, and which the workers advertise by gossip): bump that with any incompatible change of
// the exchange. A message without the header is from a release that predates it, which
// spoke version 1.
const ProtocolVersion = version.Protocol

// HeaderProtocol carries ProtocolVersion in both directions.
const HeaderProtocol = "Ireports-Shuffle-Protocol"

var protocolVersion = strconv.Itoa(ProtocolVersion)

// Headers that describe the whole segment in a response (its body may be a Range of it).
const (
	hdrOffset   = "Ireports-Segment-Offset"
	hdrLength   = "Ireports-Segment-Length"
	hdrRecords  = "Ireports-Segment-Records"
	hdrRawBytes = "Ireports-Segment-Raw-Bytes"
	hdrCRC      = "Ireports-Segment-Crc32c"
)

// Fetch requests segment reducer of loc from loc.Worker. The body is streamed: ctx governs
// reading it too.
func (h *HTTPFetcher) Fetch(ctx context.Context, loc Location, reducer int) (io.ReadCloser, Segment, error) {
	if loc.Worker == "" {
		return LocalFetcher{}.Fetch(ctx, loc, reducer)
	}
	if err := validJob(loc.Job); err != nil {
		return nil, Segment{}, err
	}
	if loc.Map < 0 || reducer < 0 {
		return nil, Segment{}, fmt.Errorf("%w: map task %d, reducer %d", ErrBadName, loc.Map, reducer)
	}
	base := loc.Worker
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	url := fmt.Sprintf("%s/shuffle/%s/%d/%d", strings.TrimSuffix(base, "/"), loc.Job, loc.Map, reducer)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, Segment{}, fmt.Errorf("%w: %s: %w", ErrFetch, url, err)
	}
	req.Header.Set("Authorization", "Bearer "+h.Token)
	req.Header.Set(HeaderProtocol, protocolVersion)
	client := h.Client
	if client == nil {
		client = defaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, Segment{}, fetchErr(url, err)
	}
	if v := resp.Header.Get(HeaderProtocol); v != "" && v != protocolVersion {
		resp.Body.Close()
		return nil, Segment{}, fmt.Errorf("%w: %s speaks shuffle protocol %.20q, this worker %s: run one release on every worker",
			ErrProtocol, loc.Worker, v, protocolVersion)
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		sentinel := ErrFetch
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			sentinel = ErrUnauthorized
		}
		return nil, Segment{}, fmt.Errorf("%w: %s: %s: %s", sentinel, url, resp.Status, strings.TrimSpace(string(msg)))
	}
	seg, err := segmentFromHeader(resp.Header)
	if err == nil && resp.ContentLength >= 0 && resp.ContentLength != seg.Length {
		err = fmt.Errorf("%d-byte body for a %d-byte segment", resp.ContentLength, seg.Length)
	}
	if err != nil {
		resp.Body.Close()
		return nil, Segment{}, fmt.Errorf("%w: %s: %w", ErrFetch, url, err)
	}
	return &fetchBody{rc: resp.Body, url: url}, seg, nil
}

// fetchErr classifies a transport error: the caller's cancellation passes through as is, a
// server certificate that does not verify is ErrUntrusted, anything else means the map
// output could not be reached.
func fetchErr(url string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || exhausted(err) {
		return fmt.Errorf("shuffle: %s: %w", url, err)
	}
	var unknown x509.UnknownAuthorityError
	var verify *tls.CertificateVerificationError
	var hostname x509.HostnameError
	if errors.As(err, &unknown) || errors.As(err, &verify) || errors.As(err, &hostname) {
		return fmt.Errorf("%w: %s: %w", ErrUntrusted, url, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrFetch, url, err)
}

// exhausted reports errors that say this process is out of file descriptors. They are not
// ErrFetch: the map output is fine, and re-running it would not help the reducer.
func exhausted(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}

func segmentFromHeader(h http.Header) (Segment, error) {
	var seg Segment
	for _, f := range []struct {
		name string
		dst  *int64
	}{{hdrOffset, &seg.Offset}, {hdrLength, &seg.Length}, {hdrRecords, &seg.Records}, {hdrRawBytes, &seg.RawBytes}} {
		v, err := strconv.ParseInt(h.Get(f.name), 10, 64)
		if err != nil || v < 0 {
			return Segment{}, fmt.Errorf("header %s: %q", f.name, h.Get(f.name))
		}
		*f.dst = v
	}
	crc, err := strconv.ParseUint(h.Get(hdrCRC), 16, 32)
	if err != nil {
		return Segment{}, fmt.Errorf("header %s: %q", hdrCRC, h.Get(hdrCRC))
	}
	seg.CRC = uint32(crc)
	return seg, nil
}

func setSegmentHeader(h http.Header, seg Segment) {
	h.Set(hdrOffset, strconv.FormatInt(seg.Offset, 10))
	h.Set(hdrLength, strconv.FormatInt(seg.Length, 10))
	h.Set(hdrRecords, strconv.FormatInt(seg.Records, 10))
	h.Set(hdrRawBytes, strconv.FormatInt(seg.RawBytes, 10))
	h.Set(hdrCRC, fmt.Sprintf("%08x", seg.CRC))
}

// fetchBody marks errors of a broken transfer as ErrFetch.
type fetchBody struct {
	rc  io.ReadCloser
	url string
}

func (b *fetchBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil && err != io.EOF {
		err = fetchErr(b.url, err)
	}
	return n, err
}

func (b *fetchBody) Close() error { return b.rc.Close() }

// NearFetcher reads the map outputs of the process it serves from local disk and fetches
// the others with Remote: a reducer's own worker's segments need no HTTP round trip.
type NearFetcher struct {
	Self   string // this process's shuffle address, as map outputs name their worker
	Remote Fetcher
}

var _ Fetcher = NearFetcher{}

// Fetch implements Fetcher.
func (f NearFetcher) Fetch(ctx context.Context, loc Location, reducer int) (io.ReadCloser, Segment, error) {
	if f.Self != "" && loc.Worker == f.Self {
		return LocalFetcher{}.Fetch(ctx, loc, reducer)
	}
	return f.Remote.Fetch(ctx, loc, reducer)
}
