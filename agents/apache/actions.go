package apache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/goha-ha/goha/internal/proc"
	"github.com/goha-ha/goha/ocf"
)

const (
	// pollEvery is the period of start's, reload's and stop's waits.
	pollEvery = 200 * time.Millisecond
	// deadlineMargin is kept free before an action's deadline to answer
	// before Pacemaker gives up on the action.
	deadlineMargin = time.Second
	// launchGrace is how long start accepts seeing no apache process
	// after the launcher returned: the daemon detaches first, then
	// writes its pid file.
	launchGrace = 2 * time.Second
	// badAnswers is how many unhealthy answers in a row make start give
	// up early: a 404 or a page that does not match does not heal itself.
	badAnswers = 3
	// maxRequest bounds one page fetch during start and reload, so a
	// hanging fetch does not eat the whole timeout.
	maxRequest = 5 * time.Second
	// orphanGrace is how long workers without a parent get after SIGTERM
	// before SIGKILL: they do not act on SIGTERM themselves.
	orphanGrace = 2 * time.Second
)

// actions are the agent's operations over a system.
type actions struct {
	sys     system
	getenv  func(string) string // HA_RSCTMP; os.Getenv when nil
	environ func() []string     // the agent's environment; os.Environ when nil
}

// instance is one resource as the actions see it: its parameters, the
// environment apache gets and what its configuration says.
type instance struct {
	Config
	Env          *shellEnv
	Notes        []string // what the envfiles had that was skipped
	Server       serverConfig
	ServerErr    error  // why the configuration could not be read
	PidFile      string // where the parent's pid is
	PidDirective string // "-c" directive setting it; "" for the configuration's own
	exe          string // Httpd as /proc/<pid>/exe shows it
}

// instance resolves the parameters, reads the envfiles and the
// configuration. Only bad parameters are an error: a configuration that
// cannot be read is kept in ServerErr, for configtest to explain first.
func (a *actions) instance(r *ocf.Request) (*instance, error) {
	c, err := configFrom(r.Params, r.Env.Params)
	if err != nil {
		return nil, err
	}
	getenv, environ := a.getenv, a.environ
	if getenv == nil {
		getenv = os.Getenv
	}
	if environ == nil {
		environ = os.Environ
	}
	in := &instance{Config: c, Env: newShellEnv(environ()), exe: resolveExe(c.Httpd)}
	fsys := a.sys.Files()
	for _, f := range c.EnvFiles {
		raw, err := fs.ReadFile(fsys, fsPath(f))
		if err != nil {
			continue // a missing file is skipped, as by the shell agent
		}
		in.Notes = append(in.Notes, in.Env.Read(f, string(raw))...)
	}
	in.Server, in.ServerErr = readServerConfig(fsys, configInput{
		File: c.ConfigFile, ServerRoot: c.ServerRoot, Defines: c.Defines,
		Pre: c.Pre, Post: c.Post, Lookup: in.Env.Lookup,
	})
	rsctmp := getenv("HA_RSCTMP")
	if rsctmp == "" {
		rsctmp = "/run/resource-agents"
	}
	own := filepath.Join(rsctmp, "apache-"+fileSafe(r.ResourceName())+".pid")
	in.PidFile, in.PidDirective = pidDirective(c.PidFile, in.Server.PidFile, own)
	return in, nil
}

// fileSafe keeps a resource id usable as one path element.
func fileSafe(s string) string {
	if s == "" {
		return "default"
	}
	return strings.Map(func(r rune) rune {
		if r == '/' || r == 0 {
			return '_'
		}
		return r
	}, s)
}

// argv is apache's command line for this instance.
func (in *instance) argv(action ...string) []string {
	return in.Config.argv(in.PidDirective, action...)
}

// statusURL is the statusurl parameter or the URL the configuration
// implies.
func (in *instance) statusURL() (string, error) {
	if in.StatusURL != "" {
		return in.StatusURL, nil
	}
	if in.ServerErr != nil {
		return "", ocf.Fail(ocf.ErrConfigured, "parameter %s is empty and %s cannot be read: %v", pStatusURL, in.ConfigFile, in.ServerErr)
	}
	u, err := statusURL(in.Server, in.Port, in.IPv6)
	if err != nil {
		return "", ocf.Fail(ocf.ErrConfigured, "parameter %s is empty and %s %v, or set %s", pStatusURL, in.ConfigFile, err, pStatusURL)
	}
	return u, nil
}

