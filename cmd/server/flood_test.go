package main

import (
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/internal/chaingen"
	"github.com/watchnode/watchnode/node/engine"
	"github.com/watchnode/watchnode/node/p2p"
)

// Defect 8: thirty inbound peers that each filled their inbound queue (1 MB
// of small messages, or of headers) while the engine was busy grew the
// node's resident memory by about 470 MB (15.6 MB a peer: queues counted
// wire bytes while decoded messages cost far more). Now each peer can make
// the node keep at most its inbound floor, its outbound account and a
// connection's fixed buffers, plus a share of the pool shared by all. A
// hundred peers flood at once, half with 1 MB of pings, half with 1 MB of
// headers, faster than one engine handles them, so their queues fill: the
// peak resident growth stays within the stated bound. (The node under test is built without the race
// detector: its memory is what is measured.)
func TestFloodingPeersStayWithinTheMemoryBound(t *testing.T) {
	useBenchBinary(t)
	const peers = 100
	node := startNode(t, "-maxpeers=125")
	time.Sleep(300 * time.Millisecond)
	// The header flooders' chain: 6 full headers messages (1 MB).
	var chain []byte
	hs := chaingen.Generate(6*2000, chaingen.Options{Seed: 100})
	for m := range 6 {
		hm := wire.NewMsgHeaders()
		for j := range 2000 {
			hm.AddBlockHeader(&hs[m*2000+j])
		}
		chain = append(chain, regtestMsg(t, hm)...)
	}
	var pings []byte
	for i := range 31_250 { // 1 MB
		pings = append(pings, regtestMsg(t, wire.NewMsgPing(uint64(i)))...)
	}
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	// A small receive buffer: the peers' kernels take only a few of the
	// node's pongs before the node's writes block, as a peer that never
	// reads would have it.
	dialer := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
	}}
	for i := range peers {
		c, err := dialer.Dial("tcp", node.p2p)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		hello := append(versionFrame(t, "/flooder/", uint64(7000+i)), regtestMsg(t, wire.NewMsgVerAck())...)
		if _, err := c.Write(hello); err != nil {
			t.Fatal(err)
		}
	}
	node.waitFor(30*time.Second, "every peer established", func() bool {
		n := 0
		for _, pi := range node.peers() {
			if pi.Established {
				n++
			}
		}
		return n == peers
	})
	time.Sleep(300 * time.Millisecond)
	base, err := rssBytes(node.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	// Flood, and never read.
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			c.SetWriteDeadline(time.Now().Add(60 * time.Second))
			var err error
			if i%2 == 1 {
				_, err = c.Write(chain)
			} else {
				_, err = c.Write(pings)
			}
			if err != nil {
				t.Logf("peer %d: %v", i, err)
			}
		})
	}
	// Until the floods are written and handled, the peak resident size and
	// the fullest the queues got.
	var st engine.Status
	peak, maxIn := base, 0
	floods := make(chan struct{})
	go func() { wg.Wait(); close(floods) }()
	node.waitFor(2*time.Minute, "the floods to be handled", func() bool {
		if rss, err := rssBytes(node.cmd.Process.Pid); err == nil {
			peak = max(peak, rss)
		}
		node.get("/api/status", &st)
		maxIn = max(maxIn, st.InQueueBytes)
		select {
		case <-floods:
			return st.MsgsRecv[wire.CmdPing].Messages == peers/2*31_250 && st.MsgsRecv[wire.CmdHeaders].Messages == peers/2*6 && st.InQueueBytes == 0
		default:
			return false
		}
	})
	grown := peak - base
	// The stated bound: per peer its inbound floor; its outbound account,
	// twice OutQueueLimit plus controlReplies; and 160 KiB of connection
	// buffers and goroutine stacks; the pool once; then, since the heap may
	// grow half again past what is live before it is collected (GOGC=50),
	// half as much again. controlReplies is the allowance p2p.MaxOutQueue
	// makes for control messages queued past twice OutQueueLimit while a
	// peer is paused; MaxOutQueue's other term, one bulk message, does not
	// apply: nothing bulk is sent to the flooders.
	const controlReplies = 64 << 10
	perPeer := int64(p2p.InQueueFloor + 2*p2p.OutQueueLimit + controlReplies + 160<<10)
	bound := (peers*perPeer + p2p.InQueuePool) * 3 / 2
	t.Logf("%d flooding peers: in-queues up to %d KiB; peak RSS %d MiB above the idle node's (bound %d MiB; before the fix: ~15.6 MiB a peer)",
		peers, maxIn>>10, grown>>20, bound>>20)
	if grown > bound {
		t.Fatalf("RSS grew by %d bytes, bound %d", grown, bound)
	}
}
