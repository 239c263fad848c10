package vdo

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/goha-ha/goha/ocf"
)

// fakeRunner answers commands with a function of their argv and keeps
// what was run.
type fakeRunner struct {
	mu     sync.Mutex
	calls  []string
	answer func(argv []string) ([]byte, error)
}

func (f *fakeRunner) Run(_ context.Context, argv []string) ([]byte, error) {
	f.mu.Lock()
	f.calls = append(f.calls, strings.Join(argv[1:], " "))
	f.mu.Unlock()
	return f.answer(argv)
}

// harness runs actions in-process over a fake runner and a sysfs tree in
// a temporary directory.
type harness struct {
	t      *testing.T
	sysfs  string
	run    *fakeRunner
	agent  *ocf.Agent
	params []string
}

func newHarness(t *testing.T, params ...string) *harness {
	dir := t.TempDir()
	h := &harness{t: t, sysfs: filepath.Join(dir, "sys"), run: &fakeRunner{}}
	if err := os.MkdirAll(filepath.Join(h.sysfs, "block"), 0o755); err != nil {
		t.Fatal(err)
	}
	services := filepath.Join(dir, "systemd")
	h.agent = newAgent(&actions{run: h.run, serviceDir: services})
	h.params = append([]string{"OCF_RESKEY_sysfs=" + h.sysfs, "OCF_RESKEY_vdo_binary=/bin/true", "OCF_RESKEY_lvm_binary=/bin/true"}, params...)
	return h
}

// device adds (or with present false removes) the dm device name.
func (h *harness) device(name string, present bool) {
	h.t.Helper()
	dir := filepath.Join(h.sysfs, "block", "dm-7")
	if !present {
		if err := os.RemoveAll(dir); err != nil {
			h.t.Fatal(err)
		}
		return
	}
	writeTree(h.t, h.sysfs, map[string]string{"block/dm-7/dm/name": name + "\n", "block/dm-7/dm/suspended": "0\n"})
}

func (h *harness) expect(what, action string, want ocf.Status, reason string, env ...string) {
	h.t.Helper()
	environ := append(append([]string{"OCF_RESOURCE_INSTANCE=v1"}, h.params...), env...)
	lookup := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		lookup[k] = v
	}
	var stderr bytes.Buffer
	got := h.agent.Run(context.Background(), action, ocf.System{
		Environ: environ, Getenv: func(k string) string { return lookup[k] },
		Stdout: io.Discard, Stderr: &stderr, NoLock: true,
	})
	if got != want || !strings.Contains(stderr.String(), reason) {
		h.t.Fatalf("%s: %v\n%s\nwant %v with %q (calls %q)", what, got, stderr.String(), want, reason, h.run.calls)
	}
}

const oneVolume = "VDOs:\n  v1:\n    Activate: enabled\n    Device mapper status: not available\n"

func TestValidateRejectsEnabledVdoService(t *testing.T) {
	h := newHarness(t, "OCF_RESKEY_volume=v1")
	h.expect("validate-all", "validate-all", ocf.Success, "")
	dir := filepath.Join(filepath.Dir(h.sysfs), "systemd", "multi-user.target.wants")
	writeTree(t, dir, map[string]string{"vdo.service": "->/lib/systemd/system/vdo.service"})
	h.expect("validate-all with vdo.service enabled", "validate-all", ocf.ErrConfigured, "the vdo systemd service is enabled")
	h.expect("start with vdo.service enabled", "start", ocf.ErrConfigured, "disable it")
	h.expect("an LVM volume ignores vdo.service", "validate-all", ocf.Success, "", "OCF_RESKEY_volume=", "OCF_RESKEY_vg=vg0", "OCF_RESKEY_lv=lv0")
}

