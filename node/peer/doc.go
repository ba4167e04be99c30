// Package peer is the socket side of one connection to a Bitcoin peer: a
// reader goroutine, a writer goroutine, the queues between them and the
// engine, the traffic counters, and the message log and capture hooks.
//
// # Who owns what
//
// The package holds no protocol state and makes no decision about a peer.
// The core (package p2p) decides: what to send, which requests are
// outstanding, when a peer is too slow to read what we send (the
// send-stall rule, judged from the writer's progress reports) and when it
// is dropped. The engine (the shell around the core) owns the connection:
// it starts it, pops its inbound queue, pushes the frames the core asks
// for onto its outbound queue, and calls Close, which is the only thing
// that closes the queues. Neither goroutine closes a queue, and only a
// write error makes the writer close the socket.
//
// # The goroutines
//
// The reader reads through a 32 KiB buffer (a flood of small messages costs
// one read syscall per buffer), and for each frame: reserves the payload's size in the inbound bound as soon as the frame's
// header is read (Reserve: it waits while the bound refuses, so TCP pushes
// back on this peer alone, and nothing is allocated before it is counted),
// reads the payload into a buffer of its exact size, counts it (Stats),
// captures it, computes what the message will cost decoded from its bytes
// (p2p.MessageCost) and grows the reservation to that (Resize), decodes and
// hashes it completely (the headers fast path, every header's hash; transactions and
// blocks one per core at a time, since wire lends each such decode a 4 MiB
// script buffer), logs it with its summary (Recorder), attaches the request
// stamps the writer recorded since the previous message (Message.Stamps),
// and queues it (Commit). Nothing writes to a message after that, so the
// engine and the core read it without a lock.
//
// The writer takes a batch of frames from the outbound queue (control
// first, then bulk, in order within each class, up to 64 KiB; a frame
// larger than that alone, written in 64 KiB chunks). At the start of the
// batch's write it stamps the requests the batch carries (both in-band,
// for the reader, and in the first report), logs and captures each
// message, then writes the batch with one net.Buffers.WriteTo (writev on a
// TCP socket). It sets no write deadlines.
//
// Because a request is stamped before its bytes reach the socket, and the
// reader takes the stamps only after a message has arrived, a reply always
// carries (or follows) its request's stamp: the core never handles a reply
// to a request it thinks unwritten.
//
// # Transports
//
// A connection speaks v1 or BIP324's v2 (Config.Transport: v1, v2 as the
// initiator, or whichever an inbound peer speaks, told by its first 16
// bytes). The reader goroutine runs the v2 handshake before its loop,
// writing the handshake's bytes itself while the writer waits on ready;
// once the keys are derived, it hands the writer its cipher (v2send) and
// closes ready, and from then on each goroutine owns its direction's
// cipher alone. Transport and SessionID are readable by anyone after
// ready closes. A v2 reader learns a packet's length (bounded by
// protocol.V2MaxContents) before it reads the packet and reserves it as
// a v1 reader reserves a payload; the writer encrypts a batch into one
// buffer of its own, the only memory it keeps, for one write. The message
// log and the counters see the bytes on the wire; the capture sees the
// plaintext messages, the same for both transports.
//
// # Reporting
//
// Reporter calls come from the two goroutines and must not block for long.
// Written follows every write call (one per batch, one per chunk of a large
// frame) with the bytes that reached the socket, the messages completed and
// the requests started; the core's send-stall rule runs on these.
// Closed carries the first read or write error, once:
//
//   - On a read error (a protocol violation, the peer closing) the reader
//     reports it and exits; the socket stays open and the writer goes on
//     writing until the engine calls Close, so the violation is what the
//     engine hears, never the effect of a close it caused.
//   - On a write error the writer reports it, unless an error was reported
//     before, and closes the socket so the reader stops; the reader's
//     resulting error is not reported.
//   - After Close nothing new is reported: neither Closed nor Written for
//     a write that ends after it. A report already under way when Close is
//     called may still arrive; the engine passes it on and the core ignores
//     it, since a dropped peer's ID is never reused.
//
// # Bounds
//
// An inbound queue is bounded by its messages' Cost, the memory they keep
// alive, under p2p.AdmitInbound: each peer may hold p2p.InQueueFloor, and a
// single larger message (a block) enters an empty queue only while the
// Pool shared by all peers has room for the part above the floor. A reader
// reserves a message's cost before it reads the payload (InQueue.Reserve
// at the frame header, Resize to the decoded cost, Commit to queue it);
// one that is not admitted blocks there, stops reading, and TCP pushes
// back on that peer alone. The outbound queue has no limit of its
// own: the core accounts for every frame it queues and bounds it
// (p2p.OutQueueLimit).
package peer
