package drbdsim_test

// Tests of the simulator itself: the agent's tests rely on it answering as
// drbd-utils does, so its refusals, exit codes and formats are pinned here.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goha-ha/goha/agents/drbd"
	"github.com/goha-ha/goha/agents/drbd/internal/drbdsim"
)

type sim struct {
	t         *testing.T
	dir, conf string
}

func newSim(t *testing.T) *sim {
	dir := t.TempDir()
	conf := filepath.Join(dir, "drbd.conf")
	if err := os.WriteFile(conf, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s := &sim{t: t, dir: dir, conf: conf}
	if err := drbdsim.Define(dir, drbdsim.Resource{Name: "r0", Disk: "UpToDate",
		Peers: []drbdsim.Peer{{Name: "beta", NodeID: 1, Up: true, Link: true, Role: "Secondary", Disk: "UpToDate"}}}); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *sim) run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	getenv := func(k string) string {
		if k == drbdsim.EnvDir {
			return s.dir
		}
		return ""
	}
	code := drbdsim.Run(args, getenv, &out, &errb)
	return code, out.String(), errb.String()
}

func (s *sim) adm(cmd, res string) (int, string) {
	code, _, errs := s.run("/usr/sbin/drbdadm", "-c", s.conf, cmd, res)
	return code, errs
}

func (s *sim) expect(what string, code int, stderr string, wantCode int, want string) {
	s.t.Helper()
	if code != wantCode || !strings.Contains(stderr, want) {
		s.t.Fatalf("%s: exit %d %q, want %d with %q", what, code, stderr, wantCode, want)
	}
}

func (s *sim) status() (drbd.Status, bool) {
	s.t.Helper()
	code, out, errs := s.run("drbdsetup", "status", "r0", "--json")
	if code == 10 && strings.Contains(errs, "r0: No such resource") {
		return drbd.Status{}, false
	}
	st, err := drbd.ParseStatus([]byte(out), "r0")
	if code != 0 || err != nil {
		s.t.Fatalf("status: exit %d %v\n%s%s", code, err, out, errs)
	}
	return st, true
}

func (s *sim) update(change func(*drbdsim.Resource)) {
	if err := drbdsim.Update(s.dir, "r0", change); err != nil {
		s.t.Fatal(err)
	}
}

