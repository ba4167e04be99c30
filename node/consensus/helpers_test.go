package consensus

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
)

// now2026 is the fixed "current time" the mainnet tests validate at.
var now2026 = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC).Unix()

// mainnetData reads a file from the shared real-mainnet test data (see its
// README). Tests skip when it is absent, except under CI=true, where they
// must run.
func mainnetData(tb testing.TB, name string) []byte {
	tb.Helper()
	path := filepath.Join("..", "..", "..", "shared", "testdata", "mainnet", name)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("mainnet test data %s is missing (CI=true: not skipping)", path)
		}
		tb.Skipf("mainnet test data %s is absent; skipping", path)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// mainnetHeaders reads a file of concatenated raw 80-byte headers.
func mainnetHeaders(tb testing.TB, name string) []Header {
	tb.Helper()
	raw := mainnetData(tb, name)
	if len(raw)%HeaderSize != 0 {
		tb.Fatalf("%s: %d bytes is not a whole number of headers", name, len(raw))
	}
	hs := make([]Header, len(raw)/HeaderSize)
	for i := range hs {
		h, err := ParseHeader(raw[i*HeaderSize : (i+1)*HeaderSize])
		if err != nil {
			tb.Fatal(err)
		}
		hs[i] = h
	}
	return hs
}

// listedHeader is one line of the text data files: height, hash, header.
type listedHeader struct {
	height int32
	hash   chainhash.Hash
	header Header
}

// mainnetList reads a "height hash header-hex" file and checks that every
// header hashes to the hash listed beside it.
func mainnetList(tb testing.TB, name string) []listedHeader {
	tb.Helper()
	var out []listedHeader
	sc := bufio.NewScanner(bytes.NewReader(mainnetData(tb, name)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			tb.Fatalf("%s: bad line %q", name, line)
		}
		height, err := strconv.ParseInt(f[0], 10, 32)
		if err != nil {
			tb.Fatal(err)
		}
		hash, err := chainhash.NewHashFromStr(f[1])
		if err != nil {
			tb.Fatal(err)
		}
		raw, err := hex.DecodeString(f[2])
		if err != nil {
			tb.Fatal(err)
		}
		h, err := ParseHeader(raw)
		if err != nil {
			tb.Fatal(err)
		}
		if got := h.Hash(); got != *hash {
			tb.Fatalf("%s: header at %d hashes to %s, listed as %s", name, height, got, hash)
		}
		out = append(out, listedHeader{int32(height), *hash, h})
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// sliceAnc is an Ancestors backed by a slice holding heights base,
// base+1, ... A read outside the slice panics, so a rule that looks beyond
// the parent (or below what the test provided) fails loudly.
type sliceAnc struct {
	base int32
	hs   []Header
}

func (a *sliceAnc) HeaderAt(h int32) *Header { return &a.hs[h-a.base] }

// mapAnc is a sparse Ancestors for tests that know only a few heights.
type mapAnc map[int32]*Header

func (a mapAnc) HeaderAt(h int32) *Header {
	hd, ok := a[h]
	if !ok {
		panic("mapAnc: no header at height " + strconv.Itoa(int(h)))
	}
	return hd
}

// mustHash parses a hash in display (reversed) order.
func mustHash(tb testing.TB, s string) chainhash.Hash {
	tb.Helper()
	h, err := chainhash.NewHashFromStr(s)
	if err != nil {
		tb.Fatal(err)
	}
	return *h
}

// ruleOf returns the name of the rule err reports, or "" for nil.
func ruleOf(tb testing.TB, err error) string {
	tb.Helper()
	if err == nil {
		return ""
	}
	var re *RuleError
	if !errors.As(err, &re) {
		tb.Fatalf("error %v is not a *RuleError", err)
	}
	return re.Rule
}

// ruleByName returns the rule of that name in Rules.
func ruleByName(tb testing.TB, name string) Rule {
	tb.Helper()
	for _, r := range Rules {
		if r.Name == name {
			return r
		}
	}
	tb.Fatalf("no rule %q", name)
	return Rule{}
}

// two256 is 2^256.
var two256 = new(big.Int).Lsh(big.NewInt(1), 256)

// refSetCompact is a math/big reference for Core's SetCompact, written from
// its definition rather than from CompactToU256.
func refSetCompact(bits uint32) (target *big.Int, negative, overflow bool) {
	size := int(bits >> 24)
	word := int64(bits & 0x007fffff)
	if size <= 3 {
		word >>= 8 * (3 - size)
	}
	t := big.NewInt(word)
	if size > 3 {
		t.Lsh(t, uint(8*(size-3)))
		t.Mod(t, two256) // arith_uint256 drops bits shifted past 256
	}
	w := word != 0
	negative = w && bits&0x00800000 != 0
	overflow = w && (size > 34 || (word > 0xff && size > 33) || (word > 0xffff && size > 32))
	return t, negative, overflow
}

// refGetCompact is a math/big reference for Core's GetCompact of a
// non-negative value.
func refGetCompact(x *big.Int) uint32 {
	size := (x.BitLen() + 7) / 8
	var c uint64
	if size <= 3 {
		c = x.Uint64() << (8 * (3 - size))
	} else {
		c = new(big.Int).Rsh(x, uint(8*(size-3))).Uint64()
	}
	if c&0x00800000 != 0 {
		c >>= 8
		size++
	}
	return uint32(c) | uint32(size)<<24
}

// refWork is a math/big reference for Core's GetBlockProof: 2^256/(t+1).
func refWork(bits uint32) *big.Int {
	t, neg, over := refSetCompact(bits)
	if neg || over || t.Sign() == 0 {
		return new(big.Int)
	}
	return new(big.Int).Div(two256, new(big.Int).Add(t, big.NewInt(1)))
}

func bigInt(x int64) *big.Int { return big.NewInt(x) }
