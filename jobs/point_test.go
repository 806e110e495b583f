package jobs

import (
	"github.com/ireports/ireports/internal/cputime"
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// TestParseDecimalMatchesStrconv checks the coordinate parser's bits against
// strconv.ParseFloat: written coordinates of every length and magnitude, halfway cases
// (the exact decimal expansion of a midpoint between two float64s, cut to 19 digits) and
// the texts it must leave to ParseFloat.
func TestParseDecimalMatchesStrconv(t *testing.T) {
	cases := []string{"0", "-0", "+0", "0.0", "-0.000", "1", "-1", "5.", ".5", "-.5", "+.5", "007.25",
		"40.783108349851155", "-73.94614662967072", "41.777483348227754", "-87.63347682884304",
		"34.318766287", "-118.441467436", "879882.00000000", "1175141.74568933",
		"9007199254740993", "9007199254740992.5", "9999999999999999999", "1000000000000000000",
		"0.0000000000000000001", "1844674407370955161", "18446744073709551615",
		"1e5", "inf", "NaN", "1_000", "0x1p3", ".", "-", "1.2.3", "1,5", "12345678901234567890", ""}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 300000 {
		digits := 1 + rng.IntN(19)
		var sb strings.Builder
		if rng.IntN(2) == 0 {
			sb.WriteByte('-')
		}
		point := rng.IntN(digits + 1)
		for i := range digits {
			if i == point {
				sb.WriteByte('.')
			}
			sb.WriteByte(byte('0' + rng.IntN(10)))
		}
		cases = append(cases, sb.String())
	}
	for range 100000 {
		// A midpoint between neighbouring float64s, exactly (a tie: ties to even), and cut
		// or nudged in its last digit (just below and above it). Midpoints with at most 19
		// digits are where float64 keeps at most ten fraction bits; elsewhere the cut
		// expansions probe the rounding near ties.
		f := math.Ldexp(1+rng.Float64(), 30+rng.IntN(34))
		if rng.IntN(4) == 0 {
			f = (rng.Float64() - 0.5) * 400
		}
		mid := new(big.Float).SetPrec(200).SetFloat64(f)
		mid.Add(mid, new(big.Float).SetFloat64(math.Nextafter(f, math.Inf(1))))
		mid.Quo(mid, big.NewFloat(2))
		exact := strings.TrimRight(strings.TrimRight(mid.Text('f', 120), "0"), ".")
		cases = append(cases, exact)
		for _, n := range []int{17, 18, 19} {
			if d := strings.IndexByte(exact, '.'); d >= 0 && len(exact) > n+1 && n+1 > d {
				cut := exact[:n+1]
				cases = append(cases, cut, cut[:len(cut)-1]+string(min(cut[len(cut)-1]+1, '9')))
			}
		}
		cases = append(cases, strconv.FormatFloat(f, 'f', -1, 64), strconv.FormatFloat(f, 'f', 6, 64))
	}
	ties := 0
	for _, c := range cases {
		if _, ok := parseDecimal([]byte(c)); ok {
			if d := strings.TrimLeft(strings.ReplaceAll(c, ".", ""), "-0"); len(d) >= 17 {
				ties++
			}
		}
	}
	if ties < 1000 {
		t.Fatalf("only %d cases of 17 to 19 digits", ties)
	}
	for _, c := range cases {
		want, err := strconv.ParseFloat(c, 64)
		if c == "" {
			continue
		}
		got, ok := parseDecimal([]byte(c))
		if !ok {
			continue // left to ParseFloat
		}
		if err != nil || math.Float64bits(got) != math.Float64bits(want) {
			t.Errorf("parseDecimal(%q) = %v (%x), ParseFloat = %v (%x), %v", c, got, math.Float64bits(got), want, math.Float64bits(want), err)
		}
	}
	for _, c := range []string{"1e5", "inf", "NaN", "1_000", "0x1p3", ".", "-", "1.2.3", "12345678901234567890"} {
		if _, ok := parseDecimal([]byte(c)); ok {
			t.Errorf("parseDecimal(%q) took a text it must leave to ParseFloat", c)
		}
	}
}

func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"40.783108349851155", "-0", "9999999999999999999", ".5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if s == "" {
			return
		}
		got, ok := parseDecimal([]byte(s))
		if !ok {
			return
		}
		want, err := strconv.ParseFloat(s, 64)
		if err != nil || math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("parseDecimal(%q) = %v, ParseFloat = %v, %v", s, got, want, err)
		}
	})
}

// TestEightDigits checks the SWAR parse against a byte loop with every byte value at every
// position of otherwise random digits, and parseDecimal against ParseFloat when a
// fraction's eight-byte window holds a non-digit.
func TestEightDigits(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	naive := func(b []byte) (uint64, bool) {
		var v uint64
		for _, c := range b[:8] {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + uint64(c-'0')
		}
		return v, true
	}
	for range 200 {
		var b [8]byte
		for i := range b {
			b[i] = byte('0' + rng.IntN(10))
		}
		for pos := range 8 {
			for c := range 256 {
				x := b
				x[pos] = byte(c)
				got, gok := eightDigits(x[:])
				want, wok := naive(x[:])
				if got != want || gok != wok {
					t.Fatalf("eightDigits(%q) = %d, %v; want %d, %v", x[:], got, gok, want, wok)
				}
			}
		}
	}
	for _, s := range []string{"41.87183127799356x", "41.8718312:", "41.87183/27799356", "-87.\xff6798462187609", "1.12345678", "1.123456789", "1.1234567"} {
		got, ok := parseDecimal([]byte(s))
		want, err := strconv.ParseFloat(s, 64)
		if ok != (err == nil) || (ok && math.Float64bits(got) != math.Float64bits(want)) {
			t.Errorf("parseDecimal(%q) = %v, %v; ParseFloat = %v, %v", s, got, ok, want, err)
		}
	}
}

// BenchmarkParseDecimal parses coordinates as the exports write them, in CPU-ns per value.
func BenchmarkParseDecimal(b *testing.B) {
	for _, tc := range []struct{ name, in string }{
		{"chicago", "41.871831277993564"},
		{"la", "-118.266861909"},
		{"st_louis", "1003181.00000000"},
		{"short", "-77.0"},
	} {
		in := []byte(tc.in)
		b.Run(tc.name, func(b *testing.B) {
			cpu0 := cputime.Process()
			for b.Loop() {
				if _, ok := parseDecimal(in); !ok {
					b.Fatal("no parse")
				}
			}
			if cpu := cputime.Process() - cpu0; cpu > 0 {
				b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
			}
		})
	}
}

// TestParseCoordGrammar: a coordinate is a decimal, with an exponent at most; Go's own
// literal grammar, which strconv.ParseFloat reads, is not an export's ("0x1p5" read as 32).
func TestParseCoordGrammar(t *testing.T) {
	for s, want := range map[string]float64{"40.5": 40.5, "-73.25": -73.25, " 1e1 ": 10, "4.05E1": 40.5} {
		if got, ok := parseCoord([]byte(s)); !ok || got != want {
			t.Errorf("parseCoord(%q) = %v, %v; want %v", s, got, ok, want)
		}
	}
	for _, s := range []string{"0x1p5", "0X20", "-0x1.8p1", "1_000", "4_0.5", "inf", "NaN", "1e400", ""} {
		if got, ok := parseCoord([]byte(s)); ok {
			t.Errorf("parseCoord(%q) = %v; want refused", s, got)
		}
	}
}
