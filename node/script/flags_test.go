package script

import (
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"

	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/protocol"
)

func mustHash(t *testing.T, s string) chainhash.Hash {
	t.Helper()
	h, err := chainhash.NewHashFromStr(s)
	if err != nil {
		t.Fatal(err)
	}
	return *h
}

// TestFlags checks the flags just below and at every activation height of
// mainnet, testnet3 and regtest, and Core's exception blocks. The heights
// are written out, not read from Params, so a wrong height in Params
// fails here too.
func TestFlags(t *testing.T) {
	const base = txscript.ScriptBip16 | txscript.ScriptVerifyWitness | txscript.ScriptVerifyTaproot
	const (
		der  = txscript.ScriptVerifyDERSignatures
		cltv = txscript.ScriptVerifyCheckLockTimeVerify
		csv  = txscript.ScriptVerifyCheckSequenceVerify
		null = txscript.ScriptStrictMultiSig
	)
	// Any hash that is no exception.
	var other chainhash.Hash
	other[0] = 1

	type row struct {
		net    protocol.Network
		height int32
		hash   chainhash.Hash
		want   txscript.ScriptFlags
	}
	rows := []row{
		{protocol.Mainnet, 0, other, base},
		{protocol.Mainnet, 363_724, other, base},
		{protocol.Mainnet, 363_725, other, base | der},
		{protocol.Mainnet, 388_380, other, base | der},
		{protocol.Mainnet, 388_381, other, base | der | cltv},
		{protocol.Mainnet, 419_327, other, base | der | cltv},
		{protocol.Mainnet, 419_328, other, base | der | cltv | csv},
		{protocol.Mainnet, 481_823, other, base | der | cltv | csv},
		{protocol.Mainnet, 481_824, other, base | der | cltv | csv | null},
		{protocol.Mainnet, 900_000, other, base | der | cltv | csv | null},
		// The exceptions: mainnet's BIP16 block (170,060) has no flags,
		// its taproot block (692,261) P2SH and WITNESS plus the buried
		// deployments active by then.
		{protocol.Mainnet, 170_060, mustHash(t, "00000000000002dc756eebf4f49723ed8d30cc28a5f108eb94b1ba88ac4f9c22"), 0},
		{protocol.Mainnet, 692_261, mustHash(t, "0000000000000000000f14c35b2d841e986ab5441de8c585d5ffe55ea1e395ad"),
			txscript.ScriptBip16 | txscript.ScriptVerifyWitness | der | cltv | csv | null},
		// Testnet3's exception is not mainnet's.
		{protocol.Mainnet, 514, mustHash(t, "00000000dd30457c001f4095d208cc1296b0eed002427aa599874af7a432b105"), base},

		{protocol.Testnet3, 0, other, base},
		{protocol.Testnet3, 330_775, other, base},
		{protocol.Testnet3, 330_776, other, base | der},
		{protocol.Testnet3, 581_884, other, base | der},
		{protocol.Testnet3, 581_885, other, base | der | cltv},
		{protocol.Testnet3, 770_111, other, base | der | cltv},
		{protocol.Testnet3, 770_112, other, base | der | cltv | csv},
		{protocol.Testnet3, 834_623, other, base | der | cltv | csv},
		{protocol.Testnet3, 834_624, other, base | der | cltv | csv | null},
		{protocol.Testnet3, 514, mustHash(t, "00000000dd30457c001f4095d208cc1296b0eed002427aa599874af7a432b105"), 0},
		// Mainnet's exceptions are not testnet3's.
		{protocol.Testnet3, 170_060, mustHash(t, "00000000000002dc756eebf4f49723ed8d30cc28a5f108eb94b1ba88ac4f9c22"), base},

		// Regtest: segwit (so NULLDUMMY) from genesis, the rest from 1.
		{protocol.Regtest, 0, other, base | null},
		{protocol.Regtest, 1, other, base | der | cltv | csv | null},
		{protocol.Regtest, 150, other, base | der | cltv | csv | null},

		// Testnet4 and signet: everything from height 1, no exceptions.
		{protocol.Testnet4, 0, other, base},
		{protocol.Testnet4, 1, other, base | der | cltv | csv | null},
		{protocol.Signet, 1, other, base | der | cltv | csv | null},
	}
	for _, r := range rows {
		got := Flags(consensus.ParamsFor(r.net), r.height, r.hash)
		if got != r.want {
			t.Errorf("%s height %d hash %s: flags %#x, want %#x", r.net, r.height, r.hash, uint32(got), uint32(r.want))
		}
	}
}

// TestFlagExceptionsParse checks that every exception hash is 64 hex
// digits naming a hash, so a typo cannot make one silently never match.
func TestFlagExceptionsParse(t *testing.T) {
	if len(flagExceptions) != 3 {
		t.Fatalf("%d exceptions, want Core's 3", len(flagExceptions))
	}
	for _, e := range flagExceptions {
		h, err := chainhash.NewHashFromStr(e.hash)
		if err != nil || h.String() != e.hash {
			t.Errorf("exception %q does not round-trip as a hash (%v)", e.hash, err)
		}
	}
}
