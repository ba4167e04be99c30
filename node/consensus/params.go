package consensus

import (
	"fmt"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/watchnode/watchnode/node/protocol"
)

// Params are one network's consensus parameters, the numbers the rules read.
type Params struct {
	// Network names the network these parameters belong to.
	Network protocol.Network

	// Genesis is the network's first header, and GenesisHash its hash. The
	// genesis header is given, not validated.
	Genesis     Header
	GenesisHash chainhash.Hash

	// PowLimit is the highest target (lowest difficulty) a header may use,
	// and PowLimitBits the same target in compact form.
	PowLimit     U256
	PowLimitBits uint32

	// RetargetInterval is the number of headers in a difficulty period
	// (2016); the difficulty changes at heights that are multiples of it.
	RetargetInterval int32
	// TargetTimespan is how long a period should take, in seconds (14
	// days), and TargetSpacing how long one header should take (600).
	TargetTimespan int64
	TargetSpacing  int64

	// NoRetargeting keeps the difficulty fixed (regtest).
	NoRetargeting bool
	// AllowMinDifficulty enables the testnet 20-minute rule: a header more
	// than 2*TargetSpacing after its parent may use PowLimitBits.
	AllowMinDifficulty bool
	// EnforceBIP94 enables testnet4's timewarp fix: retargets start from
	// the bits of a period's first header, and the first header of a
	// period may not be more than 600 s earlier than its parent.
	EnforceBIP94 bool

	// BIP34Height, BIP66Height and BIP65Height are the heights from which
	// headers must have version 2, 3 and 4 or higher.
	BIP34Height, BIP66Height, BIP65Height int32
	// CSVHeight is the height from which BIP68, BIP112 and BIP113 apply
	// (so transactions' finality is judged by median time past), and
	// SegwitHeight the height from which BIP141's witness rules apply.
	CSVHeight, SegwitHeight int32

	// MinimumChainWork is the least total work a chain must have before
	// the node treats it as the network's real chain (Bitcoin Core's
	// nMinimumChainWork); zero on regtest.
	MinimumChainWork U256

	// Checkpoints maps heights to the only hash a header at that height may
	// have.
	Checkpoints map[int32]chainhash.Hash

	// MaxFutureTime is how far, in seconds, a header's timestamp may be
	// ahead of the current time (7200).
	MaxFutureTime int64

	// SubsidyHalvingInterval is how many blocks pass between halvings of
	// the block subsidy (210,000; 150 on regtest).
	SubsidyHalvingInterval int32
	// BIP34Hash is the hash of the block at BIP34Height on networks where
	// Core records it (mainnet, testnet3); zero elsewhere. Below the
	// BIP34_IMPLIES_BIP30_LIMIT height, a chain through that block needs no
	// BIP30 check (see node/validate).
	BIP34Hash chainhash.Hash
	// AssumeValid is Core's default assumed-valid block (-assumevalid):
	// the scripts of it and its ancestors need not be verified; zero on
	// regtest.
	AssumeValid chainhash.Hash
	// TxData are the network's transaction statistics at release (Core's
	// chainTxData), for estimating sync progress by transactions; zero
	// on regtest.
	TxData ChainTxData
}

// ChainTxData is Core's ChainTxData: at unix time Time the chain held
// TxCount transactions, and grew by TxRate per second.
type ChainTxData struct {
	Time    int64
	TxCount uint64
	TxRate  float64
}

// chainTxData holds Core's chainTxData per network, from the same
// src/kernel/chainparams.cpp (getchaintxstats 4096 at the assumed-valid
// blocks above).
var chainTxData = map[protocol.Network]ChainTxData{
	protocol.Mainnet:  {1756722903, 1235299397, 5.456290459519495},
	protocol.Testnet3: {1751816758, 508468699, 7.172978845985714},
	protocol.Testnet4: {1752470331, 11414302, 0.2842619757327476},
	protocol.Signet:   {1756723017, 26185472, 0.7452721495389969},
}

// minimumChainWork holds Bitcoin Core's nMinimumChainWork per network, which
// btcd's chaincfg does not carry. The values are those of
// src/kernel/chainparams.cpp in bitcoin/bitcoin at commit 284c42a3ceb9, the
// chain-parameter update of the Bitcoin Core v30 release cycle (assumed-valid
// blocks: mainnet 912,683; testnet3 4,550,000; testnet4 91,000; signet
// 267,665). Regtest has none.
var minimumChainWork = map[protocol.Network]string{
	protocol.Mainnet:  "0000000000000000000000000000000000000000dee8e2a309ad8a9820433c68",
	protocol.Testnet3: "0000000000000000000000000000000000000000000016dd270dd94fac1d7632",
	protocol.Testnet4: "00000000000000000000000000000000000000000000034a4690fe592dc49c7c",
	protocol.Signet:   "0000000000000000000000000000000000000000000000000000067d328e681a",
	protocol.Regtest:  "0000000000000000000000000000000000000000000000000000000000000000",
}

