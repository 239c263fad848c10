package e2e

import (
	"github.com/goha-ha/goha/internal/testbuild"

	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goha-ha/goha/internal/lab"
)

// labNeeds skips the test unless it can run a lab: root and the cluster
// stack's programs.
func labNeeds(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("a lab takes minutes: skipped in -short mode (make e2e runs it)")
	}
	if os.Geteuid() != 0 {
		t.Skip("the lab needs root (namespaces, veths, cgroups)")
	}
	var missing []string
	for _, p := range []string{"corosync", "pacemakerd", "crm_mon", "stonith_admin", "nsenter", "nft"} {
		if _, err := exec.LookPath(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		t.Skipf("the lab needs %s (make deps installs them)", strings.Join(missing, ", "))
	}
}

// labBinary builds goha from this tree into a temporary directory.
func labBinary(t *testing.T) string {
	t.Helper()
	bin, err := testbuild.Main(t.TempDir(), "goha", "./cmd/goha")
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// startLab brings a lab up for the test and removes it when the test ends,
// failed or not. The lab's name is unique to this test process.
func startLab(t *testing.T, cfg lab.Config) *lab.Lab {
	t.Helper()
	labNeeds(t)
	if cfg.Binary == "" {
		cfg.Binary = labBinary(t)
	}
	if cfg.Name == "" {
		cfg.Name = fmt.Sprintf("e2e%d-%d", os.Getpid()%1000000, cfg.Nodes)
	}
	if cfg.Logf == nil {
		cfg.Logf = t.Logf
	}
	holdLabTurn(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	l, err := lab.Up(ctx, cfg)
	if err != nil {
		t.Fatalf("lab up: %v", err)
	}
	t.Cleanup(func() {
		if _, err := l.State(); err != nil {
			return // already down
		}
		if err := l.Down(context.Background()); err != nil {
			t.Errorf("lab down: %v", err)
		}
	})
	t.Logf("lab %s: %d nodes up in %s", cfg.Name, cfg.Nodes, time.Since(start).Round(100*time.Millisecond))
	return l
}

// holdLabTurn waits until no other test process on this machine runs labs
// (lab.TakeTurn) and says so when it had to wait.
func holdLabTurn(t testing.TB) {
	t.Helper()
	waited, err := lab.TakeTurn()
	if err != nil {
		t.Fatal(err)
	}
	if waited > time.Second {
		t.Logf("waited %s for another test process's labs to end", waited.Round(time.Second))
	}
}

// checkNoLeak fails unless everything of the lab recorded in st is gone:
// namespaces, links, mounts, cgroups, directories, and processes (those in
// the nodes' PID namespaces, and any naming the lab's directories).
func checkNoLeak(t *testing.T, st *lab.State) {
	t.Helper()
	run := func(argv ...string) string {
		out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", argv, err, out)
		}
		return string(out)
	}
	netns := run("ip", "netns", "list")
	links := run("ip", "-o", "link", "show")
	mounts := run("findmnt", "-rn", "-o", "TARGET,SOURCE,FSTYPE")
	pidns := map[string]string{}
	for _, n := range st.Nodes {
		if strings.Contains(netns, n.NetNS) {
			t.Errorf("netns %s left", n.NetNS)
		}
		if strings.Contains(links, " "+n.Veth+"@") || strings.Contains(links, " "+n.Veth+":") {
			t.Errorf("veth %s left", n.Veth)
		}
		if n.Init != nil {
			pidns[n.Init.PidNS] = n.Name
		}
	}
	for _, c := range st.Clients {
		if strings.Contains(netns, c.NetNS) {
			t.Errorf("client netns %s left", c.NetNS)
		}
		if strings.Contains(links, " "+c.Veth+"@") {
			t.Errorf("client veth %s left", c.Veth)
		}
	}
	if strings.Contains(links, " "+st.Bridge+":") {
		t.Errorf("bridge %s left", st.Bridge)
	}
	for _, l := range strings.Split(mounts, "\n") {
		if strings.Contains(l, "goha-"+st.Name+"-") || strings.Contains(l, st.RunDir) || strings.Contains(l, st.DataDir) {
			t.Errorf("mount left: %s", l)
		}
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		dir := filepath.Join("/proc", e.Name())
		cmdline, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
		cmd := strings.ReplaceAll(string(cmdline), "\x00", " ")
		if ns, err := os.Readlink(filepath.Join(dir, "ns", "pid")); err == nil && pidns[ns] != "" {
			t.Errorf("process %s left in %s: %s", e.Name(), pidns[ns], cmd)
		} else if strings.Contains(cmd, st.RunDir) || strings.Contains(cmd, st.DataDir) {
			t.Errorf("process %s left: %s", e.Name(), cmd)
		}
	}
	for _, p := range []string{st.RunDir, st.DataDir, st.Cgroup2, st.CgroupMem} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s left", p)
		}
	}
}

