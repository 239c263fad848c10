package mysql

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goha-ha/goha/internal/mariadb"
	"github.com/goha-ha/goha/internal/proc"
	"github.com/goha-ha/goha/ocf"
)

// actions carries out the agent's actions; it holds no state between
// invocations (each is a process of its own).
type actions struct{}

// instance is one invocation's view of the resource: its parameters read
// once, with the credentials loaded.
type instance struct {
	r        *ocf.Request
	self     string
	server   mariadb.Server
	check    mariadb.Credentials
	checkErr error
	repl     mariadb.Credentials
	replErr  error
	hosts    mariadb.HostMap
	port     int
	policy   Policy
	semiSync bool
	// scoreFile remembers the score last published, so that a monitor
	// runs crm_attribute only when the score changes.
	scoreFile string
	forceAttr string
	// positioning is the replication_positioning parameter; coordAttr the
	// node attribute that carries binary log coordinates with file
	// positioning.
	positioning string
	coordAttr   string
}

func (a *actions) instance(r *ocf.Request) (*instance, error) {
	hosts, err := mariadb.ParseHostMap(r.Params.String(pHostMap))
	if err != nil {
		return nil, ocf.Wrap(ocf.ErrConfigured, err, "%s", pHostMap)
	}
	port := int(r.Params.Int(pReplPort))
	rsc := r.ResourceName()
	in := &instance{
		r:    r,
		self: r.Node(),
		// Servers are found by pid file, data directory and socket; the
		// port alone could name another server bound to another address.
		server:      mariadb.ServerOf(r.Params, 0),
		hosts:       hosts,
		port:        port,
		policy:      Policy{MaxLag: r.Params.Int(pMaxLag), Evict: r.Params.Bool(pEvict)},
		semiSync:    r.Params.Bool(pSemiSync),
		scoreFile:   filepath.Join(ocf.LockDir(os.Getenv), "goha-mysql-"+strings.ReplaceAll(r.Resource, "/", "_")+".score"),
		forceAttr:   r.Params.String(pForceAttr),
		positioning: r.Params.String(pPositioning),
		coordAttr:   rsc + "-binlog",
	}
	if in.forceAttr == "" {
		in.forceAttr = rsc + "-force-promote"
	}
	in.check, in.checkErr = mariadb.LoadCredentials(r.Params.String(pCheckDefaults), r.Params.String(pTestUser), r.Params.IsSet(pTestUser))
	if in.checkErr != nil {
		in.checkErr = ocf.Wrap(ocf.ErrConfigured, in.checkErr, "%s", pCheckDefaults)
	} else if r.Params.IsSet(pTestPasswd) {
		in.check.Password = r.Params.String(pTestPasswd)
	}
	in.repl, in.replErr = mariadb.LoadCredentials(r.Params.String(pReplDefaults), r.Params.String(pReplUser), r.Params.IsSet(pReplUser))
	if in.replErr != nil {
		in.replErr = ocf.Wrap(ocf.ErrConfigured, in.replErr, "%s", pReplDefaults)
	} else if r.Params.IsSet(pReplPasswd) {
		in.repl.Password = r.Params.String(pReplPasswd)
	}
	r.Log.Redact(in.check.Password)
	r.Log.Redact(in.repl.Password)
	return in, nil
}

func (a *actions) validate(ctx context.Context, r *ocf.Request) error {
	in, err := a.instance(r)
	if err != nil {
		return err
	}
	for _, err := range []error{in.checkErr, in.replErr} {
		if err != nil {
			return err
		}
	}
	if in.repl.User == "" {
		return ocf.Fail(ocf.ErrConfigured, "%s is empty and %s names no user", pReplUser, pReplDefaults)
	}
	if r.Meta.Promotable && r.Meta.PromotedMax > 1 {
		return ocf.Fail(ocf.ErrConfigured, "promoted-max is %d: only one server may accept writes (set promoted-max=1)", r.Meta.PromotedMax)
	}
	return in.server.CheckInstalled()
}

