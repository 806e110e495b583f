package pgsink

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/pgsink/pgcopy"
	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/summary"
)

// LakeLoader is the LoadFunc that reads each group's summaries where the run that last
// committed the lake at lakeRoot (m is its _SUCCESS manifest) wrote them, on local disk or
// S3: in its summary datasets (<summaries>/<table>/city=…/year=…/month=…/part-00000.parquet),
// or, for a lake of the old layout, in the lake's _summary/. A reducer writes every table of
// a group, empty ones included, so a missing file means the group's summaries are gone; the
// error says so and wraps fs.ErrNotExist.
func LakeLoader(ctx context.Context, store objstore.Store, lakeRoot string, m *lake.Manifest) LoadFunc {
	root, legacy := m.SummariesRoot(lakeRoot)
	if legacy {
		return func(k record.Key) (summary.Tables, error) {
			t, err := lake.ReadLegacySummaries(ctx, store, lakeRoot, k)
			if errors.Is(err, fs.ErrNotExist) {
				err = fmt.Errorf("the lake %s is of the old layout, with its summaries inside it (%s/), and this group's are gone; "+
					"re-run the job to write the lake and its summary datasets anew: %w", lakeRoot, lake.LegacySummaryDir, err)
			}
			return t, err
		}
	}
	return func(k record.Key) (summary.Tables, error) {
		t, err := lake.ReadSummaries(ctx, store, root, k)
		if errors.Is(err, fs.ErrNotExist) {
			err = fmt.Errorf("the summaries that job %s committed to %s are gone (moved or deleted?); re-run the job: %w", m.Job, root, err)
		}
		return t, err
	}
}

// LakeReaders is the Config.Readers for a LakeLoader of the lake at lakeRoot: one on local
// disk, where reading is CPU, and s3Readers on S3, where it is waiting for requests.
func LakeReaders(lakeRoot string) int {
	if objstore.IsS3(lakeRoot) {
		return s3Readers
	}
	return 1
}

// s3Readers is how many groups a publish reads at once from S3: four requests each.
const s3Readers = 8

// ManifestGroups lists the groups a _SUCCESS manifest committed: what `coordinator publish`
// passes to Publish.
func ManifestGroups(m *lake.Manifest) []record.Key {
	keys := make([]record.Key, len(m.Groups))
	for i, g := range m.Groups {
		keys[i] = record.Key{City: g.City, Year: g.Year, Month: g.Month}
	}
	return keys
}

// LakeEncoded is the EncodedFunc of the lake at lakeRoot, whose last run's manifest is m: it
// reads a group's publish file (lake.PublishFile) where m lists one, and returns ok false for
// the other groups (a lake written by an older binary, or a group its reducer left to be
// encoded by the publish: see pgcopy.Marshal). A publish file not listed in m is another run's
// and is not read. The file must be the one m lists, its size and SHA-256: its text goes to
// the COPY as it is, so a file changed since the commit (a count rewritten, a symlink put in
// its place) would publish what it says, or read without end; it is refused instead, and the
// publish reads the group's summary files.
func LakeEncoded(ctx context.Context, store objstore.Store, lakeRoot string, m *lake.Manifest) EncodedFunc {
	root, legacy := m.SummariesRoot(lakeRoot)
	if legacy {
		return nil
	}
	listed := map[string]lake.File{}
	for _, f := range m.Summaries.Files {
		if strings.HasPrefix(f.Path, lake.PublishDir+"/") {
			listed[f.Path] = f
		}
	}
	if len(listed) == 0 {
		return nil
	}
	return func(k record.Key) (*pgcopy.Group, bool, error) {
		rel := filepath.ToSlash(lake.PublishFile(k))
		f, ok := listed[rel]
		if !ok {
			return nil, false, nil
		}
		name, err := objstore.Join(root, rel)
		if err != nil {
			return nil, false, err
		}
		data, err := readListed(ctx, store, name, f)
		if err != nil {
			return nil, false, err
		}
		g, err := pgcopy.Unmarshal(k, data)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", name, err)
		}
		if err := checkListed(name, f, data); err != nil {
			return nil, false, err
		}
		return g, true, nil
	}
}

// errChanged is a listed file that is no longer the one its manifest lists.
var errChanged = errors.New("not the file the manifest lists")

// readListed reads name, the file f of a manifest, reading no more than f's size and one
// byte: a longer file is not f.
func readListed(ctx context.Context, store objstore.Store, name string, f lake.File) ([]byte, error) {
	if f.Bytes < 0 {
		return nil, fmt.Errorf("%s: %w: %d bytes", name, errChanged, f.Bytes)
	}
	rc, err := store.OpenRange(ctx, name, 0, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	// One buffer for the listed size, a byte more (a longer file shows) and bytes.MinRead
	// (ReadFrom's room to read into), up to a bound a manifest cannot raise.
	buf := bytes.NewBuffer(make([]byte, 0, min(f.Bytes+1+bytes.MinRead, 64<<20)))
	if _, err := buf.ReadFrom(io.LimitReader(rc, f.Bytes+1)); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(buf.Len()) > f.Bytes {
		return nil, fmt.Errorf("%s: %w: more than the %d bytes it lists", name, errChanged, f.Bytes)
	}
	return buf.Bytes(), nil
}

// checkListed fails unless data, read from name, has the size and SHA-256 of f.
func checkListed(name string, f lake.File, data []byte) error {
	if int64(len(data)) != f.Bytes {
		return fmt.Errorf("%s: %w: %d bytes, the manifest says %d", name, errChanged, len(data), f.Bytes)
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != f.SHA256 {
		return fmt.Errorf("%s: %w: its SHA-256 is %x, the manifest says %s", name, errChanged, sum, f.SHA256)
	}
	return nil
}
