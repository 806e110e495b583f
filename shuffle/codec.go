package shuffle

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/ireports/ireports/record"
)

// A row is the encoding of one record.Request. All string lengths come first and all string
// bytes last, so a decoder can turn every string of a row into one allocation (or none, when
// interned) and a writer can find the City and RequestID bytes it sorts on without parsing:
//
//	uvarint  len × 9        City, RequestID, StatusRaw, Agency, RequestType,
//	                        RequestSubtype, Zip, Neighborhood, Channel
//	varint   Year, Month
//	varint   CreatedAt, ClosedAt, UpdatedAt   unix microseconds; 0 = null
//	uvarint  Ord
//	byte     Status
//	byte     flags          bit 0: HasLocation; other bits must be 0
//	8+8      Latitude, Longitude as little-endian IEEE 754 bits, only with HasLocation
//	bytes    the 9 strings, concatenated
const (
	nStrings     = 9
	flagLocation = 1 << 0

	// maxRow bounds one encoded row. Real 311 rows are a few hundred bytes; a row this big
	// is a normalization bug, and the bound keeps a reader's block buffer bounded.
	maxRow = 16 << 20
)

// String field indexes in a row.
const (
	fCity = iota
	fRequestID
)

var fieldNames = [nStrings]string{"City", "RequestID", "StatusRaw", "Agency", "RequestType",
	"RequestSubtype", "Zip", "Neighborhood", "Channel"}

// lengthNames name the length prefixes in errors; built once, not per row.
var lengthNames = func() (n [nStrings]string) {
	for i, f := range fieldNames {
		n[i] = f + " length"
	}
	return n
}()

// AppendRequest appends the row encoding of r to dst and returns the extended slice.
func AppendRequest(dst []byte, r *record.Request) []byte {
	size := maxFixedLen + stringsLen(r)
	n := len(dst)
	dst = slices.Grow(dst, size)
	return dst[:n+putRequest(dst[n:n+size], r)]
}

// maxFixedLen bounds the bytes of an encoded row besides its strings: a length per string,
// the six varints, status and flags, and the location.
const maxFixedLen = (nStrings+6)*binary.MaxVarintLen64 + 2 + 16

// stringsLen returns the length of r's strings in its row encoding.
func stringsLen(r *record.Request) int {
	return len(r.City) + len(r.RequestID) + len(r.StatusRaw) + len(r.Agency) + len(r.RequestType) +
		len(r.RequestSubtype) + len(r.Zip) + len(r.Neighborhood) + len(r.Channel)
}

// putRequest writes the row encoding of r at the start of buf and returns its length. buf
// must have room for maxFixedLen bytes and the strings. (Writing into room known to
// suffice, rather than appending, spares a Writer's Add a capacity check per field; writing
// the strings field by field, rather than by loops over an array of the nine, spares
// copying their headers, and took a fifth off the CPU of BenchmarkCodec/encode.)
func putRequest(buf []byte, r *record.Request) int {
	pos := putUvarint(buf, uint64(len(r.City)))
	pos += putUvarint(buf[pos:], uint64(len(r.RequestID)))
	pos += putUvarint(buf[pos:], uint64(len(r.StatusRaw)))
	pos += putUvarint(buf[pos:], uint64(len(r.Agency)))
	pos += putUvarint(buf[pos:], uint64(len(r.RequestType)))
	pos += putUvarint(buf[pos:], uint64(len(r.RequestSubtype)))
	pos += putUvarint(buf[pos:], uint64(len(r.Zip)))
	pos += putUvarint(buf[pos:], uint64(len(r.Neighborhood)))
	pos += putUvarint(buf[pos:], uint64(len(r.Channel)))
	pos += binary.PutVarint(buf[pos:], int64(r.Year))
	pos += binary.PutVarint(buf[pos:], int64(r.Month))
	pos += binary.PutVarint(buf[pos:], timeWire(r.CreatedAt))
	pos += binary.PutVarint(buf[pos:], timeWire(r.ClosedAt))
	pos += binary.PutVarint(buf[pos:], timeWire(r.UpdatedAt))
	pos += putUvarint(buf[pos:], r.Ord)
	var flags byte
	if r.HasLocation {
		flags |= flagLocation
	}
	buf[pos], buf[pos+1] = byte(r.Status), flags
	pos += 2
	if r.HasLocation {
		binary.LittleEndian.PutUint64(buf[pos:], math.Float64bits(r.Latitude))
		binary.LittleEndian.PutUint64(buf[pos+8:], math.Float64bits(r.Longitude))
		pos += 16
	}
	pos += copy(buf[pos:], r.City)
	pos += copy(buf[pos:], r.RequestID)
	pos += copy(buf[pos:], r.StatusRaw)
	pos += copy(buf[pos:], r.Agency)
	pos += copy(buf[pos:], r.RequestType)
	pos += copy(buf[pos:], r.RequestSubtype)
	pos += copy(buf[pos:], r.Zip)
	pos += copy(buf[pos:], r.Neighborhood)
	pos += copy(buf[pos:], r.Channel)
	return pos
}

