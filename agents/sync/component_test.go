package sync

// Component test: the agent binary, as Pacemaker runs it, against a real
// rsync daemon that the test starts on a free loopback port with a module
// in a temporary directory. It needs root (the rsync daemon keeps owners)
// and rsync; without them it skips and says why. Every process it starts
// it ends by pid.

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goha-ha/goha/internal/agenttest"

	"github.com/goha-ha/goha/internal/proc"
	"github.com/goha-ha/goha/internal/testbuild"
	"github.com/goha-ha/goha/ocf"
)

const rsyncProgram = "/usr/bin/rsync"

func requireRsync(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("component test: skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("component test: needs root to run an rsync daemon that keeps owners")
	}
	if _, err := os.Stat(rsyncProgram); err != nil {
		t.Skipf("component test: needs %s (apt-get install rsync): %v", rsyncProgram, err)
	}
}

// agentBinary builds the agent alone (internal/synccmd) into dir, so the
// test does not depend on the agent being registered in cmd/goha.
func agentBinary(t *testing.T, dir string) string {
	t.Helper()
	path, err := testbuild.Main(dir, "sync", "./agents/sync/internal/synccmd")
	if err != nil {
		t.Fatal(err)
	}
	return path
}

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

// rsyncDaemon is the test's peer: rsync --daemon with module "data".
type rsyncDaemon struct {
	dir, conf, module string
	port              int
	cmd               *exec.Cmd
	done              chan struct{}
}

func newRsyncDaemon(t *testing.T, dir string) *rsyncDaemon {
	t.Helper()
	d := &rsyncDaemon{dir: dir, module: filepath.Join(dir, "module"), conf: filepath.Join(dir, "rsyncd.conf"), port: freePort(t)}
	if err := os.MkdirAll(d.module, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("use chroot = no\npid file =\nlog file = %s\n[data]\npath = %s\nread only = no\nuid = root\ngid = root\n",
		filepath.Join(dir, "rsyncd.log"), d.module)
	if err := os.WriteFile(d.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	d.start(t)
	t.Cleanup(d.stop)
	return d
}

// start runs the daemon and waits until it accepts connections.
func (d *rsyncDaemon) start(t *testing.T) {
	t.Helper()
	d.cmd = exec.Command(rsyncProgram, "--daemon", "--no-detach", "--config="+d.conf,
		"--address=127.0.0.1", "--port="+strconv.Itoa(d.port))
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start rsync daemon: %v", err)
	}
	d.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(d.cmd, d.done)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(d.port))
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
	}
	t.Fatalf("rsync daemon does not listen on %s", addr)
}