func TestDrbdadm(t *testing.T) {
	s := newSim(t)
	code, errs := s.adm("dump", "r9")
	s.expect("undefined resource", code, errs, 1, "'r9' not defined in your config (for this host).")
	code, _, errs = s.run("drbdadm", "-c", filepath.Join(s.dir, "missing.conf"), "up", "r0")
	s.expect("missing configuration", code, errs, 20, "Can not open")
	if _, up := s.status(); up {
		t.Fatal("up before drbdadm up")
	}
	code, errs = s.adm("primary", "r0")
	s.expect("primary while down", code, errs, 10, "No such resource")
	code, errs = s.adm("up", "r0")
	s.expect("up", code, errs, 0, "")
	code, errs = s.adm("up", "r0")
	s.expect("up twice", code, errs, 10, "(161) Minor or volume exists already")
	if st, up := s.status(); !up || st.Role != "Secondary" || st.Connections[0].ConnectionState != "Connected" {
		t.Fatalf("after up: %+v", st)
	}

	s.update(func(r *drbdsim.Resource) { r.Peers[0].Role = "Primary" })
	code, errs = s.adm("primary", "r0")
	s.expect("primary with a Primary peer", code, errs, 11, "(-1) Multiple primaries not allowed by config")
	s.update(func(r *drbdsim.Resource) { r.AllowTwoPrimaries = true })
	code, errs = s.adm("primary", "r0")
	s.expect("primary with two primaries allowed", code, errs, 0, "")
	s.update(func(r *drbdsim.Resource) { r.InUse = true })
	code, errs = s.adm("secondary", "r0")
	s.expect("secondary in use", code, errs, 11, "(-12) Device is held open by someone")
	code, errs = s.adm("down", "r0")
	s.expect("down in use", code, errs, 11, "held open")
	s.update(func(r *drbdsim.Resource) { r.InUse = false })
	code, errs = s.adm("down", "r0")
	s.expect("down", code, errs, 0, "")
	code, errs = s.adm("down", "r0")
	s.expect("down twice", code, errs, 0, "")

	// Outdated and cut off: no access to UpToDate data.
	s.update(func(r *drbdsim.Resource) { r.Disk, r.Peers[0].Link, r.Peers[0].Role = "Outdated", false, "Secondary" })
	s.adm("up", "r0")
	code, errs = s.adm("primary", "r0")
	s.expect("primary without UpToDate data", code, errs, 17, "(-2) Need access to UpToDate data")
	st, _ := s.status()
	if c := st.Connections[0]; c.ConnectionState != "Connecting" || c.PeerRole != "Unknown" || c.PeerDevices[0].PeerDiskState != "DUnknown" {
		t.Fatalf("peer seen without a link: %+v", c)
	}
	// Reconnected with the resync paused, then let run.
	s.update(func(r *drbdsim.Resource) { r.Peers[0].Link, r.SyncPaused = true, true })
	st, _ = s.status()
	if st.Devices[0].DiskState != "Outdated" || st.Connections[0].PeerDevices[0].ReplicationState != "PausedSyncT" {
		t.Fatalf("paused resync: %+v", st)
	}
	s.update(func(r *drbdsim.Resource) { r.SyncPaused = false })
	if st, _ = s.status(); st.Devices[0].DiskState != "UpToDate" {
		t.Fatalf("after resync: %+v", st)
	}
	if r, _ := drbdsim.Load(s.dir, "r0"); r.Disk != "UpToDate" {
		t.Fatalf("resync not kept: %+v", r)
	}
	s.adm("down", "r0")
	code, errs = s.adm("outdate", "r0")
	s.expect("outdate while down", code, errs, 0, "")
	if r, _ := drbdsim.Load(s.dir, "r0"); r.Disk != "Outdated" {
		t.Fatalf("outdate: %+v", r)
	}
	if calls := drbdsim.Calls(s.dir); !strings.Contains(calls, "drbdadm -c "+s.conf+" outdate r0\n") {
		t.Fatalf("calls log:\n%s", calls)
	}
}

func TestDrbdsetupFormats(t *testing.T) {
	s := newSim(t)
	s.update(func(r *drbdsim.Resource) { r.Volumes = 2 })
	s.adm("up", "r0")
	s.adm("primary", "r0")
	_, out, _ := s.run("drbdsetup", "status", "r0")
	want := "r0 role:Primary\n  volume:0 disk:UpToDate\n  volume:1 disk:UpToDate\n  beta role:Secondary\n" +
		"    volume:0 replication:Established peer-disk:UpToDate\n    volume:1 replication:Established peer-disk:UpToDate\n\n"
	if out != want {
		t.Errorf("status:\n%s\nwant\n%s", out, want)
	}
	_, out, _ = s.run("drbdsetup", "events2", "--now", "r0")
	for _, line := range []string{
		"exists resource name:r0 role:Primary suspended:no\n",
		"exists device name:r0 volume:1 minor:1 disk:UpToDate client:no quorum:yes\n",
		"exists connection name:r0 peer-node-id:1 conn-name:beta connection:Connected role:Secondary\n",
		"exists peer-device name:r0 peer-node-id:1 conn-name:beta volume:0 replication:Established peer-disk:UpToDate",
		"exists -\n",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("events2 lacks %q:\n%s", line, out)
		}
	}
	_, out, _ = s.run("drbdsetup", "status", "--json")
	for _, key := range []string{`"peer_devices"`, `"peer-disk-state": "UpToDate"`, `"disk-state": "UpToDate"`, `"node-id": 0`} {
		if !strings.Contains(out, key) {
			t.Errorf("status --json lacks %s", key)
		}
	}
	st, err := drbd.ParseStatus([]byte(out), "r0")
	if err != nil || len(st.Devices) != 2 || st.Role != "Primary" || len(st.Connections[0].PeerDevices) != 2 {
		t.Fatalf("status --json: %+v %v", st, err)
	}
}

