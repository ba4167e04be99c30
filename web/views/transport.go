package views

import (
	"github.com/watchnode/watchnode/node/engine"
	"github.com/watchnode/watchnode/node/peer"
)

// The transports a peer's connection can speak, as PeerInfo.Transport and
// the keys of Status.Transports name them (the connection's names).
const (
	TransportV1 = peer.TransportNameV1 // plaintext P2P, the original protocol
	TransportV2 = peer.TransportNameV2 // BIP324: encrypted, with a session id
)

// Handshaking is what the pages show for a connection whose transport is
// not settled yet: PeerInfo.Transport is "" while a v2 handshake is under
// way (it may still fall back to v1).
const Handshaking = "handshaking"

// TransportLegend is the peers table's Transport header title.
const TransportLegend = "v1: plaintext P2P · v2: BIP324, encrypted (its session id on the peer page) · " +
	Handshaking + ": a v2 handshake under way, which may still fall back to v1"

// SessionIDTitle explains the peer page's session id: it is what makes a v2
// connection checkable by the people at both ends.
const SessionIDTitle = "The BIP324 session id of this v2 connection. The remote's operator sees the same id " +
	"(Bitcoin Core shows it as session_id in getpeerinfo and in its peers window): if the two match, " +
	"no one sits in between. A v1 (plaintext) connection has none."

// Transport names a connection's transport as the "transport" format does:
// v1, v2, or Handshaking for "".
func Transport(t string) string {
	if t == "" {
		return Handshaking
	}
	return t
}

// TransportTitle says what a peers table transport cell means.
func TransportTitle(t string) string {
	switch t {
	case TransportV1:
		return "v1: plaintext P2P"
	case TransportV2:
		return "v2: BIP324, encrypted"
	case "":
		return "a v2 (BIP324) handshake under way; it may still fall back to v1"
	}
	return t
}

// TransportClass is a peers table transport cell's class, which the page
// script gives its cells alike (app.js peerClass): the stylesheet marks v2
// and handshaking connections.
func TransportClass(t string) string {
	switch t {
	case TransportV1, TransportV2:
		return "transport-" + t
	case "":
		return "transport-" + Handshaking
	}
	return ""
}

// TransportShare formats Status.Transports as the "transport_share" format
// does: "v2: 3 of 8 peers (37.5%)", the peers counted being those of every
// transport (a peer still in its handshake is in none); None while the
// engine does not split peers by transport (a nil map).
func TransportShare(m map[string]engine.TransportTraffic) string {
	if m == nil {
		return None
	}
	total := 0
	for _, t := range m {
		total += t.Peers
	}
	v2 := m[TransportV2].Peers
	s := "v2: " + Number(v2) + " of " + Number(total) + " peers"
	if total > 0 {
		s += " (" + Percent(float64(v2)/float64(total)) + ")"
	}
	return s
}

// transportRow is one row of the network page's traffic by transport.
type transportRow struct {
	Name string
	engine.TransportTraffic
	Known bool // the engine reported this transport
}

// transportRows are the network page's rows, v1 then v2 (the engine always
// reports both once it splits traffic by transport).
func transportRows(m map[string]engine.TransportTraffic) []transportRow {
	rows := make([]transportRow, 0, 2)
	for _, name := range []string{TransportV1, TransportV2} {
		t, ok := m[name]
		rows = append(rows, transportRow{Name: name, TransportTraffic: t, Known: ok})
	}
	return rows
}