func TestMonitorReadsModeFromDmsetup(t *testing.T) {
	h := newHarness(t, "OCF_RESKEY_volume=v1")
	h.device("v1", true)
	status := []byte("0 8 vdo /dev/sdb read-only - online online 1 2\n")
	var statusErr error
	h.run.answer = func(argv []string) ([]byte, error) { return status, statusErr }
	h.expect("read-only from dmsetup", "monitor", ocf.ErrGeneric, "read-only mode")
	status = []byte("0 8 vdo /dev/sdb normal - online online 1 2\n")
	h.expect("normal from dmsetup", "monitor", ocf.Success, "")
	status, statusErr = nil, &os.PathError{Op: "fork/exec", Path: "/usr/sbin/dmsetup", Err: os.ErrNotExist}
	h.expect("no dmsetup: mode unknown", "monitor", ocf.Success, "")
	statusErr = &commandError{Argv: []string{"/usr/sbin/dmsetup", "status"}, Code: 1, Stderr: "Device does not exist.\nCommand failed.\n", Err: errors.New("exit status 1")}
	h.expect("dmsetup fails", "monitor", ocf.ErrGeneric, "dmsetup status: exit status 1: Device does not exist.; Command failed.")
	if got := strings.Join(h.run.calls, "|"); got != "status v1|status v1|status v1|status v1" {
		t.Errorf("calls %q", got)
	}
}

func TestMonitorConfiguration(t *testing.T) {
	h := newHarness(t)
	h.expect("probe without a volume", "monitor", ocf.NotRunning, "")
	h.expect("monitor without a volume", "monitor", ocf.ErrConfigured, "must name the volume", "OCF_RESKEY_CRM_meta_interval=10000")
}

func TestProbeWithoutSysfsOrProgram(t *testing.T) {
	h := newHarness(t, "OCF_RESKEY_vg=vg0", "OCF_RESKEY_lv=data", "OCF_RESKEY_sysfs=/nonexistent/sys")
	h.agent = newAgent(&actions{run: execRunner{}})
	h.expect("probe", "monitor", ocf.NotRunning, "", "OCF_RESKEY_lvm_binary=/nonexistent/lvm")
	h.expect("monitor", "monitor", ocf.ErrInstalled, "no such file or directory", "OCF_RESKEY_lvm_binary=/nonexistent/lvm", "OCF_RESKEY_CRM_meta_interval=10000")
}

func TestStopSucceedsWhenTheDeviceIsGone(t *testing.T) {
	h := newHarness(t, "OCF_RESKEY_volume=v1")
	h.device("v1", true)
	writeTree(t, h.sysfs, map[string]string{"kvdo/v1/statistics/mode": "normal\n"})
	h.run.answer = func(argv []string) ([]byte, error) {
		h.device("v1", false)
		return nil, &commandError{Argv: argv, Code: 1, Stderr: "vdo: ERROR - odd\n", Err: errors.New("exit status 1")}
	}
	h.expect("stop whose command fails after removing the device", "stop", ocf.Success, "is stopped, though: true stop: exit status 1: vdo: ERROR - odd")
}

func TestStopFailsWhileTheDeviceRemains(t *testing.T) {
	h := newHarness(t, "OCF_RESKEY_volume=v1")
	h.device("v1", true)
	writeTree(t, h.sysfs, map[string]string{"kvdo/v1/statistics/mode": "normal\n"})
	h.run.answer = func(argv []string) ([]byte, error) { return nil, nil }
	h.expect("stop that leaves the device", "stop", ocf.ErrGeneric, "device v1 of VDO volume v1 still exists after stop", "OCF_RESKEY_CRM_meta_timeout=2000")
}

func TestStartFailsWhenTheDeviceNeverAppears(t *testing.T) {
	h := newHarness(t, "OCF_RESKEY_volume=v1")
	h.run.answer = func(argv []string) ([]byte, error) {
		if argv[1] == "status" {
			return []byte(oneVolume), nil
		}
		return nil, nil
	}
	h.expect("start", "start", ocf.ErrGeneric, "VDO volume v1 is not started", "OCF_RESKEY_CRM_meta_timeout=2000")
	if got := strings.Join(h.run.calls, "|"); got != "status|start --name=v1" {
		t.Errorf("calls %q, want status and start (no activate: it was enabled)", got)
	}
}
