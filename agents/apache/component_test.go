package apache

// Component test: the agent binary against Debian's real apache2 on
// loopback, with a minimal configuration of its own in a temporary
// directory (own ServerRoot, PidFile, ErrorLog, a free port). It needs
// root (apache starts as root and runs its workers as www-data), apache2
// with mod_status, and ocf-tester for the last step; without them it
// skips and says why. Every process it finds of its configuration it ends
// by pid.

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goha-ha/goha/internal/agenttest"

	"github.com/goha-ha/goha/internal/testbuild"
)

const (
	apacheBin  = "/usr/sbin/apache2"
	modulesDir = "/usr/lib/apache2/modules"
)

func requireApache(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("component test: skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("component test: needs root to start apache2, whose workers run as www-data")
	}
	for _, f := range []string{apacheBin, modulesDir + "/mod_mpm_event.so", modulesDir + "/mod_status.so", modulesDir + "/mod_authz_core.so", modulesDir + "/mod_authz_host.so"} {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("component test: needs %s (apt-get install apache2): %v", f, err)
		}
	}
	if _, err := user.Lookup("www-data"); err != nil {
		t.Skip("component test: needs the www-data user (apache2 package)")
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	agent.Remove()
	os.Exit(code)
}

// agent is the agent alone (agents/apache/internal/apachecmd), built once per run, so the
// test does not depend on the agent being registered in cmd/goha.
var agent = &testbuild.Once{Name: "apache", Pkg: "./agents/apache/internal/apachecmd"}

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

// site is one apache configuration of the test.
type site struct {
	dir, conf, pidFile, errorLog, envFile string
	port                                  int
}

// configText is a minimal server: its Listen comes from the envfile, to
// prove that apache and the agent both see the envfile's variables.
func (s *site) configText(extra string) string {
	return fmt.Sprintf(`ServerRoot %[1]s
ServerName localhost
Listen ${GOHA_TEST_LISTEN}
LoadModule mpm_event_module %[2]s/mod_mpm_event.so
LoadModule authz_core_module %[2]s/mod_authz_core.so
LoadModule authz_host_module %[2]s/mod_authz_host.so
LoadModule status_module %[2]s/mod_status.so
DefaultRuntimeDir %[1]s
PidFile %[1]s/httpd.pid
ErrorLog %[1]s/error.log
User www-data
Group www-data
StartServers 1
<IfModule status_module>
<Location "/server-status">
  SetHandler server-status
  Require local
</Location>
</IfModule>
%[3]s`, s.dir, modulesDir, extra)
}

func newSite(t *testing.T) *site {
	t.Helper()
	dir := t.TempDir()
	s := &site{dir: dir, conf: filepath.Join(dir, "httpd.conf"), pidFile: filepath.Join(dir, "httpd.pid"),
		errorLog: filepath.Join(dir, "error.log"), envFile: filepath.Join(dir, "envvars"), port: freePort(t)}
	env := fmt.Sprintf("# test envvars\nif [ -n \"$X\" ]; then\n  GOHA_TEST_LISTEN=wrong\nfi\nexport GOHA_TEST_LISTEN=127.0.0.1:%d\n", s.port)
	if err := os.WriteFile(s.envFile, []byte(env), 0o644); err != nil {
		t.Fatal(err)
	}
	s.write(t, "")
	t.Cleanup(func() { killLeftovers(t, s) })
	return s
}

func (s *site) write(t *testing.T, extra string) {
	t.Helper()
	if err := os.WriteFile(s.conf, []byte(s.configText(extra)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// processes lists the live processes whose command line names this
// site's configuration file, read from /proc independently of the agent.
func (s *site) processes(t *testing.T) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !bytes.Contains(raw, []byte("\x00"+s.conf+"\x00")) {
			continue
		}
		if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
				continue
			}
		}
		pids = append(pids, pid)
	}
	return pids
}

