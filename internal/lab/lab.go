package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// FenceResourceID is the id of the stonith resource Up creates.
const FenceResourceID = "fence-lab"

// Config describes a lab to bring up.
type Config struct {
	Name  string // default "lab"
	Nodes int    // 1..MaxNodes
	// NoFencing leaves stonith-enabled=false and creates no fence device.
	NoFencing bool
	// Binary is the goha binary the nodes run (their init, the fence agent,
	// the OCF agents). Default: this executable if it is named goha, else
	// goha from PATH. The lab runs a private copy of it.
	Binary string
	// Token is corosync's totem token timeout; default 3s.
	Token time.Duration
	// BootDelay is how long a node powered on by the fence agent waits
	// before starting its cluster stack, as a machine takes to boot;
	// default 4 tokens + 3s (15s). It must exceed the time corosync takes
	// to declare the node lost (token + consensus), because the fencer
	// confirms the reboot only then, and a node that rejoined before
	// hearing that confirmation stops itself ("We were allegedly just
	// fenced"). Nodes booted through Lab.Start start at once.
	BootDelay time.Duration
	// OCFAgents are exposed as /usr/lib/ocf/resource.d/goha/<name> in every
	// node, each a link to the lab's goha binary.
	OCFAgents []string
	// Mounts are added to every node, after the lab's own mounts.
	Mounts []Mount
	// Hooks prepare per-node services; see NodeHook.
	Hooks []NodeHook
	// Logf receives progress lines (t.Logf fits); nil discards them.
	Logf func(format string, args ...any)
	// OnlineTimeout bounds the wait for all nodes online with quorum;
	// default 3 minutes.
	OnlineTimeout time.Duration
	// KeepOnError leaves a half-built lab in place for inspection.
	KeepOnError bool
}

// NodeInfo is what a NodeHook learns about a node.
type NodeInfo struct {
	Lab  string
	Name string
	ID   int
	Addr netip.Addr
	Dir  string // host directory reserved for the node's files
}

// NodeHook prepares a per-node service (a database, say) while a lab is
// built: it runs on the host after the node's directories exist and before
// the node first boots, and returns the mounts the node needs. The mounts
// are recorded in the lab state and replayed at every boot of the node,
// including boots by the fence agent.
type NodeHook interface {
	PrepareNode(ctx context.Context, n NodeInfo) ([]Mount, error)
}

// NodeHookFunc adapts a function to NodeHook.
type NodeHookFunc func(ctx context.Context, n NodeInfo) ([]Mount, error)

// PrepareNode calls f.
func (f NodeHookFunc) PrepareNode(ctx context.Context, n NodeInfo) ([]Mount, error) {
	return f(ctx, n)
}

// Lab is a handle on a running lab. Its methods read the state file each
// time, so several handles (and the controller) may act on one lab.
type Lab struct {
	name    string
	runDir  string
	logf    func(format string, args ...any)
	ctrl    *exec.Cmd     // controller started by this process, if any
	ctrlEnd chan struct{} // closed when ctrl has been reaped
}

// Load returns a handle on an existing lab; name "" means the only one.
func Load(name string) (*Lab, error) {
	name, err := Resolve(name)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(DefaultRunRoot, name)
	if _, err := os.Stat(filepath.Join(dir, stateFile)); err != nil {
		return nil, fmt.Errorf("lab %s: %w", name, err)
	}
	return &Lab{name: name, runDir: dir, logf: func(string, ...any) {}}, nil
}

// SetLogf directs the progress lines of later calls.
func (l *Lab) SetLogf(f func(format string, args ...any)) {
	if f == nil {
		f = func(string, ...any) {}
	}
	l.logf = f
}

// Name is the lab's name.
func (l *Lab) Name() string { return l.name }

// State returns a fresh copy of the lab's recorded state.
func (l *Lab) State() (*State, error) { return readState(l.runDir) }

// Nodes lists the node names.
func (l *Lab) Nodes() []string {
	s, err := l.State()
	if err != nil {
		return nil
	}
	var ns []string
	for _, n := range s.Nodes {
		ns = append(ns, n.Name)
	}
	return ns
}

// Addr is the address of a node or client.
func (l *Lab) Addr(member string) (netip.Addr, error) {
	s, err := l.State()
	if err != nil {
		return netip.Addr{}, err
	}
	m, ok := s.member(member)
	if !ok {
		return netip.Addr{}, fmt.Errorf("lab %s has no node or client %q", l.name, member)
	}
	return m.Addr, nil
}

