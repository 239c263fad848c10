package sync

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/goha-ha/goha/ocf"
)

// Config is one resource's validated parameters, defaults resolved. start
// hands it to the daemon as a JSON file.
type Config struct {
	Resource       string        `json:"resource"`
	Directory      string        `json:"directory"`
	Peers          []Peer        `json:"peers"`
	Transport      string        `json:"transport"`
	SSHKey         string        `json:"ssh_key,omitempty"`
	PasswordFile   string        `json:"password_file,omitempty"`
	Rsync          string        `json:"rsync"`
	Options        []string      `json:"rsync_options,omitempty"`
	Excludes       []string      `json:"exclude,omitempty"`
	Debounce       time.Duration `json:"debounce"`
	MaxLag         time.Duration `json:"max_lag"`
	FailOnPeerDown bool          `json:"fail_on_peer_down"`
	IOTimeout      time.Duration `json:"io_timeout"`
	RetryMax       time.Duration `json:"retry_max"`
	StateDir       string        `json:"state_dir"`
}

// Peer is one receiver of the copies.
type Peer struct {
	Name string `json:"name"` // as the peers parameter gives it
	Dest string `json:"dest"` // rsync's destination argument, ending in '/'
}

// configFrom resolves the parameters of resource; rsctmp is HA_RSCTMP.
func configFrom(v *ocf.Values, resource, rsctmp string) (Config, error) {
	c := Config{
		Resource:       resourceName(resource),
		Directory:      filepath.Clean(v.String(pDirectory)),
		Transport:      v.String(pTransport),
		SSHKey:         v.String(pSSHKey),
		PasswordFile:   v.String(pPasswordFile),
		Rsync:          v.String(pRsync),
		Options:        splitFields(v.String(pRsyncOptions)),
		Excludes:       splitFields(v.String(pExclude)),
		Debounce:       time.Duration(v.Int(pDebounce)) * time.Millisecond,
		MaxLag:         time.Duration(v.Int(pMaxLag)) * time.Second,
		FailOnPeerDown: v.Bool(pFailOnPeerDown),
		IOTimeout:      time.Duration(v.Int(pIOTimeout)) * time.Second,
		RetryMax:       time.Duration(v.Int(pRetryMax)) * time.Second,
		StateDir:       v.String(pStateDir),
	}
	if c.StateDir == "" {
		c.StateDir = rsctmp
	}
	if c.StateDir == "" {
		c.StateDir = "/run/resource-agents"
	}
	names, err := splitPeers(v.String(pPeers))
	if err != nil {
		return c, ocf.Fail(ocf.ErrConfigured, "parameter %s %v", pPeers, err)
	}
	dests := destinations{
		transport: c.Transport,
		user:      v.String(pSSHUser),
		module:    v.String(pModule),
		remote:    v.String(pRemoteDir),
		local:     c.Directory,
	}
	for _, name := range names {
		dest, err := dests.of(name)
		if err != nil {
			return c, err
		}
		c.Peers = append(c.Peers, Peer{Name: name, Dest: dest})
	}
	if c.Transport == transportSSH && c.PasswordFile != "" {
		return c, ocf.Fail(ocf.ErrConfigured, "parameter %s is for transport=daemon; ssh logs in with %s", pPasswordFile, pSSHKey)
	}
	if c.Transport == transportDaemon && c.SSHKey != "" {
		return c, ocf.Fail(ocf.ErrConfigured, "parameter %s is for transport=ssh", pSSHKey)
	}
	return c, nil
}

// destinations turns a peer as written in the peers parameter into rsync's
// destination argument.
type destinations struct {
	transport, user, module, remote, local string
}