// TestLab brings up a 3-node lab with fencing, checks it is online with
// quorum within 60 s and its memory, fences a node through Pacemaker and
// watches it rejoin, crashes a node and watches the cluster fence it back,
// then takes the lab down and checks nothing is left.
func TestLab(t *testing.T) {
	labNeeds(t)
	start := time.Now()
	l := startLab(t, lab.Config{Nodes: 3, OnlineTimeout: 60 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	t.Run("online", func(t *testing.T) {
		out, err := l.Exec(ctx, "n1", "crm_mon", "-1")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"Online: [ n1 n2 n3 ]", "partition with quorum", lab.FenceResourceID} {
			if !strings.Contains(string(out), want) {
				t.Errorf("crm_mon lacks %q:\n%s", want, out)
			}
		}
		if d := time.Since(start); d > 90*time.Second {
			t.Errorf("online with quorum after %s, want < 60s (plus the build)", d)
		}
		t.Logf("online with quorum %s after the test started (build included)", time.Since(start).Round(100*time.Millisecond))
		host, err := l.Exec(ctx, "n2", "hostname")
		if err != nil || strings.TrimSpace(string(host)) != "n2" {
			t.Errorf("hostname on n2 = %q, %v", host, err)
		}
	})

	t.Run("memory", func(t *testing.T) {
		mem, err := l.Memory()
		if err != nil {
			t.Fatal(err)
		}
		var pss, cg uint64
		for _, m := range mem {
			pss += m.PSS
			cg += m.Cgroup
			t.Logf("%s: %d processes, PSS %d MiB, cgroup %d MiB", m.Node, m.Procs, m.PSS>>20, m.Cgroup>>20)
		}
		t.Logf("3 idle nodes: PSS %d MiB, cgroup %d MiB", pss>>20, cg>>20)
		if pss > 3<<29 || cg > 3<<29 {
			t.Errorf("3 idle nodes use PSS %d MiB / cgroup %d MiB, want < 1536 MiB", pss>>20, cg>>20)
		}
	})

	t.Run("stonith_admin reboot", func(t *testing.T) {
		st, err := l.Status()
		if err != nil {
			t.Fatal(err)
		}
		oldPID := st[1].PID
		begin := time.Now()
		if out, err := l.Exec(ctx, "n1", "stonith_admin", "--reboot", "n2", "--timeout", "60"); err != nil {
			t.Fatalf("fence n2: %v\n%s", err, out)
		}
		t.Logf("stonith_admin --reboot n2 returned after %s", time.Since(begin).Round(100*time.Millisecond))
		st, err = l.Status()
		if err != nil {
			t.Fatal(err)
		}
		if !st[1].On || st[1].PID == oldPID {
			t.Fatalf("n2 not rebooted: %+v (old init %d)", st[1], oldPID)
		}
		wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		defer cancel()
		if err := l.WaitOnline(wctx); err != nil {
			t.Fatal(err)
		}
		t.Logf("n2 rejoined %s after the fence request", time.Since(begin).Round(100*time.Millisecond))
	})

	t.Run("crash is fenced", func(t *testing.T) {
		// What the kernel holds goes with the power: an address an agent
		// added and an nftables table of its own, but not the node's own
		// address.
		vip, err := l.VIP(9)
		if err != nil {
			t.Fatal(err)
		}
		for _, argv := range [][]string{
			{"ip", "addr", "add", vip.String() + "/24", "dev", "eth0"},
			{"nft", "add", "table", "inet", "agent_table"},
		} {
			if out, err := l.Exec(ctx, "n3", argv...); err != nil {
				t.Fatalf("%v on n3: %v\n%s", argv, err, out)
			}
		}
		begin := time.Now()
		if err := l.Crash(ctx, "n3"); err != nil {
			t.Fatal(err)
		}
		ns := ""
		if st, err := l.State(); err == nil {
			for _, n := range st.Nodes {
				if n.Name == "n3" {
					ns = "--net=/run/netns/" + n.NetNS
				}
			}
		}
		own, err := l.Addr("n3")
		if err != nil {
			t.Fatal(err)
		}
		addrs, err := exec.Command("nsenter", ns, "--", "ip", "-o", "addr", "show", "dev", "eth0").CombinedOutput()
		if err != nil {
			t.Fatalf("addresses of crashed n3: %v\n%s", err, addrs)
		}
		if strings.Contains(string(addrs), vip.String()+"/") || !strings.Contains(string(addrs), own.String()+"/") {
			t.Errorf("crashed n3 should keep only its own address %s, not %s:\n%s", own, vip, addrs)
		}
		if tables, err := exec.Command("nsenter", ns, "--", "nft", "list", "tables").CombinedOutput(); err != nil || strings.Contains(string(tables), "agent_table") {
			t.Errorf("crashed n3 kept an agent's nftables table (%v):\n%s", err, tables)
		}
		// The survivors notice, keep quorum, fence n3 (reboot), and n3
		// boots and rejoins.
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		for {
			out, err := l.Exec(wctx, "n1", "stonith_admin", "--history", "n3")
			if err == nil && strings.Contains(string(out), "reboot of n3 successful") {
				break
			}
			if wctx.Err() != nil {
				t.Fatalf("n3 not fenced after its crash: %s %v", out, err)
			}
			time.Sleep(time.Second)
		}
		t.Logf("n3 fenced %s after its crash", time.Since(begin).Round(100*time.Millisecond))
		if err := l.WaitOnline(wctx); err != nil {
			t.Fatal(err)
		}
		t.Logf("n3 back online %s after its crash", time.Since(begin).Round(100*time.Millisecond))
	})

	t.Run("down leaves nothing", func(t *testing.T) {
		st, err := l.State()
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Down(ctx); err != nil {
			t.Fatal(err)
		}
		checkNoLeak(t, st)
	})
}

// TestLabFaults drives the fault injectors on a 2-node lab without
// fencing: clean stop and start, kill of one daemon, freeze and thaw, a
// partition and its healing, and a client namespace.
func TestLabFaults(t *testing.T) {
	labNeeds(t)
	l := startLab(t, lab.Config{Nodes: 2, NoFencing: true, OnlineTimeout: 60 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	wait := func(t *testing.T, nodes ...string) {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		defer cancel()
		if err := l.WaitOnline(wctx, nodes...); err != nil {
			t.Fatal(err)
		}
	}
	stack := func(t *testing.T, node string) lab.NodeStatus {
		t.Helper()
		st, err := l.Status()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range st {
			if s.Name == node {
				return s
			}
		}
		t.Fatalf("no node %s", node)
		return lab.NodeStatus{}
	}

	t.Run("two_node", func(t *testing.T) {
		out, err := l.Exec(ctx, "n1", "corosync-quorumtool", "-s")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), "2Node") {
			t.Errorf("quorum flags lack 2Node:\n%s", out)
		}
	})

	t.Run("stop and start", func(t *testing.T) {
		if err := l.Stop(ctx, "n2"); err != nil {
			t.Fatal(err)
		}
		if s := stack(t, "n2"); !s.On || s.Stack != lab.StackStopped {
			t.Fatalf("after stop: %+v", s)
		}
		if _, err := l.Kill(ctx, "n2", "corosync"); err == nil {
			t.Error("corosync still runs on a stopped node")
		}
		if err := l.Start(ctx, "n2"); err != nil {
			t.Fatal(err)
		}
		wait(t)
	})

	t.Run("kill one daemon", func(t *testing.T) {
		pgrep := func() string {
			out, _ := l.Exec(ctx, "n1", "pgrep", "-x", "pacemaker-execd")
			return strings.TrimSpace(string(out))
		}
		old := pgrep()
		n, err := l.Kill(ctx, "n1", "pacemaker-execd")
		if err != nil || n != 1 {
			t.Fatalf("kill pacemaker-execd on n1: %d, %v", n, err)
		}
		// pacemakerd respawns its subdaemons.
		deadline := time.Now().Add(30 * time.Second)
		for {
			if now := pgrep(); now != "" && now != old {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("pacemaker-execd (pid %s in n1) not respawned", old)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if s := stack(t, "n2"); s.Stack != lab.StackRunning {
			t.Errorf("n2 touched by a kill on n1: %+v", s)
		}
	})

	t.Run("freeze and thaw", func(t *testing.T) {
		if err := l.Freeze(ctx, "n2"); err != nil {
			t.Fatal(err)
		}
		if s := stack(t, "n2"); !s.Frozen {
			t.Errorf("n2 not frozen: %+v", s)
		}
		if err := l.Thaw(ctx, "n2"); err != nil {
			t.Fatal(err)
		}
		if s := stack(t, "n2"); s.Frozen {
			t.Errorf("n2 still frozen: %+v", s)
		}
		wait(t)
	})

	t.Run("partition and heal", func(t *testing.T) {
		if err := l.Partition(ctx, []string{"n1"}); err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		for {
			v, err := l.View(wctx, "n1")
			if err == nil && len(v.Online) == 1 && v.Online[0] == "n1" {
				break
			}
			if wctx.Err() != nil {
				t.Fatalf("n1 still sees %v after the partition (%v)", v.Online, err)
			}
			time.Sleep(time.Second)
		}
		if err := l.Heal(ctx); err != nil {
			t.Fatal(err)
		}
		wait(t)
	})

	t.Run("client", func(t *testing.T) {
		addr, err := l.Client(ctx, "c1")
		if err != nil {
			t.Fatal(err)
		}
		out, err := l.Exec(ctx, "c1", "ip", "-o", "-4", "addr", "show", "eth0")
		if err != nil || !strings.Contains(string(out), addr.String()+"/24") {
			t.Errorf("client address %s not on its eth0: %s %v", addr, out, err)
		}
		hosts, err := l.Exec(ctx, "n1", "cat", "/etc/hosts")
		if err != nil || !strings.Contains(string(hosts), addr.String()+"\tc1") {
			t.Errorf("n1's /etc/hosts lacks c1: %s %v", hosts, err)
		}
	})

	t.Run("down leaves nothing", func(t *testing.T) {
		st, err := l.State()
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Down(ctx); err != nil {
			t.Fatal(err)
		}
		checkNoLeak(t, st)
	})
}
