package garbd

// Component test: the agent binary against a real single-node MariaDB
// Galera cluster that the test bootstraps on loopback in a temporary
// directory, and a real garbd. It needs root, mariadbd, the Galera
// provider, the mariadb client and garbd; without them it skips and says
// why. Every process it starts it ends by pid.

import (
	"github.com/goha-ha/goha/internal/agenttest"
	"github.com/goha-ha/goha/internal/testbuild"

	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const galeraProvider = "/usr/lib/galera/libgalera_smm.so"

func requireGalera(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("component test: skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("component test: needs root to run mariadbd and garbd as other users")
	}
	for _, prog := range []string{"/usr/sbin/mariadbd", "/usr/bin/mariadb-install-db", "/usr/bin/mariadb", "/usr/bin/garbd", galeraProvider} {
		if _, err := os.Stat(prog); err != nil {
			t.Skipf("component test: needs %s (mariadb-server, galera-4, galera-arbitrator-4): %v", prog, err)
		}
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	agent.Remove()
	os.Exit(code)
}

// agent is the agent alone (agents/garbd/internal/garbdcmd), built once per run, so the
// test does not depend on the agent being registered in cmd/goha.
var agent = &testbuild.Once{Name: "garbd", Pkg: "./agents/garbd/internal/garbdcmd"}

func agentBinary(t *testing.T) string { return agent.Path(t) }

// freePort returns a loopback TCP port nobody listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// galeraNode is one mariadbd bootstrapped as a new cluster.
type galeraNode struct {
	dir, socket string
	gcommPort   int
	cluster     string
	cmd         *exec.Cmd
}

func startGaleraNode(t *testing.T, dir, cluster string) *galeraNode {
	t.Helper()
	n := &galeraNode{dir: dir, socket: filepath.Join(dir, "mysqld.sock"), gcommPort: freePort(t), cluster: cluster}
	data := filepath.Join(dir, "data")
	install := exec.Command("/usr/bin/mariadb-install-db", "--no-defaults", "--datadir="+data, "--tmpdir="+dir, "--user=root",
		"--auth-root-authentication-method=socket", "--skip-test-db")
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	logFile, err := os.Create(filepath.Join(dir, "mariadbd.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	n.cmd = exec.Command("/usr/sbin/mariadbd", "--no-defaults", "--datadir="+data, "--tmpdir="+dir, "--socket="+n.socket,
		"--port="+strconv.Itoa(freePort(t)), "--bind-address=127.0.0.1", "--user=root",
		"--pid-file="+filepath.Join(dir, "mariadbd.pid"), "--log-error="+filepath.Join(dir, "mariadbd.err"),
		"--wsrep-on=ON", "--wsrep-provider="+galeraProvider, "--wsrep-cluster-address=gcomm://",
		"--wsrep-new-cluster", "--wsrep-cluster-name="+cluster,
		fmt.Sprintf("--wsrep-provider-options=gmcast.listen_addr=tcp://127.0.0.1:%d", n.gcommPort),
		"--binlog-format=ROW", "--innodb-buffer-pool-size=32M")
	n.cmd.Stdout, n.cmd.Stderr = logFile, logFile
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("start mariadbd: %v", err)
	}
	t.Cleanup(n.kill)
	n.waitStatus(t, "wsrep_cluster_size", "1", 90*time.Second)
	return n
}

// kill ends the test's mariadbd by pid: SIGTERM, then SIGKILL.
func (n *galeraNode) kill() {
	p := n.cmd.Process
	p.Signal(syscall.SIGCONT) // in case a test left it stopped
	p.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { n.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		p.Kill()
		<-done
	}
}

// status reads one status variable through the mariadb client.
func (n *galeraNode) status(name string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "/usr/bin/mariadb", "--no-defaults", "-S", n.socket, "-u", "root", "-N", "-B",
		"-e", "SHOW GLOBAL STATUS LIKE '"+name+"'").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("mariadb: %v: %s", err, out)
	}
	_, v, _ := strings.Cut(strings.TrimSpace(string(out)), "\t")
	return v, nil
}

func (n *galeraNode) waitStatus(t *testing.T, name, want string, within time.Duration) {
	t.Helper()
	var got string
	var err error
	for end := time.Now().Add(within); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if got, err = n.status(name); err == nil && got == want {
			return
		}
	}
	errLog, _ := os.ReadFile(filepath.Join(n.dir, "mariadbd.err"))
	t.Fatalf("%s is %q (%v), want %q after %s\nmariadbd.err tail:\n%s", name, got, err, want, within, tail(string(errLog), 2000))
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// resource is one garbd resource of the test: its parameters and files.
type resource struct {
	dir    string
	params []string // NAME=VALUE
}

func (res *resource) run(t *testing.T, action string, extra ...string) agenttest.Result {
	t.Helper()
	env := agenttest.Env(res.dir, "arb", append(append([]string{}, res.params...), extra...)...)
	return agenttest.Run(t, 120*time.Second, env, agentBinary(t), action)
}

