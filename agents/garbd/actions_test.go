package garbd

import (
	"github.com/goha-ha/goha/internal/proc"

	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/goha-ha/goha/ocf"
)

// fakeProc is one process of fakeSystem.
type fakeProc struct {
	argv       []string
	alive      bool
	ignoreTerm bool // survives SIGTERM
	unkillable bool // survives SIGKILL too (stuck in D state)
	signals    []syscall.Signal
}

// fakeSystem is an in-memory process table; a launched garbd "logs" the
// lines of script to the log file at once and then lives or exits.
type fakeSystem struct {
	mu      sync.Mutex
	procs   map[int]*fakeProc
	nextPid int
	script  []string // what a launched garbd writes to its log
	exits   bool     // a launched garbd exits after writing script
	launchs int
}

func newFakeSystem() *fakeSystem { return &fakeSystem{procs: map[int]*fakeProc{}, nextPid: 1000} }

func (f *fakeSystem) Cmdline(pid int) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.procs[pid]
	if !ok || !p.alive {
		return nil, errGone
	}
	return p.argv, nil
}

func (f *fakeSystem) Find(match func([]string) bool) ([]int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var pids []int
	for pid, p := range f.procs {
		if p.alive && match(p.argv) {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids, nil
}

func (f *fakeSystem) Signal(pid int, sig syscall.Signal) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.procs[pid]
	if !ok || !p.alive {
		return errGone
	}
	p.signals = append(p.signals, sig)
	switch {
	case sig == syscall.SIGKILL && !p.unkillable:
		p.alive = false
	case sig == syscall.SIGTERM && !p.ignoreTerm && !p.unkillable:
		p.alive = false
	}
	return nil
}

func (f *fakeSystem) spawn(argv []string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextPid++
	f.procs[f.nextPid] = &fakeProc{argv: argv, alive: true}
	return f.nextPid
}

func (f *fakeSystem) Launch(c Config) (*launched, error) {
	log, err := os.OpenFile(c.Log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	offset, _ := log.Seek(0, io.SeekEnd)
	for _, l := range f.script {
		io.WriteString(log, l+"\n")
	}
	f.launchs++
	pid := f.spawn(c.Argv())
	done := make(chan struct{})
	l := &launched{Pid: pid, LogOffset: offset, Exited: done, ExitErr: new(error)}
	if f.exits {
		f.procs[pid].alive = false
		*l.ExitErr = errors.New("exit status 1")
		close(done)
	}
	return l, nil
}

func (f *fakeSystem) OpenLog(pid int, path string) (io.ReadSeekCloser, error) { return os.Open(path) }

func (f *fakeSystem) proc(pid int) *fakeProc {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.procs[pid]
}

const (
	address = "gcomm://10.0.0.1,10.0.0.2"
	cluster = "prod"
)

var joinScript = []string{
	"2026-11-23 12:00:00.000  INFO: Read config: ",
	"2026-11-23 12:00:01.000  INFO: gcomm: connected",
	"2026-11-23 12:00:01.100  INFO: New COMPONENT: primary = yes, bootstrap = no, my_idx = 1, memb_num = 3",
	"2026-11-23 12:00:01.200  INFO: Shifting JOINED -> SYNCED (TO: 2)",
}

var refusedScript = []string{
	"2026-11-23 12:00:00.000  INFO: Read config: ",
	"2026-11-23 12:00:00.500  INFO: Failed to establish connection: Connection refused",
	"2026-11-23 12:00:30.000 ERROR: failed to open gcomm backend connection: 110: failed to reach primary view",
}

// harness runs actions against a fakeSystem in a temporary HA_RSCTMP.
type harness struct {
	t   *testing.T
	sys *fakeSystem
	dir string
	a   *ocf.Agent
	log string
	bin string // an executable named garbd, for validate-all
}

func newHarness(t *testing.T) *harness {
	dir := t.TempDir()
	sys := newFakeSystem()
	act := &actions{sys: sys, getenv: func(k string) string {
		if k == "HA_RSCTMP" {
			return dir
		}
		return ""
	}}
	bin := filepath.Join(dir, "bin", "garbd")
	os.Mkdir(filepath.Dir(bin), 0o755)
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, sys: sys, dir: dir, a: newAgent(act), log: filepath.Join(dir, "garbd.log"), bin: bin}
}

func (h *harness) pidFile() string { return filepath.Join(h.dir, "garbd-arb.pid") }

// run performs action and returns its status and stderr.
func (h *harness) run(action string, env ...string) (ocf.Status, string) {
	h.t.Helper()
	environ := append([]string{
		"OCF_RESOURCE_INSTANCE=arb",
		"OCF_RESKEY_wsrep_cluster_address=" + address,
		"OCF_RESKEY_wsrep_cluster_name=" + cluster,
		"OCF_RESKEY_log=" + h.log,
		"OCF_RESKEY_binary=" + h.bin,
		"OCF_RESKEY_stop_grace=1",
	}, env...)
	var stderr bytes.Buffer
	lookup := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		lookup[k] = v
	}
	st := h.a.Run(context.Background(), action, ocf.System{
		Environ: environ, Getenv: func(k string) string { return lookup[k] },
		Stdout: io.Discard, Stderr: &stderr, NoLock: true,
	})
	return st, stderr.String()
}

