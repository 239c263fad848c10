package vip

// Component tests: the agent binary against the real kernel, inside network
// namespaces and a veth pair each test creates and deletes. They need root
// and ip(8); without them they skip and say why.

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/goha-ha/goha/internal/agenttest"
	"github.com/goha-ha/goha/internal/testbuild"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("component test: skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("component test: needs root to create network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("component test: needs ip(8) from iproute2 to set up namespaces")
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	agent.Remove()
	os.Exit(code)
}

// agent is the agent alone (agents/vip/internal/vipcmd), built once per
// run, so the test does not depend on the rest of cmd/goha.
var agent = &testbuild.Once{Name: "vip", Pkg: "./agents/vip/internal/vipcmd"}

func agentBinary(t *testing.T) string { return agent.Path(t) }

var labSeq atomic.Int32

// lab is two network namespaces joined by a veth pair: the agent runs in
// node, peer is the neighbour on the other end.
type lab struct {
	node, peer       string // namespace names
	nodeDev, peerDev string
	nodeMAC, peerMAC net.HardwareAddr
}

func run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func newLab(t *testing.T) *lab {
	t.Helper()
	requireRoot(t)
	n := labSeq.Add(1)
	id := fmt.Sprintf("gv%d%d", os.Getpid()%100000, n)
	l := &lab{node: id + "a", peer: id + "b", nodeDev: id + "a", peerDev: id + "b"}
	for _, ns := range []string{l.node, l.peer} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("ip netns del %s: %v\n%s", ns, err, out)
			}
		})
	}
	run(t, "ip", "link", "add", l.nodeDev, "netns", l.node, "type", "veth", "peer", "name", l.peerDev, "netns", l.peer)
	for _, side := range [][3]string{{l.node, l.nodeDev, "1"}, {l.peer, l.peerDev, "2"}} {
		ns, dev, host := side[0], side[1], side[2]
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
		run(t, "ip", "-n", ns, "link", "set", dev, "up")
		run(t, "ip", "-n", ns, "addr", "add", "10.77.0."+host+"/24", "dev", dev)
		run(t, "ip", "-n", ns, "addr", "add", "fd00:77::"+host+"/64", "dev", dev, "nodad")
	}
	l.nodeMAC = l.mac(t, l.node, l.nodeDev)
	l.peerMAC = l.mac(t, l.peer, l.peerDev)
	return l
}

var etherRE = regexp.MustCompile(`link/ether ([0-9a-f:]{17})`)

func (l *lab) mac(t *testing.T, ns, dev string) net.HardwareAddr {
	t.Helper()
	m := etherRE.FindStringSubmatch(run(t, "ip", "-n", ns, "link", "show", dev))
	if m == nil {
		t.Fatalf("no MAC on %s in %s", dev, ns)
	}
	mac, err := net.ParseMAC(m[1])
	if err != nil {
		t.Fatal(err)
	}
	return mac
}

// agent runs the agent binary in the node namespace, params as NAME=VALUE
// (OCF_* names are passed as they are, others become OCF_RESKEY_NAME).
func (l *lab) agent(t *testing.T, action string, params ...string) agenttest.Result {
	t.Helper()
	env := agenttest.Env(t.TempDir(), "v", params...)
	return agenttest.Run(t, 60*time.Second, env, "ip", "netns", "exec", l.node, agentBinary(t), action)
}

// addrLine is the node's `ip -o addr` line for addr ("" when absent).
func (l *lab) addrLine(t *testing.T, ns, dev, addr string) string {
	t.Helper()
	for _, line := range strings.Split(run(t, "ip", "-n", ns, "-o", "addr", "show", "dev", dev), "\n") {
		if strings.Contains(line, " "+addr+" ") {
			return line
		}
	}
	return ""
}

// capture listens on the peer's end for the packets the node sends.
type capture struct {
	c *packetConn
}

// listenOnPeer opens a packet socket inside the peer namespace. The socket
// is created on a thread that enters the namespace and is never reused:
// the locked thread exits with its goroutine.
func (l *lab) listenOnPeer(t *testing.T, proto uint16) *capture {
	t.Helper()
	type res struct {
		c   *packetConn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with this goroutine
		ns, err := os.Open(filepath.Join("/run/netns", l.peer))
		if err != nil {
			ch <- res{err: err}
			return
		}
		defer ns.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- res{err: fmt.Errorf("setns %s: %w", l.peer, err)}
			return
		}
		ifi, err := net.InterfaceByName(l.peerDev)
		if err != nil {
			ch <- res{err: err}
			return
		}
		c, err := listenPacket(ifi.Index, proto, nil)
		ch <- res{c, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("capture on %s: %v", l.peerDev, r.err)
	}
	t.Cleanup(func() { r.c.Close() })
	return &capture{c: r.c}
}

