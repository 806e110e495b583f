package objstore

import "testing"

// ConformanceFixture is one of the package tests' stores, for the conformance suite that
// conformance_test.go runs from outside the package (package storetest imports objstore).
type ConformanceFixture struct {
	Store   Store
	Root    string
	Uploads func(t *testing.T) int
	Local   bool // local disk
	Fake    bool // gofakes3
}

// ConformanceFixtures are the package's stores: local disk, gofakes3 and (unless -short, and
// where MINIO_BIN names a binary) MinIO.
var ConformanceFixtures = []struct {
	Name string
	Make func(t *testing.T) ConformanceFixture
}{
	{"local", func(t *testing.T) ConformanceFixture { return exportFixture(localFixture(t), true) }},
	{"fakes3", func(t *testing.T) ConformanceFixture { return exportFixture(fakeS3Fixture(t), false) }},
	{"minio", func(t *testing.T) ConformanceFixture { return exportFixture(minioFixture(t), false) }},
}

func exportFixture(f fixture, local bool) ConformanceFixture {
	return ConformanceFixture{Store: f.s, Root: f.root, Uploads: f.uploads, Local: local, Fake: f.fake}
}
