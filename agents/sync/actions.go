package sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/goha-ha/goha/internal/atomicfile"

	"github.com/goha-ha/goha/internal/proc"
	"github.com/goha-ha/goha/ocf"
)

const (
	// pollEvery is the period of start's wait for the first syncs.
	pollEvery = 100 * time.Millisecond
	// deadlineMargin is kept free before an action's deadline to clean up
	// and answer before Pacemaker gives up on the action.
	deadlineMargin = 2 * time.Second
	// stopGrace is how long the daemon gets for its last sync after
	// SIGTERM before SIGKILL, when the stop has no deadline.
	stopGrace = 10 * time.Second
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
	c, err := configFrom(r.Params, r.Resource, getenv("HA_RSCTMP"))
	if err != nil {
		return c, err
	}
	// The same peers parameter serves every node the resource may run
	// on, so it lists this node too: a node never ships to itself.
	c.Peers = OtherPeers(c.Peers, localHost(r.Node()))
	if len(c.Peers) == 0 {
		return c, ocf.Fail(ocf.ErrConfigured, "parameter %s names only this node (%s)", pPeers, r.Node())
	}
	return c, nil
}

// validate checks what the declarations cannot: the directory, the
// programs and the files the parameters name exist on this node.
func (a *actions) validate(ctx context.Context, r *ocf.Request) error {
	c, err := a.config(r)
	if err != nil {
		return err
	}
	switch st, err := os.Stat(c.Directory); {
	case err != nil:
		return ocf.Fail(ocf.ErrInstalled, "parameter %s: %v", pDirectory, err)
	case !st.IsDir():
		return ocf.Fail(ocf.ErrInstalled, "parameter %s: %s is not a directory", pDirectory, c.Directory)
	}
	if err := checkExecutable(c.Rsync); err != nil {
		return ocf.Fail(ocf.ErrInstalled, "parameter %s: %v (install rsync)", pRsync, err)
	}
	if c.Transport == transportSSH {
		if _, err := exec.LookPath("ssh"); err != nil {
			return ocf.Fail(ocf.ErrInstalled, "parameter %s=ssh needs the ssh client (install openssh-client)", pTransport)
		}
	}
	for name, path := range map[string]string{pSSHKey: c.SSHKey, pPasswordFile: c.PasswordFile} {
		if path == "" {
			continue
		}
		f, err := os.Open(path)
		if err != nil {
			return ocf.Fail(ocf.ErrInstalled, "parameter %s: %v", name, err)
		}
		f.Close()
	}
	return nil
}

func checkExecutable(path string) error {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s does not exist", path)
	case err != nil:
		return err
	case !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}

// find returns the pid of this resource's daemon: the one in the pid file
// when it is alive and ours, otherwise one found in /proc; 0 when none
// runs.
func (a *actions) find(c Config) (int, error) {
	pid, err := proc.ReadPidFile(c.pidFile())
	if err != nil {
		return 0, err
	}
	if pid > 0 {
		argv, err := a.sys.Cmdline(pid)
		if err == nil && c.IsOurs(argv) {
			return pid, nil
		}
		if err != nil && !errors.Is(err, proc.ErrGone) {
			return 0, err
		}
	}
	pids, err := a.sys.Find(c.IsOurs)
	if err != nil || len(pids) == 0 {
		return 0, err
	}
	return pids[0], nil
}

// start runs the daemon unless it runs already, and waits until it has
// tried every peer once: the full sync at start.
func (a *actions) start(ctx context.Context, r *ocf.Request) error {
	c, err := a.config(r)
	if err != nil {
		return err
	}
	pid, err := a.find(c)
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "look for a running sync daemon")
	}
	if pid > 0 {
		r.Log.Infof("sync daemon of %s already runs as pid %d", c.Directory, pid)
		if err := proc.WritePidFile(c.pidFile(), pid); err != nil {
			return ocf.Wrap(ocf.ErrGeneric, err, "record the daemon's pid")
		}
		return nil
	}
	if err := os.MkdirAll(c.StateDir, 0o755); err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "parameter %s: create %s", pStateDir, c.StateDir)
	}
	if err := removeRunFiles(c); err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "clear old run files")
	}
	if err := writeJSON(c.confFile(), c); err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "write the daemon's configuration")
	}
	logStart := fileSize(c.logFile())
	r.Log.Infof("starting the sync daemon of %s for %s", c.Directory, peerNames(c))
	l, err := a.sys.Launch(c)
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "start the sync daemon")
	}
	if err := proc.WritePidFile(c.pidFile(), l.Pid); err != nil {
		a.terminate(ctx, r, c, l.Pid)
		return ocf.Wrap(ocf.ErrGeneric, err, "record the daemon's pid")
	}
	return a.waitFirstSyncs(ctx, r, c, l, logStart)
}

