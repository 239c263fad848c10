package galera

// Component tests: the agent binary against a real single-node MariaDB
// Galera server on loopback (internal/galerasolo), with a fake
// crm_attribute that records what the agent publishes. They need root,
// mariadbd, the Galera provider and mariadb-install-db (ocf-tester for its
// own test); without them they skip and say why. Every server a test
// starts, directly or through the agent, is ended by PID when the test ends.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/goha-ha/goha/internal/agenttest"
	"github.com/goha-ha/goha/internal/fakecrm"
	"github.com/goha-ha/goha/internal/galerasolo"
	"github.com/goha-ha/goha/internal/mariadb"
	"github.com/goha-ha/goha/internal/testbuild"
)

const (
	agentRunLimit  = 90 * time.Second
	serverUpLimit  = galerasolo.UpLimit
	serverEndLimit = galerasolo.EndLimit
)

// bench is what every component test shares: the agent binary and a data
// directory initialised once, which each test copies.
var bench struct {
	once     sync.Once
	dir      string
	agent    string
	template *galerasolo.Template
	err      error
}

func TestMain(m *testing.M) {
	// The agent starts mariadbd detached and exits; as a subreaper this
	// process inherits those servers and can reap them once they are ended.
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	code := m.Run()
	if bench.dir != "" {
		os.RemoveAll(bench.dir)
	}
	os.Exit(code)
}

// requireGalera skips unless the machine can run a Galera server as root.
func requireGalera(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("component test: skipped in -short mode")
	}
	if why := galerasolo.Missing(); why != "" {
		t.Skip("component test: " + why)
	}
	bench.once.Do(func() { bench.err = prepareBench() })
	if bench.err != nil {
		t.Fatal(bench.err)
	}
}

func prepareBench() error {
	dir, err := os.MkdirTemp("", "goha-galera-")
	if err != nil {
		return err
	}
	bench.dir = dir
	// mariadbd runs as mysql and ocf-tester runs meta-data as nobody.
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	if bench.agent, err = testbuild.Main(dir, "galera", "./agents/galera/internal/galeracmd"); err != nil {
		return err
	}
	bench.template, err = galerasolo.Init(filepath.Join(dir, "seed"))
	return err
}

// benchNode is one Galera node under test: a galerasolo server (its own
// copy of the data directory, config and ports) with a fake crm_attribute
// and HA_RSCTMP of its own.
type benchNode struct {
	srv        *galerasolo.Server
	host       string
	dir        string
	cnf        string
	datadir    string
	socket     string
	pidFile    string
	errLog     string
	galeraPort int
	crm        *fakecrm.Store // the crm_attribute the agent finds first on PATH
	rsctmp     string
}

func newNode(t *testing.T) *benchNode {
	t.Helper()
	requireGalera(t)
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := bench.template.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	n := &benchNode{
		srv: srv, host: srv.Host, dir: dir, cnf: srv.Config, datadir: srv.Datadir, socket: srv.Socket,
		pidFile: srv.PidFile, errLog: srv.Log, galeraPort: srv.GaleraPort,
		rsctmp: filepath.Join(dir, "rsctmp"),
	}
	if err := os.Mkdir(n.rsctmp, 0o755); err != nil {
		t.Fatal(err)
	}
	if n.crm, err = fakecrm.Install(filepath.Join(dir, "crm")); err != nil {
		t.Fatal(err)
	}
	return n
}

// attr returns the node attribute the agent last published for this node.
func (n *benchNode) attr(t *testing.T, name string) (string, bool) {
	t.Helper()
	v, ok, err := n.crm.Get(n.host, name)
	if err != nil {
		t.Fatal(err)
	}
	return v, ok
}

// calls is the fake crm_attribute's log of the calls it got, for failure
// messages.
func (n *benchNode) calls() string { return n.crm.Calls() }

func (n *benchNode) address() string { return n.srv.Address() }

// params are the agent parameters of this node, NAME=VALUE without the
// OCF_RESKEY_ prefix.
func (n *benchNode) params() []string {
	return []string{
		"wsrep_cluster_address=" + n.address(), "config=" + n.cnf, "datadir=" + n.datadir,
		"socket=" + n.socket, "pid=" + n.pidFile, "log=" + n.errLog, "CRM_meta_promotable=true",
	}
}

