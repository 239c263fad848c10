package garbd

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/goha-ha/goha/ocf"
)

// defaultPort is the Galera group communication port a peer without one
// listens on.
const defaultPort = 4567

// Config is one resource's validated parameters, defaults resolved.
type Config struct {
	Address  string // wsrep_cluster_address as given
	Peers    []Peer // the nodes it names
	Cluster  string // wsrep_cluster_name, garbd --group
	Name     string // garbd --name; "" for garbd's default
	Options  string // garbd --options
	Binary   string
	Log      string
	Pid      string
	Workdir  string
	User     string
	Group    string   // "" for the user's primary group
	Extra    []string // additional_parameters, split
	StopWait int64    // seconds between SIGTERM and SIGKILL
}

// Peer is one node of a cluster address.
type Peer struct {
	Host string // a name or an IP address, without brackets
	Port int
}

func (p Peer) String() string { return net.JoinHostPort(p.Host, strconv.Itoa(p.Port)) }

// configFrom resolves the parameters of resource; rsctmp is HA_RSCTMP.
func configFrom(v *ocf.Values, resource, rsctmp string) (Config, error) {
	c := Config{
		Address:  strings.TrimSpace(v.String(pAddress)),
		Cluster:  v.String(pCluster),
		Name:     v.String(pName),
		Options:  strings.TrimSpace(v.String(pOptions)),
		Binary:   v.String(pBinary),
		Log:      v.String(pLog),
		Pid:      v.String(pPid),
		Workdir:  v.String(pWorkdir),
		User:     v.String(pUser),
		Group:    v.String(pGroup),
		Extra:    splitExtra(v.String(pExtra)),
		StopWait: v.Int(pStopWait),
	}
	peers, err := parseAddress(c.Address)
	if err != nil {
		return c, ocf.Fail(ocf.ErrConfigured, "parameter %s %v", pAddress, err)
	}
	c.Peers = peers
	if err := checkExtra(c.Extra); err != nil {
		return c, ocf.Fail(ocf.ErrConfigured, "parameter %s %v", pExtra, err)
	}
	if rsctmp == "" {
		rsctmp = "/run/resource-agents"
	}
	base := "garbd-" + fileSafe(resourceName(resource))
	if c.Pid == "" {
		c.Pid = filepath.Join(rsctmp, base+".pid")
	}
	if c.Workdir == "" {
		c.Workdir = filepath.Join(rsctmp, base)
	}
	return c, nil
}

// resourceName drops a clone instance suffix and names an anonymous run.
func resourceName(resource string) string {
	name, _, _ := strings.Cut(resource, ":")
	if name == "" {
		return "default"
	}
	return name
}

// fileSafe keeps a resource id usable as one path element.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == 0 {
			return '_'
		}
		return r
	}, s)
}

// parseAddress reads a gcomm:// cluster address: a comma-separated list of
// host[:port] (IPv6 addresses in brackets), optionally followed by
// ?key=value&... Galera options. An empty list, which would make garbd
// try to bootstrap a cluster of its own, is an error.
func parseAddress(addr string) ([]Peer, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(addr), "gcomm://")
	if !ok {
		return nil, fmt.Errorf("must start with gcomm://, not %q", addr)
	}
	list, query, _ := strings.Cut(rest, "?")
	if strings.ContainsAny(query, " \t") {
		return nil, fmt.Errorf("has white space in its options %q", query)
	}
	if strings.TrimSpace(list) == "" {
		return nil, errors.New("names no node: an arbitrator joins an existing cluster and cannot bootstrap one")
	}
	var peers []Peer
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, fmt.Errorf("has an empty node in %q", addr)
		}
		p, err := parsePeer(item)
		if err != nil {
			return nil, err
		}
		peers = append(peers, p)
	}
	return peers, nil
}

// parsePeer reads host, host:port, [v6] or [v6]:port.
func parsePeer(s string) (Peer, error) {
	host, port := s, ""
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.Index(s, "]")
		if end < 0 {
			return Peer{}, fmt.Errorf("has an unclosed bracket in node %q", s)
		}
		host = s[1:end]
		switch tail := s[end+1:]; {
		case tail == "":
		case strings.HasPrefix(tail, ":"):
			port = tail[1:]
		default:
			return Peer{}, fmt.Errorf("has junk after the address in node %q", s)
		}
		if ip := net.ParseIP(host); ip == nil || ip.To4() != nil {
			return Peer{}, fmt.Errorf("has %q in brackets, which is not an IPv6 address", host)
		}
	case strings.Count(s, ":") > 1:
		return Peer{}, fmt.Errorf("has node %q: write an IPv6 address in brackets, [%s]", s, s)
	case strings.Contains(s, ":"):
		host, port, _ = strings.Cut(s, ":")
		if !validHostname(host) {
			return Peer{}, fmt.Errorf("has node %q, whose host is not a name or an IPv4 address", s)
		}
	default:
		if !validHostname(host) {
			return Peer{}, fmt.Errorf("has node %q, which is not a host name or an IPv4 address", s)
		}
	}
	p := Peer{Host: host, Port: defaultPort}
	if port != "" || strings.HasSuffix(s, ":") {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return Peer{}, fmt.Errorf("has node %q with port %q, which is not 1 to 65535", s, port)
		}
		p.Port = n
	}
	return p, nil
}

