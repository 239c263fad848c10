package apache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/goha-ha/goha/internal/proc"
	"github.com/goha-ha/goha/ocf"
)

const fakeHttpd = "/usr/sbin/apache2"

// fakeProc is one process of fakeSystem.
type fakeProc struct {
	process
	ignoreWinch bool   // a graceful stop that never finishes
	usr1Fails   string // a graceful restart makes apache log this and exit
	signals     []syscall.Signal
}

// fakeSystem is an in-memory machine: a process table, a file system for
// the configuration, canned pages. Pid files are real files (the agent
// reads them with internal/proc), in a test directory.
type fakeSystem struct {
	mu         sync.Mutex
	files      fstest.MapFS
	procs      map[int]*fakeProc
	page       func(url string) (page, error)
	run        func(argv []string) ([]byte, error) // nil: success
	runs       [][]string
	terminated [][]int
	killAts    []time.Duration // killAt - now, per Terminate
}

func (f *fakeSystem) Files() fs.FS { return f.files }

func (f *fakeSystem) Process(pid int) (process, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.procs[pid]
	if !ok {
		return process{}, proc.ErrGone
	}
	return p.process, nil
}

func (f *fakeSystem) Processes() ([]process, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []process
	for _, p := range f.procs {
		out = append(out, p.process)
	}
	slices.SortFunc(out, func(a, b process) int { return a.Pid - b.Pid })
	return out, nil
}

func (f *fakeSystem) Run(ctx context.Context, argv, env []string) ([]byte, error) {
	f.mu.Lock()
	f.runs = append(f.runs, argv)
	run := f.run
	f.mu.Unlock()
	if run == nil {
		return nil, nil
	}
	return run(argv)
}

func (f *fakeSystem) Get(ctx context.Context, url string) (page, error) { return f.page(url) }

func (f *fakeSystem) Signal(pid int, sig syscall.Signal) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.procs[pid]
	if !ok {
		return proc.ErrGone
	}
	p.signals = append(p.signals, sig)
	if sig == syscall.SIGUSR1 && p.usr1Fails != "" {
		f.files["var/log/web.log"] = &fstest.MapFile{Data: []byte("old line\n" + p.usr1Fails + "\n")}
		f.procs = map[int]*fakeProc{}
	}
	if sig == syscall.SIGWINCH && !p.ignoreWinch {
		// A graceful stop: the parent's children go, then the parent.
		for cpid, c := range f.procs {
			if c.PPid == pid {
				delete(f.procs, cpid)
			}
		}
		delete(f.procs, pid)
	}
	return nil
}

func (f *fakeSystem) Terminate(ctx context.Context, pids []int, killAt time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.terminated = append(f.terminated, pids)
	f.killAts = append(f.killAts, time.Until(killAt))
	for _, pid := range pids {
		delete(f.procs, pid)
	}
	return nil
}

func (f *fakeSystem) MakeDirs(dirs []string, owner string) error { return nil }

func (f *fakeSystem) Remove(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func (f *fakeSystem) add(pid, ppid int, argv ...string) *fakeProc {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := &fakeProc{process: process{Pid: pid, PPid: ppid, Exe: fakeHttpd, Argv: argv}}
	f.procs[pid] = p
	return p
}

func (f *fakeSystem) pids() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []int
	for pid := range f.procs {
		out = append(out, pid)
	}
	slices.Sort(out)
	return out
}

// fixture is one resource over a fake system.
type fixture struct {
	sys     *fakeSystem
	dir     string // real: pid files
	conf    string
	pidFile string
	argv    []string // what an apache of this resource shows in /proc
}

