// Package consensus holds the header consensus rules of the node as pure
// functions: proof of work, the difficulty schedule (including the testnet
// 20-minute rule and BIP94), median time past, version minimums, checkpoints
// and chain work.
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
// The rules follow Bitcoin Core (pow.cpp GetNextWorkRequired,
// CalculateNextWorkRequired, CheckProofOfWork, GetBlockProof, and
// validation.cpp ContextualCheckBlockHeader) so that a header is valid here
// exactly when Core accepts it at the header stage.
package consensus
