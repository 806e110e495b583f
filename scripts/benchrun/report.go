package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// errBadSize reports a size flag benchrun cannot read.
var errBadSize = errors.New("bad size")

// parseSize reads "1GB" (decimal: 1e9 bytes), "1GiB" (2^30), "256MiB", "500MB", "4096".
// Decimal units are accepted here, unlike job files, because the sizes (1, 4 and
// 20 GB) are decimal.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	units := map[string]float64{"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
		"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}
	mult, ok := units[strings.TrimSpace(t[i:])]
	if i == 0 || !ok {
		return 0, fmt.Errorf("%w %q: want a number and one of B, KB, MB, GB, KiB, MiB, GiB", errBadSize, s)
	}
	v, err := strconv.ParseFloat(t[:i], 64)
	if err != nil || v <= 0 || v*mult > 1<<50 {
		return 0, fmt.Errorf("%w %q: want a positive size below 1 PiB", errBadSize, s)
	}
	return int64(v * mult), nil
}

// median of xs (the mean of the middle two for an even count); 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// spread is how far apart xs are: max/min - 1 (0.15 is "within 15 %"); 0 for fewer than two
// values, +Inf when the smallest is not positive.
func spread(xs []float64) float64 {
	if len(xs) < 2 {
		return 0
	}
	lo, hi := slices.Min(xs), slices.Max(xs)
	if lo <= 0 {
		return math.Inf(1)
	}
	return hi/lo - 1
}

// mib formats bytes in MiB.
func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// table writes rows under header, columns aligned.
func table(w io.Writer, header []string, rows [][]string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}
