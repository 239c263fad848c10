package service

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goha-ha/goha/ocf"
)

// Config is one resource's parameters, presets and defaults resolved.
type Config struct {
	Unit        string // full unit name, with its type suffix
	Bus         string // D-Bus address; "" for the system bus
	MaxRestarts uint32
	Checks      Checks
}

// Checks are the health checks of a resource; zero values are off.
type Checks struct {
	HTTP    *HTTPCheck
	TCP     string   // host:port
	Exec    []string // argv
	Timeout time.Duration
}

// Any reports whether a check is configured.
func (c Checks) Any() bool { return c.HTTP != nil || c.TCP != "" || len(c.Exec) > 0 }

// HTTPCheck is an HTTP(S) request and what its answer must be.
type HTTPCheck struct {
	URL    string
	Status StatusSet
	Regex  *regexp.Regexp // nil: any body
	Verify bool           // verify the TLS certificate
	CAFile string         // "" for the system's CAs
}

// preset is the configuration of a known service; its values apply to
// parameters the resource does not set.
type preset struct {
	name   string
	values map[string]string
}

// presets are the services of goha's stacks.
var presets = []preset{
	{"vprotect-server", map[string]string{
		pUnit: "vprotect-server.service", pTCPPort: "8080",
		pHTTPURL: "https://127.0.0.1:8181/", pHTTPStatus: "200-499", pHTTPVerify: "false",
	}},
	{"vprotect-node", map[string]string{pUnit: "vprotect-node.service"}},
	{"memcached", map[string]string{pUnit: "memcached.service", pTCPPort: "11211"}},
	{"ovd-session-manager", map[string]string{pUnit: "ovd-session-manager.service"}},
}

func presetNames() []string {
	names := make([]string, len(presets))
	for i, p := range presets {
		names[i] = p.name
	}
	return names
}

// lookupPreset returns the values of the preset called name (nil for "").
func lookupPreset(name string) map[string]string {
	for _, p := range presets {
		if p.name == name {
			return p.values
		}
	}
	return nil
}

// configFrom resolves v: a parameter the resource sets wins (even when
// set empty), then the preset's value, then the declared default.
func configFrom(v *ocf.Values) (Config, error) {
	pre := lookupPreset(v.String(pPreset))
	get := func(name string) string {
		if v.IsSet(name) {
			return v.String(name)
		}
		if s, ok := pre[name]; ok {
			return s
		}
		return v.String(name)
	}
	var c Config
	raw := get(pUnit)
	if raw == "" {
		return c, ocf.Fail(ocf.ErrConfigured, "parameter %s is required (or set %s)", pUnit, pPreset)
	}
	unit, err := unitName(raw)
	if err != nil {
		return c, ocf.Fail(ocf.ErrConfigured, "parameter %s %v", pUnit, err)
	}
	c.Unit = unit
	c.Bus = get(pBus)
	c.MaxRestarts = uint32(v.Int(pMaxRestarts))
	c.Checks.Timeout = time.Duration(v.Int(pCheckTimeout)) * time.Second

	if u := get(pHTTPURL); u != "" {
		if err := checkURL(u); err != nil {
			return c, ocf.Fail(ocf.ErrConfigured, "parameter %s %v", pHTTPURL, err)
		}
		h := &HTTPCheck{URL: u, CAFile: get(pHTTPCA)}
		if h.Status, err = parseStatusSet(get(pHTTPStatus)); err != nil {
			return c, ocf.Fail(ocf.ErrConfigured, "parameter %s %v", pHTTPStatus, err)
		}
		if re := get(pHTTPRegex); re != "" {
			if h.Regex, err = regexp.Compile(re); err != nil {
				return c, ocf.Fail(ocf.ErrConfigured, "parameter %s is not a regular expression: %v", pHTTPRegex, err)
			}
		}
		verify, ok := parseBool(get(pHTTPVerify))
		if !ok {
			return c, ocf.Fail(ocf.ErrConfigured, "parameter %s must be a boolean (true/false)", pHTTPVerify)
		}
		h.Verify = verify
		c.Checks.HTTP = h
	}
	if port := get(pTCPPort); port != "" {
		n, err := strconv.Atoi(strings.TrimSpace(port))
		if err != nil || n < 1 || n > 65535 {
			return c, ocf.Fail(ocf.ErrConfigured, "parameter %s must be a port from 1 to 65535, not %q", pTCPPort, port)
		}
		host := get(pTCPHost)
		if host == "" {
			host = "127.0.0.1"
		}
		c.Checks.TCP = net.JoinHostPort(host, strconv.Itoa(n))
	}
	c.Checks.Exec = strings.Fields(get(pExec))
	return c, nil
}