func newFixture(t *testing.T) *fixture {
	dir := t.TempDir()
	fx := &fixture{dir: dir, conf: "/etc/web/httpd.conf", pidFile: filepath.Join(dir, "httpd.pid")}
	fx.argv = []string{fakeHttpd, "-DSTATUS", "-f", fx.conf, "-k", "start"}
	fx.sys = &fakeSystem{
		procs: map[int]*fakeProc{},
		files: fstest.MapFS{
			"usr/sbin/apache2": {Mode: 0o755},
			"etc/web/httpd.conf": {Data: []byte("ServerRoot /etc/web\nListen 127.0.0.1:8080\nPidFile " + fx.pidFile +
				"\nErrorLog /var/log/web.log\n<Location /server-status>\nSetHandler server-status\n</Location>\n")},
			"var/log/web.log": {Data: []byte("old line\n")},
		},
		page: func(url string) (page, error) {
			return page{Code: 200, Status: "200 OK", Body: []byte("<html>" + url + "</html>")}, nil
		},
	}
	return fx
}

// running makes an apache of the resource run: parent 100, workers 101, 102.
func (fx *fixture) running(t *testing.T) {
	fx.sys.add(100, 1, fx.argv...)
	fx.sys.add(101, 100, fx.argv...)
	fx.sys.add(102, 100, fx.argv...)
	fx.writePid(t, 100)
}

