package galera

import (
	"github.com/goha-ha/goha/internal/mariadb"
	"github.com/goha-ha/goha/internal/proc"

	"github.com/goha-ha/goha/agents/galera/grastate"

	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/goha-ha/goha/ocf"
)

// actions carries out the OCF actions; view and reachable are the
// cluster-facing adapters, swapped in tests.
type actions struct {
	view      func(ctx context.Context, resource string) (ClusterView, error)
	reachable func(ctx context.Context, host string, port int) bool
}

// instance is one invocation's configuration, parsed from the parameters.
type instance struct {
	r       *ocf.Request
	self    string
	members []Member
	server  *Server
	client  Client
	credErr error  // unreadable credentials: fails only the actions that query the server
	posAttr string // node attribute holding the published position
	marker  string // file recording the role this instance was given
}

func (a *actions) instance(r *ocf.Request) (*instance, error) {
	hm, err := mariadb.ParseHostMap(r.Params.String(pHostMap))
	if err != nil {
		return nil, ocf.Wrap(ocf.ErrConfigured, err, "%s", pHostMap)
	}
	members, err := Members(r.Params.String(pAddress), hm)
	if err != nil {
		return nil, ocf.Wrap(ocf.ErrConfigured, err, "%s", pAddress)
	}
	self := r.Node()
	port := DefaultGaleraPort
	for _, m := range members {
		if m.Node == self {
			port = m.Port
		}
	}
	creds, credErr := credentials(r)
	rsc := r.ResourceName()
	return &instance{
		r:       r,
		self:    self,
		members: members,
		server: &Server{
			Server:  mariadb.ServerOf(r.Params, port),
			Address: r.Params.String(pAddress),
		},
		client:  Client{Socket: r.Params.String(pSocket), Creds: creds},
		credErr: credErr,
		posAttr: rsc + "-position",
		marker:  filepath.Join(ocf.LockDir(os.Getenv), "goha-galera-"+strings.ReplaceAll(r.Resource, "/", "_")+".role"),
	}, nil
}

// credentials reads check_defaults_file, then lets check_user and
// check_passwd override it.
func credentials(r *ocf.Request) (mariadb.Credentials, error) {
	c, err := mariadb.LoadCredentials(r.Params.String(pCheckDefaults), r.Params.String(pCheckUser), r.Params.IsSet(pCheckUser))
	if err != nil {
		return c, ocf.Wrap(ocf.ErrConfigured, err, "%s", pCheckDefaults)
	}
	if r.Params.IsSet(pCheckPasswd) {
		c.Password = r.Params.String(pCheckPasswd)
	}
	r.Log.Redact(c.Password)
	return c, nil
}

func (a *actions) validate(ctx context.Context, r *ocf.Request) error {
	in, err := a.instance(r)
	if err != nil {
		return err
	}
	if in.credErr != nil {
		return in.credErr
	}
	if err := in.server.CheckInstalled(); err != nil {
		return err
	}
	for _, m := range in.members {
		if m.Node == in.self {
			return nil
		}
	}
	return ocf.Fail(ocf.ErrConfigured, "node %s is not a member of %s %s (map it with %s)", in.self, pAddress, r.Params.String(pAddress), pHostMap)
}

// Role markers: what Pacemaker last made of this instance on this node.
const (
	roleUnpromoted = "unpromoted"
	rolePromoted   = "promoted"
)

func (in *instance) role() string {
	b, err := os.ReadFile(in.marker)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func (in *instance) setRole(role string) error {
	if role == "" {
		if err := os.Remove(in.marker); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(in.marker), 0o755); err != nil {
		return err
	}
	return os.WriteFile(in.marker, []byte(role+"\n"), 0o644)
}

// start leaves the server stopped and publishes this node's position: an
// unpromoted instance is a node ready for the election.
func (a *actions) start(ctx context.Context, r *ocf.Request) error {
	in, err := a.instance(r)
	if err != nil {
		return err
	}
	if in.role() != "" && len(in.server.Find()) == 0 {
		if _, ok := a.published(ctx, in); ok {
			return nil // started already
		}
	}
	if err := in.stopServer(ctx, "start"); err != nil {
		return err
	}
	pos, err := in.position(ctx)
	if err != nil {
		return err
	}
	if err := in.setRole(roleUnpromoted); err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "record role")
	}
	if err := in.publish(ctx, pos); err != nil {
		return err
	}
	a.refreshScores(ctx, in, &pos)
	return nil
}