func (h *harness) expect(what string, action string, want ocf.Status, reason string, env ...string) {
	h.t.Helper()
	got, stderr := h.run(action, env...)
	if got != want || !strings.Contains(stderr, reason) {
		h.t.Fatalf("%s: %v\n%s\nwant %v with %q", what, got, stderr, want, reason)
	}
}

func TestStartMonitorStop(t *testing.T) {
	h := newHarness(t)
	h.sys.script = joinScript
	h.expect("probe", "monitor", ocf.NotRunning, "")
	h.expect("start", "start", ocf.Success, "")
	h.expect("second start", "start", ocf.Success, "")
	if h.sys.launchs != 1 {
		t.Fatalf("two starts launched garbd %d times", h.sys.launchs)
	}
	h.expect("monitor", "monitor", ocf.Success, "", "OCF_RESKEY_CRM_meta_interval=10000")

	pid, _ := proc.ReadPidFile(h.pidFile())
	// garbd loses quorum: the next monitor reads only the new line.
	f, _ := os.OpenFile(h.log, os.O_WRONLY|os.O_APPEND, 0)
	io.WriteString(f, "2026-11-23 12:05:00.000  INFO: New COMPONENT: primary = no, bootstrap = no, my_idx = 0, memb_num = 1\n")
	f.Close()
	h.expect("monitor without quorum", "monitor", ocf.ErrGeneric, "non-Primary component of 1 member(s) since 2026-11-23 12:05:00.000",
		"OCF_RESKEY_CRM_meta_interval=10000")

	h.expect("stop", "stop", ocf.Success, "")
	if p := h.sys.proc(pid); p.alive || !slices.Equal(p.signals, []syscall.Signal{syscall.SIGTERM}) {
		t.Fatalf("garbd after stop: %+v", p)
	}
	for _, f := range []string{h.pidFile(), h.pidFile() + ".state"} {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after stop: %v", f, err)
		}
	}
	h.expect("monitor after stop", "monitor", ocf.NotRunning, "not running", "OCF_RESKEY_CRM_meta_interval=10000")
	h.expect("second stop", "stop", ocf.Success, "")
}