// open connects to the local server as test_user and settles how it
// positions replication.
func (in *instance) open(ctx context.Context) (*server, error) {
	if in.checkErr != nil {
		return nil, in.checkErr
	}
	s, err := connect(ctx, in.server.Socket, in.check)
	if err != nil {
		return nil, err
	}
	mode, err := s.gtidMode(ctx)
	if err != nil {
		s.Close()
		return nil, err
	}
	if s.positioning, err = ChoosePositioning(in.positioning, s.mariaDB, mode); err != nil {
		s.Close()
		return nil, ocf.Wrap(ocf.ErrConfigured, err, "%s", pPositioning)
	}
	return s, nil
}

// observe looks at the local server and, when it replicates, asks its
// source what it holds (its GTIDs, or with file positioning where its
// binary log ends), skipped when the source does not answer.
func (in *instance) observe(ctx context.Context, s *server) (Observed, error) {
	o, err := s.observe(ctx)
	if err != nil {
		return o, err
	}
	if o.Replica.Configured() && in.replErr == nil {
		sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if v, err := askSource(sctx, hostPort(o.Replica.Source, in.port), in.repl, s.mariaDB, s.positioning == PositionFile); err == nil {
			o.SourceWritable, o.SourceEnd = v.Writable, v.End
			if s.positioning == PositionGTID {
				// Only with GTID positioning do both servers' GTIDs
				// tell one shared history.
				o.SourceBinlog = &v.Binlog
			}
		} else {
			in.r.Log.Debugf("source %s: %v", o.Replica.Source, err)
		}
	}
	return o, nil
}

// publishScore sets the promotion score unless it is already the one
// published, and logs why a score is lowered or removed when it changes.
func (in *instance) publishScore(ctx context.Context, score int, reason string) error {
	last, _ := os.ReadFile(in.scoreFile)
	if strings.TrimSpace(string(last)) == strconv.Itoa(score) {
		return nil
	}
	switch {
	case score < 0:
		in.r.Log.Warnf("not eligible for promotion: %s", reason)
	case reason != "":
		in.r.Log.Infof("promotion score %d: %s", score, reason)
	}
	if err := ocf.SetPromotionScore(ctx, in.r.Attrs, in.self, in.r.ResourceName(), score); err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "publish promotion score")
	}
	if err := os.MkdirAll(filepath.Dir(in.scoreFile), 0o755); err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "record promotion score")
	}
	if err := os.WriteFile(in.scoreFile, []byte(strconv.Itoa(score)+"\n"), 0o644); err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "record promotion score")
	}
	return nil
}

// publishObserved publishes the score of what was observed.
func (in *instance) publishObserved(ctx context.Context, o Observed) error {
	score, reason := Score(o, in.policy)
	return in.publishScore(ctx, score, reason)
}

// withdrawScore removes the promotion score (a stopped or failed server
// is never promoted), running crm_attribute only when one was published.
func (in *instance) withdrawScore(ctx context.Context) error {
	if _, err := os.Stat(in.scoreFile); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := ocf.SetPromotionScore(ctx, in.r.Attrs, in.self, in.r.ResourceName(), Ineligible); err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "withdraw promotion score")
	}
	if err := os.Remove(in.scoreFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		return ocf.Wrap(ocf.ErrGeneric, err, "withdraw promotion score")
	}
	return nil
}

