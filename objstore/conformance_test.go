package objstore_test

import (
	"testing"

	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/objstore/storetest"
)

// TestConformance runs the Store conformance suite against local disk, gofakes3 and MinIO
// (skipped under -short, or without MINIO_BIN): the same guarantees hold for every store.
func TestConformance(t *testing.T) {
	for _, st := range objstore.ConformanceFixtures {
		t.Run(st.Name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) storetest.Fixture {
				f := st.Make(t)
				return storetest.Fixture{
					Store: f.Store, Root: f.Root, Uploads: f.Uploads,
					Dirs: f.Local, HidesDotNames: f.Local,
					NoRepeatComplete: f.Fake, NoConditionalPut: f.Fake,
				}
			})
		})
	}
}
