package drbdsim

// Cluster mode: one resource replicated between several simulated nodes
// (the namespaces of a lab that share one filesystem), each running the
// simulator with the same state directory. The resource's persistent part
// (each node's disk state, its replication link) is one file, <res>.cluster;
// the part a real node keeps in its kernel (the resource is up, its role)
// lives only as long as a holder process on that node: `drbdadm up` starts
// one, which keeps an exclusive flock on <res>@<node>.kernel, and `drbdadm
// down` ends it. A node whose holder is gone has the resource down, so a
// power cut of the node (every process killed) takes its side down by itself,
// as it does with real DRBD, and its peers see it gone at once.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Names and files of cluster mode.
const (
	// EnvNode names the variable that overrides the node's name, which is
	// otherwise its hostname.
	EnvNode = "DRBDSIM_NODE"
	// HolderName is the program name the simulator runs as when it is a
	// node's holder of a resource's kernel state.
	HolderName = "drbdsim-holder"
	// DirFile, beside the simulator's executable, names the state
	// directory when DRBDSIM_DIR is not set (as under Pacemaker, which
	// passes agents no environment of the test's).
	DirFile = "drbdsim.dir"
)

// holderWait bounds how long up waits for its holder, and down for its
// holder to go.
const holderWait = 5 * time.Second

// Cluster is a resource replicated between simulated nodes.
type Cluster struct {
	Name  string        `json:"name"`
	Minor int           `json:"minor"`
	Nodes []ClusterNode `json:"nodes"`
}

// ClusterNode is one node of a Cluster.
type ClusterNode struct {
	Name   string `json:"name"` // hostname, or DRBDSIM_NODE
	NodeID int    `json:"node_id"`
	Disk   string `json:"disk"` // kept while down, as DRBD's meta-data keeps it
	Role   string `json:"role"` // counts only while Up
	// LinkCut cuts the node's replication link to every peer.
	LinkCut bool `json:"link_cut"`
	// Up is not stored: LoadCluster sets it when the node's holder runs.
	Up bool `json:"-"`
}

func clusterFile(dir, name string) string { return filepath.Join(dir, name+".cluster") }

func kernelFile(dir, name, node string) string {
	return filepath.Join(dir, name+"@"+node+".kernel")
}

// DefineCluster creates or replaces the replicated resource c in dir.
func DefineCluster(dir string, c Cluster) error {
	return withLock(dir, func() error { return saveCluster(dir, c) })
}

// LoadCluster returns the replicated resource called name, with Up set on
// the nodes that have it up.
func LoadCluster(dir, name string) (Cluster, error) {
	var c Cluster
	err := withLock(dir, func() (err error) { c, err = loadCluster(dir, name); return err })
	return c, err
}

// UpdateCluster changes the replicated resource called name under the
// state lock, as a test does to cut a link or outdate a disk. Up is
// ignored.
func UpdateCluster(dir, name string, change func(*Cluster)) error {
	return withLock(dir, func() error {
		c, err := loadCluster(dir, name)
		if err != nil {
			return err
		}
		change(&c)
		return saveCluster(dir, c)
	})
}

func loadCluster(dir, name string) (Cluster, error) {
	var c Cluster
	if name == "" || strings.ContainsAny(name, "/\x00@") {
		return c, errUndefined
	}
	b, err := os.ReadFile(clusterFile(dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return c, errUndefined
	}
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("state of %s: %w", name, err)
	}
	for i, n := range c.Nodes {
		up, err := held(kernelFile(dir, name, n.Name))
		if err != nil {
			return c, err
		}
		c.Nodes[i].Up = up
		if !up {
			c.Nodes[i].Role = "Secondary"
		}
	}
	return c, nil
}

func saveCluster(dir string, c Cluster) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp := clusterFile(dir, c.Name) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, clusterFile(dir, c.Name))
}