// start runs the server read-only, resumes replication when a source is
// configured and holds all this server holds, and publishes its score.
func (a *actions) start(ctx context.Context, r *ocf.Request) error {
	if err := a.validate(ctx, r); err != nil {
		return err
	}
	in, _ := a.instance(r)
	pid := 0
	if len(in.server.Running()) == 0 {
		var err error
		if pid, err = in.launch(ctx); err != nil {
			return err
		}
	}
	s, err := in.waitAnswer(ctx, pid)
	if err != nil {
		return err
	}
	defer s.Close()
	if ok, err := s.binlogEnabled(ctx); err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "start")
	} else if !ok {
		return ocf.Fail(ocf.ErrConfigured, "binary logging is off: set log_bin and log_slave_updates in %s", in.server.Config)
	}
	if err := s.setReadOnly(ctx, true); err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "start read-only")
	}
	if err := in.publishCoordinates(ctx, s); err != nil {
		return err
	}
	o, err := in.observe(ctx, s)
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "start")
	}
	if errant := o.Errant(); errant != "" {
		return ocf.Fail(ocf.ErrGeneric, "holds transactions its source %s lacks (%s): rebuild it from the writer before it rejoins", o.Replica.Source, errant)
	}
	if o.Replica.Configured() && !o.Replica.SQLRunning {
		if err := s.startReplica(ctx); err != nil {
			return ocf.Wrap(ocf.ErrGeneric, err, "resume replication from %s", o.Replica.Source)
		}
		if o, err = in.settle(ctx, s); err != nil {
			return err
		}
	}
	if _, err := Verdict(o, in.policy); err != nil {
		// A replica the source refuses (it holds transactions the source
		// lacks) fails here, once, instead of in every monitor after.
		_ = in.publishObserved(ctx, o)
		return ocf.Fail(ocf.ErrGeneric, "%v", err)
	}
	// A server that just started ranks below a replica that has been
	// running: when the writer's server is restarted after a failure, the
	// other node takes the writer role even if both hold the same data,
	// rather than a race of equal scores deciding. Its first monitor
	// publishes its real score.
	score, reason := Score(o, in.policy)
	if score > ScoreBehind {
		score, reason = ScoreBehind, "just started"
	}
	return in.publishScore(ctx, score, reason)
}

// launch starts the server read-only with replication held back (start
// checks the source first), as a replica, the role every server starts
// in; with semi_sync the replica side of semi-sync is on from the start.
// It asks the binary for its version first: the options differ.
func (in *instance) launch(ctx context.Context) (int, error) {
	out, err := exec.CommandContext(ctx, in.server.Binary, "--version").Output()
	v, ok := ParseServerVersion(string(out))
	if err != nil || !ok {
		return 0, ocf.Fail(ocf.ErrInstalled, "%s --version: %v %q", in.server.Binary, err, strings.TrimSpace(string(out)))
	}
	if in.semiSync && !v.MariaDB {
		return 0, ocf.Fail(ocf.ErrConfigured, "%s=true needs MariaDB, whose server has semi-sync built in", pSemiSync)
	}
	argv := append(in.server.Args(), "--read-only", "--skip-slave-start")
	if v.DropsUnacknowledged() {
		// Crash recovery then drops from the binary log the transactions
		// written there but never committed (so never acknowledged), which
		// the other server may lack; otherwise recovery commits them and
		// this server rejoins holding errant transactions.
		argv = append(argv, "--init-rpl-role=SLAVE")
	} else if v.MariaDB {
		in.r.Log.Warnf("%s %d.%d.%d cannot drop unacknowledged commits at crash recovery (MariaDB 10.6.19, 10.11.9, 11.4.3 or later can): "+
			"a crashed writer may come back holding transactions its replica lacks", in.server.Binary, v.Major, v.Minor, v.Patch)
	}
	if in.semiSync {
		argv = append(argv, "--rpl-semi-sync-slave-enabled=ON")
	}
	argv = append(argv, in.server.Extra...)
	if err := in.removeSocketLock(); err != nil {
		return 0, ocf.Wrap(ocf.ErrGeneric, err, "start server")
	}
	pid, err := in.server.Launch(argv)
	if err != nil {
		return 0, ocf.Wrap(ocf.ErrGeneric, err, "start server")
	}
	in.r.Log.Infof("started %s (pid %d), read-only", in.server.Binary, pid)
	return pid, nil
}

// removeSocketLock removes the lock file MySQL keeps beside its unix
// socket, left behind by a server that crashed or was killed. launch runs
// only when no server of this resource is running, so the file is stale;
// but MySQL refuses to start ("Another process with pid N is using unix
// socket file") whenever the pid it names exists, and after a crash that
// pid may be a process not yet reaped or another program's. MariaDB keeps
// no such file.
func (in *instance) removeSocketLock() error {
	lock := in.server.Socket + ".lock"
	pid, _ := proc.ReadPidFile(lock)
	if err := os.Remove(lock); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("remove stale socket lock: %w", err)
	}
	in.r.Log.Infof("removed %s left by server pid %d, which is gone", lock, pid)
	return nil
}

