package osm

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/goha-ha/goha/ocf"
)

// maxTableName bounds table names; nftables allows more, people read less.
const maxTableName = 64

// Config is one resource's validated parameters, defaults resolved.
type Config struct {
	Ruleset Ruleset
	Service *Service // nil when the resource is only the SNAT rule
}

// Service is the session-manager service, driven by three commands.
type Service struct {
	Start, Stop, Status []string // argv each, run without a shell
}

// configFrom resolves the parameters of resource (the id without a clone
// suffix).
func configFrom(v *ocf.Values, resource string) (Config, error) {
	var c Config
	network, err := parseNetwork(v.String(pNetwork))
	if err != nil {
		return c, ocf.Fail(ocf.ErrConfigured, "parameter %s %v", pNetwork, err)
	}
	addr, err := parseAddress(v.String(pAddress))
	if err != nil {
		return c, ocf.Fail(ocf.ErrConfigured, "parameter %s %v", pAddress, err)
	}
	if addr.Is4() != network.Addr().Is4() {
		return c, ocf.Fail(ocf.ErrConfigured, "parameter %s %s is not of the IP version of %s %s",
			pAddress, addr, pNetwork, network)
	}
	table := v.String(pTable)
	if table == "" {
		table = defaultTable(resource)
	}
	c.Ruleset = Ruleset{
		Table:        table,
		Network:      network,
		OutInterface: v.String(pInterface),
		Address:      addr,
		Resource:     resource,
	}
	start, stop, status := strings.Fields(v.String(pStart)), strings.Fields(v.String(pStop)), strings.Fields(v.String(pStatus))
	switch {
	case len(start) > 0 && len(stop) == 0:
		return c, ocf.Fail(ocf.ErrConfigured, "parameter %s is required with %s", pStop, pStart)
	case len(start) > 0 && len(status) == 0:
		return c, ocf.Fail(ocf.ErrConfigured, "parameter %s is required with %s", pStatus, pStart)
	case len(start) == 0 && len(stop) > 0:
		return c, ocf.Fail(ocf.ErrConfigured, "parameter %s is set but %s is not", pStop, pStart)
	case len(start) == 0 && len(status) > 0:
		return c, ocf.Fail(ocf.ErrConfigured, "parameter %s is set but %s is not", pStatus, pStart)
	case len(start) > 0:
		c.Service = &Service{Start: start, Stop: stop, Status: status}
	}
	return c, nil
}

// parseNetwork reads the farm network: a CIDR prefix without host bits.
func parseNetwork(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil {
		return p, fmt.Errorf("is not a network in CIDR notation (like 10.1.0.0/16): %q", s)
	}
	if p.Addr().Zone() != "" || p.Addr().Is4In6() {
		return p, fmt.Errorf("must be a plain IPv4 or IPv6 network: %q", s)
	}
	if m := p.Masked(); m != p {
		return p, fmt.Errorf("has host bits set: %s (did you mean %s?)", p, m)
	}
	return p, nil
}

// parseAddress reads the address packets leave with.
func parseAddress(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil || a.Zone() != "" {
		return a, fmt.Errorf("is not an IP address: %q", s)
	}
	a = a.Unmap()
	if a.IsUnspecified() || a.IsMulticast() {
		return a, fmt.Errorf("is not a unicast address: %s", a)
	}
	return a, nil
}

// checkInterface accepts a Linux interface name.
func checkInterface(s string) error {
	if len(s) > 15 || s == "." || s == ".." || strings.ContainsAny(s, "/: \t\n\x00") {
		return fmt.Errorf("is not an interface name (at most 15 characters, no '/', ':' or blanks): %q", s)
	}
	return nil
}

// checkTable accepts a table name nft(8) can also address: a letter, then
// letters, digits and underscores.
func checkTable(s string) error {
	if len(s) > maxTableName || !isWord(s) || !isLetter(s[0]) {
		return fmt.Errorf("must be a letter followed by at most %d letters, digits or underscores: %q", maxTableName-1, s)
	}
	return nil
}

func checkCommand(s string) error {
	if strings.TrimSpace(s) == "" {
		return fmt.Errorf("is blank")
	}
	return nil
}

// defaultTable is goha_osm_<resource>, the resource id made a table name.
func defaultTable(resource string) string {
	if resource == "" {
		resource = "default"
	}
	name := "goha_osm_" + strings.Map(func(r rune) rune {
		if r < 0x80 && (isLetter(byte(r)) || r >= '0' && r <= '9' || r == '_') {
			return r
		}
		return '_'
	}, resource)
	if len(name) > maxTableName {
		name = name[:maxTableName]
	}
	return name
}

func isWord(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !isLetter(b) && (b < '0' || b > '9') && b != '_' {
			return false
		}
	}
	return true
}

func isLetter(b byte) bool { return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' }
