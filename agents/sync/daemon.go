package sync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/goha-ha/goha/ocf"
)

// DaemonCommand is the first argument that makes this program the sync
// daemon instead of the agent: start runs [program, DaemonCommand,
// config file], where program is this very executable.
const DaemonCommand = "sync-daemon"

// DaemonMain runs the daemon with the arguments after DaemonCommand and
// exits: 0 after SIGTERM, 1 when it cannot go on, 2 on bad arguments.
func DaemonMain(args []string) {
	os.Exit(runDaemon(args))
}

// maxHold is how long a batch may grow under a steady stream of changes
// before it is shipped anyway.
const maxHold = 2 * time.Second

// drainSettle is how long a stopping daemon goes on reading events before
// it ships the last batch: the kernel may still hold events of changes
// made just before the stop.
const drainSettle = 100 * time.Millisecond

func runDaemon(args []string) int {
	if len(args) != 1 {
		fmt.Fprintf(os.Stderr, "usage: %s CONFIG-FILE\n", DaemonCommand)
		return 2
	}
	var c Config
	if err := readJSON(args[0], &c); err != nil {
		fmt.Fprintf(os.Stderr, "%s: read configuration: %v\n", DaemonCommand, err)
		return 2
	}
	log := ocf.NewLogger(ocf.LogConfigFromEnv(os.Getenv, "sync", c.Resource, os.Stderr))
	defer log.Close()
	// The first signal asks for a last sync of what is pending, the
	// second for an end at once.
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	drain, stopDrain := context.WithCancel(context.Background())
	now, stopNow := context.WithCancel(context.Background())
	defer stopNow()
	go func() {
		<-signals
		stopDrain()
		<-signals
		stopNow()
	}()
	d := &daemon{c: c, log: log, rsync: runRsync}
	if err := d.run(drain, now); err != nil {
		log.Errorf("sync daemon of %s stops: %v", c.Directory, err)
		if os.Getenv("HA_LOGFACILITY") != "" || os.Getenv("HA_LOGFILE") != "" {
			// The log went elsewhere: leave the reason where start looks.
			fmt.Fprintf(os.Stderr, "%s: %v\n", DaemonCommand, err)
		}
		return 1
	}
	log.Infof("sync daemon of %s stopped", c.Directory)
	return 0
}

// daemon watches c.Directory and ships its changes to c.Peers.
type daemon struct {
	c     Config
	log   *ocf.Logger
	rsync func(ctx context.Context, argv []string) error
}

// shipped is the outcome of one sync.
type shipped struct {
	peer   int
	pulled bool // the merge from the peer before the push succeeded
	err    error
}