// isApache reports whether p runs this instance's program.
func (in *instance) isApache(p process) bool {
	return p.Exe == in.exe || p.Exe == in.Httpd
}

// validate checks what the declaration cannot: the program and the
// configuration file exist, and the status URL can be found. validate-all
// also runs apache's configtest.
func (a *actions) validate(ctx context.Context, r *ocf.Request) error {
	in, err := a.instance(r)
	if err != nil {
		return err
	}
	st, err := fs.Stat(a.sys.Files(), fsPath(in.Httpd))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return ocf.Fail(ocf.ErrInstalled, "parameter %s: %s does not exist (install apache2)", pHttpd, in.Httpd)
	case err != nil:
		return ocf.Wrap(ocf.ErrInstalled, err, "parameter %s", pHttpd)
	case !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0:
		return ocf.Fail(ocf.ErrInstalled, "parameter %s: %s is not an executable file", pHttpd, in.Httpd)
	}
	if _, err := fs.Stat(a.sys.Files(), fsPath(in.ConfigFile)); err != nil {
		return ocf.Fail(ocf.ErrInstalled, "parameter %s: %s does not exist", pConfigFile, in.ConfigFile)
	}
	if r.Action == "validate-all" {
		if err := a.prepare(in); err != nil {
			return ocf.Wrap(ocf.ErrGeneric, err, "prepare apache's directories")
		}
		if err := a.configtest(ctx, in); err != nil {
			return err
		}
	}
	// A configuration the reader cannot follow is reported by start after
	// apache's own configtest, which says it better.
	if in.ServerErr == nil {
		if _, err := in.statusURL(); err != nil {
			return err
		}
	}
	return nil
}

// configtest runs apache -t with the instance's command line and
// environment, and fails with apache's own message.
func (a *actions) configtest(ctx context.Context, in *instance) error {
	out, err := a.sys.Run(ctx, in.argv("-t"), in.Env.Environ())
	if err == nil {
		return nil
	}
	msg := apacheMessage(out)
	if msg == "" {
		msg = err.Error()
	}
	return ocf.Fail(ocf.ErrConfigured, "configtest of %s failed: %s", in.ConfigFile, msg)
}

// parent returns the pid of this instance's parent process: the one in
// the pid file when it is alive and runs httpd with this configuration;
// 0 when there is none.
func (a *actions) parent(in *instance) (int, error) {
	pid, err := proc.ReadPidFile(in.PidFile)
	if err != nil || pid == 0 {
		return 0, err
	}
	p, err := a.sys.Process(pid)
	if errors.Is(err, proc.ErrGone) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if !in.isApache(p) || hasConfigArg(p.Argv) && !ownsArgv(p.Argv, in.ConfigFile) {
		return 0, nil // the pid was reused
	}
	return pid, nil
}

// hasConfigArg reports whether argv names a configuration file with -f.
func hasConfigArg(argv []string) bool {
	for _, a := range argv {
		if strings.HasPrefix(a, "-f") {
			return true
		}
	}
	return false
}

// members lists every process of this instance: parent, its descendants
// (workers, piped loggers), and any httpd still running with this
// configuration file, such as the workers of a parent that was killed.
func (a *actions) members(in *instance, parent int) ([]int, error) {
	all, err := a.sys.Processes()
	if err != nil {
		return nil, err
	}
	children := map[int][]int{}
	var out []int
	seen := map[int]bool{}
	add := func(pid int) {
		if !seen[pid] && pid != os.Getpid() {
			seen[pid] = true
			out = append(out, pid)
		}
	}
	for _, p := range all {
		children[p.PPid] = append(children[p.PPid], p.Pid)
		if in.isApache(p) && ownsArgv(p.Argv, in.ConfigFile) {
			add(p.Pid)
		}
	}
	if parent > 0 {
		add(parent)
		for queue := []int{parent}; len(queue) > 0; queue = queue[1:] {
			for _, c := range children[queue[0]] {
				if !seen[c] {
					queue = append(queue, c)
				}
				add(c)
			}
		}
	}
	return out, nil
}

// check fetches url and judges the page; answered tells a server that
// answered badly from one that did not answer.
func (a *actions) check(ctx context.Context, url string, re *regexp.Regexp, param string, within time.Duration) (problem string, answered bool) {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	p, err := a.sys.Get(ctx, url)
	if err != nil {
		return fetchProblem(url, err, within), false
	}
	return judgePage(url, p, re, param), true
}

