package garbd

import (
	"github.com/goha-ha/goha/internal/proc"

	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strings"
	"syscall"
	"time"

	"github.com/goha-ha/goha/ocf"
)

const (
	// pollEvery is the period of start's and stop's bounded waits.
	pollEvery = 100 * time.Millisecond
	// deadlineMargin is kept free before an action's deadline to clean up
	// and answer before Pacemaker gives up on the action.
	deadlineMargin = time.Second
)

// actions are the agent's operations over a system.
type actions struct {
	sys    system
	getenv func(string) string // for HA_RSCTMP; os.Getenv when nil
}

func (a *actions) config(r *ocf.Request) (Config, error) {
	getenv := a.getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	return configFrom(r.Params, r.Resource, getenv("HA_RSCTMP"))
}

// validate checks what the declarations cannot: the program and the
// account exist.
func (a *actions) validate(ctx context.Context, r *ocf.Request) error {
	c, err := a.config(r)
	if err != nil {
		return err
	}
	st, err := os.Stat(c.Binary)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return ocf.Fail(ocf.ErrInstalled, "parameter %s: %s does not exist (install galera-arbitrator-4)", pBinary, c.Binary)
	case err != nil:
		return ocf.Wrap(ocf.ErrInstalled, err, "parameter %s", pBinary)
	case !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0:
		return ocf.Fail(ocf.ErrInstalled, "parameter %s: %s is not an executable file", pBinary, c.Binary)
	}
	if _, err := user.Lookup(c.User); err != nil {
		return ocf.Fail(ocf.ErrInstalled, "parameter %s: no user %q on this node", pUser, c.User)
	}
	if c.Group != "" {
		if _, err := user.LookupGroup(c.Group); err != nil {
			return ocf.Fail(ocf.ErrInstalled, "parameter %s: no group %q on this node", pGroup, c.Group)
		}
	}
	return nil
}

// find returns the pid of this resource's garbd: the one in the pid file
// when it is alive and ours, otherwise one found in /proc; 0 when none runs.
func (a *actions) find(c Config) (int, error) {
	pid, err := proc.ReadPidFile(c.Pid)
	if err != nil {
		return 0, err
	}
	if pid > 0 {
		argv, err := a.sys.Cmdline(pid)
		if err == nil && c.IsOurs(argv) {
			return pid, nil
		}
		if err != nil && !errors.Is(err, errGone) {
			return 0, err
		}
	}
	pids, err := a.sys.Find(c.IsOurs)
	if err != nil || len(pids) == 0 {
		return 0, err
	}
	return pids[0], nil
}

// observe reads what pid logged since the last action and keeps it.
func (a *actions) observe(r *ocf.Request, c Config, pid int) (Progress, error) {
	s := loadState(c, pid)
	log, err := a.sys.OpenLog(pid, c.Log)
	if err != nil {
		return s.Progress, err
	}
	defer log.Close()
	if s.Offset, err = follow(log, s.Offset, &s.Progress); err != nil {
		return s.Progress, fmt.Errorf("read log %s: %w", c.Log, err)
	}
	if err := saveState(c, s); err != nil {
		r.Log.Warnf("cannot keep garbd's progress: %v", err)
	}
	return s.Progress, nil
}

// start runs garbd unless it already runs, and waits until it is a synced
// member of a Primary component.
func (a *actions) start(ctx context.Context, r *ocf.Request) error {
	c, err := a.config(r)
	if err != nil {
		return err
	}
	pid, err := a.find(c)
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "look for a running garbd")
	}
	var l *launched
	if pid > 0 {
		r.Log.Infof("garbd of cluster %q already runs as pid %d", c.Cluster, pid)
		if err := proc.WritePidFile(c.Pid, pid); err != nil {
			return ocf.Wrap(ocf.ErrGeneric, err, "record garbd's pid")
		}
	} else {
		// A fresh run reads the log from where its output begins.
		if err := removeRunFiles(c); err != nil {
			return ocf.Wrap(ocf.ErrGeneric, err, "clear old run files")
		}
		r.Log.Infof("starting garbd to join cluster %q at %s", c.Cluster, c.Address)
		if l, err = a.sys.Launch(c); err != nil {
			return ocf.Wrap(ocf.ErrGeneric, err, "start garbd")
		}
		pid = l.Pid
		if err := proc.WritePidFile(c.Pid, pid); err != nil {
			a.terminate(ctx, r, c, []int{pid})
			return ocf.Wrap(ocf.ErrGeneric, err, "record garbd's pid")
		}
		if err := saveState(c, runState{Pid: pid, Offset: l.LogOffset}); err != nil {
			r.Log.Warnf("cannot keep garbd's progress: %v", err)
		}
	}
	return a.waitJoined(ctx, r, c, pid, l)
}