func TestStartFailures(t *testing.T) {
	t.Run("garbd exits", func(t *testing.T) {
		h := newHarness(t)
		h.sys.script, h.sys.exits = refusedScript, true
		h.expect("start", "start", ocf.ErrGeneric,
			"garbd exited before joining cluster \"prod\" at gcomm://10.0.0.1,10.0.0.2: failed to open gcomm backend connection: 110: failed to reach primary view; Failed to establish connection: Connection refused")
		if _, err := os.Stat(h.pidFile()); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("pid file left after a failed start: %v", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		h := newHarness(t)
		h.sys.script = refusedScript[:2]
		begin := time.Now()
		h.expect("start", "start", ocf.ErrGeneric, "within the start timeout: Failed to establish connection: Connection refused; stopped it",
			"OCF_RESKEY_CRM_meta_timeout=2500")
		if d := time.Since(begin); d > 2500*time.Millisecond {
			t.Errorf("start took %s, longer than its timeout", d)
		}
		if pids, _ := h.sys.Find(func([]string) bool { return true }); len(pids) != 0 {
			t.Errorf("garbd %v left after a start that timed out", pids)
		}
	})
	t.Run("invalid", func(t *testing.T) {
		h := newHarness(t)
		h.expect("start", "start", ocf.ErrConfigured, "names no node", "OCF_RESKEY_wsrep_cluster_address=gcomm://")
		h.expect("start", "start", ocf.ErrInstalled, "does not exist", "OCF_RESKEY_binary=/nonexistent/garbd")
		if h.sys.launchs != 0 {
			t.Errorf("an invalid configuration launched garbd")
		}
	})
}

func TestStartAdoptsRunningGarbd(t *testing.T) {
	h := newHarness(t)
	os.WriteFile(h.log, []byte(strings.Join(joinScript, "\n")+"\n"), 0o640)
	pid := h.sys.spawn([]string{"/usr/sbin/garbd", "--address=" + address, "--group", cluster})
	h.expect("probe finds it", "monitor", ocf.Success, "")
	h.expect("start adopts it", "start", ocf.Success, "already runs as pid")
	if h.sys.launchs != 0 {
		t.Fatal("start launched a second garbd")
	}
	if got, _ := proc.ReadPidFile(h.pidFile()); got != pid {
		t.Fatalf("pid file names %d, want %d", got, pid)
	}
}

func TestStopFindsEveryGarbd(t *testing.T) {
	h := newHarness(t)
	ours := h.sys.spawn([]string{h.bin, "--address", address, "--group", cluster})
	leftover := h.sys.spawn([]string{"/usr/bin/garbd", "-a", address, "-g", cluster})
	otherCluster := h.sys.spawn([]string{"/usr/bin/garbd", "-a", address, "-g", "other"})
	proc.WritePidFile(h.pidFile(), ours)
	h.sys.proc(leftover).ignoreTerm = true
	begin := time.Now()
	h.expect("stop", "stop", ocf.Success, "")
	if d := time.Since(begin); d < time.Second || d > 3*time.Second {
		t.Errorf("stop took %s; want SIGKILL after stop_grace=1s", d)
	}
	if p := h.sys.proc(ours); p.alive {
		t.Error("the pid file's garbd survived stop")
	}
	if p := h.sys.proc(leftover); p.alive || !slices.Equal(p.signals, []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL}) {
		t.Errorf("leftover garbd: %+v, want SIGTERM then SIGKILL", p)
	}
	if p := h.sys.proc(otherCluster); !p.alive || len(p.signals) != 0 {
		t.Errorf("another cluster's garbd was touched: %+v", p)
	}
}

func TestStopFailsWhenGarbdSurvives(t *testing.T) {
	h := newHarness(t)
	pid := h.sys.spawn([]string{h.bin, "--address", address, "--group", cluster})
	proc.WritePidFile(h.pidFile(), pid)
	h.sys.proc(pid).unkillable = true
	h.expect("stop", "stop", ocf.ErrGeneric, "still runs after SIGKILL", "OCF_RESKEY_CRM_meta_timeout=3000")
	if _, err := os.Stat(h.pidFile()); err != nil {
		t.Errorf("a failed stop removed the pid file: %v", err)
	}
}

// TestStalePidFile: a pid file naming another program is not trusted.
func TestStalePidFile(t *testing.T) {
	h := newHarness(t)
	other := h.sys.spawn([]string{"/usr/sbin/sshd", "-D"})
	proc.WritePidFile(h.pidFile(), other)
	h.expect("probe", "monitor", ocf.NotRunning, "")
	h.expect("stop", "stop", ocf.Success, "")
	if p := h.sys.proc(other); !p.alive || len(p.signals) != 0 {
		t.Errorf("stop signalled the process a stale pid file names: %+v", p)
	}
}