func (d destinations) of(peer string) (string, error) {
	if rest, ok := strings.CutPrefix(peer, "rsync://"); ok {
		if d.transport != transportDaemon {
			return "", ocf.Fail(ocf.ErrConfigured, "parameter %s names rsync daemon %q: set %s=daemon", pPeers, peer, pTransport)
		}
		hostPort, path, _ := strings.Cut(rest, "/")
		if user, h, ok := strings.Cut(hostPort, "@"); ok {
			if err := checkWord(user); err != nil || user == "" {
				return "", ocf.Fail(ocf.ErrConfigured, "parameter %s has %q, whose user is not a plain name", pPeers, peer)
			}
			hostPort = h
		}
		if _, _, err := splitHostPort(hostPort); err != nil {
			return "", ocf.Fail(ocf.ErrConfigured, "parameter %s has %q: %v", pPeers, peer, err)
		}
		module, _, _ := strings.Cut(path, "/")
		if module == "" {
			return "", ocf.Fail(ocf.ErrConfigured, "parameter %s has %q, which names no module (rsync://host/module)", pPeers, peer)
		}
		return strings.TrimSuffix(peer, "/") + "/", nil
	}
	user, hostPort := "", peer
	if u, h, ok := strings.Cut(peer, "@"); ok {
		user, hostPort = u, h
		if err := checkWord(user); err != nil || user == "" {
			return "", ocf.Fail(ocf.ErrConfigured, "parameter %s has %q, whose user is not a plain name", pPeers, peer)
		}
	}
	host, port, err := splitHostPort(hostPort)
	if err != nil {
		return "", ocf.Fail(ocf.ErrConfigured, "parameter %s has %q: %v", pPeers, peer, err)
	}
	switch d.transport {
	case transportSSH:
		if port != "" {
			return "", ocf.Fail(ocf.ErrConfigured, "parameter %s has %q: with transport=ssh give the port in ~/.ssh/config, not in the peer", pPeers, peer)
		}
		if user == "" {
			user = d.user
		}
		remote := d.remote
		if remote == "" {
			remote = d.local
		}
		if !strings.HasPrefix(remote, "/") {
			return "", ocf.Fail(ocf.ErrConfigured, "parameter %s must be an absolute path with transport=ssh", pRemoteDir)
		}
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		if user != "" {
			host = user + "@" + host
		}
		return host + ":" + strings.TrimSuffix(filepath.Clean(remote), "/") + "/", nil
	case transportDaemon:
		if d.module == "" {
			return "", ocf.Fail(ocf.ErrConfigured, "parameter %s is required with transport=daemon for peer %q (or write it as rsync://host/module)", pModule, peer)
		}
		if strings.HasPrefix(d.remote, "/") || strings.Contains("/"+d.remote+"/", "/../") {
			return "", ocf.Fail(ocf.ErrConfigured, "parameter %s must be a path inside the module with transport=daemon", pRemoteDir)
		}
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		if port != "" {
			host += ":" + port
		}
		if user != "" {
			host = user + "@" + host
		}
		dest := "rsync://" + host + "/" + d.module + "/"
		if r := strings.Trim(d.remote, "/"); r != "" && r != "." {
			dest += r + "/"
		}
		return dest, nil
	}
	return "", ocf.Fail(ocf.ErrConfigured, "parameter %s is %q, not ssh or daemon", pTransport, d.transport)
}

// splitHostPort reads host, host:port, [v6] or [v6]:port. The port is ""
// when absent.
func splitHostPort(s string) (host, port string, err error) {
	host = s
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.Index(s, "]")
		if end < 0 {
			return "", "", errors.New("unclosed bracket")
		}
		host = s[1:end]
		switch tail := s[end+1:]; {
		case tail == "":
		case strings.HasPrefix(tail, ":"):
			port = tail[1:]
			if port == "" {
				return "", "", errors.New("empty port")
			}
		default:
			return "", "", errors.New("junk after the address")
		}
		if !strings.Contains(host, ":") || strings.Trim(host, "0123456789abcdefABCDEF:.%") != "" {
			return "", "", fmt.Errorf("%q in brackets is not an IPv6 address", host)
		}
		return host, port, checkPort(port)
	case strings.Count(s, ":") > 1:
		return "", "", errors.New("write an IPv6 address in brackets")
	case strings.Contains(s, ":"):
		host, port, _ = strings.Cut(s, ":")
		if port == "" {
			return "", "", errors.New("empty port")
		}
	}
	if !validHostname(host) {
		return "", "", fmt.Errorf("%q is not a host name or an IPv4 address", host)
	}
	return host, port, checkPort(port)
}