// nodeView is node self's view of a replicated resource as a Resource,
// which the commands act on; commit writes their changes back.
func (c Cluster) nodeView(self string) (Resource, bool) {
	var r Resource
	me := -1
	for i, n := range c.Nodes {
		if n.Name == self {
			me = i
		}
	}
	if me < 0 {
		return r, false
	}
	n := c.Nodes[me]
	r = Resource{Name: c.Name, NodeID: n.NodeID, Minor: c.Minor, Up: n.Up, Role: n.Role, Disk: n.Disk}
	for i, p := range c.Nodes {
		if i == me {
			continue
		}
		r.Peers = append(r.Peers, Peer{Name: p.Name, NodeID: p.NodeID, Up: p.Up,
			Link: !n.LinkCut && !p.LinkCut, Role: p.Role, Disk: p.Disk})
	}
	return r, true
}

// commit writes node self's view back: its own state, the peers' disks
// (which a resync changes), and its kernel state, starting or ending its
// holder.
func (c Cluster) commit(dir, self string, r Resource) error {
	for i, n := range c.Nodes {
		if n.Name == self {
			c.Nodes[i].Disk, c.Nodes[i].Role = r.Disk, r.Role
			continue
		}
		for _, p := range r.Peers {
			if p.Name == n.Name {
				c.Nodes[i].Disk = p.Disk
			}
		}
	}
	was, _ := c.nodeView(self)
	lock := kernelFile(dir, c.Name, self)
	switch {
	case r.Up && !was.Up:
		if err := startHolder(lock); err != nil {
			return err
		}
	case !r.Up && was.Up:
		if err := stopHolder(lock); err != nil {
			return err
		}
	}
	return saveCluster(dir, c)
}

// held reports whether a holder keeps the lock file locked.
func held(path string) (bool, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o644)
	if err != nil {
		return false, fmt.Errorf("open kernel state %s: %w", path, err)
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("test kernel state %s: %w", path, err)
	}
	return false, nil
}

// startHolder starts this program as the holder of lock, detached in a
// session of its own, and waits until it holds the lock.
func startHolder(lock string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the simulator's program: %w", err)
	}
	cmd := &exec.Cmd{Path: exe, Args: []string{HolderName, lock}, SysProcAttr: &syscall.SysProcAttr{Setsid: true}}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the holder of %s: %w", lock, err)
	}
	pid := cmd.Process.Pid
	go cmd.Wait() // reaps it should it die before the simulator exits
	for end := time.Now().Add(holderWait); ; time.Sleep(10 * time.Millisecond) {
		if up, err := held(lock); err != nil || up {
			return err
		}
		if time.Now().After(end) {
			syscall.Kill(pid, syscall.SIGKILL)
			return fmt.Errorf("holder of %s (pid %d) did not take its lock", lock, pid)
		}
	}
}

// stopHolder ends the holder of lock (it runs on this node, so the PID it
// wrote is one of this PID namespace) and waits until the lock is free.
func stopHolder(lock string) error {
	sig := syscall.SIGTERM
	for end := time.Now().Add(holderWait); ; time.Sleep(10 * time.Millisecond) {
		up, err := held(lock)
		if err != nil || !up {
			return err
		}
		if b, err := os.ReadFile(lock); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				syscall.Kill(pid, sig)
			}
		}
		if time.Now().After(end) {
			if sig == syscall.SIGKILL {
				return fmt.Errorf("holder of %s does not end", lock)
			}
			sig, end = syscall.SIGKILL, time.Now().Add(holderWait)
		}
	}
}

// hold is the holder's main: it locks path, writes its PID into it and
// keeps the lock until it is told to end.
func hold(args []string) int {
	if len(args) != 1 {
		fmt.Fprintf(os.Stderr, "usage: %s LOCKFILE\n", HolderName)
		return exitUsage
	}
	// Signals first: a down that comes right after up must not kill the
	// holder before it can let go in order.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	f, err := os.OpenFile(args[0], os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return exitUsage
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return exitUsage
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	<-sigs
	f.Truncate(0)
	f.Close()
	return exitOK
}