// start runs apache unless it already runs, and waits until its status
// page answers.
func (a *actions) start(ctx context.Context, r *ocf.Request) error {
	in, err := a.instance(r)
	if err != nil {
		return err
	}
	for _, n := range in.Notes {
		r.Log.Infof("%s: %s", pEnvFiles, n)
	}
	pid, err := a.parent(in)
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "look for apache")
	}
	url, urlErr := in.statusURL()
	if pid > 0 {
		if urlErr != nil {
			return urlErr
		}
		r.Log.Infof("apache of %s already runs (pid %d)", in.ConfigFile, pid)
		return a.waitHealthy(ctx, r, in, url, false, fileSize(a.sys.Files(), in.Server.ErrorLog))
	}
	if err := a.prepare(in); err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "prepare apache's directories")
	}
	if err := a.configtest(ctx, in); err != nil {
		return err
	}
	if urlErr != nil {
		return urlErr
	}
	if left, err := a.members(in, 0); err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "look for apache")
	} else if len(left) > 0 {
		r.Log.Warnf("apache processes of %s run without their parent (pid %s): ending them first", in.ConfigFile, joinPids(left))
		if err := a.terminate(ctx, left, time.Now().Add(orphanGrace)); err != nil {
			return ocf.Fail(ocf.ErrGeneric, "leftover apache processes of %s would not end: %v", in.ConfigFile, err)
		}
	}
	logOffset := fileSize(a.sys.Files(), in.Server.ErrorLog)
	argv := in.argv("-k", "start")
	r.Log.Infof("starting apache: %s", strings.Join(argv, " "))
	if out, err := a.sys.Run(ctx, argv, in.Env.Environ()); err != nil {
		msg := apacheMessage(out)
		if msg == "" {
			msg = err.Error()
		}
		// Nothing of a failed launch may stay behind.
		if err := a.stopAll(ctx, r, in); err != nil {
			return ocf.Fail(ocf.ErrGeneric, "%s -k start failed: %s; and stopping what it left failed: %s", in.Httpd, msg, ocf.ReasonOf(err))
		}
		return ocf.Fail(ocf.ErrGeneric, "%s -k start failed: %s", in.Httpd, msg)
	}
	return a.waitHealthy(ctx, r, in, url, true, logOffset)
}

// prepare creates the directories apache needs before it starts: the
// pid file's, and for a Debian configuration the run and lock directories
// of envvars, as apache2ctl does.
func (a *actions) prepare(in *instance) error {
	if err := a.sys.MakeDirs([]string{path.Dir(in.PidFile)}, ""); err != nil {
		return err
	}
	owner, _ := in.Env.Lookup("APACHE_RUN_USER")
	if run, ok := in.Env.Lookup("APACHE_RUN_DIR"); ok && path.IsAbs(run) {
		if err := a.sys.MakeDirs([]string{run}, ""); err != nil {
			return err
		}
		if err := a.sys.MakeDirs([]string{path.Join(run, "socks")}, owner); err != nil {
			return err
		}
	}
	if lock, ok := in.Env.Lookup("APACHE_LOCK_DIR"); ok && path.IsAbs(lock) {
		return a.sys.MakeDirs([]string{lock}, owner)
	}
	return nil
}

