package protocol

import (
	"slices"
	"unsafe"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// DecodedSize returns an upper bound of the heap bytes msg keeps alive, as
// decoded by Decode: the message struct and everything it points to
// (slices' backing arrays, per-item allocations, strings), with the
// allocator's size-class rounding. It does not count the payload bytes
// Decode was given.
//
// The bound follows, allocation by allocation, what wire's decoders (and
// this package's, for *MsgSendCmpct and *MsgUnknown) allocate and keep: an
// inv is its struct, one array of InvVect values and one array of pointers
// into it; a transaction is its struct, one array each of TxIn and TxOut
// values, one array of pointers to each, one [][]byte per witness stack and
// one array holding every script and witness item (wire's script arena).
// Each allocation is rounded as Go's allocator rounds it: to the size class
// (with the 8-byte header of pointerful objects above 512 bytes, 128 on
// 32-bit platforms), to whole 8 KiB pages above 32 KiB, and to a whole
// 16-byte block for pointer-free objects under 16 bytes, which the tiny
// allocator packs together and any one of which can keep its block alive.
// The result is computed from the message's counts and lengths (capacities,
// where wire allocated more than it kept): no reflection, no re-encoding,
// O(number of items), a loop over the items of address messages and over
// the inputs, outputs and witness items of transactions.
//
// It is exact for most messages (to the byte, as measured) and a little
// over for the rest: pointer-free objects under 16 bytes (a ping, a short
// reject reason) are counted as a whole tiny block though two may share
// one, and every addrv2 entry is counted with the largest address object
// wire could have kept for it (an IPv4 entry as an IPv6 one, an entry wire
// skipped as one that still holds an IPv6 address), so an addrv2 is
// overestimated by up to about 40%, the most for any message above a few
// dozen bytes. The tests measure both sides for every message type.
//
// The bound holds for messages as Decode returns them. A message built or
// modified otherwise (appended to, resliced, its items allocated one by one
// by wire's constructors) may keep memory this does not see. For a message
// type Decode never returns, it returns a pessimistic figure: a slice
// header's size (24 bytes on 64-bit platforms) for every byte the type's
// MaxPayloadLength allows, capped at MaxPayload, plus 64 KiB. That is the
// worst amplification wire's decoders reach: an empty witness item, one
// byte on the wire, is a slice header in memory.
// A nil msg costs nothing.
//
// EstimateDecodedSize computes the same figure from a payload, before
// decoding it, with the same per-type formulas.
func DecodedSize(msg wire.Message) int {
	n, _ := decodedSize(msg)
	return n
}

// Go's allocator, as of Go 1.26 (runtime/malloc.go, internal/runtime/gc).
// TestAllocSizeMatchesRuntime pins these against the running runtime.
const (
	ptrSize = int(unsafe.Sizeof(uintptr(0)))
	// tinySize: pointer-free objects smaller than this share 16-byte blocks.
	tinySize = 16
	// Pointerful objects larger than minSizeForMallocHeader (one bitmap
	// word's worth of pointers) carry an 8-byte type header in their slot,
	// up to maxSmallSize; larger objects get whole pages and no header.
	minSizeForMallocHeader = ptrSize * ptrSize * 8
	mallocHeaderSize       = 8
	maxSmallSize           = 32768
	pageSize               = 8192

	sliceSize     = int(unsafe.Sizeof([]byte(nil)))
	hashSize      = int(unsafe.Sizeof(chainhash.Hash{}))
	invVectSize   = int(unsafe.Sizeof(wire.InvVect{}))
	headerSize    = int(unsafe.Sizeof(wire.BlockHeader{}))
	txSize        = int(unsafe.Sizeof(wire.MsgTx{}))
	txInSize      = int(unsafe.Sizeof(wire.TxIn{}))
	txOutSize     = int(unsafe.Sizeof(wire.TxOut{}))
	netAddrSize   = int(unsafe.Sizeof(wire.NetAddress{}))
	netAddrV2Size = int(unsafe.Sizeof(wire.NetAddressV2{}))

	// netIPSize is the array readNetAddress allocates for every address's IP.
	netIPSize = 16
	// addrV2Size is the largest address object wire keeps for an addrv2
	// entry other than TorV3 (an IPv6 address: 16 bytes and a network ID),
	// and addrV2TorV3Size that of a TorV3 address (32 bytes and the ID).
	addrV2Size      = 16 + 1
	addrV2TorV3Size = wire.TorV3Size + 1

	// maxAmplification is the most memory per payload byte wire's decoders
	// keep (see DecodedSize), for message types Decode does not return.
	maxAmplification = sliceSize
)

// sizeClasses are Go's small-object size classes (class 0, for large
// objects, left out).
var sizeClasses = [...]uint16{
	8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224,
	240, 256, 288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896,
	1024, 1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456,
	4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880,
	12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264,
	28672, 32768,
}

// allocSize returns the heap bytes one allocation of n bytes takes: its
// size class or its pages. pointers says whether the object holds pointers.
// For a pointer-free object under 16 bytes it returns the whole tiny block.
func allocSize(n int, pointers bool) int {
	switch {
	case n <= 0:
		return 0 // zero-size allocations share one address, costing nothing
	case n > maxSmallSize-mallocHeaderSize:
		return (n + pageSize - 1) &^ (pageSize - 1)
	case !pointers && n < tinySize:
		return tinySize
	case pointers && n > minSizeForMallocHeader:
		n += mallocHeaderSize
	}
	if n <= 1024 {
		return int(classBy8[(n+7)/8])
	}
	return int(classBy128[(n-1024+127)/128])
}

// classBy8[i] is the size class of objects of up to 8*i bytes, and
// classBy128[i] that of objects of up to 1024+128*i bytes: the runtime's
// own lookup scheme (classes are multiples of 8 up to 1 KiB and of 128
// above).
var classBy8, classBy128 = classTables()

func classTables() (by8 [1024/8 + 1]uint16, by128 [(maxSmallSize-1024)/128 + 1]uint16) {
	class := func(n int) uint16 {
		i, _ := slices.BinarySearch(sizeClasses[:], uint16(n))
		return sizeClasses[i]
	}
	for i := range by8 {
		by8[i] = class(8 * i)
	}
	for i := range by128 {
		by128[i] = class(1024 + 128*i)
	}
	return by8, by128
}

// arrayAndPointers is the cost of wire's usual decoding of a list of count
// items: one array of the items (itemSize bytes each, pointerful or not) and
// one array of pointers into it.
func arrayAndPointers(count, itemSize int, itemPointers bool) int {
	return allocSize(count*itemSize, itemPointers) + allocSize(count*ptrSize, true)
}

// decodedSize is DecodedSize; known is false for a message type Decode does
// not return (and for nil). It reads the counts and lengths the formulas
// below take from the message; EstimateDecodedSize reads the same counts
// from the payload (see walkPayload) and calls the same formulas.
func decodedSize(msg wire.Message) (n int, known bool) {
	switch m := msg.(type) {
	case nil:
		return 0, false

	// Fixed-size messages: the struct alone (empty ones cost nothing).
	case *wire.MsgVerAck:
		return structOnly[wire.MsgVerAck](), true
	case *wire.MsgSendAddrV2:
		return structOnly[wire.MsgSendAddrV2](), true
	case *wire.MsgWTxIdRelay:
		return structOnly[wire.MsgWTxIdRelay](), true
	case *wire.MsgGetAddr:
		return structOnly[wire.MsgGetAddr](), true
	case *wire.MsgMemPool:
		return structOnly[wire.MsgMemPool](), true
	case *wire.MsgFilterClear:
		return structOnly[wire.MsgFilterClear](), true
	case *wire.MsgSendHeaders:
		return structOnly[wire.MsgSendHeaders](), true
	case *wire.MsgPing:
		return structOnly[wire.MsgPing](), true
	case *wire.MsgPong:
		return structOnly[wire.MsgPong](), true
	case *wire.MsgFeeFilter:
		return structOnly[wire.MsgFeeFilter](), true
	case *wire.MsgGetCFilters:
		return structOnly[wire.MsgGetCFilters](), true
	case *wire.MsgGetCFHeaders:
		return structOnly[wire.MsgGetCFHeaders](), true
	case *wire.MsgGetCFCheckpt:
		return structOnly[wire.MsgGetCFCheckpt](), true
	case *MsgSendCmpct:
		return structOnly[MsgSendCmpct](), true

	case *wire.MsgVersion:
		return versionSize(cap(m.AddrYou.IP), cap(m.AddrMe.IP), len(m.UserAgent)), true
	case *wire.MsgReject:
		return rejectSize(len(m.Cmd), len(m.Reason)), true
	case *wire.MsgFilterAdd:
		return withBytes[wire.MsgFilterAdd](cap(m.Data)), true
	case *wire.MsgFilterLoad:
		return withBytes[wire.MsgFilterLoad](cap(m.Filter)), true
	case *wire.MsgCFilter:
		return withBytes[wire.MsgCFilter](cap(m.Data)), true
	case *MsgUnknown:
		return unknownSize(len(m.Cmd), cap(m.Payload)), true

	// Lists: an array of items and an array of pointers into it, sized by
	// the declared count, which is the pointer slice's capacity.
	case *wire.MsgInv:
		return listSize[wire.MsgInv](cap(m.InvList), invVectSize, false), true
	case *wire.MsgGetData:
		return listSize[wire.MsgGetData](cap(m.InvList), invVectSize, false), true
	case *wire.MsgNotFound:
		return listSize[wire.MsgNotFound](cap(m.InvList), invVectSize, false), true
	case *wire.MsgHeaders:
		// BlockHeader holds a time.Time, whose *Location is a pointer.
		return listSize[wire.MsgHeaders](cap(m.Headers), headerSize, true), true
	case *wire.MsgGetHeaders:
		return listSize[wire.MsgGetHeaders](cap(m.BlockLocatorHashes), hashSize, false), true
	case *wire.MsgGetBlocks:
		return listSize[wire.MsgGetBlocks](cap(m.BlockLocatorHashes), hashSize, false), true
	case *wire.MsgCFCheckpt:
		return listSize[wire.MsgCFCheckpt](cap(m.FilterHeaders), hashSize, false), true
	case *wire.MsgMerkleBlock:
		return merkleBlockSize(cap(m.Hashes), cap(m.Flags)), true
	case *wire.MsgCFHeaders:
		return cfHeadersSize(cap(m.FilterHashes), len(m.FilterHashes)), true
	case *wire.MsgAddr:
		return addrSize(cap(m.AddrList)), true
	case *wire.MsgAddrV2:
		torV3 := 0
		for _, na := range m.AddrList {
			if na != nil && na.IsTorV3() {
				torV3++
			}
		}
		return addrV2ListSize(cap(m.AddrList), len(m.AddrList), torV3), true

	case *wire.MsgTx:
		return txCountsOf(m).size(), true
	case *wire.MsgBlock:
		txs := 0
		for _, tx := range m.Transactions {
			if tx != nil {
				txs += txCountsOf(tx).size()
			}
		}
		return blockSize(cap(m.Transactions), txs), true
	}
	maxLen := int(min(msg.MaxPayloadLength(ProtocolVersion), MaxPayload))
	return maxAmplification*maxLen + 64<<10, false
}

// The per-type formulas. Each takes the counts and lengths a message's
// decoded size depends on and returns the heap bytes wire's decoder (or
// this package's) allocates and keeps for them. decodedSize reads the
// counts from a decoded message, walkPayload from the payload's bytes.

// sizeOf is the size of a T value.
func sizeOf[T any]() int {
	var v T
	return int(unsafe.Sizeof(v))
}

// structOnly is the cost of a message that is its pointer-free struct and
// nothing else.
func structOnly[T any]() int { return allocSize(sizeOf[T](), false) }

// versionSize: readNetAddress allocates each address's 16-byte IP (youIP
// and meIP are their capacities, 0 for an address the payload leaves out);
// the user agent is a string of its own.
func versionSize(youIP, meIP, userAgent int) int {
	return allocSize(sizeOf[wire.MsgVersion](), true) +
		allocSize(youIP, false) + allocSize(meIP, false) + allocSize(userAgent, false)
}

// rejectSize: the struct and its two strings.
func rejectSize(cmd, reason int) int {
	return allocSize(sizeOf[wire.MsgReject](), true) + allocSize(cmd, false) + allocSize(reason, false)
}

// withBytes is the cost of a T holding one byte slice of capacity data
// (filteradd, filterload, cfilter: wire's ReadVarBytes).
func withBytes[T any](data int) int {
	return allocSize(sizeOf[T](), true) + allocSize(data, false)
}

// unknownSize: the struct, its command string and the payload io.ReadAll
// returned, whose capacity payloadCap is (an empty or short payload still
// holds ReadAll's first 512-byte buffer).
func unknownSize(cmd, payloadCap int) int {
	return allocSize(sizeOf[MsgUnknown](), true) + allocSize(cmd, false) + allocSize(payloadCap, false)
}

// listSize is the cost of a T holding a list of count items decoded wire's
// usual way (see arrayAndPointers).
func listSize[T any](count, itemSize int, itemPointers bool) int {
	return allocSize(sizeOf[T](), true) + arrayAndPointers(count, itemSize, itemPointers)
}

// merkleBlockSize: the hashes as a list, and the flags' byte slice.
func merkleBlockSize(hashes, flags int) int {
	return listSize[wire.MsgMerkleBlock](hashes, hashSize, false) + allocSize(flags, false)
}

// cfHeadersSize: a slice of pointerCap pointers, and each of the hashes
// an allocation of its own.
func cfHeadersSize(pointerCap, hashes int) int {
	return allocSize(sizeOf[wire.MsgCFHeaders](), true) + allocSize(pointerCap*ptrSize, true) +
		hashes*allocSize(hashSize, false)
}

// addrSize: the addresses as a list, and each one's 16-byte IP.
func addrSize(count int) int {
	return listSize[wire.MsgAddr](count, netAddrSize, true) + count*allocSize(netIPSize, false)
}

// addrV2ListSize: wire decodes an addrv2 into an array of as many NetAddressV2
// as were declared (the pointer slice's capacity) and appends pointers to
// the kept entries (keptTorV3 of them TorV3) to the slice; entries of
// networks it does not relay stay in the array, unlisted. An IPv6 entry it
// skips (TorV2-in-IPv6 or IPv4-mapped) still holds its address object, so
// each unlisted entry is counted at an IPv6 address. When no entry is
// kept, nothing points into the array and only the pointer slice remains.
func addrV2ListSize(declared, kept, keptTorV3 int) int {
	n := allocSize(sizeOf[wire.MsgAddrV2](), true) + allocSize(declared*ptrSize, true)
	if kept == 0 {
		return n
	}
	return n + allocSize(declared*netAddrV2Size, true) +
		keptTorV3*allocSize(addrV2TorV3Size, false) + (declared-keptTorV3)*allocSize(addrV2Size, false)
}

// txCounts are what a transaction's decoded size depends on. wire
// allocates the MsgTx, arrays of TxIn and TxOut values and of pointers to
// them (sized by the declared counts), a [][]byte per witness stack, and
// one array (wire's script arena, copied out of its pooled slab) holding
// every signature script, witness item and output script.
type txCounts struct {
	inputs, outputs int // the TxIn and TxOut arrays' lengths
	witnessStacks   int // heap bytes of the witness stacks (addWitness)
	scripts         int // bytes of scripts and witness items, all together
}

// addWitness counts an input's witness stack of items items.
func (t *txCounts) addWitness(items int) {
	t.witnessStacks += allocSize(items*sliceSize, true)
}

// size is the transaction's heap bytes, its MsgTx included.
func (t txCounts) size() int {
	return allocSize(txSize, true) +
		arrayAndPointers(t.inputs, txInSize, true) + arrayAndPointers(t.outputs, txOutSize, true) +
		t.witnessStacks + allocSize(t.scripts, false)
}

// txCountsOf reads a decoded transaction's counts (capacities where wire
// allocated them by count).
func txCountsOf(tx *wire.MsgTx) txCounts {
	t := txCounts{inputs: cap(tx.TxIn), outputs: cap(tx.TxOut)}
	for _, in := range tx.TxIn {
		if in == nil {
			continue
		}
		t.scripts += len(in.SignatureScript)
		t.addWitness(cap(in.Witness))
		for _, item := range in.Witness {
			t.scripts += len(item)
		}
	}
	for _, out := range tx.TxOut {
		if out != nil {
			t.scripts += len(out.PkScript)
		}
	}
	return t
}

// blockSize: the struct, a slice of txCap pointers, and the transactions
// (txs: the sum of their sizes, each MsgTx an allocation of its own).
func blockSize(txCap, txs int) int {
	return allocSize(sizeOf[wire.MsgBlock](), true) + allocSize(txCap*ptrSize, true) + txs
}
