package engine

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/peer"
	"github.com/watchnode/watchnode/node/protocol"
)

// fuzzCommands are the commands FuzzEngineMessages picks from by index.
var fuzzCommands = []string{
	wire.CmdVersion, wire.CmdVerAck, wire.CmdPing, wire.CmdPong, wire.CmdGetAddr, wire.CmdAddr,
	wire.CmdAddrV2, wire.CmdInv, wire.CmdGetData, wire.CmdNotFound, wire.CmdGetHeaders,
	wire.CmdHeaders, wire.CmdBlock, wire.CmdTx, wire.CmdSendHeaders, wire.CmdFeeFilter,
	wire.CmdSendAddrV2, wire.CmdWTxIdRelay, protocol.CmdSendCmpct, protocol.CmdSendTxRcncl,
	wire.CmdMerkleBlock, wire.CmdCFilter, wire.CmdReject, wire.CmdFilterLoad, wire.CmdMemPool,
	"unknowncmd",
}

// FuzzEngineMessages feeds arbitrary sequences of decodable messages, with
// clock jumps between them, to a handshaking and an established peer. The
// engine must never panic, must record a reason for every drop, and must
// keep every outbound queue within its hard bound.
func FuzzEngineMessages(f *testing.F) {
	enc := func(parts ...[]byte) []byte {
		var out []byte
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	entry := func(cmd int, tick byte, msg wire.Message) []byte {
		payload, _ := protocol.Encode(msg)
		hdr := []byte{byte(cmd), tick, 0, 0}
		binary.LittleEndian.PutUint16(hdr[2:], uint16(len(payload)))
		return append(hdr, payload...)
	}
	f.Add(enc(entry(2, 0, wire.NewMsgPing(1)), entry(3, 200, wire.NewMsgPong(1))))
	f.Add(enc(entry(0, 0, peerVersion(70016)), entry(1, 1, wire.NewMsgVerAck()), entry(4, 0, wire.NewMsgGetAddr())))
	f.Add(enc(entry(17, 0, wire.NewMsgWTxIdRelay()), entry(9, 5, wire.NewMsgNotFound()), entry(13, 255, wire.NewMsgTx(1))))
	f.Fuzz(func(t *testing.T, data []byte) {
		h := newTestEngine(t)
		fresh := h.connectFakePeer(false)
		est := h.established(true)
		peers := []*peerState{fresh, est}
		for i := 0; len(data) >= 4; i++ {
			cmd := fuzzCommands[int(data[0])%len(fuzzCommands)]
			tick := time.Duration(data[1]) * 10 * time.Second
			n := int(binary.LittleEndian.Uint16(data[2:4]))
			data = data[4:]
			n = min(n, len(data))
			payload := data[:n]
			data = data[n:]
			msg, err := protocol.Decode(cmd, payload)
			if err != nil {
				continue // the reader drops such peers before the engine sees them
			}
			p := peers[i%2]
			if h.alive(p) {
				p.in.Push(peer.Inbound{Msg: msg, Command: cmd, Size: protocol.HeaderSize + n, Received: h.now()})
				h.serveAll()
			}
			if tick > 0 {
				h.e.tick(h.clock.Advance(tick))
			}
			for _, q := range peers {
				if h.alive(q) && q.out.Bytes() > 2*outQueueLimit+protocol.MaxPayload {
					t.Fatalf("peer %d outbound queue holds %d bytes", q.id, q.out.Bytes())
				}
				drainFrames(q)
			}
		}
		for _, d := range h.e.disconnects {
			if d.Reason == "" || d.Kind == "" {
				t.Fatalf("disconnect without a reason: %+v", d)
			}
		}
	})
}