// env is the agent's environment, agenttest.Env with the fake crm tools
// first on PATH; extra NAME=VALUE entries come last and win (OCF_* and
// HA_* names as they are, others as OCF_RESKEY_NAME).
func (n *benchNode) env(extra ...string) []string {
	params := n.params()
	var ha []string
	for _, p := range extra {
		if strings.HasPrefix(p, "HA_") {
			ha = append(ha, p)
		} else {
			params = append(params, p)
		}
	}
	env := agenttest.Env(n.rsctmp, "db", params...)
	return append(append(env, "PATH="+n.crm.BinDir+":/usr/sbin:/usr/bin:/sbin:/bin"), ha...)
}

func (n *benchNode) agent(t *testing.T, action string, extra ...string) agenttest.Result {
	t.Helper()
	return agenttest.Run(t, agentRunLimit, n.env(extra...), bench.agent, action)
}

// must runs action and fails the test unless it exits rc.
func (n *benchNode) must(t *testing.T, rc int, action string, extra ...string) agenttest.Result {
	t.Helper()
	r := n.agent(t, action, extra...)
	if r.RC != rc {
		log, _ := os.ReadFile(n.errLog)
		t.Fatalf("%s %v: got %v\nwant rc=%d\nserver log tail:\n%s", action, extra, r, rc, lastBytes(log, 1500))
	}
	return r
}

// lastBytes is the end of a log, short enough for a failure message.
func lastBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// serverPids lists the mariadbd processes run on this node's data

// serverPids lists the mariadbd processes run on this node's data
// directory, by their command line.
func (n *benchNode) serverPids() []int { return n.srv.Pids() }

