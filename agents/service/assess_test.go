package service

import (
	"strings"
	"testing"

	"github.com/goha-ha/goha/ocf"
)

func TestAssess(t *testing.T) {
	const unit = "app.service"
	running := UnitState{LoadState: "loaded", ActiveState: "active", SubState: "running", Restart: "always"}
	with := func(s UnitState, f func(*UnitState)) UnitState { f(&s); return s }
	known := func(n uint32) Baseline { return Baseline{Known: true, NRestarts: n} }
	for _, tc := range []struct {
		name       string
		s          UnitState
		base       Baseline
		max        uint32
		probe      bool
		want       ocf.Status
		why        string
		record     bool
		recordedAs uint32
	}{
		{name: "active, count unchanged", s: with(running, func(s *UnitState) { s.NRestarts = 2 }), base: known(2),
			want: ocf.Success, why: "active/running"},
		{name: "active, first sight records the count", s: with(running, func(s *UnitState) { s.NRestarts = 4 }),
			want: ocf.Success, record: true, recordedAs: 4},
		{name: "restarted once by systemd", s: with(running, func(s *UnitState) { s.NRestarts = 1 }), base: known(0),
			want: ocf.ErrGeneric, why: "systemd restarted unit app.service 1 time since the cluster started it (Restart=always, max_restarts=0)"},
		{name: "restarts within max_restarts", s: with(running, func(s *UnitState) { s.NRestarts = 3 }), base: known(1), max: 2,
			want: ocf.Success},
		{name: "restarts beyond max_restarts", s: with(running, func(s *UnitState) { s.NRestarts = 4 }), base: known(1), max: 2,
			want: ocf.ErrGeneric, why: "3 times"},
		{name: "count reset by a manual restart becomes the baseline", s: with(running, func(s *UnitState) { s.NRestarts = 0 }), base: known(3),
			want: ocf.Success, record: true, recordedAs: 0},
		{name: "about to be restarted", s: with(running, func(s *UnitState) {
			s.ActiveState, s.SubState, s.Result, s.ExecMainCode, s.ExecMainStatus = "activating", "auto-restart", "signal", 2, 9
		}), base: known(0), max: 5, want: ocf.ErrGeneric, why: "killed by SIGKILL and systemd is about to restart it"},
		{name: "about to be restarted, probe", s: with(running, func(s *UnitState) {
			s.ActiveState, s.SubState, s.Result, s.ExecMainCode, s.ExecMainStatus = "activating", "auto-restart", "exit-code", 1, 3
		}), probe: true, want: ocf.ErrGeneric, why: "exited with status 3"},
		{name: "still starting", s: with(running, func(s *UnitState) { s.ActiveState, s.SubState = "activating", "start" }), base: known(0),
			want: ocf.Success},
		{name: "reloading", s: with(running, func(s *UnitState) { s.ActiveState, s.SubState = "reloading", "reload" }), base: known(0),
			want: ocf.Success},
		{name: "inactive", s: UnitState{LoadState: "loaded", ActiveState: "inactive", SubState: "dead"},
			want: ocf.NotRunning},
		{name: "failed", s: UnitState{LoadState: "loaded", ActiveState: "failed", SubState: "failed", Result: "exit-code", ExecMainCode: 1, ExecMainStatus: 2},
			want: ocf.ErrGeneric, why: "unit app.service failed: its main process exited with status 2"},
		{name: "failed, probe", s: UnitState{LoadState: "loaded", ActiveState: "failed", Result: "start-limit-hit"},
			probe: true, want: ocf.NotRunning, why: "start-limit-hit"},
		{name: "being stopped by someone else", s: with(running, func(s *UnitState) { s.ActiveState, s.SubState = "deactivating", "stop-sigterm" }),
			want: ocf.ErrGeneric, why: "being stopped (stop-sigterm)"},
		{name: "not installed", s: UnitState{LoadState: "not-found", ActiveState: "inactive"},
			want: ocf.ErrInstalled, why: "no unit app.service"},
		{name: "not installed, probe", s: UnitState{LoadState: "not-found", ActiveState: "inactive"},
			probe: true, want: ocf.NotRunning},
		{name: "masked", s: UnitState{LoadState: "masked", ActiveState: "inactive"},
			want: ocf.ErrInstalled, why: "masked"},
		{name: "unit file removed while it runs", s: with(running, func(s *UnitState) { s.LoadState = "not-found" }), base: known(0),
			want: ocf.Success},
		{name: "unknown state", s: with(running, func(s *UnitState) { s.ActiveState = "exploding" }),
			want: ocf.ErrGeneric, why: "unknown state exploding"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := assess(unit, tc.s, tc.base, tc.max, tc.probe)
			if v.Status != tc.want || !strings.Contains(v.Why, tc.why) {
				t.Errorf("assess = %v %q; want %v with %q", v.Status, v.Why, tc.want, tc.why)
			}
			if v.Record != tc.record || (tc.record && v.Baseline != Baseline{Known: true, NRestarts: tc.recordedAs}) {
				t.Errorf("record %v %+v; want %v %d", v.Record, v.Baseline, tc.record, tc.recordedAs)
			}
		})
	}
}