// run is the daemon's loop. It alone owns the peers' states; syncs run in
// goroutines (at most one per peer) and report back on a channel.
//
// When drain ends, the daemon ships what is pending to every peer that is
// not failing, at once and without retries, and returns: stop then leaves
// the peers with the last changes, which matters when the service moves
// to one of them. When now ends, running syncs are cancelled and it
// returns at once. Down peers do not hold the exit.
func (d *daemon) run(drain, now context.Context) error {
	w, err := newWatcher(d.c.Directory, d.c.Excludes)
	if err != nil {
		return err
	}
	defer w.Close()
	start := time.Now()
	d.log.Infof("sync daemon watches %s for %d peers", d.c.Directory, len(d.c.Peers))
	peers := make([]*PeerStatus, len(d.c.Peers))
	for i, p := range d.c.Peers {
		peers[i] = newPeer(p.Name, start)
	}
	// merged[i]: this daemon has pulled from peer i what it held newer.
	// Until it has, every sync to peer i begins with that pull: the peer
	// may have been the active node while this one was away.
	merged := make([]bool, len(peers))
	report := Report{Pid: os.Getpid(), Started: start}
	syncs, cancelSyncs := context.WithCancel(now)
	defer cancelSyncs()
	results := make(chan shipped)
	running := 0
	var changes batch
	var written time.Time
	dirty := true
	timer := time.NewTimer(0)
	defer timer.Stop()
	draining, drainDone := false, drain.Done()
	var settled time.Time // when a draining daemon has read the last events
	var failure error
	for failure == nil {
		t := time.Now()
		if changes.due(t, d.c.Debounce, maxHold) || (draining && len(changes.paths) > 0) {
			n, since := changes.take()
			for _, p := range peers {
				p.changed(n, since)
			}
			dirty = true
		}
		for i, p := range peers {
			if p.due(t) && !(draining && p.State == PeerFailing) {
				p.begin(t)
				running++
				dirty = true
				go func(i int, pull, push []string) {
					r := shipped{peer: i}
					if pull != nil {
						if r.err = d.rsync(syncs, pull); r.err != nil {
							results <- r
							return
						}
						r.pulled = true
					}
					r.err = d.rsync(syncs, push)
					results <- r
				}(i, d.pullArgv(merged[i], d.c.Peers[i]), rsyncArgv(d.c, d.c.Peers[i]))
			}
		}
		if dirty || t.Sub(written) >= heartbeat {
			if err := d.writeReport(&report, peers, t); err != nil {
				d.log.Warnf("%v", err)
			}
			written, dirty = t, false
		}
		if draining && running == 0 && !t.Before(settled) {
			d.logUnshipped(peers)
			return nil
		}
		wake := d.wakeAt(written, &changes, peers, draining)
		if draining && t.Before(settled) {
			wake = settled
		}
		timer.Reset(time.Until(wake))

		select {
		case <-drainDone:
			draining, drainDone = true, nil
			settled = time.Now().Add(drainSettle)
			d.log.Infof("stopping: last sync of pending changes to the reachable peers")
		case <-now.Done():
			failure = context.Canceled
		case ev, ok := <-w.Events:
			if !ok {
				failure = errors.New("inotify closed its event channel")
				break
			}
			changed, err := w.handle(ev)
			if errors.Is(err, errRootGone) {
				failure = fmt.Errorf("%s: %w", d.c.Directory, err)
				break
			}
			if err != nil {
				d.log.Warnf("%v; the next sync copies it anyway", err)
			}
			if changed {
				changes.add(ev.Name, time.Now())
			}
		case err, ok := <-w.Errors:
			if !ok {
				failure = errors.New("inotify closed its error channel")
				break
			}
			// Lost events: the next sync copies the whole tree anyway.
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				d.log.Warnf("inotify lost events (queue overflow); a sync of the whole tree follows")
			} else {
				d.log.Warnf("inotify: %v", err)
			}
			changes.add("", time.Now())
		case r := <-results:
			running--
			if r.pulled && !merged[r.peer] {
				merged[r.peer] = true
				d.log.Infof("merged from %s what it held newer than this node", peers[r.peer].Peer)
			}
			d.finished(peers[r.peer], r.err)
			dirty = true
		case <-timer.C:
		}
	}
	// Syncs still running are cancelled (their rsync gets SIGTERM) and
	// report.
	cancelSyncs()
	for ; running > 0; running-- {
		r := <-results
		peers[r.peer].finish(time.Now(), r.err, d.c.RetryMax)
	}
	if err := d.writeReport(&report, peers, time.Now()); err != nil {
		d.log.Warnf("%v", err)
	}
	if errors.Is(failure, context.Canceled) {
		return nil
	}
	return failure
}

// pullArgv is the merge to run before a push to p, nil once done.
func (d *daemon) pullArgv(merged bool, p Peer) []string {
	if merged {
		return nil
	}
	return rsyncPullArgv(d.c, p)
}

// logUnshipped says, at exit, which peers miss changes.
func (d *daemon) logUnshipped(peers []*PeerStatus) {
	for _, p := range peers {
		if p.Pending() > 0 || p.FullOwed {
			d.log.Warnf("peer %s (%s) misses %d changes: should it take over, its older copy would be synced back here",
				p.Peer, p.State, p.Pending())
		}
	}
}

