// Package script checks the scripts of a block's inputs: it adapts btcd's
// script engine (txscript/v2) to full block validation. It owns three
// things: which script rules apply to a block (Flags), what its
// transactions cost in signature operations (SigOpCost), and running every
// input's scripts on a pool of goroutines (Verifier). It does not own the
// outputs being spent: the caller (node/validate, over node/utxo) looks
// them up and passes them in, so this package does no I/O and keeps no
// chain state.
//
// # Who runs what
//
// NewVerifier starts the workers (runtime.GOMAXPROCS(0) by default) and
// they live until Close. Start is called by the validating goroutine: it
// checks the shape of the prevouts, numbers the block's inputs (the
// coinbase's excepted) and queues the block as one Check, then returns at
// once, so that goroutine can fetch the next block's prevouts from the UTXO
// set while the workers verify this one. The workers take each check's
// inputs in chunks of up to 32 (about a quarter of a worker's share of the
// block when it is small), oldest check first; claiming a chunk is the only
// lock they take per batch of inputs. For each transaction the first
// worker to reach it computes the BIP143/BIP341 sighash midstate
// (txscript.NewTxSigHashes) once, if any input carries a witness; every
// other worker reuses it. Each worker owns a prevout fetcher backed by the
// caller's slices, so nothing of ours is allocated per input (txscript's
// NewEngine allocates its engine, which its API leaves no way around).
//
// Wait reports the lowest failing input in block order (transaction, then
// input), as an *InputError wrapping txscript's error, or nil. Once an input
// fails, inputs after it are skipped, those before it still run: the
// answer is then the same whatever the scheduling, and a valid block costs
// the same as before. Cancel drops the chunks not yet taken (for a block
// that failed another rule) and Wait returns once the workers have
// finished the input they hold; after Wait returns no worker touches the
// block. The signature cache (txscript.NewSigCache) is shared by all
// checks and made by the first Start (a spend verifyStandard settles
// never reaches it). Checks started while another runs
// queue behind it, so a caller that starts the next block before waiting
// for this one (node/validate's Begin) keeps every worker busy across the
// end of a block.
//
// # libsecp256k1
//
// Verifying signatures is nearly all of a validating IBD's work, and
// btcec (the dcrd curve txscript uses) takes about four times as long as
// libsecp256k1, Bitcoin Core's library: 123 µs against 31 µs an ECDSA
// verification on the benchmark machine, 148 µs against 39 µs a BIP340
// one. A build with the libsecp256k1 tag (and cgo; the Makefile's
// default) links the system's libsecp256k1 (curve_libsecp256k1.go);
// without it (curve_none.go, and always for js/wasm) txscript verifies
// everything itself, and Verifier.SignatureLibrary says which it is.
//
// txscript offers no way to plug in another curve, so the library is
// used before txscript, by verifyStandard (standard.go). It settles the
// spends that carry nearly every signature, when they are made in
// exactly the standard way: P2PK, P2PKH, P2WPKH bare or in P2SH, m-of-n
// multisig bare, in P2SH, in P2WSH or in P2SH-P2WSH with exactly m
// signatures and an empty dummy, and taproot's key path and "<key>
// OP_CHECKSIG" leaf without an annex. For those byte patterns a script's
// run is fixed, so its outcome is a short list of checks: the key's or
// script's hash, the shape of the scriptSig and the witness, the size of
// every item, the multisig walk in CHECKMULTISIG's order, the taproot
// commitment, and the signatures, with the sighash from txscript's
// exported functions and the curve work done by libsecp256k1. A spend it
// settles as valid skips txscript. Anything else (another template, an
// unusual encoding, a policy flag, a signature that does not verify) is
// refused and goes to txscript, which gives the verdict and the error. A
// refusal never rejects a block, so the one way verifyStandard can be
// wrong is to accept what txscript rejects, and that is what its tests
// look for: TestStandardNeverAcceptsWhatTxscriptRejects changes every
// byte, shape and flag of a spend of each kind;
// TestStandardRefusesWhatScriptsForbid signs spends whose signatures are
// valid but whose scripts are not; FuzzVerifyStandard compares verdicts
// on arbitrary transactions. Every other suite (btcd's mainnet blocks and
// fullblocktests, the bad-signature chains) runs through it too.
//
// Decision: an earlier version handed libsecp256k1's verdicts to txscript
// through its signature cache and left every rule to txscript. That kept
// btcec parsing every key, and verifying every multisig try but one
// (BENCHMARKS.md): against btcd, the validating IBD went from 1.6 to 3.0
// times faster when verifyStandard replaced it.
//
// # Flags
//
// Flags follows Bitcoin Core's GetBlockScriptFlags rather than the BIPs'
// activation rules: P2SH, WITNESS and TAPROOT apply to every block from
// genesis, except the blocks in Core's script_flag_exceptions (mainnet's
// BIP16 and taproot exception blocks, testnet3's BIP16 one), and DERSIG,
// CHECKLOCKTIMEVERIFY, CHECKSEQUENCEVERIFY and NULLDUMMY apply from the
// buried heights of BIP66, BIP65, CSV and segwit in consensus.Params.
//
// Decision: P2SH from genesis with exceptions, not from BIP16's switch
// time (1 April 2012, by block timestamp). Core made this change because
// exactly one historical block on mainnet (and one on testnet3) breaks the
// P2SH rules, so enforcing them everywhere except there accepts the same
// chain while removing a time-based rule; likewise witness and taproot
// rules are harmless before their activation because no earlier block
// spends a witness program (taproot's one exception aside). Following Core
// means a block is judged here exactly as Core judges it, and Flags needs
// only the block's height and hash, never its timestamp or version-bits
// state. The price is that a different chain (a fork below 2012, or a test
// chain reusing mainnet's early history) spending P2SH before the switch
// time would be rejected where BIP16 would accept it, a risk Core took
// on for the same simplicity.
//
// # Equivalence with Core
//
// Script semantics are btcd's: txscript is the engine btcd validates
// mainnet with, and the tests run it over btcd's first 14,132 real mainnet
// blocks and over generated chains spending every common output type. A
// difference between btcd and Core in some corner of script semantics
// would be a difference here too.
package script