// collect reads packets in the background, as they arrive, until quiet
// for idle after the first (or max in total), and returns on the channel
// the arrival times of those keep selects.
func (c *capture) collect(idle, max time.Duration, keep func(b []byte, src net.HardwareAddr) bool) <-chan collected {
	ch := make(chan collected, 1)
	go func() {
		var got collected
		end := time.Now().Add(max)
		buf := make([]byte, 2048)
		for {
			until := end
			if len(got.at) > 0 && time.Now().Add(idle).Before(end) {
				until = time.Now().Add(idle)
			}
			c.c.SetReadDeadline(until)
			n, src, err := c.c.ReadFrom(buf)
			switch {
			case os.IsTimeout(err):
				ch <- got
				return
			case err == errOutgoing:
				continue
			case err != nil:
				got.err = err
				ch <- got
				return
			}
			if keep(buf[:n], src) {
				got.at = append(got.at, time.Now())
			}
		}
	}()
	return ch
}

type collected struct {
	at  []time.Time
	err error
}

func TestComponentIPv4Lifecycle(t *testing.T) {
	l := newLab(t)
	vip := "10.77.0.50"
	p := []string{"ip=" + vip, "arp_count=3", "arp_interval=150"} // nic and netmask from the routing table
	// The peer believes the address is elsewhere, as after a failover.
	run(t, "ip", "-n", l.peer, "neigh", "replace", vip, "lladdr", "02:00:00:00:00:99", "dev", l.peerDev, "nud", "stale")

	agenttest.Expect(t, "probe before start", l.agent(t, "monitor", p...), 7, "")
	agenttest.Expect(t, "recurring monitor before start", l.agent(t, "monitor", append(p, recurring)...), 7, "is not on "+l.nodeDev)

	arps := l.listenOnPeer(t, etherTypeARP).collect(time.Second, 10*time.Second, func(b []byte, src net.HardwareAddr) bool {
		a, ok := parseARP(b)
		return ok && a.Op == arpRequest && a.SenderIP == netip.MustParseAddr(vip) && a.TargetIP == a.SenderIP &&
			bytes.Equal(a.SenderHW, l.nodeMAC) && bytes.Equal(src, l.nodeMAC)
	})
	begin := time.Now()
	agenttest.Expect(t, "start", l.agent(t, "start", p...), 0, "announced "+vip)
	if took := time.Since(begin); took < 300*time.Millisecond {
		t.Errorf("start took %v: 3 announcements 150 ms apart need 300 ms", took)
	}
	got := <-arps
	garps := got.at
	if got.err != nil {
		t.Fatalf("capture: %v", got.err)
	}
	if len(garps) != 3 {
		t.Errorf("peer received %d gratuitous ARPs for %s, want 3", len(garps), vip)
	} else if gap := garps[2].Sub(garps[0]); gap < 250*time.Millisecond {
		t.Errorf("first to last gratuitous ARP: %v, want about 300 ms", gap)
	}
	line := l.addrLine(t, l.node, l.nodeDev, vip+"/24")
	if !strings.Contains(line, "brd 10.77.0.255") {
		t.Errorf("address line %q: want %s/24 with broadcast 10.77.0.255", line, vip)
	}
	if neigh := run(t, "ip", "-n", l.peer, "neigh", "show", vip, "dev", l.peerDev); !strings.Contains(neigh, l.nodeMAC.String()) {
		t.Errorf("peer neighbour entry %q does not point at the node's %s", neigh, l.nodeMAC)
	}

	agenttest.Expect(t, "monitor", l.agent(t, "monitor", append(p, recurring)...), 0, "")
	agenttest.Expect(t, "probe", l.agent(t, "monitor", p...), 0, "")
	agenttest.Expect(t, "monitor level 10", l.agent(t, "monitor", append(p, recurring, "OCF_CHECK_LEVEL=10")...), 0, "")
	agenttest.Expect(t, "second start", l.agent(t, "start", p...), 0, "already on")

	// Link down on the wire: the peer's end goes away, the node loses carrier.
	run(t, "ip", "-n", l.peer, "link", "set", l.peerDev, "down")
	agenttest.Expect(t, "monitor without carrier", l.agent(t, "monitor", append(p, recurring)...), 7, "has no carrier")
	run(t, "ip", "-n", l.peer, "link", "set", l.peerDev, "up")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second+announceMargin)
	defer cancel()
	waitFor(ctx, func() (bool, error) {
		return strings.Contains(run(t, "ip", "-n", l.node, "link", "show", l.nodeDev), "LOWER_UP"), nil
	})
	agenttest.Expect(t, "monitor with carrier back", l.agent(t, "monitor", append(p, recurring)...), 0, "")

	agenttest.Expect(t, "stop", l.agent(t, "stop", p...), 0, "removing "+vip+"/24")
	if line := l.addrLine(t, l.node, l.nodeDev, vip+"/24"); line != "" {
		t.Errorf("address still there after stop: %q", line)
	}
	if l.addrLine(t, l.node, l.nodeDev, "10.77.0.1/24") == "" {
		t.Error("stop removed the node's own address")
	}
	agenttest.Expect(t, "second stop", l.agent(t, "stop", p...), 0, "")
	agenttest.Expect(t, "monitor after stop", l.agent(t, "monitor", append(p, recurring)...), 7, "")
	agenttest.Expect(t, "probe after stop", l.agent(t, "monitor", p...), 7, "")

	// stop succeeds when the interface itself is gone.
	np := []string{"ip=" + vip, "nic=" + l.nodeDev, "cidr_netmask=24"}
	agenttest.Expect(t, "start with nic", l.agent(t, "start", np...), 0, "")
	run(t, "ip", "-n", l.node, "link", "del", l.nodeDev)
	agenttest.Expect(t, "stop without the interface", l.agent(t, "stop", np...), 0, "")
	agenttest.Expect(t, "probe without the interface", l.agent(t, "monitor", np...), 7, "")
}

