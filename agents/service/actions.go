package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/goha-ha/goha/ocf"
)

const (
	// pollEvery is the period of start's and stop's bounded waits.
	pollEvery = 250 * time.Millisecond
	// deadlineMargin is kept free before an action's deadline to clean
	// up and answer before Pacemaker gives up on the action.
	deadlineMargin = time.Second
)

// actions are the agent's operations over systemd and the checks.
type actions struct {
	dial   func(ctx context.Context, address string) (manager, error)
	checks checker
	getenv func(string) string // for HA_RSCTMP; os.Getenv when nil
}

func (a *actions) env(name string) string {
	if a.getenv == nil {
		return os.Getenv(name)
	}
	return a.getenv(name)
}

// connect reaches systemd at the configured address.
func (a *actions) connect(ctx context.Context, c Config) (manager, error) {
	m, err := a.dial(ctx, c.Bus)
	if err != nil {
		return nil, ocf.Wrap(ocf.ErrGeneric, err, "%v", err)
	}
	return m, nil
}

// validate checks what the declarations cannot: the files and programs
// the checks name exist here.
func (a *actions) validate(ctx context.Context, r *ocf.Request) error {
	c, err := configFrom(r.Params)
	if err != nil {
		return err
	}
	if h := c.Checks.HTTP; h != nil && h.CAFile != "" {
		if _, err := os.ReadFile(h.CAFile); err != nil {
			return ocf.Wrap(ocf.ErrInstalled, err, "parameter %s: cannot read %s", pHTTPCA, h.CAFile)
		}
	}
	if len(c.Checks.Exec) > 0 {
		st, err := os.Stat(c.Checks.Exec[0])
		if err != nil || !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
			return ocf.Fail(ocf.ErrInstalled, "parameter %s: %s is not an executable file on this node", pExec, c.Checks.Exec[0])
		}
	}
	return nil
}

// start starts the unit unless it is active, waits for systemd's job, and
// then for the health checks to pass.
func (a *actions) start(ctx context.Context, r *ocf.Request) error {
	c, err := configFrom(r.Params)
	if err != nil {
		return err
	}
	m, err := a.connect(ctx, c)
	if err != nil {
		return err
	}
	defer m.Close()
	s, err := m.State(ctx, c.Unit)
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "%v", err)
	}
	if st, why := loadProblem(c.Unit, s); st != ocf.Success {
		return ocf.Fail(st, "%s", why)
	}
	if s.UnitFileState == "enabled" {
		r.Log.Warnf("unit %s is enabled: systemd starts it at boot, outside the cluster (systemctl disable %s)", c.Unit, c.Unit)
	}
	if s.ActiveState == "failed" || s.SubState == "auto-restart" {
		r.Log.Infof("unit %s %s before start (%s): resetting it", c.Unit, s.ActiveState, describeFailure(s))
		if err := m.ResetFailed(ctx, c.Unit); err != nil {
			return ocf.Wrap(ocf.ErrGeneric, err, "%v", err)
		}
	}
	jobCtx, cancel := context.WithDeadline(ctx, margin(ctx))
	result, err := m.Start(jobCtx, c.Unit)
	cancel()
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "%v", err)
	}
	if s, err = m.State(ctx, c.Unit); err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "%v", err)
	}
	if result != "done" {
		return ocf.Fail(ocf.ErrGeneric, "systemd's start job for %s ended with %q: the unit %s", c.Unit, result, describeFailure(s))
	}
	if s.ActiveState != "active" && s.ActiveState != "reloading" {
		return ocf.Fail(ocf.ErrGeneric, "unit %s is %s/%s after its start job: %s", c.Unit, s.ActiveState, s.SubState, describeFailure(s))
	}
	if err := saveBaseline(a.baselinePath(r), c.Unit, s.NRestarts); err != nil {
		r.Log.Warnf("cannot record the restart count of %s: %v", c.Unit, err)
	}
	r.Log.Infof("unit %s started (%s/%s, main pid %d)", c.Unit, s.ActiveState, s.SubState, s.MainPID)
	if !c.Checks.Any() {
		return nil
	}
	return a.waitHealthy(ctx, r, m, c)
}

