// Package protocol is the bottom layer of the node: network parameters, the P2P
// framing (magic, command, length, checksum), and the codec that turns payloads
// into typed messages.
//
// Message bodies are encoded and decoded with btcd's wire package. The framing
// is written here rather than taken from wire.ReadMessage because the node reads
// bytes from untrusted peers: wire allocates the full declared payload before a
// byte of it has arrived and cannot dispatch commands it does not know
// (wtxidrelay, sendcmpct), while this package grows its buffer only as bytes
// arrive and hands unknown commands up as raw payloads.
//
// The package is pure (no I/O beyond the io.Reader it is given, no clocks) and
// builds for js/wasm.
package protocol
