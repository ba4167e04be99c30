package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/protocol"
)

// Config configures an Engine. The zero value of every duration and limit
// means "use the default" (see the Default* constants).
type Config struct {
	Network protocol.Network
	// DataDir is the per-network folder for the address book and bans; empty
	// keeps everything in memory (tests).
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
}

// Defaults, chosen as Bitcoin Core chooses them where it has an equivalent.
const (
	DefaultMaxPeers         = 125
	DefaultMaxOutbound      = 8
	DefaultHandshakeTimeout = 60 * time.Second // Core's -peertimeout for the version handshake
	DefaultPingInterval     = 2 * time.Minute  // Core's PING_INTERVAL
	DefaultPingTimeout      = 20 * time.Minute // Core's TIMEOUT_INTERVAL
	DefaultWriteTimeout     = 60 * time.Second
	DefaultDialTimeout      = 5 * time.Second // Core's DEFAULT_CONNECT_TIMEOUT
	DefaultBackoffMin       = time.Second
	DefaultBackoffMax       = 60 * time.Second
	// DefaultUserAgent follows BIP14.
	DefaultUserAgent = "/watchnode:0.1.0/"

	// outQueueLimit is the soft bound of a peer's outbound queue: a few full
	// headers messages. Past it the engine makes no optional work for the peer.
	outQueueLimit = 1 << 20
	// inQueueLimit bounds a peer's decoded-but-unhandled messages; a full
	// block (4 MB) still fits alone.
	inQueueLimit = 1 << 20
	// perTurn is how many messages the engine takes from one peer's inbound
	// queue before serving the next peer.
	perTurn = 8
	// discouragement is how long a misbehaving address is refused (Core's
	// discouragement filter is cleared roughly daily).
	discouragement = 24 * time.Hour
	// maxDisconnects is how many recent disconnects are kept for the UI.
	maxDisconnects = 100
)

func (c *Config) setDefaults() error {
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
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	setDuration(&c.HandshakeTimeout, DefaultHandshakeTimeout)
	setDuration(&c.PingInterval, DefaultPingInterval)
	setDuration(&c.PingTimeout, DefaultPingTimeout)
	setDuration(&c.WriteTimeout, DefaultWriteTimeout)
	setDuration(&c.DialTimeout, DefaultDialTimeout)
	setDuration(&c.BackoffMin, DefaultBackoffMin)
	setDuration(&c.BackoffMax, DefaultBackoffMax)
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
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

func setDuration(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}