// waitHealthy polls the status page until it is healthy, and fails with
// what went wrong when apache exits or does not get healthy in time. A
// server the agent launched is then stopped; an already running one (a
// start that found it, a reload) is left to the monitor and stop.
func (a *actions) waitHealthy(ctx context.Context, r *ocf.Request, in *instance, url string, launched bool, logOffset int64) error {
	begin := time.Now()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = begin.Add(40 * time.Second)
	}
	// Keep time to stop a server that does not get healthy.
	reserve := min(5*time.Second, deadline.Sub(begin)/4)
	last, bad := "apache has not written its pid file "+in.PidFile, 0
	for {
		pid, err := a.parent(in)
		if err != nil {
			return ocf.Wrap(ocf.ErrGeneric, err, "look for apache")
		}
		switch {
		case pid > 0:
			problem, answered := a.check(ctx, url, in.TestRegex, pTestRegex, min(maxRequest, time.Until(deadline)-reserve))
			if problem == "" {
				r.Log.Infof("apache of %s runs (pid %d) and %s answers", in.ConfigFile, pid, url)
				return nil
			}
			last = problem
			if answered {
				bad++
			} else {
				bad = 0
			}
		case !launched || time.Since(begin) > launchGrace:
			left, err := a.members(in, 0)
			if err != nil {
				return ocf.Wrap(ocf.ErrGeneric, err, "look for apache")
			}
			if len(left) == 0 {
				reason := "apache exited"
				if r.Action == "reload" {
					reason += " during its graceful restart"
				} else {
					reason += " during start"
				}
				if tail := logTail(a.sys.Files(), in.Server.ErrorLog, logOffset); tail != "" {
					reason += ": " + tail
				}
				if in.Server.ErrorLog != "" {
					reason += " (error log " + in.Server.ErrorLog + ")"
				}
				return ocf.Fail(ocf.ErrGeneric, "%s", reason)
			}
			last = fmt.Sprintf("apache runs (pid %s) but has not written its pid file %s", joinPids(left), in.PidFile)
		}
		if bad >= badAnswers || time.Until(deadline) < reserve+pollEvery {
			if !launched {
				return ocf.Fail(ocf.ErrGeneric, "%s", last)
			}
			if err := a.stopAll(ctx, r, in); err != nil {
				return ocf.Fail(ocf.ErrGeneric, "%s; and stopping apache failed: %s", last, ocf.ReasonOf(err))
			}
			return ocf.Fail(ocf.ErrGeneric, "%s; stopped apache", last)
		}
		select {
		case <-ctx.Done():
		case <-time.After(pollEvery):
		}
	}
}

// monitor reports whether this instance's apache runs and its status page
// is healthy; at depth 10 the test page too.
func (a *actions) monitor(ctx context.Context, r *ocf.Request) error {
	in, err := a.instance(r)
	if err != nil {
		if r.IsProbe() {
			return ocf.ErrNotRunning
		}
		return err
	}
	pid, err := a.parent(in)
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "look for apache")
	}
	if pid == 0 {
		return a.notRunning(r, in)
	}
	url, err := in.statusURL()
	if err != nil {
		return err
	}
	if problem, _ := a.check(ctx, url, in.TestRegex, pTestRegex, fetchTime(ctx)); problem != "" {
		return ocf.Fail(ocf.ErrGeneric, "%s", problem)
	}
	if r.CheckLevel >= 10 && in.TestURL != "" {
		u := testURL(in.Server, in.TestURL, in.Port, in.IPv6)
		if problem, _ := a.check(ctx, u, in.TestRegex10, pTestRegex10, fetchTime(ctx)); problem != "" {
			return ocf.Fail(ocf.ErrGeneric, "%s", problem)
		}
	}
	return nil
}

// fetchTime is how long a monitor's fetch may take: what the operation's
// timeout leaves, less the margin for answering.
func fetchTime(ctx context.Context) time.Duration {
	deadline, ok := ctx.Deadline()
	if !ok {
		return 10 * time.Second
	}
	return max(time.Until(deadline)-deadlineMargin, 100*time.Millisecond)
}

// notRunning tells a cleanly stopped instance from a broken one: workers
// left without their parent, or (outside a probe) a pid file whose
// process is gone, which apache leaves only when it was killed.
func (a *actions) notRunning(r *ocf.Request, in *instance) error {
	left, err := a.members(in, 0)
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "look for apache")
	}
	if len(left) > 0 {
		return ocf.Fail(ocf.ErrGeneric, "apache's parent process is gone but processes of %s remain (pid %s)", in.ConfigFile, joinPids(left))
	}
	if r.IsProbe() {
		return ocf.ErrNotRunning
	}
	if pid, _ := proc.ReadPidFile(in.PidFile); pid > 0 {
		return ocf.Fail(ocf.ErrGeneric, "apache (pid %d in %s) is gone without removing its pid file: it crashed or was killed", pid, in.PidFile)
	}
	return ocf.Fail(ocf.NotRunning, "apache of %s is not running", in.ConfigFile)
}

// stop ends every process of this instance.
func (a *actions) stop(ctx context.Context, r *ocf.Request) error {
	in, err := a.instance(r)
	if err != nil {
		r.Log.Warnf("stop with an invalid configuration (%s): nothing to stop", ocf.ReasonOf(err))
		return nil
	}
	return a.stopAll(ctx, r, in)
}

