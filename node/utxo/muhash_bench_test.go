package utxo

import (
	"testing"
)

// BenchmarkMuHashInsert measures one Insert of a 60-byte element (about a
// serialized P2WPKH coin): SHA-256, 384 bytes of ChaCha20 and one
// 3072-bit modular multiplication.
func BenchmarkMuHashInsert(b *testing.B) {
	m := NewMuHash()
	data := make([]byte, 60)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		data[0] = byte(i)
		m.Insert(data)
	}
}

// BenchmarkMuHashMulMod measures the 3072-bit modular multiplication alone.
func BenchmarkMuHashMulMod(b *testing.B) {
	var x, y num3072
	x.setElement([]byte("x"))
	y.setElement([]byte("y"))
	b.ReportAllocs()
	for b.Loop() {
		x.mulMod(&x, &y)
	}
}

// BenchmarkMuHashElement measures mapping a 60-byte element to a number
// (SHA-256 and ChaCha20) alone.
func BenchmarkMuHashElement(b *testing.B) {
	var x num3072
	data := make([]byte, 60)
	b.ReportAllocs()
	for b.Loop() {
		x.setElement(data)
	}
}

// BenchmarkMuHashFinalize measures Finalize of a set with insertions and
// removals: the modular inverse of the denominator (math/big), one
// multiplication and SHA-256.
func BenchmarkMuHashFinalize(b *testing.B) {
	m := NewMuHash()
	for i := 0; i < 10; i++ {
		m.Insert([]byte{byte(i)})
		m.Remove([]byte{byte(i), 1})
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = m.Finalize()
	}
}
