package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/goha-ha/goha/internal/fakecrm"
	"github.com/goha-ha/goha/internal/testbuild"
)

// Resource names of the two drbd instances, as Pacemaker names the first
// instance of a clone: each agent keeps its promotion score under its own.
const (
	DRBDGohaResource      = "bench-drbd:0"
	DRBDReferenceResource = "bench-linbit-drbd:0"
)

// DRBDSimResource is the simulated DRBD resource both agents are given.
const DRBDSimResource = "r0"

// drbdSimDirEnv names the simulator's state directory variable
// (agents/drbd/internal/drbdsim.EnvDir, which this package cannot import).
const drbdSimDirEnv = "DRBDSIM_DIR"

// DRBDReferenceStatus is what ocf:linbit:drbd's monitor exits with on a
// machine without the DRBD kernel module, OCF_ERR_INSTALLED: its
// validation finds no module version (drbdadm --version reports none,
// modinfo finds no module) before it looks at the resource.
const DRBDReferenceStatus = 5

const (
	// drbdStartTimeout and drbdStopTimeout bound the setup's start and the
	// cleanup's stop, as ocf:goha:drbd's meta-data advertises them.
	drbdStartTimeout = 240 * time.Second
	drbdStopTimeout  = 100 * time.Second
	// drbdPeer is the simulated peer node.
	drbdPeer = "bench-peer"
)

// DRBDCase measures ocf:goha:drbd's monitor of a running Secondary over a
// simulator of drbd-utils (agents/drbd/internal/drbdsim), since this
// machine cannot load the DRBD kernel module. ocf:linbit:drbd is called
// the same way, with the simulator first on its PATH, but it cannot monitor
// anything here: its validation needs the kernel module, so every call
// exits DRBDReferenceStatus, and what is measured on its side is that
// refusal. The case's goal therefore bounds goha's forks alone.
func DRBDCase(cfg Config) Case {
	host, _ := os.Hostname()
	// What Pacemaker passes the recurring monitor of an unpromoted
	// instance of a promotable clone with notifications.
	params := map[string]string{
		"CRM_meta_on_node":           host,
		"CRM_meta_role":              "Unpromoted",
		"CRM_meta_promotable":        "true",
		"CRM_meta_promoted_max":      "1",
		"CRM_meta_master_max":        "1",
		"CRM_meta_promoted_node_max": "1",
		"CRM_meta_master_node_max":   "1",
		"CRM_meta_clone":             "0",
		"CRM_meta_clone_max":         "2",
		"CRM_meta_clone_node_max":    "1",
		"CRM_meta_notify":            "true",
		"drbd_resource":              DRBDSimResource,
	}
	goha := Invocation{
		Agent: "ocf:goha:drbd",
		Argv:  []string{filepath.Join(cfg.AgentDir, "drbd")},
		Env:   MonitorEnv(DRBDGohaResource, MonitorInterval, MonitorTimeout, params),
	}
	ref := Invocation{
		Agent:  fmt.Sprintf("ocf:linbit:drbd (exits %d here: no DRBD module)", DRBDReferenceStatus),
		Argv:   []string{filepath.Join(cfg.OCFRoot, "resource.d", "linbit", "drbd")},
		Env:    MonitorEnv(DRBDReferenceResource, MonitorInterval, MonitorTimeout, params),
		Expect: DRBDReferenceStatus,
	}
	return Case{
		Name: "drbd",
		Notes: "run against a SIMULATOR of drbd-utils, not DRBD: this machine cannot load the DRBD kernel module. " +
			"agents/drbd/internal/drbdsim, built for the run, stands in for drbdadm and drbdsetup (first on PATH, state " +
			"in a directory made for the run) with resource r0 UpToDate and one connected UpToDate Secondary peer; " +
			"ocf:goha:drbd started r0 (drbdadm up) and published its promotion score through a fake crm_attribute " +
			"(internal/fakecrm), then both agents monitor r0 as an unpromoted instance of a promotable clone " +
			"(notify, clone-max 2, promoted-max 1). goha's monitor forks twice: the simulated drbdsetup status r0 --json, " +
			"and before it the Go runtime's one-time check for pidfd support (a child that exits at once, no exec); the " +
			"score unchanged, it calls nothing else. The simulator's own CPU is in the numbers. ocf:linbit:drbd " +
			"(drbd-utils 9.22) cannot monitor here: its validation runs drbdadm --version (the simulator answers with " +
			"its usage, exit 20; drbd-utils' own drbdadm reports DRBD_KERNEL_VERSION_CODE=0x000000 without the " +
			"module), then modinfo -F version drbd (\"modinfo: ERROR: Module drbd not found.\"), and exits 5 with " +
			"\"DRBD kernel (module) not available?\"; past that it would still answer not running, since it tests for " +
			"/proc/drbd, which only the module creates. Its row is the cost of that refusal, not of a monitor, so the " +
			"ratios are no comparison and the goal bounds goha's forks only: the one drbdsetup call the issue " +
			"reads DRBD's state with, and the runtime's check.",
		Goal:      &Goal{MaxForks: 2},
		Goha:      goha,
		Reference: ref,
		Setup:     StartDRBDSim(goha),
	}
}

