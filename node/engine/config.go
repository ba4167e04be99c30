package engine

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/node/blockstore"
	"github.com/watchnode/watchnode/node/chain"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/node/protocol"
)

// Config configures an Engine. The zero value of every duration and limit
// means "use the default" (see the Default* constants).
type Config struct {
	Network protocol.Network
	// DataDir is the per-network folder for the header store, the address
	// book and bans; empty keeps everything in memory (tests).
	DataDir string
	// Connect, when non-empty, restricts outbound connections to these
	// host:port targets, reconnecting with backoff; discovery is off.
	Connect []string
	// AddNode targets are kept connected in addition to discovered peers.
	AddNode []string
	// Listen is the host:port for inbound connections; empty disables them.
	Listen      string
	MaxPeers    int
	MaxOutbound int
	UserAgent   string

	HandshakeTimeout time.Duration
	PingInterval     time.Duration
	PingTimeout      time.Duration
	WriteTimeout     time.Duration
	DialTimeout      time.Duration
	BackoffMin       time.Duration
	BackoffMax       time.Duration

	// CaptureDir is where message captures go: every message of every
	// peer in Bitcoin Core's capture format, in one folder per peer address
	// below it. Capture says whether capturing starts on; SetCapture
	// switches it at run time. Empty disables capture altogether.
	CaptureDir string
	Capture    bool

	// V2Transport speaks BIP324's encrypted transport (-v2transport):
	// inbound peers may use v1 or v2 on the same port, outbound dials try
	// v2 first where the peer is believed to speak it and fall back to
	// v1, and NODE_P2P_V2 is offered. Off, only v1 is spoken.
	V2Transport bool
	// V2KeyLog, when set, is a file to which every BIP324 connection's
	// secret is appended (-v2keylog; protocol.V2KeyLogEntry's format),
	// so the decoder can decrypt captures of them. It breaks those
	// connections' privacy; it is written with mode 0600.
	V2KeyLog string

	// PruneMiB is -prune: the block files are kept under this many MiB by
	// deleting the oldest once their blocks are connected, never within
	// blockstore.MinBlocksToKeep of the tip; 0 keeps every block. A pruned
	// node offers NODE_NETWORK_LIMITED instead of NODE_NETWORK (BIP159).
	PruneMiB int64

	// DBCacheMiB is -dbcache: the UTXO set's coin cache, in MiB; 0 means
	// utxo.DefaultCacheMiB (450, Core's default).
	DBCacheMiB int64
	// AssumeValid is -assumevalid: a block hash whose ancestors' scripts
	// are not verified (every other rule is), "0" to verify every
	// script, empty for the network's default (Core's).
	AssumeValid string

	// Params overrides the network's consensus parameters (tests lower the
	// minimum chain work, for instance); nil uses consensus.ParamsFor.
	Params *consensus.Params

	// Dial opens outbound connections; nil uses net.Dialer.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// LookupHost resolves DNS seeds; nil uses net.DefaultResolver.
	LookupHost func(ctx context.Context, host string) ([]string, error)
	// Now is the clock; nil uses time.Now.
	Now    func() time.Time
	Logger *slog.Logger

	// storeFile, when set (by tests), wraps the header store's file, to
	// make writes fail on demand.
	storeFile func(*os.File) chain.WritableFile
	// blockFileSize, when set (by tests), caps the blk files below Core's
	// 128 MiB, so that a small chain spans many files and can be pruned.
	blockFileSize int64
	// skipScripts, when set (by tests under the race detector, which makes
	// signature checks about 200 times slower), treats every block as
	// assumed valid: every rule but the scripts is checked.
	skipScripts bool
	// utxoFailWrites, when set (by tests), makes the UTXO set's commits
	// fail with its error, as a full disk would.
	utxoFailWrites func() error
	// storesHeld, when set (by tests), holds a fresh start's opened stores
	// until it is closed, as a slow disk would (stores.go).
	storesHeld <-chan struct{}
}