// garbdsOf lists the live garbd processes with this address and cluster.
func garbdsOf(t *testing.T, address, cluster string) []int {
	t.Helper()
	c := Config{Binary: "/usr/bin/garbd", Address: address, Cluster: cluster}
	pids, err := host{}.Find(c.IsOurs)
	if err != nil {
		t.Fatal(err)
	}
	return pids
}

// killGarbds ends, by pid, any garbd the test's agent left behind.
func killGarbds(t *testing.T, address, cluster string) {
	for _, pid := range garbdsOf(t, address, cluster) {
		t.Errorf("garbd pid %d was left running; killing it", pid)
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

func TestComponentGarbd(t *testing.T) {
	requireGalera(t)
	agentBinary(t)
	// garbd runs as nobody and must reach its working directory below
	// dir, which t.TempDir would make unreachable (mode 0700).
	dir, err := os.MkdirTemp("", "goha-garbd-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	notExecutable := filepath.Join(dir, "not-executable")
	if err := os.WriteFile(notExecutable, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cluster := fmt.Sprintf("goha_test_%d", os.Getpid())
	node := startGaleraNode(t, dir, cluster)
	address := fmt.Sprintf("gcomm://127.0.0.1:%d", node.gcommPort)
	t.Cleanup(func() { killGarbds(t, address, cluster) })

	res := &resource{dir: dir, params: []string{
		"wsrep_cluster_address=" + address,
		"wsrep_cluster_name=" + cluster,
		fmt.Sprintf("options=gmcast.listen_addr=tcp://127.0.0.1:%d", freePort(t)),
		"log=" + filepath.Join(dir, "garbd.log"),
	}}
	recurring := "OCF_RESKEY_CRM_meta_interval=20000"
	pidFile := filepath.Join(dir, "garbd-arb.pid")

	t.Run("validate-all", func(t *testing.T) {
		agenttest.Expect(t, "validate-all", res.run(t, "validate-all"), 0, "")
		agenttest.Expect(t, "validate-all without a node", res.run(t, "validate-all", "wsrep_cluster_address=gcomm://"), 6, "names no node")
		agenttest.Expect(t, "validate-all with a bad port", res.run(t, "validate-all", "wsrep_cluster_address=gcomm://127.0.0.1:99999"), 6, "not 1 to 65535")
		agenttest.Expect(t, "validate-all without the program", res.run(t, "validate-all", "binary=/nonexistent/garbd"), 5, "does not exist")
		agenttest.Expect(t, "validate-all with a non-executable", res.run(t, "validate-all", "binary="+notExecutable), 5, "not an executable")
		agenttest.Expect(t, "validate-all with an unknown user", res.run(t, "validate-all", "user=goha-no-such-user"), 5, "no user")
	})

	t.Run("start-monitor-stop", func(t *testing.T) {
		agenttest.Expect(t, "probe before start", res.run(t, "monitor"), 7, "")
		agenttest.Expect(t, "start", res.run(t, "start"), 0, "")
		node.waitStatus(t, "wsrep_cluster_size", "2", 10*time.Second)
		pids := garbdsOf(t, address, cluster)
		if len(pids) != 1 {
			t.Fatalf("garbd processes after start: %v, want one", pids)
		}
		if raw, _ := os.ReadFile(pidFile); strings.TrimSpace(string(raw)) != strconv.Itoa(pids[0]) {
			t.Fatalf("pid file says %q, garbd is %d", raw, pids[0])
		}
		if st, err := os.Stat(fmt.Sprintf("/proc/%d", pids[0])); err != nil || st.Sys().(*syscall.Stat_t).Uid == 0 {
			t.Errorf("garbd runs as root or is gone: %v", err)
		}
		agenttest.Expect(t, "monitor", res.run(t, "monitor", recurring), 0, "")
		agenttest.Expect(t, "probe", res.run(t, "monitor"), 0, "")
		agenttest.Expect(t, "second start", res.run(t, "start"), 0, "")
		if again := garbdsOf(t, address, cluster); len(again) != 1 || again[0] != pids[0] {
			t.Fatalf("second start changed garbd: %v, was %v", again, pids)
		}
		agenttest.Expect(t, "stop", res.run(t, "stop"), 0, "")
		if left := garbdsOf(t, address, cluster); len(left) != 0 {
			t.Fatalf("garbd still runs after stop: %v", left)
		}
		node.waitStatus(t, "wsrep_cluster_size", "1", 10*time.Second)
		agenttest.Expect(t, "monitor after stop", res.run(t, "monitor", recurring), 7, "not running")
		agenttest.Expect(t, "probe after stop", res.run(t, "monitor"), 7, "")
		agenttest.Expect(t, "second stop", res.run(t, "stop"), 0, "")
	})

	t.Run("lost-pid-file", func(t *testing.T) {
		agenttest.Expect(t, "start", res.run(t, "start"), 0, "")
		if err := os.Remove(pidFile); err != nil {
			t.Fatal(err)
		}
		agenttest.Expect(t, "probe finds garbd without its pid file", res.run(t, "monitor"), 0, "")
		r := res.run(t, "stop")
		agenttest.Expect(t, "stop", r, 0, "")
		if left := garbdsOf(t, address, cluster); len(left) != 0 {
			t.Fatalf("stop left garbd %v without pid file: %v", left, r)
		}
		node.waitStatus(t, "wsrep_cluster_size", "1", 10*time.Second)
	})

	t.Run("garbd-killed", func(t *testing.T) {
		agenttest.Expect(t, "start", res.run(t, "start"), 0, "")
		pids := garbdsOf(t, address, cluster)
		if len(pids) != 1 {
			t.Fatalf("garbd processes: %v", pids)
		}
		syscall.Kill(pids[0], syscall.SIGKILL)
		waitGone(t, pids[0])
		agenttest.Expect(t, "monitor after kill -9", res.run(t, "monitor", recurring), 7, "is not running")
		agenttest.Expect(t, "stop after kill -9", res.run(t, "stop"), 0, "")
	})

	t.Run("non-primary", func(t *testing.T) {
		agenttest.Expect(t, "start", res.run(t, "start"), 0, "")
		defer res.run(t, "stop")
		// A stopped node stops answering: garbd alone is no longer Primary.
		node.cmd.Process.Signal(syscall.SIGSTOP)
		stopped := true
		defer func() {
			if stopped {
				node.cmd.Process.Signal(syscall.SIGCONT)
			}
		}()
		r := pollAgent(t, res, 30*time.Second, 1, recurring)
		agenttest.Expect(t, "monitor of an arbitrator that lost the cluster", r, 1, "non-Primary component")
		if left := garbdsOf(t, address, cluster); len(left) != 1 {
			t.Fatalf("garbd exited when it lost the cluster: %v", left)
		}
		node.cmd.Process.Signal(syscall.SIGCONT)
		stopped = false
		agenttest.Expect(t, "monitor after the node is back", pollAgent(t, res, 60*time.Second, 0, recurring), 0, "")
		node.waitStatus(t, "wsrep_cluster_size", "2", 10*time.Second)
	})

	t.Run("start-fails", func(t *testing.T) {
		r := res.run(t, "start", "wsrep_cluster_name=goha_wrong_name", "OCF_RESKEY_CRM_meta_timeout=6000")
		agenttest.Expect(t, "start with another cluster's name", r, 1, "did not join a Primary component")
		if left := garbdsOf(t, address, "goha_wrong_name"); len(left) != 0 {
			t.Fatalf("a failed start left garbd %v", left)
		}
		busy, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer busy.Close()
		r = res.run(t, "start", "options=gmcast.listen_addr=tcp://"+busy.Addr().String())
		agenttest.Expect(t, "start on a port in use", r, 1, "garbd exited with status 1 before joining")
		// garbd 26.4.23 usually says "Address already in use" here, but
		// sometimes trips over its own threads first ("Failed to read
		// thread schedparams"): the agent must pass on whichever it logged.
		agenttest.Expect(t, "start on a port in use", r, 1, ": failed to open gcomm backend connection: ")
		r = res.run(t, "start", "additional_parameters=--cfg "+filepath.Join(dir, "missing.cnf"))
		agenttest.Expect(t, "start with a missing --cfg file", r, 1, "Failed to open configuration file")
		dead := fmt.Sprintf("gcomm://127.0.0.1:%d", freePort(t))
		r = res.run(t, "start", "wsrep_cluster_address="+dead, "OCF_RESKEY_CRM_meta_timeout=6000")
		agenttest.Expect(t, "start against a port nobody listens on", r, 1, "Connection refused")
		if left := garbdsOf(t, dead, cluster); len(left) != 0 {
			t.Fatalf("a failed start left garbd %v", left)
		}
	})

	t.Run("ocf-tester", func(t *testing.T) {
		tester, err := exec.LookPath("ocf-tester")
		if err != nil {
			t.Skip("ocf-tester (resource-agents) is not installed")
		}
		args := []string{"-n", "garbd"}
		for _, p := range append(res.params, "pid="+filepath.Join(dir, "tester.pid"), "workdir="+filepath.Join(dir, "tester")) {
			args = append(args, "-o", p)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, tester, append(args, agentBinary(t))...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "passed all tests") {
			t.Errorf("ocf-tester: %v\n%s", err, out)
		}
		if left := garbdsOf(t, address, cluster); len(left) != 0 {
			t.Errorf("ocf-tester left garbd %v", left)
		}
		node.waitStatus(t, "wsrep_cluster_size", "1", 10*time.Second)
	})
}

// pollAgent runs monitor until it exits with rc or within passes.
func pollAgent(t *testing.T, res *resource, within time.Duration, rc int, extra ...string) agenttest.Result {
	t.Helper()
	var r agenttest.Result
	for end := time.Now().Add(within); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		if r = res.run(t, "monitor", extra...); r.RC == rc {
			break
		}
	}
	return r
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if _, err := (host{}).Cmdline(pid); err == errGone {
			return
		}
	}
	t.Fatalf("pid %d did not go away", pid)
}
