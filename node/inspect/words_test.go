package inspect

import "testing"

func TestWithArticle(t *testing.T) {
	for phrase, want := range map[string]string{
		"8-byte":       "an 8-byte",
		"80-byte":      "an 80-byte",
		"800-byte":     "an 800-byte",
		"11-byte":      "an 11-byte",
		"18-byte":      "an 18-byte",
		"11000-byte":   "an 11000-byte",
		"18,000-byte":  "an 18,000-byte",
		"110-byte":     "a 110-byte",
		"1100-byte":    "a 1100-byte",
		"1-byte":       "a 1-byte",
		"0-byte":       "a 0-byte",
		"24-byte":      "a 24-byte",
		"mainnet":      "a mainnet",
		"regtest":      "a regtest",
		"Array":        "an Array",
		"ArrayBuffer":  "an ArrayBuffer",
		"object":       "an object",
		"Uint8Array":   "a Uint8Array",
		"string":       "a string",
		"inv":          "an inv",
		"unknown":      "an unknown",
		"user agent":   "a user agent",
		"one-byte tag": "a one-byte tag",
	} {
		if got := WithArticle(phrase); got != want {
			t.Errorf("WithArticle(%q) = %q, want %q", phrase, got, want)
		}
	}
}