func TestCibadmin(t *testing.T) {
	s := newSim(t)
	if err := drbdsim.SetCIB(s.dir, `<cib><configuration><constraints/></configuration></cib>`); err != nil {
		t.Fatal(err)
	}
	loc := `<rsc_location id="x" rsc="ms"><rule id="x-rule" score="-INFINITY"/></rsc_location>`
	code, _, errs := s.run("cibadmin", "--modify", "-o", "constraints", "-X", loc)
	s.expect("modify without allow-create", code, errs, 105, "No such device or address")
	code, _, errs = s.run("cibadmin", "--modify", "--allow-create", "-o", "constraints", "-X", loc)
	s.expect("create", code, errs, 0, "")
	code, _, errs = s.run("cibadmin", "--modify", "--allow-create", "-o", "constraints", "-X", strings.Replace(loc, "-INFINITY", "-100", 1))
	s.expect("replace", code, errs, 0, "")
	code, out, _ := s.run("cibadmin", "--query")
	if code != 0 || strings.Count(out, "<rsc_location") != 1 || !strings.Contains(out, `score="-100"`) {
		t.Fatalf("query: %d\n%s", code, out)
	}
	code, _, errs = s.run("cibadmin", "--delete", "-o", "constraints", "-X", `<rsc_location id="x"/>`)
	s.expect("delete", code, errs, 0, "")
	code, _, errs = s.run("cibadmin", "--delete", "-o", "constraints", "-X", `<rsc_location id="x"/>`)
	s.expect("delete of a missing constraint", code, errs, 105, "No such device or address")
	code, _, errs = s.run("cibadmin", "--replace", "-o", "constraints", "-X", loc)
	s.expect("unsupported call", code, errs, 64, "unsupported")
}

