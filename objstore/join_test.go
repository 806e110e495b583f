package objstore

import (
	"errors"
	"path/filepath"
	"testing"
)

// TestJoinRefusesEscapes: every element that would not name something strictly under its
// base is refused, for local and s3:// bases alike. path.Join and filepath.Join resolve
// "..", so before this a job named "../../victim" joined to its rejects root named a
// directory two levels up, which was then replaced and deleted; on S3 it changed the key,
// even the bucket.
func TestJoinRefusesEscapes(t *testing.T) {
	bad := []struct {
		name string
		elem []string
	}{
		{"parent", []string{".."}},
		{"parent of parent", []string{"../../victim"}},
		{"parent inside", []string{"a/../../b"}},
		{"parent last", []string{"a/.."}},
		{"parent in a later element", []string{"_temporary", "../.."}},
		{"dot", []string{"."}},
		{"dot segment", []string{"a/./b"}},
		{"absolute", []string{"/etc/passwd"}},
		{"empty", []string{""}},
		{"empty among others", []string{"a", "", "b"}},
		{"empty segment", []string{"a//b"}},
		{"trailing slash", []string{"a/"}},
		{"NUL", []string{"a\x00b"}},
		{"NUL alone", []string{"\x00"}},
	}
	for _, base := range []string{"/srv/lake/rejects", "lake", "s3://bucket/lake/rejects", "s3://bucket"} {
		for _, tc := range bad {
			t.Run(base+"/"+tc.name, func(t *testing.T) {
				got, err := Join(base, tc.elem...)
				if !errors.Is(err, ErrUnsafePath) || got != "" {
					t.Errorf("Join(%q, %q) = %q, %v; want ErrUnsafePath", base, tc.elem, got, err)
				}
			})
		}
	}

	badBases := []string{
		"s3://bucket/../other-bucket", "s3://bucket/a/..", "s3://bucket/./a", "s3://", "s3:///key",
		"/srv/la\x00ke", "s3://bucket/\x00",
	}
	for _, base := range badBases {
		if got, err := Join(base, "x"); !errors.Is(err, ErrUnsafePath) {
			t.Errorf("Join(%q, x) = %q, %v; want ErrUnsafePath", base, got, err)
		}
	}

	good := []struct {
		base string
		elem []string
		want string
	}{
		{"/srv/lake", []string{"_temporary", "job-1", "r-0-1"}, filepath.FromSlash("/srv/lake/_temporary/job-1/r-0-1")},
		{"/srv/lake/", []string{"city=nyc/year=2024/month=01", "part-00000.parquet"}, filepath.FromSlash("/srv/lake/city=nyc/year=2024/month=01/part-00000.parquet")},
		{"lake", []string{"a..b", "..x", "x.."}, filepath.FromSlash("lake/a..b/..x/x..")},
		{"s3://bucket/lake/", []string{"batch-*.json"}, "s3://bucket/lake/batch-*.json"},
		{"s3://bucket", []string{"_SUCCESS"}, "s3://bucket/_SUCCESS"},
		{"/srv/lake", nil, filepath.FromSlash("/srv/lake")},
		{"", []string{"_SUCCESS"}, "_SUCCESS"}, // the current directory, as filepath.Join has it
	}
	for _, tc := range good {
		if got, err := Join(tc.base, tc.elem...); err != nil || got != tc.want {
			t.Errorf("Join(%q, %q) = %q, %v; want %q", tc.base, tc.elem, got, err, tc.want)
		}
	}
}
