package bench

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/goha-ha/goha/internal/testbuild"
)

func TestDRBDCaseDeclaration(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	c := DRBDCase(Config{AgentDir: "/agents", OCFRoot: "/ocf"})
	if c.Name != "drbd" || c.Action != "" {
		t.Errorf("name %q action %q, want drbd and the default monitor", c.Name, c.Action)
	}
	if c.Goal == nil || *c.Goal != (Goal{MaxForks: 2}) {
		t.Errorf("goal %+v, want two forks at most (drbdsetup and the runtime's pidfd check) and no ratio bound (the reference cannot monitor here)", c.Goal)
	}
	for _, say := range []string{"SIMULATOR", "DRBD kernel (module) not available?", "modinfo -F version drbd", "/proc/drbd"} {
		if !strings.Contains(c.Notes, say) {
			t.Errorf("notes do not say %q: %s", say, c.Notes)
		}
	}
	if c.Setup == nil {
		t.Error("no setup")
	}
	for _, side := range []struct {
		inv         Invocation
		agent, argv string
		resource    string
		expect      int
	}{
		{c.Goha, "ocf:goha:drbd", "/agents/drbd", DRBDGohaResource, 0},
		{c.Reference, "ocf:linbit:drbd (exits 5 here: no DRBD module)", "/ocf/resource.d/linbit/drbd", DRBDReferenceResource, 5},
	} {
		inv := side.inv
		if inv.Agent != side.agent || !slices.Equal(inv.Argv, []string{side.argv}) {
			t.Errorf("agent %q argv %v, want %s at %s", inv.Agent, inv.Argv, side.agent, side.argv)
		}
		if inv.Expect != side.expect || inv.Netns != "" {
			t.Errorf("%s: expect %d netns %q, want %d in the harness's namespace", side.agent, inv.Expect, inv.Netns, side.expect)
		}
		env := envMap(inv.Env)
		want := map[string]string{
			"OCF_RESOURCE_INSTANCE":              side.resource,
			"OCF_RESKEY_CRM_meta_interval":       "10000",
			"OCF_RESKEY_CRM_meta_timeout":        "20000",
			"OCF_RESKEY_CRM_meta_role":           "Unpromoted",
			"OCF_RESKEY_CRM_meta_on_node":        host,
			"OCF_RESKEY_CRM_meta_notify":         "true",
			"OCF_RESKEY_CRM_meta_clone_max":      "2",
			"OCF_RESKEY_CRM_meta_clone_node_max": "1",
			"OCF_RESKEY_CRM_meta_promoted_max":   "1",
			"OCF_RESKEY_CRM_meta_master_max":     "1",
			"OCF_RESKEY_drbd_resource":           "r0",
			// From Setup, once the simulator is in place.
			"OCF_RESKEY_drbdconf": "",
			"DRBDSIM_DIR":         "",
			"PATH":                "",
		}
		for k, v := range want {
			if env[k] != v {
				t.Errorf("%s: %s=%q, want %q", side.agent, k, env[k], v)
			}
		}
	}
	if DRBDGohaResource == DRBDReferenceResource {
		t.Error("both agents publish scores under the same resource name")
	}
}

func TestDRBDSimEnv(t *testing.T) {
	env := envMap(DRBDSimEnv("/d/simbin", "/d/crm/bin", "/d/state", "/d/rsctmp", "/d/drbd.conf"))
	want := map[string]string{
		"PATH":                "/d/simbin:/d/crm/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"DRBDSIM_DIR":         "/d/state",
		"HA_RSCTMP":           "/d/rsctmp",
		"OCF_RESKEY_drbdconf": "/d/drbd.conf",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s=%q, want %q", k, env[k], v)
		}
	}
	if len(env) != len(want) {
		t.Errorf("environment %v, want only %v", env, want)
	}
}

