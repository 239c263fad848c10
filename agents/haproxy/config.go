package haproxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goha-ha/goha/ocf"
)

// runDir holds the default pid file and master socket.
const runDir = "/run/goha"

// Config is one resource's validated parameters, defaults resolved.
type Config struct {
	File      string // haproxy.cfg
	Binary    string
	Pidfile   string
	Socket    string   // master CLI socket path
	Required  []string // required_backends
	Extra     []string // extra_args, split
	StopGrace time.Duration
}

// configFrom resolves the parameters of resource ("web" or "web:1").
func configFrom(v *ocf.Values, resource string) (Config, error) {
	c := Config{
		File:      v.String(pConfig),
		Binary:    v.String(pBinary),
		Pidfile:   v.String(pPidfile),
		Socket:    v.String(pSocket),
		Required:  splitExtra(v.String(pRequired)),
		Extra:     splitExtra(v.String(pExtra)),
		StopGrace: time.Duration(v.Int(pStopGrace)) * time.Second,
	}
	if err := checkExtra(c.Extra); err != nil {
		return c, ocf.Fail(ocf.ErrConfigured, "parameter %s %v", pExtra, err)
	}
	base := "haproxy-" + fileSafe(resourceName(resource))
	if c.Pidfile == "" {
		c.Pidfile = filepath.Join(runDir, base+".pid")
	}
	if c.Socket == "" {
		c.Socket = filepath.Join(runDir, base+".sock")
	}
	return c, nil
}

// resourceName drops a clone instance suffix and names an anonymous run.
func resourceName(resource string) string {
	if i := strings.IndexByte(resource, ':'); i >= 0 {
		resource = resource[:i]
	}
	if resource == "" {
		return "default"
	}
	return resource
}

// fileSafe keeps letters, digits, '-', '_' and '.' so that a resource id
// never escapes the run directory.
func fileSafe(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok || (i == 0 && c == '.') {
			b[i] = '_'
		}
	}
	return string(b)
}

// Argv is the command line that launches haproxy as a daemon in
// master-worker mode.
func (c Config) Argv() []string {
	argv := []string{c.Binary, "-W", "-D", "-S", c.Socket + ",mode,600", "-p", c.Pidfile, "-f", c.File}
	return append(argv, c.Extra...)
}

// CheckArgv is the command line that checks the configuration.
func (c Config) CheckArgv() []string {
	argv := []string{c.Binary, "-c", "-f", c.File}
	return append(argv, c.Extra...)
}

// IsOurs reports whether argv is a haproxy master or worker of this
// resource: its -S names this resource's master socket. A reloaded
// master and its workers carry more arguments (-sf, -x), so only -S counts.
func (c Config) IsOurs(argv []string) bool {
	for i := 1; i+1 < len(argv); i++ {
		if argv[i] == "-S" {
			path, _, _ := strings.Cut(argv[i+1], ",")
			return path == c.Socket
		}
	}
	return false
}