// published returns the position this node has published, if any.
func (a *actions) published(ctx context.Context, in *instance) (Position, bool) {
	v, ok, err := in.r.Attrs.Get(ctx, in.self, in.posAttr, ocf.Transient)
	if err != nil || !ok {
		return Position{}, false
	}
	p, err := grastate.ParsePosition(v)
	return p, err == nil
}

// position finds this node's position with its server stopped: from
// grastate.dat, or by --wsrep-recover when the server did not stop cleanly.
func (in *instance) position(ctx context.Context) (Position, error) {
	s := in.server
	if err := in.ensureDatadir(ctx); err != nil {
		return Position{}, err
	}
	statePath := filepath.Join(s.Datadir, "grastate.dat")
	b, err := os.ReadFile(statePath)
	var pos Position
	switch {
	case errors.Is(err, os.ErrNotExist):
		pos = Position{UUID: grastate.ZeroUUID, Seqno: -1}
	case err != nil:
		return Position{}, ocf.Wrap(ocf.ErrGeneric, err, "read grastate")
	default:
		if pos, err = grastate.Parse(b); err != nil {
			return Position{}, ocf.Wrap(ocf.ErrGeneric, err, "%s", statePath)
		}
	}
	if pos.Seqno >= 0 {
		return pos, nil
	}
	// An empty gvwstate.dat makes the server fail to start (a known Galera
	// bug after a crash); it holds nothing, so it goes.
	gvw := filepath.Join(s.Datadir, "gvwstate.dat")
	if fi, err := os.Stat(gvw); err == nil && fi.Size() == 0 {
		in.r.Log.Warnf("removing empty %s", gvw)
		_ = os.Remove(gvw)
	}
	start := time.Now()
	rec, err := s.Recover(ctx)
	if err != nil {
		return Position{}, ocf.Wrap(ocf.ErrGeneric, err, "recover the position")
	}
	in.r.Log.Infof("recovered position %s with --wsrep-recover in %s", rec, time.Since(start).Round(time.Millisecond))
	if !rec.HasState() && pos.HasState() {
		rec.UUID = pos.UUID // InnoDB holds no wsrep position yet: nothing committed
	}
	return rec, nil
}

// ensureDatadir fails unless the datadir holds a database, or creates one
// when enable_creation is true.
func (in *instance) ensureDatadir(ctx context.Context) error {
	s := in.server
	if _, err := os.Stat(filepath.Join(s.Datadir, "mysql")); err == nil {
		return nil
	}
	if !in.r.Params.Bool(pCreate) {
		return ocf.Fail(ocf.ErrConfigured, "%s %s holds no database; initialise it or set %s=true", pDatadir, s.Datadir, pCreate)
	}
	installer, err := exec.LookPath("mariadb-install-db")
	if err != nil {
		if installer, err = exec.LookPath("mysql_install_db"); err != nil {
			return ocf.Fail(ocf.ErrInstalled, "%s=true needs mariadb-install-db", pCreate)
		}
	}
	argv := []string{}
	if s.Config != "" {
		argv = append(argv, "--defaults-file="+s.Config)
	}
	argv = append(argv, "--datadir="+s.Datadir, "--user="+s.User, "--wsrep-cluster-address=gcomm://")
	out, err := exec.CommandContext(ctx, installer, argv...).CombinedOutput()
	if err != nil {
		return ocf.Fail(ocf.ErrGeneric, "%s: %v: %s", installer, err, mariadb.LastLines(out, 3))
	}
	in.r.Log.Infof("initialised %s", s.Datadir)
	return nil
}

// publish makes this node's position visible to the election on every node.
func (in *instance) publish(ctx context.Context, pos Position) error {
	err := in.r.Attrs.Set(ctx, in.self, in.posAttr, pos.String(), ocf.Transient)
	if err != nil && in.clustered() {
		return ocf.Wrap(ocf.ErrGeneric, err, "publish position %s", pos)
	}
	if err != nil {
		in.warnAttr("publish position: %v", err)
	}
	return nil
}

// warnAttr logs a failed attribute update: a warning in a cluster, a debug
// line for a single member run without Pacemaker (ocf-tester).
func (in *instance) warnAttr(format string, args ...any) {
	if in.clustered() {
		in.r.Log.Warnf(format, args...)
	} else {
		in.r.Log.Debugf(format, args...)
	}
}