// killLeftovers ends, by pid, any process of the site the agent left.
func killLeftovers(t *testing.T, s *site) {
	for _, pid := range s.processes(t) {
		t.Errorf("apache pid %d of %s was left running; killing it", pid, s.conf)
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

func (s *site) params() []string {
	return []string{"configfile=" + s.conf, "envfiles=" + s.envFile}
}

func (s *site) run(t *testing.T, action string, extra ...string) agenttest.Result {
	t.Helper()
	env := agenttest.Env(s.dir, "web", append(s.params(), extra...)...)
	return agenttest.Run(t, 120*time.Second, env, agentBinary(t), action)
}

const recurring = "OCF_RESKEY_CRM_meta_interval=10000"

// parentPid reads the site's pid file and checks the process.
func (s *site) parentPid(t *testing.T) int {
	t.Helper()
	raw, err := os.ReadFile(s.pidFile)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatalf("pid file holds %q", raw)
	}
	return pid
}

func (s *site) expectGone(t *testing.T, what string) {
	t.Helper()
	if left := s.processes(t); len(left) != 0 {
		t.Fatalf("%s: apache processes of %s still run: %v", what, s.conf, left)
	}
}

func TestComponentApache(t *testing.T) {
	requireApache(t)
	agentBinary(t)

	t.Run("validate-all", func(t *testing.T) {
		s := newSite(t)
		agenttest.Expect(t, "validate-all", s.run(t, "validate-all"), 0, "")
		agenttest.Expect(t, "validate-all without the program", s.run(t, "validate-all", "httpd=/nonexistent/apache2"), 5, "does not exist")
		agenttest.Expect(t, "validate-all without the configuration", s.run(t, "validate-all", "configfile="+s.dir+"/none.conf"), 5, "does not exist")
		agenttest.Expect(t, "validate-all with -k in options", s.run(t, "validate-all", "options=-k stop"), 6, "parameter options has -k")
		agenttest.Expect(t, "validate-all with testurl alone", s.run(t, "validate-all", "testurl=/x"), 6, "parameter testregex10 is required")
		agenttest.Expect(t, "validate-all with a bad regex", s.run(t, "validate-all", "testregex=("), 6, "parameter testregex")
		s.write(t, "Bogus directive\n")
		agenttest.Expect(t, "validate-all with a bad configuration", s.run(t, "validate-all"), 6, "Invalid command 'Bogus'")
	})

	t.Run("bad-config", func(t *testing.T) {
		s := newSite(t)
		s.write(t, "Bogus directive\n")
		agenttest.Expect(t, "probe", s.run(t, "monitor"), 7, "")
		agenttest.Expect(t, "start with a bad configuration", s.run(t, "start"), 6, "Invalid command 'Bogus'")
		s.expectGone(t, "failed start")
		// Without the status Location the URL cannot be derived.
		os.WriteFile(s.conf, []byte(strings.Replace(s.configText(""), "SetHandler server-status", "", 1)), 0o644)
		agenttest.Expect(t, "start without a status page", s.run(t, "start"), 6, "has no <Location> with SetHandler server-status")
		s.expectGone(t, "failed start")
		agenttest.Expect(t, "stop", s.run(t, "stop"), 0, "")
	})

	t.Run("start-monitor-reload-stop", func(t *testing.T) {
		s := newSite(t)
		agenttest.Expect(t, "probe before start", s.run(t, "monitor"), 7, "")
		agenttest.Expect(t, "monitor before start", s.run(t, "monitor", recurring), 7, "not running")
		agenttest.Expect(t, "start", s.run(t, "start"), 0, "")
		pid := s.parentPid(t)
		procs := s.processes(t)
		if len(procs) < 2 {
			t.Fatalf("apache processes after start: %v, want a parent and workers", procs)
		}
		for _, p := range procs {
			st, err := os.Stat(fmt.Sprintf("/proc/%d", p))
			if err != nil {
				continue
			}
			if uid := st.Sys().(*syscall.Stat_t).Uid; (p == pid) != (uid == 0) {
				t.Errorf("pid %d runs as uid %d (parent %d): want the parent root and workers www-data", p, uid, pid)
			}
		}
		agenttest.Expect(t, "monitor", s.run(t, "monitor", recurring), 0, "")
		agenttest.Expect(t, "probe", s.run(t, "monitor"), 0, "")
		agenttest.Expect(t, "depth 10", s.run(t, "monitor", recurring, "OCF_CHECK_LEVEL=10",
			"testurl=/server-status?auto", "testregex10=^ServerUptimeSeconds: [0-9]+"), 0, "")
		agenttest.Expect(t, "depth 10 with a page that does not match", s.run(t, "monitor", recurring, "OCF_CHECK_LEVEL=10",
			"testurl=/server-status?auto", "testregex10=no such text"), 1, "does not match testregex10")
		agenttest.Expect(t, "status URL answering 404", s.run(t, "monitor", recurring,
			fmt.Sprintf("statusurl=http://127.0.0.1:%d/no-such-page", s.port)), 1, "answered 404 Not Found, not 200 OK")
		agenttest.Expect(t, "testregex that does not match", s.run(t, "monitor", recurring, "testregex=no such text"),
			1, "does not match testregex \"no such text\"")
		refused := fmt.Sprintf("http://127.0.0.1:%d/server-status", freePort(t))
		agenttest.Expect(t, "status URL refusing connections", s.run(t, "monitor", recurring, "statusurl="+refused), 1, "connection refused")

		agenttest.Expect(t, "second start", s.run(t, "start"), 0, "already runs")
		if again := s.parentPid(t); again != pid {
			t.Fatalf("second start changed the parent: %d, was %d", again, pid)
		}

		// A bad configuration never replaces the running one.
		s.write(t, "Bogus directive\n")
		agenttest.Expect(t, "reload of a bad configuration", s.run(t, "reload"), 6, "the running server keeps its configuration")
		agenttest.Expect(t, "monitor after the refused reload", s.run(t, "monitor", recurring), 0, "")
		// A good one is applied: a second Listen answers after reload.
		port2 := freePort(t)
		s.write(t, fmt.Sprintf("Listen 127.0.0.1:%d\n", port2))
		agenttest.Expect(t, "reload", s.run(t, "reload"), 0, "graceful restart")
		if again := s.parentPid(t); again != pid {
			t.Fatalf("reload changed the parent: %d, was %d", again, pid)
		}
		agenttest.Expect(t, "monitor of the reloaded listener", s.run(t, "monitor", recurring,
			fmt.Sprintf("statusurl=http://127.0.0.1:%d/server-status", port2)), 0, "")

		r := s.run(t, "stop")
		agenttest.Expect(t, "stop", r, 0, "graceful stop")
		s.expectGone(t, "stop")
		if _, err := os.Stat(s.pidFile); err == nil {
			t.Errorf("pid file %s left after stop", s.pidFile)
		}
		agenttest.Expect(t, "monitor after stop", s.run(t, "monitor", recurring), 7, "not running")
		agenttest.Expect(t, "probe after stop", s.run(t, "monitor"), 7, "")
		agenttest.Expect(t, "second stop", s.run(t, "stop"), 0, "")
	})

	t.Run("parent-killed", func(t *testing.T) {
		s := newSite(t)
		agenttest.Expect(t, "start", s.run(t, "start"), 0, "")
		pid := s.parentPid(t)
		syscall.Kill(pid, syscall.SIGKILL)
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
				break
			}
		}
		// Its workers may outlive it for a moment; either way it is broken.
		r := s.run(t, "monitor", recurring)
		if r.RC != 1 || !(strings.Contains(r.Stderr, "is gone without removing its pid file") || strings.Contains(r.Stderr, "parent process is gone")) {
			t.Fatalf("monitor after kill -9 of the parent: %v", r)
		}
		t.Logf("monitor after kill -9: rc=%d: %s", r.RC, strings.TrimSpace(r.Stderr))
		agenttest.Expect(t, "stop after kill -9", s.run(t, "stop"), 0, "")
		s.expectGone(t, "stop after kill -9")
		agenttest.Expect(t, "monitor after stop", s.run(t, "monitor", recurring), 7, "not running")
	})

	t.Run("started-outside-the-agent", func(t *testing.T) {
		s := newSite(t)
		// As an administrator would before handing it to the cluster.
		cmd := exec.Command(apacheBin, "-f", s.conf, "-k", "start")
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", fmt.Sprintf("GOHA_TEST_LISTEN=127.0.0.1:%d", s.port)}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("apache2 -k start: %v\n%s", err, out)
		}
		var pid int
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end) && pid == 0; time.Sleep(50 * time.Millisecond) {
			if raw, err := os.ReadFile(s.pidFile); err == nil {
				pid, _ = strconv.Atoi(strings.TrimSpace(string(raw)))
			}
		}
		if pid == 0 {
			t.Fatal("apache started by hand wrote no pid file")
		}
		agenttest.Expect(t, "probe of an apache started by hand", s.run(t, "monitor"), 0, "")
		agenttest.Expect(t, "start finds it", s.run(t, "start"), 0, "already runs")
		agenttest.Expect(t, "stop", s.run(t, "stop"), 0, "graceful stop")
		s.expectGone(t, "stop")
	})

	t.Run("port-in-use", func(t *testing.T) {
		s := newSite(t)
		busy, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", s.port))
		if err != nil {
			t.Fatal(err)
		}
		defer busy.Close()
		r := s.run(t, "start")
		agenttest.Expect(t, "start on a port in use", r, 1, "Address already in use")
		t.Logf("reason: %s", strings.TrimSpace(r.Stderr))
		s.expectGone(t, "failed start")
	})

	t.Run("ocf-tester", func(t *testing.T) {
		tester, err := exec.LookPath("ocf-tester")
		if err != nil {
			t.Skip("ocf-tester (resource-agents) is not installed")
		}
		s := newSite(t)
		args := []string{"-n", "web"}
		for _, p := range s.params() {
			args = append(args, "-o", p)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, tester, append(args, agentBinary(t))...)
		cmd.Env = append(os.Environ(), "HA_RSCTMP="+s.dir)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "passed all tests") {
			t.Errorf("ocf-tester: %v\n%s", err, out)
		}
		s.expectGone(t, "ocf-tester")
	})
}