// dirBeside reads the state directory from DirFile beside the running
// program, or returns "".
func dirBeside() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(exe), DirFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// nodeName is the simulated node this command runs on.
func nodeName(getenv func(string) string) string {
	if n := getenv(EnvNode); n != "" {
		return n
	}
	return hostname()
}

// openResource returns node self's view of the resource called name, a
// single-node resource or a replicated one, and how to save it.
func openResource(dir, name, self string) (Resource, func(Resource) error, error) {
	r, err := load(dir, name)
	if err == nil {
		return r, func(r Resource) error { return save(dir, r) }, nil
	}
	if err != errUndefined {
		return r, nil, err
	}
	c, err := loadCluster(dir, name)
	if err != nil {
		return r, nil, err
	}
	r, ok := c.nodeView(self)
	if !ok {
		return r, nil, errUndefined
	}
	return r, func(r Resource) error { return c.commit(dir, self, r) }, nil
}

// resourceNames lists every resource defined in dir, single-node and
// replicated.
func resourceNames(dir string) []string {
	var names []string
	for _, pattern := range []string{"*.json", "*.cluster"} {
		matches, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, m := range matches {
			names = append(names, strings.TrimSuffix(filepath.Base(m), filepath.Ext(m)))
		}
	}
	return names
}

// ClusterAdmin is the program name under which the simulator serves a
// test that cannot import this package (an end-to-end test outside the
// agent's tree):
//
//	drbdsim define RES NODE...           a replicated resource, node ids in order, disks UpToDate
//	drbdsim show RES                     the resource as JSON (Cluster, with each node's "up")
//	drbdsim set RES NODE [link_cut=BOOL] [disk=STATE]
const ClusterAdmin = "drbdsim"

// shownNode is a ClusterNode as `drbdsim show` prints it.
type shownNode struct {
	ClusterNode
	Up bool `json:"up"`
}

func clusterAdmin(dir string, args []string, stdout, stderr io.Writer) int {
	if len(args) < 2 {
		fmt.Fprintln(stderr, "usage: drbdsim define RES NODE... | show RES | set RES NODE [link_cut=BOOL] [disk=STATE]")
		return exitUsage
	}
	cmd, name := args[0], args[1]
	switch cmd {
	case "define":
		c := Cluster{Name: name}
		for i, n := range args[2:] {
			c.Nodes = append(c.Nodes, ClusterNode{Name: n, NodeID: i, Disk: "UpToDate", Role: "Secondary"})
		}
		if err := saveCluster(dir, c); err != nil {
			fmt.Fprintln(stderr, err)
			return exitUsage
		}
		return exitOK
	case "show":
		c, err := loadCluster(dir, name)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return exitUndefined
		}
		shown := struct {
			Name  string      `json:"name"`
			Nodes []shownNode `json:"nodes"`
		}{Name: c.Name}
		for _, n := range c.Nodes {
			shown.Nodes = append(shown.Nodes, shownNode{n, n.Up})
		}
		b, _ := json.Marshal(shown)
		fmt.Fprintf(stdout, "%s\n", b)
		return exitOK
	case "set":
		c, err := loadCluster(dir, name)
		if err != nil || len(args) < 3 {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return exitUndefined
		}
		for i := range c.Nodes {
			if c.Nodes[i].Name != args[2] {
				continue
			}
			for _, kv := range args[3:] {
				k, v, _ := strings.Cut(kv, "=")
				switch k {
				case "link_cut":
					c.Nodes[i].LinkCut = v == "true"
				case "disk":
					c.Nodes[i].Disk = v
				default:
					fmt.Fprintf(stderr, "drbdsim set: unknown %q\n", kv)
					return exitUsage
				}
			}
			if err := saveCluster(dir, c); err != nil {
				fmt.Fprintln(stderr, err)
				return exitUsage
			}
			return exitOK
		}
		fmt.Fprintf(stderr, "%s: no node %s\n", name, args[2])
		return exitUndefined
	}
	fmt.Fprintf(stderr, "drbdsim: unknown command %q\n", cmd)
	return exitUsage
}
