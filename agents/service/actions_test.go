package service

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/goha-ha/goha/ocf"
)

// fakeUnit is one unit of fakeSystemd and how it behaves.
type fakeUnit struct {
	UnitState
	startResult string // job result of a start; "" means done
	failAfter   bool   // a start job is done but the unit fails at once
	stopHangs   bool   // the stop job never finishes (SIGTERM ignored)
	survivors   bool   // processes stay in the cgroup after the stop job
}

// fakeSystemd is an in-memory systemd.
type fakeSystemd struct {
	mu     sync.Mutex
	units  map[string]*fakeUnit
	calls  []string
	dialed []string
}

func (f *fakeSystemd) dial(ctx context.Context, address string) (manager, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dialed = append(f.dialed, address)
	if address == "unix:path=/nonexistent" {
		return nil, errors.New("connect to systemd at unix:path=/nonexistent: no such file or directory")
	}
	return f, nil
}

func (f *fakeSystemd) Close() {}

func (f *fakeSystemd) unit(name string) *fakeUnit {
	u, ok := f.units[name]
	if !ok {
		u = &fakeUnit{UnitState: UnitState{LoadState: "not-found", ActiveState: "inactive", SubState: "dead"}}
		f.units[name] = u
	}
	return u
}

func (f *fakeSystemd) State(ctx context.Context, name string) (UnitState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.unit(name).UnitState, nil
}

func (f *fakeSystemd) Start(ctx context.Context, name string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "start "+name)
	u := f.unit(name)
	if u.startResult != "" {
		u.ActiveState, u.SubState, u.Result, u.ExecMainCode, u.ExecMainStatus = "failed", "failed", "exit-code", 1, 4
		return u.startResult, nil
	}
	if u.failAfter {
		u.ActiveState, u.SubState, u.Result, u.ExecMainCode, u.ExecMainStatus = "failed", "failed", "exit-code", 1, 1
		return "done", nil
	}
	if u.ActiveState != "active" {
		u.ActiveState, u.SubState, u.MainPID, u.ControlGroup = "active", "running", 42, "/system.slice/"+name
	}
	return "done", nil
}

func (f *fakeSystemd) Stop(ctx context.Context, name string) (string, error) {
	f.mu.Lock()
	f.calls = append(f.calls, "stop "+name)
	u := f.unit(name)
	if u.stopHangs {
		u.ActiveState, u.SubState = "deactivating", "stop-sigterm"
		f.mu.Unlock()
		<-ctx.Done()
		return "", ctx.Err()
	}
	defer f.mu.Unlock()
	u.ActiveState, u.SubState, u.MainPID, u.NRestarts = "inactive", "dead", 0, 0
	if !u.survivors {
		u.ControlGroup = ""
	}
	return "done", nil
}

func (f *fakeSystemd) ResetFailed(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "reset-failed "+name)
	u := f.unit(name)
	if u.ActiveState == "failed" {
		u.ActiveState, u.SubState = "inactive", "dead"
	}
	u.Result, u.NRestarts = "success", 0
	return nil
}

func (f *fakeSystemd) KillAll(ctx context.Context, name string, sig syscall.Signal) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "kill "+name+" "+sig.String())
	u := f.unit(name)
	if sig == syscall.SIGKILL {
		u.ActiveState, u.SubState, u.MainPID, u.ControlGroup = "inactive", "dead", 0, ""
	}
	return nil
}

// fakeChecks passes or fails every check as told.
type fakeChecks struct {
	mu    sync.Mutex
	fail  error
	ran   int
	heals int // checks fail this many times, then pass
}

func (f *fakeChecks) Check(ctx context.Context, c Checks) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ran++
	if f.heals > 0 {
		f.heals--
		return errors.New("tcp_port 127.0.0.1:11211: connection refused")
	}
	return f.fail
}

type harness struct {
	sd     *fakeSystemd
	checks *fakeChecks
	agent  *ocf.Agent
	dir    string
}

func newHarness(t *testing.T, units map[string]*fakeUnit) *harness {
	h := &harness{sd: &fakeSystemd{units: units}, checks: &fakeChecks{}, dir: t.TempDir()}
	h.agent = newAgent(&actions{dial: h.sd.dial, checks: h.checks, getenv: func(k string) string {
		if k == "HA_RSCTMP" {
			return h.dir
		}
		return ""
	}})
	return h
}

func loaded(active string) *fakeUnit {
	u := &fakeUnit{UnitState: UnitState{LoadState: "loaded", ActiveState: active, SubState: "dead", Restart: "always"}}
	if active == "active" {
		u.SubState, u.MainPID, u.ControlGroup = "running", 7, "/system.slice/app.service"
	}
	return u
}

