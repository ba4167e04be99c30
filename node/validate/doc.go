// Package validate connects blocks to the UTXO set and disconnects them:
// the one writer of the set (node/utxo) and the producer of undo data
// (Bitcoin Core's ConnectBlock and DisconnectBlock).
//
// A block reaches Connect after node/consensus's UTXO-free rules passed.
// Connect checks what needs the set, in Core's order: BIP30 (no unspent
// output overwritten, with Core's exceptions), each input spending an
// existing unspent output, coinbase maturity, value ranges and fees, BIP68
// sequence locks once CSV is active, the sigop cost with P2SH and witness
// sigops, the coinbase's claim against subsidy plus fees, and finally the
// scripts on node/script's worker pool, unless the block is covered by
// -assumevalid. The block's changes are staged in an overlay and reach
// the View only once every rule passed, so a failed block leaves no trace;
// a failure is a *RuleError naming Core's reject reason, the transaction
// and the input.
//
// Connect returns the block's undo data (utxo.BlockUndo: the coins its
// inputs spent); the caller stores it (node/blockstore's rev files) and
// makes it durable before the set is flushed past the block, so a crash can
// always disconnect what the set reflects. Disconnect takes the block and
// its undo data back out.
//
// Connect is Begin then Finish. Begin checks every rule but the scripts
// and starts the scripts on the Verifier's workers; its Pending's View shows
// the set as the block will leave it, so the next block can be begun on it
// (its inputs fetched and checked) while the workers verify this block.
// Finish waits for the scripts and only then writes the block's changes to
// the view below; a failed or abandoned block leaves it untouched, and the
// blocks begun on it must be abandoned too.
//
// Who runs what: the engine calls Begin, Finish and Disconnect from one
// goroutine, the block connector, in chain order, with at most one block
// pending; scripts fan out to the Verifier's workers. Nothing here keeps
// state between calls but the View and the Pending blocks.
package validate
