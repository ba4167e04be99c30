package chain

import (
	"errors"
	"testing"

	"github.com/watchnode/watchnode/node/consensus"
)

// presyncParams is regtest with a minimum chain work that 5000 headers reach.
func presyncParams() *consensus.Params {
	p := regtest()
	var w consensus.U256
	for range 5001 { // genesis + 5000
		w = w.Add(consensus.Work(p.PowLimitBits))
	}
	p.MinimumChainWork = w
	return p
}

func batches(hs []consensus.Header, size int) [][]consensus.Header {
	var out [][]consensus.Header
	for len(hs) > 0 {
		n := min(size, len(hs))
		out = append(out, hs[:n])
		hs = hs[n:]
	}
	return out
}

func TestPresyncThenRedownload(t *testing.T) {
	c, _, err := New(presyncParams(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.NeedsPresync() {
		t.Fatal("a genesis-only chain is below the minimum work")
	}
	hs := gen(6000, 20)
	p := c.NewPresync()
	for _, b := range batches(hs, 2000) {
		out, _, err := p.Process(b, nil, end.Unix())
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 0 {
			t.Fatal("presync released headers before the redownload")
		}
		if p.Redownloading() {
			break
		}
	}
	if !p.Redownloading() || p.Target() != 5000 || c.Height() != 0 {
		t.Fatalf("redownloading %v target %d height %d", p.Redownloading(), p.Target(), c.Height())
	}
	if len(p.commits) != 2 {
		t.Errorf("%d commitments for 5000 headers", len(p.commits))
	}
	released := 0
	for i, b := range batches(hs, 2000) {
		out, hashes, err := p.Process(b, nil, end.Unix())
		if err != nil {
			t.Fatal(err)
		}
		if len(p.buffer) > commitInterval {
			t.Fatalf("buffer holds %d headers", len(p.buffer))
		}
		released += len(out)
		if _, err := c.Accept(out, hashes, end.Unix()); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	if released != 6000 || c.Height() != 6000 || !p.Done() || c.NeedsPresync() {
		t.Fatalf("released %d, height %d, done %v", released, c.Height(), p.Done())
	}
}

func TestPresyncCatchesADifferentRedownload(t *testing.T) {
	c, _, _ := New(presyncParams(), nil)
	honest, other := gen(5000, 21), gen(5000, 22)
	p := c.NewPresync()
	for _, b := range batches(honest, 2000) {
		if _, _, err := p.Process(b, nil, end.Unix()); err != nil {
			t.Fatal(err)
		}
	}
	if !p.Redownloading() {
		t.Fatal("not redownloading")
	}
	_, _, err := p.Process(other[:2000], nil, end.Unix())
	if !errors.Is(err, ErrPresyncMismatch) {
		t.Fatalf("a different chain on redownload: %v", err)
	}
	if c.Height() != 0 {
		t.Errorf("headers of the wrong chain were stored")
	}
}

func TestPresyncKeepsLowWorkChainOutOfMemory(t *testing.T) {
	c, _, _ := New(presyncParams(), nil)
	p := c.NewPresync()
	for _, b := range batches(gen(4900, 23), 2000) {
		if _, _, err := p.Process(b, nil, end.Unix()); err != nil {
			t.Fatal(err)
		}
	}
	if p.Redownloading() || c.Height() != 0 || p.Height() != 4900 || len(p.commits) != 2 {
		t.Errorf("low-work chain: redownloading %v, stored height %d, presync height %d, %d commitments",
			p.Redownloading(), c.Height(), p.Height(), len(p.commits))
	}
}

func TestPresyncValidates(t *testing.T) {
	c, _, _ := New(presyncParams(), nil)
	hs := gen(100, 24)
	hs[50].Bits = 0x1d00ffff
	p := c.NewPresync()
	_, _, err := p.Process(hs, nil, end.Unix())
	var rerr *consensus.RuleError
	if !errors.As(err, &rerr) || rerr.Height != 51 {
		t.Fatalf("want a rule error at 51, got %v", err)
	}
}