// waitFirstSyncs polls the daemon's report until every peer has been
// tried once. A peer that failed is reported, not fatal: the daemon keeps
// retrying it. A daemon that exits fails the start.
func (a *actions) waitFirstSyncs(ctx context.Context, r *ocf.Request, c Config, l *launched, logStart int64) error {
	deadline, hasDeadline := ctx.Deadline()
	for {
		select {
		case <-l.Exited:
			removeRunFiles(c)
			return ocf.Fail(ocf.ErrGeneric, "the sync daemon exited at start: %s (log: %s)", lastLogLine(c.logFile(), logStart), c.logFile())
		default:
		}
		rep, err := readReport(c)
		if err == nil && rep.Pid == l.Pid && allTried(rep) {
			for _, p := range rep.Peers {
				if p.State == PeerFailing {
					r.Log.Warnf("peer %s is unreachable, the daemon keeps retrying it: %s", p.Peer, p.LastError)
				}
			}
			r.Log.Infof("sync daemon (pid %d) of %s runs", l.Pid, c.Directory)
			return nil
		}
		if hasDeadline && time.Until(deadline) < deadlineMargin+pollEvery {
			r.Log.Warnf("sync daemon (pid %d) of %s runs, but its first full sync has not ended yet; it goes on", l.Pid, c.Directory)
			return nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(pollEvery):
		}
	}
}

func allTried(rep Report) bool {
	for _, p := range rep.Peers {
		if p.Attempts == 0 {
			return false
		}
	}
	return len(rep.Peers) > 0
}

// monitor reports whether the daemon runs and keeps the peers in sync.
// It reads the daemon's report and /proc, and runs nothing.
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
		return ocf.Wrap(ocf.ErrGeneric, err, "look for the sync daemon")
	}
	if pid == 0 {
		recorded, _ := proc.ReadPidFile(c.pidFile())
		if recorded == 0 || r.IsProbe() {
			return ocf.ErrNotRunning
		}
		// Started and not stopped: the daemon died.
		return ocf.Fail(ocf.ErrGeneric, "sync daemon (pid %d) of %s is not running (log: %s)", recorded, c.Directory, c.logFile())
	}
	rep, err := readReport(c)
	if err != nil || rep.Pid != pid {
		if r.IsProbe() {
			return nil // it runs; a report will come
		}
		return ocf.Fail(ocf.ErrGeneric, "sync daemon (pid %d) of %s runs but has no report in %s", pid, c.Directory, c.stateFile())
	}
	v := assess(rep, time.Now(), c)
	for _, w := range v.warnings {
		r.Log.Warnf("%s", w)
	}
	a.publishDown(ctx, r, c, strings.Join(v.down, " "))
	if v.status != ocf.Success {
		return ocf.Fail(v.status, "%s", v.reason)
	}
	r.Log.Debugf("sync daemon pid %d: %s", pid, v.summary)
	return nil
}

// stop ends the daemon and every process of its session (the rsync and
// ssh it runs), also a daemon whose pid file was lost and rsyncs that a
// killed daemon left.
func (a *actions) stop(ctx context.Context, r *ocf.Request) error {
	c, err := a.config(r)
	if err != nil {
		r.Log.Warnf("stop with an invalid configuration (%s): nothing to stop", ocf.ReasonOf(err))
		return nil
	}
	var leaders []int
	if pid, err := proc.ReadPidFile(c.pidFile()); err == nil && pid > 0 {
		if argv, err := a.sys.Cmdline(pid); errors.Is(err, proc.ErrGone) || (err == nil && c.IsOurs(argv)) {
			leaders = append(leaders, pid) // gone: its session may live on
		}
	}
	found, err := a.sys.Find(c.IsOurs)
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "look for the sync daemon")
	}
	for _, pid := range found {
		if len(leaders) == 0 || pid != leaders[0] {
			leaders = append(leaders, pid)
		}
	}
	if err := a.terminate(ctx, r, c, leaders...); err != nil {
		return err
	}
	a.publishDown(ctx, r, c, "")
	if err := removeRunFiles(c); err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "clean up")
	}
	return nil
}