// SameLaunch reports whether a master started with argv runs what c would
// launch (program, configuration file and extra arguments), which a
// reload keeps; otherwise only a restart applies c.
func (c Config) SameLaunch(argv []string) bool {
	want := c.Argv()
	got := dropReloadArgs(argv)
	if len(got) != len(want) {
		return false
	}
	for i := range want {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

// dropReloadArgs removes the -sf/-st pid lists and -x socket a master adds
// to its own command line when it re-executes itself.
func dropReloadArgs(argv []string) []string {
	var out []string
	for i := 0; i < len(argv); i++ {
		switch argv[i] {
		case "-x":
			i++
			continue
		case "-sf", "-st":
			for i+1 < len(argv) && isNumber(argv[i+1]) {
				i++
			}
			continue
		}
		out = append(out, argv[i])
	}
	return out
}

func isNumber(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

func checkAbsolute(v string) error {
	if !filepath.IsAbs(v) {
		return errors.New("is not an absolute path")
	}
	return nil
}

// checkBackendNames accepts the characters haproxy allows in proxy names.
func checkBackendNames(v string) error {
	for _, name := range strings.Fields(v) {
		for _, c := range name {
			ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:", c)
			if !ok {
				return fmt.Errorf("has %q, which is not a backend name", name)
			}
		}
	}
	return nil
}

// splitExtra splits extra_args at white space (no quoting: no shell).
func splitExtra(v string) []string {
	if f := strings.Fields(v); len(f) > 0 {
		return f
	}
	return nil
}

// agentFlags are the haproxy options the agent sets or must not see.
var agentFlags = []string{"-W", "-Ws", "-D", "-S", "-p", "-c", "-sf", "-st", "-x", "-q", "-db"}

func checkExtra(args []string) error {
	for _, a := range args {
		for _, f := range agentFlags {
			if a == f {
				return fmt.Errorf("sets %s, which the agent sets or forbids itself", a)
			}
		}
	}
	return nil
}

// checkOutput keeps the lines of haproxy's output that say why it refused
// to run: its ALERT lines without the "[ALERT]    (pid) : " prefix, or the
// whole output when there is none.
func checkOutput(out string) string {
	var alerts []string
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		rest, ok := strings.CutPrefix(line, "[ALERT]")
		if !ok {
			continue
		}
		if _, after, found := strings.Cut(rest, ") : "); found {
			rest = after
		}
		rest = strings.TrimSpace(rest)
		// The summary lines repeat what the lines above said.
		if strings.HasPrefix(rest, "config : Fatal errors found in configuration") ||
			strings.HasPrefix(rest, "config : Error(s) found in configuration file") {
			continue
		}
		alerts = append(alerts, rest)
	}
	if len(alerts) == 0 {
		return strings.Join(strings.Fields(out), " ")
	}
	return strings.Join(alerts, "; ")
}

// Listener is one TCP address a frontend binds.
type Listener struct {
	Frontend string
	Addr     netip.Addr // the zero Addr for a name, matched on the port only
	Port     int
	Line     int // in the configuration file
}

func (l Listener) String() string {
	if !l.Addr.IsValid() {
		return fmt.Sprintf("*:%d", l.Port)
	}
	return netip.AddrPortFrom(l.Addr, uint16(l.Port)).String()
}

// Proxies is what a haproxy configuration declares that the agent checks.
type Proxies struct {
	Listeners []Listener
	Backends  []string // backend and listen section names
	Frontends []string // frontend and listen sections with a TCP bind
	// Unchecked lists bind addresses the agent cannot check (UNIX sockets,
	// UDP, inherited descriptors, other network namespaces, unset
	// variables), for the log.
	Unchecked []string
}

// maxPortRange bounds a bind port range, which haproxy itself keeps small.
const maxPortRange = 1024

// sectionKeywords start a section of haproxy.cfg.
var sectionKeywords = map[string]bool{
	"global": true, "defaults": true, "frontend": true, "backend": true, "listen": true,
	"peers": true, "resolvers": true, "userlist": true, "cache": true, "program": true,
	"http-errors": true, "ring": true, "mailers": true, "log-forward": true,
	"dynamic-update": true, "fcgi-app": true,
}

// parseConfig reads what a haproxy configuration binds and which backends
// it has. getenv expands "${NAME}" as haproxy does at startup.
func parseConfig(r io.Reader, getenv func(string) string) (Proxies, error) {
	var p Proxies
	var section, name string
	var pending []Listener // of the current section, dropped if it is disabled
	var disabled bool
	flush := func() {
		if section == "frontend" || section == "listen" {
			if !disabled && len(pending) > 0 {
				p.Listeners = append(p.Listeners, pending...)
				p.Frontends = append(p.Frontends, name)
			}
		}
		pending, disabled = nil, false
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		words := splitLine(sc.Text(), getenv)
		if len(words) == 0 {
			continue
		}
		if sectionKeywords[words[0]] {
			flush()
			section, name = words[0], ""
			if len(words) > 1 {
				name = words[1]
			}
			if section == "backend" || section == "listen" {
				p.Backends = append(p.Backends, name)
			}
			continue
		}
		if section != "frontend" && section != "listen" {
			continue
		}
		switch words[0] {
		case "disabled":
			disabled = true
		case "bind":
			if len(words) < 2 {
				return p, fmt.Errorf("line %d: bind without an address", n)
			}
			if slices.Contains(words[2:], "namespace") {
				p.Unchecked = append(p.Unchecked, fmt.Sprintf("%s (%s, in another network namespace)", words[1], name))
				continue
			}
			for _, addr := range strings.Split(words[1], ",") {
				ls, why, err := parseBind(addr)
				if err != nil {
					return p, fmt.Errorf("line %d: bind %s: %w", n, addr, err)
				}
				if why != "" {
					p.Unchecked = append(p.Unchecked, fmt.Sprintf("%s (%s, %s)", addr, name, why))
				}
				for _, l := range ls {
					l.Frontend, l.Line = name, n
					pending = append(pending, l)
				}
			}
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		return p, fmt.Errorf("read configuration: %w", err)
	}
	return p, nil
}

// parseBind reads one bind address: [proto@]addr:port[-port]. It returns
// why an address is not checked instead of listeners for non-TCP ones.
func parseBind(s string) ([]Listener, string, error) {
	if s == "" {
		return nil, "", errors.New("empty address")
	}
	if strings.HasPrefix(s, "/") {
		return nil, "a UNIX socket", nil
	}
	family := ""
	if proto, rest, ok := strings.Cut(s, "@"); ok {
		switch proto {
		case "ipv4", "tcp4", "tcp":
			family = "4"
		case "ipv6", "tcp6":
			family = "6"
		case "unix", "abns", "fd", "sockpair":
			return nil, "not a TCP socket", nil
		case "udp", "udp4", "udp6", "quic4", "quic6":
			return nil, "UDP", nil
		default:
			return nil, "", fmt.Errorf("unknown address family %q", proto)
		}
		if proto == "tcp" {
			family = ""
		}
		s = rest
	}
	if strings.Contains(s, "${") {
		return nil, "an unset variable", nil
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return nil, "", errors.New("no port")
	}
	host, ports := s[:i], s[i+1:]
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	lo, hi, err := parsePorts(ports)
	if err != nil {
		return nil, "", err
	}
	var addr netip.Addr
	switch {
	case host == "" || host == "*":
		if family == "6" {
			addr = netip.IPv6Unspecified()
		} else {
			addr = netip.IPv4Unspecified()
		}
	default:
		if a, err := netip.ParseAddr(host); err == nil {
			addr = a.WithZone("")
		} // else a name: matched on the port only
	}
	var ls []Listener
	for port := lo; port <= hi; port++ {
		ls = append(ls, Listener{Addr: addr, Port: port})
	}
	return ls, "", nil
}

// parsePorts reads "80" or "8080-8089".
func parsePorts(s string) (int, int, error) {
	loText, hiText, isRange := strings.Cut(s, "-")
	lo, err := strconv.Atoi(loText)
	if err != nil || lo < 1 || lo > 65535 {
		return 0, 0, fmt.Errorf("port %q is not 1 to 65535", s)
	}
	if !isRange {
		return lo, lo, nil
	}
	hi, err := strconv.Atoi(hiText)
	if err != nil || hi < lo || hi > 65535 || hi-lo >= maxPortRange {
		return 0, 0, fmt.Errorf("port range %q is not an ascending range of at most %d ports", s, maxPortRange)
	}
	return lo, hi, nil
}

// splitLine splits one configuration line into words the way haproxy
// does: white space separates, '#' starts a comment, a backslash escapes
// the next character, single quotes are literal, double quotes and bare
// words expand ${NAME}.
func splitLine(line string, getenv func(string) string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	quote := byte(0)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
			inWord = true
		case c == '"':
			if quote == '"' {
				quote = 0
			} else {
				quote = '"'
			}
			inWord = true
		case c == '\'' && quote == 0:
			quote = '\''
			inWord = true
		case c == '$' && i+1 < len(line) && line[i+1] == '{':
			end := strings.IndexByte(line[i:], '}')
			if end < 0 {
				cur.WriteString(line[i:])
				i = len(line)
				inWord = true
				continue
			}
			name := line[i+2 : i+end]
			if v := getenv(name); v != "" {
				cur.WriteString(v)
			} else {
				cur.WriteString(line[i : i+end+1]) // left for the caller to see
			}
			i += end
			inWord = true
		case quote == 0 && c == '#':
			i = len(line)
		case quote == 0 && (c == ' ' || c == '\t' || c == '\r'):
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}