// serverPid is the pid in the pid file, checked to be a server of this node.
func (n *benchNode) serverPid(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(n.pidFile)
	if err != nil {
		t.Fatalf("server pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("server pid file %q: %v", b, err)
	}
	for _, p := range n.serverPids() {
		if p == pid {
			return pid
		}
	}
	t.Fatalf("pid file names %d, which is no server of %s (servers: %v)", pid, n.datadir, n.serverPids())
	return 0
}

// crash kills the server with SIGKILL and waits until it is gone.
func (n *benchNode) crash(t *testing.T) {
	t.Helper()
	pid := n.serverPid(t)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if !galerasolo.WaitGone(pid, serverEndLimit) {
		t.Fatalf("server pid %d survived SIGKILL", pid)
	}
}

var recoveredLineRE = regexp.MustCompile(`WSREP: Recovered position:\s+([0-9a-f-]{36}):(-?[0-9]+)`)

// recoverPosition runs mariadbd --wsrep-recover on the node's data, as an
// operator would, and returns the position it logs as "uuid:seqno".
func (n *benchNode) recoverPosition(t *testing.T) string {
	t.Helper()
	run := filepath.Join(n.dir, "recover")
	if err := os.Mkdir(run, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := galerasolo.ChownToServerUser(run); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(run, "recover.log")
	ctx, cancel := context.WithTimeout(context.Background(), serverUpLimit)
	defer cancel()
	out, err := exec.CommandContext(ctx, galerasolo.Mariadbd, "--defaults-file="+n.cnf, "--datadir="+n.datadir,
		"--user="+galerasolo.ServerUser, "--socket="+filepath.Join(run, "recover.sock"),
		"--pid-file="+filepath.Join(run, "recover.pid"), "--log-error="+log, "--wsrep-recover").CombinedOutput()
	logged, _ := os.ReadFile(log)
	m := recoveredLineRE.FindAllSubmatch(append(logged, out...), -1)
	if err != nil || len(m) == 0 {
		t.Fatalf("mariadbd --wsrep-recover: %v\n%s%s", err, logged, out)
	}
	last := m[len(m)-1]
	return string(last[1]) + ":" + string(last[2])
}

// TestComponentOCFTester runs Pacemaker's ocf-tester against the agent.
func TestComponentOCFTester(t *testing.T) {
	tester, err := exec.LookPath("ocf-tester")
	if err != nil {
		t.Skip("component test: needs ocf-tester (apt-get install resource-agents)")
	}
	n := newNode(t)
	args := []string{"-n", "db"}
	for _, p := range n.params() {
		args = append(args, "-o", p)
	}
	args = append(args, bench.agent)
	ctx, cancel := context.WithTimeout(context.Background(), agentRunLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, tester, args...)
	cmd.Env = n.env()
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "passed all tests") {
		t.Fatalf("ocf-tester: %v\n%s", err, out)
	}
	if pids := n.serverPids(); len(pids) != 0 {
		t.Fatalf("ocf-tester ends with a stop, but servers %v still run", pids)
	}
}

// TestComponentPublishedPosition checks the position and score start and
// stop publish, also after the server crashed with writes in flight.
func TestComponentPublishedPosition(t *testing.T) {
	n := newNode(t)
	g, err := galerasolo.ReadGrastate(n.datadir)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%s:%d", g.UUID, g.Seqno)
	if g.SafeToBootstrap {
		want += ":safe"
	}

	n.must(t, 0, "start")
	if got, _ := n.attr(t, "db-position"); got != want {
		t.Fatalf("after start db-position = %q, want the grastate position %q\ncrm_attribute calls:\n%s", got, want, n.calls())
	}
	if got, _ := n.attr(t, "master-db"); got != "1000" {
		t.Fatalf("after start master-db = %q, want 1000 for the only member\ncrm_attribute calls:\n%s", got, n.calls())
	}

	n.must(t, 0, "promote")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db := galerasolo.RootDB(n.socket)
	defer db.Close()
	for _, q := range []string{
		"CREATE DATABASE comp",
		"CREATE TABLE comp.t (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(32)) ENGINE=InnoDB",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for i := range 5 {
		if _, err := db.ExecContext(ctx, "INSERT INTO comp.t (v) VALUES (?)", fmt.Sprint("row", i)); err != nil {
			t.Fatal(err)
		}
	}
	lc, err := galerasolo.StatusVar(ctx, db, "wsrep_last_committed")
	if err != nil {
		t.Fatal(err)
	}
	committed, _ := strconv.ParseInt(lc, 10, 64)
	if committed < g.Seqno+7 {
		t.Fatalf("wsrep_last_committed %d after 7 writes on top of seqno %d", committed, g.Seqno)
	}
	cluster, err := galerasolo.StatusVar(ctx, db, "wsrep_cluster_state_uuid")
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	n.crash(t)
	n.must(t, 0, "stop")
	if got, ok := n.attr(t, "db-position"); ok {
		t.Fatalf("after a stop that follows a crash db-position = %q, want it withdrawn until recovered\ncrm_attribute calls:\n%s", got, n.calls())
	}
	if got, ok := n.attr(t, "master-db"); ok {
		t.Fatalf("after stop master-db = %q, want it removed\ncrm_attribute calls:\n%s", got, n.calls())
	}

	n.must(t, 0, "start")
	published, _ := n.attr(t, "db-position")
	recovered := n.recoverPosition(t)
	if published != recovered {
		t.Fatalf("after crash and start db-position = %q, --wsrep-recover finds %q\ncrm_attribute calls:\n%s", published, recovered, n.calls())
	}
	if wantPos := fmt.Sprintf("%s:%d", cluster, committed); recovered != wantPos {
		t.Fatalf("recovered position %q, want %q (wsrep_last_committed before the kill)", recovered, wantPos)
	}
	if got, _ := n.attr(t, "master-db"); got != "1000" {
		t.Fatalf("after the second start master-db = %q, want 1000", got)
	}
	// Bootstrapping from the recovered position keeps the cluster's
	// history: same state UUID, seqnos going on from where they stopped
	// (without it the server would start a new history at seqno 1 and
	// every joiner would need a full state transfer).
	n.must(t, 0, "promote")
	db = galerasolo.RootDB(n.socket)
	defer db.Close()
	after, err := galerasolo.StatusVar(ctx, db, "wsrep_cluster_state_uuid")
	if err != nil {
		t.Fatal(err)
	}
	lc, err = galerasolo.StatusVar(ctx, db, "wsrep_last_committed")
	if err != nil {
		t.Fatal(err)
	}
	if now, _ := strconv.ParseInt(lc, 10, 64); after != cluster || now < committed {
		t.Fatalf("after the crash the cluster restarted at %s:%s, want the history %s:%d kept", after, lc, cluster, committed)
	}
	db.Close()
	n.must(t, 0, "stop")
	if got, ok := n.attr(t, "master-db"); ok {
		t.Fatalf("after the second stop master-db = %q, want it removed", got)
	}
}

// TestComponentDeepMonitor runs OCF_CHECK_LEVEL=10 monitors, as root and as
// a user whose password is only in check_defaults_file.
func TestComponentDeepMonitor(t *testing.T) {
	n := newNode(t)
	n.must(t, 0, "start")
	n.must(t, 0, "promote")
	n.must(t, 8, "monitor", "OCF_CHECK_LEVEL=10", "CRM_meta_interval=5000")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db := galerasolo.RootDB(n.socket)
	defer db.Close()
	var token int64
	if err := db.QueryRowContext(ctx, "SELECT token FROM goha.galera_check WHERE node = ?", n.host).Scan(&token); err != nil {
		t.Fatalf("depth-10 monitor left no row for %s in goha.galera_check: %v", n.host, err)
	}

	secret := make([]byte, 12)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	password := "pw" + hex.EncodeToString(secret)
	for _, q := range []string{
		"CREATE USER 'gohacheck'@'localhost' IDENTIFIED BY '" + password + "'",
		"GRANT ALL ON goha_cred.* TO 'gohacheck'@'localhost'",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("create check user: %v", err)
		}
	}
	defaults := filepath.Join(n.dir, "check.cnf")
	writeDefaults := func(pw string) {
		t.Helper()
		body := "[client]\nuser=gohacheck\npassword=" + pw + "\n"
		if err := os.WriteFile(defaults, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeDefaults(password)

	// The watch sees a password on a command line when one is there.
	seen := watchCmdlines(password)
	probe := exec.Command("sh", "-c", "sleep 0.2", password)
	if err := probe.Run(); err != nil {
		t.Fatal(err)
	}
	// The shell's forked child shows the same command line until it
	// execs sleep, so the watch may see that one too.
	if pids := seen(); !slices.Contains(pids, probe.Process.Pid) {
		t.Fatalf("the command line watch saw %v, want the pid %d of a process showing the password", pids, probe.Process.Pid)
	}

	hafile := filepath.Join(n.dir, "ha.log")
	debugfile := filepath.Join(n.dir, "ha-debug.log")
	check := []string{"check_defaults_file=" + defaults, "check_database=goha_cred", "OCF_CHECK_LEVEL=10",
		"CRM_meta_interval=5000", "HA_debug=1"}
	for _, logging := range [][]string{nil, {"HA_LOGFILE=" + hafile, "HA_DEBUGLOG=" + debugfile}} {
		seen := watchCmdlines(password)
		r := n.must(t, 8, "monitor", append(check, logging...)...)
		if pids := seen(); len(pids) > 0 {
			t.Fatalf("the check password appeared in /proc/<pid>/cmdline of %v", pids)
		}
		if strings.Contains(r.Stdout+r.Stderr, password) {
			t.Fatalf("the check password appeared in the agent's output:\n%v", r)
		}
	}
	if err := db.QueryRowContext(ctx, "SELECT token FROM goha_cred.galera_check WHERE node = ?", n.host).Scan(&token); err != nil {
		t.Fatalf("monitor as gohacheck left no row in goha_cred.galera_check: %v", err)
	}

	// The credentials really come from the file: a wrong password there
	// fails, and the failure, which the agent logs, names no password
	// (the wrong one begins with the right one) in its reason or its logs.
	writeDefaults(password + "x")
	r := n.must(t, 1, "monitor", append(check, "HA_LOGFILE="+hafile, "HA_DEBUGLOG="+debugfile)...)
	if !strings.Contains(r.Stderr, "ocf-exit-reason:") || strings.Contains(r.Stderr, password) {
		t.Fatalf("monitor with a wrong password: want an exit reason without the password, got %v", r)
	}
	for _, f := range []string{hafile, debugfile} {
		b, err := os.ReadFile(f)
		if err != nil || len(b) == 0 {
			t.Fatalf("the failed monitor logged nothing to %s (%v): the check below would prove nothing", f, err)
		}
		if bytes.Contains(b, []byte(password)) {
			t.Fatalf("the check password appeared in %s:\n%s", f, b)
		}
	}
}

// watchCmdlines polls every process's command line for secret until the
// returned function is called, which reports the pids that showed it.
func watchCmdlines(secret string) func() []int {
	stop := make(chan struct{})
	done := make(chan []int)
	go func() {
		found := map[int]bool{}
		for {
			entries, _ := os.ReadDir("/proc")
			for _, e := range entries {
				pid, err := strconv.Atoi(e.Name())
				if err != nil {
					continue
				}
				if b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); err == nil && bytes.Contains(b, []byte(secret)) {
					found[pid] = true
				}
			}
			select {
			case <-stop:
				var pids []int
				for pid := range found {
					pids = append(pids, pid)
				}
				done <- pids
				return
			default:
			}
		}
	}()
	return func() []int { close(stop); return <-done }
}

// TestComponentStopLeftover: stop ends a server it did not start this
// time, and one that ignores SIGTERM, within its deadline.
func TestComponentStopLeftover(t *testing.T) {
	n := newNode(t)

	// A server as a timed-out promote leaves it, without a pid file.
	cmd := exec.Command(galerasolo.Mariadbd, "--defaults-file="+n.cnf, "--datadir="+n.datadir, "--pid-file="+n.pidFile,
		"--socket="+n.socket, "--user="+galerasolo.ServerUser, "--wsrep-cluster-address="+n.address(),
		"--log-error="+n.errLog, "--wsrep-new-cluster")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	go func() { _ = cmd.Wait() }()
	ctx, cancel := context.WithTimeout(context.Background(), serverUpLimit)
	defer cancel()
	if _, err := galerasolo.WaitSynced(ctx, n.socket); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(n.pidFile); err != nil {
		t.Fatal(err)
	}
	n.must(t, 0, "stop")
	if !galerasolo.Gone(pid) {
		t.Fatalf("stop returned 0 while the leftover server pid %d runs", pid)
	}
	if g, err := galerasolo.ReadGrastate(n.datadir); err != nil || g.Seqno < 0 {
		t.Fatalf("the leftover server did not shut down cleanly on SIGTERM: %+v %v", g, err)
	}

	// A server that ignores SIGTERM is killed before the stop deadline.
	n.must(t, 0, "start")
	n.must(t, 0, "promote")
	pid = n.serverPid(t)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	r := n.must(t, 0, "stop", "CRM_meta_timeout=10000")
	if !galerasolo.Gone(pid) {
		t.Fatalf("stop returned 0 while the stopped server pid %d is still there", pid)
	}
	if r.Took >= 10*time.Second {
		t.Fatalf("stop with a 10 s timeout took %s", r.Took)
	}
	t.Logf("stop of a SIGSTOPped server with a 10 s timeout took %s", r.Took.Round(time.Millisecond))
}

// TestComponentStopNeedsNoCheckCredentials: stop ends the server even when
// the file with the health-check credentials cannot be read; a failed stop
// gets the node fenced, and stopping needs no SQL.
func TestComponentStopNeedsNoCheckCredentials(t *testing.T) {
	n := newNode(t)
	n.must(t, 0, "start")
	n.must(t, 0, "promote")
	pid := n.serverPid(t)
	missing := "check_defaults_file=" + filepath.Join(n.dir, "removed-check.cnf")
	r := n.agent(t, "stop", missing)
	if r.RC != 0 || !galerasolo.Gone(pid) {
		t.Fatalf("stop with an unreadable %s: got %v, server pid %d gone: %v; want rc=0 and the server gone", missing, r, pid, galerasolo.Gone(pid))
	}
}

// TestComponentStopSparesOtherMountNamespaces: a server in another mount
// namespace (a container) whose working directory has the same path as
// this resource's datadir is not this resource's server, and stop must
// leave it alone.
func TestComponentStopSparesOtherMountNamespaces(t *testing.T) {
	n := newNode(t)
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("component test: needs unshare(1) from util-linux")
	}
	// The decoy is sleep under the name mariadbd, its cwd a directory
	// mounted over the datadir's path in a mount namespace of its own.
	decoyDir, other := filepath.Join(n.dir, "decoy"), filepath.Join(n.dir, "other")
	for _, d := range []string{decoyDir, other} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("component test: needs sleep(1)")
	}
	decoy := filepath.Join(decoyDir, "mariadbd")
	if out, err := exec.Command("cp", sleep, decoy).CombinedOutput(); err != nil {
		t.Fatalf("copy sleep: %v\n%s", err, out)
	}
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c",
		`mount --bind "$1" "$2" && cd "$2" && exec "$3" 60`, "sh", other, n.datadir, decoy)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		<-exited
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
		if filepath.Base(exe) == "mariadbd" && cwd == n.datadir {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("decoy pid %d not in place: exe %q cwd %q", pid, exe, cwd)
		}
		time.Sleep(10 * time.Millisecond)
	}
	n.must(t, 0, "stop")
	select {
	case <-exited:
		t.Fatalf("stop ended pid %d, a mariadbd of another mount namespace whose cwd merely has the datadir's path", pid)
	default:
	}
}

