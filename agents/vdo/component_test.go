package vdo

// Component test: the agent binary, as Pacemaker runs it, against the VDO
// SIMULATOR of internal/vdosim (no VDO kernel module can be loaded on the
// test machines): simulated vdo, lvm and dmsetup programs and a simulated
// sysfs tree, in a temporary directory per test. ocf-tester runs against
// the same. It needs root (as the agent does in production) and skips in
// -short mode.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goha-ha/goha/agents/vdo/internal/vdosim"
	"github.com/goha-ha/goha/internal/agenttest"
	"github.com/goha-ha/goha/internal/testbuild"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// programs builds the agent alone (internal/vdocmd) and the simulator
// once per run.
func programs(t *testing.T) (agent, simulator string) {
	t.Helper()
	if testing.Short() {
		t.Skip("component test: skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("component test: needs root, as the agent does")
	}
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "goha-vdo-"); buildErr != nil {
			return
		}
		// ocf-tester runs meta-data as nobody.
		if buildErr = os.Chmod(buildDir, 0o755); buildErr != nil {
			return
		}
		if _, buildErr = testbuild.Main(buildDir, "vdo", "./agents/vdo/internal/vdocmd"); buildErr != nil {
			return
		}
		_, buildErr = testbuild.Main(buildDir, "vdosim", "./agents/vdo/internal/vdosim/cmd/vdosim")
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, "vdo"), filepath.Join(buildDir, "vdosim")
}

// bench is one simulator and the agent's parameters pointing at it.
type bench struct {
	agent  string
	sim    *vdosim.Sim
	rsctmp string
	params []string // NAME=VALUE
}

func newBench(t *testing.T, params ...string) *bench {
	agent, simulator := programs(t)
	dir := t.TempDir()
	sim, err := vdosim.New(filepath.Join(dir, "sim"), simulator)
	if err != nil {
		t.Fatal(err)
	}
	b := &bench{agent: agent, sim: sim, rsctmp: filepath.Join(dir, "rsctmp")}
	if err := os.Mkdir(b.rsctmp, 0o755); err != nil {
		t.Fatal(err)
	}
	b.params = append([]string{"vdo_binary=" + sim.Bin("vdo"), "lvm_binary=" + sim.Bin("lvm"),
		"dmsetup_binary=" + sim.Bin("dmsetup"), "sysfs=" + sim.Sysfs()}, params...)
	return b
}

// result is one agent invocation and the simulated commands it ran.
type result struct {
	agenttest.Result
	calls []string
}

func (r result) String() string { return fmt.Sprintf("calls=%q %v", r.calls, r.Result) }

const recurring = "OCF_RESKEY_CRM_meta_interval=10000"

func (b *bench) run(t *testing.T, action string, extra ...string) result {
	t.Helper()
	before, err := b.sim.Calls()
	if err != nil {
		t.Fatal(err)
	}
	params := append(append([]string{"CRM_meta_timeout=20000"}, b.params...), extra...)
	r := result{Result: agenttest.Run(t, 60*time.Second, agenttest.Env(b.rsctmp, "vdo1", params...), b.agent, action)}
	after, err := b.sim.Calls()
	if err != nil {
		t.Fatal(err)
	}
	r.calls = after[len(before):]
	return r
}

// expect is agenttest.Expect, naming the simulated commands on failure.
func expect(t *testing.T, what string, r result, rc int, reason string) {
	t.Helper()
	agenttest.Expect(t, fmt.Sprintf("%s (ran %q)", what, r.calls), r.Result, rc, reason)
}

// expectCalls fails unless the action ran exactly the commands want.
func expectCalls(t *testing.T, what string, r result, want ...string) {
	t.Helper()
	if strings.Join(r.calls, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%s ran %q, want %q\n%v", what, r.calls, want, r)
	}
}

