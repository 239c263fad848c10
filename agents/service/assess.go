package service

import (
	"fmt"
	"syscall"

	"github.com/goha-ha/goha/ocf"
	"golang.org/x/sys/unix"
)

// UnitState is what systemd says about a unit, from its D-Bus properties.
type UnitState struct {
	LoadState      string // loaded, not-found, masked, bad-setting, error
	LoadError      string // systemd's message when the unit failed to load
	ActiveState    string // active, reloading, inactive, failed, activating, deactivating
	SubState       string // e.g. running, exited, dead, auto-restart
	Result         string // success, exit-code, signal, core-dump, timeout, start-limit-hit, ...
	NRestarts      uint32 // restarts systemd made on its own (Restart=)
	Restart        string // the unit's Restart= policy
	MainPID        uint32
	ExecMainCode   int32 // CLD_EXITED (1), CLD_KILLED (2) or CLD_DUMPED (3)
	ExecMainStatus int32 // exit status or signal number
	UnitFileState  string
	ControlGroup   string // "" once no process of the unit is left
}

// Baseline is NRestarts as recorded when the cluster started the unit.
type Baseline struct {
	Known     bool
	NRestarts uint32
}

// Verdict is what a monitor answers, and the baseline to keep.
type Verdict struct {
	Status   ocf.Status
	Why      string
	Baseline Baseline // to record when Record is set
	Record   bool
}

// Running reports whether the verdict lets the health checks run.
func (v Verdict) Running() bool { return v.Status == ocf.Success }

// loadProblem returns the status and reason of a unit that cannot be
// started on this node (not installed, masked, broken unit file), or
// Success.
func loadProblem(unit string, s UnitState) (ocf.Status, string) {
	switch s.LoadState {
	case "loaded":
		return ocf.Success, ""
	case "not-found":
		return ocf.ErrInstalled, fmt.Sprintf("parameter %s: systemd has no unit %s on this node", pUnit, unit)
	case "masked":
		return ocf.ErrInstalled, fmt.Sprintf("unit %s is masked on this node (systemctl unmask %s)", unit, unit)
	case "":
		return ocf.ErrGeneric, fmt.Sprintf("systemd reports no load state for %s", unit)
	}
	why := fmt.Sprintf("unit %s cannot be loaded (%s)", unit, s.LoadState)
	if s.LoadError != "" {
		why += ": " + s.LoadError
	}
	return ocf.ErrInstalled, why
}

// assess turns a unit's state into a monitor's answer. A unit that systemd
// restarted on its own more than maxRestarts times since the baseline, or
// is about to restart, is failed; a lower NRestarts than the baseline means
// someone stopped and started it (which resets the count), and the lower
// count becomes the baseline.
func assess(unit string, s UnitState, base Baseline, maxRestarts uint32, probe bool) Verdict {
	switch s.ActiveState {
	case "inactive":
		if st, why := loadProblem(unit, s); st != ocf.Success && !probe {
			return Verdict{Status: st, Why: why}
		}
		return Verdict{Status: ocf.NotRunning, Why: fmt.Sprintf("unit %s is inactive", unit)}
	case "failed":
		why := fmt.Sprintf("unit %s failed: %s", unit, describeFailure(s))
		if probe {
			return Verdict{Status: ocf.NotRunning, Why: why}
		}
		return Verdict{Status: ocf.ErrGeneric, Why: why}
	case "deactivating":
		return Verdict{Status: ocf.ErrGeneric, Why: fmt.Sprintf("unit %s is being stopped (%s) outside the cluster", unit, s.SubState)}
	case "activating", "active", "reloading", "refreshing":
	default:
		return Verdict{Status: ocf.ErrGeneric, Why: fmt.Sprintf("unit %s is in the unknown state %s/%s", unit, s.ActiveState, s.SubState)}
	}
	if s.SubState == "auto-restart" {
		return Verdict{Status: ocf.ErrGeneric, Why: fmt.Sprintf("unit %s %s and systemd is about to restart it (Restart=%s, %d restarts so far)",
			unit, describeFailure(s), s.Restart, s.NRestarts)}
	}
	v := Verdict{Status: ocf.Success, Baseline: base}
	if !base.Known || s.NRestarts < base.NRestarts {
		v.Baseline, v.Record = Baseline{Known: true, NRestarts: s.NRestarts}, true
	}
	if n := s.NRestarts - v.Baseline.NRestarts; n > maxRestarts {
		v.Status = ocf.ErrGeneric
		v.Why = fmt.Sprintf("systemd restarted unit %s %d time%s since the cluster started it (Restart=%s, %s=%d)",
			unit, n, plural(n), s.Restart, pMaxRestarts, maxRestarts)
		return v
	}
	v.Why = fmt.Sprintf("unit %s is %s/%s", unit, s.ActiveState, s.SubState)
	return v
}

// describeFailure says how the unit's last run ended, from Result and the
// main process's exit.
func describeFailure(s UnitState) string {
	exit := describeExit(s.ExecMainCode, s.ExecMainStatus)
	switch s.Result {
	case "exit-code", "signal", "core-dump":
		if exit != "" {
			return exit
		}
		return "its main process failed (" + s.Result + ")"
	case "timeout":
		return "timed out"
	case "start-limit-hit":
		return "was started too often (start-limit-hit, StartLimitBurst)"
	case "watchdog":
		return "missed its watchdog"
	case "oom-kill":
		return "was killed by the out-of-memory killer"
	case "resources":
		return "could not get the resources it needs (resources)"
	case "", "success":
		if exit != "" {
			return exit
		}
		return "stopped"
	}
	if exit != "" {
		return s.Result + ", " + exit
	}
	return s.Result
}

// describeExit renders a main process's end: CLD_EXITED with a status,
// CLD_KILLED or CLD_DUMPED with a signal.
func describeExit(code, status int32) string {
	switch code {
	case 1:
		if status == 0 {
			return "its main process exited with status 0"
		}
		return fmt.Sprintf("its main process exited with status %d", status)
	case 2, 3:
		name := unix.SignalName(syscall.Signal(status))
		if name == "" {
			name = fmt.Sprintf("signal %d", status)
		}
		if code == 3 {
			return "its main process dumped core on " + name
		}
		return "its main process was killed by " + name
	}
	return ""
}

// stopped reports whether a unit is gone as far as stop is concerned:
// inactive or failed, with no process left in its cgroup.
func stopped(s UnitState) bool {
	return (s.ActiveState == "inactive" || s.ActiveState == "failed") && s.ControlGroup == ""
}

func plural(n uint32) string {
	if n == 1 {
		return ""
	}
	return "s"
}
