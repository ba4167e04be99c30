package inspect

import (
	"strconv"
	"strings"
)

// WithArticle puts "a" or "an" before phrase, by how its first word is
// spoken: "an 8-byte payload", "an 11-byte payload", "a 100-byte payload",
// "an Array", "a Uint8Array". Generated sentences carry numbers and names
// that are not known until run time, so the article cannot be written in.
func WithArticle(phrase string) string {
	if anBefore(phrase) {
		return "an " + phrase
	}
	return "a " + phrase
}

// anBefore reports whether phrase is spoken starting with a vowel sound.
func anBefore(phrase string) bool {
	if phrase == "" {
		return false
	}
	if c := phrase[0]; c >= '0' && c <= '9' {
		digits := len(phrase) - len(strings.TrimLeft(phrase, "0123456789,"))
		n := strings.ReplaceAll(phrase[:digits], ",", "")
		// Eight, eighty, eight hundred...; and eleven and eighteen, but
		// only when they lead a group of thousands (11, 11,000, 18,000,000;
		// not 110 or 1,100).
		return n[0] == '8' || len(n)%3 == 2 && (strings.HasPrefix(n, "11") || strings.HasPrefix(n, "18"))
	}
	lower := strings.ToLower(phrase)
	for _, you := range []string{"uint", "uni", "use", "usu", "uti", "eu", "one"} {
		if strings.HasPrefix(lower, you) {
			return false // spoken "you..." or "won..."
		}
	}
	return strings.IndexByte("aeiou", lower[0]) >= 0
}

// counted is "1 thing" or "n things", for the tree's list summaries.
func counted(n uint64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.FormatUint(n, 10) + " " + many
}

// singular names one of what hashList counts.
func singular(many string) string {
	if many == "hashes" {
		return "hash"
	}
	return strings.TrimSuffix(many, "s")
}