// VIP is the i-th (0-based) address of the lab's subnet reserved for
// floating IPs; no node or client ever gets it.
func (l *Lab) VIP(i int) (netip.Addr, error) {
	s, err := l.State()
	if err != nil {
		return netip.Addr{}, err
	}
	if i < 0 || vipBase+i >= bridgeHost {
		return netip.Addr{}, fmt.Errorf("VIP index %d out of range", i)
	}
	return VIPAddr(s.Slot, i), nil
}

// Up builds a lab and waits until every node is online with quorum (and,
// with fencing, the fence device is started). On failure it removes what it
// built unless cfg.KeepOnError.
func Up(ctx context.Context, cfg Config) (*Lab, error) {
	if cfg.Name == "" {
		cfg.Name = "lab"
	}
	if err := ValidName(cfg.Name); err != nil {
		return nil, err
	}
	if cfg.Nodes < 1 || cfg.Nodes > MaxNodes {
		return nil, fmt.Errorf("lab nodes: %d not in 1..%d", cfg.Nodes, MaxNodes)
	}
	if cfg.Token == 0 {
		cfg.Token = 3 * time.Second
	}
	if cfg.BootDelay == 0 {
		cfg.BootDelay = 4*cfg.Token + 3*time.Second
	}
	if cfg.OnlineTimeout == 0 {
		cfg.OnlineTimeout = 3 * time.Minute
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	for _, a := range cfg.OCFAgents {
		if a == "" || strings.ContainsAny(a, "/ ") {
			return nil, fmt.Errorf("invalid OCF agent name %q", a)
		}
	}
	bin, err := findBinary(cfg.Binary)
	if err != nil {
		return nil, err
	}
	for _, p := range []string{"corosync", "pacemakerd", "nsenter"} {
		if _, err := exec.LookPath(p); err != nil {
			return nil, fmt.Errorf("lab needs %s: %w", p, err)
		}
	}
	s, err := reserve(cfg)
	if err != nil {
		return nil, err
	}
	l := &Lab{name: cfg.Name, runDir: s.RunDir, logf: cfg.Logf}
	if err := l.build(ctx, cfg, s, bin); err != nil {
		if !cfg.KeepOnError {
			if derr := l.Down(context.WithoutCancel(ctx)); derr != nil {
				err = fmt.Errorf("%w (and tearing down: %v)", err, derr)
			}
		}
		return nil, fmt.Errorf("lab %s up: %w", cfg.Name, err)
	}
	return l, nil
}

// reserve picks a slot and records the planned lab, under the run root's
// lock so that labs started side by side never share a slot.
func reserve(cfg Config) (*State, error) {
	if err := os.MkdirAll(DefaultRunRoot, 0o755); err != nil {
		return nil, err
	}
	unlock, err := flock(filepath.Join(DefaultRunRoot, ".lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	runDir := filepath.Join(DefaultRunRoot, cfg.Name)
	if _, err := os.Stat(filepath.Join(runDir, stateFile)); err == nil {
		return nil, fmt.Errorf("lab %s exists (goha lab down --name %s)", cfg.Name, cfg.Name)
	}
	used := map[int]bool{}
	names, err := listIn(DefaultRunRoot)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if o, err := readState(filepath.Join(DefaultRunRoot, n)); err == nil {
			used[o.Slot] = true
		}
	}
	host, err := hostPrefixes()
	if err != nil {
		return nil, fmt.Errorf("list host addresses: %w", err)
	}
	slot, err := FreeSlot(used, host)
	if err != nil {
		return nil, err
	}
	v2, mem := labCgroups(cfg.Name)
	s := &State{
		Name:      cfg.Name,
		Slot:      slot,
		Subnet:    Subnet(slot),
		Bridge:    BridgeName(slot),
		BridgeIP:  BridgeAddr(slot),
		RunDir:    runDir,
		DataDir:   filepath.Join(DefaultDataRoot, cfg.Name),
		Token:     cfg.Token,
		BootDelay: cfg.BootDelay,
		Fencing:   !cfg.NoFencing,
		Created:   time.Now(),
		Cgroup2:   v2,
		CgroupMem: mem,
	}
	for i := 1; i <= cfg.Nodes; i++ {
		name := NodeName(i)
		s.Nodes = append(s.Nodes, NodeState{
			Name:  name,
			ID:    i,
			Addr:  NodeAddr(slot, i),
			NetNS: NetNSName(cfg.Name, name),
			Veth:  NodeVeth(slot, i),
			Dir:   filepath.Join(s.DataDir, name),
		})
	}
	for _, d := range []string{runDir, filepath.Join(runDir, "nodes"), s.DataDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	if err := writeState(s); err != nil {
		return nil, err
	}
	return s, nil
}

// build creates everything the state plans, then boots the nodes.
func (l *Lab) build(ctx context.Context, cfg Config, s *State, bin string) error {
	start := time.Now()
	if err := l.layFiles(ctx, cfg, s, bin); err != nil {
		return err
	}
	if err := createBridge(s.Bridge, netip.PrefixFrom(s.BridgeIP, s.Subnet.Bits())); err != nil {
		return err
	}
	for _, n := range s.Nodes {
		if err := createNetNS(n.NetNS); err != nil {
			return err
		}
		if err := plug(s.Bridge, n.Veth, n.NetNS, netip.PrefixFrom(n.Addr, s.Subnet.Bits())); err != nil {
			return err
		}
	}
	for _, d := range []string{s.Cgroup2, s.CgroupMem} {
		if d == "" {
			continue
		}
		for _, n := range s.Nodes {
			if err := os.MkdirAll(filepath.Join(d, n.Name), 0o755); err != nil {
				return fmt.Errorf("create cgroup: %w", err)
			}
		}
	}
	if err := writeState(s); err != nil {
		return err
	}
	if err := l.ensureController(ctx); err != nil {
		return err
	}
	for _, n := range s.Nodes {
		if err := l.power(ctx, OpOn, n.Name); err != nil {
			return fmt.Errorf("boot %s: %w", n.Name, err)
		}
		l.logf("%s booted (%s)", n.Name, n.Addr)
	}
	wctx, cancel := context.WithTimeout(ctx, cfg.OnlineTimeout)
	defer cancel()
	if err := l.WaitOnline(wctx); err != nil {
		return err
	}
	if err := l.configureFencing(ctx, s); err != nil {
		return err
	}
	l.logf("lab %s ready after %s", s.Name, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// layFiles writes the lab's files: the binary copy, agent links, hosts,
// and each node's directories, corosync.conf and hook mounts.
func (l *Lab) layFiles(ctx context.Context, cfg Config, s *State, bin string) error {
	s.Binary = filepath.Join(s.DataDir, "bin", "goha")
	if err := copyFile(bin, s.Binary, 0o755); err != nil {
		return fmt.Errorf("copy %s: %w", bin, err)
	}
	sbin := filepath.Join(s.RunDir, "sbin")
	if err := os.MkdirAll(sbin, 0o755); err != nil {
		return err
	}
	if err := os.Symlink(s.Binary, filepath.Join(sbin, "fence_goha_lab")); err != nil {
		return err
	}
	if len(cfg.OCFAgents) > 0 {
		dir := filepath.Join(s.RunDir, "ocf", "goha")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		for _, a := range cfg.OCFAgents {
			if err := os.Symlink(s.Binary, filepath.Join(dir, a)); err != nil {
				return err
			}
		}
	}
	if err := writeHosts(s); err != nil {
		return err
	}
	uid, gid := haclusterIDs()
	conf := CorosyncConf("goha-"+s.Name, s.Token, s.members()) // no clients yet: nodes only
	var names []string
	for _, n := range s.Nodes {
		names = append(names, n.Name)
	}
	for i := range s.Nodes {
		n := &s.Nodes[i]
		dirs := []struct {
			sub      string
			mode     os.FileMode
			uid, gid int
		}{
			{"etc-corosync", 0o755, 0, 0},
			{"var-lib-pacemaker", 0o755, 0, 0},
			{"var-lib-pacemaker/cib", 0o750, uid, gid},
			{"var-lib-pacemaker/pengine", 0o750, uid, gid},
			{"var-lib-pacemaker/blackbox", 0o750, uid, gid},
			{"var-lib-pacemaker/cores", 0o750, uid, gid},
			{"var-log-pacemaker", 0o770, uid, gid},
			{"var-log-cluster", 0o755, 0, 0},
			{"var-lib-corosync", 0o755, 0, 0},
			{"var-lib-goha", 0o755, 0, 0},
		}
		for _, d := range dirs {
			if err := mkdirOwned(filepath.Join(n.Dir, d.sub), d.mode, d.uid, d.gid); err != nil {
				return fmt.Errorf("node %s: %w", n.Name, err)
			}
		}
		if err := os.WriteFile(filepath.Join(n.Dir, "etc-corosync", "corosync.conf"), []byte(conf), 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(n.Dir, "hostname"), []byte(n.Name+"\n"), 0o644); err != nil {
			return err
		}
		cib := filepath.Join(n.Dir, "var-lib-pacemaker", "cib", "cib.xml")
		if err := os.WriteFile(cib, []byte(InitialCIB(s.Name, names, s.Fencing)), 0o600); err != nil {
			return err
		}
		if err := os.Chown(cib, uid, gid); err != nil {
			return err
		}
		if err := createBindTargets(nodeBinds(s, n)); err != nil {
			return err
		}
		info := NodeInfo{Lab: s.Name, Name: n.Name, ID: n.ID, Addr: n.Addr, Dir: n.Dir}
		n.Mounts = append(n.Mounts, cfg.Mounts...)
		for _, h := range cfg.Hooks {
			ms, err := h.PrepareNode(ctx, info)
			if err != nil {
				return fmt.Errorf("prepare node %s: %w", n.Name, err)
			}
			n.Mounts = append(n.Mounts, ms...)
		}
		for _, m := range n.Mounts {
			if err := checkMount(m); err != nil {
				return fmt.Errorf("node %s: %w", n.Name, err)
			}
		}
	}
	return writeState(s)
}

// checkMount rejects a mount the node's init could not perform.
func checkMount(m Mount) error {
	if !filepath.IsAbs(m.Target) {
		return fmt.Errorf("mount target %q is not absolute", m.Target)
	}
	if m.Tmpfs {
		return nil
	}
	if !filepath.IsAbs(m.Source) {
		return fmt.Errorf("mount source %q is not absolute", m.Source)
	}
	if !exists(m.Source) {
		return fmt.Errorf("mount source %s missing", m.Source)
	}
	if !exists(m.Target) && !under(m.Target, "/run") && !under(m.Target, "/dev/shm") {
		return fmt.Errorf("mount target %s missing on host (only /run and /dev/shm are created)", m.Target)
	}
	return nil
}

// createdDirsFile lists the host directories labs created as bind
// targets; the last lab to go removes them.
var createdDirsFile = filepath.Join(DefaultRunRoot, ".created-dirs")

// createBindTargets makes the bind targets the host lacks and records
// them, under the run root's lock.
func createBindTargets(binds []Mount) error {
	unlock, err := flock(filepath.Join(DefaultRunRoot, ".lock"))
	if err != nil {
		return err
	}
	defer unlock()
	for _, b := range binds {
		if exists(b.Target) {
			continue
		}
		if !b.Dir {
			return fmt.Errorf("node mount target %s missing on host", b.Target)
		}
		if err := os.MkdirAll(b.Target, 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(createdDirsFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(f, b.Target)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// writeHosts rewrites the lab's hosts file in place: nodes bind-mount the
// file, so its inode must stay.
func writeHosts(s *State) error {
	path := filepath.Join(s.RunDir, "hosts")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(f, HostsFile(s.members())); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// findBinary resolves Config.Binary.
func findBinary(bin string) (string, error) {
	if bin == "" {
		self, err := os.Executable()
		if err == nil && filepath.Base(self) == "goha" {
			bin = self
		} else if p, err := exec.LookPath("goha"); err == nil {
			bin = p
		} else {
			return "", errors.New("lab: no goha binary: set Config.Binary")
		}
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(abs); err != nil {
		return "", fmt.Errorf("lab binary: %w", err)
	}
	return abs, nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// ensureController starts the lab's controller unless it is running, and
// waits until it answers.
func (l *Lab) ensureController(ctx context.Context) error {
	var started bool
	err := updateState(l.runDir, func(s *State) error {
		if s.Control.alive() {
			return nil
		}
		logf, err := os.OpenFile(filepath.Join(s.RunDir, "controller.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		defer logf.Close()
		cmd := &exec.Cmd{
			Path:        s.Binary,
			Args:        []string{"goha", "lab", "_controller", "--dir", s.RunDir},
			Env:         nodeEnv,
			Dir:         "/",
			Stdout:      logf,
			Stderr:      logf,
			SysProcAttr: &syscall.SysProcAttr{Setsid: true},
		}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start lab controller: %w", err)
		}
		p, err := procOf(cmd.Process.Pid)
		if err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return err
		}
		s.Control = p
		l.ctrl, l.ctrlEnd = cmd, make(chan struct{})
		go func(end chan struct{}) { _ = cmd.Wait(); close(end) }(l.ctrlEnd)
		started = true
		return nil
	})
	if err != nil {
		return err
	}
	sock := filepath.Join(l.runDir, controlSocket)
	deadline := time.Now().Add(10 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := Power(pctx, sock, PowerRequest{Op: OpPing})
		cancel()
		if err == nil {
			return nil
		}
		if !started || time.Now().After(deadline) {
			return fmt.Errorf("lab controller: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// power asks the controller for a power operation, starting a controller
// first if none answers (after a crash of the host-side processes).
func (l *Lab) power(ctx context.Context, op, node string) error {
	sock := filepath.Join(l.runDir, controlSocket)
	req := PowerRequest{Op: op, Node: node, Immediate: true}
	_, err := Power(ctx, sock, req)
	if err == nil || !isDialError(err) {
		return err
	}
	if err := l.ensureController(ctx); err != nil {
		return err
	}
	_, err = Power(ctx, sock, req)
	return err
}

func isDialError(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT)
}