// cleanAfter puts the simulator back to stopped, healthy volumes and no
// faults once t ends, so that a failed subtest does not fail the next.
func (b *bench) cleanAfter(t *testing.T) {
	t.Cleanup(func() {
		err := b.sim.Update(func(st *vdosim.State) error {
			for _, v := range st.Volumes {
				v.Started, v.Mode, v.InUse, v.Suspended = false, "normal", false, false
			}
			st.Faults, st.NoSysfs, st.NoKVDOSysfs = map[string]*vdosim.Fault{}, false, false
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	})
}

func (b *bench) volume(t *testing.T, kind, name string, f func(*vdosim.Volume)) {
	t.Helper()
	if err := b.sim.Volume(kind, name, f); err != nil {
		t.Fatal(err)
	}
}

func (b *bench) started(t *testing.T, kind, name string) bool {
	t.Helper()
	st, err := b.sim.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range st.Volumes {
		if v.Kind == kind && (v.Name == name || v.VG+"/"+v.Name == name) {
			return v.Started
		}
	}
	t.Fatalf("no simulated volume %s", name)
	return false
}

func (b *bench) state(t *testing.T, f func(*vdosim.State)) {
	t.Helper()
	if err := b.sim.Update(func(st *vdosim.State) error { f(st); return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestComponentVdoCommand(t *testing.T) {
	b := newBench(t, "volume=vdo1")
	if err := b.sim.AddVDO("vdo1", "/dev/disk/by-id/simulated-1"); err != nil {
		t.Fatal(err)
	}
	vdo := func(cmd string) string { return "vdo " + cmd + " --name=vdo1" }

	t.Run("validate-all", func(t *testing.T) {
		b.cleanAfter(t)
		expect(t, "validate-all", b.run(t, "validate-all"), 0, "")
		expect(t, "a name with a slash", b.run(t, "validate-all", "volume=a/b"), 6, "parameter volume must not contain '/'")
		expect(t, "two volumes", b.run(t, "validate-all", "vg=vg0", "lv=lv0"), 6, "set only one")
		expect(t, "no volume", b.run(t, "validate-all", "volume="), 6, "must name the volume")
		expect(t, "missing vdo", b.run(t, "validate-all", "vdo_binary=/nonexistent/vdo"), 5, "/nonexistent/vdo does not exist")
		expect(t, "missing config", b.run(t, "validate-all", "config=/nonexistent/vdoconf.yml"), 6, "parameter config")
		expect(t, "unknown volume", b.run(t, "start", "volume=vdo9"), 2, `the vdo configuration of this node has no volume "vdo9"`)
	})

	t.Run("start-monitor-stop", func(t *testing.T) {
		b.cleanAfter(t)
		r := b.run(t, "monitor")
		expect(t, "probe before start", r, 7, "")
		expectCalls(t, "probe of a stopped volume", r)
		r = b.run(t, "start")
		expect(t, "start", r, 0, "")
		expectCalls(t, "start", r, "vdo status", vdo("activate"), vdo("start"))
		if !b.started(t, "vdo", "vdo1") {
			t.Fatal("the simulated volume is not started")
		}
		r = b.run(t, "monitor", recurring)
		expect(t, "monitor", r, 0, "")
		expectCalls(t, "monitor with the kvdo mode in sysfs", r)
		r = b.run(t, "start")
		expect(t, "second start", r, 0, "")
		expectCalls(t, "second start", r, "vdo status")
		r = b.run(t, "stop")
		expect(t, "stop", r, 0, "")
		expectCalls(t, "stop", r, vdo("stop"), vdo("deactivate"))
		expect(t, "monitor after stop", b.run(t, "monitor", recurring), 7, "not started")
		r = b.run(t, "stop")
		expect(t, "second stop", r, 0, "")
		expectCalls(t, "second stop", r)
	})

	t.Run("state-sources", func(t *testing.T) {
		b.cleanAfter(t)
		expect(t, "start", b.run(t, "start"), 0, "")
		defer b.run(t, "stop")
		b.state(t, func(st *vdosim.State) { st.NoKVDOSysfs = true })
		r := b.run(t, "monitor", recurring)
		expect(t, "monitor without kvdo in sysfs", r, 0, "")
		expectCalls(t, "monitor without kvdo in sysfs", r, "dmsetup status vdo1")
		b.state(t, func(st *vdosim.State) { st.NoSysfs = true })
		r = b.run(t, "monitor", recurring)
		expect(t, "monitor without sysfs", r, 0, "")
		expectCalls(t, "monitor without sysfs", r, "vdo status")
		b.volume(t, "vdo", "vdo1", func(v *vdosim.Volume) { v.Mode = "read-only" })
		expect(t, "read-only, seen by vdo status", b.run(t, "monitor", recurring), 1, "read-only mode")
		b.state(t, func(st *vdosim.State) { st.NoSysfs = false })
		expect(t, "read-only, seen by dmsetup", b.run(t, "monitor", recurring), 1, "read-only mode")
		b.state(t, func(st *vdosim.State) { st.NoKVDOSysfs = false })
		expect(t, "read-only, seen in sysfs", b.run(t, "monitor", recurring), 1, "read-only mode")
		b.volume(t, "vdo", "vdo1", func(v *vdosim.Volume) { v.Mode = "recovering" })
		expect(t, "recovering", b.run(t, "monitor", recurring), 0, "")
		b.volume(t, "vdo", "vdo1", func(v *vdosim.Volume) { v.Mode = "normal"; v.Suspended = true })
		expect(t, "suspended", b.run(t, "monitor", recurring), 1, "is suspended")
		b.volume(t, "vdo", "vdo1", func(v *vdosim.Volume) { v.Suspended = false })
		expect(t, "resumed", b.run(t, "monitor", recurring), 0, "")
	})

	t.Run("read-only-start", func(t *testing.T) {
		b.cleanAfter(t)
		b.volume(t, "vdo", "vdo1", func(v *vdosim.Volume) { v.Mode = "read-only" })
		expect(t, "start of a read-only volume", b.run(t, "start"), 1, "rebuild_read_only=true would rebuild it")
		expect(t, "stop after the failed start", b.run(t, "stop"), 0, "")
		r := b.run(t, "start", "rebuild_read_only=true")
		expect(t, "start with rebuild", r, 0, "")
		expectCalls(t, "start with rebuild", r, "vdo status", vdo("activate"), vdo("start"), vdo("stop"), vdo("start")+" --forceRebuild")
		expect(t, "monitor after rebuild", b.run(t, "monitor", recurring), 0, "")
		expect(t, "stop", b.run(t, "stop"), 0, "")
	})

	t.Run("command-failures", func(t *testing.T) {
		b.cleanAfter(t)
		if err := b.sim.Inject("vdo start", &vdosim.Fault{Exit: 1, Stderr: "vdo: ERROR - simulated failure\n", Times: 1}); err != nil {
			t.Fatal(err)
		}
		expect(t, "start that vdo refuses", b.run(t, "start"), 1, "vdo start: exit status 1: vdo: ERROR - simulated failure")
		expect(t, "probe after a failed start", b.run(t, "monitor"), 7, "")
		expect(t, "start", b.run(t, "start"), 0, "")
		b.volume(t, "vdo", "vdo1", func(v *vdosim.Volume) { v.InUse = true })
		expect(t, "stop of a volume in use", b.run(t, "stop"), 1, "in use")
		if !b.started(t, "vdo", "vdo1") {
			t.Fatal("the volume in use was stopped")
		}
		b.volume(t, "vdo", "vdo1", func(v *vdosim.Volume) { v.InUse = false })
		if err := b.sim.Inject("vdo stop", &vdosim.Fault{DelayMs: 1500, Times: 1}); err != nil {
			t.Fatal(err)
		}
		expect(t, "slow stop", b.run(t, "stop"), 0, "")
		if b.started(t, "vdo", "vdo1") {
			t.Fatal("stop succeeded but the volume is started")
		}
		if err := b.sim.Inject("vdo status", &vdosim.Fault{Exit: 2, Stderr: "vdo: ERROR - simulated status failure\n"}); err != nil {
			t.Fatal(err)
		}
		expect(t, "start when vdo status fails", b.run(t, "start"), 1, "simulated status failure")
		if err := b.sim.Inject("vdo status", nil); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ocf-tester", func(t *testing.T) {
		b.cleanAfter(t)
		ocfTester(t, b)
		if b.started(t, "vdo", "vdo1") {
			t.Error("ocf-tester left the volume started")
		}
	})
}

func TestComponentLVMVDO(t *testing.T) {
	b := newBench(t, "vg=vg-ha", "lv=data")
	if err := b.sim.AddLVM("vg-ha", "data", "vpool0"); err != nil {
		t.Fatal(err)
	}
	const pool = "vg--ha-vpool0-vpool"

	t.Run("validate", func(t *testing.T) {
		b.cleanAfter(t)
		expect(t, "validate-all", b.run(t, "validate-all"), 0, "")
		expect(t, "lv only", b.run(t, "validate-all", "vg="), 6, "must both be set")
		expect(t, "mode lvm without lv", b.run(t, "validate-all", "mode=lvm", "lv="), 6, "are required with mode=lvm")
		expect(t, "bad lv name", b.run(t, "validate-all", "lv=da ta"), 6, "parameter lv may hold only")
		expect(t, "missing lvm", b.run(t, "validate-all", "lvm_binary=/nonexistent/lvm"), 5, "parameter lvm_binary")
		expect(t, "the pool", b.run(t, "start", "lv=vpool0"), 6, "is a VDO pool: name its VDO volume (data)")
		expect(t, "unknown lv", b.run(t, "start", "lv=nothing"), 2, "this node sees no logical volume nothing in volume group vg-ha")
		expect(t, "unknown vg", b.run(t, "start", "vg=vg9"), 2, `parameter vg: not on this node: lvm lvs: exit status 5: Volume group "vg9" not found`)
	})

	t.Run("start-monitor-stop", func(t *testing.T) {
		b.cleanAfter(t)
		r := b.run(t, "monitor")
		expect(t, "probe before start", r, 7, "")
		expectCalls(t, "probe", r)
		r = b.run(t, "start")
		expect(t, "start", r, 0, "")
		expectCalls(t, "start", r, "lvm lvs --reportformat json -o "+strings.Join(lvsFields, ",")+" vg-ha", "lvm lvchange -ay -K vg-ha/data")
		r = b.run(t, "monitor", recurring)
		expect(t, "monitor", r, 0, "")
		expectCalls(t, "monitor", r)
		b.state(t, func(st *vdosim.State) { st.NoKVDOSysfs = true })
		r = b.run(t, "monitor", recurring)
		expect(t, "monitor without kvdo in sysfs", r, 0, "")
		expectCalls(t, "monitor without kvdo in sysfs", r, "dmsetup status "+pool)
		b.state(t, func(st *vdosim.State) { st.NoSysfs = true })
		r = b.run(t, "monitor", recurring)
		expect(t, "monitor without sysfs", r, 0, "")
		expectCalls(t, "monitor without sysfs", r, "lvm lvs --reportformat json -o "+strings.Join(lvsFields, ",")+" vg-ha")
		b.volume(t, "lvm", "vg-ha/data", func(v *vdosim.Volume) { v.Mode = "read-only" })
		expect(t, "read-only seen by lvs", b.run(t, "monitor", recurring), 1, "read-only mode")
		b.state(t, func(st *vdosim.State) { st.NoSysfs, st.NoKVDOSysfs = false, false })
		expect(t, "read-only in sysfs", b.run(t, "monitor", recurring), 1, "read-only mode")
		expect(t, "start of a read-only volume", b.run(t, "start"), 1, "read-only mode")
		b.volume(t, "lvm", "vg-ha/data", func(v *vdosim.Volume) { v.Mode = "normal"; v.InUse = true })
		expect(t, "stop of a volume in use", b.run(t, "stop"), 1, "Logical volume vg-ha/data in use")
		b.volume(t, "lvm", "vg-ha/data", func(v *vdosim.Volume) { v.InUse = false })
		r = b.run(t, "stop")
		expect(t, "stop", r, 0, "")
		expectCalls(t, "stop", r, "lvm lvchange -an vg-ha/data")
		if b.started(t, "lvm", "vg-ha/data") {
			t.Fatal("the volume is active after stop")
		}
		expect(t, "monitor after stop", b.run(t, "monitor", recurring), 7, "not started")
		expect(t, "second stop", b.run(t, "stop"), 0, "")
	})

	t.Run("ocf-tester", func(t *testing.T) {
		b.cleanAfter(t)
		ocfTester(t, b)
		if b.started(t, "lvm", "vg-ha/data") {
			t.Error("ocf-tester left the volume active")
		}
	})
}

func ocfTester(t *testing.T, b *bench) {
	t.Helper()
	tester, err := exec.LookPath("ocf-tester")
	if err != nil {
		t.Skip("ocf-tester (resource-agents) is not installed")
	}
	args := []string{"-n", "vdo1"}
	for _, p := range b.params {
		args = append(args, "-o", p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tester, append(args, b.agent)...)
	cmd.Env = append(os.Environ(), "HA_RSCTMP="+b.rsctmp)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "passed all tests") {
		t.Errorf("ocf-tester: %v\n%s", err, out)
	}
}