// run performs action with params (NAME=VALUE, OCF_RESKEY_ added) and
// returns the status and stderr.
func (h *harness) run(action string, params ...string) (ocf.Status, string) {
	env := []string{"OCF_RESOURCE_INSTANCE=app"}
	for _, p := range params {
		if strings.HasPrefix(p, "CRM_meta_") || strings.Contains(p, "=") && !strings.HasPrefix(p, "OCF_") {
			p = "OCF_RESKEY_" + p
		}
		env = append(env, p)
	}
	var stderr bytes.Buffer
	st := h.agent.Run(context.Background(), action, ocf.System{
		Environ: env, Getenv: func(string) string { return "" }, Stdout: &bytes.Buffer{}, Stderr: &stderr, NoLock: true,
	})
	return st, stderr.String()
}

func (h *harness) expect(t *testing.T, what string, want ocf.Status, reason string, action string, params ...string) string {
	t.Helper()
	st, out := h.run(action, params...)
	if st != want || !strings.Contains(out, reason) {
		t.Fatalf("%s: got %v\n%s\nwant %v with %q", what, st, out, want, reason)
	}
	return out
}

func TestStartMonitorStop(t *testing.T) {
	h := newHarness(t, map[string]*fakeUnit{"app.service": loaded("inactive")})
	h.expect(t, "probe", ocf.NotRunning, "", "monitor", "unit=app")
	h.expect(t, "start", ocf.Success, "unit app.service started", "start", "unit=app")
	h.expect(t, "monitor", ocf.Success, "", "monitor", "unit=app", "CRM_meta_interval=10000")
	baseline := filepath.Join(h.dir, "goha-service-app.restarts")
	if b, err := os.ReadFile(baseline); err != nil || string(b) != "app.service 0\n" {
		t.Fatalf("baseline file: %q, %v", b, err)
	}

	h.sd.units["app.service"].NRestarts = 2
	h.expect(t, "monitor after restarts", ocf.ErrGeneric, "systemd restarted unit app.service 2 times", "monitor", "unit=app")
	h.expect(t, "monitor tolerating them", ocf.Success, "", "monitor", "unit=app", "max_restarts=2")

	h.checks.fail = errors.New("http_url http://127.0.0.1/: status 503, want 200-399")
	h.expect(t, "monitor with a failing check", ocf.ErrGeneric, "unit app.service is active but http_url http://127.0.0.1/: status 503",
		"monitor", "unit=app", "max_restarts=5", "http_url=http://127.0.0.1/")
	h.checks.fail = nil

	h.expect(t, "stop", ocf.Success, "unit app.service is stopped", "stop", "unit=app")
	if _, err := os.Stat(baseline); !os.IsNotExist(err) {
		t.Fatalf("stop left the baseline file: %v", err)
	}
	h.expect(t, "monitor after stop", ocf.NotRunning, "unit app.service is inactive", "monitor", "unit=app", "CRM_meta_interval=10000")
	h.sd.calls = nil
	h.expect(t, "stop again", ocf.Success, "", "stop", "unit=app")
	if len(h.sd.calls) != 0 {
		t.Fatalf("a second stop asked systemd for %v", h.sd.calls)
	}
}

func TestStartResetsAFailedUnit(t *testing.T) {
	u := loaded("failed")
	u.Result, u.NRestarts = "start-limit-hit", 5
	h := newHarness(t, map[string]*fakeUnit{"app.service": u})
	h.expect(t, "start", ocf.Success, "", "start", "unit=app")
	if strings.Join(h.sd.calls, ",") != "reset-failed app.service,start app.service" {
		t.Fatalf("calls %v", h.sd.calls)
	}
}

func TestStartWaitsForChecks(t *testing.T) {
	h := newHarness(t, map[string]*fakeUnit{"app.service": loaded("inactive")})
	h.checks.heals = 3
	h.expect(t, "start", ocf.Success, "passed its health checks (try 4)", "start", "unit=app", "tcp_port=11211")

	h = newHarness(t, map[string]*fakeUnit{"app.service": loaded("inactive")})
	h.checks.fail = errors.New("tcp_port 127.0.0.1:11211: connection refused")
	start := time.Now()
	h.expect(t, "start whose checks never pass", ocf.ErrGeneric,
		"unit app.service is active but did not pass its health checks within the start timeout: tcp_port 127.0.0.1:11211: connection refused",
		"start", "unit=app", "tcp_port=11211", "CRM_meta_timeout=2000")
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("start overran its timeout: %s", took)
	}
}

func TestStartFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		u      *fakeUnit
		want   ocf.Status
		reason string
	}{
		{"job failed", &fakeUnit{UnitState: UnitState{LoadState: "loaded", ActiveState: "inactive"}, startResult: "failed"},
			ocf.ErrGeneric, `systemd's start job for app.service ended with "failed": the unit its main process exited with status 4`},
		{"dependency", &fakeUnit{UnitState: UnitState{LoadState: "loaded", ActiveState: "inactive"}, startResult: "dependency"},
			ocf.ErrGeneric, `ended with "dependency"`},
		{"fails right after the job", &fakeUnit{UnitState: UnitState{LoadState: "loaded", ActiveState: "inactive"}, failAfter: true},
			ocf.ErrGeneric, "unit app.service is failed/failed after its start job: its main process exited with status 1"},
		{"not installed", nil, ocf.ErrInstalled, "parameter unit: systemd has no unit app.service on this node"},
		{"masked", &fakeUnit{UnitState: UnitState{LoadState: "masked", ActiveState: "inactive"}}, ocf.ErrInstalled, "is masked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			units := map[string]*fakeUnit{}
			if tc.u != nil {
				units["app.service"] = tc.u
			}
			h := newHarness(t, units)
			h.expect(t, "start", tc.want, tc.reason, "start", "unit=app")
		})
	}
	h := newHarness(t, map[string]*fakeUnit{})
	h.expect(t, "start without unit", ocf.ErrConfigured, "parameter unit is required", "start")
	h.expect(t, "probe without unit", ocf.NotRunning, "", "monitor")
	h.expect(t, "stop without unit", ocf.Success, "", "stop")
	h.expect(t, "monitor without a bus", ocf.ErrGeneric, "connect to systemd at unix:path=/nonexistent", "monitor",
		"unit=app", "bus_address=unix:path=/nonexistent")
	h.expect(t, "stop without a bus", ocf.ErrGeneric, "connect to systemd", "stop", "unit=app", "bus_address=unix:path=/nonexistent")
}

func TestStopEscalates(t *testing.T) {
	u := loaded("active")
	u.stopHangs = true
	h := newHarness(t, map[string]*fakeUnit{"app.service": u})
	start := time.Now()
	h.expect(t, "stop of a unit that ignores SIGTERM", ocf.Success, "sending SIGKILL", "stop", "unit=app", "CRM_meta_timeout=4000")
	if took := time.Since(start); took > 4*time.Second || took < time.Second {
		t.Fatalf("stop took %s; want it to wait for the job, then kill, within 4 s", took)
	}
	if last := h.sd.calls[len(h.sd.calls)-1]; last != "kill app.service killed" {
		t.Fatalf("calls %v", h.sd.calls)
	}

	u = loaded("active")
	u.survivors = true
	h = newHarness(t, map[string]*fakeUnit{"app.service": u})
	h.expect(t, "stop that leaves processes behind", ocf.Success, "is inactive/dead after stop", "stop", "unit=app")
	if s := h.sd.units["app.service"]; s.ControlGroup != "" {
		t.Fatalf("stop left processes in %s", s.ControlGroup)
	}
}

func TestValidate(t *testing.T) {
	h := newHarness(t, map[string]*fakeUnit{})
	h.expect(t, "validate", ocf.Success, "", "validate-all", "preset=memcached")
	h.expect(t, "missing exec program", ocf.ErrInstalled, "parameter exec: /nonexistent/x is not an executable file", "validate-all",
		"unit=app", "exec=/nonexistent/x")
	h.expect(t, "missing CA file", ocf.ErrInstalled, "parameter http_ca_file: cannot read", "validate-all",
		"unit=app", "http_url=https://h/", "http_ca_file=/nonexistent/ca.pem")
	h.expect(t, "unknown preset", ocf.ErrConfigured, "parameter preset must be one of", "validate-all", "preset=redis")
	if len(h.sd.dialed) != 0 {
		t.Fatalf("validate-all contacted systemd: %v", h.sd.dialed)
	}
}

func TestMetadata(t *testing.T) {
	var out bytes.Buffer
	if err := Agent().WriteMetadata(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<resource-agent name="service"`, `<parameter name="unit"`, `<parameter name="bus_address"`,
		`<parameter name="http_tls_verify"`, `<action name="monitor"`, "vprotect-server"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("meta-data lacks %s", want)
		}
	}
}