// clustered reports whether the address names nodes besides this one; a
// single-member cluster (a test bench, ocf-tester) needs no Pacemaker.
func (in *instance) clustered() bool {
	return len(in.members) != 1 || in.members[0].Node != in.self
}

// peers is the election's input: Pacemaker's view, with this node as
// itself (pos, when known) and each joined peer checked for a Galera port
// that answers, so that a node whose server just died is not taken as a
// donor before its monitor notices.
func (a *actions) peers(ctx context.Context, in *instance, self *Position) ([]Peer, ClusterView, error) {
	var view ClusterView
	if in.clustered() {
		var err error
		if view, err = a.view(ctx, in.r.ResourceName()); err != nil {
			return nil, view, err
		}
	}
	peers := view.Peers(in.members, in.posAttr)
	for i, p := range peers {
		switch {
		case p.Node == in.self && self != nil:
			peers[i] = Peer{Node: p.Node, State: Reported, Position: *self}
		case p.Node == in.self:
		case p.State == Joined:
			m := in.members[i]
			if !a.reachable(ctx, m.Host, m.Port) {
				peers[i].State = Unreported
			}
		}
	}
	return peers, view, nil
}

// refreshScores publishes the promotion scores the election gives: it
// raises any node's score, but removes only this node's own, so that no
// node can demote another on a stale view. Failures are logged: a score is
// refreshed again by the next monitor or notification.
func (a *actions) refreshScores(ctx context.Context, in *instance, self *Position) {
	peers, view, err := a.peers(ctx, in, self)
	if err != nil {
		in.r.Log.Warnf("read cluster state: %v", err)
		return
	}
	a.applyScores(ctx, in, peers, view, false)
}

// applyScores sets the scores that differ from what view shows. keepOwn
// leaves this node's own score alone (a promote in progress must not
// withdraw it).
func (a *actions) applyScores(ctx context.Context, in *instance, peers []Peer, view ClusterView, keepOwn bool) {
	scores := Scores(peers)
	name := ocf.PromotionScoreName(in.r.ResourceName())
	for _, p := range peers {
		want, ok := scores[p.Node]
		if !ok && (p.Node != in.self || keepOwn) {
			continue
		}
		if !ok {
			want = -1
		}
		have, set := view.Nodes[p.Node].Attrs[name]
		if in.clustered() && (set && have == strconv.Itoa(want) || !set && want < 0) {
			continue
		}
		if err := ocf.SetPromotionScore(ctx, in.r.Attrs, p.Node, in.r.ResourceName(), want); err != nil {
			in.warnAttr("set %s on %s: %v", name, p.Node, err)
		}
	}
	if _, ok := scores[in.self]; !ok {
		if _, why := BootstrapCandidate(peers); why != "" {
			in.r.Log.Infof("not promotable yet: %s", why)
		}
	}
}

// stopServer ends every server of this resource, leaving 10% of the time
// left (at least 2 s) between SIGTERM's deadline and the action's.
func (in *instance) stopServer(ctx context.Context, why string) error {
	pids := in.server.Find()
	if len(pids) == 0 {
		return nil
	}
	in.r.Log.Infof("%s: stopping server pid %v", why, pids)
	killAt := time.Now().Add(60 * time.Second)
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		margin := max(left/10, 2*time.Second)
		killAt = time.Now().Add(left - margin)
	}
	if err := proc.Terminate(ctx, pids, killAt); err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "stop server")
	}
	return nil
}

// stop ends the server and leaves the node's position published when it is
// known, so that the election elsewhere can count it.
func (a *actions) stop(ctx context.Context, r *ocf.Request) error {
	in, err := a.instance(r)
	if err != nil {
		return err
	}
	if err := in.stopServer(ctx, "stop"); err != nil {
		return err
	}
	a.afterShutdown(ctx, in)
	if err := in.setRole(""); err != nil {
		r.Log.Warnf("clear role: %v", err)
	}
	if err := ocf.SetPromotionScore(ctx, r.Attrs, in.self, r.ResourceName(), -1); err != nil {
		in.warnAttr("remove promotion score: %v", err)
	}
	return nil
}

// restingPosition is the position in grastate.dat when the server stopped
// cleanly, else nil.
func (in *instance) restingPosition() *Position {
	b, err := os.ReadFile(filepath.Join(in.server.Datadir, "grastate.dat"))
	if err != nil {
		return nil
	}
	if pos, err := grastate.Parse(b); err == nil && pos.Seqno >= 0 {
		return &pos
	}
	return nil
}