func TestComponentIPv4Conflict(t *testing.T) {
	l := newLab(t)
	vip := "10.77.0.60"
	run(t, "ip", "-n", l.peer, "addr", "add", vip+"/24", "dev", l.peerDev)
	p := []string{"ip=" + vip, "nic=" + l.nodeDev, "cidr_netmask=24", "arp_interval=10"}

	agenttest.Expect(t, "start with conflict_check", l.agent(t, "start", append(p, "conflict_check=true")...), 1,
		"ocf-exit-reason:"+vip+" is already in use by "+l.peerMAC.String())
	if line := l.addrLine(t, l.node, l.nodeDev, vip+"/24"); line != "" {
		t.Fatalf("refused start added the address: %q", line)
	}
	// Without the check IPv4 has no detection: the duplicate comes up, and
	// the deep monitor is what notices it.
	agenttest.Expect(t, "start without conflict_check", l.agent(t, "start", p...), 0, "")
	agenttest.Expect(t, "monitor level 0", l.agent(t, "monitor", append(p, recurring)...), 0, "")
	agenttest.Expect(t, "monitor level 10", l.agent(t, "monitor", append(p, recurring, "OCF_CHECK_LEVEL=10")...), 1,
		"ocf-exit-reason:"+vip+" is already in use by "+l.peerMAC.String())
	agenttest.Expect(t, "stop", l.agent(t, "stop", p...), 0, "")
	if l.addrLine(t, l.peer, l.peerDev, vip+"/24") == "" {
		t.Error("the peer's address is gone")
	}
}