// stopAll asks the parent for a graceful stop (SIGWINCH: finish the
// requests in progress, then exit) and waits up to half the time left;
// then it terminates whatever is left, parent, children and any process
// with this configuration file, and succeeds only when none is left.
func (a *actions) stopAll(ctx context.Context, r *ocf.Request, in *instance) error {
	pid, err := a.parent(in)
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "look for apache")
	}
	left, err := a.members(in, pid)
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "look for apache")
	}
	if len(left) == 0 {
		r.Log.Infof("apache of %s is not running", in.ConfigFile)
		return a.removePidFile(in)
	}
	now := time.Now()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = now.Add(60 * time.Second)
	}
	if pid > 0 {
		r.Log.Infof("asking apache (pid %d) for a graceful stop", pid)
		if err := a.sys.Signal(pid, syscall.SIGWINCH); err != nil && !errors.Is(err, proc.ErrGone) {
			r.Log.Warnf("graceful stop: %v", err)
		}
		left = a.waitGone(left, now.Add(deadline.Sub(now)/2))
	}
	if len(left) > 0 {
		r.Log.Warnf("apache (pid %s) still runs: terminating it", joinPids(left))
		// The parent ends its children when it gets SIGTERM; workers that
		// lost their parent wait for it instead, so they get SIGKILL soon.
		now = time.Now()
		killAt := now.Add(orphanGrace)
		if pid > 0 && slices.Contains(left, pid) {
			killAt = now.Add((deadline.Sub(now) - deadlineMargin) / 2)
		}
		if err := a.terminate(ctx, left, killAt); err != nil {
			return ocf.Fail(ocf.ErrGeneric, "apache of %s still runs: %v", in.ConfigFile, err)
		}
	}
	// A worker forked while the parent was signalled is found now.
	if late, err := a.members(in, 0); err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "look for apache")
	} else if len(late) > 0 {
		if err := a.terminate(ctx, late, time.Now()); err != nil {
			return ocf.Fail(ocf.ErrGeneric, "apache of %s still runs: %v", in.ConfigFile, err)
		}
	}
	r.Log.Infof("apache of %s stopped", in.ConfigFile)
	return a.removePidFile(in)
}

// terminate runs the SIGTERM/SIGKILL sequence, bounded by ctx less the
// margin for answering.
func (a *actions) terminate(ctx context.Context, pids []int, killAt time.Time) error {
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-deadlineMargin/2))
		defer cancel()
	}
	return a.sys.Terminate(ctx, pids, killAt)
}

// waitGone polls until every pid is gone or until is reached, and returns
// those still alive.
func (a *actions) waitGone(pids []int, until time.Time) []int {
	for {
		var left []int
		for _, pid := range pids {
			if _, err := a.sys.Process(pid); !errors.Is(err, proc.ErrGone) {
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

// removePidFile deletes a pid file apache left behind when it was killed.
func (a *actions) removePidFile(in *instance) error {
	if err := a.sys.Remove(in.PidFile); err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "clean up")
	}
	return nil
}

// reload tests the configuration and has the running server reread it
// with a graceful restart (SIGUSR1 to the parent): requests in progress
// finish, and a configuration that fails the test never reaches the
// running server.
func (a *actions) reload(ctx context.Context, r *ocf.Request) error {
	in, err := a.instance(r)
	if err != nil {
		return err
	}
	pid, err := a.parent(in)
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "look for apache")
	}
	if pid == 0 {
		return ocf.Fail(ocf.NotRunning, "apache of %s is not running: nothing to reload", in.ConfigFile)
	}
	if err := a.configtest(ctx, in); err != nil {
		return ocf.Fail(ocf.ErrConfigured, "%s; the running server keeps its configuration", ocf.ReasonOf(err))
	}
	url, err := in.statusURL()
	if err != nil {
		return err
	}
	logOffset := fileSize(a.sys.Files(), in.Server.ErrorLog)
	r.Log.Infof("graceful restart of apache (pid %d) to reload %s", pid, in.ConfigFile)
	if err := a.sys.Signal(pid, syscall.SIGUSR1); err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "graceful restart of apache (pid %d)", pid)
	}
	return a.waitHealthy(ctx, r, in, url, false, logOffset)
}

func joinPids(pids []int) string {
	s := make([]string, len(pids))
	for i, p := range pids {
		s[i] = fmt.Sprint(p)
	}
	return strings.Join(s, ", ")
}
