package web

import (
	"math"
	"slices"

	"github.com/watchnode/watchnode/node/engine"
	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/web/views"
)

// seqRows is how many of the peer's newest messages the sequence diagram
// shows when the page loads; sequence.js keeps up to 500 as it grows.
const seqRows = 200

// sequenceRows returns the peer's newest logged messages, oldest first,
// as the sequence diagram's rows: each request with its state and its
// answers, each answer with the request it answers, from the link log.
func sequenceRows(msgs *engine.Ring[engine.MessageRecord], links *engine.Ring[engine.RequestLink], peer uint64) []views.SeqRow {
	first, recs, _ := msgs.Since(0, math.MaxInt)
	commands := map[uint64]string{} // the peer's logged messages still in the log
	var rows []views.SeqRow
	for i := len(recs) - 1; i >= 0; i-- {
		m := &recs[i]
		if uint64(m.Peer) != peer {
			continue
		}
		seq := first + uint64(i)
		commands[seq] = m.Command
		if len(rows) < seqRows {
			l := lineOf(seq, m)
			rows = append(rows, views.SeqRow{MsgRow: views.MsgRow{Seq: l.Seq, Time: l.Time, Peer: engine.PeerID(l.Peer), Addr: l.Addr,
				Dir: l.Dir, Command: l.Command, Size: l.Size, Summary: l.Summary, Request: l.Request}})
		}
	}
	slices.Reverse(rows)

	_, all, _ := links.Since(0, math.MaxInt)
	byRequest := map[uint64][]*engine.RequestLink{}
	byResponse := map[uint64]*engine.RequestLink{}
	for i := range all {
		l := &all[i]
		if uint64(l.Peer) != peer {
			continue
		}
		byRequest[l.Request] = append(byRequest[l.Request], l)
		if l.Response != 0 {
			byResponse[l.Response] = l
		}
	}
	for i := range rows {
		r := &rows[i]
		if r.Request {
			r.State = "pending"
			for _, l := range byRequest[r.Seq] {
				if l.Outcome == p2p.Answered {
					r.Responses = append(r.Responses, l.Response)
					r.RoundTripMs = linkOf(l).RoundTripMs
				}
				if l.Done {
					r.State = l.Outcome.String()
				}
			}
		}
		if l, ok := byResponse[r.Seq]; ok {
			r.Answers, r.AnswersCommand, r.RoundTripMs = l.Request, commands[l.Request], linkOf(l).RoundTripMs
		}
	}
	return rows
}
