package inspect

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/watchnode/watchnode/node/protocol"
)

// readPacketCaptureInput lists the messages of every TCP connection of a
// pcap or pcapng file, both directions, in capture time order. Bytes that
// were never captured become an error entry, and framing resumes at the
// next message header after them. A BIP324 connection is decrypted when
// keys names it, and otherwise labelled as one.
func readPacketCaptureInput(name string, data []byte, keys []protocol.V2KeyLogEntry) []Entry {
	pc, err := ReadPacketCapture(data)
	var out []Entry
	for _, st := range pc.Streams {
		conn := st.Client.String() + " ⇄ " + st.Server.String()
		if v2 := (&v2Conn{name: name, connection: conn, st: st, keys: keys}); v2.looksV2() {
			out = append(out, v2.entries()...)
			continue
		}
		out = append(out, streamEntries(name, st.ToServer, DirectionToServer, st.Client, st.Server, conn)...)
		out = append(out, streamEntries(name, st.ToClient, DirectionToClient, st.Server, st.Client, conn)...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	if err != nil {
		e := errorEntry(name, 0, err.Error())
		if ce, ok := err.(*CaptureError); ok {
			e.Offset = ce.Offset
		}
		if len(out) > 0 {
			e.at = out[len(out)-1].at
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		out = append(out, errorEntry(name, 0, fmt.Sprintf(
			"no TCP payload in this %s capture (%d packets, %d not TCP)", pc.Format, pc.Packets, pc.Ignored)))
	}
	return out
}

// streamEntries frames one direction of a connection.
func streamEntries(name string, sd StreamData, direction string, from, to netip.AddrPort, conn string) []Entry {
	if len(sd.Data) == 0 && len(sd.Gaps) == 0 {
		return nil
	}
	f := &framer{name: name, direction: direction, from: from.String(), to: to.String(), connection: conn, timeOf: streamTimeOf(sd)}
	var out []Entry
	start, resync := 0, false
	for _, g := range sd.Gaps {
		if g.Offset > start {
			out = append(out, f.framesAt(sd.Data[start:g.Offset], start, resync)...)
		}
		out = append(out, f.errorAt(g.Offset, fmt.Sprintf(
			"%d bytes of this direction were never captured; decoding resumes at the next message header", g.Length)))
		start, resync = g.Offset, true
	}
	if start < len(sd.Data) {
		out = append(out, f.framesAt(sd.Data[start:], start, resync)...)
	}
	return out
}

// streamTimeOf returns the function giving the time the bytes [start,
// end) of sd were all captured, or nil when sd has no times.
func streamTimeOf(sd StreamData) func(start, end int) time.Time {
	if len(sd.Marks) == 0 {
		return nil
	}
	return func(start, end int) time.Time {
		// The latest time of any packet carrying bytes [start, end): a
		// message exists once all its bytes arrived, and reordered
		// segments may bring its beginning last.
		i := max(sort.Search(len(sd.Marks), func(i int) bool { return sd.Marks[i].Offset > start })-1, 0)
		latest := sd.Marks[i].Time
		for i++; i < len(sd.Marks) && sd.Marks[i].Offset < end; i++ {
			if sd.Marks[i].Time.After(latest) {
				latest = sd.Marks[i].Time
			}
		}
		return latest
	}
}

// firstKnownMagic returns the offset of the earliest supported network
// magic in data, or -1: where framing can start after bytes were lost
// before the network was known.
func firstKnownMagic(data []byte) int {
	best := -1
	for _, n := range protocol.Networks {
		var m [4]byte
		binary.LittleEndian.PutUint32(m[:], uint32(n.Magic()))
		if i := bytes.Index(data, m[:]); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	return best
}
