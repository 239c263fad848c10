package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goha-ha/goha/internal/bench"
	"github.com/goha-ha/goha/internal/lab"
	"github.com/goha-ha/goha/internal/nsnet"
)

// vipResource is the id of the floating address the failover test creates.
const vipResource = "vip"

// TestVIPFailover puts ocf:goha:vip on a 3-node lab with fencing and moves
// it three ways: a power cut of its node, standby of its node, and a kill
// of corosync on its node. Each time the address must come up on another
// node, and after the power cut a client must reach it through the new
// node's MAC (the gratuitous ARP updated the client's neighbour entry).
// The power cut is then repeated with ocf:heartbeat:IPaddr2 for the bench
// comparison; both timings go to results/.
func TestVIPFailover(t *testing.T) {
	labNeeds(t)
	if _, err := exec.LookPath("arping"); err != nil {
		t.Skip("the VIP failover test needs arping (iputils-arping; make deps installs it)")
	}
	l := startLab(t, lab.Config{Nodes: 3, OCFAgents: []string{"vip"}, OnlineTimeout: 90 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	vip, err := l.VIP(0)
	if err != nil {
		t.Fatal(err)
	}
	createVIP(t, ctx, l, "ocf:goha:vip", vip)
	holder := vipHolder(t, ctx, l, "")
	t.Logf("%s started on %s", vipResource, holder)
	if _, err := l.Client(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	clientNS := clientNetNS(t, l, "c1")

	var gohaSeconds, refSeconds float64
	t.Run("crash holder", func(t *testing.T) {
		gohaSeconds = crashHolder(t, ctx, l, vip, clientNS)
	})
	t.Run("standby holder", func(t *testing.T) {
		old := vipHolder(t, ctx, l, "")
		if out, err := l.Exec(ctx, survivor(t, l, old), "pcs", "node", "standby", old); err != nil {
			t.Fatalf("standby %s: %v\n%s", old, err, out)
		}
		now := vipHolder(t, ctx, l, old)
		t.Logf("%s moved from %s to %s on standby", vipResource, old, now)
		mac := nodeMAC(t, ctx, l, now)
		if _, err := waitClientARP(ctx, l, "c1", vip, mac); err != nil {
			t.Errorf("client after standby: %v", err)
		}
		if out, err := l.Exec(ctx, now, "pcs", "node", "unstandby", old); err != nil {
			t.Fatalf("unstandby %s: %v\n%s", old, err, out)
		}
		wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		if err := l.WaitOnline(wctx); err != nil {
			t.Fatal(err)
		}
		vipHolder(t, ctx, l, "")
	})
	t.Run("kill corosync on holder", func(t *testing.T) {
		old := vipHolder(t, ctx, l, "")
		other := survivor(t, l, old)
		pid := initPID(t, l, old)
		begin := time.Now()
		if _, err := l.Kill(ctx, old, "corosync"); err != nil {
			t.Fatal(err)
		}
		waitFenced(t, ctx, l, other, old, pid)
		t.Logf("%s fenced %s after corosync was killed", old, time.Since(begin).Round(100*time.Millisecond))
		now := vipHolder(t, ctx, l, old)
		t.Logf("%s on %s %s after the kill", vipResource, now, time.Since(begin).Round(100*time.Millisecond))
		if _, err := waitClientARP(ctx, l, "c1", vip, nodeMAC(t, ctx, l, now)); err != nil {
			t.Error(err)
		}
		waitRejoin(t, ctx, l)
	})
	t.Run("reference IPaddr2 crash holder", func(t *testing.T) {
		if out, err := l.Exec(ctx, "n1", "pcs", "resource", "delete", vipResource); err != nil {
			t.Fatalf("delete %s: %v\n%s", vipResource, err, out)
		}
		waitGone(t, ctx, l, vip)
		createVIP(t, ctx, l, "ocf:heartbeat:IPaddr2", vip)
		refSeconds = crashHolder(t, ctx, l, vip, clientNS)
	})

	if gohaSeconds == 0 {
		return
	}
	sc := bench.Scenario{
		Name:   "vip failover: crash holder",
		Metric: "client reaches the VIP again after a power cut of its node (s)",
		Goha:   bench.ScenarioSide{Agent: "ocf:goha:vip", Seconds: []float64{gohaSeconds}},
		Notes:  "3 lab nodes, token 3000 ms, fencing on (fence_goha_lab), monitor 2s; client TCP connect through its neighbour table",
	}
	if refSeconds > 0 {
		sc.Reference = &bench.ScenarioSide{Agent: "ocf:heartbeat:IPaddr2", Seconds: []float64{refSeconds}}
	}
	if err := bench.WriteScenario("results", sc); err != nil {
		t.Error(err)
	}
}

// crashHolder cuts the power of the VIP's node, checks that the cluster
// fences it and starts the VIP elsewhere, that the client reaches the VIP
// and its neighbour entry names the new node's MAC, and waits for the
// crashed node to rejoin. It returns the seconds from the crash until the
// client's TCP connection attempt is answered again.
func crashHolder(t *testing.T, ctx context.Context, l *lab.Lab, vip netip.Addr, clientNS string) float64 {
	t.Helper()
	old := vipHolder(t, ctx, l, "")
	// The client talks to the VIP first, so that its neighbour table holds
	// the old holder's MAC, as a real client's would.
	if err := touch(ctx, clientNS, vip); err != nil {
		t.Fatalf("client cannot reach %s on %s before the crash: %v", vip, old, err)
	}
	if mac := clientNeigh(t, ctx, l, "c1", vip); mac != nodeMAC(t, ctx, l, old) {
		t.Fatalf("client's neighbour entry for %s is %q, want %s's MAC", vip, mac, old)
	}
	other := survivor(t, l, old)
	pid := initPID(t, l, old)

	begin := time.Now()
	if err := l.Crash(ctx, old); err != nil {
		t.Fatal(err)
	}
	reached := make(chan time.Duration, 1)
	go func() {
		// Poll the VIP the way a client program would, through the kernel.
		for ctx.Err() == nil {
			if err := touch(ctx, clientNS, vip); err == nil {
				reached <- time.Since(begin)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		close(reached)
	}()
	waitFenced(t, ctx, l, other, old, pid)
	t.Logf("%s fenced %s after its crash", old, time.Since(begin).Round(100*time.Millisecond))
	now := vipHolder(t, ctx, l, old)
	t.Logf("%s started on %s %s after the crash", vipResource, now, time.Since(begin).Round(100*time.Millisecond))
	d, ok := <-reached
	if !ok {
		t.Fatalf("client never reached %s after the crash of %s", vip, old)
	}
	t.Logf("client reached %s again %s after the crash of %s", vip, d.Round(10*time.Millisecond), old)
	mac := nodeMAC(t, ctx, l, now)
	if got := clientNeigh(t, ctx, l, "c1", vip); got != mac {
		t.Errorf("client's neighbour entry for %s is %q, want %s's MAC %s", vip, got, now, mac)
	}
	if _, err := waitClientARP(ctx, l, "c1", vip, mac); err != nil {
		t.Error(err)
	}
	waitRejoin(t, ctx, l)
	return d.Seconds()
}

// createVIP creates the floating address resource with the given agent.
func createVIP(t *testing.T, ctx context.Context, l *lab.Lab, agent string, vip netip.Addr) {
	t.Helper()
	out, err := l.Exec(ctx, "n1", "pcs", "resource", "create", vipResource, agent,
		"ip="+vip.String(), "cidr_netmask=24", "nic=eth0", "op", "monitor", "interval=2s")
	if err != nil {
		t.Fatalf("create %s (%s): %v\n%s", vipResource, agent, err, out)
	}
}

// vipHolder waits until the VIP is started on a node other than not (any
// node if not is "") and returns that node.
func vipHolder(t *testing.T, ctx context.Context, l *lab.Lab, not string) string {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	last := ""
	for {
		for _, n := range l.Nodes() {
			if n == not {
				continue
			}
			cctx, c := context.WithTimeout(wctx, 10*time.Second)
			v, err := l.View(cctx, n)
			c()
			if err != nil {
				last = err.Error()
				continue
			}
			if w := v.Where[vipResource]; v.Roles[vipResource] == "Started" && w != "" && w != not {
				return w
			}
			last = fmt.Sprintf("%s sees %s %q on %q", n, vipResource, v.Roles[vipResource], v.Where[vipResource])
			break
		}
		select {
		case <-wctx.Done():
			t.Fatalf("%s not started away from %q: %s", vipResource, not, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// waitGone waits until no node has the VIP's address any more.
func waitGone(t *testing.T, ctx context.Context, l *lab.Lab, vip netip.Addr) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		held := ""
		for _, n := range l.Nodes() {
			out, err := l.Exec(ctx, n, "ip", "-o", "addr", "show", "to", vip.String())
			if err == nil && strings.Contains(string(out), vip.String()) {
				held = n
			}
		}
		if held == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still on %s after its resource was deleted", vip, held)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// survivor is a node other than node.
func survivor(t *testing.T, l *lab.Lab, node string) string {
	t.Helper()
	for _, n := range l.Nodes() {
		if n != node {
			return n
		}
	}
	t.Fatalf("no node other than %s", node)
	return ""
}

// initPID is the PID of a node's init, 0 while the node is off.
func initPID(t *testing.T, l *lab.Lab, node string) int {
	t.Helper()
	st, err := l.Status()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range st {
		if n.Name == node {
			return n.PID
		}
	}
	t.Fatalf("no node %s", node)
	return 0
}

// waitFenced waits until node was fenced: the fence agent rebooted it (its
// init is a new process; only the fence agent powers a crashed node on
// here) and from's fencer history records a successful reboot of it.
// Pacemaker's history keeps one line per target, so it cannot tell this
// fencing from an earlier one by itself.
func waitFenced(t *testing.T, ctx context.Context, l *lab.Lab, from, node string, oldPID int) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		pid := initPID(t, l, node)
		out, _ := l.Exec(ctx, from, "stonith_admin", "--history", node)
		if pid != 0 && pid != oldPID && strings.Contains(string(out), "reboot of "+node+" successful") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not fenced (init %d, was %d; history on %s):\n%s", node, pid, oldPID, from, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// waitRejoin waits until every node is back online with quorum.
func waitRejoin(t *testing.T, ctx context.Context, l *lab.Lab) {
	t.Helper()
	begin := time.Now()
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := l.WaitOnline(wctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("all nodes online again after %s more", time.Since(begin).Round(100*time.Millisecond))
}

// nodeMAC is the MAC address of a node's lab interface, lower case.
func nodeMAC(t *testing.T, ctx context.Context, l *lab.Lab, node string) string {
	t.Helper()
	out, err := l.Exec(ctx, node, "ip", "-o", "link", "show", "dev", "eth0")
	if err != nil {
		t.Fatal(err)
	}
	mac := fieldAfter(string(out), "link/ether")
	if mac == "" {
		t.Fatalf("no MAC in %q", out)
	}
	return mac
}

// clientNeigh is the MAC the client's neighbour table holds for vip, or "".
func clientNeigh(t *testing.T, ctx context.Context, l *lab.Lab, client string, vip netip.Addr) string {
	t.Helper()
	out, err := l.Exec(ctx, client, "ip", "neigh", "show", vip.String(), "dev", "eth0")
	if err != nil {
		t.Fatal(err)
	}
	return fieldAfter(string(out), "lladdr")
}

// waitClientARP sends ARP requests for vip from the client until one is
// answered by mac, and returns when that happened.
func waitClientARP(ctx context.Context, l *lab.Lab, client string, vip netip.Addr, mac string) (time.Time, error) {
	deadline := time.Now().Add(30 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		out, _ := l.Exec(ctx, client, "arping", "-c1", "-w1", "-I", "eth0", vip.String())
		if got := arpingMAC(string(out)); got == mac {
			return time.Now(), nil
		} else if got != "" {
			last = "answered by " + got
		}
		if ctx.Err() != nil {
			break
		}
	}
	return time.Time{}, fmt.Errorf("%s not answered by %s over ARP (%s)", vip, mac, last)
}

// arpingMAC is the MAC of the first reply in arping's output, lower case.
func arpingMAC(out string) string {
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, "reply from") {
			continue
		}
		_, rest, ok := strings.Cut(line, "[")
		mac, _, ok2 := strings.Cut(rest, "]")
		if ok && ok2 {
			return strings.ToLower(mac)
		}
	}
	return ""
}

// fieldAfter is the whitespace-separated field after key in s, lower case.
func fieldAfter(s, key string) string {
	f := strings.Fields(s)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == key {
			return strings.ToLower(f[i+1])
		}
	}
	return ""
}

// clientNetNS is the network namespace name of a lab client.
func clientNetNS(t *testing.T, l *lab.Lab, client string) string {
	t.Helper()
	s, err := l.State()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range s.Clients {
		if c.Name == client {
			return c.NetNS
		}
	}
	t.Fatalf("lab has no client %s", client)
	return ""
}

// touch opens a TCP connection to vip from inside the network namespace ns
// (port 9, where nothing listens): a refusal or an accepted connection
// means the VIP's holder answered, a timeout that nobody did. The kernel
// resolves the address through the namespace's neighbour table, as any
// client program's would.
func touch(ctx context.Context, ns string, vip netip.Addr) error {
	c, err := nsnet.Dial(ctx, ns, "tcp", netip.AddrPortFrom(vip, 9).String(), 300*time.Millisecond)
	if err == nil {
		c.Close()
		return nil
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return nil
	}
	return err
}
