package drbdsim

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Exit codes drbd-utils uses for the cases simulated.
const (
	exitOK          = 0
	exitUndefined   = 1  // drbdadm: "'RES' not defined in your config (for this host)."
	exitNoResource  = 10 // drbdsetup: the kernel has no such resource
	exitExists      = 10 // drbdsetup: the minor or volume exists already
	exitStateChange = 11 // a state change DRBD refused
	exitNoUpToDate  = 17 // promotion without access to UpToDate data
	exitUsage       = 20 // bad command line, unreadable configuration file
)

// Run is the simulator's main: args[0]'s base name (drbdadm, drbdsetup or
// cibadmin; drbdsim for a test's own commands, drbdsim-holder for cluster
// mode's holder) says which program to be. The state directory comes from
// DRBDSIM_DIR, else from the file drbdsim.dir beside the program.
func Run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	prog := filepath.Base(args[0])
	if prog == HolderName {
		return hold(args[1:])
	}
	dir := getenv(EnvDir)
	if dir == "" {
		dir = dirBeside()
	}
	if dir == "" {
		fmt.Fprintf(stderr, "drbdsim: %s is not set\n", EnvDir)
		return exitUsage
	}
	logCall(dir, prog, args[1:])
	var code int
	err := withLock(dir, func() error {
		switch prog {
		case "drbdadm":
			code = drbdadm(dir, nodeName(getenv), args[1:], stdout, stderr)
		case "drbdsetup":
			code = drbdsetup(dir, nodeName(getenv), args[1:], stdout, stderr)
		case "cibadmin":
			code = cibadmin(dir, args[1:], stdout, stderr)
		case ClusterAdmin:
			code = clusterAdmin(dir, args[1:], stdout, stderr)
		default:
			fmt.Fprintf(stderr, "drbdsim: run me as drbdadm, drbdsetup, cibadmin or drbdsim, not %s\n", prog)
			code = exitUsage
		}
		return nil
	})
	if err != nil {
		fmt.Fprintf(stderr, "drbdsim: %v\n", err)
		return exitUsage
	}
	return code
}

