package views

import "strings"

// ServiceFlag is one service bit's short form in the peers table.
type ServiceFlag struct {
	// Name is Bitcoin Core's name of the bit (getpeerinfo's servicesnames).
	Name string
	// Letter stands for it in the peers table.
	Letter string
	// Meaning says what a peer offers with it.
	Meaning string
}

// ServiceFlags are the letters of the service bits Core names, in bit
// order. Core's GUI spells the names out, which takes a third of a
// 1280-pixel table; one letter each (the name's initial, L for
// NETWORK_LIMITED and P for P2P_V2 so that none repeats) keeps the column
// narrow, and the names stay in the cell's title and on the peer page.
// The page script has the same table (app.js SERVICE_LETTERS).
var ServiceFlags = []ServiceFlag{
	{"NETWORK", "N", "serves the full block chain"},
	{"BLOOM", "B", "serves bloom-filtered blocks (BIP 111)"},
	{"WITNESS", "W", "serves segregated witness data (BIP 144)"},
	{"COMPACT_FILTERS", "C", "serves compact block filters (BIP 157)"},
	{"NETWORK_LIMITED", "L", "serves the last 288 blocks (BIP 159)"},
	{"P2P_V2", "P", "speaks the encrypted v2 transport (BIP 324)"},
}

// UnknownServiceLetter stands, once, for any bits Core does not name.
const UnknownServiceLetter = "?"

// ServiceLetters abbreviates service names (as protocol.ServiceNames gives
// them) to their letters, in the order given; None for no services.
func ServiceLetters(names []string) string {
	var b strings.Builder
	unknown := false
	for _, n := range names {
		if l := serviceLetter(n); l != "" {
			b.WriteString(l)
		} else {
			unknown = true
		}
	}
	if unknown {
		b.WriteString(UnknownServiceLetter)
	}
	if b.Len() == 0 {
		return None
	}
	return b.String()
}

func serviceLetter(name string) string {
	for _, f := range ServiceFlags {
		if f.Name == name {
			return f.Letter
		}
	}
	return ""
}

// ServiceLegend explains the letters, as the services column's title does.
func ServiceLegend() string {
	parts := make([]string, 0, len(ServiceFlags)+1)
	for _, f := range ServiceFlags {
		parts = append(parts, f.Letter+" "+f.Name)
	}
	parts = append(parts, UnknownServiceLetter+" bits Bitcoin Core does not name")
	return "Services: " + strings.Join(parts, ", ")
}

// ServiceTitle is a services cell's title: the full names.
func ServiceTitle(names []string) string {
	if len(names) == 0 {
		return "no services"
	}
	return strings.Join(names, ", ")
}
