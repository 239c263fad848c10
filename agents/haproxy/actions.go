package haproxy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/goha-ha/goha/internal/proc"
	"github.com/goha-ha/goha/ocf"
)

const (
	// pollEvery is the period of start's, reload's and stop's waits.
	pollEvery = 100 * time.Millisecond
	// deadlineMargin is kept free before an action's deadline to clean up
	// and answer before Pacemaker gives up on the action.
	deadlineMargin = time.Second
)

// actions are the agent's operations over a system.
type actions struct {
	sys system
}

func (a *actions) config(r *ocf.Request) (Config, error) {
	return configFrom(r.Params, r.Resource)
}

// validate checks the program, the configuration file and, through
// `haproxy -c`, its content; it runs before start and reload too. A
// rejected file fails start with OCF_ERR_CONFIGURED, but a reload with
// OCF_ERR_GENERIC: the running haproxy is fine and must not be stopped on
// every node for it.
func (a *actions) validate(ctx context.Context, r *ocf.Request) error {
	c, err := a.config(r)
	if err != nil {
		return err
	}
	st, err := os.Stat(c.Binary)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return ocf.Fail(ocf.ErrInstalled, "parameter %s: %s does not exist (install haproxy)", pBinary, c.Binary)
	case err != nil:
		return ocf.Wrap(ocf.ErrInstalled, err, "parameter %s", pBinary)
	case !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0:
		return ocf.Fail(ocf.ErrInstalled, "parameter %s: %s is not an executable file", pBinary, c.Binary)
	}
	f, err := os.Open(c.File)
	if errors.Is(err, os.ErrNotExist) {
		return ocf.Fail(ocf.ErrInstalled, "parameter %s: %s does not exist", pConfig, c.File)
	}
	if err != nil {
		return ocf.Fail(ocf.ErrConfigured, "parameter %s: %v", pConfig, err)
	}
	defer f.Close()
	bad := ocf.ErrConfigured
	if r.Action == "reload" {
		bad = ocf.ErrGeneric
	}
	p, err := parseConfig(f, os.Getenv)
	if err != nil {
		return ocf.Fail(bad, "parameter %s: %s: %v", pConfig, c.File, err)
	}
	for _, b := range c.Required {
		if !slices.Contains(p.Backends, b) {
			return ocf.Fail(bad, "parameter %s: %s has no backend or listen section %q", pRequired, c.File, b)
		}
	}
	out, err := a.sys.Run(ctx, c.CheckArgv())
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return ocf.Fail(bad, "parameter %s: haproxy rejects %s: %s", pConfig, c.File, checkOutput(out))
	case err != nil:
		return ocf.Wrap(ocf.ErrInstalled, err, "run %s -c", c.Binary)
	}
	return nil
}

// running finds this resource's haproxy master: the one the pid file
// names when it is alive and ours, else one found in /proc (a process of
// ours whose parent is not ours; workers die with their master). pidfile is
// what the pid file says, 0 without one.
func (a *actions) running(c Config) (master, pidfile int, err error) {
	pidfile, err = proc.ReadPidFile(c.Pidfile)
	if err != nil {
		return 0, 0, err
	}
	if pidfile > 0 {
		if argv, err := a.sys.Cmdline(pidfile); err == nil && c.IsOurs(argv) {
			return pidfile, pidfile, nil
		}
	}
	found, err := a.sys.Find(c.IsOurs)
	if err != nil {
		return 0, pidfile, err
	}
	ours := map[int]bool{}
	for _, p := range found {
		ours[p.Pid] = true
	}
	for _, p := range found {
		if !ours[p.Parent] && (master == 0 || p.Pid < master) {
			master = p.Pid
		}
	}
	return master, pidfile, nil
}

// showProc asks the master for its processes.
func (a *actions) showProc(ctx context.Context, c Config) (ProcTable, error) {
	out, err := a.sys.Query(ctx, c.Socket, "show proc")
	if err != nil {
		return ProcTable{}, err
	}
	return parseShowProc(out)
}

