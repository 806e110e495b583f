package csvsplit

import "testing"

// FuzzClassify checks classify, in each of its versions, against classifyGeneric on
// arbitrary blocks. Run it with go test -fuzz=FuzzClassify ./csvsplit
func FuzzClassify(f *testing.F) {
	f.Add([]byte("\"a,b\"\r\n,,\"\"\n"))
	f.Add([]byte{0x22 ^ 0x80, 0x2c ^ 0x80, 0x0a ^ 0x80, 0x0d ^ 0x80, 0xff, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var b [64]byte
		for i := range b {
			if len(data) > 0 {
				b[i] = data[i%len(data)]
				if i >= len(data) { // vary the bytes of short inputs across the block
					b[i] ^= byte(i / len(data))
				}
			}
		}
		wq, wc, wn, wr := classifyGeneric(&b)
		for _, v := range classifyVersions(t) {
			q, c, n, r := v.classify(&b)
			if q != wq || c != wc || n != wn || r != wr {
				t.Fatalf("%s classify(%q) = %#x %#x %#x %#x, want %#x %#x %#x %#x", v.name, b, q, c, n, r, wq, wc, wn, wr)
			}
		}
	})
}
