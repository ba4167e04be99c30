package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/watchnode/watchnode/node/inspect"
	"github.com/watchnode/watchnode/node/protocol"
)

// maxDecodeInput bounds what decode reads from one file or standard input,
// so a mistaken argument (a disk image, /dev/zero) fails instead of eating
// the machine's memory. Captures of this size decode in seconds.
const maxDecodeInput = 2 << 30

// runDecodeCommand runs "decode [-format F] [-command C] [-keylog FILE]
// FILE...": it prints the decoded messages as the JSON the decoder page
// exports, every message with its field tree. BIP324 connections in packet
// captures are decrypted with the node's -v2keylog file, given with -keylog
// or as one of the FILEs (told by its content, as on the decoder page). Problems in the bytes are entries of kind "error" in
// that JSON, not failures: the exit status is 1 only when a file cannot be
// read, 2 for bad usage.
func runDecodeCommand(prog string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(prog+" decode", flag.ContinueOnError)
	fs.SetOutput(stderr)
	formatNames := make([]string, len(inspect.Formats))
	for i, f := range inspect.Formats {
		formatNames[i] = string(f)
	}
	format := fs.String("format", "auto", "input format: "+strings.Join(formatNames, " | "))
	command := fs.String("command", "", "the command of a bare payload (with -format payload, or hex of one)")
	indent := fs.Bool("indent", false, "indent the JSON")
	var keyLogs []string
	fs.Func("keylog", "a BIP324 key log (the node's -v2keylog file) to decrypt v2 connections with; may be repeated", func(name string) error {
		keyLogs = append(keyLogs, name)
		return nil
	})
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s decode [-format F] [-command C] [-keylog FILE] [-indent] FILE... (- for standard input)\n\n"+
			"Decodes Bitcoin P2P messages (framed bytes or their hex, a bare payload, Bitcoin Core\n"+
			"capture files, pcap or pcapng, Core block files) and prints them as JSON, the same as the\n"+
			"decoder page exports.\n"+
			"Several Core capture files (msgs_recv.dat, msgs_sent.dat) are merged in time order.\n"+
			"BIP324 (v2, encrypted) connections in a pcap or pcapng are decrypted with the node's\n"+
			"-v2keylog file, given with -keylog or as one of the FILEs (a key log is told by its\n"+
			"content); without it they are listed as encrypted streams. The capture must begin\n"+
			"with the connection: BIP324's ciphers run from its first packet.\n\n", prog)
		fs.PrintDefaults()
	}
	files, err := parseArgs(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	f, err := inspect.ParseFormat(*format)
	if err != nil {
		fmt.Fprintf(stderr, "%s decode: -format: %v\n", prog, err)
		return 2
	}
	if len(files) == 0 {
		fmt.Fprintf(stderr, "%s decode: want at least one FILE (- for standard input)\n", prog)
		return 2
	}
	var keys []protocol.V2KeyLogEntry
	for _, name := range keyLogs {
		data, err := readDecodeInput(name)
		if err != nil {
			fmt.Fprintf(stderr, "%s decode: -keylog: %v\n", prog, err)
			return 1
		}
		entries, err := protocol.ReadV2KeyLog(bytes.NewReader(data))
		if err != nil {
			fmt.Fprintf(stderr, "%s decode: -keylog %s: %v\n", prog, name, err)
			return 1
		}
		keys = append(keys, entries...)
	}
	var inputs []inspect.Input
	for _, name := range files {
		data, err := readDecodeInput(name)
		if err != nil {
			fmt.Fprintf(stderr, "%s decode: %v\n", prog, err)
			return 1
		}
		inputs = append(inputs, inspect.Input{Name: name, Data: data})
	}
	res, err := inspect.Open(inputs, inspect.Options{Format: f, Command: *command, KeyLog: keys})
	if err != nil {
		fmt.Fprintf(stderr, "%s decode: %v\n", prog, err)
		return 2
	}
	enc := json.NewEncoder(stdout)
	if *indent {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(res.WithFields()); err != nil {
		fmt.Fprintf(stderr, "%s decode: writing the result: %v\n", prog, err)
		return 1
	}
	return 0
}

// readDecodeInput reads a file, or standard input for "-", up to
// maxDecodeInput bytes.
func readDecodeInput(name string) ([]byte, error) {
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("opening the input: %w", err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxDecodeInput+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(data) > maxDecodeInput {
		return nil, fmt.Errorf("%s is over %d bytes, more than decode reads", name, maxDecodeInput)
	}
	return data, nil
}