// validHostname accepts DNS names (letters, digits, '-', '_', dots between
// labels) and dotted-quad addresses.
func validHostname(h string) bool {
	if h == "" || len(h) > 253 || strings.HasPrefix(h, ".") || strings.HasSuffix(h, ".") || strings.Contains(h, "..") {
		return false
	}
	for _, r := range h {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
		default:
			return false
		}
	}
	return true
}

// checkClusterName accepts what garbd can take as one --group argument.
func checkClusterName(v string) error {
	if strings.ContainsAny(v, " \t\n") {
		return errors.New("must not contain white space")
	}
	if len(v) > 32 {
		return errors.New("is longer than 32 characters, the longest name Galera accepts")
	}
	return nil
}

// checkWord accepts a single word: a user, group or node name.
func checkWord(v string) error {
	if strings.ContainsAny(v, " \t\n:/") {
		return fmt.Errorf("must be one word without ':' or '/', not %q", v)
	}
	return nil
}

func checkAbsolute(v string) error {
	if !filepath.IsAbs(v) {
		return fmt.Errorf("must be an absolute path, not %q", v)
	}
	return nil
}

// checkOptions wants key=value items separated by semicolons.
func checkOptions(v string) error {
	for _, item := range strings.Split(v, ";") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		k, _, ok := strings.Cut(item, "=")
		if !ok || strings.TrimSpace(k) == "" || strings.ContainsAny(strings.TrimSpace(k), " \t") {
			return fmt.Errorf("has %q, which is not a key=value option", item)
		}
	}
	return nil
}

// splitExtra splits additional_parameters at white space, without a shell.
func splitExtra(v string) []string {
	if f := strings.Fields(v); len(f) > 0 {
		return f
	}
	return nil
}

// ownFlags are garbd's options the agent sets itself; a second value from
// additional_parameters would make the resource's identity ambiguous.
var ownFlags = []string{"-a", "--address", "-g", "--group", "-n", "--name", "-o", "--options", "-l", "--log", "-d", "--daemon"}

func checkExtra(args []string) error {
	for _, a := range args {
		flag, _, _ := strings.Cut(a, "=")
		for _, own := range ownFlags {
			if flag == own || (len(own) == 2 && strings.HasPrefix(a, own) && !strings.HasPrefix(a, "--")) {
				return fmt.Errorf("must not set %s: the agent passes it from its own parameters", own)
			}
		}
	}
	return nil
}

// Argv is the command line start runs. garbd logs to stderr, which the
// agent points at the log file, so --log is not passed: the log can then be
// read through the process's own file descriptor after a rotation.
func (c Config) Argv() []string {
	argv := []string{c.Binary, "--address", c.Address, "--group", c.Cluster}
	if c.Name != "" {
		argv = append(argv, "--name", c.Name)
	}
	if c.Options != "" {
		argv = append(argv, "--options", c.Options)
	}
	return append(argv, c.Extra...)
}

// flagValue finds the value of a garbd option in argv, in any of the forms
// garbd accepts: -a X, --address X, --address=X, -aX. The second result
// is false when argv does not set it.
func flagValue(argv []string, short, long string) (string, bool) {
	value, found := "", false
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		switch {
		case a == short || a == long:
			if i+1 < len(argv) {
				value, found = argv[i+1], true
				i++
			}
		case strings.HasPrefix(a, long+"="):
			value, found = strings.TrimPrefix(a, long+"="), true
		case strings.HasPrefix(a, short) && !strings.HasPrefix(a, "--") && len(a) > len(short):
			value, found = strings.TrimPrefix(a, short), true
		}
	}
	return value, found
}

// IsOurs reports whether argv, a process's command line, is a garbd of
// this resource: the program is garbd (this binary or one with its base
// name) and it joins the same cluster name at the same address. A garbd
// started by ocf:heartbeat:garbd with the same parameters matches too.
func (c Config) IsOurs(argv []string) bool {
	if len(argv) == 0 {
		return false
	}
	if argv[0] != c.Binary && filepath.Base(argv[0]) != filepath.Base(c.Binary) {
		return false
	}
	addr, ok := flagValue(argv, "-a", "--address")
	if !ok || strings.TrimSpace(addr) != c.Address {
		return false
	}
	group, ok := flagValue(argv, "-g", "--group")
	return ok && group == c.Cluster
}