func logCall(dir, prog string, args []string) {
	f, err := os.OpenFile(filepath.Join(dir, "calls.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintln(f, prog, strings.Join(args, " "))
}

// drbdadm [-c FILE] [-v] CMD RES
func drbdadm(dir, self string, args []string, stdout, stderr io.Writer) int {
	var words []string
	conf := "/etc/drbd.conf"
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-c" && i+1 < len(args):
			conf = args[i+1]
			i++
		case strings.HasPrefix(a, "--config-file="):
			conf = strings.TrimPrefix(a, "--config-file=")
		case strings.HasPrefix(a, "-"):
		default:
			words = append(words, a)
		}
	}
	if _, err := os.Stat(conf); err != nil {
		fmt.Fprintf(stderr, "Can not open '%s'.\n", conf)
		return exitUsage
	}
	if len(words) != 2 {
		fmt.Fprintln(stderr, "USAGE: drbdadm COMMAND [OPTION...] {all|RESOURCE...}")
		return exitUsage
	}
	cmd, name := words[0], words[1]
	r, commit, err := openResource(dir, name, self)
	if err == errUndefined {
		fmt.Fprintf(stderr, "'%s' not defined in your config (for this host).\n", name)
		return exitUndefined
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	code := admCommand(&r, cmd, stdout, stderr)
	r.settle()
	if err := commit(r); err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	return code
}

func admCommand(r *Resource, cmd string, stdout, stderr io.Writer) int {
	failed := func(code int, format string, args ...any) int {
		fmt.Fprintf(stderr, r.Name+": "+format+"\n", args...)
		return code
	}
	noResource := func() int {
		fmt.Fprintf(stderr, "%s: No such resource\nCommand 'drbdsetup %s %s' terminated with exit code %d\n", r.Name, cmd, r.Name, exitNoResource)
		return exitNoResource
	}
	switch cmd {
	case "dump":
		fmt.Fprintf(stdout, "# simulated\nresource %s {\n    on %s {\n        node-id %d;\n        volume 0 {\n            device minor %d;\n        }\n    }\n}\n",
			r.Name, hostname(), r.NodeID, r.Minor)
		return exitOK
	case "up":
		if r.Up {
			return failed(exitExists, "Failure: (161) Minor or volume exists already (delete it first)")
		}
		r.Up, r.Role = true, "Secondary"
		if r.Disk == "" {
			r.Disk = "Inconsistent"
		}
		return exitOK
	case "adjust":
		if !r.Up {
			r.Up, r.Role = true, "Secondary"
		}
		return exitOK
	case "down":
		if r.Up && r.InUse {
			return failed(exitStateChange, "State change failed: (-12) Device is held open by someone")
		}
		r.Up, r.Role = false, "Secondary"
		return exitOK
	case "primary":
		if !r.Up {
			return noResource()
		}
		if r.Role == "Primary" {
			return exitOK
		}
		for _, p := range r.Peers {
			if r.connected(p) && p.Role == "Primary" && !r.AllowTwoPrimaries {
				return failed(exitStateChange, "State change failed: (-1) Multiple primaries not allowed by config")
			}
		}
		if r.Disk != "UpToDate" && !r.peerUpToDate() {
			return failed(exitNoUpToDate, "State change failed: (-2) Need access to UpToDate data")
		}
		r.Role = "Primary"
		return exitOK
	case "secondary":
		if !r.Up {
			return noResource()
		}
		if r.Role == "Primary" && r.InUse {
			return failed(exitStateChange, "State change failed: (-12) Device is held open by someone")
		}
		r.Role = "Secondary"
		return exitOK
	case "outdate":
		if r.Up && r.Role == "Primary" {
			return failed(exitStateChange, "State change failed: (-7) Refusing to be Outdated while Connected")
		}
		if r.Disk == "UpToDate" || r.Disk == "Consistent" {
			r.Disk = "Outdated"
		}
		return exitOK
	}
	fmt.Fprintf(stderr, "drbdadm: Unknown command '%s'\n", cmd)
	return exitUsage
}

func (r *Resource) peerUpToDate() bool {
	for _, p := range r.Peers {
		if r.connected(p) && p.Disk == "UpToDate" {
			return true
		}
	}
	return false
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

// drbdsetup status [RES|all] [--json] [--verbose] [--statistics] | events2 [RES|all] [--now]
func drbdsetup(dir, self string, args []string, stdout, stderr io.Writer) int {
	var words []string
	asJSON := false
	for _, a := range args {
		switch {
		case a == "--json":
			asJSON = true
		case strings.HasPrefix(a, "-"):
		default:
			words = append(words, a)
		}
	}
	if len(words) == 0 {
		fmt.Fprintln(stderr, "USAGE: drbdsetup command {arguments} [options]")
		return exitUsage
	}
	cmd, name := words[0], "all"
	if len(words) > 1 {
		name = words[1]
	}
	var list []Resource
	names := []string{name}
	if name == "all" {
		names = resourceNames(dir)
		sort.Strings(names)
	}
	for _, n := range names {
		r, commit, err := openResource(dir, n, self)
		if err != nil && err != errUndefined {
			fmt.Fprintln(stderr, err)
			return exitUsage
		}
		if err != nil || !r.Up {
			if name == "all" {
				continue
			}
			fmt.Fprintf(stderr, "%s: No such resource\n", name)
			return exitNoResource
		}
		r.settle()
		if err := commit(r); err != nil {
			fmt.Fprintln(stderr, err)
			return exitUsage
		}
		list = append(list, r)
	}
	switch cmd {
	case "status":
		if asJSON {
			return printJSON(list, stdout, stderr)
		}
		for _, r := range list {
			printStatus(r, stdout)
		}
		return exitOK
	case "events2":
		for _, r := range list {
			printEvents2(r, stdout)
		}
		fmt.Fprintln(stdout, "exists -")
		return exitOK
	}
	fmt.Fprintf(stderr, "drbdsetup: unknown command '%s'\n", cmd)
	return exitUsage
}

// The JSON drbdsetup status --json prints (drbd-utils 9), field by field
// in its order; the statistics are always zero here.
type jsonResource struct {
	Name           string           `json:"name"`
	NodeID         int              `json:"node-id"`
	Role           string           `json:"role"`
	Suspended      bool             `json:"suspended"`
	SuspendedUser  bool             `json:"suspended-user"`
	SuspendedNoDat bool             `json:"suspended-no-data"`
	SuspendedFence bool             `json:"suspended-fencing"`
	SuspendedQuor  bool             `json:"suspended-quorum"`
	ForceIOFail    bool             `json:"force-io-failures"`
	WriteOrdering  string           `json:"write-ordering"`
	Devices        []jsonDevice     `json:"devices"`
	Connections    []jsonConnection `json:"connections"`
}

type jsonDevice struct {
	Volume       int    `json:"volume"`
	Minor        int    `json:"minor"`
	DiskState    string `json:"disk-state"`
	Client       bool   `json:"client"`
	Quorum       bool   `json:"quorum"`
	Size         int    `json:"size"`
	Read         int    `json:"read"`
	Written      int    `json:"written"`
	ALWrites     int    `json:"al-writes"`
	BMWrites     int    `json:"bm-writes"`
	UpperPending int    `json:"upper-pending"`
	LowerPending int    `json:"lower-pending"`
}

type jsonConnection struct {
	PeerNodeID      int              `json:"peer-node-id"`
	Name            string           `json:"name"`
	ConnectionState string           `json:"connection-state"`
	Congested       bool             `json:"congested"`
	PeerRole        string           `json:"peer-role"`
	APInFlight      int              `json:"ap-in-flight"`
	RSInFlight      int              `json:"rs-in-flight"`
	PeerDevices     []jsonPeerDevice `json:"peer_devices"`
}

type jsonPeerDevice struct {
	Volume           int     `json:"volume"`
	ReplicationState string  `json:"replication-state"`
	PeerDiskState    string  `json:"peer-disk-state"`
	PeerClient       bool    `json:"peer-client"`
	ResyncSuspended  string  `json:"resync-suspended"`
	Received         int     `json:"received"`
	Sent             int     `json:"sent"`
	OutOfSync        int     `json:"out-of-sync"`
	Pending          int     `json:"pending"`
	Unacked          int     `json:"unacked"`
	HasSyncDetails   bool    `json:"has-sync-details"`
	HasVerifyDetails bool    `json:"has-online-verify-details"`
	PercentInSync    float64 `json:"percent-in-sync"`
}

// peerView is a peer as this node sees it.
type peerView struct {
	conn, role, disk, repl string
}

func (r Resource) view(p Peer) peerView {
	if !r.connected(p) {
		return peerView{conn: "Connecting", role: "Unknown", disk: "DUnknown", repl: "Off"}
	}
	v := peerView{conn: "Connected", role: p.Role, disk: p.Disk, repl: "Established"}
	if r.SyncPaused {
		switch {
		case r.Disk == "UpToDate" && syncable(p.Disk):
			v.repl = "PausedSyncS"
		case p.Disk == "UpToDate" && syncable(r.Disk):
			v.repl = "PausedSyncT"
		}
	}
	return v
}

func printJSON(list []Resource, stdout, stderr io.Writer) int {
	out := []jsonResource{}
	for _, r := range list {
		j := jsonResource{Name: r.Name, NodeID: r.NodeID, Role: r.Role, WriteOrdering: "flush",
			Devices: []jsonDevice{}, Connections: []jsonConnection{}}
		for v := 0; v < r.volumes(); v++ {
			j.Devices = append(j.Devices, jsonDevice{Volume: v, Minor: r.Minor + v, DiskState: r.Disk,
				Client: r.Disk == "Diskless", Quorum: true, Size: 1048576})
		}
		for _, p := range r.Peers {
			pv := r.view(p)
			c := jsonConnection{PeerNodeID: p.NodeID, Name: p.Name, ConnectionState: pv.conn, PeerRole: pv.role}
			for v := 0; v < r.volumes(); v++ {
				inSync := 100.0
				if pv.repl != "Established" && pv.repl != "Off" {
					inSync = 0
				}
				c.PeerDevices = append(c.PeerDevices, jsonPeerDevice{Volume: v, ReplicationState: pv.repl,
					PeerDiskState: pv.disk, ResyncSuspended: "no", PercentInSync: inSync})
			}
			j.Connections = append(j.Connections, c)
		}
		out = append(out, j)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "%s\n", b)
	return exitOK
}

// printStatus prints the plain format of drbdsetup-9.0(8), "status".
func printStatus(r Resource, w io.Writer) {
	fmt.Fprintf(w, "%s role:%s\n", r.Name, r.Role)
	for v := 0; v < r.volumes(); v++ {
		if r.volumes() == 1 {
			fmt.Fprintf(w, "  disk:%s\n", r.Disk)
		} else {
			fmt.Fprintf(w, "  volume:%d disk:%s\n", v, r.Disk)
		}
	}
	for _, p := range r.Peers {
		pv := r.view(p)
		if pv.conn == "Connected" {
			fmt.Fprintf(w, "  %s role:%s\n", p.Name, pv.role)
		} else {
			fmt.Fprintf(w, "  %s connection:%s\n", p.Name, pv.conn)
		}
		for v := 0; v < r.volumes(); v++ {
			vol := ""
			if r.volumes() > 1 {
				vol = fmt.Sprintf("volume:%d ", v)
			}
			if pv.conn == "Connected" {
				fmt.Fprintf(w, "    %sreplication:%s peer-disk:%s\n", vol, pv.repl, pv.disk)
			}
		}
	}
	fmt.Fprintln(w)
}

// printEvents2 prints the "exists" lines of drbdsetup events2 --now.
func printEvents2(r Resource, w io.Writer) {
	yesNo := map[bool]string{true: "yes", false: "no"}
	fmt.Fprintf(w, "exists resource name:%s role:%s suspended:no\n", r.Name, r.Role)
	for v := 0; v < r.volumes(); v++ {
		fmt.Fprintf(w, "exists device name:%s volume:%d minor:%d disk:%s client:%s quorum:yes\n",
			r.Name, v, r.Minor+v, r.Disk, yesNo[r.Disk == "Diskless"])
	}
	for _, p := range r.Peers {
		pv := r.view(p)
		fmt.Fprintf(w, "exists connection name:%s peer-node-id:%d conn-name:%s connection:%s role:%s\n",
			r.Name, p.NodeID, p.Name, pv.conn, pv.role)
		for v := 0; v < r.volumes(); v++ {
			fmt.Fprintf(w, "exists peer-device name:%s peer-node-id:%d conn-name:%s volume:%d replication:%s peer-disk:%s peer-client:no resync-suspended:no\n",
				r.Name, p.NodeID, p.Name, v, pv.repl, pv.disk)
		}
	}
}
