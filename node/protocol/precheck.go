package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/wire/v2"
)

// precheck walks a payload's variable-length structure and rejects any count
// or length that claims more bytes than the payload has left.
//
// wire's decoders size their allocations from declared counts before the
// bytes behind them are read (a 5-byte reject can make it allocate 32 MiB),
// and a peer can send such payloads cheaply and repeatedly. After this
// check every allocation wire makes is backed by bytes that really arrived,
// so decoding costs memory proportional to the payload. Only the messages
// whose decoders allocate by declared counts are walked; the others have
// small fixed bounds in wire itself.
func precheck(command string, payload []byte) error {
	c := cursor{b: payload}
	switch command {
	case wire.CmdVersion:
		// version, services, timestamp, addr_recv, addr_from, nonce; the
		// user agent and what follows are optional in old versions.
		if c.skip(80) != nil || c.len() == 0 {
			return nil
		}
		return c.varBytes("user agent")
	case wire.CmdReject:
		if err := c.varBytes("rejected command"); err != nil {
			return err
		}
		if err := c.skip(1); err != nil {
			return nil // wire reports the missing code
		}
		return c.varBytes("reject reason")
	case wire.CmdTx:
		return c.tx()
	case wire.CmdBlock:
		if err := c.skip(80); err != nil {
			return nil
		}
		n, err := c.count("transaction", 60)
		if err != nil {
			return err
		}
		for i := uint64(0); i < n; i++ {
			if err := c.tx(); err != nil {
				return fmt.Errorf("transaction %d: %w", i, err)
			}
		}
		return nil
	case wire.CmdInv, wire.CmdGetData, wire.CmdNotFound:
		_, err := c.count("inventory item", 36)
		return err
	case wire.CmdHeaders:
		_, err := c.count("header", 81)
		return err
	case wire.CmdAddr:
		_, err := c.count("address", 30)
		return err
	case wire.CmdGetHeaders, wire.CmdGetBlocks:
		if c.skip(4) != nil {
			return nil
		}
		_, err := c.count("locator hash", 32)
		return err
	case wire.CmdMerkleBlock:
		if c.skip(84) != nil {
			return nil
		}
		_, err := c.count("merkle hash", 32)
		return err
	}
	return nil
}

var (
	errShort        = errors.New("payload ends early")
	errNonCanonical = errors.New("malformed CompactSize")
)

// cursor reads a payload without copying.
type cursor struct {
	b   []byte
	off int
}

func (c *cursor) len() int { return len(c.b) - c.off }

func (c *cursor) skip(n uint64) error {
	if n > uint64(c.len()) {
		return fmt.Errorf("%w: need %d bytes at offset %d, %d left", errShort, n, c.off, c.len())
	}
	c.off += int(n)
	return nil
}

// varInt reads a CompactSize.
func (c *cursor) varInt() (uint64, error) {
	if c.len() < 1 {
		return 0, fmt.Errorf("%w: no CompactSize at offset %d", errShort, c.off)
	}
	first := c.b[c.off]
	size := 0
	switch first {
	case 0xfd:
		size = 2
	case 0xfe:
		size = 4
	case 0xff:
		size = 8
	}
	c.off++
	if size == 0 {
		return uint64(first), nil
	}
	if c.len() < size {
		return 0, fmt.Errorf("%w: CompactSize at offset %d needs %d bytes", errShort, c.off-1, size)
	}
	var v, least uint64
	switch size {
	case 2:
		v, least = uint64(binary.LittleEndian.Uint16(c.b[c.off:])), 0xfd
	case 4:
		v, least = uint64(binary.LittleEndian.Uint32(c.b[c.off:])), 0x10000
	default:
		v, least = binary.LittleEndian.Uint64(c.b[c.off:]), 0x100000000
	}
	// Bitcoin Core and wire both refuse a value a shorter form could hold.
	if v < least {
		return 0, fmt.Errorf("%w: non-canonical CompactSize at offset %d: %d in %d bytes", errNonCanonical, c.off-1, v, size+1)
	}
	c.off += size
	return v, nil
}

// count reads a CompactSize count of items that each take at least minSize
// bytes, and checks that they can fit in what is left.
func (c *cursor) count(what string, minSize uint64) (uint64, error) {
	at := c.off
	n, err := c.varInt()
	if err != nil {
		return 0, err
	}
	if n > uint64(c.len())/minSize {
		return 0, fmt.Errorf("%w: %d %ss declared at offset %d need at least %d bytes each, %d bytes left",
			errShort, n, what, at, minSize, c.len())
	}
	return n, nil
}

// varBytes reads a CompactSize length and skips that many bytes.
func (c *cursor) varBytes(what string) error {
	at := c.off
	n, err := c.varInt()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n > uint64(c.len()) {
		return fmt.Errorf("%w: %s at offset %d declares %d bytes, %d left", errShort, what, at, n, c.len())
	}
	c.off += int(n)
	return nil
}

// tx walks one transaction, segwit or not.
func (c *cursor) tx() error {
	if err := c.skip(4); err != nil {
		return err
	}
	segwit := c.len() >= 2 && c.b[c.off] == 0 && c.b[c.off+1] != 0
	if segwit {
		c.off += 2
	}
	nIn, err := c.count("input", 41)
	if err != nil {
		return err
	}
	for i := uint64(0); i < nIn; i++ {
		if err := c.skip(36); err != nil {
			return err
		}
		if err := c.varBytes("signature script"); err != nil {
			return err
		}
		if err := c.skip(4); err != nil {
			return err
		}
	}
	nOut, err := c.count("output", 9)
	if err != nil {
		return err
	}
	for i := uint64(0); i < nOut; i++ {
		if err := c.skip(8); err != nil {
			return err
		}
		if err := c.varBytes("public key script"); err != nil {
			return err
		}
	}
	if segwit {
		for i := uint64(0); i < nIn; i++ {
			items, err := c.count("witness item", 1)
			if err != nil {
				return err
			}
			for j := uint64(0); j < items; j++ {
				if err := c.varBytes("witness item"); err != nil {
					return err
				}
			}
		}
	}
	return c.skip(4)
}
