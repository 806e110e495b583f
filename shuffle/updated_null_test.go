package shuffle

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// A year-1 UpdatedAt of only nanoseconds travels as the same microseconds as the zero time and
// decodes as the zero time, which Compare orders as null. A spilling Writer must order such a
// row as null inside its runs too: when it did not, two versions of one request, one with such
// a time and one with none, came out of the runs in the opposite order to the merge's check,
// and WriteFile failed on every retry of the map task.
func TestWriterSpillYearOneUpdated(t *testing.T) {
	rs := randRequests(21, 20000)
	yearOne := time.Time{}.Add(100 * time.Nanosecond)
	for i := 0; i+1 < len(rs); i += 50 {
		a, b := &rs[i], &rs[i+1]
		*b = *a
		a.Ord, b.Ord = uint64(i)<<1, uint64(i)<<1|1 // b read later: on a tie of times, b wins
		a.RequestID = "year-one-" + strconv.Itoa(i)
		b.RequestID = a.RequestID
		a.UpdatedAt, b.UpdatedAt = yearOne, time.Time{}
		b.Agency = a.Agency + " (later version)"
	}
	want, _ := encodeMapOutput(t, 3, rs)
	dir := t.TempDir()
	w, err := NewWriterConfig(WriterConfig{Reducers: 3, SpillBytes: minSpillBytes, SpillDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Reset()
	for i := range rs {
		if err := w.Add(&rs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if w.Runs() < 2 {
		t.Fatalf("%d runs, want several", w.Runs())
	}
	path := filepath.Join(dir, "m.shuffle")
	if _, err := w.WriteFile(path); err != nil {
		t.Fatalf("WriteFile of a spilled writer with year-1 UpdatedAt rows: %v", err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("spilled output (%d bytes) differs from the in-memory one (%d bytes)", len(got), len(want))
	}
}
