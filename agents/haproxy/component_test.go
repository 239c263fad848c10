package haproxy

// Component test: the agent binary against the real /usr/sbin/haproxy on
// loopback, with free ports, its files in temporary directories, and tiny
// Go TCP servers as backends. It needs root and haproxy; without them it
// skips and says why. Every haproxy it leaves behind is killed by pid.

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goha-ha/goha/internal/agenttest"

	"github.com/goha-ha/goha/internal/loadgen"
	"github.com/goha-ha/goha/internal/testbuild"
)

const haproxyProgram = "/usr/sbin/haproxy"

func requireHAProxy(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("component test: skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("component test: needs root (the agent writes its run files and reads every process in /proc)")
	}
	if _, err := os.Stat(haproxyProgram); err != nil {
		t.Skipf("component test: needs %s (apt-get install haproxy): %v", haproxyProgram, err)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	agent.Remove()
	os.Exit(code)
}

// agent is the agent alone (agents/haproxy/internal/haproxycmd), built once per run, so the
// test does not depend on the agent being registered in cmd/goha.
var agent = &testbuild.Once{Name: "haproxy", Pkg: "./agents/haproxy/internal/haproxycmd"}

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

// echoServer is a backend that echoes what it reads; it ends with the test.
func echoServer(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				io.Copy(c, c)
			}()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

// lab is one haproxy resource of a test: its configuration and files.
type lab struct {
	dir      string
	cfg      string
	resource string
	params   []string // NAME=VALUE
	// front serves the live backend, deadFront the backend whose only
	// server does not listen.
	front, deadFront, live, dead int
}

func newLab(t *testing.T) *lab {
	t.Helper()
	dir := t.TempDir()
	l := &lab{
		dir:       dir,
		cfg:       filepath.Join(dir, "haproxy.cfg"),
		resource:  fmt.Sprintf("hx%d-%d", os.Getpid(), time.Now().UnixNano()%1e6),
		front:     freePort(t),
		deadFront: freePort(t),
		live:      echoServer(t),
		dead:      freePort(t),
	}
	l.params = []string{
		"config=" + l.cfg,
		"pidfile=" + filepath.Join(dir, "haproxy.pid"),
		"master_socket=" + filepath.Join(dir, "master.sock"),
	}
	l.writeConfig(t, "")
	t.Cleanup(func() { killLeftovers(t, l.cfg) })
	return l
}

// writeConfig writes a configuration with both frontends; extra is
// appended (a way to break it).
func (l *lab) writeConfig(t *testing.T, extra string) {
	t.Helper()
	cfg := fmt.Sprintf(`global
    maxconn 500
defaults
    mode tcp
    timeout connect 2s
    timeout client 60s
    timeout server 60s
frontend front
    bind 127.0.0.1:%d
    default_backend live
listen dead_front
    bind 127.0.0.1:%d
    server only 127.0.0.1:%d check inter 200 fall 1 rise 1
backend live
    server echo 127.0.0.1:%d check inter 200 fall 2 rise 1
%s`, l.front, l.deadFront, l.dead, l.live, extra)
	if err := os.WriteFile(l.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (l *lab) run(t *testing.T, action string, extra ...string) agenttest.Result {
	t.Helper()
	env := agenttest.Env(l.dir, l.resource, append(append([]string{}, l.params...), extra...)...)
	return agenttest.Run(t, 120*time.Second, env, agentBinary(t), action)
}

const recurring = "OCF_RESKEY_CRM_meta_interval=10000"

// haproxysOf lists the live processes whose command line names cfg.
func haproxysOf(t *testing.T, cfg string) []int {
	t.Helper()
	found, err := host{}.Find(func(argv []string) bool {
		for _, a := range argv {
			if a == cfg {
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, p := range found {
		pids = append(pids, p.Pid)
	}
	return pids
}

// killLeftovers ends, by pid, any haproxy of cfg the test left behind.
func killLeftovers(t *testing.T, cfg string) {
	for _, pid := range haproxysOf(t, cfg) {
		t.Errorf("haproxy pid %d was left running; killing it", pid)
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

func (l *lab) pid(t *testing.T) int {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(l.dir, "haproxy.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// workers asks the master for its current workers.
func (l *lab) procs(t *testing.T) ProcTable {
	t.Helper()
	out, err := host{}.Query(context.Background(), filepath.Join(l.dir, "master.sock"), "show proc")
	if err != nil {
		t.Fatal(err)
	}
	p, err := parseShowProc(out)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func waitGone(t *testing.T, pids ...int) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		left := 0
		for _, pid := range pids {
			if _, err := (host{}).Cmdline(pid); err != errGone {
				left++
			}
		}
		if left == 0 {
			return
		}
	}
	t.Fatalf("pids %v did not go away", pids)
}

// exchange makes one connection through addr and checks the echo.
func exchange(addr string) error {
	return loadgen.TCPEcho(addr, 5*time.Second)(context.Background())
}

// startLoad starts clients connecting back to back through addr, each
// connection checking the echo, until the load is stopped.
func startLoad(addr string, clients int) *loadgen.Load {
	return loadgen.Start(clients, loadgen.TCPEcho(addr, 5*time.Second))
}

func TestComponentHAProxy(t *testing.T) {
	requireHAProxy(t)
	agentBinary(t)

	t.Run("validate-and-bad-config", func(t *testing.T) {
		l := newLab(t)
		agenttest.Expect(t, "validate-all", l.run(t, "validate-all"), 0, "")
		agenttest.Expect(t, "validate-all without the program", l.run(t, "validate-all", "binary=/nonexistent/haproxy"), 5, "does not exist")
		agenttest.Expect(t, "validate-all without the file", l.run(t, "validate-all", "config="+filepath.Join(l.dir, "none.cfg")), 5, "does not exist")
		agenttest.Expect(t, "validate-all with an unknown backend", l.run(t, "validate-all", "required_backends=live nope"), 6, `no backend or listen section "nope"`)
		agenttest.Expect(t, "validate-all with a relative path", l.run(t, "validate-all", "config=haproxy.cfg"), 6, "not an absolute path")
		l.writeConfig(t, "backend broken\n    server x 127.0.0.1:1 bogus_keyword\n")
		agenttest.Expect(t, "probe with a bad configuration", l.run(t, "monitor"), 7, "")
		r := l.run(t, "start")
		agenttest.Expect(t, "start with a bad configuration", r, 6, "unknown keyword 'bogus_keyword'")
		agenttest.Expect(t, "start with a bad configuration", r, 6, "haproxy rejects "+l.cfg)
		if left := haproxysOf(t, l.cfg); len(left) != 0 {
			t.Fatalf("a rejected start left haproxy %v", left)
		}
		agenttest.Expect(t, "stop after a failed start", l.run(t, "stop"), 0, "")

		l.writeConfig(t, "")
		busy, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", l.front))
		if err != nil {
			t.Fatal(err)
		}
		defer busy.Close()
		r = l.run(t, "start")
		agenttest.Expect(t, "start on a port in use", r, 1, fmt.Sprintf("cannot bind socket (Address already in use) for [127.0.0.1:%d]", l.front))
		if left := haproxysOf(t, l.cfg); len(left) != 0 {
			t.Fatalf("a failed start left haproxy %v", left)
		}
		agenttest.Expect(t, "monitor after a failed start", l.run(t, "monitor", recurring), 7, "")
	})

	t.Run("lifecycle", func(t *testing.T) {
		l := newLab(t)
		agenttest.Expect(t, "probe before start", l.run(t, "monitor"), 7, "")
		agenttest.Expect(t, "monitor before start", l.run(t, "monitor", recurring), 7, "")
		r := l.run(t, "start")
		agenttest.Expect(t, "start", r, 0, "")
		t.Logf("start took %s", r.Took)
		if err := exchange(fmt.Sprintf("127.0.0.1:%d", l.front)); err != nil {
			t.Fatalf("no echo through the frontend after start: %v", err)
		}
		master := l.pid(t)
		pids := haproxysOf(t, l.cfg)
		if len(pids) != 2 {
			t.Fatalf("haproxy processes after start: %v, want a master and a worker", pids)
		}
		r = l.run(t, "monitor", recurring)
		agenttest.Expect(t, "monitor", r, 0, "")
		t.Logf("monitor took %s", r.Took)
		agenttest.Expect(t, "probe of a running haproxy", l.run(t, "monitor"), 0, "")
		agenttest.Expect(t, "second start", l.run(t, "start"), 0, "already runs")
		if again := l.pid(t); again != master {
			t.Fatalf("second start replaced master %d by %d", master, again)
		}

		worker := l.procs(t).Workers[0].Pid
		syscall.Kill(worker, syscall.SIGKILL)
		waitGone(t, worker)
		// The master, seeing its worker die, ends itself and its socket:
		// depending on when the monitor looks, it finds the master without
		// a worker, answering no more, or gone. Each is a failure.
		r = l.run(t, "monitor", recurring)
		if r.RC != 1 || !(strings.Contains(r.Stderr, "gone without a stop") || strings.Contains(r.Stderr, "no current worker") ||
			strings.Contains(r.Stderr, "does not answer on")) {
			t.Fatalf("monitor after kill -9 of the worker: %v", r)
		}
		agenttest.Expect(t, "stop after kill -9 of the worker", l.run(t, "stop"), 0, "")
		if left := haproxysOf(t, l.cfg); len(left) != 0 {
			t.Fatalf("haproxy still runs after stop: %v", left)
		}
		agenttest.Expect(t, "monitor after stop", l.run(t, "monitor", recurring), 7, "")

		agenttest.Expect(t, "start again", l.run(t, "start"), 0, "")
		master = l.pid(t)
		syscall.Kill(master, syscall.SIGKILL)
		waitGone(t, master)
		agenttest.Expect(t, "monitor after kill -9 of the master", l.run(t, "monitor", recurring), 1,
			fmt.Sprintf("haproxy (master pid %d in %s) is gone without a stop", master, filepath.Join(l.dir, "haproxy.pid")))
		agenttest.Expect(t, "probe after kill -9 of the master", l.run(t, "monitor"), 7, "")
		agenttest.Expect(t, "stop after kill -9 of the master", l.run(t, "stop"), 0, "")
		agenttest.Expect(t, "monitor after stop", l.run(t, "monitor", recurring), 7, "")

		agenttest.Expect(t, "start a third time", l.run(t, "start"), 0, "")
		if err := os.Remove(filepath.Join(l.dir, "haproxy.pid")); err != nil {
			t.Fatal(err)
		}
		agenttest.Expect(t, "probe finds haproxy without its pid file", l.run(t, "monitor"), 0, "")
		pids = haproxysOf(t, l.cfg)
		r = l.run(t, "stop")
		agenttest.Expect(t, "stop", r, 0, "")
		t.Logf("stop took %s", r.Took)
		if left := haproxysOf(t, l.cfg); len(left) != 0 {
			t.Fatalf("haproxy %v still runs after stop (was %v)", left, pids)
		}
		for _, f := range []string{"haproxy.pid", "master.sock", "haproxy.pid.listeners"} {
			if _, err := os.Stat(filepath.Join(l.dir, f)); err == nil {
				t.Errorf("stop left %s", f)
			}
		}
		agenttest.Expect(t, "second stop", l.run(t, "stop"), 0, "")
		agenttest.Expect(t, "probe after stop", l.run(t, "monitor"), 7, "")
	})

	t.Run("frontend-not-listening", func(t *testing.T) {
		l := newLab(t)
		agenttest.Expect(t, "start", l.run(t, "start"), 0, "")
		defer l.run(t, "stop")
		// A frontend added to the file is only checked once reloaded.
		other := freePort(t)
		l.writeConfig(t, fmt.Sprintf("frontend added\n    bind 127.0.0.1:%d\n    default_backend live\n", other))
		agenttest.Expect(t, "monitor before the reload", l.run(t, "monitor", recurring), 0, "")
		agenttest.Expect(t, "reload", l.run(t, "reload"), 0, "")
		agenttest.Expect(t, "monitor after the reload", l.run(t, "monitor", recurring), 0, "")
		if err := exchange(fmt.Sprintf("127.0.0.1:%d", other)); err != nil {
			t.Fatalf("the added frontend does not serve: %v", err)
		}
		// Disabling a frontend through the worker's CLI closes its socket.
		if out, err := (host{}).Query(context.Background(), filepath.Join(l.dir, "master.sock"), "@1 disable frontend added"); err != nil {
			t.Fatalf("disable frontend: %v %s", err, out)
		}
		r := l.run(t, "monitor", recurring)
		agenttest.Expect(t, "monitor of a disabled frontend", r, 1, fmt.Sprintf("frontend added on 127.0.0.1:%d", other))
	})

	t.Run("required-backends", func(t *testing.T) {
		l := newLab(t)
		agenttest.Expect(t, "start", l.run(t, "start", "required_backends=live"), 0, "")
		defer l.run(t, "stop")
		agenttest.Expect(t, "monitor with a live backend", l.run(t, "monitor", recurring, "required_backends=live"), 0, "")
		var r agenttest.Result
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
			if r = l.run(t, "monitor", recurring, "required_backends=live dead_front"); r.RC != 0 {
				break
			}
		}
		agenttest.Expect(t, "monitor with a dead backend", r, 1, "backend dead_front has no server up (only DOWN)")
		agenttest.Expect(t, "monitor with a live backend", l.run(t, "monitor", recurring, "required_backends=live"), 0, "")
		agenttest.Expect(t, "monitor with an unknown backend", l.run(t, "monitor", recurring, "required_backends=nope"), 1, "backend nope does not exist")
	})

	t.Run("reload", func(t *testing.T) {
		l := newLab(t)
		agenttest.Expect(t, "start", l.run(t, "start"), 0, "")
		defer l.run(t, "stop")
		master := l.pid(t)
		addr := fmt.Sprintf("127.0.0.1:%d", l.front)
		// A connection open before the reloads lives on in its old worker.
		held, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer held.Close()
		echoOn := func(what string) {
			t.Helper()
			held.SetDeadline(time.Now().Add(5 * time.Second))
			got := make([]byte, 5)
			if _, err := held.Write([]byte("held\n")); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if _, err := io.ReadFull(held, got); err != nil || string(got) != "held\n" {
				t.Fatalf("%s: %q, %v", what, got, err)
			}
		}
		echoOn("connection before the reloads")
		load := startLoad(addr, 4)
		time.Sleep(300 * time.Millisecond)
		seen := map[int]bool{l.procs(t).Workers[0].Pid: true}
		var slowest time.Duration
		for i := 0; i < 20; i++ {
			r := l.run(t, "reload")
			if r.RC != 0 {
				load.Stop()
				t.Fatalf("reload %d: %v", i+1, r)
			}
			slowest = max(slowest, r.Took)
			w := l.procs(t).Workers[0].Pid
			if seen[w] {
				load.Stop()
				t.Fatalf("reload %d: worker %d is not new", i+1, w)
			}
			seen[w] = true
		}
		time.Sleep(300 * time.Millisecond)
		load.Stop()
		t.Logf("20 reloads under load: %d connections, %d failed, slowest reload %s", load.OK.Load(), load.Failed.Load(), slowest)
		if load.Failed.Load() != 0 {
			t.Errorf("%d connections failed during reloads: %q", load.Failed.Load(), load.Errors())
		}
		if load.OK.Load() < 100 {
			t.Errorf("only %d connections went through: the load did not run", load.OK.Load())
		}
		if now := l.pid(t); now != master {
			t.Errorf("the master changed from %d to %d across reloads", master, now)
		}
		echoOn("connection across 20 reloads")
		if old := l.procs(t).OldWorkers; len(old) == 0 {
			t.Errorf("no old worker keeps the held connection")
		}
		held.Close()

		// A configuration haproxy rejects never replaces the running one.
		worker := l.procs(t).Workers[0].Pid
		l.writeConfig(t, "backend broken\n    server x 127.0.0.1:1 bogus_keyword\n")
		load = startLoad(addr, 2)
		r := l.run(t, "reload")
		time.Sleep(200 * time.Millisecond)
		load.Stop()
		agenttest.Expect(t, "reload with a bad configuration", r, 1, "unknown keyword 'bogus_keyword'")
		if load.Failed.Load() != 0 || load.OK.Load() == 0 {
			t.Errorf("during the failed reload: %d ok, %d failed %q", load.OK.Load(), load.Failed.Load(), load.Errors())
		}
		if w := l.procs(t).Workers[0].Pid; w != worker {
			t.Errorf("the failed reload replaced worker %d by %d", worker, w)
		}
		agenttest.Expect(t, "monitor after the failed reload", l.run(t, "monitor", recurring), 0, "")
		l.writeConfig(t, "")
		agenttest.Expect(t, "reload with the configuration fixed", l.run(t, "reload"), 0, "")

		// A changed argument list cannot be reloaded: haproxy restarts. That
		// restart refuses connections, which shows the load above would
		// have seen a reload that drops any.
		load = startLoad(addr, 4)
		time.Sleep(100 * time.Millisecond)
		r = l.run(t, "reload", "extra_args=-L goha-test")
		time.Sleep(100 * time.Millisecond)
		load.Stop()
		agenttest.Expect(t, "reload with extra_args", r, 0, "restarting it")
		t.Logf("restart under load: %d connections, %d failed", load.OK.Load(), load.Failed.Load())
		if load.Failed.Load() == 0 {
			t.Errorf("a restart under load failed no connection: the load cannot see dropped connections")
		}
		if now := l.pid(t); now == master {
			t.Errorf("extra_args changed but master %d still runs", master)
		}
		agenttest.Expect(t, "monitor after the restart", l.run(t, "monitor", recurring, "extra_args=-L goha-test"), 0, "")
	})

	t.Run("ocf-tester", func(t *testing.T) {
		tester, err := exec.LookPath("ocf-tester")
		if err != nil {
			t.Skip("ocf-tester (resource-agents) is not installed")
		}
		l := newLab(t)
		args := []string{"-n", l.resource}
		for _, p := range l.params {
			args = append(args, "-o", p)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, tester, append(args, agentBinary(t))...)
		cmd.Env = append(os.Environ(), "HA_RSCTMP="+l.dir)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "passed all tests") {
			t.Errorf("ocf-tester: %v\n%s", err, out)
		}
		t.Logf("ocf-tester passed in %s", time.Since(start))
		if left := haproxysOf(t, l.cfg); len(left) != 0 {
			t.Errorf("ocf-tester left haproxy %v", left)
		}
	})
}