// drbdSimState is the simulator's state file of the resource before start
// (agents/drbd/internal/drbdsim.Resource as JSON): down, the local disk
// UpToDate, and one peer that is up, connected, Secondary and UpToDate.
func drbdSimState() ([]byte, error) {
	type peer struct {
		Name   string `json:"name"`
		NodeID int    `json:"node_id"`
		Up     bool   `json:"up"`
		Link   bool   `json:"link"`
		Role   string `json:"role"`
		Disk   string `json:"disk"`
	}
	return json.Marshal(struct {
		Name   string `json:"name"`
		NodeID int    `json:"node_id"`
		Minor  int    `json:"minor"`
		Role   string `json:"role"`
		Disk   string `json:"disk"`
		Peers  []peer `json:"peers"`
	}{
		Name: DRBDSimResource, Role: "Secondary", Disk: "UpToDate",
		Peers: []peer{{Name: drbdPeer, NodeID: 1, Up: true, Link: true, Role: "Secondary", Disk: "UpToDate"}},
	})
}

// DRBDSimEnv is the environment both agents get: PATH with the simulator's
// programs and the fake crm_attribute first, the simulator's state
// directory, HA_RSCTMP and the DRBD configuration file parameter.
func DRBDSimEnv(simBin, crmBin, state, rsctmp, conf string) []string {
	return []string{
		"PATH=" + simBin + ":" + crmBin + ":" + envValue(BaseEnv(), "PATH"),
		drbdSimDirEnv + "=" + state,
		"HA_RSCTMP=" + rsctmp,
		"OCF_RESKEY_drbdconf=" + conf,
	}
}

// StartDRBDSim returns a Setup that builds the simulator into a directory
// of its own, installs it as drbdadm, drbdsetup and cibadmin beside a fake
// crm_attribute, defines the resource and starts it through goha (the agent
// invoked as inv). Its cleanup stops the resource through goha and removes
// the directory.
func StartDRBDSim(inv Invocation) func(ctx context.Context) ([]string, func(), error) {
	return func(ctx context.Context) ([]string, func(), error) {
		dir, err := os.MkdirTemp("", "goha-bench-drbd-")
		if err != nil {
			return nil, nil, fmt.Errorf("create drbd case directory: %w", err)
		}
		var started *Invocation
		cleanup := func() {
			if started != nil {
				if err := runAction(context.WithoutCancel(ctx), *started, "stop", drbdStopTimeout, 0); err != nil {
					fmt.Fprintf(os.Stderr, "bench: %v\n", err)
				}
			}
			os.RemoveAll(dir)
		}
		fail := func(err error) ([]string, func(), error) {
			cleanup()
			return nil, nil, fmt.Errorf("drbd case setup: %w", err)
		}
		simBin, state, rsctmp := filepath.Join(dir, "simbin"), filepath.Join(dir, "state"), filepath.Join(dir, "rsctmp")
		for _, d := range []string{simBin, state, rsctmp} {
			if err := os.Mkdir(d, 0o755); err != nil {
				return fail(err)
			}
		}
		sim, err := testbuild.Main(dir, "drbdsim", "./agents/drbd/internal/drbdsim/drbdsimcmd")
		if err != nil {
			return fail(fmt.Errorf("build the drbd-utils simulator (needs the go tool and this source tree): %w", err))
		}
		for _, name := range []string{"drbdadm", "drbdsetup", "cibadmin"} {
			if err := os.Symlink(sim, filepath.Join(simBin, name)); err != nil {
				return fail(err)
			}
		}
		crm, err := fakecrm.Install(filepath.Join(dir, "crm"))
		if err != nil {
			return fail(err)
		}
		conf := filepath.Join(dir, "drbd.conf")
		if err := os.WriteFile(conf, []byte("# the simulator keeps its resources in "+state+"\n"), 0o644); err != nil {
			return fail(fmt.Errorf("write drbd.conf: %w", err))
		}
		def, err := drbdSimState()
		if err != nil {
			return fail(err)
		}
		if err := os.WriteFile(filepath.Join(state, DRBDSimResource+".json"), def, 0o644); err != nil {
			return fail(fmt.Errorf("define simulated resource: %w", err))
		}
		env := DRBDSimEnv(simBin, crm.BinDir, state, rsctmp, conf)
		goha := inv.With(env...)
		started = &goha
		if err := runAction(ctx, goha, "start", drbdStartTimeout, 0); err != nil {
			return fail(fmt.Errorf("%w (simulator: %s; crm_attribute calls: %s)", err, state, crm.Calls()))
		}
		return env, cleanup, nil
	}
}
