package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Crash cuts a node's power: every process of the node dies at once and its
// link goes down. It returns when the node's processes are gone.
func (l *Lab) Crash(ctx context.Context, node string) error {
	return updateState(l.runDir, func(s *State) error {
		n, err := s.node(node)
		if err != nil {
			return err
		}
		return crash(ctx, s, n)
	})
}

// stateOf loads the lab's state and finds node in it.
func (l *Lab) stateOf(node string) (*State, *NodeState, error) {
	s, err := l.State()
	if err != nil {
		return nil, nil, err
	}
	n, err := s.node(node)
	if err != nil {
		return nil, nil, err
	}
	return s, n, nil
}

// Start boots a node that is off, or starts the cluster stack of a node
// whose stack was stopped. It does not wait for the node to join.
func (l *Lab) Start(ctx context.Context, node string) error {
	s, n, err := l.stateOf(node)
	if err != nil {
		return err
	}
	if !n.Init.alive() {
		return l.power(ctx, OpOn, node)
	}
	if err := n.Init.signal(sigStartStack); err != nil {
		return fmt.Errorf("start stack on %s: %w", node, err)
	}
	return l.waitStack(ctx, s, node, StackRunning, StackFailed)
}

// Stop stops the cluster stack of a node cleanly (pacemakerd, then
// corosync); the node itself stays up, so Exec still works on it.
func (l *Lab) Stop(ctx context.Context, node string) error {
	s, n, err := l.stateOf(node)
	if err != nil {
		return err
	}
	if !n.Init.alive() {
		return nil
	}
	if err := n.Init.signal(sigStopStack); err != nil {
		return fmt.Errorf("stop stack on %s: %w", node, err)
	}
	return l.waitStack(ctx, s, node, StackStopped)
}