func TestComponentIPv6(t *testing.T) {
	l := newLab(t)
	vip := "fd00:77::50"
	p := []string{"ip=" + vip, "arp_count=2", "arp_interval=100", "preferred_lft=0"}
	run(t, "ip", "-n", l.peer, "neigh", "replace", vip, "lladdr", "02:00:00:00:00:98", "dev", l.peerDev, "nud", "stale")

	var bad []string
	advs := l.listenOnPeer(t, etherTypeV6).collect(time.Second, 10*time.Second, func(b []byte, src net.HardwareAddr) bool {
		na, ok := parseNA(b)
		if !ok || na.Target != netip.MustParseAddr(vip) || na.Solicited {
			return false
		}
		if na.Src != na.Target || na.Dst != allNodes || na.HopLimit != 255 || !na.Override || !bytes.Equal(na.TargetMAC, l.nodeMAC) {
			bad = append(bad, fmt.Sprintf("%+v", na))
		}
		return true
	})
	agenttest.Expect(t, "start", l.agent(t, "start", p...), 0, "announced "+vip)
	got := <-advs
	if got.err != nil {
		t.Fatalf("capture: %v", got.err)
	}
	nas := got.at
	if len(nas) != 2 || len(bad) > 0 {
		t.Errorf("peer received %d unsolicited advertisements for %s, want 2; malformed: %v", len(nas), vip, bad)
	}
	if line := l.addrLine(t, l.node, l.nodeDev, vip+"/64"); line == "" || strings.Contains(line, "tentative") ||
		!strings.Contains(line, "deprecated") || !strings.Contains(line, "valid_lft forever") {
		t.Errorf("address line %q: want %s/64, not tentative, deprecated (preferred_lft=0), valid forever", line, vip)
	}
	if neigh := run(t, "ip", "-n", l.peer, "neigh", "show", vip, "dev", l.peerDev); !strings.Contains(neigh, l.nodeMAC.String()) {
		t.Errorf("peer neighbour entry %q does not point at the node's %s", neigh, l.nodeMAC)
	}
	agenttest.Expect(t, "monitor", l.agent(t, "monitor", append(p, recurring)...), 0, "")
	agenttest.Expect(t, "monitor level 10", l.agent(t, "monitor", append(p, recurring, "OCF_CHECK_LEVEL=10")...), 0, "")
	agenttest.Expect(t, "stop", l.agent(t, "stop", p...), 0, "")
	if line := l.addrLine(t, l.node, l.nodeDev, vip+"/64"); line != "" {
		t.Errorf("address still there after stop: %q", line)
	}
	agenttest.Expect(t, "probe after stop", l.agent(t, "monitor", p...), 7, "")

	// The peer owns another address: the kernel's DAD and our probe catch it.
	dup := "fd00:77::60"
	run(t, "ip", "-n", l.peer, "addr", "add", dup+"/64", "dev", l.peerDev, "nodad")
	dp := []string{"ip=" + dup, "nic=" + l.nodeDev, "cidr_netmask=64"}
	agenttest.Expect(t, "start with conflict_check", l.agent(t, "start", append(dp, "conflict_check=1")...), 1,
		"ocf-exit-reason:"+dup+" is already in use by "+l.peerMAC.String())
	agenttest.Expect(t, "start into a duplicate", l.agent(t, "start", dp...), 1,
		"ocf-exit-reason:"+dup+" is already in use by "+l.peerMAC.String()+" on "+l.nodeDev+" (duplicate address detection failed)")
	if line := l.addrLine(t, l.node, l.nodeDev, dup+"/64"); line != "" {
		t.Errorf("failed start left %q behind", line)
	}
}

func TestComponentValidateAll(t *testing.T) {
	l := newLab(t)
	tests := []struct {
		name   string
		params []string
		reason string
	}{
		{"bad ip", []string{"ip=10.77.0.256"}, "ocf-exit-reason:parameter ip is not an IPv4 or IPv6 address"},
		{"missing ip", []string{"nic=" + l.nodeDev}, "ocf-exit-reason:parameter ip is required"},
		{"unknown nic", []string{"ip=10.77.0.50", "nic=nosuch0"}, `ocf-exit-reason:parameter nic: no such interface "nosuch0"`},
		{"netmask v4", []string{"ip=10.77.0.50", "cidr_netmask=33"}, "ocf-exit-reason:parameter cidr_netmask is out of range for an IPv4 address (1 to 32): 33"},
		{"netmask v6", []string{"ip=fd00:77::50", "cidr_netmask=129"}, "ocf-exit-reason:parameter cidr_netmask is out of range"},
	}
	for _, tt := range tests {
		for _, action := range []string{"validate-all", "start"} {
			agenttest.Expect(t, tt.name+" "+action, l.agent(t, action, tt.params...), 6, tt.reason)
		}
	}
	agenttest.Expect(t, "good configuration", l.agent(t, "validate-all", "ip=10.77.0.50"), 0, "")
}

// TestComponentOCFTester runs resource-agents' own conformance test on the
// agent, for an IPv4 and an IPv6 address.
func TestComponentOCFTester(t *testing.T) {
	l := newLab(t)
	tester, err := exec.LookPath("ocf-tester")
	if err != nil {
		t.Skip("ocf-tester (resource-agents) is not installed")
	}
	for _, params := range [][]string{
		{"ip=10.77.0.70", "cidr_netmask=24", "nic=" + l.nodeDev},
		{"ip=fd00:77::70", "cidr_netmask=64", "nic=" + l.nodeDev},
	} {
		args := []string{"netns", "exec", l.node, tester, "-n", "v"}
		for _, p := range params {
			args = append(args, "-o", p)
		}
		out, err := exec.Command("ip", append(args, agentBinary(t))...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "passed all tests") {
			t.Errorf("ocf-tester %v: %v\n%s", params, err, out)
		}
		addr := strings.TrimPrefix(params[0], "ip=") + "/" + strings.TrimPrefix(params[1], "cidr_netmask=")
		if line := l.addrLine(t, l.node, l.nodeDev, addr); line != "" {
			t.Errorf("ocf-tester left %q behind", line)
		}
	}
}
