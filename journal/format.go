package journal

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"reflect"
)

// The on-disk format; see the package doc.
const (
	// Version is the format this build writes, and the newest it reads.
	Version = 1
	// magic opens every journal file and segment.
	magic = "IRJOURNL"
	// headerSize is the magic and the little-endian uint32 version.
	headerSize = len(magic) + 4
	// frameHeader is a frame's length (uint32), CRC-32C (uint32) and kind (one byte).
	frameHeader = 9
	// MaxRecord bounds a record's payload in bytes. It keeps a corrupt length from asking
	// for gigabytes, and it is far above any record a job writes (a snapshot of a job with
	// 100,000 tasks is a few MiB).
	MaxRecord = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// header returns the bytes that open a file or segment of format Version.
func header() []byte {
	b := make([]byte, headerSize)
	copy(b, magic)
	binary.LittleEndian.PutUint32(b[len(magic):], Version)
	return b
}

// checkHeader validates the header at the start of data, which is named name in errors.
func checkHeader(name string, data []byte) error {
	if len(data) < headerSize {
		return fmt.Errorf("%w: %s: %d bytes, shorter than the %d-byte header", ErrCorrupt, name, len(data), headerSize)
	}
	if string(data[:len(magic)]) != magic {
		return fmt.Errorf("%w: %s: no journal header (first bytes %q)", ErrNotJournal, name, data[:len(magic)])
	}
	v := binary.LittleEndian.Uint32(data[len(magic):headerSize])
	if v == 0 {
		return fmt.Errorf("%w: %s: format version 0", ErrCorrupt, name)
	}
	if v > Version {
		return fmt.Errorf("%w: %s is format version %d; this build reads versions up to %d: run a newer coordinator", ErrVersion, name, v, Version)
	}
	return nil
}

// appendFrame encodes rec as one frame onto b.
func appendFrame(b []byte, rec Record) ([]byte, error) {
	if rec == nil || reflect.ValueOf(rec).IsNil() {
		return b, fmt.Errorf("%w: nil record", ErrBadRecord)
	}
	if err := rec.validate(); err != nil {
		return b, fmt.Errorf("%w: %s: %v", ErrBadRecord, rec.Kind(), err)
	}
	payload, err := json.Marshal(rec)
	if err != nil {
		return b, fmt.Errorf("%w: %s: %v", ErrBadRecord, rec.Kind(), err)
	}
	if len(payload) > MaxRecord {
		return b, fmt.Errorf("%w: %s: %d bytes, over MaxRecord (%d)", ErrBadRecord, rec.Kind(), len(payload), MaxRecord)
	}
	start := len(b)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
	b = append(b, 0, 0, 0, 0, byte(rec.Kind()))
	b = append(b, payload...)
	binary.LittleEndian.PutUint32(b[start+4:], frameCRC(b[start:]))
	return b, nil
}

// frameCRC is the CRC-32C of a whole frame but its CRC field: the length, the kind and the
// payload. Covering the length means a flipped length bit is caught like any other.
func frameCRC(frame []byte) uint32 {
	c := crc32.Update(0, castagnoli, frame[:4])
	return crc32.Update(c, castagnoli, frame[8:])
}

// frameAt checks the frame at data[off:]: it returns the frame's end and true when a whole
// frame with a matching CRC starts there.
func frameAt(data []byte, off int) (end int, ok bool) {
	if len(data)-off < frameHeader {
		return 0, false
	}
	n := binary.LittleEndian.Uint32(data[off:])
	if n > MaxRecord || int64(n) > int64(len(data)-off-frameHeader) {
		return 0, false
	}
	end = off + frameHeader + int(n)
	// Kind 0 is never written, so a run of zero bytes (a file a crash extended) is no frame
	// even if its CRC field happened to match.
	if data[off+8] == 0 {
		return 0, false
	}
	if binary.LittleEndian.Uint32(data[off+4:]) != frameCRC(data[off:end]) {
		return 0, false
	}
	return end, true
}

// anyFrameAfter reports whether a valid frame starts anywhere in data after off. It runs
// only on the failure path, to tell a torn tail (nothing valid follows the bad frame) from
// damage in the middle (something does). JSON payloads hold no bytes below 0x20 outside
// strings' escapes, and a plausible length needs zero high bytes, so a frame cannot be
// found by accident inside a torn record's payload.
func anyFrameAfter(data []byte, off int) bool {
	for i := off + 1; i+frameHeader <= len(data); i++ {
		if _, ok := frameAt(data, i); ok {
			return true
		}
	}
	return false
}

// decode reads the records of one file or segment, named name in errors. With tornTail
// (a local file, written by appends), a bad frame after which no valid frame follows is a
// torn write: decode returns the records before it and, as good, the offset to truncate the
// file to. Otherwise (and always for an object segment, which a single PUT writes whole) a
// bad frame is an error that names its byte offset. A frame with a good CRC whose payload
// does not decode is an error either way: it was written so.
func decode(name string, data []byte, tornTail bool) (recs []Record, good int, err error) {
	if err := checkHeader(name, data); err != nil {
		return nil, 0, err
	}
	off := headerSize
	for off < len(data) {
		end, ok := frameAt(data, off)
		if !ok {
			if tornTail && !anyFrameAfter(data, off) {
				return recs, off, nil
			}
			return recs, off, fmt.Errorf("%w: %s: byte offset %d: %s", ErrCorrupt, name, off, badFrame(data, off))
		}
		rec, err := decodePayload(Kind(data[off+8]), data[off+frameHeader:end])
		if err != nil {
			return recs, off, fmt.Errorf("%s: byte offset %d: %w", name, off, err)
		}
		recs = append(recs, rec)
		off = end
	}
	return recs, off, nil
}

// badFrame says what is wrong with the frame at data[off:].
func badFrame(data []byte, off int) string {
	if len(data)-off < frameHeader {
		return fmt.Sprintf("%d bytes left, shorter than a frame header", len(data)-off)
	}
	n := binary.LittleEndian.Uint32(data[off:])
	switch {
	case n > MaxRecord:
		return fmt.Sprintf("record length %d is over MaxRecord (%d)", n, MaxRecord)
	case int64(n) > int64(len(data)-off-frameHeader):
		return fmt.Sprintf("record length %d runs past the end (%d bytes left)", n, len(data)-off-frameHeader)
	}
	return fmt.Sprintf("CRC mismatch in a %d-byte %s record", n, Kind(data[off+8]))
}

// decodePayload turns a CRC-checked payload into its record.
func decodePayload(k Kind, payload []byte) (Record, error) {
	rec := newRecord(k)
	if rec == nil {
		return nil, fmt.Errorf("%w: record kind %d is unknown to this build (format version %d)", ErrVersion, uint8(k), Version)
	}
	d := json.NewDecoder(bytes.NewReader(payload))
	if err := d.Decode(rec); err != nil {
		return nil, fmt.Errorf("%w: %s record: %v", ErrCorrupt, k, err)
	}
	if d.More() {
		return nil, fmt.Errorf("%w: %s record: data after the JSON value", ErrCorrupt, k)
	}
	if err := rec.validate(); err != nil {
		return nil, fmt.Errorf("%w: %s record: %v", ErrCorrupt, k, err)
	}
	return rec, nil
}