// terminate ends the daemons and their sessions. SIGTERM goes to the
// daemons alone and asks for a last sync of pending changes to the
// reachable peers; SIGKILL follows shortly before the deadline for a
// daemon still busy (an rsync to a peer that stopped answering), and
// its rsync dies with it. Processes left in the sessions (those of a
// daemon killed earlier) are ended too. It fails unless all are gone.
func (a *actions) terminate(ctx context.Context, r *ocf.Request, c Config, leaders ...int) error {
	var daemons []int
	for _, pid := range leaders {
		if proc.Alive(pid) {
			daemons = append(daemons, pid)
		}
	}
	orphans, err := a.sessions(leaders)
	if err != nil {
		return err
	}
	if len(daemons) == 0 && len(orphans) == 0 {
		r.Log.Infof("sync daemon of %s is not running", c.Directory)
		return nil
	}
	now := time.Now()
	killAt := now.Add(stopGrace)
	if deadline, ok := ctx.Deadline(); ok {
		// Leave time to see SIGKILL's effect: the margin, or half of a
		// shorter time.
		killAt = deadline.Add(-deadlineMargin)
		if half := now.Add(deadline.Sub(now) / 2); killAt.Before(half) {
			killAt = half
		}
	}
	if len(daemons) > 0 {
		r.Log.Infof("stopping the sync daemon of %s (pid %s)", c.Directory, joinPids(daemons))
		if err := a.sys.Terminate(ctx, daemons, killAt); err != nil {
			return ocf.Wrap(ocf.ErrGeneric, err, "stop the sync daemon of %s", c.Directory)
		}
	}
	left, err := a.sessions(leaders)
	if err != nil {
		return err
	}
	if len(left) > 0 {
		r.Log.Warnf("ending processes the sync daemon of %s left: pid %s", c.Directory, joinPids(left))
		if err := a.sys.Terminate(ctx, left, time.Now().Add(time.Second)); err != nil {
			return ocf.Wrap(ocf.ErrGeneric, err, "end what the sync daemon of %s left", c.Directory)
		}
	}
	return nil
}

// sessions lists the live processes of the leaders' sessions, the leaders
// themselves left out.
func (a *actions) sessions(leaders []int) ([]int, error) {
	var pids []int
	for _, leader := range leaders {
		members, err := a.sys.Session(leader)
		if err != nil {
			return nil, ocf.Wrap(ocf.ErrGeneric, err, "list the sync daemon's processes")
		}
		for _, pid := range members {
			if pid != leader && !slices.Contains(pids, pid) {
				pids = append(pids, pid)
			}
		}
	}
	return pids, nil
}

// downAttribute is the node attribute that names the peers the daemon
// cannot reach, space-separated; it is absent when all are reachable. A
// location rule or an alert can use it; monitor does not fail for it.
func downAttribute(c Config) string { return c.Resource + "-peers-down" }

// publishDown sets the node attribute to down when it changed since it
// was last published (kept in a file), so that a monitor runs
// crm_attribute only on a change. Failures are logged, not fatal: the
// next monitor tries again.
func (a *actions) publishDown(ctx context.Context, r *ocf.Request, c Config, down string) {
	if r.Attrs == nil {
		return
	}
	last, published := "", false
	if raw, err := os.ReadFile(c.attrFile()); err == nil {
		last, published = string(raw), true
	}
	if (published && last == down) || (!published && down == "") {
		return
	}
	var err error
	if down == "" {
		err = r.Attrs.Delete(ctx, r.Node(), downAttribute(c), ocf.Transient)
		if err == nil {
			err = os.Remove(c.attrFile())
		}
	} else {
		err = r.Attrs.Set(ctx, r.Node(), downAttribute(c), down, ocf.Transient)
		if err == nil {
			err = atomicfile.Write(c.attrFile(), []byte(down), 0o644)
		}
	}
	if err != nil {
		r.Log.Warnf("cannot publish node attribute %s=%q: %v", downAttribute(c), down, err)
	}
}

func peerNames(c Config) string {
	names := make([]string, len(c.Peers))
	for i, p := range c.Peers {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}

func joinPids(pids []int) string {
	s := make([]string, len(pids))
	for i, p := range pids {
		s[i] = fmt.Sprint(p)
	}
	return strings.Join(s, ", ")
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// lastLogLine returns the last line the daemon logged after offset (within
// the log's last 4 KiB), for an exit reason.
func lastLogLine(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return "its log is unreadable"
	}
	defer f.Close()
	size := fileSize(path)
	if size-offset > 4096 {
		offset = max(0, size-4096)
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return "its log is unreadable"
	}
	raw, _ := io.ReadAll(io.LimitReader(f, 4096))
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if last := strings.TrimSpace(lines[len(lines)-1]); last != "" {
		return "it logged: " + last
	}
	return "it logged nothing"
}
