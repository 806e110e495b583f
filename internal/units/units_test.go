package units

import "testing"

func TestParseBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{in: "64MiB", want: 64 << 20},
		{in: "1KiB", want: 1024},
		{in: "1.5GiB", want: 3 << 29},
		{in: " 512 KiB ", want: 512 << 10},
		{in: "1000", want: 1000},
		{in: "10MB", want: 10_000_000},
		{in: "", bad: true},
		{in: "-1KiB", bad: true},
		{in: "lots", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseBytes(tc.in)
			if tc.bad {
				if err == nil {
					t.Fatalf("ParseBytes(%q) = %d, want error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseBytes(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestFormatBytes(t *testing.T) {
	for in, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 3 << 29: "1.5 GiB"} {
		if got := FormatBytes(in); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestFormatRate(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want string
	}{
		{0, "0/s"},
		{950, "950/s"},
		{999.4, "999/s"},
		{1000, "1.0k/s"},
		{12345, "12.3k/s"},
		{999_999, "1000.0k/s"},
		{1e6, "1.0M/s"},
		{4.12e6, "4.1M/s"},
	} {
		if got := FormatRate(c.v); got != c.want {
			t.Errorf("FormatRate(%v) = %q, want %q", c.v, got, c.want)
		}
	}
}