// expected is what a monitor checks listens: the listeners saved at the
// last start or reload, or the configuration's when haproxy was started
// by someone else.
func (a *actions) expected(c Config) ([]Listener, error) {
	ls, ok, err := loadListeners(c)
	if ok || err != nil {
		return ls, err
	}
	p, err := readProxies(c)
	return p.Listeners, err
}

func readProxies(c Config) (Proxies, error) {
	f, err := os.Open(c.File)
	if err != nil {
		return Proxies{}, err
	}
	defer f.Close()
	return parseConfig(f, os.Getenv)
}

// observe collects what the monitor judges: the master's process table,
// its current worker's statistics and the listening sockets.
func (a *actions) observe(ctx context.Context, c Config, master, pidfile int) (Observation, error) {
	o := Observation{Pidfile: pidfile, Required: c.Required}
	var err error
	if o.Procs, err = a.showProc(ctx, c); err != nil {
		return o, fmt.Errorf("haproxy master (pid %d) does not answer on %s: %w", master, c.Socket, err)
	}
	if len(o.Procs.Workers) > 0 {
		out, err := a.sys.Query(ctx, c.Socket, "@1 show stat")
		if err == nil {
			o.Stats, err = parseShowStat(out)
		}
		if err != nil {
			return o, fmt.Errorf("current worker (pid %d) does not answer show stat: %w", o.Procs.Workers[0].Pid, err)
		}
	}
	if o.Expected, err = a.expected(c); err != nil {
		return o, fmt.Errorf("read the addresses to check: %w", err)
	}
	if o.Listening, err = a.sys.Listening(); err != nil {
		return o, fmt.Errorf("list listening sockets: %w", err)
	}
	return o, nil
}

// monitor reports whether this resource's haproxy runs and serves.
func (a *actions) monitor(ctx context.Context, r *ocf.Request) error {
	c, err := a.config(r)
	if err != nil {
		if r.IsProbe() {
			return ocf.ErrNotRunning
		}
		return err
	}
	master, pidfile, err := a.running(c)
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "look for haproxy")
	}
	if master == 0 {
		_, started, _ := loadListeners(c)
		if started && !r.IsProbe() {
			return ocf.Fail(ocf.ErrGeneric, "haproxy (master pid %d in %s) is gone without a stop: it crashed or was killed", pidfile, c.Pidfile)
		}
		return ocf.ErrNotRunning
	}
	o, err := a.observe(ctx, c, master, pidfile)
	if err != nil {
		return ocf.Fail(ocf.ErrGeneric, "%v", err)
	}
	v := assess(o)
	if !v.OK {
		return ocf.Fail(ocf.ErrGeneric, "%s", v.Why)
	}
	r.Log.Debugf("%s", v.Why)
	return nil
}

// start launches haproxy unless it runs, and waits until every frontend
// listens. validate has already run `haproxy -c`.
func (a *actions) start(ctx context.Context, r *ocf.Request) error {
	c, err := a.config(r)
	if err != nil {
		return err
	}
	p, err := readProxies(c)
	if err != nil {
		return ocf.Fail(ocf.ErrConfigured, "parameter %s: %v", pConfig, err)
	}
	for _, u := range p.Unchecked {
		r.Log.Infof("bind %s is not checked by monitor", u)
	}
	master, _, err := a.running(c)
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "look for haproxy")
	}
	if master > 0 {
		r.Log.Infof("haproxy already runs (master pid %d)", master)
	} else {
		if err := os.MkdirAll(filepath.Dir(c.Pidfile), 0o755); err != nil {
			return ocf.Wrap(ocf.ErrGeneric, err, "create the directory of %s", c.Pidfile)
		}
		if err := os.MkdirAll(filepath.Dir(c.Socket), 0o755); err != nil {
			return ocf.Wrap(ocf.ErrGeneric, err, "create the directory of %s", c.Socket)
		}
		if err := removeRunFiles(c); err != nil {
			return ocf.Wrap(ocf.ErrGeneric, err, "clear old run files")
		}
		r.Log.Infof("starting haproxy with %s", c.File)
		out, err := a.sys.Run(ctx, c.Argv())
		if err != nil {
			a.cleanUp(ctx, r, c)
			return ocf.Fail(ocf.ErrGeneric, "haproxy failed to start (%v): %s", err, checkOutput(out))
		}
	}
	if err := saveListeners(c, p.Listeners); err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "record the frontends")
	}
	if err := a.waitServing(ctx, r, c, nil); err != nil {
		a.cleanUp(ctx, r, c)
		return err
	}
	return nil
}

