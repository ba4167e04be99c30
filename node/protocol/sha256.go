package protocol

//go:generate go run ../../internal/gen/sha256block

import (
	"encoding/binary"
)

// The decoder page runs this package as WebAssembly, where it spends most of
// its time in SHA-256: every message's checksum and every transaction's
// txid. Go's crypto/sha256 has no assembly for wasm, and its generic code
// keeps the round variables in a loop that the wasm backend compiles into
// many moves; the same algorithm with every round written out (generated,
// sha256_unrolled.go) measured 350 MB/s against 190 MB/s in Node.js and
// Chromium. No maintained library does better for wasm (the SIMD ones fall
// back to crypto/sha256 there). Natively crypto/sha256 is used, with its
// SHA-NI and AVX2 assembly; the unrolled code is tested against it.

// sha256IV is SHA-256's initial hash value (FIPS 180-4, 5.3.3).
var sha256IV = [8]uint32{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19}

// sha256Unrolled returns the SHA-256 of the concatenation of parts, with
// sha256BlockUnrolled. Whole blocks are hashed in place; only the bytes of a
// block spanning two parts, and the padding, are copied.
func sha256Unrolled(parts ...[]byte) [32]byte {
	h := sha256IV
	var buf [128]byte
	n := 0 // bytes waiting in buf
	total := 0
	for _, p := range parts {
		total += len(p)
		if n > 0 {
			c := copy(buf[n:64], p)
			n += c
			p = p[c:]
			if n < 64 {
				continue
			}
			sha256BlockUnrolled(&h, buf[:64])
			n = 0
		}
		whole := len(p) &^ 63
		sha256BlockUnrolled(&h, p[:whole])
		n = copy(buf[:], p[whole:])
	}
	buf[n] = 0x80
	end := 64
	if n >= 56 {
		end = 128
	}
	clear(buf[n+1 : end])
	binary.BigEndian.PutUint64(buf[end-8:end], uint64(total)*8)
	sha256BlockUnrolled(&h, buf[:end])
	var out [32]byte
	for i, v := range h {
		binary.BigEndian.PutUint32(out[4*i:], v)
	}
	return out
}
