package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/watchnode/watchnode/internal/btcdtest"
	"github.com/watchnode/watchnode/internal/pcaptest"
	"github.com/watchnode/watchnode/node/engine"
	"github.com/watchnode/watchnode/node/inspect"
)

// recordingProxy forwards one TCP connection to target and records the
// traffic both ways as a packet capture, each read becoming the segments a
// real capture would show.
type recordingProxy struct {
	ln     net.Listener
	target string
	pcap   lockedBuffer
	w      *pcaptest.Writer
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

func startRecordingProxy(t *testing.T, target string, format pcaptest.Format) *recordingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &recordingProxy{ln: ln, target: target}
	if p.w, err = pcaptest.NewWriter(&p.pcap, format); err != nil {
		t.Fatal(err)
	}
	p.wg.Add(1)
	go p.accept(t)
	t.Cleanup(p.close)
	return p
}

func (p *recordingProxy) addr() string { return p.ln.Addr().String() }

// lockedBuffer lets a test read the capture while the proxy still writes it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Bytes returns a copy of what was written so far.
func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

func (p *recordingProxy) accept(t *testing.T) {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			t.Errorf("proxy: dialing %s: %v", p.target, err)
			client.Close()
			return
		}
		p.mu.Lock()
		p.conns = append(p.conns, client, server)
		p.mu.Unlock()
		conn, err := p.w.Open(time.Now(), netip.MustParseAddrPort(client.RemoteAddr().String()), netip.MustParseAddrPort(p.addr()))
		if err != nil {
			t.Errorf("proxy: %v", err)
			return
		}
		p.wg.Add(2)
		go p.copy(t, conn, server, client, true)
		go p.copy(t, conn, client, server, false)
	}
}