// TestMain lets the test binary be the simulator's holder process, which
// cluster mode starts as a copy of the running program.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == drbdsim.HolderName {
		os.Exit(drbdsim.Run(os.Args, os.Getenv, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestCluster runs one replicated resource on two simulated nodes that
// share the state directory: each sees the other's real state, a node's
// kernel state lasts as long as its holder process (killing it is a power
// cut), and a cut link with an Outdated disk keeps a node from promotion
// until the link is back and the resync has run.
func TestCluster(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "drbd.conf")
	if err := os.WriteFile(conf, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := drbdsim.DefineCluster(dir, drbdsim.Cluster{Name: "r1", Nodes: []drbdsim.ClusterNode{
		{Name: "alpha", NodeID: 0, Disk: "UpToDate"}, {Name: "beta", NodeID: 1, Disk: "UpToDate"}}}); err != nil {
		t.Fatal(err)
	}
	run := func(node string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		getenv := func(k string) string {
			switch k {
			case drbdsim.EnvDir:
				return dir
			case drbdsim.EnvNode:
				return node
			}
			return ""
		}
		code := drbdsim.Run(args, getenv, &out, &errb)
		return code, out.String(), errb.String()
	}
	adm := func(node, cmd string) (int, string) {
		code, _, errs := run(node, "drbdadm", "-c", conf, cmd, "r1")
		return code, errs
	}
	status := func(node string) (drbd.Status, bool) {
		t.Helper()
		code, out, errs := run(node, "drbdsetup", "status", "r1", "--json")
		if code == 10 {
			return drbd.Status{}, false
		}
		st, err := drbd.ParseStatus([]byte(out), "r1")
		if code != 0 || err != nil {
			t.Fatalf("status on %s: exit %d %v\n%s%s", node, code, err, out, errs)
		}
		return st, true
	}
	expect := func(what string, code int, stderr string, wantCode int, want string) {
		t.Helper()
		if code != wantCode || !strings.Contains(stderr, want) {
			t.Fatalf("%s: exit %d %q, want %d with %q", what, code, stderr, wantCode, want)
		}
	}
	holder := func(node string) int {
		t.Helper()
		b, _ := os.ReadFile(filepath.Join(dir, "r1@"+node+".kernel"))
		pid := 0
		fmt.Sscan(string(b), &pid)
		return pid
	}
	t.Cleanup(func() {
		for _, n := range []string{"alpha", "beta"} {
			if pid := holder(n); pid > 0 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})

	// The program's own commands, for tests that cannot import this
	// package: define, set and show.
	code, _, errs := run("", drbdsim.ClusterAdmin, "define", "r2", "alpha", "beta")
	expect("define", code, errs, 0, "")
	code, _, errs = run("", drbdsim.ClusterAdmin, "set", "r2", "beta", "link_cut=true", "disk=Outdated")
	expect("set", code, errs, 0, "")
	code, out, errs := run("", drbdsim.ClusterAdmin, "show", "r2")
	want := `{"name":"r2","nodes":[{"name":"alpha","node_id":0,"disk":"UpToDate","role":"Secondary","link_cut":false,"up":false},` +
		`{"name":"beta","node_id":1,"disk":"Outdated","role":"Secondary","link_cut":true,"up":false}]}`
	if code != 0 || strings.TrimSpace(out) != want {
		t.Fatalf("show: exit %d %s\n%s\nwant %s", code, errs, out, want)
	}
	code, _, errs = run("", drbdsim.ClusterAdmin, "set", "r2", "gamma", "disk=UpToDate")
	expect("set on an unknown node", code, errs, 1, "no node gamma")

	code, errs = adm("gamma", "up")
	expect("up on a node not in the resource", code, errs, 1, "not defined in your config (for this host)")
	code, errs = adm("alpha", "up")
	expect("up on alpha", code, errs, 0, "")
	if st, up := status("alpha"); !up || st.Connections[0].ConnectionState != "Connecting" {
		t.Fatalf("alpha alone: %+v", st)
	}
	if _, up := status("beta"); up {
		t.Fatal("beta up before its drbdadm up")
	}
	code, errs = adm("beta", "up")
	expect("up on beta", code, errs, 0, "")
	code, errs = adm("alpha", "primary")
	expect("primary on alpha", code, errs, 0, "")
	if st, _ := status("beta"); st.Connections[0].ConnectionState != "Connected" || st.Connections[0].PeerRole != "Primary" {
		t.Fatalf("beta does not see alpha Primary: %+v", st)
	}
	code, errs = adm("beta", "primary")
	expect("second primary", code, errs, 11, "Multiple primaries not allowed")

	// A power cut of alpha: its holder dies, and with it its side.
	pid := holder("alpha")
	if pid <= 0 {
		t.Fatal("alpha has no holder process")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, _ := status("beta")
		if st.Connections[0].ConnectionState != "Connected" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("beta still sees alpha after its power cut: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, up := status("alpha"); up {
		t.Fatal("alpha still up after its power cut")
	}
	code, errs = adm("beta", "primary")
	expect("beta takes over", code, errs, 0, "")

	// alpha returns Secondary; beta's link is cut and its disk outdated.
	adm("alpha", "up")
	adm("beta", "secondary")
	if err := drbdsim.UpdateCluster(dir, "r1", func(c *drbdsim.Cluster) {
		c.Nodes[1].LinkCut, c.Nodes[1].Disk = true, "Outdated"
	}); err != nil {
		t.Fatal(err)
	}
	code, errs = adm("alpha", "down")
	expect("down on alpha", code, errs, 0, "")
	if c, _ := drbdsim.LoadCluster(dir, "r1"); c.Nodes[0].Up || !c.Nodes[1].Up {
		t.Fatalf("after down on alpha: %+v", c.Nodes)
	}
	code, errs = adm("beta", "primary")
	expect("primary on Outdated beta", code, errs, 17, "Need access to UpToDate data")
	// The link back and alpha up again: the resync makes beta UpToDate.
	drbdsim.UpdateCluster(dir, "r1", func(c *drbdsim.Cluster) { c.Nodes[1].LinkCut = false })
	adm("alpha", "up")
	if st, _ := status("beta"); st.Devices[0].DiskState != "UpToDate" {
		t.Fatalf("beta not resynced: %+v", st)
	}
	for _, n := range []string{"alpha", "beta"} {
		old := holder(n)
		code, errs = adm(n, "down")
		expect("down on "+n, code, errs, 0, "")
		if old <= 0 || syscall.Kill(old, 0) == nil && !zombie(old) {
			t.Errorf("holder %d of %s still runs after down", old, n)
		}
	}
}

// zombie reports whether pid has exited but is not reaped yet.
func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] == 'Z'
}
