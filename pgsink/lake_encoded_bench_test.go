package pgsink

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/ireports/ireports/lake"
)

// BenchmarkLakeEncoded reads every group's publish file of the real fixtures' summaries, as
// a publish does before the COPY.
func BenchmarkLakeEncoded(b *testing.B) {
	root, groups := realLake(b)
	ctx := context.Background()
	m := summariesManifestListing(b, root)
	enc := LakeEncoded(ctx, testStore(b), b.TempDir(), m)
	if enc == nil {
		b.Fatal("no publish files listed")
	}
	for b.Loop() {
		for _, k := range groups {
			if _, ok, err := enc(k); err != nil || !ok {
				b.Fatalf("%s: %v %v", k, ok, err)
			}
		}
	}
	var n int64
	for _, f := range m.Summaries.Files {
		n += f.Bytes
	}
	b.ReportMetric(float64(n), "file-bytes")
	b.ReportMetric(float64(len(groups)), "groups")
}

// summariesManifestListing is summariesManifest listing the publish files under root, with
// their sizes and SHA-256, as a commit's manifest does.
func summariesManifestListing(b *testing.B, root string) *lake.Manifest {
	m := summariesManifest(root)
	err := filepath.WalkDir(filepath.Join(root, lake.PublishDir), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		sum := sha256.Sum256(data)
		m.Summaries.Files = append(m.Summaries.Files, lake.File{Path: filepath.ToSlash(rel), Bytes: int64(len(data)), SHA256: hex.EncodeToString(sum[:])})
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return m
}