// afterShutdown republishes the position grastate.dat holds after a clean
// shutdown, or withdraws it when the shutdown was not clean: then only a
// start can tell it, by recovery.
func (a *actions) afterShutdown(ctx context.Context, in *instance) {
	if pos := in.restingPosition(); pos != nil {
		if err := in.r.Attrs.Set(ctx, in.self, in.posAttr, pos.String(), ocf.Transient); err != nil {
			in.warnAttr("publish position: %v", err)
		}
		return
	}
	if err := in.r.Attrs.Delete(ctx, in.self, in.posAttr, ocf.Transient); err != nil {
		in.warnAttr("withdraw position: %v", err)
	}
}

// monitor: no server and a recorded role is an unpromoted instance; a
// server that serves is a promoted one. Only an unpromoted recurring
// monitor forks (crm_mon, crm_attribute), to keep scores current.
func (a *actions) monitor(ctx context.Context, r *ocf.Request) error {
	in, err := a.instance(r)
	if err != nil {
		return err
	}
	role := in.role()
	pids := in.server.Running()
	if len(pids) == 0 {
		switch role {
		case "":
			return ocf.ErrNotRunning
		case rolePromoted:
			return ocf.Fail(ocf.ErrGeneric, "server of promoted instance is gone")
		}
		if r.Meta.Interval > 0 {
			a.refreshScores(ctx, in, in.restingPosition())
		}
		return nil
	}
	if in.credErr != nil {
		return in.credErr
	}
	w, err := in.client.Wsrep(ctx)
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "server pid %v does not answer", pids)
	}
	if h := Judge(w, r.Params.Bool(pDonorOK)); !h.Serving {
		return ocf.Fail(ocf.FailedPromoted, "%s", h.Reason)
	}
	if r.CheckLevel >= 10 {
		if err := in.client.WriteCheck(ctx, r.Params.String(pCheckDatabase), in.self); err != nil {
			return ocf.Wrap(ocf.FailedPromoted, err, "write check")
		}
	}
	if role != rolePromoted && !r.IsProbe() {
		return ocf.Fail(ocf.ErrGeneric, "a server runs but this instance is not promoted")
	}
	return ocf.ErrRunningPromoted
}

// promote bootstraps or joins, as the election says, waiting while it says
// wait.
func (a *actions) promote(ctx context.Context, r *ocf.Request) error {
	in, err := a.instance(r)
	if err != nil {
		return err
	}
	if in.credErr != nil {
		return in.credErr
	}
	if len(in.server.Find()) > 0 {
		if w, err := in.client.Wsrep(ctx); err == nil && Synced(w) {
			return a.promoted(ctx, in)
		}
		if err := in.stopServer(ctx, "promote of an instance whose server does not serve"); err != nil {
			return err
		}
	}
	pos, err := in.position(ctx)
	if err != nil {
		return err
	}
	if err := in.publish(ctx, pos); err != nil {
		return err
	}
	last := ""
	for {
		peers, view, err := a.peers(ctx, in, &pos)
		if err != nil {
			r.Log.Warnf("read cluster state: %v", err)
		} else {
			plan := Decide(in.self, peers)
			switch plan.Kind {
			case Bootstrap:
				r.Log.Infof("bootstrapping a new Primary component from position %s", pos)
				if err := in.markSafeToBootstrap(); err != nil {
					return err
				}
				return a.launch(ctx, in, LaunchMode{Bootstrap: true, Recovered: in.recovered(pos)})
			case Join:
				r.Log.Infof("joining; state from %s", strings.Join(plan.Donors, ", "))
				return a.launch(ctx, in, LaunchMode{Donors: plan.Donors, Recovered: in.recovered(pos)})
			}
			if plan.Reason != last {
				r.Log.Infof("promote waits: %s", plan.Reason)
				last = plan.Reason
			}
			// The candidate may not have its score yet: whoever sees the
			// election first publishes it.
			a.applyScores(ctx, in, peers, view, true)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < 3*time.Second {
			return ocf.Fail(ocf.ErrGeneric, "not promoted before the timeout: %s", last)
		}
		select {
		case <-ctx.Done():
			return ocf.Fail(ocf.ErrGeneric, "not promoted: %s", last)
		case <-time.After(time.Second):
		}
	}
}

// recovered returns pos when it came from --wsrep-recover rather than from
// grastate.dat, which the server reads by itself.
func (in *instance) recovered(pos Position) *Position {
	if rest := in.restingPosition(); rest != nil || pos.Seqno < 0 {
		return nil
	}
	return &pos
}

// markSafeToBootstrap sets safe_to_bootstrap in grastate.dat, without which
// the server refuses --wsrep-new-cluster.
func (in *instance) markSafeToBootstrap() error {
	path := filepath.Join(in.server.Datadir, "grastate.dat")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "read grastate")
	}
	if err := os.WriteFile(path, grastate.SetSafeToBootstrap(b), 0o660); err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "mark %s safe to bootstrap", path)
	}
	return nil
}

