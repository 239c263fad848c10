package e2e

// The vProtect stack on a 2-node lab with fencing: a DRBD resource as a
// promotable clone (ocf:goha:drbd), and on its Primary, in this order, a VDO
// volume (ocf:goha:vdo), an XFS filesystem on the data directory
// (ocf:goha:filesystem), the floating IP (ocf:goha:vip) and the services
// vprotect-node and vprotect-server, kept off any node that cannot ping the
// lab's client (ocf:pacemaker:ping and a rule on its attribute).
//
// What is simulated, and why. No DRBD or VDO kernel module can be loaded
// here, so:
//   - drbdadm and drbdsetup are the simulator of agents/drbd/internal/drbdsim
//     in its cluster mode: one state directory on the host, seen by both
//     nodes at the same path (they share the root filesystem), holds each
//     node's disk state and replication link; a node's kernel side (the
//     resource up, its role) lasts only as long as a holder process the
//     simulated `drbdadm up` leaves in that node, so a power cut takes it
//     down by itself and the peer sees it gone, as with a real peer. The
//     simulator moves no data and calls no DRBD handler.
//   - vdo is agents/vdo/internal/vdosim, one simulator directory per node
//     (its "kernel"), bind-mounted at the same path in each node. The lab
//     keeps those directories across a node's crash, so the test clears the
//     crashed node's started volumes itself, as a power cut clears the
//     kernel's device-mapper table.
//   - the replicated volume is one loop device with XFS, which both nodes
//     see since they share the kernel: ocf:goha:filesystem mounts it in the
//     active node's mount namespace only, and the test checks after every
//     transition that exactly one node has it mounted and that files written
//     before are still there.
//   - vprotect-node and vprotect-server are systemd units (each a sleep, the
//     vProtect programs are not here) driven by ocf:goha:service, but
//     systemd cannot run in a lab node: the nodes share the host's root
//     filesystem. So each node gets a real systemd booted by
//     internal/systemdroot in a root of its own, and reaches its system bus
//     through a socket file in the test's directory, which a relay in the
//     test process connects to that systemd's bus (a socket in another mount
//     namespace cannot be bind-mounted here). A crash of a node powers its
//     systemd off too, and a fresh one is booted before the fenced node
//     comes back, as the node's own systemd would boot with it.
//
// The resources: the ping clone, the DRBD promotable clone, and one group
// (vdo, fs, vip, vprotect-node, vprotect-server, started in that order and
// on one node) that starts after the promotion and runs with the Primary.
//
// The scenarios, each starting from the stack running on one node, with
// these checks after every transition: the order, read from the call ids the
// executor gave the operations (promote before every start, stops in reverse
// before DRBD's stop); the filesystem mounted on exactly one node, never the
// host; the services active in exactly that node's systemd; every file
// written before still there.
//  1. cold start: everything on one node.
//  2. standby of the active node: everything moves to the other node; a
//     standby of that one brings it back (unstandby alone moves nothing, as
//     the group is sticky).
//  3. crash of the active node: it is fenced (the fencer's history says so
//     and its init is new), the other node takes over (the time from the
//     crash is logged), and the crashed node rejoins as DRBD Secondary.
//  4. an Outdated peer: with the passive node's disk Outdated and its link
//     cut, and its promotion score gone, a standby of the active node leaves
//     the stack stopped for 30 s: no node Primary, no drbdadm primary even
//     tried, nothing started or mounted anywhere; with the link back and the
//     node out of standby, the resync makes both disks UpToDate and the
//     stack runs again.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/goha-ha/goha/internal/lab"
	"github.com/goha-ha/goha/internal/systemdroot"
	"github.com/goha-ha/goha/internal/testbuild"
	"github.com/goha-ha/goha/ocf"
)

const (
	vpGroup    = "vprotect"
	vpDRBD     = "drbd"
	vpClone    = "drbd-clone"
	vpRes      = "r0"
	vpVolume   = "vprotect"
	vpVDODir   = "/run/vprotect-vdo" // each node's simulator directory
	vpObserve  = 30 * time.Second    // how long nothing may run with an Outdated peer
	vpPingAttr = "pingd"
)

// vpMembers are the group's members in start order.
var vpMembers = []string{"vdo", "fs", "vip", "vprotect-node", "vprotect-server"}

// vpStack is the lab with the stack and the simulators behind it.
type vpStack struct {
	l      *lab.Lab
	drbd   string            // drbdsim's shared state directory
	bin    string            // drbdsim's programs
	conf   string            // the DRBD configuration file drbdadm is given
	vdosim string            // the VDO simulator's program
	mu     sync.Mutex        // guards vdo while the lab's hooks run
	vdo    map[string]string // node -> its VDO simulator's host directory
	dev    string            // the loop device with XFS
	data   string            // the data directory the filesystem is mounted on
	vip    netip.Addr
	client netip.Addr
	sysd   *vpSystemd
	files  map[string]string // data file -> content, every file written
}

