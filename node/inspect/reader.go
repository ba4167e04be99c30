package inspect

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
)

// dec is a cursor over one payload that builds the field tree as it reads.
//
// Reads are sticky on failure: the first read that cannot be satisfied
// records a *DecodeError and every later read returns zero values and adds
// nothing, so message decoders read straight through without checking after
// every field. Nothing is allocated by a declared count before the bytes
// behind it are known to exist (see count).
type dec struct {
	b    []byte
	off  int
	err  *DecodeError
	out  []Field // the field list being built at the current level
	path string  // dotted path of the current level, for errors
}

func (d *dec) left() int { return len(d.b) - d.off }

// failed reports whether decoding has already stopped.
func (d *dec) failed() bool { return d.err != nil }

// fail records the first error at the current offset.
func (d *dec) fail(name, expected, format string, args ...any) {
	d.failAt(d.off, name, expected, format, args...)
}

func (d *dec) failAt(off int, name, expected, format string, args ...any) {
	if d.err != nil {
		return
	}
	d.err = &DecodeError{Field: d.join(name), Offset: off, Expected: expected, Msg: fmt.Sprintf(format, args...)}
}

func (d *dec) join(name string) string {
	switch {
	case d.path == "":
		return name
	case name == "":
		return d.path
	}
	return d.path + "." + name
}

// need checks that n bytes remain for field name.
func (d *dec) need(name string, n int, expected string) bool {
	if d.err != nil {
		return false
	}
	if n > d.left() {
		d.fail(name, expected, "payload ends: %s needs %d bytes at offset %d, %d left", d.join(name), n, d.off, d.left())
		return false
	}
	return true
}

// add appends a leaf field covering [off, d.off).
func (d *dec) add(name, typ, value string, off int) {
	d.out = append(d.out, Field{Name: name, Type: typ, Value: value, Offset: off, Length: d.off - off})
}

// computed appends a field derived from bytes [off, off+n) rather than read
// from them.
func (d *dec) computed(name, typ, value string, off, n int) {
	d.out = append(d.out, Field{Name: name, Type: typ, Value: value, Offset: off, Length: n, Computed: true})
}

// group decodes a nested field (struct or list) with fn, which returns the
// group's display value. The group is added even when fn fails part way, so
// the caller sees the fields decoded so far; its length is what was read.
func (d *dec) group(name, typ string, fn func() string) {
	d.groupPath(name, d.join(name), typ, fn)
}

// item decodes element i of a list whose path is the current path.
func (d *dec) item(listName, typ string, i uint64, fn func() string) {
	name := listName + "[" + strconv.FormatUint(i, 10) + "]"
	d.groupPath(name, d.path+"["+strconv.FormatUint(i, 10)+"]", typ, fn)
}

func (d *dec) groupPath(name, path, typ string, fn func() string) {
	if d.err != nil {
		return
	}
	start := d.off
	parentOut, parentPath := d.out, d.path
	// Most groups have a handful of children; room for four saves the
	// first few slice growths.
	d.out, d.path = make([]Field, 0, 4), path
	value := fn()
	children := d.out
	d.out, d.path = parentOut, parentPath
	d.out = append(d.out, Field{Name: name, Type: typ, Value: value, Offset: start, Length: d.off - start, Children: children})
}

func (d *dec) bytesAt(n int) []byte { return d.b[d.off : d.off+n] }

func (d *dec) u8(name, typ string, show func(uint8) string) uint8 {
	if !d.need(name, 1, "1-byte "+typ) {
		return 0
	}
	off, v := d.off, d.b[d.off]
	d.off++
	d.add(name, typ, show(v), off)
	return v
}

func (d *dec) u16be(name string, show func(uint16) string) uint16 {
	if !d.need(name, 2, "2-byte big-endian uint16") {
		return 0
	}
	off, v := d.off, binary.BigEndian.Uint16(d.bytesAt(2))
	d.off += 2
	d.add(name, "uint16", show(v), off)
	return v
}

func (d *dec) u32(name, typ string, show func(uint32) string) uint32 {
	if !d.need(name, 4, "4-byte little-endian "+typ) {
		return 0
	}
	off, v := d.off, binary.LittleEndian.Uint32(d.bytesAt(4))
	d.off += 4
	d.add(name, typ, show(v), off)
	return v
}

func (d *dec) u64(name, typ string, show func(uint64) string) uint64 {
	if !d.need(name, 8, "8-byte little-endian "+typ) {
		return 0
	}
	off, v := d.off, binary.LittleEndian.Uint64(d.bytesAt(8))
	d.off += 8
	d.add(name, typ, show(v), off)
	return v
}

// hash reads a 32-byte hash, shown in RPC (reversed) byte order.
func (d *dec) hash(name string) []byte {
	if !d.need(name, 32, "32-byte hash") {
		return nil
	}
	off, h := d.off, d.bytesAt(32)
	d.off += 32
	d.add(name, "hash", hashString(h), off)
	return h
}

// raw reads n bytes shown as hex.
func (d *dec) raw(name string, n int, expected string) []byte {
	if !d.need(name, n, expected) {
		return nil
	}
	off, v := d.off, d.bytesAt(n)
	d.off += n
	d.add(name, "bytes", hex.EncodeToString(v), off)
	return v
}

