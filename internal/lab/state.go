package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"time"

	"golang.org/x/sys/unix"
)

// Roots of the host layout. Tests and the fence agent use the defaults.
const (
	DefaultRunRoot  = "/run/goha/lab"
	DefaultDataRoot = "/var/lib/goha-lab"
	stateFile       = "state.json"
	lockFile        = "state.lock"
	controlSocket   = "control.sock"
)

// State is what a lab records on disk: everything Down needs to remove it,
// also after the process that created it died.
type State struct {
	Name      string         `json:"name"`
	Slot      int            `json:"slot"`
	Subnet    netip.Prefix   `json:"subnet"`
	Bridge    string         `json:"bridge"`
	BridgeIP  netip.Addr     `json:"bridge_addr"`
	RunDir    string         `json:"run_dir"`
	DataDir   string         `json:"data_dir"`
	Binary    string         `json:"binary"` // the lab's own copy of goha
	Token     time.Duration  `json:"token"`
	BootDelay time.Duration  `json:"boot_delay"` // before a fenced node's stack starts
	Fencing   bool           `json:"fencing"`
	Nodes     []NodeState    `json:"nodes"`
	Clients   []ClientState  `json:"clients,omitempty"`
	Control   *Proc          `json:"controller,omitempty"`
	Partition [][]string     `json:"partition,omitempty"`
	Created   time.Time      `json:"created"`
	Cgroup2   string         `json:"cgroup2,omitempty"`    // lab's cgroup v2 directory
	CgroupMem string         `json:"cgroup_mem,omitempty"` // lab's cgroup v1 memory directory
	Extra     map[string]any `json:"extra,omitempty"`      // free for hooks and tests
}

// NodeState is one cluster node of a lab.
type NodeState struct {
	Name   string     `json:"name"`
	ID     int        `json:"id"`
	Addr   netip.Addr `json:"addr"`
	NetNS  string     `json:"netns"`
	Veth   string     `json:"veth"` // host side
	Dir    string     `json:"dir"`  // host directory of the node's persistent files
	Mounts []Mount    `json:"mounts,omitempty"`
	Init   *Proc      `json:"init,omitempty"` // nil while the node is off
}

// ClientState is a network namespace on the lab bridge that is not a node.
type ClientState struct {
	Name  string     `json:"name"`
	Addr  netip.Addr `json:"addr"`
	NetNS string     `json:"netns"`
	Veth  string     `json:"veth"`
}

// Proc identifies a process by PID and start time, so that a recycled PID is
// never signalled by mistake.
type Proc struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start"` // field 22 of /proc/PID/stat
	PidNS string `json:"pidns,omitempty"`
}

// Mount is a mount a node gets before its cluster stack starts. Targets must
// exist on the host or lie under /run or /dev/shm, which are the node's own
// tmpfs (the init creates those).
type Mount struct {
	Source string `json:"source,omitempty"` // host path; empty for tmpfs
	Target string `json:"target"`           // path inside the node
	Tmpfs  bool   `json:"tmpfs,omitempty"`
	// Dir makes Target a directory (else a file) when it has to be created,
	// and is the kind Source is created as when missing.
	Dir      bool   `json:"dir,omitempty"`
	UID      int    `json:"uid"`
	GID      int    `json:"gid"`
	Mode     uint32 `json:"mode,omitempty"` // for created directories and tmpfs roots
	ReadOnly bool   `json:"ro,omitempty"`
}

// member returns the node or client with that name.
func (s *State) member(name string) (Member, bool) {
	for _, n := range s.Nodes {
		if n.Name == name {
			return Member{Name: n.Name, ID: n.ID, Addr: n.Addr}, true
		}
	}
	for _, c := range s.Clients {
		if c.Name == name {
			return Member{Name: c.Name, Addr: c.Addr}, true
		}
	}
	return Member{}, false
}

func (s *State) node(name string) (*NodeState, error) {
	for i := range s.Nodes {
		if s.Nodes[i].Name == name {
			return &s.Nodes[i], nil
		}
	}
	return nil, fmt.Errorf("lab %s has no node %q", s.Name, name)
}

func (s *State) client(name string) (*ClientState, bool) {
	for i := range s.Clients {
		if s.Clients[i].Name == name {
			return &s.Clients[i], true
		}
	}
	return nil, false
}

// members lists nodes then clients.
func (s *State) members() []Member {
	var ms []Member
	for _, n := range s.Nodes {
		ms = append(ms, Member{Name: n.Name, ID: n.ID, Addr: n.Addr})
	}
	for _, c := range s.Clients {
		ms = append(ms, Member{Name: c.Name, Addr: c.Addr})
	}
	return ms
}

func (s *State) socketPath() string { return filepath.Join(s.RunDir, controlSocket) }

func (s *State) statusPath(node string) string {
	return filepath.Join(s.RunDir, "nodes", node+".status")
}

// readState reads the state file of the lab whose run directory is dir.
func readState(dir string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("parse %s: %w", filepath.Join(dir, stateFile), err)
	}
	return &s, nil
}

// writeState replaces the state file atomically.
func writeState(s *State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(s.RunDir, stateFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write lab state: %w", err)
	}
	return os.Rename(tmp, filepath.Join(s.RunDir, stateFile))
}

// flock takes an exclusive lock on path (created if needed) and returns the
// function that releases it.
func flock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// updateState runs fn on the current state under the lab's lock and saves
// the result unless fn fails.
func updateState(dir string, fn func(*State) error) error {
	unlock, err := flock(filepath.Join(dir, lockFile))
	if err != nil {
		return err
	}
	defer unlock()
	s, err := readState(dir)
	if err != nil {
		return err
	}
	if err := fn(s); err != nil {
		return err
	}
	return writeState(s)
}

// List returns the names of the labs recorded under the default run root.
func List() ([]string, error) { return listIn(DefaultRunRoot) }

func listIn(root string) ([]string, error) {
	ents, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, e.Name(), stateFile)); err == nil {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// Resolve returns name if set, else the name of the only lab; it fails when
// there is none or several.
func Resolve(name string) (string, error) { return ResolveIn(DefaultRunRoot, name) }

// ResolveIn is Resolve for the labs under root.
func ResolveIn(root, name string) (string, error) {
	if name != "" {
		return name, ValidName(name)
	}
	names, err := listIn(root)
	if err != nil {
		return "", err
	}
	switch len(names) {
	case 0:
		return "", errors.New("no lab is running (goha lab up)")
	case 1:
		return names[0], nil
	default:
		return "", fmt.Errorf("several labs are running (%v): pass --name", names)
	}
}
