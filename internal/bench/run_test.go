package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func burnScript(t *testing.T) Invocation {
	t.Helper()
	path, err := filepath.Abs("testdata/burn.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, prog := range []string{"dd", "readlink"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Skipf("needs %s: %v", prog, err)
		}
	}
	return Invocation{Agent: "burn", Argv: []string{"/bin/sh", path}}
}

func TestRunnerCountsTheTree(t *testing.T) {
	inv := burnScript(t)
	var r Runner
	defer r.Close()
	ctx := context.Background()

	s, out, err := r.Call(ctx, inv, "3") // the script exits with its argument
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != 3 || !strings.HasPrefix(out.Stderr, "net:[") {
		t.Errorf("outcome %+v", out)
	}
	// dd moving 3 GB of zeros costs well over 10 ms of CPU, all of it in a
	// child of the measured process.
	if s.CPU < 10*time.Millisecond || s.Wall < s.CPU/2 || s.MaxRSS <= 0 {
		t.Errorf("sample %+v: children's CPU or RSS missing", s)
	}
	// taskstats sees the subshell, two trues, dd and readlink.
	if s.Forks != 5 || s.Threads != 0 {
		t.Errorf("sample %+v: want 5 forks, no threads", s)
	}

	if _, err := r.Measure(ctx, inv, "0"); err != nil {
		t.Errorf("Measure with expected status: %v", err)
	}
	if _, err := r.Measure(ctx, inv, "7"); err == nil || !strings.Contains(err.Error(), "exited 7, want 0") {
		t.Errorf("Measure with status 7: %v", err)
	}

	if _, err := exec.LookPath("strace"); err != nil {
		t.Skipf("fork counting needs strace: %v", err)
	}
	c, err := r.Trace(ctx, inv, "0")
	if err != nil {
		t.Fatal(err)
	}
	// The subshell, two trues, dd, readlink: dash forks each.
	if c.Forks != 5 || c.Execs != 4 {
		t.Errorf("traced %+v, want 5 forks and 4 execs", c)
	}
}

func TestRunnerReapsOrphans(t *testing.T) {
	inv := burnScript(t)
	inv.Argv[1] = strings.Replace(inv.Argv[1], "burn.sh", "orphan.sh", 1)
	var r Runner
	defer r.Close()
	s, out, err := r.Call(context.Background(), inv, "monitor")
	if err != nil {
		t.Fatal(err)
	}
	// The agent's own subshell exits at once; dd, orphaned, still counts.
	if out.Status != 0 || out.Orphans != 1 || s.CPU < 10*time.Millisecond {
		t.Errorf("outcome %+v, sample %+v: want one orphan and its CPU", out, s)
	}
}

func TestInvocationEnv(t *testing.T) {
	inv := Invocation{Env: MonitorEnv("r", 10*time.Second, 20*time.Second, map[string]string{"nic": "e0", "ip": "1.2.3.4"})}
	with := inv.With("OCF_RESKEY_ip=5.6.7.8", "HA_RSCTMP=/x")
	want := "PATH=/usr/sbin:/usr/bin:/sbin:/bin OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=r " +
		"OCF_RESKEY_CRM_meta_interval=10000 OCF_RESKEY_CRM_meta_timeout=20000 OCF_RESKEY_ip=5.6.7.8 OCF_RESKEY_nic=e0 HA_RSCTMP=/x"
	if got := strings.Join(with.environ(), " "); got != want {
		t.Errorf("environ\n%s\nwant\n%s", got, want)
	}
	if len(inv.Env) != 5 {
		t.Errorf("With changed the original: %v", inv.Env)
	}
}

// needRoot skips tests that create network namespaces.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip (iproute2)")
	}
}