// putUvarint is binary.PutUvarint with a fast path for the one-byte values most string
// lengths are.
func putUvarint(buf []byte, v uint64) int {
	if v < 0x80 {
		buf[0] = byte(v)
		return 1
	}
	return binary.PutUvarint(buf, v)
}

// DecodeRequest decodes one row from the start of src into r, overwriting every field, and
// returns the number of bytes it used. Truncated or malformed input yields an error wrapping
// ErrCorrupt, never a panic. The strings of r share one new allocation.
func DecodeRequest(src []byte, r *record.Request) (n int, err error) {
	return decodeRow(src, r, nil)
}

// timeWire is the stored form of a time: unix microseconds, with 0 for the zero time.
func timeWire(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func wireTime(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// sortTime orders UpdatedAt the way record.Request.Newer does on decoded records: null (and
// the epoch, which decodes as null) before every instant.
func sortTime(t time.Time) int64 {
	if v := timeWire(t); v != 0 {
		return v
	}
	return math.MinInt64
}

// Compare orders records in shuffle order: by Key (City, Year, Month), then RequestID, then
// UpdatedAt (null first), then Ord. Every segment is sorted by it and a Merger yields it, so
// among the versions of one request the last one is the newest (record.Request.Newer).
// UpdatedAt is compared at the encoding's microsecond precision.
func Compare(a, b *record.Request) int {
	if c := strings.Compare(a.City, b.City); c != 0 {
		return c
	}
	if c := cmpInt(a.Year, b.Year); c != 0 {
		return c
	}
	if c := cmpInt(a.Month, b.Month); c != 0 {
		return c
	}
	if c := strings.Compare(a.RequestID, b.RequestID); c != 0 {
		return c
	}
	if c := cmpInt(sortTime(a.UpdatedAt), sortTime(b.UpdatedAt)); c != 0 {
		return c
	}
	return cmpInt(a.Ord, b.Ord)
}

func cmpInt[T int | int64 | uint64 | uint32](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Partition returns the reducer, in [0, reducers), that receives key k. It is FNV-1a over
// the city bytes, a separator, and the year and month, finalized, modulo reducers: stable across
// processes and releases, because map tasks and reduce tasks may run on different workers.
// reducers < 1 is treated as 1.
func Partition(k record.Key, reducers int) int {
	if reducers <= 1 {
		return 0
	}
	const (
		offset64 = 14695981039346656037
		prime64  = 1099511628211
	)
	h := uint64(offset64)
	for i := 0; i < len(k.City); i++ {
		h ^= uint64(k.City[i])
		h *= prime64
	}
	// The separator keeps ("ab", year) and ("a", …) from sharing a byte stream.
	h ^= 0xff
	h *= prime64
	var ym [12]byte
	binary.LittleEndian.PutUint64(ym[:8], uint64(int64(k.Year)))
	binary.LittleEndian.PutUint32(ym[8:], uint32(int32(k.Month)))
	for _, c := range ym {
		h ^= uint64(c)
		h *= prime64
	}
	// FNV-1a's low bits depend only on the inputs' low bits, and a power-of-two reducer
	// count would use nothing else: MurmurHash3's finalizer mixes every bit into them.
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return int(h % uint64(reducers))
}

// interner shares the strings of low-cardinality fields (city, agency, types, zip, …)
// between the records a reader decodes, so that decoding a row usually allocates only its
// RequestID. It is bounded: once full, new values are allocated per row as without it.
type interner struct {
	m    map[string]string // may be shared by the readers of one merge (readerShare)
	max  int               // entries m may hold; 0 means internMaxEntries
	last [nStrings]string  // per field, the value of the previous row: sorted rows repeat it
}

const (
	internMaxEntries = 1 << 13
	internMaxLen     = 64
)

func (in *interner) lookup(field int, b []byte) (string, bool) {
	if in.last[field] == string(b) { // neither this comparison nor the lookup below allocates
		return in.last[field], true
	}
	if s, ok := in.m[string(b)]; ok {
		in.last[field] = s
		return s, true
	}
	if len(b) > internMaxLen || len(in.m) >= cmp.Or(in.max, internMaxEntries) {
		return "", false
	}
	if in.m == nil {
		in.m = make(map[string]string)
	}
	s := string(b)
	in.m[s] = s
	in.last[field] = s
	return s, true
}

func corruptRow(field string, off int) error {
	return fmt.Errorf("%w: row: %s at byte %d", ErrCorrupt, field, off)
}

// decodeRow is DecodeRequest with optional interning (in may be nil).
func decodeRow(src []byte, r *record.Request, in *interner) (int, error) {
	pos := 0
	uvarint := func(field string) (uint64, error) {
		v, n := binary.Uvarint(src[pos:])
		if n <= 0 {
			return 0, corruptRow(field, pos)
		}
		pos += n
		return v, nil
	}
	varint := func(field string) (int64, error) {
		v, n := binary.Varint(src[pos:])
		if n <= 0 {
			return 0, corruptRow(field, pos)
		}
		pos += n
		return v, nil
	}

	var lens [nStrings]uint64
	for i := range lens {
		v, err := uvarint(lengthNames[i])
		if err != nil {
			return 0, err
		}
		lens[i] = v
	}
	var ints [5]int64 // Year, Month, CreatedAt, ClosedAt, UpdatedAt
	for i, name := range [...]string{"Year", "Month", "CreatedAt", "ClosedAt", "UpdatedAt"} {
		v, err := varint(name)
		if err != nil {
			return 0, err
		}
		ints[i] = v
	}
	// Year and Month are ints; rejecting what a 32-bit int cannot hold keeps the format
	// the same on every platform.
	for i, name := range [...]string{"Year", "Month"} {
		if ints[i] < math.MinInt32 || ints[i] > math.MaxInt32 {
			return 0, corruptRow(name, pos)
		}
	}
	ord, err := uvarint("Ord")
	if err != nil {
		return 0, err
	}
	if len(src)-pos < 2 {
		return 0, corruptRow("Status", pos)
	}
	status, flags := src[pos], src[pos+1]
	if flags&^flagLocation != 0 {
		return 0, corruptRow("flags", pos+1)
	}
	pos += 2
	var lat, lon float64
	if flags&flagLocation != 0 {
		if len(src)-pos < 16 {
			return 0, corruptRow("Latitude", pos)
		}
		lat = math.Float64frombits(binary.LittleEndian.Uint64(src[pos:]))
		lon = math.Float64frombits(binary.LittleEndian.Uint64(src[pos+8:]))
		pos += 16
	}

	total, err := boundStrings(&lens, src, pos)
	if err != nil {
		return 0, err
	}
	blob := src[pos : pos+total]
	pos += total

	var strs [nStrings]string
	var pending uint16 // fields still to be cut from one shared allocation
	lo, hi, off := len(blob), 0, 0
	for i, l := range lens {
		end := off + int(l)
		if l > 0 {
			if in != nil && i != fRequestID {
				if s, ok := in.lookup(i, blob[off:end]); ok {
					strs[i] = s
					off = end
					continue
				}
			}
			pending |= 1 << i
			lo, hi = min(lo, off), max(hi, end)
		}
		off = end
	}
	if pending != 0 {
		shared := string(blob[lo:hi])
		off = 0
		for i, l := range lens {
			end := off + int(l)
			if pending&(1<<i) != 0 {
				strs[i] = shared[off-lo : end-lo]
			}
			off = end
		}
	}

	*r = record.Request{
		City:           strs[0],
		RequestID:      strs[1],
		CreatedAt:      wireTime(ints[2]),
		ClosedAt:       wireTime(ints[3]),
		UpdatedAt:      wireTime(ints[4]),
		Status:         record.Status(status),
		StatusRaw:      strs[2],
		Agency:         strs[3],
		RequestType:    strs[4],
		RequestSubtype: strs[5],
		Latitude:       lat,
		Longitude:      lon,
		HasLocation:    flags&flagLocation != 0,
		Zip:            strs[6],
		Neighborhood:   strs[7],
		Channel:        strs[8],
		Year:           int(ints[0]),
		Month:          int(ints[1]),
		Ord:            ord,
	}
	return pos, nil
}
