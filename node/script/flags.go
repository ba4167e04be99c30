package script

import (
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"

	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/protocol"
)

// Core's consensus script flags in txscript's names. btcd calls NULLDUMMY
// (BIP147: CHECKMULTISIG's extra item must be empty) ScriptStrictMultiSig.
const (
	flagP2SH      = txscript.ScriptBip16
	flagWitness   = txscript.ScriptVerifyWitness
	flagTaproot   = txscript.ScriptVerifyTaproot
	flagDERSig    = txscript.ScriptVerifyDERSignatures
	flagCLTV      = txscript.ScriptVerifyCheckLockTimeVerify
	flagCSV       = txscript.ScriptVerifyCheckSequenceVerify
	flagNullDummy = txscript.ScriptStrictMultiSig
)

// flagException is one block that is checked with other base flags than
// P2SH, WITNESS and TAPROOT.
type flagException struct {
	network protocol.Network
	hash    string
	flags   txscript.ScriptFlags
}

// flagExceptions are Bitcoin Core's consensus.script_flag_exceptions: the
// only blocks of the real chains that break a rule Flags otherwise applies
// from genesis. Each spends an output in a way the later rule forbids,
// before that rule activated, so checking them with it would reject the
// real chain. The hashes were compared with src/kernel/chainparams.cpp of
// bitcoin/bitcoin at commit 284c42a3ceb9 (CMainParams and CTestNetParams;
// testnet4, signet and regtest have none).
var flagExceptions = []flagException{
	// Mainnet block 170,060, the one block that breaks the P2SH rules,
	// mined before BIP16 was enforced (1 April 2012).
	{protocol.Mainnet, "00000000000002dc756eebf4f49723ed8d30cc28a5f108eb94b1ba88ac4f9c22", 0},
	// Mainnet block 692,261, the one block that breaks the taproot
	// rules, mined before taproot activated at 709,632.
	{protocol.Mainnet, "0000000000000000000f14c35b2d841e986ab5441de8c585d5ffe55ea1e395ad", flagP2SH | flagWitness},
	// Testnet3's own BIP16 exception.
	{protocol.Testnet3, "00000000dd30457c001f4095d208cc1296b0eed002427aa599874af7a432b105", 0},
}

// exceptionFlags returns the base flags of the block with hash on network n
// if it is one of Core's exceptions.
func exceptionFlags(n protocol.Network, hash *chainhash.Hash) (txscript.ScriptFlags, bool) {
	s := hash.String()
	for i := range flagExceptions {
		e := &flagExceptions[i]
		if e.network == n && e.hash == s {
			return e.flags, true
		}
	}
	return 0, false
}

// Flags returns the script verification flags for the block at height
// with hash on p's network, as Bitcoin Core's GetBlockScriptFlags
// (src/validation.cpp) chooses them: P2SH, WITNESS and TAPROOT for every
// block from genesis except Core's script_flag_exceptions (mainnet's BIP16
// exception block gets none, its taproot exception block P2SH and WITNESS,
// testnet3's BIP16 exception block none); DERSIG from p.BIP66Height,
// CHECKLOCKTIMEVERIFY from p.BIP65Height, CHECKSEQUENCEVERIFY from
// p.CSVHeight and NULLDUMMY from p.SegwitHeight, each at and above that
// height. The result holds only consensus flags, never policy ones.
func Flags(p *consensus.Params, height int32, hash chainhash.Hash) txscript.ScriptFlags {
	flags := flagP2SH | flagWitness | flagTaproot
	if f, ok := exceptionFlags(p.Network, &hash); ok {
		flags = f
	}
	if height >= p.BIP66Height {
		flags |= flagDERSig
	}
	if height >= p.BIP65Height {
		flags |= flagCLTV
	}
	if height >= p.CSVHeight {
		flags |= flagCSV
	}
	if height >= p.SegwitHeight {
		flags |= flagNullDummy
	}
	return flags
}