// cleanUp ends whatever a failed start left running.
func (a *actions) cleanUp(ctx context.Context, r *ocf.Request, c Config) {
	if err := a.stopAll(ctx, r, c); err != nil {
		r.Log.Errorf("clean up after a failed start: %s", ocf.ReasonOf(err))
	}
}

// waitServing polls until the master answers with a current worker (not
// one of before) and every listener listens, or until the action's time is
// nearly up.
func (a *actions) waitServing(ctx context.Context, r *ocf.Request, c Config, before []int) error {
	until := time.Now().Add(30 * time.Second)
	if d, ok := ctx.Deadline(); ok {
		// What is left is for stopping what does not serve.
		until = d.Add(-3 * deadlineMargin)
	}
	ls, _, err := loadListeners(c)
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "read the frontends")
	}
	why := "no answer yet"
	for {
		why = a.serving(ctx, c, ls, before)
		if why == "" {
			return nil
		}
		if time.Now().After(until) {
			return ocf.Fail(ocf.ErrGeneric, "haproxy is not serving in time: %s", why)
		}
		select {
		case <-ctx.Done():
			return ocf.Fail(ocf.ErrGeneric, "haproxy is not serving in time: %s", why)
		case <-time.After(pollEvery):
		}
	}
}

// serving returns what still keeps haproxy from serving, "" when nothing.
func (a *actions) serving(ctx context.Context, c Config, ls []Listener, before []int) string {
	master, _, err := a.running(c)
	switch {
	case err != nil:
		return err.Error()
	case master == 0:
		return "no haproxy master runs"
	}
	t, err := a.showProc(ctx, c)
	if err != nil {
		return fmt.Sprintf("master socket %s: %v", c.Socket, err)
	}
	if len(t.Workers) == 0 {
		return "no current worker"
	}
	for _, w := range t.Workers {
		if slices.Contains(before, w.Pid) {
			return fmt.Sprintf("worker %d is still the current one", w.Pid)
		}
	}
	listening, err := a.sys.Listening()
	if err != nil {
		return err.Error()
	}
	if missing := notListening(ls, listening); len(missing) > 0 {
		return "not listening: " + strings.Join(missing, ", ")
	}
	return ""
}

// reload applies an edited configuration without dropping a connection:
// validate has checked it, the master re-executes itself on `reload` and
// hands the listening sockets to its new worker. A changed program or
// argument list cannot be reloaded into a running master: haproxy is
// restarted then.
func (a *actions) reload(ctx context.Context, r *ocf.Request) error {
	c, err := a.config(r)
	if err != nil {
		return err
	}
	master, _, err := a.running(c)
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "look for haproxy")
	}
	if master == 0 {
		return ocf.Fail(ocf.ErrGeneric, "haproxy is not running: nothing to reload")
	}
	argv, err := a.sys.Cmdline(master)
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "read the command line of haproxy master %d", master)
	}
	if !c.SameLaunch(argv) {
		r.Log.Warnf("haproxy runs as %q; the parameters ask for %q: restarting it", strings.Join(argv, " "), strings.Join(c.Argv(), " "))
		if err := a.stopAll(ctx, r, c); err != nil {
			return err
		}
		return a.start(ctx, r)
	}
	p, err := readProxies(c)
	if err != nil {
		return ocf.Fail(ocf.ErrGeneric, "parameter %s: %v", pConfig, err)
	}
	old, err := a.showProc(ctx, c)
	if err != nil {
		return ocf.Fail(ocf.ErrGeneric, "haproxy master (pid %d) does not answer on %s: %v", master, c.Socket, err)
	}
	var before []int
	for _, w := range old.Workers {
		before = append(before, w.Pid)
	}
	r.Log.Infof("reloading haproxy (master pid %d, worker %s) with %s", master, joinPids(before), c.File)
	// The master closes the connection as it re-executes itself.
	if _, err := a.sys.Query(ctx, c.Socket, "reload"); err != nil {
		return ocf.Fail(ocf.ErrGeneric, "send reload to %s: %v", c.Socket, err)
	}
	if err := a.waitReloaded(ctx, c, old); err != nil {
		return err
	}
	if err := saveListeners(c, p.Listeners); err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "record the frontends")
	}
	return a.waitServing(ctx, r, c, before)
}

