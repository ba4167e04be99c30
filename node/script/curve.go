package script

// curve is a faster verifier of signatures than btcec, which txscript
// uses: libsecp256k1 when the build links it (curve_libsecp256k1.go).
// verifyStandard trusts it to say which signatures are valid; what it
// calls invalid goes to txscript (see verifyStandard).
type curve interface {
	// name says which library this is, for logs and the status API.
	name() string
	// verifyECDSA reports whether rs (r then s, 32 bytes each, big
	// endian; a high s is accepted as consensus does) signs hash under
	// pubKey (33 or 65 bytes, SEC 1).
	verifyECDSA(rs *[64]byte, hash, pubKey []byte) bool
	// verifySchnorr reports whether sig (64 bytes) is a BIP340 signature
	// of hash under the x-only key xOnly (32 bytes).
	verifySchnorr(sig, hash, xOnly []byte) bool
	// checkTapTweak reports whether the x-only key output (32 bytes) is
	// the x-only key internal tweaked by tweak (32 bytes), Q = P + tG,
	// and Q's y is odd exactly when oddY: BIP341's check of a script
	// path's commitment.
	checkTapTweak(output, internal, tweak []byte, oddY bool) bool
	// close releases the library's memory once no verification runs.
	close()
}

// countingCurve counts the signature checks made through it, valid or
// not (a multisig's try against a key it does not match is one). Each
// worker has its own, so counting takes no atomic operation a signature.
type countingCurve struct {
	curve
	checks int64
}

func (c *countingCurve) verifyECDSA(rs *[64]byte, hash, pubKey []byte) bool {
	c.checks++
	return c.curve.verifyECDSA(rs, hash, pubKey)
}

func (c *countingCurve) verifySchnorr(sig, hash, xOnly []byte) bool {
	c.checks++
	return c.curve.verifySchnorr(sig, hash, xOnly)
}