// testVeth creates a namespace with a veth pair for one test and deletes
// it when the test ends, however it ends.
func testVeth(t *testing.T) Veth {
	t.Helper()
	needRoot(t)
	v := Veth{Netns: fmt.Sprintf("goha-bt-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6), Link: "bt0", Peer: "bt1", Prefix: "192.0.2.1/24"}
	if err := v.Create(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := os.Stat(NetnsPath(v.Netns)); err == nil {
			v.Delete(context.Background())
		}
	})
	return v
}

func TestRunnerNetns(t *testing.T) {
	v := testVeth(t)
	inv := burnScript(t)
	inv.Netns = v.Netns
	var r Runner
	defer r.Close()
	var ns statIno
	if err := ns.of(NetnsPath(v.Netns)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // the second call reuses the namespace thread
		_, out, err := r.Call(context.Background(), inv, "0")
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("net:[%d]", ns.ino); strings.TrimSpace(out.Stderr) != want {
			t.Errorf("call %d ran in %q, want %s", i, out.Stderr, want)
		}
	}
	// The harness itself stays in its own namespace.
	self, _ := os.Readlink("/proc/thread-self/ns/net")
	if self == fmt.Sprintf("net:[%d]", ns.ino) {
		t.Errorf("the calling thread is in the test namespace")
	}
	if pids, err := ProcessesIn(v.Netns); err != nil || len(pids) != 0 {
		t.Errorf("ProcessesIn after the calls: %v %v", pids, err)
	}
	if err := WaitIdle(context.Background(), v.Netns, time.Second); err != nil {
		t.Error(err)
	}
}

func TestMeasureDummies(t *testing.T) {
	needRoot(t)
	heartbeat := "/usr/lib/ocf/resource.d/heartbeat/Dummy"
	pacemaker := "/usr/lib/ocf/resource.d/pacemaker/Dummy"
	for _, p := range []string{heartbeat, pacemaker} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("needs resource-agents and pacemaker's agents: %v", err)
		}
	}
	if _, err := exec.LookPath("strace"); err != nil {
		t.Skipf("needs strace: %v", err)
	}
	v := Veth{Netns: fmt.Sprintf("goha-bm-%d", os.Getpid()), Link: "bm0", Peer: "bm1", Prefix: "192.0.2.1/24"}
	t.Cleanup(func() {
		if _, err := os.Stat(NetnsPath(v.Netns)); err == nil {
			t.Errorf("namespace %s left behind", v.Netns)
			v.Delete(context.Background())
		}
	})
	a := Invocation{Agent: "ocf:heartbeat:Dummy", Argv: []string{heartbeat}, Netns: v.Netns,
		Env: MonitorEnv("bench-a", MonitorInterval, MonitorTimeout, nil)}
	b := Invocation{Agent: "ocf:pacemaker:Dummy", Argv: []string{pacemaker}, Netns: v.Netns,
		Env: MonitorEnv("bench-b", MonitorInterval, MonitorTimeout, nil)}
	var rsctmp string
	setup := StartInVeth(v, a, b)
	c := Case{Name: "dummy", Goha: a, Reference: b,
		Setup: func(ctx context.Context) ([]string, func(), error) {
			env, cleanup, err := setup(ctx)
			for _, kv := range env {
				if d, ok := strings.CutPrefix(kv, "HA_RSCTMP="); ok {
					rsctmp = d
				}
			}
			return env, cleanup, err
		}}
	var log strings.Builder
	res, err := Measure(context.Background(), c, Options{Calls: 6, Warmup: 2, Traced: 2, Log: &log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	for _, ar := range []AgentResult{res.Goha, res.Reference} {
		if ar.Calls != 6 || ar.WallP50 <= 0 || ar.WallP99 < ar.WallP50 || ar.CPU <= 0 || ar.MaxRSS <= 0 || ar.Procs.Traced != 2 {
			t.Errorf("%s: %+v", ar.Agent, ar.Summary)
		}
	}
	// The shell Dummy forks on every monitor (basename, subshells).
	if res.Goha.Agent != "ocf:heartbeat:Dummy" || res.Goha.Procs.ForksMin == 0 {
		t.Errorf("heartbeat Dummy: %+v", res.Goha)
	}
	if rsctmp == "" {
		t.Fatal("setup gave no HA_RSCTMP")
	}
	if _, err := os.Stat(rsctmp); !os.IsNotExist(err) {
		t.Errorf("HA_RSCTMP %s left behind: %v", rsctmp, err)
	}
	if !strings.Contains(log.String(), "dummy: 6/6 calls") {
		t.Errorf("progress log:\n%s", log.String())
	}
}