// waitReloaded polls the master until it counts one more reload, and fails
// when it counts it as failed (its old workers then keep serving).
func (a *actions) waitReloaded(ctx context.Context, c Config, old ProcTable) error {
	until := time.Now().Add(30 * time.Second)
	if d, ok := ctx.Deadline(); ok {
		until = d.Add(-deadlineMargin)
	}
	for {
		t, err := a.showProc(ctx, c)
		if err == nil && t.Master.Reloads > old.Master.Reloads {
			if t.FailedReloads > old.FailedReloads {
				return ocf.Fail(ocf.ErrGeneric, "haproxy's reload failed (its log says why); worker %s keeps serving the previous configuration", joinPids(pidsOf(t.Workers)))
			}
			return nil
		}
		if time.Now().After(until) || ctx.Err() != nil {
			why := "the master did not report the reload"
			if err != nil {
				why = fmt.Sprintf("master socket %s: %v", c.Socket, err)
			}
			return ocf.Fail(ocf.ErrGeneric, "haproxy did not reload in time: %s", why)
		}
		time.Sleep(pollEvery)
	}
}

func pidsOf(ps []Proc) []int {
	var pids []int
	for _, p := range ps {
		pids = append(pids, p.Pid)
	}
	return pids
}

// stop ends every haproxy process of this resource.
func (a *actions) stop(ctx context.Context, r *ocf.Request) error {
	c, err := a.config(r)
	if err != nil {
		r.Log.Warnf("stop with an invalid configuration (%s): nothing to stop", ocf.ReasonOf(err))
		return nil
	}
	return a.stopAll(ctx, r, c)
}

// stopAll finds the master and every worker of this resource in /proc,
// old ones and orphans included, ends them and removes the run files.
func (a *actions) stopAll(ctx context.Context, r *ocf.Request, c Config) error {
	found, err := a.sys.Find(c.IsOurs)
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "look for haproxy")
	}
	pids := make([]int, 0, len(found))
	for _, p := range found {
		pids = append(pids, p.Pid)
	}
	if len(pids) > 0 {
		r.Log.Infof("stopping haproxy (pid %s)", joinPids(pids))
		if err := a.terminate(ctx, c, pids); err != nil {
			return err
		}
	}
	if err := removeRunFiles(c); err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "clean up")
	}
	return nil
}

// terminate sends SIGTERM, SIGKILL after stop_grace (or early enough before
// the deadline to see its effect) and fails unless every pid is gone.
func (a *actions) terminate(ctx context.Context, c Config, pids []int) error {
	now := time.Now()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = now.Add(c.StopGrace + 10*time.Second)
	}
	latest := deadline.Add(-2 * deadlineMargin)
	if half := now.Add(deadline.Sub(now) / 2); latest.Before(half) {
		latest = half
	}
	killAt := now.Add(c.StopGrace)
	if killAt.After(latest) {
		killAt = latest
	}
	wait, cancel := context.WithDeadline(ctx, deadline.Add(-deadlineMargin/2))
	defer cancel()
	if err := proc.Terminate(wait, pids, killAt); err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "haproxy survives SIGKILL")
	}
	return nil
}

func joinPids(pids []int) string {
	s := make([]string, len(pids))
	for i, p := range pids {
		s[i] = fmt.Sprint(p)
	}
	return strings.Join(s, ", ")
}