// waitJoined polls garbd's log until it has joined, it exited, or the
// start's time is nearly up; in the last two cases nothing is left running.
func (a *actions) waitJoined(ctx context.Context, r *ocf.Request, c Config, pid int, l *launched) error {
	deadline, hasDeadline := ctx.Deadline()
	for {
		p, err := a.observe(r, c, pid)
		if err != nil {
			r.Log.Warnf("%v", err)
		}
		if p.Joined() {
			r.Log.Infof("garbd (pid %d) joined cluster %q: %s", pid, c.Cluster, assess(p).Why)
			return nil
		}
		if exited, status := a.exited(pid, l); exited {
			p, _ = a.observe(r, c, pid)
			removeRunFiles(c)
			return ocf.Fail(ocf.ErrGeneric, "garbd exited%s before joining cluster %q at %s: %s; check that its nodes run and listen there and that %s is their cluster name (log: %s)",
				status, c.Cluster, c.Address, explainFailure(p), pCluster, c.Log)
		}
		if hasDeadline && time.Until(deadline) < deadlineMargin+pollEvery {
			stopErr := a.terminate(ctx, r, c, []int{pid})
			if stopErr == nil {
				removeRunFiles(c)
			}
			msg := fmt.Sprintf("garbd did not join a Primary component of cluster %q at %s within the start timeout: %s", c.Cluster, c.Address, explainFailure(p))
			if stopErr != nil {
				return ocf.Fail(ocf.ErrGeneric, "%s; and stopping it failed: %s", msg, ocf.ReasonOf(stopErr))
			}
			return ocf.Fail(ocf.ErrGeneric, "%s; stopped it", msg)
		}
		select {
		case <-ctx.Done():
		case <-time.After(pollEvery):
		}
	}
}

// exited reports whether pid is gone, with its exit status when the agent
// started it itself.
func (a *actions) exited(pid int, l *launched) (bool, string) {
	if l != nil {
		select {
		case <-l.Exited:
			var ee *exec.ExitError
			switch {
			case errors.As(*l.ExitErr, &ee) && ee.ExitCode() >= 0:
				return true, fmt.Sprintf(" with status %d", ee.ExitCode())
			case ee != nil:
				return true, " (" + ee.String() + ")"
			}
			return true, ""
		default:
			return false, ""
		}
	}
	_, err := a.sys.Cmdline(pid)
	return errors.Is(err, errGone), ""
}

// monitor reports whether this resource's garbd runs and is in a Primary
// component.
func (a *actions) monitor(ctx context.Context, r *ocf.Request) error {
	c, err := a.config(r)
	if err != nil {
		if r.IsProbe() {
			return ocf.ErrNotRunning
		}
		return err
	}
	pid, err := a.find(c)
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "look for garbd")
	}
	if pid == 0 {
		if r.IsProbe() {
			return ocf.ErrNotRunning
		}
		why := "garbd is not running"
		if s := loadStateAny(c); s.Pid > 0 {
			why = fmt.Sprintf("garbd (pid %d) is not running", s.Pid)
			if problem := s.Progress.problems(); problem != "" {
				why += "; its last problem: " + problem
			}
		}
		return ocf.Fail(ocf.NotRunning, "%s", why)
	}
	p, err := a.observe(r, c, pid)
	if err != nil {
		r.Log.Warnf("garbd (pid %d) runs but its log cannot be read: %v", pid, err)
		return nil
	}
	h := assess(p)
	if !h.OK {
		return ocf.Fail(ocf.ErrGeneric, "%s", h.Why)
	}
	r.Log.Debugf("pid %d: %s", pid, h.Why)
	return nil
}

