// Command wasm is the browser side of watchnode's message decoder: built with
// GOOS=js GOARCH=wasm, it registers JavaScript functions that decode the
// files a person drops into the decoder page (framed messages, hex, bare
// payloads, Bitcoin Core capture files, pcap and pcapng, BIP324 captures
// decrypted with the node's key log dropped with them).
//
// It holds no protocol logic of its own: node/inspect does the reading and
// decoding, for the page and for `server decode` alike, so both show exactly
// the same thing. This package only moves bytes in from JavaScript and JSON
// out. Everything runs locally in the page: nothing is uploaded.
//
// The functions, all returning JSON strings except watchnodeMessageBytes:
//
//	watchnodeOpen(inputs, options)  inputs: [{name, data: Uint8Array}],
//	                                each optionally with what the page
//	                                knows of its messages: time (RFC 3339),
//	                                direction (sent, recv), peer (an id),
//	                                connection (an address);
//	                                an input that is a BIP324 key log (by
//	                                its content) decrypts the others;
//	                                options: {format, command, keylog (a
//	                                key log's text)}; returns the entry
//	                                list (inspect.Result, no trees)
//	watchnodeMessage(index)         one entry with its field trees (header
//	                                and payload)
//	watchnodeMessageBytes(index)    the entry's bytes (Uint8Array): its
//	                                frame when it has a header, else its
//	                                payload
//	watchnodeExport()               every entry with its field trees
//
// Misuse returns {"error": "..."}.
//
// Built natively, the program only explains that it must be built for
// js/wasm; that build exists so `go build ./...` and `go vet ./...` cover the
// package on every platform.
package main
