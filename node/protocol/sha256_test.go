package protocol

import (
	"crypto/sha256"
	"testing"
)

// TestSHA256Unrolled checks the unrolled SHA-256 against crypto/sha256 at
// every length around the padding boundaries, split into parts every way.
func TestSHA256Unrolled(t *testing.T) {
	data := make([]byte, 300)
	for i := range data {
		data[i] = byte(i*31 + 7)
	}
	for n := range len(data) {
		want := sha256.Sum256(data[:n])
		if got := sha256Unrolled(data[:n]); got != want {
			t.Fatalf("%d bytes: %x, want %x", n, got, want)
		}
		for cut := 0; cut <= n; cut += 13 {
			if got := sha256Unrolled(data[:cut], nil, data[cut:n]); got != want {
				t.Fatalf("%d bytes cut at %d: %x, want %x", n, cut, got, want)
			}
		}
	}
	if got, want := sha256Unrolled(), sha256.Sum256(nil); got != want {
		t.Errorf("no parts: %x, want %x", got, want)
	}
}

// FuzzSHA256Unrolled: on any bytes split anywhere, the unrolled SHA-256 is
// crypto/sha256's.
func FuzzSHA256Unrolled(f *testing.F) {
	f.Add([]byte("abc"), uint16(1))
	f.Add(make([]byte, 200), uint16(64))
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		c := int(cut) % (len(data) + 1)
		if got, want := sha256Unrolled(data[:c], data[c:]), sha256.Sum256(data); got != want {
			t.Fatalf("%x, want %x", got, want)
		}
	})
}

func BenchmarkSHA256Unrolled(b *testing.B) {
	data := make([]byte, 1<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		sha256Unrolled(data)
	}
}