// unitTypes are the suffixes of unit types that can be started.
var unitTypes = []string{".service", ".socket", ".target", ".mount", ".automount", ".swap", ".path", ".timer", ".slice", ".scope"}

// unitName validates a unit name and adds .service when it has no type,
// as systemctl does. Templates must name their instance (foo@bar).
func unitName(s string) (string, error) {
	if s == "" {
		return "", errors.New("is empty")
	}
	if len(s) > 255 {
		return "", errors.New("is longer than 255 characters, the longest unit name")
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune(":-_.\\@", r):
		default:
			return "", fmt.Errorf("has %q, which a unit name cannot contain: %q", r, s)
		}
	}
	name := s
	if !slices.ContainsFunc(unitTypes, func(t string) bool { return strings.HasSuffix(s, t) }) {
		name += ".service"
	}
	prefix := name[:strings.LastIndex(name, ".")]
	if prefix == "" || strings.HasPrefix(prefix, "@") || strings.Count(prefix, "@") > 1 {
		return "", fmt.Errorf("is not a valid unit name: %q", s)
	}
	if strings.HasSuffix(prefix, "@") {
		return "", fmt.Errorf("%q is a template: name an instance, e.g. %sNAME%s", s, prefix, name[len(prefix):])
	}
	return name, nil
}

// StatusSet is a set of HTTP status codes given as codes and ranges.
type StatusSet []statusRange

type statusRange struct{ lo, hi int }

// Contains reports whether code is in the set.
func (s StatusSet) Contains(code int) bool {
	for _, r := range s {
		if code >= r.lo && code <= r.hi {
			return true
		}
	}
	return false
}

func (s StatusSet) String() string {
	parts := make([]string, len(s))
	for i, r := range s {
		parts[i] = strconv.Itoa(r.lo)
		if r.hi != r.lo {
			parts[i] += "-" + strconv.Itoa(r.hi)
		}
	}
	return strings.Join(parts, ",")
}

// parseStatusSet reads "200", "200-299,401", with codes from 100 to 599.
func parseStatusSet(v string) (StatusSet, error) {
	var set StatusSet
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(item, "-")
		a, errA := strconv.Atoi(strings.TrimSpace(lo))
		b := a
		var errB error
		if isRange {
			b, errB = strconv.Atoi(strings.TrimSpace(hi))
		}
		switch {
		case errA != nil || errB != nil:
			return nil, fmt.Errorf("has %q, which is not a status code or a range like 200-299", item)
		case a < 100 || b > 599:
			return nil, fmt.Errorf("has %q, outside the status codes 100 to 599", item)
		case a > b:
			return nil, fmt.Errorf("has the empty range %q", item)
		}
		set = append(set, statusRange{a, b})
	}
	if len(set) == 0 {
		return nil, errors.New("names no status code")
	}
	return set, nil
}

func checkURL(v string) error {
	u, err := url.Parse(v)
	if err != nil {
		return fmt.Errorf("is not a URL: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("must be an http:// or https:// URL, not %q", v)
	}
	if u.Host == "" {
		return fmt.Errorf("has no host: %q", v)
	}
	return nil
}

func checkRegex(v string) error {
	if _, err := regexp.Compile(v); err != nil {
		return fmt.Errorf("is not a regular expression: %v", err)
	}
	return nil
}

func checkAbsolute(v string) error {
	if !filepath.IsAbs(v) {
		return fmt.Errorf("must be an absolute path, not %q", v)
	}
	return nil
}

func checkHost(v string) error {
	if strings.ContainsAny(v, " \t/[]") {
		return fmt.Errorf("must be a host name or an IP address without brackets, not %q", v)
	}
	return nil
}

func checkCommand(v string) error {
	f := strings.Fields(v)
	if len(f) == 0 {
		return nil
	}
	if !filepath.IsAbs(f[0]) {
		return fmt.Errorf("must start with the absolute path of a program, not %q", f[0])
	}
	return nil
}

// checkBusAddress accepts D-Bus addresses: transport:key=value,...
// separated by semicolons.
func checkBusAddress(v string) error {
	for _, a := range strings.Split(v, ";") {
		transport, rest, ok := strings.Cut(a, ":")
		if !ok || transport == "" || strings.ContainsAny(a, " \t") {
			return fmt.Errorf("is not a D-Bus address such as unix:path=/run/dbus/system_bus_socket: %q", v)
		}
		for _, kv := range strings.Split(rest, ",") {
			if k, _, ok := strings.Cut(kv, "="); kv != "" && (!ok || k == "") {
				return fmt.Errorf("has %q, which is not key=value", kv)
			}
		}
	}
	return nil
}

// parseBool reads the boolean spellings the ocf package accepts.
func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "yes", "true", "on", "y":
		return true, true
	case "0", "no", "false", "off", "n":
		return false, true
	}
	return false, false
}
