package validate

// baseSubsidy is the first halving period's block subsidy: 50 bitcoin.
const baseSubsidy = 50 * 100_000_000

// Subsidy returns the new coins a block at height may claim, halved every
// interval blocks and zero after 64 halvings (Core's GetBlockSubsidy; a
// right shift by 64 or more is undefined in C++, zero here).
func Subsidy(height, interval int32) int64 {
	halvings := height / interval
	if halvings >= 64 {
		return 0
	}
	return baseSubsidy >> halvings
}
