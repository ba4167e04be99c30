package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/watchnode/watchnode/node/chain"
)

// ErrUnknownHeader is returned for a height or hash the chain does not hold.
var ErrUnknownHeader = errors.New("unknown header")

// ErrBadKey is returned for a key that is neither a height nor a hash.
var ErrBadKey = errors.New("neither a height nor a 64-digit hash")

// HeaderView describes one header for the API.
type HeaderView struct {
	Hash       string    `json:"hash"`
	Height     int32     `json:"height"`
	Version    int32     `json:"version"`
	PrevBlock  string    `json:"prev_block"`
	MerkleRoot string    `json:"merkle_root"`
	Time       time.Time `json:"time"`
	Bits       string    `json:"bits"` // compact target, 8 hex digits as in Core's RPC
	Nonce      uint32    `json:"nonce"`
	ChainWork  string    `json:"chain_work"`
	MainChain  bool      `json:"main_chain"`
	Next       string    `json:"next,omitempty"` // the next main-chain header's hash
}

// TipView describes a chain tip for the API.
type TipView struct {
	Hash         string `json:"hash"`
	Height       int32  `json:"height"`
	BranchLength int32  `json:"branch_length"`
	Status       string `json:"status"`
	ChainWork    string `json:"chain_work"`
}

// Header looks a header up by height (main chain) or by hash (main chain or
// fork) in the latest published view of the chain. It never involves the
// engine goroutine.
func (e *Engine) Header(_ context.Context, key string) (HeaderView, error) {
	return HeaderOf(e.Snapshot().Chain, key)
}

// HeaderOf looks a header up in view by height or hash.
func HeaderOf(view *chain.View, key string) (HeaderView, error) {
	info, err := lookupHeader(view, key)
	if err != nil {
		return HeaderView{}, err
	}
	return headerView(view, info), nil
}

// lookupHeader finds a header by main-chain height or by hash.
func lookupHeader(view *chain.View, key string) (chain.HeaderInfo, error) {
	if h, err := strconv.ParseInt(key, 10, 32); err == nil {
		if h < 0 || int32(h) > view.Height() {
			return chain.HeaderInfo{}, fmt.Errorf("%w: no main-chain header at height %d (tip %d)", ErrUnknownHeader, h, view.Height())
		}
		return view.InfoAt(int32(h)), nil
	}
	hash, err := chainhash.NewHashFromStr(key)
	if err != nil || len(key) != 64 {
		return chain.HeaderInfo{}, fmt.Errorf("%q is %w", key, ErrBadKey)
	}
	info, ok := view.Lookup(hash)
	if !ok {
		return chain.HeaderInfo{}, fmt.Errorf("%w: %s", ErrUnknownHeader, hash)
	}
	return info, nil
}

func headerView(view *chain.View, info chain.HeaderInfo) HeaderView {
	v := HeaderView{
		Hash: info.Hash.String(), Height: info.Height, Version: info.Header.Version,
		PrevBlock: info.Header.PrevBlock.String(), MerkleRoot: info.Header.MerkleRoot.String(),
		Time: time.Unix(int64(info.Header.Timestamp), 0).UTC(), Bits: fmt.Sprintf("%08x", info.Header.Bits),
		Nonce: info.Header.Nonce, ChainWork: info.Work.Hex(), MainChain: info.Main,
	}
	if info.Main && info.Height < view.Height() {
		v.Next = view.HashAt(info.Height + 1).String()
	}
	return v
}

// Tips returns the active tip and every fork tip, from the latest view.
func (e *Engine) Tips(context.Context) ([]TipView, error) {
	var out []TipView
	for _, t := range e.Snapshot().Chain.Tips() {
		out = append(out, TipView{Hash: t.Hash.String(), Height: t.Height, BranchLength: t.BranchLength, Status: t.Status, ChainWork: t.Work.Hex()})
	}
	return out, nil
}