// wakeAt is when the loop has something to do without an event: a batch
// or a retry falls due, or the report needs its heartbeat. A draining
// daemon retries nothing.
func (d *daemon) wakeAt(written time.Time, changes *batch, peers []*PeerStatus, draining bool) time.Time {
	at := written.Add(heartbeat)
	if due := changes.dueAt(d.c.Debounce, maxHold); !due.IsZero() && due.Before(at) {
		at = due
	}
	for _, p := range peers {
		if draining && p.State == PeerFailing {
			continue
		}
		if due := p.dueAt(); !due.IsZero() && due.Before(at) {
			at = due
		}
	}
	return at
}

// finished records a sync's outcome and logs what changed: a peer that
// came back, the first failure of an outage and every tenth after it.
func (d *daemon) finished(p *PeerStatus, err error) {
	carried, began, failed := p.Sending, p.Started, p.Failures
	was := p.finish(time.Now(), err, d.c.RetryMax)
	took := round(time.Since(began))
	switch {
	case err == nil && was == PeerOK:
		d.log.Debugf("shipped %d changes to %s in %s", carried, p.Peer, took)
	case err == nil && p.Attempts == 1:
		d.log.Infof("peer %s is in sync: full sync took %s", p.Peer, took)
	case err == nil:
		d.log.Infof("peer %s caught up with a full sync (%s) after %d failed syncs", p.Peer, took, failed)
	case was != PeerFailing && p.Failures == 1, p.Failures%10 == 0:
		d.log.Warnf("sync to %s failed (%d in a row), retrying in %s: %v",
			p.Peer, p.Failures, round(time.Until(p.NextAttempt)), err)
	default:
		d.log.Debugf("sync to %s failed again (%d in a row): %v", p.Peer, p.Failures, err)
	}
}

func (d *daemon) writeReport(r *Report, peers []*PeerStatus, now time.Time) error {
	r.Updated = now
	r.Peers = r.Peers[:0]
	for _, p := range peers {
		r.Peers = append(r.Peers, *p)
	}
	return writeJSON(d.c.stateFile(), r)
}

// rsyncVanished is rsync's exit status when source files vanished during
// the copy: they were deleted meanwhile, and that change is queued.
const rsyncVanished = 24

// runRsync runs argv and returns why it failed, in rsync's own words. The
// rsync dies with the daemon, even by SIGKILL (Pdeathsig), and receives
// SIGTERM when ctx ends.
func runRsync(ctx context.Context, argv []string) error {
	// Pdeathsig follows the thread that forked: keep this goroutine on it
	// until rsync has been reaped.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stderr bytes.Buffer
	cmd.Stderr = &limitedWriter{buf: &stderr, left: 8 << 10}
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee) && ee.ExitCode() == rsyncVanished:
		return nil
	case errors.As(err, &ee) && ee.ExitCode() > 0:
		return fmt.Errorf("rsync exited with status %d: %s", ee.ExitCode(), rsyncMessage(stderr.String()))
	default:
		return fmt.Errorf("rsync: %v %s", err, rsyncMessage(stderr.String()))
	}
}

// rsyncMessage picks the lines of rsync's stderr that say what went wrong:
// its first line (e.g. "failed to connect to ...: Connection refused")
// and the "rsync error:" summary, if different.
func rsyncMessage(stderr string) string {
	var first, summary string
	for _, line := range strings.Split(stderr, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case first == "":
			first = line
		case strings.HasPrefix(line, "rsync error:") && summary == "":
			summary = line
		}
	}
	msg := first
	if summary != "" {
		msg += "; " + summary
	}
	if len(msg) > 400 {
		msg = msg[:400] + "..."
	}
	return msg
}

// limitedWriter keeps the first left bytes written to it and drops the
// rest, so a chatty rsync cannot grow the daemon.
type limitedWriter struct {
	buf  *bytes.Buffer
	left int
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	if w.left > 0 {
		n := min(len(p), w.left)
		w.buf.Write(p[:n])
		w.left -= n
	}
	return len(p), nil
}