func checkPort(port string) error {
	if port == "" {
		return nil
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q is not 1 to 65535", port)
	}
	return nil
}

// validHostname accepts DNS names and dotted-quad addresses; nothing rsync
// or ssh could read as an option.
func validHostname(h string) bool {
	if h == "" || len(h) > 253 || strings.HasPrefix(h, "-") || strings.HasPrefix(h, ".") || strings.HasSuffix(h, ".") || strings.Contains(h, "..") {
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

// splitPeers splits the peers parameter and rejects an empty or repeated
// list.
func splitPeers(v string) ([]string, error) {
	peers := splitFields(v)
	if len(peers) == 0 {
		return nil, errors.New("names no peer")
	}
	seen := map[string]bool{}
	for _, p := range peers {
		if seen[p] {
			return nil, fmt.Errorf("names %q twice", p)
		}
		if strings.HasPrefix(p, "-") {
			return nil, fmt.Errorf("has %q, which is not a peer", p)
		}
		seen[p] = true
	}
	return peers, nil
}

// splitFields splits at white space; nil when there is nothing.
func splitFields(v string) []string {
	f := strings.Fields(v)
	if len(f) == 0 {
		return nil
	}
	return f
}

// rsyncArgv is the command that copies c.Directory to p: the whole tree,
// so that a batch never misses a change and a peer that was down is
// caught up by the same command. rsync compares the trees and sends only
// what differs.
func rsyncArgv(c Config, p Peer) []string {
	return append(rsyncBase(c, "--delete"), strings.TrimSuffix(c.Directory, "/")+"/", p.Dest)
}

// rsyncPullArgv copies from p to this node what p holds newer than this
// node (--update) and deletes nothing: what a node that takes over runs
// before its first push, so that files written on p while this node was
// away are merged in rather than deleted by the push.
func rsyncPullArgv(c Config, p Peer) []string {
	return append(rsyncBase(c, "--update"), p.Dest, strings.TrimSuffix(c.Directory, "/")+"/")
}

// rsyncBase is rsync's argv up to the source and destination.
func rsyncBase(c Config, mode string) []string {
	timeout := strconv.Itoa(int(c.IOTimeout / time.Second))
	argv := []string{c.Rsync, "--archive", mode, "--timeout=" + timeout}
	switch c.Transport {
	case transportSSH:
		argv = append(argv, "--rsh="+sshCommand(c))
	case transportDaemon:
		argv = append(argv, "--contimeout="+timeout)
		if c.PasswordFile != "" {
			argv = append(argv, "--password-file="+c.PasswordFile)
		}
	}
	for _, x := range c.Excludes {
		argv = append(argv, "--exclude="+x)
	}
	return append(argv, c.Options...)
}

// sshCommand is rsync's --rsh value. rsync splits it into words itself
// (no shell); the key path was checked to hold no space or quote.
func sshCommand(c Config) string {
	cmd := []string{"ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=" + strconv.Itoa(int(c.IOTimeout/time.Second))}
	if c.SSHKey != "" {
		cmd = append(cmd, "-i", c.SSHKey, "-o", "IdentitiesOnly=yes")
	}
	return strings.Join(cmd, " ")
}

// Files of the resource in StateDir.
func (c Config) base() string      { return filepath.Join(c.StateDir, "sync-"+fileSafe(c.Resource)) }
func (c Config) pidFile() string   { return c.base() + ".pid" }
func (c Config) confFile() string  { return c.base() + ".conf" }
func (c Config) stateFile() string { return c.base() + ".state" }
func (c Config) logFile() string   { return c.base() + ".log" }
func (c Config) attrFile() string  { return c.base() + ".attr" }
func (c Config) daemonArgv(exe string) []string {
	return []string{exe, DaemonCommand, c.confFile()}
}

// IsOurs reports whether argv is this resource's daemon.
func (c Config) IsOurs(argv []string) bool {
	return len(argv) == 3 && argv[1] == DaemonCommand && argv[2] == c.confFile()
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

func checkAbsolute(v string) error {
	if !filepath.IsAbs(v) {
		return errors.New("must be an absolute path")
	}
	return nil
}

// checkLocalDirectory refuses the root: a sync of / with --delete is never
// what anyone means.
func checkLocalDirectory(v string) error {
	if err := checkAbsolute(v); err != nil {
		return err
	}
	if filepath.Clean(v) == "/" {
		return errors.New("must not be /")
	}
	return nil
}

func checkRemoteDirectory(v string) error {
	if strings.HasPrefix(v, "-") || strings.ContainsAny(v, "\n\x00") {
		return errors.New("is not a usable path")
	}
	if filepath.Clean(v) == "/" {
		return errors.New("must not be /")
	}
	return nil
}

// checkKeyPath accepts an absolute path that rsync's splitting of --rsh
// keeps as one word.
func checkKeyPath(v string) error {
	if err := checkAbsolute(v); err != nil {
		return err
	}
	if strings.ContainsAny(v, " \t\n'\"\\") {
		return errors.New("must not contain spaces, quotes or backslashes")
	}
	return nil
}

func checkModule(v string) error {
	if strings.ContainsAny(v, "/ \t\n") || strings.HasPrefix(v, "-") {
		return errors.New("must be a module name, without slashes or spaces")
	}
	return nil
}

// checkWord accepts a single user name.
func checkWord(v string) error {
	if strings.ContainsAny(v, " \t\n/:@") || strings.HasPrefix(v, "-") {
		return errors.New("must be a plain name")
	}
	return nil
}

// checkRsyncOptions rejects options that would change what is copied
// where, or run another remote shell than the agent's.
func checkRsyncOptions(opts []string) error {
	for _, o := range opts {
		if !strings.HasPrefix(o, "-") {
			return fmt.Errorf("has %q, which is not an option (paths come from %s and %s)", o, pDirectory, pPeers)
		}
		name, _, _ := strings.Cut(o, "=")
		switch name {
		case "-e", "--rsh", "--files-from", "--remove-source-files", "--daemon", "--server", "--sender",
			"--password-file", "--dry-run", "-n", "--list-only", "--only-write-batch", "--write-batch", "--read-batch":
			return fmt.Errorf("has %s, which the agent does not allow", name)
		}
		if !strings.HasPrefix(o, "--") && strings.ContainsAny(o[1:], "en") {
			return fmt.Errorf("has %s: give -e and -n in their long forms, which the agent rejects", o)
		}
	}
	return nil
}

// OtherPeers drops the peers that are this node, as isSelf says of a
// peer's host.
func OtherPeers(peers []Peer, isSelf func(host string) bool) []Peer {
	var out []Peer
	for _, p := range peers {
		if !isSelf(peerHost(p.Name)) {
			out = append(out, p)
		}
	}
	return out
}

// peerHost is the host of a peer as the peers parameter gives it: host,
// user@host, host:port or rsync://[user@]host[:port]/module/path.
func peerHost(name string) string {
	if u, err := url.Parse(name); err == nil && u.Scheme != "" && u.Host != "" {
		return u.Hostname()
	}
	if _, h, ok := strings.Cut(name, "@"); ok {
		name = h
	}
	if h, _, err := net.SplitHostPort(name); err == nil {
		return h
	}
	return strings.Trim(name, "[]")
}
