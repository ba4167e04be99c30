package blockgen

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/node/consensus"
)

// Block limits blockgen fills against, a little under consensus's so the
// header, transaction count and coinbase always fit beside the spends.
const (
	weightBudget = consensus.MaxBlockWeight - 8_000
	sigOpBudget  = consensus.MaxBlockSigOpsCost - 1_000
)

// Spend shapes. A spend normally takes two inputs and makes two outputs,
// which keeps the number of waiting outputs steady; while fewer than
// poolPerTx outputs per wanted spend are waiting (right after coinbase
// maturity), spends fan one input out to fanOut outputs instead.
const (
	poolPerTx = 4
	fanOut    = 8
)

// minBlockBytes bounds every block's size from below (header, count and a
// coinbase of at least one input and output). With Options.TargetBytes it
// bounds how many blocks the target can take, which the timestamps must
// leave room for.
const minBlockBytes = 100

// Stream generates the chain opts describe and calls fn with each block in
// order: its height (from 1), the block and its serialization, which fn may
// keep. Nothing of earlier blocks is kept but the wallet's unspent outputs,
// so chains far larger than memory can be streamed to disk. An error from fn
// stops the generation and is returned as is.
func Stream(opts Options, fn func(height int, b *wire.MsgBlock, raw []byte) error) error {
	g, err := newGenerator(opts)
	if err != nil {
		return err
	}
	var total int64
	var tailEnd int // the tail's last height, set when g.tail begins
	for h := 1; h <= g.maxBlocks; h++ {
		if !g.tail && h > opts.Blocks && (opts.TargetBytes <= 0 || total >= opts.TargetBytes) {
			g.tail, tailEnd = true, h-1+opts.TailBlocks
		}
		if g.tail && h > tailEnd {
			break
		}
		b, err := g.block(h)
		if err != nil {
			return fmt.Errorf("blockgen: block %d: %w", h, err)
		}
		var buf bytes.Buffer
		buf.Grow(b.SerializeSize())
		if err := b.Serialize(&buf); err != nil {
			return fmt.Errorf("blockgen: serializing block %d: %w", h, err)
		}
		total += int64(buf.Len())
		if err := fn(h, b, buf.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// generator is the state of one chain being made.
type generator struct {
	opts   Options
	params *chaincfg.Params
	target consensus.U256
	// first and step place block h at first+(h-1)*step (Unix seconds);
	// maxBlocks is how many blocks that schedule has room for.
	first, step int64
	maxBlocks   int
	prev        chainhash.Hash
	// tail is set once the blocks of Options.TailBlocks begin: they
	// spend nothing.
	tail bool

	// The wallet, with TxPerBlock > 0 only.
	wallet *wallet
	pool   pool
	// maturing holds coinbase outputs in height order until they may be
	// spent.
	maturing []maturingOutput
	// payees counts outputs made, to rotate through the wallet's payees.
	payees uint64
}

// maturingOutput is a coinbase output and the height that made it.
type maturingOutput struct {
	height int
	out    utxo
}

// newGenerator checks opts and lays out the chain's timestamps.
func newGenerator(opts Options) (*generator, error) {
	switch {
	case opts.Blocks < 0:
		return nil, errors.New("blockgen: negative block count")
	case opts.TxPerBlock < 0:
		return nil, errors.New("blockgen: negative transactions per block")
	case opts.TargetBytes < 0:
		return nil, errors.New("blockgen: negative target size")
	case opts.TailBlocks < 0:
		return nil, errors.New("blockgen: negative tail")
	}
	g := &generator{opts: opts, params: &chaincfg.RegressionNetParams, maxBlocks: opts.Blocks}
	g.target = consensus.U256FromBig(g.params.PowLimit)
	g.prev = *g.params.GenesisHash
	if opts.TargetBytes > 0 {
		g.maxBlocks = max(opts.Blocks, int(opts.TargetBytes/minBlockBytes)+1)
	}
	g.maxBlocks += opts.TailBlocks

	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	genesis := g.params.GenesisBlock.Header.Timestamp.Unix()
	g.step = 600
	g.first = opts.Start.Unix()
	switch {
	case !opts.Start.IsZero():
		if g.maxBlocks > 0 {
			g.step = (now.Unix() - g.first) / int64(g.maxBlocks+1)
		}
	case opts.TargetBytes > 0:
		// The block count is known only once the target is reached, so
		// the schedule must fit the most blocks it can take. A second
		// apart, the least that keeps timestamps increasing, keeps the
		// unused part (the tip's distance from Now) to days.
		g.step = 1
		fallthrough
	default:
		g.first = now.Add(-endMargin).Unix() - int64(g.maxBlocks)*g.step
	}
	if g.step < 1 || g.first <= genesis {
		return nil, fmt.Errorf("blockgen: %d blocks do not fit between %v and %v", g.maxBlocks, opts.Start, now)
	}

	if opts.TxPerBlock > 0 {
		w, err := newWallet(opts.Seed)
		if err != nil {
			return nil, fmt.Errorf("blockgen: %w", err)
		}
		g.wallet = w
	}
	return g, nil
}

// block makes and mines the block at height h.
func (g *generator) block(h int) (*wire.MsgBlock, error) {
	var spends []*spend
	if g.wallet != nil && !g.tail {
		g.mature(h)
		spends = g.plan()
		if err := signAll(spends); err != nil {
			return nil, err
		}
	}
	fees := FeePerTx * int64(len(spends))
	cb, cbPayee, err := g.coinbase(h, subsidy(h, g.params)+fees)
	if err != nil {
		return nil, err
	}
	txs := make([]*wire.MsgTx, 0, 1+len(spends))
	txs = append(txs, cb)
	for _, s := range spends {
		txs = append(txs, s.tx)
	}
	if g.wallet != nil {
		addWitnessCommitment(txs)
		g.keepOutputs(h, cb, cbPayee, spends)
	}

	b := &wire.MsgBlock{
		Header: wire.BlockHeader{
			Version:   Version,
			PrevBlock: g.prev,
			Timestamp: time.Unix(g.first+int64(h-1)*g.step, 0),
			Bits:      g.params.PowLimitBits,
		},
		Transactions: txs,
	}
	b.Header.MerkleRoot = merkleRoot(txs)
	g.prev = mine(&b.Header, g.target)
	return b, nil
}

// mature moves the coinbase outputs that may be spent at height h into the
// pool: a coinbase of height c may be spent from c+CoinbaseMaturity.
func (g *generator) mature(h int) {
	n := 0
	for n < len(g.maturing) && g.maturing[n].height+int(g.params.CoinbaseMaturity) <= h {
		g.pool.push(g.maturing[n].out)
		n++
	}
	g.maturing = g.maturing[n:]
}

// plan builds the block's unsigned spends from the pool, oldest outputs
// first, until TxPerBlock spends, an empty pool, or the weight or sigop
// budget stops it. Only outputs of earlier blocks are spent, so the
// block's transactions may be signed in any order.
func (g *generator) plan() []*spend {
	want := g.opts.TxPerBlock
	weight, sigOps := 0, 0
	var spends []*spend
	for len(spends) < want && g.pool.len() > 0 {
		nIn, nOut := 2, 2
		if g.pool.len() < poolPerTx*want {
			nIn, nOut = 1, fanOut
		}
		nIn = min(nIn, g.pool.len())
		// Take the oldest outputs: nIn of them, more if they do not
		// cover the fee and one output.
		var prev []utxo
		var in int64
		w, s := txOverheadWeight+nOut*outputWeight, nOut*maxOutputSigOps
		for i := range g.pool.len() {
			if i >= nIn && in >= FeePerTx+minOutput {
				break
			}
			u := g.pool.items[g.pool.head+i]
			prev = append(prev, u)
			in += u.value
			w += inputWeight[u.payee.kind]
			s += inputSigOps[u.payee.kind]
		}
		if in < FeePerTx+minOutput {
			break // every waiting output together is too small to spend
		}
		if weight+w > weightBudget || sigOps+s > sigOpBudget {
			break
		}
		for range prev {
			g.pool.pop()
		}
		weight, sigOps = weight+w, sigOps+s
		spends = append(spends, g.newSpend(prev, in, nOut))
	}
	return spends
}

// newSpend returns the unsigned transaction spending prev, worth in
// together, into up to nOut outputs of the next payees after the fee.
func (g *generator) newSpend(prev []utxo, in int64, nOut int) *spend {
	tx := wire.NewMsgTx(2)
	s := &spend{tx: tx, prev: prev}
	for _, u := range prev {
		tx.AddTxIn(&wire.TxIn{PreviousOutPoint: u.op, Sequence: wire.MaxTxInSequenceNum})
	}
	value := in - FeePerTx
	nOut = int(min(int64(nOut), value/minOutput))
	each := value / int64(nOut)
	for i := range nOut {
		v := each
		if i == 0 {
			v += value - each*int64(nOut)
		}
		p := g.nextPayee()
		s.outs = append(s.outs, p)
		tx.AddTxOut(&wire.TxOut{Value: v, PkScript: p.pkScript})
	}
	return s
}

// nextPayee returns the wallet's next payee in rotation.
func (g *generator) nextPayee() *payee {
	p := g.wallet.payee(g.payees)
	g.payees++
	return p
}

// keepOutputs remembers the wallet's new outputs: the coinbase's, paying
// cbPayee, until it matures, and the spends' at once (they may be spent
// from the next block on).
func (g *generator) keepOutputs(h int, cb *wire.MsgTx, cbPayee *payee, spends []*spend) {
	g.maturing = append(g.maturing, maturingOutput{height: h, out: utxo{
		op: wire.OutPoint{Hash: cb.TxHash(), Index: 0}, value: cb.TxOut[0].Value, payee: cbPayee,
	}})
	for _, s := range spends {
		id := s.tx.TxHash()
		for j, p := range s.outs {
			g.pool.push(utxo{op: wire.OutPoint{Hash: id, Index: uint32(j)}, value: s.tx.TxOut[j].Value, payee: p})
		}
	}
}

// coinbase pays value to the wallet's next payee, or, with no transaction
// mix, to an anyone-can-spend OP_TRUE output as the first version did. Its
// script starts with the height (BIP34) and adds the seed so chains of
// different seeds differ from their first block.
func (g *generator) coinbase(h int, value int64) (*wire.MsgTx, *payee, error) {
	var tag [8]byte
	binary.LittleEndian.PutUint64(tag[:], g.opts.Seed)
	script, err := txscript.NewScriptBuilder().AddInt64(int64(h)).AddData(tag[:]).Script()
	if err != nil {
		return nil, nil, fmt.Errorf("coinbase script: %w", err)
	}
	pkScript := []byte{txscript.OP_TRUE}
	var p *payee
	if g.wallet != nil {
		p = g.nextPayee()
		pkScript = p.pkScript
	}
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(&wire.TxIn{
		PreviousOutPoint: wire.OutPoint{Index: wire.MaxPrevOutIndex},
		SignatureScript:  script,
		Sequence:         wire.MaxTxInSequenceNum,
	})
	tx.AddTxOut(&wire.TxOut{Value: value, PkScript: pkScript})
	return tx, p, nil
}