func (fx *fixture) writePid(t *testing.T, pid int) {
	if err := os.WriteFile(fx.pidFile, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// run performs action like Pacemaker would, with params NAME=VALUE.
func (fx *fixture) run(t *testing.T, action string, timeout time.Duration, params ...string) (ocf.Status, string) {
	t.Helper()
	env := []string{"OCF_RESOURCE_INSTANCE=web", "OCF_RESKEY_configfile=" + fx.conf, "OCF_RESKEY_envfiles=",
		fmt.Sprintf("OCF_RESKEY_CRM_meta_timeout=%d", timeout.Milliseconds())}
	for _, p := range params {
		if strings.HasPrefix(p, "OCF_") {
			env = append(env, p)
		} else {
			env = append(env, "OCF_RESKEY_"+p)
		}
	}
	a := &actions{sys: fx.sys, getenv: func(string) string { return fx.dir }, environ: func() []string { return nil }}
	var stderr bytes.Buffer
	status := newAgent(a).Run(context.Background(), action, ocf.System{
		Environ: env, Getenv: func(string) string { return "" }, Stdout: &bytes.Buffer{}, Stderr: &stderr, NoLock: true,
	})
	return status, stderr.String()
}

func want(t *testing.T, what string, status ocf.Status, out string, wantStatus ocf.Status, reason string) {
	t.Helper()
	if status != wantStatus || !strings.Contains(out, reason) {
		t.Fatalf("%s: status %d\n%s\nwant %d with %q", what, status, out, wantStatus, reason)
	}
}

const interval = "OCF_RESKEY_CRM_meta_interval=10000"

func TestMonitor(t *testing.T) {
	t.Run("stopped", func(t *testing.T) {
		fx := newFixture(t)
		st, out := fx.run(t, "monitor", 20*time.Second)
		want(t, "probe", st, out, ocf.NotRunning, "")
		if strings.Contains(out, "ocf-exit-reason") {
			t.Errorf("a probe of a stopped resource says %q", out)
		}
		st, out = fx.run(t, "monitor", 20*time.Second, interval)
		want(t, "monitor", st, out, ocf.NotRunning, "is not running")
	})
	t.Run("healthy", func(t *testing.T) {
		fx := newFixture(t)
		fx.running(t)
		var got []string
		fx.sys.page = func(url string) (page, error) {
			got = append(got, url)
			return page{Code: 200, Status: "200 OK", Body: []byte("<html>\nServerUptimeSeconds: 5\n</html>")}, nil
		}
		st, out := fx.run(t, "monitor", 20*time.Second, interval)
		want(t, "monitor", st, out, ocf.Success, "")
		st, out = fx.run(t, "monitor", 20*time.Second, interval, "OCF_CHECK_LEVEL=10", "testurl=/app", "testregex10=^serveruptimeseconds")
		want(t, "depth 10", st, out, ocf.Success, "")
		if w := []string{"http://127.0.0.1:8080/server-status", "http://127.0.0.1:8080/server-status", "http://127.0.0.1:8080/app"}; !slices.Equal(got, w) {
			t.Errorf("fetched %q, want %q", got, w)
		}
		if len(fx.sys.runs) != 0 {
			t.Errorf("monitor ran %q", fx.sys.runs)
		}
	})
	t.Run("status page problems", func(t *testing.T) {
		fx := newFixture(t)
		fx.running(t)
		fx.sys.page = func(string) (page, error) { return page{Code: 403, Status: "403 Forbidden"}, nil }
		st, out := fx.run(t, "monitor", 20*time.Second, interval)
		want(t, "403", st, out, ocf.ErrGeneric, "answered 403 Forbidden")
		fx.sys.page = func(string) (page, error) { return page{}, fmt.Errorf("dial: %w", syscall.ECONNREFUSED) }
		st, out = fx.run(t, "monitor", 20*time.Second, interval)
		want(t, "refused", st, out, ocf.ErrGeneric, "GET http://127.0.0.1:8080/server-status: connection refused")
	})
	t.Run("pid reused by another program", func(t *testing.T) {
		fx := newFixture(t)
		fx.writePid(t, 300)
		fx.sys.add(300, 1, "/usr/bin/sleep", "100").Exe = "/usr/bin/sleep"
		st, out := fx.run(t, "monitor", 20*time.Second)
		want(t, "probe", st, out, ocf.NotRunning, "")
		st, out = fx.run(t, "monitor", 20*time.Second, interval)
		want(t, "monitor", st, out, ocf.ErrGeneric, "is gone without removing its pid file")
	})
	t.Run("pid of an apache of another configuration", func(t *testing.T) {
		fx := newFixture(t)
		fx.writePid(t, 300)
		fx.sys.add(300, 1, fakeHttpd, "-f", "/etc/other.conf")
		st, out := fx.run(t, "monitor", 20*time.Second)
		want(t, "probe", st, out, ocf.NotRunning, "")
	})
	t.Run("workers without their parent", func(t *testing.T) {
		fx := newFixture(t)
		fx.sys.add(101, 1, fx.argv...)
		fx.sys.add(102, 1, fx.argv...)
		fx.sys.add(103, 1, fakeHttpd, "-f", "/etc/other.conf")
		st, out := fx.run(t, "monitor", 20*time.Second)
		want(t, "probe", st, out, ocf.ErrGeneric, "processes of /etc/web/httpd.conf remain (pid 101, 102)")
	})
	t.Run("no status location", func(t *testing.T) {
		fx := newFixture(t)
		fx.running(t)
		fx.sys.files["etc/web/httpd.conf"] = &fstest.MapFile{Data: []byte("Listen 80\nPidFile " + fx.pidFile + "\n")}
		st, out := fx.run(t, "monitor", 20*time.Second, interval)
		want(t, "monitor", st, out, ocf.ErrConfigured, "parameter statusurl is empty and /etc/web/httpd.conf has no <Location>")
		st, out = fx.run(t, "monitor", 20*time.Second, interval, "statusurl=http://127.0.0.1/s")
		want(t, "monitor with statusurl", st, out, ocf.Success, "")
	})
}

func TestStop(t *testing.T) {
	t.Run("graceful", func(t *testing.T) {
		fx := newFixture(t)
		fx.running(t)
		fx.sys.add(200, 1, "/usr/sbin/apache2", "-f", "/etc/other.conf")
		st, out := fx.run(t, "stop", 20*time.Second)
		want(t, "stop", st, out, ocf.Success, "graceful stop")
		if len(fx.sys.terminated) != 0 {
			t.Errorf("terminated %v after a graceful stop", fx.sys.terminated)
		}
		if left := fx.sys.pids(); !slices.Equal(left, []int{200}) {
			t.Errorf("processes left: %v, want only the other configuration's 200", left)
		}
		if _, err := os.Stat(fx.pidFile); err == nil {
			t.Error("pid file left")
		}
	})
	t.Run("graceful stop that does not finish", func(t *testing.T) {
		fx := newFixture(t)
		fx.running(t)
		fx.sys.procs[100].ignoreWinch = true
		begin := time.Now()
		st, out := fx.run(t, "stop", 4*time.Second)
		want(t, "stop", st, out, ocf.Success, "still runs: terminating it")
		// Half the timeout for the graceful stop, then the parent gets
		// SIGTERM with half of what is left before SIGKILL.
		if took := time.Since(begin); took < 1900*time.Millisecond || took > 3*time.Second {
			t.Errorf("stop took %s, want about half its 4s timeout", took)
		}
		if len(fx.sys.terminated) != 1 || !slices.Equal(fx.sys.terminated[0], []int{100, 101, 102}) {
			t.Fatalf("terminated %v", fx.sys.terminated)
		}
		if k := fx.sys.killAts[0]; k < 400*time.Millisecond || k > 600*time.Millisecond {
			t.Errorf("SIGKILL after %s, want half of the 2s left less the margin", k)
		}
	})
	t.Run("orphans get SIGKILL soon", func(t *testing.T) {
		fx := newFixture(t)
		fx.writePid(t, 100) // the parent was killed
		fx.sys.add(101, 1, fx.argv...)
		st, out := fx.run(t, "stop", 60*time.Second)
		want(t, "stop", st, out, ocf.Success, "")
		if len(fx.sys.terminated) != 1 || !slices.Equal(fx.sys.terminated[0], []int{101}) {
			t.Fatalf("terminated %v", fx.sys.terminated)
		}
		if k := fx.sys.killAts[0]; k > orphanGrace {
			t.Errorf("SIGKILL after %s for orphans", k)
		}
		if _, err := os.Stat(fx.pidFile); err == nil {
			t.Error("stale pid file left")
		}
	})
	t.Run("not running", func(t *testing.T) {
		fx := newFixture(t)
		st, out := fx.run(t, "stop", 20*time.Second)
		want(t, "stop", st, out, ocf.Success, "")
	})
}

func TestStart(t *testing.T) {
	t.Run("configtest fails", func(t *testing.T) {
		fx := newFixture(t)
		fx.sys.run = func(argv []string) ([]byte, error) {
			return []byte("AH00526: Syntax error on line 2 of /etc/web/httpd.conf:\nInvalid command 'Bogus'\n"), errors.New("exit status 1")
		}
		st, out := fx.run(t, "start", 20*time.Second)
		want(t, "start", st, out, ocf.ErrConfigured, "configtest of /etc/web/httpd.conf failed: AH00526: Syntax error on line 2 of /etc/web/httpd.conf: Invalid command 'Bogus'")
		if len(fx.sys.runs) != 1 || !slices.Equal(fx.sys.runs[0], []string{fakeHttpd, "-DSTATUS", "-f", fx.conf, "-t"}) {
			t.Errorf("ran %q", fx.sys.runs)
		}
	})
	t.Run("starts and waits for the status page", func(t *testing.T) {
		fx := newFixture(t)
		fx.sys.run = func(argv []string) ([]byte, error) {
			if slices.Contains(argv, "start") {
				fx.running(t)
			}
			return nil, nil
		}
		answers := 0
		fx.sys.page = func(url string) (page, error) {
			if answers++; answers < 3 {
				return page{}, syscall.ECONNREFUSED
			}
			return page{Code: 200, Status: "200 OK", Body: []byte("</html>")}, nil
		}
		st, out := fx.run(t, "start", 20*time.Second)
		want(t, "start", st, out, ocf.Success, "answers")
		if answers != 3 {
			t.Errorf("fetched %d times", answers)
		}
		if w := [][]string{{fakeHttpd, "-DSTATUS", "-f", fx.conf, "-t"}, {fakeHttpd, "-DSTATUS", "-f", fx.conf, "-k", "start"}}; !slices.EqualFunc(fx.sys.runs, w, slices.Equal) {
			t.Errorf("ran %q, want %q", fx.sys.runs, w)
		}
	})
	t.Run("apache exits after detaching", func(t *testing.T) {
		fx := newFixture(t)
		fx.sys.run = func(argv []string) ([]byte, error) {
			if slices.Contains(argv, "start") {
				fx.sys.files["var/log/web.log"] = &fstest.MapFile{Data: []byte("old line\n[x] [ssl:emerg] AH02572: Failed to configure at least one certificate\n")}
			}
			return nil, nil
		}
		st, out := fx.run(t, "start", 20*time.Second)
		want(t, "start", st, out, ocf.ErrGeneric, "apache exited during start: [x] [ssl:emerg] AH02572: Failed to configure at least one certificate (error log /var/log/web.log)")
	})
	t.Run("a status page that answers 404 fails start early and stops apache", func(t *testing.T) {
		fx := newFixture(t)
		fx.sys.run = func(argv []string) ([]byte, error) {
			if slices.Contains(argv, "start") {
				fx.running(t)
			}
			return nil, nil
		}
		fx.sys.page = func(string) (page, error) { return page{Code: 404, Status: "404 Not Found"}, nil }
		begin := time.Now()
		st, out := fx.run(t, "start", 40*time.Second)
		want(t, "start", st, out, ocf.ErrGeneric, "answered 404 Not Found, not 200 OK; stopped apache")
		if took := time.Since(begin); took > 3*time.Second {
			t.Errorf("start took %s to give up on a 404", took)
		}
		if left := fx.sys.pids(); len(left) != 0 {
			t.Errorf("left %v", left)
		}
	})
	t.Run("pid file directive when the configuration has none", func(t *testing.T) {
		fx := newFixture(t)
		fx.sys.files["etc/web/httpd.conf"] = &fstest.MapFile{Data: []byte("Listen 80\n<Location /s>\nSetHandler server-status\n</Location>\n")}
		fx.sys.run = func(argv []string) ([]byte, error) { return []byte("boom"), errors.New("exit status 1") }
		fx.run(t, "start", 20*time.Second)
		own := filepath.Join(fx.dir, "apache-web.pid")
		if w := []string{fakeHttpd, "-DSTATUS", "-f", fx.conf, "-c", fmt.Sprintf("PidFile %q", own), "-t"}; len(fx.sys.runs) == 0 || !slices.Equal(fx.sys.runs[0], w) {
			t.Errorf("ran %q, want %q", fx.sys.runs, w)
		}
	})
}

func TestReload(t *testing.T) {
	fx := newFixture(t)
	st, out := fx.run(t, "reload", 20*time.Second)
	want(t, "reload when stopped", st, out, ocf.NotRunning, "nothing to reload")
	fx.running(t)
	fx.sys.run = func(argv []string) ([]byte, error) { return []byte("AH00526: bad"), errors.New("exit status 1") }
	st, out = fx.run(t, "reload", 20*time.Second)
	want(t, "reload of a bad configuration", st, out, ocf.ErrConfigured, "AH00526: bad; the running server keeps its configuration")
	if s := fx.sys.procs[100].signals; len(s) != 0 {
		t.Fatalf("the parent got %v", s)
	}
	fx.sys.run = nil
	st, out = fx.run(t, "reload", 20*time.Second)
	want(t, "reload", st, out, ocf.Success, "")
	if s := fx.sys.procs[100].signals; !slices.Equal(s, []syscall.Signal{syscall.SIGUSR1}) {
		t.Fatalf("the parent got %v, want SIGUSR1", s)
	}
}

func TestReloadThatKillsApache(t *testing.T) {
	fx := newFixture(t)
	fx.running(t)
	fx.sys.procs[100].usr1Fails = "AH00072: make_sock: could not bind to address 127.0.0.1:8443"
	begin := time.Now()
	st, out := fx.run(t, "reload", 40*time.Second)
	want(t, "reload", st, out, ocf.ErrGeneric, "apache exited during its graceful restart: AH00072: make_sock: could not bind to address 127.0.0.1:8443 (error log /var/log/web.log)")
	if took := time.Since(begin); took > 2*time.Second {
		t.Errorf("reload took %s to see apache gone", took)
	}
}