// waitAnswer waits until the local server answers on its socket, failing
// early when the server just launched (pid), or any server of the resource
// when pid is 0, is gone.
func (in *instance) waitAnswer(ctx context.Context, pid int) (*server, error) {
	for {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		s, err := in.open(actx)
		cancel()
		if err == nil {
			return s, nil
		}
		var oe *ocf.Error
		if errors.As(err, &oe) {
			return nil, err
		}
		if gone := (pid > 0 && !proc.Alive(pid)) || (pid == 0 && len(in.server.Running()) == 0); gone {
			return nil, ocf.Fail(ocf.ErrGeneric, "server exited during start: %s", in.logTail())
		}
		select {
		case <-ctx.Done():
			return nil, ocf.Fail(ocf.ErrGeneric, "server does not answer on %s: %v", in.server.Socket, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// logTail quotes the server's error log for an exit reason.
func (in *instance) logTail() string {
	if in.server.Log == "" {
		return "(no log parameter)"
	}
	b, err := os.ReadFile(in.server.Log)
	if err != nil {
		return err.Error()
	}
	if len(b) > 8192 {
		b = b[len(b)-8192:]
	}
	return mariadb.LastLines(b, 3)
}

// stop ends every server of this resource and withdraws its score.
func (a *actions) stop(ctx context.Context, r *ocf.Request) error {
	in, err := a.instance(r)
	if err != nil {
		return err
	}
	if pids := in.server.Find(); len(pids) > 0 {
		killAt := time.Now().Add(60 * time.Second)
		if d, ok := ctx.Deadline(); ok {
			killAt = time.Now().Add(time.Until(d) * 9 / 10)
		}
		in.r.Log.Infof("stopping server (pid %v)", pids)
		if err := proc.Terminate(ctx, pids, killAt); err != nil {
			return ocf.Wrap(ocf.ErrGeneric, err, "stop server")
		}
	}
	return in.withdrawScore(ctx)
}

// monitor reports the role from read_only, checks replication, and keeps
// the promotion score current.
func (a *actions) monitor(ctx context.Context, r *ocf.Request) error {
	in, err := a.instance(r)
	if err != nil {
		return err
	}
	pids := in.server.Running()
	if len(pids) == 0 {
		// A dead server keeps no score, so that Pacemaker recovers the
		// writer role on the other node rather than restarting here.
		if err := in.withdrawScore(ctx); err != nil {
			return err
		}
		return ocf.ErrNotRunning
	}
	s, err := in.open(ctx)
	if err != nil {
		_ = in.withdrawScore(ctx)
		return ocf.Wrap(ocf.ErrGeneric, err, "server pid %v does not answer", pids)
	}
	defer s.Close()
	o, err := in.observe(ctx, s)
	if err != nil {
		_ = in.withdrawScore(ctx)
		return ocf.Wrap(ocf.ErrGeneric, err, "monitor")
	}
	promoted, verdict := Verdict(o, in.policy)
	if err := in.publishObserved(ctx, o); err != nil {
		return err
	}
	if verdict != nil {
		return ocf.Fail(ocf.ErrGeneric, "%v", verdict)
	}
	if r.CheckLevel >= 10 {
		if err := s.countRows(ctx, r.Params.String(pTestTable)); err != nil {
			return ocf.Wrap(ocf.ErrGeneric, err, "read %s", r.Params.String(pTestTable))
		}
	}
	if promoted {
		// The writer keeps replicating from the other server; a source
		// that was behind when it was set refused the connection, and
		// a retry once it has caught up restores that direction.
		if o.Replica.Configured() && o.Replica.IORunning == "No" {
			_ = s.startReplica(ctx)
		}
		return ocf.ErrRunningPromoted
	}
	return nil
}

// promote makes this server the writer once it holds everything it can:
// the relay log applied and, when the old writer answers, all it holds.
func (a *actions) promote(ctx context.Context, r *ocf.Request) error {
	in, err := a.instance(r)
	if err != nil {
		return err
	}
	s, err := in.open(ctx)
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "promote")
	}
	defer s.Close()
	force := in.forced(ctx)
	deadline := time.Now().Add(60 * time.Second)
	if d, ok := ctx.Deadline(); ok {
		deadline = d.Add(-3 * time.Second)
	}
	for {
		o, err := in.observe(ctx, s)
		if err != nil {
			return ocf.Wrap(ocf.ErrGeneric, err, "promote")
		}
		ready, fatal, reason := Readiness(o)
		if ready {
			break
		}
		if force {
			r.Log.Warnf("promoting although %s: %s is set", reason, in.forceAttr)
			break
		}
		if fatal || time.Now().After(deadline) {
			_ = in.publishObserved(ctx, o)
			return ocf.Fail(ocf.ErrGeneric, "not promoting %s: %s (set node attribute %s=true to force)", in.self, reason, in.forceAttr)
		}
		select {
		case <-ctx.Done():
			return ocf.Fail(ocf.ErrGeneric, "not promoting %s: %s", in.self, reason)
		case <-time.After(250 * time.Millisecond):
		}
	}
	if in.semiSync {
		if n, err := s.dropReplicaConnections(ctx); err != nil {
			r.Log.Warnf("promote: %v", err)
		} else if n > 0 {
			r.Log.Infof("ended %d replica connection(s) so that semi-sync waits only for replicas that answer", n)
		}
		if err := s.setSemiSync(ctx, true, r.Params.Int(pSemiSyncTimeout)); err != nil {
			return ocf.Wrap(ocf.ErrGeneric, err, "promote")
		}
	}
	// Replicas that change to this source begin where its own writes will.
	if err := in.publishCoordinates(ctx, s); err != nil {
		return err
	}
	if err := s.setReadOnly(ctx, false); err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "promote")
	}
	r.Log.Infof("%s is the writer", in.self)
	return in.publishScore(ctx, ScoreWriter, "")
}