// TestComponentValidate: validate-all refuses what cannot work.
func TestComponentValidate(t *testing.T) {
	n := newNode(t)
	n.must(t, 0, "validate-all")
	missing := filepath.Join(n.dir, "no-such-mariadbd")
	for _, c := range []struct {
		name   string
		param  string
		rc     int
		reason string
	}{
		{"mysqld_safe respawns", "binary=/usr/bin/mysqld_safe", 6, "mysqld_safe"},
		{"address without this node", fmt.Sprintf("wsrep_cluster_address=gcomm://not-%s:%d", n.host, n.galeraPort), 6, "not-" + n.host},
		{"missing binary", "binary=" + missing, 5, missing},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := n.agent(t, "validate-all", c.param)
			if r.RC != c.rc || !strings.Contains(r.Stderr, "ocf-exit-reason:") || !strings.Contains(r.Stderr, c.reason) {
				t.Fatalf("validate-all %s: got %v\nwant rc=%d and an exit reason naming %q", c.param, r, c.rc, c.reason)
			}
		})
	}
}

// TestComponentMonitorRoles: monitor tells stopped, unpromoted, promoted
// and a promoted instance whose server died apart.
func TestComponentMonitorRoles(t *testing.T) {
	n := newNode(t)
	probe := []string{"CRM_meta_interval=0"}
	unpromoted := []string{"CRM_meta_interval=20000"}
	promoted := []string{"CRM_meta_interval=5000"}

	n.must(t, 7, "monitor", probe...)
	n.must(t, 0, "start")
	n.must(t, 0, "monitor", probe...)
	n.must(t, 0, "monitor", unpromoted...)
	n.must(t, 0, "promote")
	n.must(t, 8, "monitor", probe...)
	n.must(t, 8, "monitor", promoted...)
	n.crash(t)
	r := n.must(t, 1, "monitor", promoted...)
	if !strings.Contains(r.Stderr, "ocf-exit-reason:") {
		t.Fatalf("monitor of a crashed promoted instance gave no exit reason: %v", r)
	}
	n.must(t, 0, "stop")
	n.must(t, 7, "monitor", probe...)
}

// TestComponentHealthCheck asks goha galera-health's handler about a real
// server: 200 while it is promoted (Primary, Synced), 503 once it is gone.
func TestComponentHealthCheck(t *testing.T) {
	n := newNode(t)
	check := HealthCheck{Status: Client{Socket: n.socket, Creds: mariadb.Credentials{User: "root"}}.Wsrep}
	ask := func() (int, string) {
		rec := httptest.NewRecorder()
		check.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		return rec.Code, rec.Body.String()
	}
	n.must(t, 0, "start")
	if code, body := ask(); code != http.StatusServiceUnavailable {
		t.Fatalf("unpromoted (no server): %d %q, want 503", code, body)
	}
	n.must(t, 0, "promote")
	if code, body := ask(); code != http.StatusOK || !strings.Contains(body, "Primary, Synced") {
		t.Fatalf("promoted: %d %q, want 200 Primary, Synced", code, body)
	}
	n.must(t, 0, "demote")
	if code, body := ask(); code != http.StatusServiceUnavailable {
		t.Fatalf("demoted: %d %q, want 503", code, body)
	}
	n.must(t, 0, "stop")
}
