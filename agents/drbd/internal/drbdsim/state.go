// Package drbdsim is a simulator of drbd-utils for tests: the DRBD kernel
// module cannot be loaded on the machines the tests run on, so the agent
// is tested against this stand-in for drbdadm and drbdsetup instead of
// real DRBD. It keeps the state of each simulated resource, and of its
// peers, in files in a directory named by DRBDSIM_DIR, so the state holds
// across calls; it prints what drbdsetup prints (status, status --json,
// events2 --now) and answers drbdadm's subcommands with drbd-utils' exit
// codes and messages. Tests inject the peers' side (a peer Primary, a lost
// replication link, a peer disk Outdated) through Update.
//
// The same program is also a fake cibadmin, keeping a CIB in the state
// directory, for tests of the fence-peer handler.
//
// What is simulated, and what is not: one node's view of a resource with
// any number of volumes and peers; role changes with DRBD's refusals
// (two primaries, no access to UpToDate data, device held open); a resync
// that completes as soon as the nodes connect, unless paused. Not
// simulated: the data itself, timing, quorum, handlers called by DRBD.
//
// In cluster mode (cluster.go) a resource is replicated between several
// nodes that run the simulator against one shared state directory, each
// seeing the others' real state, for end-to-end tests on a lab cluster.
package drbdsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// EnvDir names the environment variable that holds the state directory.
const EnvDir = "DRBDSIM_DIR"

// Resource is one simulated DRBD resource as this node has it.
type Resource struct {
	Name              string `json:"name"`
	NodeID            int    `json:"node_id"`
	Minor             int    `json:"minor"`
	Volumes           int    `json:"volumes"` // 0 means 1
	Up                bool   `json:"up"`      // configured in the (simulated) kernel
	Role              string `json:"role"`    // Primary or Secondary while up
	Disk              string `json:"disk"`    // local disk state; kept while down, as DRBD's meta-data keeps it
	InUse             bool   `json:"in_use"`  // the device is held open: no demote, no down
	AllowTwoPrimaries bool   `json:"allow_two_primaries"`
	SyncPaused        bool   `json:"sync_paused"` // a connected resync does not complete
	Peers             []Peer `json:"peers"`
}

// Peer is another node of the resource, as the test says it is.
type Peer struct {
	Name   string `json:"name"`
	NodeID int    `json:"node_id"`
	Up     bool   `json:"up"`   // the peer has the resource up
	Link   bool   `json:"link"` // the replication link between the nodes works
	Role   string `json:"role"` // the peer's role while up
	Disk   string `json:"disk"` // the peer's disk state
}

func (r *Resource) volumes() int {
	if r.Volumes < 1 {
		return 1
	}
	return r.Volumes
}

// connected reports whether the nodes talk over the replication link.
func (r *Resource) connected(p Peer) bool { return r.Up && p.Up && p.Link }

// settle applies what DRBD does by itself once connected: a resync from
// the side with UpToDate data makes the other side UpToDate too.
func (r *Resource) settle() {
	if !r.Up || r.SyncPaused {
		return
	}
	for i, p := range r.Peers {
		if !r.connected(p) {
			continue
		}
		switch {
		case r.Disk == "UpToDate" && syncable(p.Disk):
			r.Peers[i].Disk = "UpToDate"
		case p.Disk == "UpToDate" && syncable(r.Disk):
			r.Disk = "UpToDate"
		}
	}
}

func syncable(disk string) bool {
	return disk == "Outdated" || disk == "Inconsistent" || disk == "Consistent"
}

func stateFile(dir, name string) string { return filepath.Join(dir, name+".json") }

// Define creates or replaces resource r in dir.
func Define(dir string, r Resource) error {
	return withLock(dir, func() error { return save(dir, r) })
}

// Load returns the resource called name.
func Load(dir, name string) (Resource, error) {
	var r Resource
	err := withLock(dir, func() (err error) { r, err = load(dir, name); return err })
	return r, err
}

// Update changes the resource called name under the state lock, as a
// test does to inject the peers' side.
func Update(dir, name string, change func(*Resource)) error {
	return withLock(dir, func() error {
		r, err := load(dir, name)
		if err != nil {
			return err
		}
		change(&r)
		return save(dir, r)
	})
}

// Calls returns the log of every simulated command run in dir.
func Calls(dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, "calls.log"))
	return string(b)
}

// errUndefined is a resource the simulated configuration does not have.
var errUndefined = errors.New("not defined")

func load(dir, name string) (Resource, error) {
	var r Resource
	if name == "" || strings.ContainsAny(name, "/\x00") {
		return r, errUndefined
	}
	b, err := os.ReadFile(stateFile(dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return r, errUndefined
	}
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("state of %s: %w", name, err)
	}
	return r, nil
}

func save(dir string, r Resource) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp := stateFile(dir, r.Name) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, stateFile(dir, r.Name))
}

// withLock serialises the simulated commands and the test's changes.
func withLock(dir string, f func() error) error {
	l, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer l.Close()
	if err := syscall.Flock(int(l.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	return f()
}
