// Package consensus holds the consensus rules of the node as pure
// functions: for headers, proof of work, the difficulty schedule (including
// the testnet 20-minute rule and BIP94), median time past, version minimums,
// checkpoints and chain work; for blocks, the rules that need no UTXO set.
//
// Each rule is a small named function whose comment states its invariant in
// plain English ("A header MUST ..."); Rules composes them, cheapest first,
// and CheckHeader runs them in order and reports the first one broken as a
// *RuleError. The rules read only what a Context gives them: the network's
// Params, the parent and its ancestors (through the Ancestors interface), and
// the current time as a plain number. The package does no I/O, reads no
// clock, keeps no state between calls and builds for js/wasm.
//
// The per-header path (Header.Hash, CheckHeader, Work through a WorkCache) is
// written for a node that validates millions of headers a second: 256-bit
// arithmetic uses the fixed-size U256 rather than math/big, and nothing on
// that path allocates unless a rule fails.
//
// Blocks (block.go, merkle.go, block_rules.go): NewBlock pairs a decoded
// wire.MsgBlock with its raw bytes and hashes every transaction from those
// bytes once, on the peer's reader goroutine. The block rules come in two
// lists. MutationRules (merkle root, CVE-2012-2459 repeats, 64-byte
// transactions, the witness commitment) ask whether the bytes are the block
// the header names: breaking one blames the peer that sent them, never the
// header, because another peer may send the real block (Core's
// IsBlockMutated). BlockRules (Core's CheckBlock and ContextualCheckBlock:
// coinbase, sizes, well-formed transactions, legacy sigops, finality by
// BIP113, BIP34 heights, weight) ask whether that block is valid: breaking
// one marks the block and its descendants failed. Each error is a
// *BlockRuleError naming the rule and quoting Core's reject reason.
//
// The rules follow Bitcoin Core (pow.cpp GetNextWorkRequired,
// CalculateNextWorkRequired, CheckProofOfWork, GetBlockProof, and
// validation.cpp ContextualCheckBlockHeader) so that a header is valid here
// exactly when Core accepts it at the header stage.
package consensus