func TestDRBDSimState(t *testing.T) {
	b, err := drbdSimState()
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Name  string `json:"name"`
		Up    bool   `json:"up"`
		Disk  string `json:"disk"`
		Peers []struct {
			Up, Link   bool
			Role, Disk string
		} `json:"peers"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.Name != "r0" || r.Up || r.Disk != "UpToDate" || len(r.Peers) != 1 ||
		!r.Peers[0].Up || !r.Peers[0].Link || r.Peers[0].Role != "Secondary" || r.Peers[0].Disk != "UpToDate" {
		t.Errorf("state %s: want r0 down, UpToDate, one connected UpToDate Secondary peer", b)
	}
}

// TestDRBDCaseMeasures runs the case over the simulator, a few calls each:
// goha's monitor runs drbdsetup status once per call and publishes no
// score once started, the reference refuses with its module message every
// time, and the cleanup takes the resource down and removes the directory.
func TestDRBDCaseMeasures(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the simulator and measures: skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to read taskstats")
	}
	if _, err := exec.LookPath("strace"); err != nil {
		t.Skipf("needs strace: %v", err)
	}
	ref := "/usr/lib/ocf/resource.d/linbit/drbd"
	if _, err := os.Stat(ref); err != nil {
		t.Skipf("needs drbd-utils: %v", err)
	}
	agents := t.TempDir()
	if _, err := testbuild.Main(agents, "drbd", "./agents/drbd/internal/drbdcmd"); err != nil {
		t.Fatal(err)
	}
	c := DRBDCase(Config{AgentDir: agents, OCFRoot: "/usr/lib/ocf"})
	var (
		state, refSaid string
		refStatus      int
		startCalls     string // the simulator's calls up to the end of setup
		calls, crm     string // the simulator's and crm_attribute's calls at cleanup
		stopCalls      string // the simulator's calls during the cleanup
		upAtCleanup    bool
	)
	setup := c.Setup
	c.Setup = func(ctx context.Context) ([]string, func(), error) {
		env, cleanup, err := setup(ctx)
		if err != nil {
			return env, cleanup, err
		}
		state = envValue(env, "DRBDSIM_DIR")
		crmLog := filepath.Join(filepath.Dir(strings.Split(envValue(env, "PATH"), ":")[1]), "attrs", "calls.log")
		// One reference monitor by hand, to read why it refuses.
		inv := c.Reference.With(env...)
		cmd := exec.CommandContext(ctx, inv.Argv[0], "monitor")
		cmd.Env = inv.environ()
		out, err := cmd.CombinedOutput()
		refSaid, refStatus = string(out), cmd.ProcessState.ExitCode()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Errorf("run the reference: %v", err)
		}
		startCalls = readFile(t, filepath.Join(state, "calls.log"))
		crmAtStart := readFile(t, crmLog)
		return env, func() {
			calls, crm = readFile(t, filepath.Join(state, "calls.log")), readFile(t, crmLog)
			upAtCleanup = simUp(t, state)
			if crm != crmAtStart {
				t.Errorf("crm_attribute called after setup:\n%s", strings.TrimPrefix(crm, crmAtStart))
			}
			// The log is appended to: an open descriptor still reads the
			// stop's call once the cleanup has removed the file.
			f, err := os.Open(filepath.Join(state, "calls.log"))
			if err != nil {
				t.Error(err)
				cleanup()
				return
			}
			defer f.Close()
			cleanup()
			b, err := io.ReadAll(f)
			if err != nil {
				t.Error(err)
			}
			stopCalls = strings.TrimPrefix(string(b), calls)
		}, nil
	}
	var log strings.Builder
	res, err := Measure(context.Background(), c, Options{Calls: 10, Warmup: 2, Traced: 2, Log: &log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if refStatus != DRBDReferenceStatus || !strings.Contains(refSaid, "DRBD kernel (module) not available?") {
		t.Errorf("the reference's monitor exited %d saying %q, want %d and the module message", refStatus, refSaid, DRBDReferenceStatus)
	}
	if !strings.Contains(startCalls, "drbdadm -c ") || !strings.Contains(startCalls, " up r0") {
		t.Errorf("setup did not bring r0 up through drbdadm: %s", startCalls)
	}
	if !strings.Contains(crm, "update node=") || !strings.Contains(crm, "name=master-bench-drbd value=10000") {
		t.Errorf("goha's start did not publish its score: %q", crm)
	}
	if !upAtCleanup {
		t.Error("r0 was not up when the measurement ended")
	}
	if !strings.Contains(stopCalls, " down r0") {
		t.Errorf("the cleanup did not take r0 down: %q", stopCalls)
	}
	// Each goha call (2 warm-up, 10 measured, 2 traced) reads the status
	// once; the reference reaches drbdadm --version only.
	measured := strings.TrimPrefix(calls, startCalls)
	if n := strings.Count(measured, "drbdsetup status r0 --json"); n != 14 {
		t.Errorf("drbdsetup status calls during the measurement: %d, want 14:\n%s", n, measured)
	}
	if n := strings.Count(measured, "drbdadm --version"); n != 14 {
		t.Errorf("drbdadm --version calls: %d, want 14:\n%s", n, measured)
	}
	for _, ar := range []AgentResult{res.Goha, res.Reference} {
		if ar.Calls != 10 || ar.WallP50 <= 0 || ar.CPU <= 0 || ar.Procs.Traced != 2 {
			t.Errorf("%s: %+v", ar.Agent, ar.Summary)
		}
	}
	// drbdsetup, and the Go runtime's pidfd check before it.
	if p := res.Goha.Procs; p.ForksMin != 2 || p.ForksMax != 2 || p.ExecsMin != 1 || p.ExecsMax != 1 {
		t.Errorf("goha's monitor: %+v, want 2 forks and 1 exec (drbdsetup)", p)
	}
	t.Logf("goha: wall p50 %v, CPU %v; reference's refusal: wall p50 %v, CPU %v, %d–%d forks",
		res.Goha.WallP50, res.Goha.CPU, res.Reference.WallP50, res.Reference.CPU, res.Reference.Procs.ForksMin, res.Reference.Procs.ForksMax)
	if _, err := os.Stat(filepath.Dir(state)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s left behind: %v", filepath.Dir(state), err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Error(err)
	}
	return string(b)
}

// simUp reads from the simulator's state whether r0 is up.
func simUp(t *testing.T, state string) bool {
	t.Helper()
	var r struct {
		Up bool `json:"up"`
	}
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(state, "r0.json"))), &r); err != nil {
		t.Error(err)
	}
	return r.Up
}
