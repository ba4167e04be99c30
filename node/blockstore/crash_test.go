package blockstore

import (
	"bytes"
	"crypto/rand"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

const crashEnv = "BLOCKSTORE_CRASH_DIR"

// TestCrashChild is the child of TestCrashRecovery: it writes blocks into
// the store until it is killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("only run as TestCrashRecovery's child")
	}
	s, err := Open(Options{Dir: dir, Magic: wire.MainNet, MaxFileSize: 30000})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		var h chainhash.Hash
		rand.Read(h[:])
		if _, err := s.WriteBlock(h, int32(mrand.IntN(1000)), testBlock(h)); err != nil {
			t.Fatal(err)
		}
		if mrand.IntN(4) == 0 {
			if err := s.Sync(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestCrashRecovery kills a writing child with SIGKILL at random moments,
// 20 times on the same store, and checks after each kill that every indexed
// block reads back exactly and no file keeps an unindexed tail.
func TestCrashRecovery(t *testing.T) {
	dir := t.TempDir()
	prev := 0
	for round := range 20 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(50+mrand.IntN(300)) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		s := openT(t, dir)
		n := 0
		if err := s.Entries(func(e Entry) error {
			n++
			got, err := s.ReadBlock(e.Hash)
			if err != nil || !bytes.Equal(got, testBlock(e.Hash)) {
				t.Fatalf("round %d: block %s: %v", round, e.Hash, err)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for num, fi := range s.files {
			st, err := os.Stat(s.blkPath(num))
			if (err == nil && st.Size() != fi.Bytes) || (err != nil && fi.Bytes != 0) {
				t.Fatalf("round %d: file %d has %v bytes, index says %d (%v)", round, num, st, fi.Bytes, err)
			}
		}
		if n < prev {
			t.Fatalf("round %d: %d blocks, fewer than %d", round, n, prev)
		}
		prev = n
		s.Close()
	}
	t.Logf("%d blocks survived", prev)
}