// waitHealthy runs the checks until they pass, the unit stops being
// active, or the start's time is nearly up. The unit is left running in
// the last case: Pacemaker's recovery stops it.
func (a *actions) waitHealthy(ctx context.Context, r *ocf.Request, m manager, c Config) error {
	for tries := 1; ; tries++ {
		err := a.checks.Check(ctx, c.Checks)
		if err == nil {
			r.Log.Infof("unit %s passed its health checks (try %d)", c.Unit, tries)
			return nil
		}
		if time.Until(margin(ctx)) < pollEvery {
			return ocf.Fail(ocf.ErrGeneric, "unit %s is active but did not pass its health checks within the start timeout: %v", c.Unit, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(pollEvery):
		}
		s, serr := m.State(ctx, c.Unit)
		if serr != nil {
			return ocf.Wrap(ocf.ErrGeneric, serr, "%v", serr)
		}
		if s.ActiveState != "active" && s.ActiveState != "reloading" {
			return ocf.Fail(ocf.ErrGeneric, "unit %s became %s/%s before passing its health checks (%s); last check: %v",
				c.Unit, s.ActiveState, s.SubState, describeFailure(s), err)
		}
	}
}

// monitor reports the unit's state, systemd's restarts since start, and
// the health checks when the unit runs.
func (a *actions) monitor(ctx context.Context, r *ocf.Request) error {
	c, err := configFrom(r.Params)
	if err != nil {
		if r.IsProbe() {
			return ocf.ErrNotRunning
		}
		return err
	}
	m, err := a.connect(ctx, c)
	if err != nil {
		return err
	}
	defer m.Close()
	s, err := m.State(ctx, c.Unit)
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "%v", err)
	}
	path := a.baselinePath(r)
	v := assess(c.Unit, s, loadBaseline(path, c.Unit), c.MaxRestarts, r.IsProbe())
	if v.Record {
		if err := saveBaseline(path, c.Unit, v.Baseline.NRestarts); err != nil {
			r.Log.Warnf("cannot record the restart count of %s: %v", c.Unit, err)
		}
	}
	if !v.Running() {
		if v.Status == ocf.NotRunning && r.IsProbe() {
			r.Log.Debugf("%s", v.Why)
			return ocf.ErrNotRunning
		}
		return ocf.Fail(v.Status, "%s", v.Why)
	}
	if c.Checks.Any() {
		if err := a.checks.Check(ctx, c.Checks); err != nil {
			return ocf.Fail(ocf.ErrGeneric, "unit %s is %s but %v", c.Unit, s.ActiveState, err)
		}
	}
	r.Log.Debugf("%s", v.Why)
	return nil
}

// stop stops the unit and waits for systemd's job; what is left at the
// deadline's approach is killed with SIGKILL. It succeeds only when the
// unit is inactive with no process left.
func (a *actions) stop(ctx context.Context, r *ocf.Request) error {
	c, err := configFrom(r.Params)
	if err != nil {
		r.Log.Warnf("stop with an invalid configuration (%s): nothing to stop", ocf.ReasonOf(err))
		return nil
	}
	m, err := a.connect(ctx, c)
	if err != nil {
		return err
	}
	defer m.Close()
	s, err := m.State(ctx, c.Unit)
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "%v", err)
	}
	if !stopped(s) {
		r.Log.Infof("stopping unit %s (%s/%s)", c.Unit, s.ActiveState, s.SubState)
		if s, err = a.stopUnit(ctx, r, m, c.Unit); err != nil {
			return err
		}
	}
	if s.ActiveState == "failed" {
		r.Log.Infof("unit %s had failed (%s): resetting it", c.Unit, describeFailure(s))
		if err := m.ResetFailed(ctx, c.Unit); err != nil {
			return ocf.Wrap(ocf.ErrGeneric, err, "%v", err)
		}
	}
	if err := os.Remove(a.baselinePath(r)); err != nil && !errors.Is(err, os.ErrNotExist) {
		r.Log.Warnf("cannot remove %s: %v", a.baselinePath(r), err)
	}
	r.Log.Infof("unit %s is stopped", c.Unit)
	return nil
}