// peekCompact reads a CompactSize without adding a field. Non-canonical
// encodings are accepted, as Bitcoin Core's deserializer rejects them but a
// decoder for people should show them.
func (d *dec) readCompact(name string) (uint64, bool) {
	if !d.need(name, 1, "CompactSize") {
		return 0, false
	}
	first := d.b[d.off]
	size := 0
	switch first {
	case 0xfd:
		size = 2
	case 0xfe:
		size = 4
	case 0xff:
		size = 8
	}
	if size == 0 {
		d.off++
		return uint64(first), true
	}
	if 1+size > d.left() {
		d.fail(name, "CompactSize", "payload ends: CompactSize %s at offset %d (prefix 0x%02x) needs %d bytes, %d left",
			d.join(name), d.off, first, 1+size, d.left())
		return 0, false
	}
	p := d.b[d.off+1:]
	var v uint64
	switch size {
	case 2:
		v = uint64(binary.LittleEndian.Uint16(p))
	case 4:
		v = uint64(binary.LittleEndian.Uint32(p))
	default:
		v = binary.LittleEndian.Uint64(p)
	}
	d.off += 1 + size
	return v, true
}

// compact reads a CompactSize field.
func (d *dec) compact(name string) (uint64, bool) {
	off := d.off
	v, ok := d.readCompact(name)
	if ok {
		d.add(name, "compactsize", strconv.FormatUint(v, 10), off)
	}
	return v, ok
}

// count reads a CompactSize count of items that each take at least minSize
// bytes, and fails unless that many items can fit in what is left: callers
// may then loop (and allocate) by the count.
func (d *dec) count(minSize int, what string) (uint64, bool) {
	off := d.off
	n, ok := d.compact("count")
	if !ok {
		return 0, false
	}
	if n > uint64(d.left())/uint64(minSize) {
		d.failAt(off, "count", fmt.Sprintf("at most %d %s (each at least %d bytes)", d.left()/minSize, what, minSize),
			"%d %s declared, but only %d bytes follow", n, what, d.left())
		return 0, false
	}
	return n, true
}

// varBytes reads a CompactSize length and the bytes it counts, as a struct
// field with children "length" and "data"; show renders the data (hex when
// nil). It returns the data.
func (d *dec) varBytes(name, typ string, max uint64, show func([]byte) string) []byte {
	var data []byte
	d.group(name, typ, func() string {
		off := d.off
		n, ok := d.compact("length")
		if !ok {
			return ""
		}
		if max > 0 && n > max {
			d.failAt(off, "length", fmt.Sprintf("length at most %d", max), "declared length %d exceeds the limit %d", n, max)
			return ""
		}
		if n > uint64(d.left()) {
			d.failAt(off, "length", fmt.Sprintf("at most %d bytes", d.left()), "declares %d bytes, but only %d follow", n, d.left())
			return ""
		}
		start := d.off
		data = d.bytesAt(int(n))
		d.off += int(n)
		h := hex.EncodeToString(data)
		d.add("data", "bytes", h, start)
		if show == nil {
			return h
		}
		return show(data)
	})
	return data
}

// varString reads a CompactSize-prefixed string.
func (d *dec) varString(name string, max uint64) string {
	return string(d.varBytes(name, "string", max, func(b []byte) string { return strconv.Quote(string(b)) }))
}

// trailing records bytes after a complete message.
func (d *dec) trailing() {
	if d.err == nil && d.left() > 0 {
		d.raw("trailing", d.left(), "")
	}
}

// hashString renders a little-endian hash in RPC byte order.
func hashString(h []byte) string {
	var r [32]byte
	for i := range 32 {
		r[i] = h[31-i]
	}
	return hex.EncodeToString(r[:])
}

func sha256d(b ...[]byte) [32]byte {
	h := sha256.New()
	for _, p := range b {
		h.Write(p)
	}
	var first [32]byte
	h.Sum(first[:0])
	return sha256.Sum256(first[:])
}

// Display helpers.

func dec32(v uint32) string  { return strconv.FormatUint(uint64(v), 10) }
func dec64(v uint64) string  { return strconv.FormatUint(v, 10) }
func sdec32(v uint32) string { return strconv.FormatInt(int64(int32(v)), 10) }
func sdec64(v uint64) string { return strconv.FormatInt(int64(v), 10) }
func hex8(v uint8) string    { return fmt.Sprintf("0x%02x", v) }
func boolStr(v uint8) string {
	if v == 0 {
		return "false"
	}
	if v == 1 {
		return "true"
	}
	return fmt.Sprintf("true (0x%02x)", v)
}

func unixTime(v int64) string {
	if v < -62135596800 || v > 253402300799 { // outside years 1..9999
		return strconv.FormatInt(v, 10)
	}
	return fmt.Sprintf("%d (%s)", v, time.Unix(v, 0).UTC().Format("2006-01-02 15:04:05 UTC"))
}
func time32(v uint32) string { return unixTime(int64(v)) }
func time64(v uint64) string { return unixTime(int64(v)) }

// btc renders satoshis as BTC with all eight decimals.
func btc(sat int64) string {
	sign := ""
	u := uint64(sat)
	if sat < 0 {
		sign, u = "-", uint64(-sat) // -MinInt64 wraps to itself, which as uint64 is right
	}
	return fmt.Sprintf("%s%d.%08d BTC", sign, u/1e8, u%1e8)
}
