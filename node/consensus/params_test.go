package consensus

import (
	"testing"

	"github.com/watchnode/watchnode/node/protocol"
)

func TestParamsFor(t *testing.T) {
	genesis := map[protocol.Network]string{
		protocol.Mainnet:  "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
		protocol.Testnet3: "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943",
		protocol.Testnet4: "00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043",
		protocol.Signet:   "00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6",
		protocol.Regtest:  "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
	}
	for _, n := range protocol.Networks {
		p := ParamsFor(n)
		if p.Network != n {
			t.Errorf("%s: Network = %s", n, p.Network)
		}
		if got := p.Genesis.Hash(); got != p.GenesisHash || got.String() != genesis[n] {
			t.Errorf("%s: genesis hashes to %s, GenesisHash %s, want %s", n, got, p.GenesisHash, genesis[n])
		}
		if got := U256ToCompact(p.PowLimit); got != p.PowLimitBits {
			t.Errorf("%s: PowLimit compacts to %08x, PowLimitBits %08x", n, got, p.PowLimitBits)
		}
		// The genesis satisfies the proof-of-work rules of its network.
		if target, ok := targetOf(p.Genesis.Bits); !ok || target.Cmp(p.PowLimit) > 0 || HashToU256(&p.GenesisHash).Cmp(target) > 0 {
			t.Errorf("%s: genesis fails proof of work", n)
		}
		if p.TargetSpacing != 600 || p.MaxFutureTime != 7200 || int64(p.RetargetInterval)*p.TargetSpacing != p.TargetTimespan {
			t.Errorf("%s: spacing %d, interval %d, timespan %d, future %d", n, p.TargetSpacing, p.RetargetInterval, p.TargetTimespan, p.MaxFutureTime)
		}
	}

	main := ParamsFor(protocol.Mainnet)
	if main.RetargetInterval != 2016 || main.TargetTimespan != 14*24*3600 || main.AllowMinDifficulty || main.NoRetargeting || main.EnforceBIP94 {
		t.Errorf("mainnet difficulty params %+v", main)
	}
	if main.BIP34Height != 227931 || main.BIP66Height != 363725 || main.BIP65Height != 388381 {
		t.Errorf("mainnet BIP heights %d %d %d", main.BIP34Height, main.BIP66Height, main.BIP65Height)
	}
	if got := main.Checkpoints[11111].String(); got != "0000000069e244f73d78e8fd29ba2fd2ed618bd6fa2ee92559f542fdb26e7c1d" {
		t.Errorf("mainnet checkpoint 11111 = %s", got)
	}
	if got := main.MinimumChainWork.Hex(); got != "0000000000000000000000000000000000000000dee8e2a309ad8a9820433c68" {
		t.Errorf("mainnet minimum chain work %s", got)
	}
	t3, t4, reg := ParamsFor(protocol.Testnet3), ParamsFor(protocol.Testnet4), ParamsFor(protocol.Regtest)
	if !t3.AllowMinDifficulty || t3.EnforceBIP94 || !t4.AllowMinDifficulty || !t4.EnforceBIP94 {
		t.Error("testnet difficulty flags wrong")
	}
	if !reg.NoRetargeting || reg.RetargetInterval != 144 || !reg.MinimumChainWork.IsZero() || reg.PowLimitBits != 0x207fffff {
		t.Errorf("regtest params %+v", reg)
	}
	if ParamsFor(protocol.Signet).MinimumChainWork.IsZero() || t3.MinimumChainWork.IsZero() || t4.MinimumChainWork.IsZero() {
		t.Error("a public network has no minimum chain work")
	}

	// Each call returns a fresh copy.
	main.Checkpoints[11111] = main.GenesisHash
	main.PowLimitBits = 1
	if again := ParamsFor(protocol.Mainnet); again.Checkpoints[11111] == main.GenesisHash || again.PowLimitBits != 0x1d00ffff {
		t.Error("ParamsFor shares state between calls")
	}
}