// stopUnit runs systemd's stop job until the kill time, then kills every
// process of the unit and waits until none is left.
func (a *actions) stopUnit(ctx context.Context, r *ocf.Request, m manager, unit string) (UnitState, error) {
	killAt := killTime(ctx)
	jobCtx, cancel := context.WithDeadline(ctx, killAt)
	result, jobErr := m.Stop(jobCtx, unit)
	cancel()
	s, err := m.State(ctx, unit)
	if err != nil {
		return s, ocf.Wrap(ocf.ErrGeneric, err, "%v", err)
	}
	if stopped(s) {
		return s, nil
	}
	why := fmt.Sprintf("systemd's stop job ended with %q", result)
	if jobErr != nil {
		why = jobErr.Error()
	}
	r.Log.Warnf("unit %s is %s/%s after stop (%s): sending SIGKILL to its processes", unit, s.ActiveState, s.SubState, why)
	if err := m.KillAll(ctx, unit, syscall.SIGKILL); err != nil {
		r.Log.Warnf("%v", err)
	}
	for {
		if s, err = m.State(ctx, unit); err == nil && stopped(s) {
			return s, nil
		}
		if time.Until(margin(ctx)) < pollEvery/2 {
			if err != nil {
				return s, ocf.Wrap(ocf.ErrGeneric, err, "unit %s may still run after SIGKILL: %v", unit, err)
			}
			return s, ocf.Fail(ocf.ErrGeneric, "unit %s is still %s/%s after SIGKILL (%s)", unit, s.ActiveState, s.SubState, why)
		}
		select {
		case <-ctx.Done():
		case <-time.After(pollEvery):
		}
	}
}

// margin is ctx's deadline less the time kept to answer.
func margin(ctx context.Context) time.Time {
	d, ok := ctx.Deadline()
	if !ok {
		return time.Now().Add(time.Hour)
	}
	return d.Add(-deadlineMargin)
}

// killTime is when stop stops waiting for systemd: 3 s before the
// deadline, or half way to a deadline closer than 6 s.
func killTime(ctx context.Context) time.Time {
	d, ok := ctx.Deadline()
	if !ok {
		return time.Now().Add(time.Hour)
	}
	now := time.Now()
	at := d.Add(-3 * deadlineMargin)
	if half := now.Add(d.Sub(now) / 2); at.Before(half) {
		at = half
	}
	return at
}

// baselinePath is where the restart count at start is kept for r.
func (a *actions) baselinePath(r *ocf.Request) string {
	dir := a.env("HA_RSCTMP")
	if dir == "" {
		dir = "/run/resource-agents"
	}
	name := r.Resource
	if name == "" {
		name = "default"
	}
	name = strings.Map(func(c rune) rune {
		if c == '/' || c == 0 {
			return '_'
		}
		return c
	}, name)
	return filepath.Join(dir, "goha-service-"+name+".restarts")
}

// loadBaseline reads "UNIT NRESTARTS"; a file for another unit, or none,
// is no baseline.
func loadBaseline(path, unit string) Baseline {
	b, err := os.ReadFile(path)
	if err != nil {
		return Baseline{}
	}
	f := strings.Fields(string(b))
	if len(f) != 2 || f[0] != unit {
		return Baseline{}
	}
	n, err := strconv.ParseUint(f[1], 10, 32)
	if err != nil {
		return Baseline{}
	}
	return Baseline{Known: true, NRestarts: uint32(n)}
}

func saveBaseline(path, unit string, n uint32) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(fmt.Sprintf("%s %d\n", unit, n)), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
