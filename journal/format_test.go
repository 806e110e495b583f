package journal

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"testing"
)

// encodeAll returns a journal file holding recs.
func encodeAll(t testing.TB, recs []Record) []byte {
	t.Helper()
	b := header()
	for _, r := range recs {
		var err error
		if b, err = appendFrame(b, r); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// FuzzReplay feeds arbitrary bytes to the decoder, as a local file (a torn tail allowed) and
// as an object segment (strict). It must never panic; what it accepts must be a prefix it
// accepts again strictly, records that re-encode to the same records, and a place where an
// append continues.
func FuzzReplay(f *testing.F) {
	full := encodeAll(f, jobRecords("fuzz-job"))
	f.Add(full)
	f.Add(full[:len(full)-7])
	f.Add(full[:headerSize+3])
	f.Add(header())
	f.Add([]byte{})
	f.Add([]byte("IRJOURN"))
	flipped := bytes.Clone(full)
	flipped[len(full)/2] ^= 0x10
	f.Add(flipped)
	newer := bytes.Clone(full)
	binary.LittleEndian.PutUint32(newer[len(magic):], 9)
	f.Add(newer)
	zeros := append(bytes.Clone(full), make([]byte, 64)...)
	f.Add(zeros)
	extra := &Phase{State: "appended", At: t0}
	frame, err := appendFrame(nil, extra)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, torn := range []bool{false, true} {
			recs, good, err := decode("fuzz", data, torn)
			if good < 0 || good > len(data) {
				t.Fatalf("torn=%v: good offset %d outside [0, %d]", torn, good, len(data))
			}
			if err != nil {
				continue
			}
			if !torn && good != len(data) {
				t.Fatalf("strict decode accepted %d of %d bytes", good, len(data))
			}
			again, good2, err := decode("fuzz", data[:good], false)
			if err != nil || good2 != good || len(again) != len(recs) {
				t.Fatalf("torn=%v: the accepted prefix [0, %d) decodes strictly to %d records, %d bytes, %v; want %d records", torn, good, len(again), good2, err, len(recs))
			}
			enc := header()
			for _, r := range recs {
				if enc, err = appendFrame(enc, r); err != nil {
					t.Fatalf("a replayed %s record does not encode: %v", r.Kind(), err)
				}
			}
			back, _, err := decode("fuzz", enc, false)
			if err != nil || len(back) != len(recs) {
				t.Fatalf("re-encoded records decode to %d, %v; want %d", len(back), err, len(recs))
			}
			for i := range back {
				a, _ := json.Marshal(recs[i])
				b, _ := json.Marshal(back[i])
				if !bytes.Equal(a, b) {
					t.Fatalf("record %d changes in a round trip:\n%s\n%s", i, a, b)
				}
			}
			if torn {
				appended := append(bytes.Clone(data[:good]), frame...)
				after, _, err := decode("fuzz", appended, true)
				if err != nil || len(after) != len(recs)+1 {
					t.Fatalf("an append after the repair reads as %d records, %v; want %d", len(after), err, len(recs)+1)
				}
			}
		}
	})
}

// TestFrameLayout pins the frame format that the package doc describes, byte by byte.
func TestFrameLayout(t *testing.T) {
	b, err := appendFrame(nil, &Phase{State: "map", At: t0})
	if err != nil {
		t.Fatal(err)
	}
	payload := `{"state":"map","at":"2026-12-02T06:00:00Z"}`
	if n := binary.LittleEndian.Uint32(b); int(n) != len(payload) {
		t.Fatalf("length field %d; want %d", n, len(payload))
	}
	if b[8] != byte(KindPhase) || string(b[9:]) != payload {
		t.Fatalf("kind %d payload %s; want %d %s", b[8], b[9:], KindPhase, payload)
	}
	if got, want := binary.LittleEndian.Uint32(b[4:]), frameCRC(b); got != want {
		t.Fatalf("crc %08x; want %08x", got, want)
	}
	if h := header(); string(h) != "IRJOURNL\x01\x00\x00\x00" {
		t.Fatalf("header %q", h)
	}
}