// stop ends the rsync daemon (and the children serving connections, which
// are in its session) by pid.
func (d *rsyncDaemon) stop() {
	if d.cmd == nil {
		return
	}
	if members, err := (host{}).Session(d.cmd.Process.Pid); err == nil {
		for _, pid := range members {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	d.cmd.Process.Kill()
	<-d.done
	d.cmd = nil
}

// resource is one sync resource of the test.
type resource struct {
	agent, rsctmp, name string
	params              []string // NAME=VALUE
}

func (res *resource) run(t *testing.T, action string, extra ...string) agenttest.Result {
	t.Helper()
	env := agenttest.Env(res.rsctmp, res.name, append(append([]string{}, res.params...), extra...)...)
	return agenttest.Run(t, 120*time.Second, env, res.agent, action)
}

// config is the resource's configuration as the agent resolves it, to
// find its daemon and files the way the agent does.
func (res *resource) config(t *testing.T) Config {
	t.Helper()
	raw := map[string]string{}
	for _, p := range res.params {
		k, v, _ := strings.Cut(p, "=")
		raw[k] = v
	}
	c, err := configFrom(ocf.NewValues(params(), raw), res.name, res.rsctmp)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// daemons lists this resource's live sync daemons.
func (res *resource) daemons(t *testing.T) []int {
	t.Helper()
	pids, err := host{}.Find(res.config(t).IsOurs)
	if err != nil {
		t.Fatal(err)
	}
	// A child the daemon just forked shows the daemon's command line until
	// it execs rsync: that is not a second daemon.
	var daemons []int
	for _, pid := range pids {
		if !slices.Contains(pids, parentOf(pid)) {
			daemons = append(daemons, pid)
		}
	}
	return daemons
}

// parentOf is pid's parent from /proc/<pid>/stat, 0 when unknown.
func parentOf(pid int) int {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// rsyncsOf lists the live rsync processes whose argv copies from src
// (a push) or into it (the merge before the first push).
func rsyncsOf(t *testing.T, src string) []int {
	t.Helper()
	pids, err := host{}.Find(func(argv []string) bool {
		return len(argv) > 2 && argv[0] == rsyncProgram && (argv[len(argv)-2] == src+"/" || argv[len(argv)-1] == src+"/")
	})
	if err != nil {
		t.Fatal(err)
	}
	return pids
}

// killLeftovers ends, by pid, whatever the agent left behind, and fails
// the test for it.
func (res *resource) killLeftovers(t *testing.T) {
	c := res.config(t)
	left := append(res.daemons(t), rsyncsOf(t, c.Directory)...)
	for _, pid := range left {
		t.Errorf("pid %d of resource %s was left running; killing it", pid, res.name)
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// tree maps each path below dir to its content ("/" for a directory).
func tree(dir string) map[string]string {
	m := map[string]string{}
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() {
			m[rel] = "/"
		} else if b, err := os.ReadFile(path); err == nil {
			m[rel] = string(b)
		}
		return nil
	})
	return m
}

// waitSame polls until the peer's copy equals the source tree.
func waitSame(t *testing.T, what, src, dst string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		if reflect.DeepEqual(tree(src), tree(dst)) {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: the peer's copy differs after %s\nsource: %v\npeer:   %v", what, within, tree(src), tree(dst))
	return 0
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitGone waits until pid no longer runs.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if !proc.Alive(pid) {
			return
		}
	}
	t.Fatalf("pid %d did not go away", pid)
}

// silentPeer accepts connections and never answers: an rsync to it hangs
// until its timeout, which lets the test catch rsync while it runs.
func silentPeer(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().(*net.TCPAddr).Port
}

func TestComponentSync(t *testing.T) {
	requireRsync(t)
	// ocf-tester runs meta-data as nobody: the binary's directory must be
	// reachable, which t.TempDir (mode 0700) is not.
	dir, err := os.MkdirTemp("", "goha-sync-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	agent := agentBinary(t, dir)
	peer := newRsyncDaemon(t, filepath.Join(dir, "peer"))
	src := filepath.Join(dir, "src")
	writeFile(t, filepath.Join(src, "existing"), "before start")
	writeFile(t, filepath.Join(src, "old", "nested"), "before start, nested")
	res := &resource{agent: agent, rsctmp: filepath.Join(dir, "rsctmp"), name: "sync-test", params: []string{
		"directory=" + src,
		fmt.Sprintf("peers=127.0.0.1:%d", peer.port),
		"transport=daemon",
		"rsync_module=data",
		"exclude=*.swp",
	}}
	t.Cleanup(func() { res.killLeftovers(t) })
	recurring := "OCF_RESKEY_CRM_meta_interval=10000"

	t.Run("validate-all", func(t *testing.T) {
		agenttest.Expect(t, "validate-all", res.run(t, "validate-all"), 0, "")
		agenttest.Expect(t, "missing directory", res.run(t, "validate-all", "directory="+filepath.Join(dir, "nope")), 5, "parameter directory")
		agenttest.Expect(t, "missing rsync", res.run(t, "validate-all", "rsync=/nonexistent/rsync"), 5, "parameter rsync")
		agenttest.Expect(t, "missing password file", res.run(t, "validate-all", "password_file="+filepath.Join(dir, "nope")), 5, "parameter password_file")
		agenttest.Expect(t, "daemon peer without module", res.run(t, "validate-all", "rsync_module="), 6, "rsync_module is required")
		agenttest.Expect(t, "peer that is an option", res.run(t, "validate-all", "peers=-oProxyCommand=x"), 6, "parameter peers")
		agenttest.Expect(t, "root directory", res.run(t, "validate-all", "directory=/"), 6, "must not be /")
		agenttest.Expect(t, "forbidden rsync option", res.run(t, "validate-all", "rsync_options=--rsh=nc"), 6, "does not allow")
		agenttest.Expect(t, "start with a bad peer", res.run(t, "start", "peers=a;b"), 6, "parameter peers")
		if _, err := exec.LookPath("ssh"); err != nil {
			agenttest.Expect(t, "ssh transport without ssh", res.run(t, "validate-all", "transport=ssh", "peers=127.0.0.1"), 5, "openssh-client")
		}
	})

	t.Run("sync", func(t *testing.T) {
		agenttest.Expect(t, "probe before start", res.run(t, "monitor"), 7, "")
		agenttest.Expect(t, "monitor before start", res.run(t, "monitor", recurring), 7, "")
		// A file the peer holds and this node lacks, as one written on the
		// peer while it was the active node: the start merges it in
		// instead of deleting it with its push.
		if err := os.WriteFile(filepath.Join(peer.module, "written-on-peer"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		begin := time.Now()
		agenttest.Expect(t, "start", res.run(t, "start"), 0, "")
		// start returns after the full sync: no polling needed.
		if !reflect.DeepEqual(tree(src), tree(peer.module)) {
			t.Fatalf("start returned before the full sync: source %v, peer %v", tree(src), tree(peer.module))
		}
		if _, err := os.Stat(filepath.Join(src, "written-on-peer")); err != nil {
			t.Fatalf("the file the peer held was not merged in at start: %v (source %v, peer %v)", err, tree(src), tree(peer.module))
		}
		t.Logf("start with full sync: %s", time.Since(begin).Round(time.Millisecond))
		daemons := res.daemons(t)
		if len(daemons) != 1 {
			t.Fatalf("sync daemons after start: %v, want one", daemons)
		}
		agenttest.Expect(t, "monitor", res.run(t, "monitor", recurring), 0, "")
		agenttest.Expect(t, "probe", res.run(t, "monitor"), 0, "")
		agenttest.Expect(t, "second start", res.run(t, "start"), 0, "")
		if again := res.daemons(t); !reflect.DeepEqual(again, daemons) {
			t.Fatalf("second start changed the daemon: %v, was %v", again, daemons)
		}

		const bound = 5 * time.Second
		writeFile(t, filepath.Join(src, "new"), "a new file")
		t.Logf("new file on the peer after %s", waitSame(t, "new file", src, peer.module, bound))
		writeFile(t, filepath.Join(src, "existing"), "modified")
		t.Logf("modified file on the peer after %s", waitSame(t, "modified file", src, peer.module, bound))
		writeFile(t, filepath.Join(src, "d1", "d2", "d3", "deep"), "in a new nested directory")
		t.Logf("nested directory on the peer after %s", waitSame(t, "nested directory", src, peer.module, bound))
		writeFile(t, filepath.Join(src, "d1", "d2", "d3", "later"), "in a directory created after start")
		t.Logf("file in a new directory on the peer after %s", waitSame(t, "file in a new directory", src, peer.module, bound))
		if err := os.Remove(filepath.Join(src, "new")); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(filepath.Join(src, "old")); err != nil {
			t.Fatal(err)
		}
		t.Logf("deletions on the peer after %s", waitSame(t, "deletions", src, peer.module, bound))
		writeFile(t, filepath.Join(src, "editor.swp"), "excluded")
		time.Sleep(time.Second)
		if _, err := os.Stat(filepath.Join(peer.module, "editor.swp")); err == nil {
			t.Fatal("an excluded file reached the peer")
		}
		os.Remove(filepath.Join(src, "editor.swp"))

		// The peer goes down: the monitor still passes (a down peer does
		// not fail the active node), and catches up when it is back.
		peer.stop()
		writeFile(t, filepath.Join(src, "while-down"), "written while the peer was down")
		writeFile(t, filepath.Join(src, "d1", "also-while-down"), "same")
		if err := os.Remove(filepath.Join(src, "d1", "d2", "d3", "deep")); err != nil {
			t.Fatal(err)
		}
		waitReport(t, res.config(t), 10*time.Second, func(p PeerStatus) bool { return p.State == PeerFailing })
		r := res.run(t, "monitor", recurring)
		agenttest.Expect(t, "monitor with the peer down", r, 0, "unreachable")
		time.Sleep(2 * time.Second) // a few failed retries
		agenttest.Expect(t, "monitor with the peer down for 2 s, fail_on_peer_down and max_lag 1 s",
			res.run(t, "monitor", recurring, "fail_on_peer_down=true", "max_lag=1"), 1, "unreachable for")
		peer.start(t)
		t.Logf("peer caught up %s after it came back", waitSame(t, "catch-up", src, peer.module, 40*time.Second))
		waitReport(t, res.config(t), 5*time.Second, func(p PeerStatus) bool { return p.State == PeerOK })
		agenttest.Expect(t, "monitor after the catch-up", res.run(t, "monitor", recurring), 0, "")

		// stop ships what is pending before it returns.
		writeFile(t, filepath.Join(src, "just-before-stop"), "the last change")
		agenttest.Expect(t, "stop", res.run(t, "stop"), 0, "")
		if left := res.daemons(t); len(left) != 0 {
			t.Fatalf("sync daemon still runs after stop: %v", left)
		}
		if !reflect.DeepEqual(tree(src), tree(peer.module)) {
			t.Fatalf("stop returned before the last change reached the peer: source %v, peer %v", tree(src), tree(peer.module))
		}
		agenttest.Expect(t, "monitor after stop", res.run(t, "monitor", recurring), 7, "")
		agenttest.Expect(t, "probe after stop", res.run(t, "monitor"), 7, "")
		agenttest.Expect(t, "second stop", res.run(t, "stop"), 0, "")
	})

	// A second peer that never answers keeps an rsync running, so that
	// the test sees what happens to it on kill -9 and on stop.
	hanging := append(append([]string{}, res.params...), fmt.Sprintf("peers=127.0.0.1:%d 127.0.0.1:%d", peer.port, silentPeer(t)),
		"io_timeout=120")
	hung := &resource{agent: agent, rsctmp: res.rsctmp, name: res.name, params: hanging}

	t.Run("killed", func(t *testing.T) {
		begin := time.Now()
		r := hung.run(t, "start", "OCF_RESKEY_CRM_meta_timeout=5000")
		t.Logf("start with a silent peer and a 5 s timeout returned after %s", time.Since(begin).Round(time.Millisecond))
		agenttest.Expect(t, "start with a peer that never answers", r, 0, "has not ended yet")
		daemons := hung.daemons(t)
		rsyncs := rsyncsOf(t, src)
		if len(daemons) != 1 || len(rsyncs) == 0 {
			t.Fatalf("daemons %v, rsyncs %v: want one daemon with its rsync hanging", daemons, rsyncs)
		}
		killed := time.Now()
		syscall.Kill(daemons[0], syscall.SIGKILL)
		waitGone(t, daemons[0])
		for _, pid := range rsyncs {
			waitGone(t, pid) // Pdeathsig
		}
		t.Logf("daemon and rsync gone %s after kill -9", time.Since(killed).Round(time.Millisecond))
		agenttest.Expect(t, "monitor after kill -9", hung.run(t, "monitor", recurring), 1, "is not running")
		agenttest.Expect(t, "probe after kill -9", hung.run(t, "monitor"), 7, "")
		agenttest.Expect(t, "stop after kill -9", hung.run(t, "stop"), 0, "")
		agenttest.Expect(t, "monitor after stop", hung.run(t, "monitor", recurring), 7, "")
	})

	t.Run("stop-ends-rsync", func(t *testing.T) {
		agenttest.Expect(t, "start", hung.run(t, "start", "OCF_RESKEY_CRM_meta_timeout=5000"), 0, "")
		rsyncs := rsyncsOf(t, src)
		if len(rsyncs) == 0 {
			t.Fatal("no rsync runs to the silent peer")
		}
		// The daemon's last sync waits for the silent peer until SIGKILL,
		// which comes 2 s before the 6 s deadline.
		begin := time.Now()
		agenttest.Expect(t, "stop during a sync", hung.run(t, "stop", "OCF_RESKEY_CRM_meta_timeout=6000"), 0, "")
		took := time.Since(begin)
		t.Logf("stop during a hanging sync took %s", took.Round(time.Millisecond))
		if took > 6*time.Second {
			t.Fatalf("stop took %s, longer than its timeout", took)
		}
		if left := append(hung.daemons(t), rsyncsOf(t, src)...); len(left) != 0 {
			t.Fatalf("stop left %v running (rsyncs were %v)", left, rsyncs)
		}
	})

	t.Run("ocf-tester", func(t *testing.T) {
		tester, err := exec.LookPath("ocf-tester")
		if err != nil {
			t.Skip("ocf-tester (resource-agents) is not installed")
		}
		args := []string{"-n", "sync-tester"}
		for _, p := range append(res.params, "state_dir="+filepath.Join(dir, "tester")) {
			args = append(args, "-o", p)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, tester, append(args, agent)...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "passed all tests") {
			t.Errorf("ocf-tester: %v\n%s", err, out)
		}
		other := &resource{agent: agent, rsctmp: res.rsctmp, name: "sync-tester", params: append(res.params, "state_dir="+filepath.Join(dir, "tester"))}
		if left := append(other.daemons(t), rsyncsOf(t, src)...); len(left) != 0 {
			t.Errorf("ocf-tester left %v running", left)
			for _, pid := range left {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
}

// waitReport polls the daemon's report until its first peer satisfies ok.
func waitReport(t *testing.T, c Config, within time.Duration, ok func(PeerStatus) bool) {
	t.Helper()
	var rep Report
	var err error
	for end := time.Now().Add(within); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if rep, err = readReport(c); err == nil && len(rep.Peers) > 0 && ok(rep.Peers[0]) {
			return
		}
	}
	t.Fatalf("report after %s: %+v (%v)", within, rep, err)
}