// forced reports whether the force attribute is true on this node.
func (in *instance) forced(ctx context.Context) bool {
	v, ok, err := in.r.Attrs.Get(ctx, in.self, in.forceAttr, ocf.Transient)
	return err == nil && ok && (v == "true" || v == "1" || v == "yes")
}

// demote turns writes off. A server that is not running writes nothing,
// so that is a success too.
func (a *actions) demote(ctx context.Context, r *ocf.Request) error {
	in, err := a.instance(r)
	if err != nil {
		return err
	}
	if len(in.server.Running()) == 0 {
		return in.withdrawScore(ctx)
	}
	s, err := in.open(ctx)
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "demote")
	}
	defer s.Close()
	if err := s.setReadOnly(ctx, true); err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "demote")
	}
	if in.semiSync {
		if err := s.setSemiSync(ctx, false, 0); err != nil {
			return ocf.Wrap(ocf.ErrGeneric, err, "demote")
		}
	}
	r.Log.Infof("%s is read-only", in.self)
	o, err := in.observe(ctx, s)
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "demote")
	}
	return in.publishObserved(ctx, o)
}

// notify points replication where the clone now needs it, after an
// instance started or was promoted: a replica follows the writer, the
// writer follows the other server.
func (a *actions) notify(ctx context.Context, r *ocf.Request) error {
	n := r.Notify
	if n.Type != "post" || (n.Operation != "start" && n.Operation != "promote") {
		return nil
	}
	in, err := a.instance(r)
	if err != nil {
		return err
	}
	if len(in.server.Running()) == 0 || in.replErr != nil {
		return nil
	}
	s, err := in.open(ctx)
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "notify")
	}
	defer s.Close()
	o, err := s.observe(ctx)
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "notify")
	}
	promotedNow := without(union(n.Promoted, n.Promote), n.Demote)
	active := without(union(n.Active, n.Start), n.Stop)
	src := Source(in.self, promotedNow, active, !o.ReadOnly)
	if src == "" {
		return nil
	}
	host := in.hosts.Host(src)
	configured := o.Replica.Source
	if configured == host && o.Replica.IORunning != "No" && o.Replica.SQLRunning {
		return nil
	}
	if o.ReadOnly && s.positioning == PositionGTID {
		// A replica checks the new source first: one that lacks what
		// this server holds would leave it diverged.
		sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		v, err := askSource(sctx, hostPort(host, in.port), in.repl, s.mariaDB, false)
		cancel()
		if err == nil {
			o.SourceBinlog, o.SourceWritable, o.Replica.Source = &v.Binlog, v.Writable, host
			if errant := o.Errant(); errant != "" {
				_ = in.publishScore(ctx, Ineligible, fmt.Sprintf("holds transactions %s lacks (%s)", src, errant))
				r.Log.Errorf("not replicating from %s: this server holds transactions it lacks (%s); rebuild it from the writer", src, errant)
				return nil
			}
		}
	}
	var at BinlogCoordinates
	if s.positioning == PositionFile {
		if configured == host {
			// The coordinates kept since the source was set are this
			// server's own place in host's binary log: resume there.
			r.Log.Infof("resuming replication from %s at the coordinates kept", src)
			if err := s.startReplica(ctx); err != nil {
				return ocf.Wrap(ocf.ErrGeneric, err, "resume replication from %s", src)
			}
			return in.afterReplicating(ctx, s, src)
		}
		var err error
		if at, err = in.coordinatesOf(ctx, src); err != nil {
			r.Log.Warnf("not replicating from %s yet: %v", src, err)
			return nil
		}
	}
	how := "GTID positioning"
	if !at.IsZero() {
		how = "from " + at.String()
	}
	r.Log.Infof("replicating from %s (%s, %s)", src, hostPort(host, in.port), how)
	if err := s.replicateFrom(ctx, Replication{Host: host, Port: in.port, Creds: in.repl}, at); err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "replicate from %s", src)
	}
	return in.afterReplicating(ctx, s, src)
}

