package p2p_test

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/internal/sim"
	"github.com/watchnode/watchnode/node/netsync"
	"github.com/watchnode/watchnode/node/protocol"
)

// fuzzCommands are the commands FuzzCoreMessages picks from by index.
var fuzzCommands = []string{
	wire.CmdVersion, wire.CmdVerAck, wire.CmdPing, wire.CmdPong, wire.CmdGetAddr, wire.CmdAddr,
	wire.CmdAddrV2, wire.CmdInv, wire.CmdGetData, wire.CmdNotFound, wire.CmdGetHeaders,
	wire.CmdHeaders, wire.CmdBlock, wire.CmdTx, wire.CmdSendHeaders, wire.CmdFeeFilter,
	wire.CmdSendAddrV2, wire.CmdWTxIdRelay, protocol.CmdSendCmpct, protocol.CmdSendTxRcncl,
	wire.CmdMerkleBlock, wire.CmdCFilter, wire.CmdReject, wire.CmdFilterLoad, wire.CmdMemPool,
	"unknowncmd",
}

// FuzzCoreMessages feeds arbitrary sequences of frames (any payload: the
// reader's own decoder judges them), with clock jumps between them, to a
// handshaking and an established peer. The core must never panic, must
// record a reason for every drop, and every invariant (queues within their
// bounds, no request lost, nothing referring to a dropped peer) must hold
// after every step.
func FuzzCoreMessages(f *testing.F) {
	entry := func(cmd int, tick byte, msg wire.Message) []byte {
		payload, _ := protocol.Encode(msg)
		hdr := []byte{byte(cmd), tick, 0, 0}
		binary.LittleEndian.PutUint16(hdr[2:], uint16(len(payload)))
		return append(hdr, payload...)
	}
	join := func(parts ...[]byte) []byte {
		var out []byte
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	v := wire.NewMsgVersion(wire.NewNetAddressIPPort(nil, 0, 0), wire.NewNetAddressIPPort(nil, 0, 0), 7, 0)
	v.ProtocolVersion = 70016
	f.Add(join(entry(2, 0, wire.NewMsgPing(1)), entry(3, 200, wire.NewMsgPong(1))))
	f.Add(join(entry(0, 0, v), entry(1, 1, wire.NewMsgVerAck()), entry(4, 0, wire.NewMsgGetAddr())))
	f.Add(join(entry(17, 0, wire.NewMsgWTxIdRelay()), entry(9, 5, wire.NewMsgNotFound()), entry(13, 255, wire.NewMsgTx(1))))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Blocks on: block, notfound and getdata frames reach the block
		// download and serving paths too.
		h := sim.NewHarness(t, sim.NodeConfig{Blocks: &netsync.BlockStart{}})
		fresh := h.Connect(false)
		est := h.Established(true)
		peers := []*sim.Remote{fresh, est}
		for i := 0; len(data) >= 4; i++ {
			cmd := fuzzCommands[int(data[0])%len(fuzzCommands)]
			tick := time.Duration(data[1]) * 10 * time.Second
			n := int(binary.LittleEndian.Uint16(data[2:4]))
			data = data[4:]
			n = min(n, len(data))
			frame, err := protocol.AppendFrame(nil, protocol.Regtest.Magic(), cmd, data[:n])
			data = data[n:]
			if err != nil {
				t.Fatal(err)
			}
			if r := peers[i%2]; r.Alive() {
				r.SendBytes(frame)
			}
			if tick > 0 {
				h.Advance(tick)
				h.Tick()
			}
			for _, r := range peers {
				r.Read()
			}
		}
		for _, d := range h.N.Snapshot().Disconnects {
			if d.Reason == "" || d.Kind == "" {
				t.Fatalf("disconnect without a reason: %+v", d)
			}
		}
	})
}