// launch starts the server and waits until it is Synced in a Primary
// component. A server that exits fails the promote with its last log
// lines; one that is not Synced by shortly before the deadline is stopped,
// so a timed-out promote leaves nothing running.
func (a *actions) launch(ctx context.Context, in *instance, mode LaunchMode) error {
	start := time.Now()
	pid, err := in.server.Launch(mode)
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "launch server")
	}
	giveUp := time.Now().Add(10 * time.Minute)
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		giveUp = time.Now().Add(left - max(left/5, 5*time.Second))
	}
	var last string
	for {
		if !proc.Alive(pid) {
			return ocf.Fail(ocf.ErrGeneric, "server exited while starting: %s", in.logTail())
		}
		w, err := in.client.Wsrep(ctx)
		switch {
		case err != nil:
			last = err.Error()
		case Synced(w):
			in.r.Log.Infof("server pid %d synced at seqno %d in %s", pid, w.LastCommitted, time.Since(start).Round(time.Millisecond))
			return a.promoted(ctx, in)
		default:
			last = fmt.Sprintf("%s, %s", w.ClusterStatus, w.LocalComment)
		}
		if time.Now().After(giveUp) {
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Until(giveUp.Add(4*time.Second)))
			defer cancel()
			_ = in.stopServer(stopCtx, "promote timing out")
			return ocf.Fail(ocf.ErrGeneric, "server not synced in time (%s); stopped it", last)
		}
		select {
		case <-ctx.Done():
			return ocf.Fail(ocf.ErrGeneric, "server not synced: %s", last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// promoted records the role and raises the scores of the peers that may
// now join.
func (a *actions) promoted(ctx context.Context, in *instance) error {
	if err := in.setRole(rolePromoted); err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "record role")
	}
	peers, view, err := a.peers(ctx, in, nil)
	if err != nil {
		in.r.Log.Warnf("read cluster state: %v", err)
		return nil
	}
	for i := range peers {
		if peers[i].Node == in.self {
			peers[i].State = Joined
		}
	}
	a.applyScores(ctx, in, peers, view, false)
	return nil
}

// demote stops the server cleanly and publishes the position it left.
func (a *actions) demote(ctx context.Context, r *ocf.Request) error {
	in, err := a.instance(r)
	if err != nil {
		return err
	}
	if err := in.stopServer(ctx, "demote"); err != nil {
		return err
	}
	if err := in.setRole(roleUnpromoted); err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "record role")
	}
	if err := ocf.SetPromotionScore(ctx, r.Attrs, in.self, r.ResourceName(), -1); err != nil {
		in.warnAttr("remove promotion score: %v", err)
	}
	a.afterShutdown(ctx, in)
	return nil
}

// notify refreshes the scores after peers changed role, so a node that may
// now join or bootstrap is promoted without waiting for its monitor.
func (a *actions) notify(ctx context.Context, r *ocf.Request) error {
	if r.Notify.Type != "post" {
		return nil
	}
	in, err := a.instance(r)
	if err != nil {
		return err
	}
	if in.role() == roleUnpromoted && len(in.server.Find()) == 0 {
		a.refreshScores(ctx, in, nil)
	}
	return nil
}

// logTail is the end of the server's error log, for exit reasons.
func (in *instance) logTail() string {
	b, err := os.ReadFile(in.server.Log)
	if err != nil {
		return "no error log"
	}
	if len(b) > 8192 {
		b = b[len(b)-8192:]
	}
	return mariadb.LastLines(b, 3)
}

// tcpReachable reports whether host:port accepts a connection within a
// second.
func tcpReachable(ctx context.Context, host string, port int) bool {
	d := net.Dialer{Timeout: time.Second}
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	c.Close()
	return true
}