// afterReplicating waits for replication threads just started to settle
// and publishes the score they earn.
func (in *instance) afterReplicating(ctx context.Context, s *server, src string) error {
	o, err := in.settle(ctx, s)
	if err != nil {
		return err
	}
	if _, err := Verdict(o, in.policy); err != nil {
		in.r.Log.Errorf("replication from %s: %v", src, err)
	}
	return in.publishObserved(ctx, o)
}

// publishCoordinates tells the other server, with file positioning, where
// this one's binary log ends now: where to begin following it. Start
// publishes it, and promote again just before writes are turned on.
func (in *instance) publishCoordinates(ctx context.Context, s *server) error {
	if s.positioning != PositionFile {
		return nil
	}
	end, err := binlogEnd(ctx, s.db, s.mariaDB)
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "publish binary log coordinates")
	}
	if err := in.r.Attrs.Set(ctx, in.self, in.coordAttr, end.String(), ocf.Transient); err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "publish binary log coordinates")
	}
	in.r.Log.Infof("binary log at %s (node attribute %s)", end, in.coordAttr)
	return nil
}

// coordinatesOf reads the coordinates node published, waiting a little:
// the attribute set by its promote reaches this node's view shortly after.
func (in *instance) coordinatesOf(ctx context.Context, node string) (BinlogCoordinates, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, ok, err := in.r.Attrs.Get(ctx, node, in.coordAttr, ocf.Transient)
		if err == nil && ok {
			return ParseCoordinates(v)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			if err == nil {
				err = fmt.Errorf("%s has not published node attribute %s", node, in.coordAttr)
			}
			return BinlogCoordinates{}, err
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// settle waits up to two seconds for replication threads just started to
// connect or fail (a source that refuses this server answers at once), and
// returns what they report then.
func (in *instance) settle(ctx context.Context, s *server) (Observed, error) {
	deadline := time.Now().Add(2 * time.Second)
	for {
		o, err := in.observe(ctx, s)
		if err != nil {
			return o, ocf.Wrap(ocf.ErrGeneric, err, "replication")
		}
		r := o.Replica
		if r.IORunning == "Yes" || (r.IOErrno != 0 && !slices.Contains(connectErrors, r.IOErrno)) || r.SQLErrno != 0 || time.Now().After(deadline) {
			return o, nil
		}
		select {
		case <-ctx.Done():
			return o, nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func without(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