// waitStack waits until a node's init reports one of the states; the first
// is the one wanted, any other ends the wait with an error.
func (l *Lab) waitStack(ctx context.Context, s *State, node string, states ...string) error {
	path := s.statusPath(node)
	for {
		st, err := readStatus(path)
		if err == nil {
			for i, want := range states {
				if st.State != want {
					continue
				}
				if i == 0 {
					return nil
				}
				return fmt.Errorf("%s: stack %s: %s", node, st.State, st.Detail)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s on %s: %w", states[0], node, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Freeze stops every process of a node where it is (a hung machine); the
// kernel of the node's network namespace still answers ARP.
func (l *Lab) Freeze(ctx context.Context, node string) error { return l.freeze(ctx, node, true) }

// Thaw resumes a frozen node.
func (l *Lab) Thaw(ctx context.Context, node string) error { return l.freeze(ctx, node, false) }

func (l *Lab) freeze(ctx context.Context, node string, on bool) error {
	s, n, err := l.stateOf(node)
	if err != nil {
		return err
	}
	if !n.Init.alive() {
		return fmt.Errorf("node %s is off", node)
	}
	if dir := nodeCgroup(s.Cgroup2, node); dir != "" {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := cgroupFreeze(ctx, dir, on); err != nil {
			return fmt.Errorf("freeze %s=%v: %w", node, on, err)
		}
		return nil
	}
	// No cgroup v2: stop or continue each process.
	sig := syscall.SIGCONT
	if on {
		sig = syscall.SIGSTOP
	}
	ps, err := procsInNS(n.Init.PidNS)
	if err != nil {
		return err
	}
	for _, p := range ps {
		_ = syscall.Kill(p.PID, sig)
	}
	return nil
}

// Kill sends SIGKILL to every process of a node named process (by comm or
// argv[0] base name) and returns how many it hit. Only the node's PID
// namespace is searched.
func (l *Lab) Kill(ctx context.Context, node, process string) (int, error) {
	_, n, err := l.stateOf(node)
	if err != nil {
		return 0, err
	}
	if !n.Init.alive() {
		return 0, fmt.Errorf("node %s is off", node)
	}
	ps, err := procsInNS(n.Init.PidNS)
	if err != nil {
		return 0, err
	}
	hit := 0
	for _, p := range ps {
		if p.PID == n.Init.PID || !p.matches(process) {
			continue
		}
		if err := syscall.Kill(p.PID, syscall.SIGKILL); err == nil {
			hit++
		}
	}
	if hit == 0 {
		return 0, fmt.Errorf("no process %q on %s", process, node)
	}
	return hit, nil
}

// Command prepares argv to run inside a node's namespaces (or a client's
// network namespace). Its environment is the nodes' default one; the
// caller may change Env, Stdin, Stdout and Stderr before running it.
func (l *Lab) Command(ctx context.Context, target string, argv ...string) (*exec.Cmd, error) {
	if len(argv) == 0 {
		return nil, errors.New("no command")
	}
	s, err := l.State()
	if err != nil {
		return nil, err
	}
	var args []string
	if c, ok := s.client(target); ok {
		args = []string{"--net=" + netnsPath(c.NetNS), "--"}
	} else {
		n, err := s.node(target)
		if err != nil {
			return nil, fmt.Errorf("lab %s has no node or client %q", s.Name, target)
		}
		if !n.Init.alive() {
			return nil, fmt.Errorf("node %s is off", target)
		}
		args = []string{"--target", strconv.Itoa(n.Init.PID), "--all", "--"}
	}
	cmd := exec.CommandContext(ctx, "nsenter", append(args, argv...)...)
	cmd.Env = nodeEnv
	cmd.Dir = "/"
	return cmd, nil
}

// Exec runs argv inside a node (or client) and returns its standard
// output; a failure carries the command's standard error.
func (l *Lab) Exec(ctx context.Context, target string, argv ...string) ([]byte, error) {
	cmd, err := l.Command(ctx, target, argv...)
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = strings.TrimSpace(string(out))
		}
		return out, fmt.Errorf("%s on %s: %w: %s", strings.Join(argv, " "), target, err, msg)
	}
	return out, nil
}

// Client adds a network namespace named name on the lab bridge, for client
// programs that are not cluster nodes, and returns its address. Exec and
// Command address it by name; Down removes it.
func (l *Lab) Client(ctx context.Context, name string) (netip.Addr, error) {
	if err := ValidName(name); err != nil {
		return netip.Addr{}, err
	}
	var addr netip.Addr
	err := updateState(l.runDir, func(s *State) error {
		if _, ok := s.member(name); ok {
			return fmt.Errorf("lab %s already has a member %q", s.Name, name)
		}
		used := map[string]bool{}
		for _, c := range s.Clients {
			used[c.Veth] = true
		}
		j := 1
		for ; j <= maxClients && used[ClientVeth(s.Slot, j)]; j++ {
		}
		if j > maxClients {
			return fmt.Errorf("lab %s has %d clients already", s.Name, maxClients)
		}
		c := ClientState{Name: name, Addr: ClientAddr(s.Slot, j), NetNS: NetNSName(s.Name, name), Veth: ClientVeth(s.Slot, j)}
		// Record first, so that Down removes a half-made client too.
		s.Clients = append(s.Clients, c)
		if err := writeState(s); err != nil {
			return err
		}
		if err := createNetNS(c.NetNS); err != nil {
			return err
		}
		if err := plug(s.Bridge, c.Veth, c.NetNS, netip.PrefixFrom(c.Addr, s.Subnet.Bits())); err != nil {
			return err
		}
		addr = c.Addr
		return writeHosts(s)
	})
	return addr, err
}

// Partition splits the lab's network: each group (names of nodes and
// clients) can only reach its own members; every member not named forms one
// more group. It replaces any earlier partition.
func (l *Lab) Partition(ctx context.Context, groups ...[]string) error {
	return updateState(l.runDir, func(s *State) error {
		blocked, err := PartitionPlan(s.members(), groups)
		if err != nil {
			return err
		}
		for _, m := range s.members() {
			if err := l.nft(ctx, s, m.Name, NftRules(blocked[m.Name])); err != nil {
				return err
			}
		}
		s.Partition = groups
		return nil
	})
}

// Heal removes any partition.
func (l *Lab) Heal(ctx context.Context) error {
	return updateState(l.runDir, func(s *State) error {
		for _, m := range s.members() {
			if err := l.nft(ctx, s, m.Name, NftRules(nil)); err != nil {
				return err
			}
		}
		s.Partition = nil
		return nil
	})
}

// nft loads a ruleset into a member's network namespace. It works whether
// the node is on or off: the namespace outlives the node's processes.
func (l *Lab) nft(ctx context.Context, s *State, member, rules string) error {
	ns := NetNSName(s.Name, member)
	cmd := exec.CommandContext(ctx, "nsenter", "--net="+netnsPath(ns), "--", "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft in %s: %w: %s", member, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// NodeStatus is a node as seen from the host.
type NodeStatus struct {
	Name   string
	Addr   netip.Addr
	On     bool   // the node's init runs
	PID    int    // host PID of the init
	Link   bool   // the node's veth is up
	Frozen bool   // its cgroup is frozen
	Stack  string // last state reported by its init
	Detail string
	Procs  int // processes in its PID namespace
}

// Status reports every node.
func (l *Lab) Status() ([]NodeStatus, error) {
	s, err := l.State()
	if err != nil {
		return nil, err
	}
	var out []NodeStatus
	for _, n := range s.Nodes {
		st := NodeStatus{Name: n.Name, Addr: n.Addr, Link: linkUp(n.Veth), Stack: "off"}
		if n.Init.alive() {
			st.On, st.PID = true, n.Init.PID
			st.Frozen = cgroupFrozen(nodeCgroup(s.Cgroup2, n.Name))
			if ss, err := readStatus(s.statusPath(n.Name)); err == nil {
				st.Stack, st.Detail = ss.State, ss.Detail
			} else {
				st.Stack = "booting"
			}
			ps, _ := procsInNS(n.Init.PidNS)
			st.Procs = len(ps)
		}
		out = append(out, st)
	}
	return out, nil
}

// NodeMemory is the memory a node uses.
type NodeMemory struct {
	Node   string
	Procs  int
	RSS    uint64 // sum over the node's processes, bytes
	PSS    uint64 // proportional set size sum, bytes (shared pages split)
	Cgroup uint64 // cgroup v1 memory.usage_in_bytes (includes page cache), 0 if unknown
}

// Memory measures each running node.
func (l *Lab) Memory() ([]NodeMemory, error) {
	s, err := l.State()
	if err != nil {
		return nil, err
	}
	var out []NodeMemory
	for _, n := range s.Nodes {
		m := NodeMemory{Node: n.Name}
		if n.Init.alive() {
			ps, _ := procsInNS(n.Init.PidNS)
			m.Procs = len(ps)
			for _, p := range ps {
				rss, pss := smapsRollup(p.PID)
				m.RSS += rss
				m.PSS += pss
			}
		}
		if dir := nodeCgroup(s.CgroupMem, n.Name); dir != "" {
			m.Cgroup, _ = memoryUsage(dir)
		}
		out = append(out, m)
	}
	return out, nil
}

// smapsRollup returns Rss and Pss of a process in bytes.
func smapsRollup(pid int) (rss, pss uint64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		v, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "Rss:":
			rss = v * 1024
		case "Pss:":
			pss = v * 1024
		}
	}
	return rss, pss
}

// Down removes the lab: nodes, controller, namespaces, links, cgroups and
// directories. It works from the state file alone, also after a crashed
// run, and keeps going past errors, returning them all.
func (l *Lab) Down(ctx context.Context) error {
	var errs []error
	s, err := l.State()
	if err != nil {
		return fmt.Errorf("lab %s: %w", l.name, err)
	}
	// Nodes first, while the controller still reaps their inits.
	for i := range s.Nodes {
		n := &s.Nodes[i]
		if n.Init == nil {
			continue
		}
		if err := crash(ctx, s, n); err != nil {
			errs = append(errs, err)
		}
	}
	_ = writeState(s)
	if err := l.stopController(s); err != nil {
		errs = append(errs, err)
	}
	for _, n := range s.Nodes {
		errs = append(errs, deleteLink(n.Veth), deleteNetNS(n.NetNS))
	}
	for _, c := range s.Clients {
		errs = append(errs, deleteLink(c.Veth), deleteNetNS(c.NetNS))
	}
	if s.Bridge != "" {
		errs = append(errs, deleteLink(s.Bridge))
	}
	for _, d := range []string{s.Cgroup2, s.CgroupMem} {
		if d != "" {
			errs = append(errs, removeCgroupTree(d))
			rmdirIfEmpty(filepath.Dir(d))
		}
	}
	if s.DataDir != "" {
		errs = append(errs, os.RemoveAll(s.DataDir))
		rmdirIfEmpty(filepath.Dir(s.DataDir))
	}
	errs = append(errs, os.RemoveAll(l.runDir))
	cleanRoots()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("lab %s down: %w", l.name, err)
	}
	return nil
}

// stopController ends the lab's controller: SIGTERM, then SIGKILL.
func (l *Lab) stopController(s *State) error {
	p := s.Control
	if !p.alive() {
		return nil
	}
	_ = p.signal(syscall.SIGTERM)
	deadline := time.Now().Add(5 * time.Second)
	for p.alive() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if p.alive() {
		_ = p.signal(syscall.SIGKILL)
	}
	if l.ctrl != nil && l.ctrl.Process.Pid == p.PID {
		<-l.ctrlEnd
	}
	return nil
}

// cleanRoots removes what labs share on the host once no lab is left: the
// directories made for bind targets (removing a mount point would detach it
// in every other lab's nodes) and the run root. It holds the run root's
// lock, so no lab is being reserved meanwhile.
func cleanRoots() {
	lock := filepath.Join(DefaultRunRoot, ".lock")
	unlock, err := flock(lock)
	if err != nil {
		return
	}
	defer unlock()
	if names, err := List(); err != nil || len(names) > 0 {
		return
	}
	if b, err := os.ReadFile(createdDirsFile); err == nil {
		for _, d := range strings.Fields(string(b)) {
			rmdirIfEmpty(d)
		}
	}
	_ = os.Remove(createdDirsFile)
	_ = os.Remove(lock)
	rmdirIfEmpty(DefaultRunRoot)
	rmdirIfEmpty(filepath.Dir(DefaultRunRoot))
}