func TestLoadProblem(t *testing.T) {
	for _, tc := range []struct {
		s    UnitState
		want ocf.Status
		why  string
	}{
		{UnitState{LoadState: "loaded"}, ocf.Success, ""},
		{UnitState{LoadState: "not-found"}, ocf.ErrInstalled, "parameter unit: systemd has no unit x.service on this node"},
		{UnitState{LoadState: "masked"}, ocf.ErrInstalled, "systemctl unmask x.service"},
		{UnitState{LoadState: "bad-setting", LoadError: "Unit x.service has a bad unit file setting."}, ocf.ErrInstalled, "cannot be loaded (bad-setting): Unit x.service has a bad"},
		{UnitState{}, ocf.ErrGeneric, "no load state"},
	} {
		st, why := loadProblem("x.service", tc.s)
		if st != tc.want || !strings.Contains(why, tc.why) {
			t.Errorf("loadProblem(%+v) = %v %q; want %v %q", tc.s, st, why, tc.want, tc.why)
		}
	}
}

func TestDescribeFailure(t *testing.T) {
	for _, tc := range []struct {
		s    UnitState
		want string
	}{
		{UnitState{Result: "exit-code", ExecMainCode: 1, ExecMainStatus: 1}, "its main process exited with status 1"},
		{UnitState{Result: "signal", ExecMainCode: 2, ExecMainStatus: 15}, "its main process was killed by SIGTERM"},
		{UnitState{Result: "core-dump", ExecMainCode: 3, ExecMainStatus: 11}, "its main process dumped core on SIGSEGV"},
		{UnitState{Result: "signal"}, "its main process failed (signal)"},
		{UnitState{Result: "timeout"}, "timed out"},
		{UnitState{Result: "oom-kill"}, "was killed by the out-of-memory killer"},
		{UnitState{Result: "success"}, "stopped"},
		{UnitState{Result: "protocol", ExecMainCode: 1, ExecMainStatus: 0}, "protocol, its main process exited with status 0"},
		{UnitState{Result: "exit-code", ExecMainCode: 2, ExecMainStatus: 99}, "its main process was killed by signal 99"},
	} {
		if got := describeFailure(tc.s); got != tc.want {
			t.Errorf("describeFailure(%+v) = %q, want %q", tc.s, got, tc.want)
		}
	}
}

func TestStopped(t *testing.T) {
	for _, tc := range []struct {
		s    UnitState
		want bool
	}{
		{UnitState{ActiveState: "inactive"}, true},
		{UnitState{ActiveState: "failed"}, true},
		{UnitState{ActiveState: "inactive", ControlGroup: "/system.slice/x.service"}, false},
		{UnitState{ActiveState: "deactivating"}, false},
		{UnitState{ActiveState: "active"}, false},
	} {
		if got := stopped(tc.s); got != tc.want {
			t.Errorf("stopped(%+v) = %v", tc.s, got)
		}
	}
}