// stop terminates every garbd of this resource: the one in the pid file
// and any other found in /proc with this resource's cluster and address.
func (a *actions) stop(ctx context.Context, r *ocf.Request) error {
	c, err := a.config(r)
	if err != nil {
		r.Log.Warnf("stop with an invalid configuration (%s): nothing to stop", ocf.ReasonOf(err))
		return nil
	}
	var pids []int
	if pid, err := proc.ReadPidFile(c.Pid); err == nil && pid > 0 {
		if argv, err := a.sys.Cmdline(pid); err == nil && c.IsOurs(argv) {
			pids = append(pids, pid)
		}
	}
	found, err := a.sys.Find(c.IsOurs)
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "look for garbd")
	}
	for _, pid := range found {
		if len(pids) == 0 || pid != pids[0] {
			r.Log.Warnf("found garbd pid %d of this resource that the pid file does not name", pid)
			pids = append(pids, pid)
		}
	}
	if len(pids) == 0 {
		r.Log.Infof("garbd of cluster %q is not running", c.Cluster)
		if err := removeRunFiles(c); err != nil {
			return ocf.Wrap(ocf.ErrGeneric, err, "clean up")
		}
		return nil
	}
	if err := a.terminate(ctx, r, c, pids); err != nil {
		return err
	}
	if err := removeRunFiles(c); err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "clean up")
	}
	r.Log.Infof("garbd stopped (pid %s)", joinPids(pids))
	return nil
}

// terminate sends SIGTERM, waits up to stop_grace (never past what the
// deadline leaves for SIGKILL), sends SIGKILL to what is left and waits
// until the deadline. It fails unless every process is gone.
func (a *actions) terminate(ctx context.Context, r *ocf.Request, c Config, pids []int) error {
	now := time.Now()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = now.Add(time.Duration(c.StopWait)*time.Second + 5*time.Second)
	}
	// SIGKILL goes out after stop_grace, but early enough to leave time
	// to see its effect: 2 s before the deadline, or half way to a
	// deadline closer than that.
	latest := deadline.Add(-2 * deadlineMargin)
	if half := now.Add(deadline.Sub(now) / 2); latest.Before(half) {
		latest = half
	}
	killAt := now.Add(time.Duration(c.StopWait) * time.Second)
	if killAt.After(latest) {
		killAt = latest
	}
	r.Log.Infof("sending SIGTERM to garbd (pid %s)", joinPids(pids))
	left := a.signalAll(pids, syscall.SIGTERM)
	left = a.waitGone(left, killAt)
	if len(left) == 0 {
		return nil
	}
	r.Log.Warnf("garbd (pid %s) still runs after SIGTERM: sending SIGKILL", joinPids(left))
	left = a.signalAll(left, syscall.SIGKILL)
	left = a.waitGone(left, deadline.Add(-deadlineMargin/2))
	if len(left) > 0 {
		return ocf.Fail(ocf.ErrGeneric, "garbd (pid %s) still runs after SIGKILL", joinPids(left))
	}
	return nil
}

// signalAll signals pids and returns those that still exist.
func (a *actions) signalAll(pids []int, sig syscall.Signal) []int {
	var left []int
	for _, pid := range pids {
		if err := a.sys.Signal(pid, sig); !errors.Is(err, errGone) {
			left = append(left, pid)
		}
	}
	return left
}

// waitGone polls until every pid is gone or until is reached, and returns
// those still alive.
func (a *actions) waitGone(pids []int, until time.Time) []int {
	for {
		var left []int
		for _, pid := range pids {
			if _, err := a.sys.Cmdline(pid); !errors.Is(err, errGone) {
				left = append(left, pid)
			}
		}
		if len(left) == 0 || !time.Now().Before(until) {
			return left
		}
		pids = left
		time.Sleep(min(pollEvery, time.Until(until)))
	}
}

// loadStateAny returns whatever state was saved last, for messages.
func loadStateAny(c Config) runState {
	pid, _ := proc.ReadPidFile(c.Pid)
	return loadState(c, pid)
}

func joinPids(pids []int) string {
	s := make([]string, len(pids))
	for i, p := range pids {
		s[i] = fmt.Sprint(p)
	}
	return strings.Join(s, ", ")
}
