package socrata_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/socrata"
)

// TestStored: Pull reports each batch to Source.Stored once it is stored and before the
// watermark passes it, with what a caller needs to replay it (name, size, SHA-256, the
// range). A caller that recorded a batch and then died before the watermark advanced (here,
// Stored failing at the third batch, after its record was kept) finishes the advance itself,
// exactly once, and the next pull goes on after the batch instead of fetching it again.
func TestStored(t *testing.T) {
	ctx := context.Background()
	srv := newServer(t, generated)
	objs, raw := localStore(t), t.TempDir()
	store := newMemWatermarks()
	src := testSource(srv, raw)
	errDied := errors.New("the caller died after recording the batch")
	var kept []socrata.Batch // what the caller recorded, in order
	src.Stored = func(ctx context.Context, b socrata.Batch) error {
		if wm, _ := store.Get(ctx, src.Name); wm != b.From {
			t.Errorf("batch %s reported with the watermark at %v, want %v (still before the batch)", b.Object, wm, b.From)
		}
		body, err := objstore.ReadAll(ctx, objs, b.Object)
		if err != nil {
			t.Fatalf("batch %s reported before it is stored: %v", b.Object, err)
		}
		if sum := sha256.Sum256(body); hex.EncodeToString(sum[:]) != b.SHA256 || int64(len(body)) != b.Bytes {
			t.Errorf("batch %s: reported %d bytes, sha256 %s; stored %d bytes", b.Object, b.Bytes, b.SHA256, len(body))
		}
		if n := len(kept); n > 0 && kept[n-1].To != b.From {
			t.Errorf("batch %s starts at %v, the previous one ended at %v", b.Object, b.From, kept[n-1].To)
		}
		kept = append(kept, b)
		if len(kept) == 3 {
			return errDied
		}
		return nil
	}
	res, err := socrata.Pull(ctx, src, store, objs)
	if !errors.Is(err, errDied) || len(res.Batches) != 2 {
		t.Fatalf("Pull: %+v, %v; want it stopped at the third batch, two advanced", res, err)
	}
	if wm, _ := store.Get(ctx, src.Name); wm != kept[1].To {
		t.Fatalf("watermark %v, want the second batch's end %v", wm, kept[1].To)
	}

	// The caller's recovery: advance over the batch it recorded, twice (a second crash
	// before it knew the first advance happened), which moves the watermark once.
	last := kept[2]
	for range 2 {
		if err := store.Advance(ctx, src.Name, last.From, last.To); err != nil {
			t.Fatalf("settle the recorded batch: %v", err)
		}
	}
	pages := srv.Pages()
	src.Stored = func(ctx context.Context, b socrata.Batch) error {
		if b.Object == last.Object || b.From != last.To && len(kept) == 3 {
			t.Errorf("the pull after the recovery stored %s from %v; want it to go on from %v", b.Object, b.From, last.To)
		}
		kept = append(kept, b)
		return nil
	}
	res2, err := socrata.Pull(ctx, src, store, objs)
	if err != nil || res2.From != last.To {
		t.Fatalf("pull after the recovery: %+v, %v; want it from %v", res2, err, last.To)
	}
	if got, want := srv.Pages()-pages, len(res2.Batches)+1; got != want {
		t.Errorf("the pull after the recovery fetched %d pages, want %d (its batches and the empty page)", got, want)
	}
	sameLake(t, readLake(t, readBatches(t, objs, raw)), truth(t, srv))
}