// assumeValid holds Bitcoin Core's defaultAssumeValid per network, from the
// same src/kernel/chainparams.cpp as minimumChainWork (heights 912,683;
// 4,550,000; 91,000; 267,665). Regtest has none.
var assumeValid = map[protocol.Network]string{
	protocol.Mainnet:  "00000000000000000000611fd22f2df7c8fbd0688745c3a6c3bb5109cc2a12cb",
	protocol.Testnet3: "0000000000000065c6c38258e201971a3fdfcc2ceee0dd6e85a6c022d45dee34",
	protocol.Testnet4: "000000000000000180a58e7fa3b0db84b5ea76377524894f53660d93ac839d9b",
	protocol.Signet:   "000000128586e26813922680309f04e1de713c7542fee86ed908f56368aefe2e",
}

// buriedHeights holds Bitcoin Core's activation heights of CSV and segwit
// per network (src/kernel/chainparams.cpp, consensus.CSVHeight and
// SegwitHeight): btcd's chaincfg describes the two as version-bits
// deployments, which a node checking blocks from a buried height does not
// replay.
var buriedHeights = map[protocol.Network]struct{ csv, segwit int32 }{
	protocol.Mainnet:  {419_328, 481_824},
	protocol.Testnet3: {770_112, 834_624},
	protocol.Testnet4: {1, 1},
	protocol.Signet:   {1, 1},
	protocol.Regtest:  {1, 0},
}

// ParamsFor returns the consensus parameters of n, built from btcd's
// chaincfg/v2 parameters plus the values chaincfg lacks or differs on (Core's
// minimum chain work; regtest's one-day timespan, which makes Core's regtest
// period 144 headers). Every call returns a fresh copy, so callers such as
// tests may change its fields. It panics on an unknown network, as
// protocol.Network.Params does.
func ParamsFor(n protocol.Network) *Params {
	cp := n.Params()
	spacing := int64(cp.TargetTimePerBlock.Seconds())
	timespan := int64(cp.TargetTimespan.Seconds())
	if n == protocol.Regtest {
		// Core: consensus.nPowTargetTimespan = 24 * 60 * 60 on regtest.
		timespan = 24 * 60 * 60
	}
	p := &Params{
		Network:            n,
		Genesis:            FromWire(&cp.GenesisBlock.Header),
		GenesisHash:        *cp.GenesisHash,
		PowLimit:           U256FromBig(cp.PowLimit),
		PowLimitBits:       cp.PowLimitBits,
		RetargetInterval:   int32(timespan / spacing),
		TargetTimespan:     timespan,
		TargetSpacing:      spacing,
		NoRetargeting:      cp.PoWNoRetargeting,
		AllowMinDifficulty: cp.ReduceMinDifficulty,
		EnforceBIP94:       cp.EnforceBIP94,
		BIP34Height:        cp.BIP0034Height,
		BIP66Height:        cp.BIP0066Height,
		BIP65Height:        cp.BIP0065Height,
		Checkpoints:        make(map[int32]chainhash.Hash, len(cp.Checkpoints)),
		MaxFutureTime:      2 * 60 * 60,

		SubsidyHalvingInterval: cp.SubsidyReductionInterval,
	}
	if cp.BIP0034Hash != nil {
		p.BIP34Hash = *cp.BIP0034Hash
	}
	for _, c := range cp.Checkpoints {
		p.Checkpoints[c.Height] = *c.Hash
	}
	buried, ok := buriedHeights[n]
	if !ok {
		panic(fmt.Sprintf("consensus: no activation heights for network %q", string(n)))
	}
	p.CSVHeight, p.SegwitHeight = buried.csv, buried.segwit
	work, ok := minimumChainWork[n]
	if !ok {
		panic(fmt.Sprintf("consensus: no minimum chain work for network %q", string(n)))
	}
	p.MinimumChainWork = mustHexU256(work)
	if av, ok := assumeValid[n]; ok {
		h, err := chainhash.NewHashFromStr(av)
		if err != nil {
			panic("consensus: bad assume-valid constant " + av)
		}
		p.AssumeValid = *h
	}
	p.TxData = chainTxData[n]
	return p
}

// mustHexU256 parses 64 big-endian hex digits; it panics on bad input, which
// only the constants above can supply.
func mustHexU256(s string) U256 {
	var a U256
	if len(s) != 64 {
		panic("consensus: bad U256 constant " + s)
	}
	for i := 0; i < 64; i++ {
		c := s[i]
		var d uint64
		switch {
		case '0' <= c && c <= '9':
			d = uint64(c - '0')
		case 'a' <= c && c <= 'f':
			d = uint64(c-'a') + 10
		default:
			panic("consensus: bad U256 constant " + s)
		}
		limb := 3 - i/16
		a[limb] = a[limb]<<4 | d
	}
	return a
}