// copy forwards src to dst, recording what it forwards.
func (p *recordingProxy) copy(t *testing.T, conn *pcaptest.Conn, dst, src net.Conn, toServer bool) {
	defer p.wg.Done()
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if werr := conn.Send(time.Now(), toServer, buf[:n]); werr != nil {
				t.Errorf("proxy: recording: %v", werr)
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *recordingProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// logCommands returns the commands of the node's message log with peer addr,
// split by direction.
func logCommands(t *testing.T, n *nodeProc, addr string) (sent, recv []string) {
	t.Helper()
	for _, m := range n.messageLog() {
		if m.Addr != addr {
			continue
		}
		if m.Dir == "in" {
			recv = append(recv, m.Command)
		} else {
			sent = append(sent, m.Command)
		}
	}
	return sent, recv
}

// entryCommands splits decoded entries by direction, failing on anything
// that is not a sound message.
func entryCommands(t *testing.T, what string, entries []inspect.Entry, sentDir, recvDir string) (sent, recv []string) {
	t.Helper()
	for _, e := range entries {
		if e.Kind != inspect.KindMessage || e.Error != "" || e.ChecksumValid != nil && !*e.ChecksumValid {
			t.Errorf("%s: entry %d is not a sound message: %+v", what, e.Index, e)
			continue
		}
		switch e.Direction {
		case sentDir:
			sent = append(sent, e.Command)
		case recvDir:
			recv = append(recv, e.Command)
		default:
			t.Errorf("%s: entry %d has direction %q", what, e.Index, e.Direction)
		}
	}
	return sent, recv
}

// checkPrefix fails unless the log's commands open the decoded ones in the
// same order (the node may exchange a few more after the log was read).
func checkPrefix(t *testing.T, what string, logged, decoded []string) {
	t.Helper()
	if len(logged) < 5 || len(decoded) < len(logged) || !slices.Equal(decoded[:len(logged)], logged) {
		t.Errorf("%s: the node logged %v\nbut the capture decodes to %v", what, logged, decoded)
	}
}

// TestCapturesOfRealTrafficDecodeToTheLog records real traffic between the
// node and btcd twice, as a packet capture taken by a TCP proxy between
// them and as the node's own -capture files, and checks both decode, in
// order, to the messages the node logged; then checks `server decode`
// prints the same.
func TestCapturesOfRealTrafficDecodeToTheLog(t *testing.T) {
	btcd := btcdtest.Start(t, btcdtest.Options{})
	btcd.Generate(t, 5)
	proxy := startRecordingProxy(t, btcd.P2PAddr(), pcaptest.PCAPNG)
	root := t.TempDir()
	// v1 only: this test reads plaintext traffic (the BIP324 capture is
	// TestV2CaptureOfRealTrafficDecryptsToTheLog's); with v2 on, the
	// node's first attempt at v1-only btcd would be one more, encrypted,
	// connection in the capture.
	n := startNodeIn(t, root, "-capture", "-connect="+proxy.addr(), "-v2transport=0")
	n.waitFor(15*time.Second, "sync and a measured ping", func() bool {
		p, ok := n.established("btcd")
		var st engine.Status
		n.get("/api/status", &st)
		return ok && p.PingMs > 0 && st.Height == 5
	})
	logSent, logRecv := logCommands(t, n, proxy.addr())
	n.stop()
	proxy.close()

	pcapFile := filepath.Join(t.TempDir(), "traffic.pcapng")
	if err := os.WriteFile(pcapFile, proxy.pcap.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := inspect.Open([]inspect.Input{{Name: pcapFile, Data: proxy.pcap.Bytes()}}, inspect.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Format != "pcap" {
		t.Fatalf("the proxy's capture reads as %q", res.Format)
	}
	sent, recv := entryCommands(t, "pcapng", res.Entries, inspect.DirectionToServer, inspect.DirectionToClient)
	checkPrefix(t, "pcapng, node to btcd", logSent, sent)
	checkPrefix(t, "pcapng, btcd to node", logRecv, recv)

	capDir := filepath.Join(root, "regtest", "message_capture", engine.CaptureFolderName(proxy.addr()))
	var inputs []inspect.Input
	for _, name := range []string{"msgs_sent.dat", "msgs_recv.dat"} {
		data, err := os.ReadFile(filepath.Join(capDir, name))
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, inspect.Input{Name: filepath.Join(capDir, name), Data: data})
	}
	core, err := inspect.Open(inputs, inspect.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sent, recv = entryCommands(t, "node capture", core.Entries, inspect.DirectionSent, inspect.DirectionRecv)
	checkPrefix(t, "node capture, sent", logSent, sent)
	checkPrefix(t, "node capture, received", logRecv, recv)
	t.Logf("logged %d sent, %d received; pcapng %d entries; node capture %d entries", len(logSent), len(logRecv), len(res.Entries), len(core.Entries))

	// The command line prints the page's export: every entry with its tree.
	out, err := exec.Command(serverBin, "decode", pcapFile).Output()
	if err != nil {
		t.Fatalf("server decode: %v", err)
	}
	var printed inspect.Result
	if err := json.Unmarshal(out, &printed); err != nil {
		t.Fatal(err)
	}
	if len(printed.Entries) != len(res.Entries) || printed.Entries[0].Decoded == nil || printed.Entries[0].Command != "version" {
		t.Errorf("server decode printed %d entries (first %+v), want %d", len(printed.Entries), printed.Entries[0], len(res.Entries))
	}
	cmd := exec.Command(serverBin, "decode", "-format", "core", "-")
	cmd.Stdin = bytes.NewReader(inputs[0].Data)
	if out, err = cmd.Output(); err != nil || !bytes.Contains(out, []byte(`"command":"version"`)) {
		t.Errorf("server decode of standard input: %v %.200s", err, out)
	}
	err = exec.Command(serverBin, "decode", "-format", "xml", pcapFile).Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Errorf("an unknown format: %v, want exit status 2", err)
	}
}

// TestDecodeCommandBIP324 decodes a synthetic BIP324 capture from the
// command line: listed as encrypted without keys, decrypted with the key
// log given as -keylog or as another FILE, and a bad key log refused.
func TestDecodeCommandBIP324(t *testing.T) {
	conn, capture, err := pcaptest.V2SampleCapture(pcaptest.PCAPNG)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pcapFile, keyFile, badFile := filepath.Join(dir, "v2.pcapng"), filepath.Join(dir, "keys.log"), filepath.Join(dir, "bad.log")
	for name, data := range map[string]string{
		pcapFile: string(capture),
		keyFile:  "# from -v2keylog\n" + conn.KeyLog.String() + "\n",
		badFile:  "BIP324 00\n",
	} {
		if err := os.WriteFile(name, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	decode := func(args ...string) (*inspect.Result, int, string) {
		var out, errOut bytes.Buffer
		code := runDecodeCommand("server", append([]string{}, args...), &out, &errOut)
		if code != 0 {
			return nil, code, errOut.String()
		}
		var res inspect.Result
		if err := json.Unmarshal(out.Bytes(), &res); err != nil {
			t.Fatalf("decode %v: %v", args, err)
		}
		return &res, 0, errOut.String()
	}
	res, code, stderr := decode(pcapFile)
	if code != 0 || res.Messages != 0 || res.Notes != 2 || !strings.Contains(res.Entries[0].Summary, "BIP324 encrypted stream") {
		t.Fatalf("without keys: exit %d %s %+v", code, stderr, res)
	}
	want := []string{"to-server version", "to-client version", "to-server verack", "to-client verack",
		"to-server ping", "to-client pong", "to-server headers", "to-client headers"}
	for _, args := range [][]string{{"-keylog", keyFile, pcapFile}, {pcapFile, keyFile}, {keyFile, "-format", "pcap", pcapFile}} {
		res, code, stderr := decode(args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		var got []string
		for _, e := range res.Entries {
			if e.Kind == inspect.KindMessage {
				got = append(got, e.Direction+" "+e.Command)
				if e.Decoded == nil || e.Header == nil || e.Header.Type != "BIP324 packet" {
					t.Errorf("%v: %s without its trees", args, e.Command)
				}
			}
		}
		if !slices.Equal(got, want) || res.Errors != 0 || res.KeyLogEntries != 1 {
			t.Errorf("%v: messages %v (%d errors), want %v", args, got, res.Errors, want)
		}
	}
	if _, code, stderr := decode("-keylog", badFile, pcapFile); code != 1 || !strings.Contains(stderr, "key log line 1") {
		t.Errorf("a bad -keylog: exit %d, %q", code, stderr)
	}
	var usage bytes.Buffer
	runDecodeCommand("server", []string{"-h"}, io.Discard, &usage)
	if !strings.Contains(usage.String(), "-keylog") || !strings.Contains(usage.String(), "BIP324") {
		t.Errorf("usage does not mention the key log:\n%s", usage.String())
	}
}
