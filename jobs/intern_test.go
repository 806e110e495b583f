package jobs

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/ireports/ireports/record"
)

// TestInternTable fills a table past maxIntern and checks that every value it still finds is
// the one added, with its status, and that it holds no more than maxIntern.
func TestInternTable(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values int
		value  func(i int) string
	}{
		{"few", 10, func(i int) string { return fmt.Sprintf("v%d", i) }},
		{"grows", 1000, func(i int) string { return fmt.Sprintf("agency %d", i) }},
		{"past the bound", 3 * maxIntern, func(i int) string { return fmt.Sprintf("%08d", i) }},
		{"long", 300, func(i int) string { return strings.Repeat("x", i) + "y" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tab internTable
			for i := range tc.values {
				v := []byte(tc.value(i))
				h := internHash(v)
				if e := tab.find(v, h); e != nil {
					t.Fatalf("found %q before adding it", v)
				}
				tab.add(internSlot{key: string(v), val: "val:" + string(v), hash: h, status: record.Status(i % 3)})
			}
			found := 0
			for i := range tc.values {
				v := []byte(tc.value(i))
				e := tab.find(v, internHash(v))
				if e == nil {
					continue
				}
				found++
				if e.val != "val:"+string(v) || e.status != record.Status(i%3) {
					t.Fatalf("%q: found %q status %v", v, e.val, e.status)
				}
			}
			if tab.n > maxIntern || found != tab.n {
				t.Fatalf("table holds %d, finds %d, bound %d", tab.n, found, maxIntern)
			}
			if tc.values <= maxIntern && found < tc.values*9/10 {
				t.Errorf("found %d of %d values", found, tc.values)
			}
		})
	}
}

// TestInternCollisions adds values that all hash alike: the table keeps maxProbe of them and
// allocates the rest, and a lookup still finds only the value asked for.
func TestInternCollisions(t *testing.T) {
	var tab internTable
	const h = 12345
	for i := range 3 * maxProbe {
		v := fmt.Sprintf("c%d", i)
		if tab.find([]byte(v), h) == nil {
			tab.add(internSlot{key: v, val: v, hash: h})
		}
	}
	if tab.n != maxProbe {
		t.Fatalf("table holds %d colliding values, want %d", tab.n, maxProbe)
	}
	for i := range 3 * maxProbe {
		v := fmt.Sprintf("c%d", i)
		if e := tab.find([]byte(v), h); e != nil && e.key != v {
			t.Fatalf("find(%q) = %q", v, e.key)
		}
	}
}

// TestIDArena checks that ids cut from shared blocks keep their bytes when the caller's buffer
// is reused, across block boundaries and for ids too long for a block.
func TestIDArena(t *testing.T) {
	var a idArena
	var got, want []string
	buf := make([]byte, 0, 2*idMax)
	for i := range 5000 {
		n := 1 + i%40
		if i%997 == 0 {
			n = idMax + 1 + i%3
		}
		buf = append(buf[:0], bytes.Repeat([]byte{byte('a' + i%26)}, n)...)
		buf = fmt.Appendf(buf, "-%d", i)
		want = append(want, string(buf))
		got = append(got, a.string(buf))
		clear(buf)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("id %d = %q, want %q", i, got[i], want[i])
		}
	}
}

// A field's table keeps no value longer than maxInternBytes: an input of thousands of distinct
// long values, each of which it would otherwise keep, leaves it holding only the short ones,
// while the records still carry every value whole.
func TestInternLongValuesNotKept(t *testing.T) {
	stl, _ := Builtin("st_louis")
	header, row := firstRow(t, "st_louis/stl_csb_2011.csv")
	n, err := stl.Bind(header)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 * maxIntern {
		v := fmt.Sprintf("%06d", i)
		if i%2 == 0 {
			v += strings.Repeat("x", maxInternBytes)
		}
		var r record.Request
		if err := n.Normalize(bs(with(header, row, "PROBLEMCODE", v)...), &r); err != nil {
			t.Fatal(err)
		}
		if r.RequestType != v {
			t.Fatalf("request type %q, want %q", r.RequestType, v)
		}
	}
	tab := &n.intern[fRequestType]
	for _, s := range tab.slots {
		if len(s.key) > maxInternBytes {
			t.Fatalf("the table keeps a %d-byte value, bound %d", len(s.key), maxInternBytes)
		}
	}
	if tab.n < maxIntern/2 {
		t.Errorf("the table holds %d values, want most of the %d short ones", tab.n, maxIntern)
	}
}