// Defaults, chosen as Bitcoin Core chooses them where it has an equivalent.
const (
	DefaultMaxPeers         = p2p.DefaultMaxPeers
	DefaultMaxOutbound      = p2p.DefaultMaxOutbound
	DefaultHandshakeTimeout = p2p.DefaultHandshakeTimeout
	DefaultPingInterval     = p2p.DefaultPingInterval
	DefaultPingTimeout      = p2p.DefaultPingTimeout
	DefaultWriteTimeout     = p2p.DefaultWriteTimeout
	DefaultDialTimeout      = 5 * time.Second // Core's DEFAULT_CONNECT_TIMEOUT
	DefaultBackoffMin       = p2p.DefaultBackoffMin
	DefaultBackoffMax       = p2p.DefaultBackoffMax
	DefaultUserAgent        = p2p.DefaultUserAgent
	// MinPruneMiB is the smallest -prune target, as Core's (550 MiB).
	MinPruneMiB = blockstore.MinPruneTarget >> 20
)

func (c *Config) setDefaults() error {
	pc := c.p2pConfig()
	if err := pc.SetDefaults(); err != nil {
		return err
	}
	c.Network, c.MaxPeers, c.MaxOutbound, c.UserAgent = pc.Network, pc.MaxPeers, pc.MaxOutbound, pc.UserAgent
	c.HandshakeTimeout, c.PingInterval, c.PingTimeout, c.WriteTimeout = pc.HandshakeTimeout, pc.PingInterval, pc.PingTimeout, pc.WriteTimeout
	c.BackoffMin, c.BackoffMax = pc.BackoffMin, pc.BackoffMax
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.Dial == nil {
		c.Dial = (&net.Dialer{}).DialContext
	}
	if c.LookupHost == nil {
		c.LookupHost = net.DefaultResolver.LookupHost
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Params == nil {
		c.Params = consensus.ParamsFor(c.Network)
	}
	if c.DBCacheMiB < 0 {
		return fmt.Errorf("-dbcache=%d: must not be negative", c.DBCacheMiB)
	}
	if _, err := c.assumeValid(); err != nil {
		return err
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// assumeValid returns the -assumevalid block: zero to verify every script.
func (c *Config) assumeValid() (chainhash.Hash, error) {
	switch c.AssumeValid {
	case "":
		return c.Params.AssumeValid, nil
	case "0":
		return chainhash.Hash{}, nil
	}
	h, err := chainhash.NewHashFromStr(c.AssumeValid)
	if err != nil || len(c.AssumeValid) != 64 {
		return chainhash.Hash{}, fmt.Errorf("-assumevalid=%q: want 0 or a block hash of 64 hex digits", c.AssumeValid)
	}
	return *h, nil
}

// p2pConfig is the core's part of the configuration.
func (c *Config) p2pConfig() p2p.Config {
	return p2p.Config{
		Network: c.Network, Connect: c.Connect, AddNode: c.AddNode,
		MaxPeers: c.MaxPeers, MaxOutbound: c.MaxOutbound, UserAgent: c.UserAgent,
		HandshakeTimeout: c.HandshakeTimeout, PingInterval: c.PingInterval, PingTimeout: c.PingTimeout,
		WriteTimeout: c.WriteTimeout, BackoffMin: c.BackoffMin, BackoffMax: c.BackoffMax,
		Persist: c.DataDir != "", CaptureAvailable: c.CaptureDir != "", Capture: c.Capture,
		// Regtest and test setups run every node on loopback.
		AllowLocal:  c.Network == protocol.Regtest,
		Services:    c.services(),
		V2Transport: c.V2Transport,
	}
}

// services are what the version message offers: blocks (all of them, or
// the last 288 when pruning) only with a data folder to keep them in.
func (c *Config) services() wire.ServiceFlag {
	switch {
	case c.DataDir == "":
		return wire.SFNodeWitness
	case c.PruneMiB > 0:
		return wire.SFNodeNetworkLimited | wire.SFNodeWitness
	}
	return wire.SFNodeNetwork | wire.SFNodeWitness
}