func vpNeeds(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("the vProtect stack scenario builds a 2-node lab (minutes); skipped in -short mode")
	}
	labNeeds(t)
	var missing []string
	for _, p := range []string{"/usr/sbin/mkfs.xfs", "/usr/sbin/losetup", "/usr/bin/ping",
		"/usr/lib/ocf/resource.d/pacemaker/ping", "/usr/lib/ocf/resource.d/pacemaker/Dummy"} {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		t.Skipf("the vProtect stack needs %s (xfsprogs, mount, iputils-ping, pacemaker)", strings.Join(missing, ", "))
	}
	if fs, err := os.ReadFile("/proc/filesystems"); err != nil || !strings.Contains(string(fs), "\txfs\n") {
		t.Skip("the vProtect stack needs XFS in the kernel")
	}
}

// TestVProtect runs the scenarios above on one lab, in order; each one
// starts from the stack running on one node.
func TestVProtect(t *testing.T) {
	vpNeeds(t)
	s := &vpStack{vdo: map[string]string{}, files: map[string]string{}}
	work := t.TempDir()
	if err := os.Chmod(work, 0o755); err != nil {
		t.Fatal(err)
	}
	s.prepareDRBD(t, work)
	var err error
	if s.vdosim, err = testbuild.Main(filepath.Join(work, "vdosim"), "vdosim", "./agents/vdo/internal/vdosim/cmd/vdosim"); err != nil {
		t.Fatal(err)
	}
	s.prepareVolume(t, work)
	s.sysd = newSystemd(t, work)
	for _, n := range []string{"n1", "n2"} {
		s.sysd.boot(n)
	}
	s.l = startLab(t, lab.Config{
		Name: fmt.Sprintf("vp%d", os.Getpid()%1000000), Nodes: 2,
		OCFAgents: []string{"drbd", "vdo", "filesystem", "vip", "service"},
		Hooks:     []lab.NodeHook{s.vdoHook()},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	defer func() {
		if t.Failed() {
			s.dump(t)
		}
	}()
	if s.vip, err = s.l.VIP(0); err != nil {
		t.Fatal(err)
	}
	if s.client, err = s.l.Client(ctx, "c1"); err != nil {
		t.Fatal(err)
	}

	begin := time.Now()
	for _, x := range s.resources() {
		vpCIB(t, ctx, s.l, "resources", x)
	}
	for _, x := range s.constraints() {
		vpCIB(t, ctx, s.l, "constraints", x)
	}
	var active string
	t.Run("cold start", func(t *testing.T) {
		active = s.waitStack(t, ctx, "", 3*time.Minute, "cold start")
		t.Logf("cold start: the stack runs on %s %s after the resources were created", active, time.Since(begin).Round(100*time.Millisecond))
		s.checkStartOrder(t, ctx, active)
		s.checkMounted(t, active)
		s.sysd.checkServices(t, ctx, active)
		s.write(t, ctx, active, "after-cold-start")
	})
	if t.Failed() {
		return
	}

	t.Run("standby moves the stack and back", func(t *testing.T) {
		first, other := active, survivor(t, s.l, active)
		for _, step := range []struct{ from, to string }{{first, other}, {other, first}} {
			start := time.Now()
			s.pcs(t, ctx, "node", "standby", step.from)
			s.waitStack(t, ctx, step.to, 2*time.Minute, "standby of "+step.from)
			t.Logf("standby of %s: the stack runs on %s after %s", step.from, step.to, time.Since(start).Round(100*time.Millisecond))
			s.checkStopOrder(t, ctx, step.to, step.from)
			s.checkStartOrder(t, ctx, step.to)
			s.checkMounted(t, step.to)
			s.sysd.checkServices(t, ctx, step.to)
			s.checkFiles(t, ctx, step.to)
			s.write(t, ctx, step.to, "on-"+step.to+"-after-standby-of-"+step.from)
			s.pcs(t, ctx, "node", "unstandby", step.from)
			s.waitSecondary(t, ctx, step.from, 2*time.Minute)
		}
		active = first
		// Unstandby moves nothing: the stack stays where it is.
		s.waitStack(t, ctx, active, 10*time.Second, "after unstandby")
	})
	if t.Failed() {
		return
	}

	t.Run("crash of the active node", func(t *testing.T) {
		crashed, other := active, survivor(t, s.l, active)
		oldInit := initPID(t, s.l, crashed)
		at := time.Now()
		if err := s.l.Crash(ctx, crashed); err != nil {
			t.Fatal(err)
		}
		s.powerLoss(t, ctx, crashed)
		s.sysd.powerOff(t, crashed)
		s.sysd.boot(crashed)
		s.waitStack(t, ctx, other, 3*time.Minute, "takeover after the crash of "+crashed)
		took := time.Since(at)
		t.Logf("crash of %s: the stack runs on %s %s after the crash", crashed, other, took.Round(100*time.Millisecond))
		writeStackScenario(t, "vprotect: power cut of the active node", "the whole stack runs on the other node (s)",
			"ocf:goha:drbd, vdo, filesystem, vip, service", took, "2 lab nodes, token 3000 ms, fencing on (fence_goha_lab); DRBD and VDO "+
				"simulated (no kernel modules here), XFS on a loop device, the services in a real systemd per node")
		waitFenced(t, ctx, s.l, other, crashed, oldInit)
		s.checkStartOrder(t, ctx, other)
		s.checkMounted(t, other)
		s.sysd.checkServices(t, ctx, other)
		s.checkFiles(t, ctx, other)
		s.write(t, ctx, other, "after-crash-of-"+crashed)
		wctx, wcancel := context.WithTimeout(ctx, 3*time.Minute)
		err := s.l.WaitOnline(wctx)
		wcancel()
		if err != nil {
			t.Fatal(err)
		}
		s.waitSecondary(t, ctx, crashed, 2*time.Minute)
		t.Logf("%s fenced, back and DRBD Secondary %s after the crash", crashed, time.Since(at).Round(100*time.Millisecond))
		s.checkMounted(t, other)
		s.sysd.checkServices(t, ctx, other)
		active = other
	})
	if t.Failed() {
		return
	}

	t.Run("an Outdated peer is never promoted", func(t *testing.T) {
		passive := survivor(t, s.l, active)
		s.drbdsim(t, "set", vpRes, passive, "link_cut=true", "disk=Outdated")
		t.Logf("%s: replication link cut, disk Outdated", passive)
		// As with real DRBD, the Outdated state is there before the
		// active node goes: the passive node's monitor withdraws its
		// promotion score first.
		s.waitNoScore(t, ctx, passive, time.Minute)
		primaries := s.primaryCalls(t)
		s.pcs(t, ctx, "node", "standby", active)
		s.waitStopped(t, ctx, active, 2*time.Minute)
		t.Logf("%s in standby: watching %s for %s", active, passive, vpObserve)
		for end := time.Now().Add(vpObserve); time.Now().Before(end); time.Sleep(time.Second) {
			for _, n := range s.drbdState(t) {
				if n.Up && n.Role == "Primary" {
					t.Fatalf("%s promoted (disk %s) while %s was Outdated and cut off", n.Name, n.Disk, passive)
				}
				if n.Name == passive && (!n.Up || n.Disk != "Outdated") {
					t.Fatalf("%s: up %v, disk %s; want up and Outdated", passive, n.Up, n.Disk)
				}
			}
			if v, err := s.l.View(ctx, passive); err == nil {
				for _, m := range vpMembers {
					if v.Roles[m] == "Started" {
						t.Fatalf("%s started on %s without a Primary", m, v.Where[m])
					}
				}
			}
			if on := s.mountedOn(t); len(on) != 0 {
				t.Fatalf("%s mounted on %v without a Primary", s.data, on)
			}
			s.sysd.checkServices(t, ctx, "")
		}
		if n := s.primaryCalls(t); n != primaries {
			t.Fatalf("drbdadm primary ran %d times while %s was Outdated and alone", n-primaries, passive)
		}
		start := time.Now()
		s.drbdsim(t, "set", vpRes, passive, "link_cut=false")
		s.pcs(t, ctx, "node", "unstandby", active)
		where := s.waitStack(t, ctx, "", 2*time.Minute, "after the link came back")
		t.Logf("link back and %s out of standby: the stack runs on %s after %s", active, where, time.Since(start).Round(100*time.Millisecond))
		for _, n := range s.drbdState(t) {
			if n.Disk != "UpToDate" {
				t.Errorf("%s's disk is %s after the resync, want UpToDate", n.Name, n.Disk)
			}
		}
		s.checkStartOrder(t, ctx, where)
		s.checkMounted(t, where)
		s.sysd.checkServices(t, ctx, where)
		s.checkFiles(t, ctx, where)
	})
}

// prepareDRBD builds the drbd-utils simulator into work/drbd/bin, where a
// drbdsim.dir file names its state directory, and defines resource r0 on
// n1 and n2 with both disks UpToDate.
func (s *vpStack) prepareDRBD(t *testing.T, work string) {
	t.Helper()
	root := filepath.Join(work, "drbd")
	s.bin, s.drbd, s.conf = filepath.Join(root, "bin"), filepath.Join(root, "state"), filepath.Join(root, "drbd.conf")
	if err := os.MkdirAll(s.drbd, 0o755); err != nil {
		t.Fatal(err)
	}
	sim, err := testbuild.Main(s.bin, "drbdsim", "./agents/drbd/internal/drbdsim/drbdsimcmd")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"drbdadm", "drbdsetup"} {
		if err := os.Symlink(sim, filepath.Join(s.bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		filepath.Join(s.bin, "drbdsim.dir"): s.drbd + "\n",
		s.conf:                              "# simulated: drbdsim keeps resource " + vpRes + " in " + s.drbd + "\n",
	}
	for name, content := range files {
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s.drbdsim(t, "define", vpRes, "n1", "n2")
}

// prepareVolume makes a loop device with XFS (detached when the test ends,
// after the lab is down) and the empty data directory.
func (s *vpStack) prepareVolume(t *testing.T, work string) {
	t.Helper()
	img := filepath.Join(work, "volume.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 512<<20); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "--find", "--show", img).CombinedOutput()
	if err != nil {
		t.Fatalf("losetup: %v\n%s", err, out)
	}
	s.dev = strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "-d", s.dev).CombinedOutput(); err != nil {
			t.Errorf("losetup -d %s: %v\n%s", s.dev, err, out)
		}
	})
	if out, err := exec.Command("mkfs.xfs", "-q", "-f", s.dev).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.xfs %s: %v\n%s", s.dev, err, out)
	}
	s.data = filepath.Join(work, "data")
	if err := os.Mkdir(s.data, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("volume: %s (XFS on %s), data directory %s", s.dev, img, s.data)
}

// vdoHook gives each node its own VDO simulator with volume vprotect,
// stopped, bind-mounted at vpVDODir.
func (s *vpStack) vdoHook() lab.NodeHook {
	return lab.NodeHookFunc(func(ctx context.Context, n lab.NodeInfo) ([]lab.Mount, error) {
		dir := filepath.Join(n.Dir, "vdo")
		for _, argv := range [][]string{{"new", dir}, {"add-vdo", dir, vpVolume, "/dev/drbd0"}} {
			if out, err := exec.CommandContext(ctx, s.vdosim, argv...).CombinedOutput(); err != nil {
				return nil, fmt.Errorf("vdo simulator of %s: %v: %w\n%s", n.Name, argv, err, out)
			}
		}
		s.mu.Lock()
		s.vdo[n.Name] = dir
		s.mu.Unlock()
		return []lab.Mount{{Source: dir, Target: vpVDODir, Dir: true}}, nil
	})
}

// resources is the CIB of the stack: the ping clone, the DRBD clone and
// the group. Timeouts are the agents' meta-data defaults.
func (s *vpStack) resources() []string {
	type nv = [2]string
	prim := func(id, class, provider, typ string, params []nv, ops string) string {
		var b strings.Builder
		fmt.Fprintf(&b, `<primitive id="%s" class="%s" provider="%s" type="%s">`+"\n", id, class, provider, typ)
		fmt.Fprintf(&b, `  <instance_attributes id="%s-ia">`+"\n", id)
		for _, p := range params {
			fmt.Fprintf(&b, `    <nvpair id="%s-ia-%s" name="%s" value="%s"/>`+"\n", id, p[0], p[0], p[1])
		}
		fmt.Fprintf(&b, "  </instance_attributes>\n  <operations>\n%s  </operations>\n</primitive>\n", ops)
		return b.String()
	}
	op := func(id, name, interval, timeout string) string {
		return fmt.Sprintf(`    <op id="%s-%s-%s" name="%s" interval="%s" timeout="%s"/>`+"\n", id, name, interval, name, interval, timeout)
	}
	ops := func(id, monitor, start, stop string) string {
		return op(id, "monitor", monitor, "20s") + op(id, "start", "0s", start) + op(id, "stop", "0s", stop)
	}
	meta := func(id string, kv ...nv) string {
		var b strings.Builder
		fmt.Fprintf(&b, `<meta_attributes id="%s-meta">`+"\n", id)
		for _, p := range kv {
			fmt.Fprintf(&b, `  <nvpair id="%s-meta-%s" name="%s" value="%s"/>`+"\n", id, p[0], p[0], p[1])
		}
		return b.String() + "</meta_attributes>\n"
	}

	ping := `<clone id="ping-clone">` + "\n" + prim("ping", "ocf", "pacemaker", "ping",
		[]nv{{"host_list", s.client.String()}, {"multiplier", "1000"}, {"dampen", "2s"}, {"name", vpPingAttr}},
		ops("ping", "5s", "60s", "20s")) + "</clone>"

	drbdOps := op(vpDRBD, "monitor", "10s", "20s") + op(vpDRBD, "monitor", "11s", "20s") +
		op(vpDRBD, "start", "0s", "240s") + op(vpDRBD, "stop", "0s", "100s") +
		op(vpDRBD, "promote", "0s", "90s") + op(vpDRBD, "demote", "0s", "90s") + op(vpDRBD, "notify", "0s", "90s")
	drbdOps = strings.Replace(drbdOps, `interval="10s"`, `interval="10s" role="Promoted"`, 1)
	drbdOps = strings.Replace(drbdOps, `interval="11s"`, `interval="11s" role="Unpromoted"`, 1)
	drbd := `<clone id="` + vpClone + `">` + "\n" + meta(vpClone, nv{"promotable", "true"}, nv{"promoted-max", "1"},
		nv{"promoted-node-max", "1"}, nv{"clone-max", "2"}, nv{"clone-node-max", "1"}, nv{"notify", "true"}) +
		prim(vpDRBD, "ocf", "goha", "drbd", []nv{{"drbd_resource", vpRes}, {"drbdconf", s.conf},
			{"drbdadm", filepath.Join(s.bin, "drbdadm")}, {"drbdsetup", filepath.Join(s.bin, "drbdsetup")}}, drbdOps) +
		"</clone>"

	var g strings.Builder
	fmt.Fprintf(&g, `<group id="%s">`+"\n", vpGroup)
	g.WriteString(meta(vpGroup, nv{"resource-stickiness", "100"}))
	g.WriteString(prim("vdo", "ocf", "goha", "vdo", []nv{{"volume", vpVolume}, {"vdo_binary", vpVDODir + "/bin/vdo"},
		{"lvm_binary", vpVDODir + "/bin/lvm"}, {"dmsetup_binary", vpVDODir + "/bin/dmsetup"}, {"sysfs", vpVDODir + "/sys"}},
		ops("vdo", "10s", "120s", "120s")))
	g.WriteString(prim("fs", "ocf", "goha", "filesystem", []nv{{"device", s.dev}, {"directory", s.data}, {"fstype", "xfs"}},
		ops("fs", "20s", "60s", "60s")))
	g.WriteString(prim("vip", "ocf", "goha", "vip", []nv{{"ip", s.vip.String()}, {"cidr_netmask", "24"}, {"nic", "eth0"}},
		ops("vip", "10s", "20s", "20s")))
	for _, svc := range vpMembers[3:] {
		p := prim(svc, "ocf", "goha", "service", []nv{{"unit", svc}}, ops(svc, "10s", "100s", "100s"))
		g.WriteString(strings.Replace(p, "  <operations>", s.sysd.busAttributes(svc)+"  <operations>", 1))
	}
	g.WriteString("</group>")
	return []string{ping, drbd, g.String()}
}

// constraints: the group starts after the promotion and runs with the
// Primary, and never where the client cannot be pinged.
func (s *vpStack) constraints() []string {
	return []string{
		fmt.Sprintf(`<rsc_order id="%[1]s-after-%[2]s" first="%[2]s" first-action="promote" then="%[1]s" then-action="start" kind="Mandatory"/>`, vpGroup, vpClone),
		fmt.Sprintf(`<rsc_colocation id="%[1]s-with-%[2]s" rsc="%[1]s" with-rsc="%[2]s" with-rsc-role="Promoted" score="INFINITY"/>`, vpGroup, vpClone),
		fmt.Sprintf(`<rsc_location id="%[1]s-needs-ping" rsc="%[1]s">
  <rule id="%[1]s-needs-ping-rule" score="-INFINITY" boolean-op="or">
    <expression id="%[1]s-needs-ping-lt" attribute="%[2]s" operation="lt" value="1" type="number"/>
    <expression id="%[1]s-needs-ping-undef" attribute="%[2]s" operation="not_defined"/>
  </rule>
</rsc_location>`, vpGroup, vpPingAttr),
	}
}

// vpCIB adds one element to a section of the CIB, on the first node that
// answers.
func vpCIB(t *testing.T, ctx context.Context, l *lab.Lab, section, x string) {
	t.Helper()
	var last error
	for _, n := range l.Nodes() {
		out, err := l.Exec(ctx, n, "cibadmin", "--create", "-o", section, "--xml-text", x)
		if err == nil {
			return
		}
		last = fmt.Errorf("on %s: %v\n%s", n, err, out)
	}
	t.Fatalf("cibadmin --create -o %s:\n%s\n%v", section, x, last)
}

// pcs runs pcs on the first node that answers.
func (s *vpStack) pcs(t *testing.T, ctx context.Context, args ...string) {
	t.Helper()
	var last error
	for _, n := range s.l.Nodes() {
		out, err := s.l.Exec(ctx, n, append([]string{"pcs"}, args...)...)
		if err == nil {
			return
		}
		last = fmt.Errorf("on %s: %v\n%s", n, err, out)
	}
	t.Fatalf("pcs %s: %v", strings.Join(args, " "), last)
}

// vpView is what the test reads from crm_mon: the group's members and the
// DRBD clone's instances.
type vpView struct {
	lab.ClusterView
	drbd map[string]string // node -> role of the DRBD instance there
}

func (s *vpStack) view(ctx context.Context, node string) (vpView, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := s.l.Exec(cctx, node, "crm_mon", "-1", "--output-as=xml")
	if err != nil {
		return vpView{}, err
	}
	v, err := lab.ParseCrmMon(out)
	if err != nil {
		return vpView{}, err
	}
	drbd, err := lab.ParseCloneState(out, vpDRBD)
	if err != nil {
		return vpView{}, err
	}
	vv := vpView{ClusterView: v, drbd: map[string]string{}}
	for n, role := range drbd.Roles {
		if legacy, ok := map[string]string{"Master": "Promoted", "Slave": "Unpromoted"}[role]; ok {
			role = legacy
		}
		vv.drbd[n] = role
	}
	return vv, nil
}

// waitFor polls the view of the first node that answers until ok accepts
// it, and fails with the last view's description otherwise.
func (s *vpStack) waitFor(t *testing.T, ctx context.Context, timeout time.Duration, what string, ok func(vpView) (string, bool)) string {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := "no node answered"
	for {
		for _, n := range s.l.Nodes() {
			v, err := s.view(wctx, n)
			if err != nil {
				continue
			}
			got, done := ok(v)
			if done {
				return got
			}
			last = n + " sees " + got
			break
		}
		select {
		case <-wctx.Done():
			t.Fatalf("%s: %s", what, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// describe says where the stack's parts are in v.
func describe(v vpView) string {
	parts := []string{fmt.Sprintf("drbd %v", v.drbd)}
	for _, m := range vpMembers {
		parts = append(parts, fmt.Sprintf("%s %s on %q", m, v.Roles[m], v.Where[m]))
	}
	return strings.Join(parts, ", ")
}

// waitStack waits until DRBD is Promoted and every member of the group
// started on node (any one node when node is ""), and returns that node.
func (s *vpStack) waitStack(t *testing.T, ctx context.Context, node string, timeout time.Duration, what string) string {
	t.Helper()
	return s.waitFor(t, ctx, timeout, what+": stack not running on "+node, func(v vpView) (string, bool) {
		where := node
		if where == "" {
			where = v.Where[vpMembers[0]]
		}
		if where == "" || v.drbd[where] != "Promoted" {
			return describe(v), false
		}
		for _, m := range vpMembers {
			if v.Roles[m] != "Started" || v.Where[m] != where {
				return describe(v), false
			}
		}
		return where, true
	})
}

// waitSecondary waits until node runs the DRBD instance Unpromoted, as
// Pacemaker and the simulator both see it.
func (s *vpStack) waitSecondary(t *testing.T, ctx context.Context, node string, timeout time.Duration) {
	t.Helper()
	s.waitFor(t, ctx, timeout, node+" not DRBD Secondary", func(v vpView) (string, bool) {
		if v.drbd[node] != "Unpromoted" {
			return describe(v), false
		}
		for _, n := range s.drbdState(t) {
			if n.Name == node && n.Up && n.Role == "Secondary" {
				return "", true
			}
		}
		return "the simulator does not have it up as Secondary", false
	})
}

// waitStopped waits until nothing of the stack runs and node has DRBD down.
func (s *vpStack) waitStopped(t *testing.T, ctx context.Context, node string, timeout time.Duration) {
	t.Helper()
	s.waitFor(t, ctx, timeout, "stack not stopped", func(v vpView) (string, bool) {
		if _, ok := v.drbd[node]; ok {
			return describe(v), false
		}
		for _, m := range vpMembers {
			if v.Roles[m] == "Started" {
				return describe(v), false
			}
		}
		for _, n := range s.drbdState(t) {
			if n.Name == node && n.Up {
				return "the simulator still has it up on " + node, false
			}
		}
		return "", true
	})
}

// vpDRBDNode is one node of the replicated resource as `drbdsim show`
// prints it.
type vpDRBDNode struct {
	Name    string `json:"name"`
	Disk    string `json:"disk"`
	Role    string `json:"role"`
	LinkCut bool   `json:"link_cut"`
	Up      bool   `json:"up"`
}

// drbdsim runs the DRBD simulator's own commands (define, show, set).
func (s *vpStack) drbdsim(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(filepath.Join(s.bin, "drbdsim"), args...)
	cmd.Env = append(os.Environ(), "DRBDSIM_DIR="+s.drbd)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("drbdsim %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// drbdState is the replicated resource on every node, Up where the
// node's kernel side runs.
func (s *vpStack) drbdState(t *testing.T) []vpDRBDNode {
	t.Helper()
	var c struct {
		Nodes []vpDRBDNode `json:"nodes"`
	}
	out := s.drbdsim(t, "show", vpRes)
	if err := json.Unmarshal(out, &c); err != nil {
		t.Fatalf("drbdsim show %s: %v\n%s", vpRes, err, out)
	}
	return c.Nodes
}

// waitNoScore waits until node has no promotion score for DRBD.
func (s *vpStack) waitNoScore(t *testing.T, ctx context.Context, node string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, err := s.l.Exec(ctx, node, "crm_attribute", "--type", "nodes", "--lifetime", "reboot",
			"--node", node, "--name", ocf.PromotionScoreName(vpDRBD), "--query", "--quiet")
		if err != nil && strings.Contains(err.Error(), "No such device or address") {
			return // what crm_attribute says of an attribute that is not set
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still has promotion score %q (%v) after %s", node, strings.TrimSpace(string(out)), err, timeout)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// primaryCalls counts the drbdadm primary commands run so far, on any node.
func (s *vpStack) primaryCalls(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.drbd, "calls.log"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), " primary "+vpRes+"\n")
}

// lastOps returns, for each resource on node, the call id of its last
// operation named in want (resource -> operation), from the CIB's status
// section. The executor numbers a node's calls in the order it gets them.
func (s *vpStack) lastOps(t *testing.T, ctx context.Context, node string, want map[string]string) map[string]int {
	t.Helper()
	var out []byte
	var err error
	for _, n := range s.l.Nodes() {
		if out, err = s.l.Exec(ctx, n, "cibadmin", "--query", "--scope", "status"); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("cibadmin --query --scope status: %v", err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(out); err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	for _, st := range doc.FindElements("//node_state[@uname='" + node + "']/lrm/lrm_resources/lrm_resource") {
		rsc := st.SelectAttrValue("id", "")
		op, ok := want[rsc]
		if !ok {
			continue
		}
		for _, o := range st.SelectElements("lrm_rsc_op") {
			if o.SelectAttrValue("operation", "") != op || o.SelectAttrValue("rc-code", "") != "0" {
				continue
			}
			if id, err := strconv.Atoi(o.SelectAttrValue("call-id", "")); err == nil && id > ids[rsc] {
				ids[rsc] = id
			}
		}
	}
	return ids
}

// checkOrder fails unless the operations ran on node in the order given.
func (s *vpStack) checkOrder(t *testing.T, ctx context.Context, node string, order [][2]string) {
	t.Helper()
	want := map[string]string{}
	for _, o := range order {
		want[o[0]] = o[1]
	}
	ids := s.lastOps(t, ctx, node, want)
	var line []string
	prev := 0
	for _, o := range order {
		id, ok := ids[o[0]]
		if !ok {
			t.Errorf("%s: no successful %s of %s in the status section", node, o[1], o[0])
			return
		}
		line = append(line, fmt.Sprintf("%s %s #%d", o[0], o[1], id))
		if id <= prev {
			t.Errorf("%s: out of order: %s", node, strings.Join(line, ", "))
			return
		}
		prev = id
	}
	t.Logf("%s in order: %s", node, strings.Join(line, ", "))
}

// checkStartOrder: DRBD promoted, then each member of the group started.
func (s *vpStack) checkStartOrder(t *testing.T, ctx context.Context, node string) {
	t.Helper()
	order := [][2]string{{vpDRBD, "promote"}}
	for _, m := range vpMembers {
		order = append(order, [2]string{m, "start"})
	}
	s.checkOrder(t, ctx, node, order)
}

// checkStopOrder: the group's members stopped in reverse, then DRBD
// stopped on the node put in standby; the checks run where the status of
// from is recorded, on the node to.
func (s *vpStack) checkStopOrder(t *testing.T, ctx context.Context, to, from string) {
	t.Helper()
	var order [][2]string
	for i := len(vpMembers) - 1; i >= 0; i-- {
		order = append(order, [2]string{vpMembers[i], "stop"})
	}
	order = append(order, [2]string{vpDRBD, "stop"})
	s.checkOrder(t, ctx, from, order)
}

// mountedOn lists the nodes whose mount namespace has the data directory
// mounted, read from their init's mountinfo; the host must never have it.
func (s *vpStack) mountedOn(t *testing.T) []string {
	t.Helper()
	has := func(pid string) bool {
		b, err := os.ReadFile("/proc/" + pid + "/mountinfo")
		if err != nil {
			return false
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) > 4 && f[4] == s.data {
				return true
			}
		}
		return false
	}
	if has("self") {
		t.Fatalf("%s is mounted on the host", s.data)
	}
	var on []string
	for _, n := range s.l.Nodes() {
		if pid := initPID(t, s.l, n); pid != 0 && has(strconv.Itoa(pid)) {
			on = append(on, n)
		}
	}
	return on
}

// checkMounted fails unless node, and only node, has the filesystem.
func (s *vpStack) checkMounted(t *testing.T, node string) {
	t.Helper()
	if on := s.mountedOn(t); len(on) != 1 || on[0] != node {
		t.Fatalf("%s mounted on %v, want on %s only", s.data, on, node)
	}
}

// write writes a new file into the data directory on node.
func (s *vpStack) write(t *testing.T, ctx context.Context, node, name string) {
	t.Helper()
	content := fmt.Sprintf("%s written on %s at %s\n", name, node, time.Now().Format(time.RFC3339Nano))
	cmd, err := s.l.Command(ctx, node, "dd", "of="+filepath.Join(s.data, name), "conv=fsync", "status=none")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdin = strings.NewReader(content)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("write %s on %s: %v\n%s", name, node, err, out)
	}
	s.files[name] = content
}

// checkFiles fails unless node's data directory holds every file written.
func (s *vpStack) checkFiles(t *testing.T, ctx context.Context, node string) {
	t.Helper()
	for name, content := range s.files {
		out, err := s.l.Exec(ctx, node, "cat", filepath.Join(s.data, name))
		if err != nil || string(out) != content {
			ls, _ := s.l.Exec(ctx, node, "ls", "-l", s.data)
			t.Fatalf("%s: %s is %q (%v), want %q; the directory has:\n%s", node, name, out, err, content, ls)
		}
	}
	t.Logf("%s holds all %d files", node, len(s.files))
}

// powerLoss clears what a power cut clears with the kernel but the lab
// keeps across a crash: the started volumes of the node's VDO simulator
// (the lab itself clears the node's network namespace).
func (s *vpStack) powerLoss(t *testing.T, ctx context.Context, node string) {
	t.Helper()
	if out, err := exec.CommandContext(ctx, s.vdosim, "power-loss", s.vdo[node]).CombinedOutput(); err != nil {
		t.Fatalf("power loss of %s's VDO simulator: %v\n%s", node, err, out)
	}
}

// dump logs what explains a failure.
func (s *vpStack) dump(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, n := range s.l.Nodes() {
		if out, err := s.l.Exec(ctx, n, "crm_mon", "-1", "-A", "-f", "-r"); err == nil {
			t.Logf("crm_mon on %s:\n%s", n, out)
		}
		if out, err := s.l.Exec(ctx, n, "grep", "-h", "-E", "drbd|vdo|filesystem|vip|error|fail", "/var/log/pacemaker/pacemaker.log"); err == nil {
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) > 60 {
				lines = lines[len(lines)-60:]
			}
			t.Logf("pacemaker.log on %s (last matching lines):\n%s", n, strings.Join(lines, "\n"))
		}
	}
	if b, err := os.ReadFile(filepath.Join(s.drbd, "calls.log")); err == nil {
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) > 30 {
			lines = lines[len(lines)-30:]
		}
		t.Logf("drbdsim calls (last 30):\n%s", strings.Join(lines, "\n"))
	}
	t.Logf("drbdsim: %s", s.drbdsim(t, "show", vpRes))
}

// vpRoot is the systemd root of ocf:goha:service's component test, so
// that one cached root serves both.
var vpRoot = systemdroot.RootOptions{
	Packages: []string{"memcached", "busybox", "openssl"},
	Disable:  []string{"memcached.service"},
}

// vpUnitText is the unit of a vProtect service's stand-in: a program that
// runs until stopped.
const vpUnitText = `[Unit]
Description=%s (stand-in for the test: sleeps until stopped)

[Service]
ExecStart=/bin/sleep infinity
`

// vpSystemd is every node's systemd: a container booted with
// internal/systemdroot, and a relay that serves its system bus at a socket
// file the node reaches.
type vpSystemd struct {
	t    *testing.T // the whole test's: the containers live as long as the lab
	dir  string
	mu   sync.Mutex
	sys  map[string]*systemdroot.System // nil while powered off
	sock map[string]string              // node -> socket file of its relay
}

func newSystemd(t *testing.T, dir string) *vpSystemd {
	if err := systemdroot.Unavailable(); err != nil {
		t.Skip(err)
	}
	return &vpSystemd{t: t, dir: dir, sys: map[string]*systemdroot.System{}, sock: map[string]string{}}
}

// boot boots a fresh systemd for node with the vProtect units, and starts
// the node's relay the first time.
func (d *vpSystemd) boot(node string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	s := systemdroot.Boot(d.t, systemdroot.Options{Name: "vp-" + node, Root: vpRoot})
	for _, unit := range vpMembers[3:] {
		if err := s.WriteUnit(ctx, unit+".service", fmt.Sprintf(vpUnitText, unit)); err != nil {
			d.t.Fatalf("systemd of %s: %v", node, err)
		}
	}
	d.mu.Lock()
	d.sys[node] = s
	_, serving := d.sock[node]
	d.mu.Unlock()
	if !serving {
		d.serve(node)
	}
	d.t.Logf("systemd of %s booted in %s (%s)", node, time.Since(start).Round(10*time.Millisecond), s.Name)
}

// powerOff powers node's systemd off, and with it the services.
func (d *vpSystemd) powerOff(t *testing.T, node string) {
	t.Helper()
	d.mu.Lock()
	s := d.sys[node]
	d.sys[node] = nil
	d.mu.Unlock()
	if s == nil {
		return
	}
	if err := s.Shutdown(); err != nil {
		t.Fatalf("power off the systemd of %s: %v", node, err)
	}
}

// serve listens at node's socket file and relays every connection to the
// system bus of node's current systemd.
func (d *vpSystemd) serve(node string) {
	path := filepath.Join(d.dir, "bus-"+node+".sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		d.t.Fatalf("bus relay of %s: %v", node, err)
	}
	d.t.Cleanup(func() { ln.Close() })
	d.mu.Lock()
	d.sock[node] = path
	d.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go d.relay(node, c)
		}
	}()
}

func (d *vpSystemd) relay(node string, c net.Conn) {
	defer c.Close()
	d.mu.Lock()
	s := d.sys[node]
	d.mu.Unlock()
	if s == nil {
		return // powered off: the agent sees its connection refused
	}
	bus, err := net.Dial("unix", s.Path("/run/dbus/system_bus_socket"))
	if err != nil {
		return
	}
	defer bus.Close()
	done := make(chan struct{}, 2)
	go func() { io.Copy(bus, c); done <- struct{}{} }()
	go func() { io.Copy(c, bus); done <- struct{}{} }()
	<-done
}

// busAttributes are the per-node instance attributes that point a
// service resource at each node's bus.
func (d *vpSystemd) busAttributes(id string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var b strings.Builder
	for _, node := range []string{"n1", "n2"} {
		fmt.Fprintf(&b, `  <instance_attributes id="%[1]s-on-%[2]s" score="10">
    <rule id="%[1]s-on-%[2]s-rule" score="INFINITY">
      <expression id="%[1]s-on-%[2]s-expr" attribute="#uname" operation="eq" value="%[2]s"/>
    </rule>
    <nvpair id="%[1]s-on-%[2]s-bus" name="bus_address" value="unix:path=%[3]s"/>
  </instance_attributes>
`, id, node, d.sock[node])
	}
	return b.String()
}

// checkServices fails unless the vProtect units are active in the systemd
// of node and of no other node ("" for none).
func (d *vpSystemd) checkServices(t *testing.T, ctx context.Context, node string) {
	t.Helper()
	var seen []string
	for _, n := range []string{"n1", "n2"} {
		d.mu.Lock()
		s := d.sys[n]
		d.mu.Unlock()
		if s == nil {
			continue
		}
		c, err := s.Connect(ctx)
		if err != nil {
			t.Fatalf("connect to the systemd of %s: %v", n, err)
		}
		for _, unit := range vpMembers[3:] {
			p, err := c.GetUnitPropertyContext(ctx, unit+".service", "ActiveState")
			if err != nil {
				c.Close()
				t.Fatalf("%s on %s: %v", unit, n, err)
			}
			state, _ := p.Value.Value().(string)
			if (state == "active") != (n == node) {
				c.Close()
				t.Fatalf("%s is %s in the systemd of %s; want active on %q only", unit, state, n, node)
			}
			seen = append(seen, fmt.Sprintf("%s %s on %s", unit, state, n))
		}
		c.Close()
	}
	if node != "" {
		t.Logf("services: %s", strings.Join(seen, ", "))
	}
}
