package jobs

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// jsonValidCases are texts on both sides of each rule of the JSON grammar.
var jsonValidCases = []string{
	``, ` `, `{}`, ` { } `, `[]`, `[ ]`, `{"a":1}`, `{"a" : [1, 2.5, -3e7, 0.0E+1, true, false, null]}`,
	`{"a":1,}`, `{,"a":1}`, `{"a"}`, `{"a":}`, `{a:1}`, `{'a':1}`, `[1,]`, `[,1]`, `[1 2]`, `{"a":1 "b":2}`,
	`{"a":{"b":{"c":[{}]}}}`, `{"a":[}`, `{"a":]}`, `[{]}`, `{}}`, `{}{}`, `{} x`, "{}\t\r\n", "\v{}",
	`0`, `-0`, `01`, `-`, `-a`, `+1`, `1.`, `.5`, `1.e5`, `1e`, `1e+`, `1E-07`, `1.5e3`, `12345678901234567890123`,
	`true`, `tru`, `truex`, `trUe`, `false`, `fals`, `null`, `nul`, `nulll`, `NaN`, `Infinity`,
	`"a"`, `"`, `"a`, `"\"`, `"\\"`, `"\/\b\f\n\r\t"`, `"\a"`, `"\u00e9"`, `"\u00G9"`, `"\u00e"`, `"\uD83D\uDE00"`,
	"\"\x00\"", "\"\x1f\"", "\"\x7f\"", "\"\xff\xfe\"", "\"é\"", "{\"\xc3\":\"\x80\"}",
	`{"location":{"latitude":"40.7","longitude":"-73.9","human_address":"{\"address\": \"\"}"}}`,
	strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth),
	strings.Repeat("[", maxJSONDepth+1) + strings.Repeat("]", maxJSONDepth+1),
	strings.Repeat(`{"a":`, maxJSONDepth) + "1" + strings.Repeat("}", maxJSONDepth),
	strings.Repeat(`{"a":`, maxJSONDepth+1) + "1" + strings.Repeat("}", maxJSONDepth+1),
	strings.Repeat("[", 50),
}

func TestValidJSON(t *testing.T) {
	for _, in := range jsonValidCases {
		if got, want := validJSON([]byte(in)), json.Valid([]byte(in)); got != want {
			t.Errorf("validJSON(%.60q) = %v, json.Valid says %v", in, got, want)
		}
	}
}

// FuzzValidJSON checks that validJSON and encoding/json.Valid agree on any bytes. Run it with
// go test -fuzz=FuzzValidJSON ./jobs
func FuzzValidJSON(f *testing.F) {
	for _, in := range jsonValidCases {
		if len(in) < 1000 {
			f.Add([]byte(in))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := validJSON(data), json.Valid(data); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid says %v", data, got, want)
		}
	})
}

// TestSkipPlain puts every byte value at every offset of buffers around the word size, among
// plain bytes both ASCII and not, and checks skipPlain against a byte-by-byte search.
func TestSkipPlain(t *testing.T) {
	for _, fill := range []byte{'a', 0xC3, 0x7F, 0x80, 0x21, 0xFF} {
		for n := 0; n <= 19; n++ {
			for at := 0; at < n; at++ {
				for c := 0; c < 256; c++ {
					b := bytes.Repeat([]byte{fill}, n)
					b[at] = byte(c)
					for _, controls := range []bool{false, true} {
						for start := 0; start <= n; start++ {
							want := start
							for want < n && b[want] != '"' && b[want] != '\\' && (!controls || b[want] >= 0x20) {
								want++
							}
							if got := skipPlain(b, start, controls); got != want {
								t.Fatalf("skipPlain(%q, %d, %v) = %d, want %d", b, start, controls, got, want)
							}
						}
					}
				}
			}
		}
	}
}

// TestSkipPlainBorrow puts, above a byte skipPlain stops at, the bytes one past each it
// stops at: the word masks' borrows may mark those too, and only the lowest mark counts.
func TestSkipPlainBorrow(t *testing.T) {
	for n := 1; n <= 19; n++ {
		for at := 0; at < n; at++ {
			for _, c := range []byte{'"', '\\', 0x00, 0x1F} {
				for at2 := at + 1; at2 <= n; at2++ {
					for _, c2 := range []byte{'"' + 1, '\\' + 1, 0x01, 0x20, 0x21, '"', 0x00} {
						b := bytes.Repeat([]byte{'a'}, n+1)
						b[at], b[at2] = c, c2
						controls := c < 0x20
						if got := skipPlain(b, 0, controls); got != at {
							t.Fatalf("skipPlain(%q, 0, %v) = %d, want %d", b, controls, got, at)
						}
					}
				}
			}
		}
	}
}
