package main

import (
	"net"
	"testing"
	"time"

	btcdchaincfg "github.com/btcsuite/btcd/chaincfg/v2"
	btcdhash "github.com/btcsuite/btcd/chainhash/v2"
	btcdpeer "github.com/btcsuite/btcd/peer"
	btcdwire "github.com/btcsuite/btcd/wire/v2"
)

// TestBtcdPeerRequestsHeaders: btcd's own peer code (the package btcd's
// node uses for every connection) handshakes with our node and requests
// headers with getheaders; our node answers with btcd-decodable, linked
// batches of 2000 from the locator's fork point.
//
// btcd the program never asks us for headers: it syncs only from peers that
// offer NODE_NETWORK or NODE_NETWORK_LIMITED, because it wants their blocks
// next, and our node serves no blocks, so it does not claim either.
func TestBtcdPeerRequestsHeaders(t *testing.T) {
	const n = 5000
	root := t.TempDir()
	tip := importChain(t, root, n)
	node := startNodeIn(t, root)

	verack := make(chan struct{}, 1)
	headers := make(chan *btcdwire.MsgHeaders, 4)
	p, err := btcdpeer.NewOutboundPeer(&btcdpeer.Config{
		ChainParams:      &btcdchaincfg.RegressionNetParams,
		UserAgentName:    "btcd-peer-test",
		UserAgentVersion: "0.26.2",
		Services:         btcdwire.SFNodeNetwork | btcdwire.SFNodeWitness,
		ProtocolVersion:  70016,
		Listeners: btcdpeer.MessageListeners{
			OnVerAck:  func(*btcdpeer.Peer, *btcdwire.MsgVerAck) { verack <- struct{}{} },
			OnHeaders: func(_ *btcdpeer.Peer, m *btcdwire.MsgHeaders) { headers <- m },
		},
	}, node.p2p)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", node.p2p)
	if err != nil {
		t.Fatal(err)
	}
	p.AssociateConnection(conn)
	defer func() { p.Disconnect(); p.WaitForDisconnect() }()
	select {
	case <-verack:
	case <-time.After(10 * time.Second):
		t.Fatal("no verack from our node")
	}

	genesis := btcdchaincfg.RegressionNetParams.GenesisHash
	locator := []*btcdhash.Hash{genesis}
	var last btcdhash.Hash
	got := 0
	for got < n {
		if err := p.PushGetHeadersMsg(locator, &btcdhash.Hash{}); err != nil {
			t.Fatal(err)
		}
		var m *btcdwire.MsgHeaders
		select {
		case m = <-headers:
		case <-time.After(10 * time.Second):
			t.Fatalf("no headers after %d", got)
		}
		want := min(2000, n-got)
		if len(m.Headers) != want {
			t.Fatalf("batch of %d headers after %d, want %d", len(m.Headers), got, want)
		}
		prev := *genesis
		if got > 0 {
			prev = last
		}
		for _, h := range m.Headers {
			if h.PrevBlock != prev {
				t.Fatalf("header %d does not link", got)
			}
			prev = h.BlockHash()
			got++
		}
		last = prev
		begin := last // a fresh variable: btcd's peer remembers the pointer to filter duplicates
		locator = []*btcdhash.Hash{&begin}
	}
	if last.String() != tip {
		t.Errorf("btcd peer ended at %s, our tip is %s", last, tip)
	}
}
