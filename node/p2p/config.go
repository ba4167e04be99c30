package p2p

import (
	"errors"
	"fmt"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/addrman"
	"github.com/watchnode/watchnode/node/protocol"
)

// Config configures a Core. The zero value of every duration and limit
// means "use the default" (see the Default* constants).
type Config struct {
	Network protocol.Network
	// Connect, when non-empty, restricts outbound connections to these
	// host:port targets, reconnecting with backoff; discovery is off.
	Connect []string
	// AddNode targets are kept connected in addition to discovered peers.
	AddNode     []string
	MaxPeers    int
	MaxOutbound int
	UserAgent   string

	HandshakeTimeout time.Duration
	PingInterval     time.Duration
	PingTimeout      time.Duration
	// WriteTimeout is how long a peer may go without accepting a whole
	// message (or 64 KiB) while we have something queued for it.
	WriteTimeout time.Duration
	BackoffMin   time.Duration
	BackoffMax   time.Duration
	// SaveInterval is how often the address book is saved (a job).
	SaveInterval time.Duration

	// Seed feeds the core's randomness (version nonces, ping nonces): the
	// shell draws it from crypto/rand, a simulation from its own seed.
	Seed [32]byte
	// Addrs is the address book, loaded by the shell; nil starts an empty
	// one keyed from Seed.
	Addrs *addrman.Manager
	// Bans are the operator's bans loaded from disk.
	Bans []Ban
	// Persist says whether the address book and the bans are saved (by
	// SaveAddrs and SaveBans jobs); false keeps everything in memory.
	Persist bool
	// CaptureAvailable says a capture folder is configured; Capture says
	// whether new connections are captured from the start.
	CaptureAvailable bool
	Capture          bool
	// Services are the services our version message offers. The zero
	// value means DefaultServices; a pruned node offers NODE_NETWORK_LIMITED
	// instead of NODE_NETWORK (BIP159), and a node that serves no blocks
	// only NODE_WITNESS (header serving needs no service bit).
	Services wire.ServiceFlag
	// AllowLocal lets the address book keep loopback and private addresses
	// (regtest runs every node on loopback).
	AllowLocal bool
	// V2Transport speaks BIP324 (-v2transport): NODE_P2P_V2 is offered,
	// and outbound dials try v2 first where the peer is believed to speak
	// it (the operator's targets always; others when the address book
	// says NODE_P2P_V2), as Core does.
	V2Transport bool
}

// Defaults, chosen as Bitcoin Core chooses them where it has an equivalent.
const (
	DefaultMaxPeers         = 125
	DefaultMaxOutbound      = 8
	DefaultHandshakeTimeout = 60 * time.Second // Core's -peertimeout for the version handshake
	DefaultPingInterval     = 2 * time.Minute  // Core's PING_INTERVAL
	DefaultPingTimeout      = 20 * time.Minute // Core's TIMEOUT_INTERVAL
	DefaultWriteTimeout     = 60 * time.Second
	DefaultBackoffMin       = time.Second
	DefaultBackoffMax       = 60 * time.Second
	DefaultSaveInterval     = 5 * time.Minute
	// DefaultServices: the node serves every block it stores and
	// understands witness serialization, as an unpruned Core node.
	DefaultServices = wire.SFNodeNetwork | wire.SFNodeWitness
	// DefaultUserAgent follows BIP14.
	DefaultUserAgent = "/watchnode:0.1.0/"
)

// SetDefaults fills in the defaults and checks the limits.
func (c *Config) SetDefaults() error {
	if c.Network == "" {
		c.Network = protocol.Mainnet
	}
	if _, err := protocol.ParseNetwork(string(c.Network)); err != nil {
		return err
	}
	if c.MaxPeers == 0 {
		c.MaxPeers = DefaultMaxPeers
	}
	if c.MaxOutbound == 0 {
		c.MaxOutbound = DefaultMaxOutbound
	}
	if c.MaxPeers < 0 || c.MaxOutbound < 0 {
		return errors.New("maxpeers and maxoutbound must not be negative")
	}
	if c.MaxOutbound > c.MaxPeers {
		return fmt.Errorf("maxoutbound (%d) exceeds maxpeers (%d)", c.MaxOutbound, c.MaxPeers)
	}
	if c.Services == 0 {
		c.Services = DefaultServices
	}
	if c.V2Transport {
		c.Services |= wire.SFNodeP2PV2
	}
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	setDuration(&c.HandshakeTimeout, DefaultHandshakeTimeout)
	setDuration(&c.PingInterval, DefaultPingInterval)
	setDuration(&c.PingTimeout, DefaultPingTimeout)
	setDuration(&c.WriteTimeout, DefaultWriteTimeout)
	setDuration(&c.BackoffMin, DefaultBackoffMin)
	setDuration(&c.BackoffMax, DefaultBackoffMax)
	setDuration(&c.SaveInterval, DefaultSaveInterval)
	return nil
}

func setDuration(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}
